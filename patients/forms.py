import datetime

from django import forms
from django.utils import timezone

from clinic.formats import TypedDateError, date_pattern, typed_date
from clinic.forms import ChoicesReadWholeMixin
from clinic.models import Location, User
from patients import medications, outcomes
from patients.models import (
    AcuteMedication,
    Channel,
    ContactConsent,
    DiaryEntry,
    MedicationReport,
    Patient,
    PatientMedication,
    StopReason,
)

MAX_AGE_YEARS = 120


class DateInput(forms.DateInput):
    input_type = "date"


class PatientForm(ChoicesReadWholeMixin, forms.ModelForm):
    """Demographics and contact details: what front desk and clinicians both edit."""

    class Meta:
        model = Patient
        fields = [
            "mrn",
            "first_name",
            "last_name",
            "date_of_birth",
            "sex",
            "email",
            "phone",
            "address",
            "location",
            "primary_clinician",
            "status",
        ]
        widgets = {
            "date_of_birth": DateInput(format="%Y-%m-%d"),
            "address": forms.Textarea(attrs={"rows": 3}),
        }
        error_messages = {
            "mrn": {"unique": "A patient with this MRN is already registered."},
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # what an option shows (str(user)) and the key the patient row keeps: a network has
        # a hundred clinicians, each a whole User row otherwise
        self.fields["primary_clinician"].queryset = (
            User.objects.filter(role=User.Role.CLINICIAN, is_active=True)
            .order_by("last_name", "first_name")
            .only("first_name", "last_name", "username")
        )
        self.fields["phone"].widget.attrs.update({"autocomplete": "tel", "inputmode": "tel"})
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})
        location = self._chosen_location()
        if location and location.region:
            self.fields["phone"].region = location.region
            self.fields["phone"].help_text = (
                f"Mobile number, used for SMS reminders. A number without +country code is "
                f"read as a {location.region} number."
            )

    def _chosen_location(self) -> Location | None:
        """The usual location being submitted, else the saved one."""
        if self.is_bound:
            return Location.objects.from_param(self.data.get(self.add_prefix("location")))
        return self.instance.location

    def clean_mrn(self):
        return self.cleaned_data["mrn"].strip().upper()

    def clean_first_name(self):
        return self.cleaned_data["first_name"].strip()

    def clean_last_name(self):
        return self.cleaned_data["last_name"].strip()

    def clean_date_of_birth(self):
        dob = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if dob > today:
            raise forms.ValidationError("The date of birth cannot be in the future.")
        if dob < today.replace(year=today.year - MAX_AGE_YEARS) - datetime.timedelta(days=1):
            raise forms.ValidationError(
                f"That makes the patient older than {MAX_AGE_YEARS}: check the year."
            )
        return dob


class PatientIntakeForm(forms.ModelForm):
    """The clinical intake baseline: clinicians only."""

    class Meta:
        model = Patient
        fields = [
            "diagnosis_code",
            "baseline_headache_days",
            "baseline_migraine_days",
            "preventives_notes",
        ]
        widgets = {"preventives_notes": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        cleaned = super().clean()
        headache = cleaned.get("baseline_headache_days")
        migraine = cleaned.get("baseline_migraine_days")
        if migraine is not None and headache is None:
            self.add_error("baseline_headache_days", "Enter headache days with migraine days.")
        elif migraine is not None and migraine > headache:
            self.add_error("baseline_migraine_days", "Migraine days cannot exceed headache days.")
        return cleaned


class ConsentForm(forms.Form):
    """Record that a patient granted or revoked contact on one channel."""

    NEEDS = {
        Channel.EMAIL: "Add an email address before recording email consent.",
        Channel.SMS: "Add a phone number before recording SMS consent.",
    }

    channel = forms.ChoiceField(choices=Channel.choices)
    granted = forms.TypedChoiceField(
        label="Consent",
        choices=[("true", "Granted"), ("false", "Revoked")],
        coerce=lambda value: value == "true",
    )
    source = forms.ChoiceField(
        label="How it was given",
        choices=[
            choice
            for choice in ContactConsent.Source.choices
            if choice[0] in {"in_person", "phone", "written"}
        ],
    )

    def __init__(self, *args, patient: Patient, **kwargs):
        self.patient = patient
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        channel, granted = cleaned.get("channel"), cleaned.get("granted")
        if granted and channel in self.NEEDS and not self.patient.address_for(channel):
            raise forms.ValidationError(self.NEEDS[channel])
        return cleaned


class PortalConsentForm(forms.Form):
    """A patient turns messages on one channel on or off, in the portal."""

    CHOOSE = "Choose email or text messages."
    channel = forms.ChoiceField(
        choices=Channel.choices, error_messages={"required": CHOOSE, "invalid_choice": CHOOSE}
    )
    granted = forms.CharField(required=False)  # "true" turns it on; anything else, off

    def __init__(self, *args, patient: Patient, **kwargs):
        self.patient = patient
        super().__init__(*args, **kwargs)

    def clean_granted(self) -> bool:
        return self.cleaned_data["granted"] == "true"

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        if channel and cleaned.get("granted") and not self.patient.address_for(channel):
            raise forms.ValidationError("We have no address for that yet: please tell the clinic.")
        return cleaned


class PatientSearchForm(forms.Form):
    """Words of a name or an MRN, or a date of birth typed as the clinic writes dates
    (DD/MM/YYYY in the UK, clinic/formats) or as ISO. A date becomes ISO here, the form
    Patient.objects.search reads; a text that looks like a date but is none is an error.
    The view keeps the words as typed and reads them through this form on every page."""

    q = forms.CharField(
        label="Search patients",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "class": "form-control", "autocomplete": "off"}
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = (
            f"Name, MRN or date of birth ({date_pattern()})"
        )

    def clean_q(self) -> str:
        text = self.cleaned_data["q"]
        try:
            born = typed_date(text)
        except TypedDateError as error:
            raise forms.ValidationError(str(error), code="date") from error
        return born.isoformat() if born else text


# --- the headache diary and questionnaires (portal) ----------------------------------------------

DIARY_MAX_AGE_DAYS = 365  # a diary is kept day by day; older days are not filled in from memory

YES_NO = [("yes", "Yes"), ("no", "No")]


def _yes(value) -> bool:
    return value == "yes"


class DiaryEntryForm(forms.Form):
    """One day of the diary. Severity offers mild/moderate/severe only: "none" is the answer
    "no headache", so a headache day can never be saved with severity 0."""

    headache = forms.TypedChoiceField(
        label="Did you have a headache?", choices=YES_NO, coerce=_yes, widget=forms.RadioSelect
    )
    hours = forms.DecimalField(
        label="How many hours did it last?",
        min_value=0,
        max_value=24,
        max_digits=3,
        decimal_places=1,
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
    )
    severity = forms.TypedChoiceField(
        label="How bad was it at its worst?",
        choices=[(1, "Mild"), (2, "Moderate"), (3, "Severe")],
        coerce=int,
        required=False,
        widget=forms.RadioSelect,
    )
    migraine = forms.TypedChoiceField(
        label="Did it feel like your migraine?",
        help_text="For example throbbing, sick, or bothered by light or noise.",
        choices=YES_NO,
        coerce=_yes,
        required=False,
        widget=forms.RadioSelect,
    )
    acute_medication = forms.ChoiceField(
        label="Medicine taken for a headache", choices=AcuteMedication.choices, initial="none"
    )

    def __init__(self, *args, day: datetime.date, today: datetime.date, **kwargs):
        self.day, self.today = day, today
        super().__init__(*args, **kwargs)

    @staticmethod
    def initial_from(entry: "DiaryEntry | None") -> dict:
        if entry is None:
            return {}
        return {
            "headache": "yes" if entry.headache else "no",
            "hours": entry.hours if entry.headache else None,
            "severity": entry.severity or None,
            "migraine": "yes" if entry.migraine else "no",
            "acute_medication": entry.acute_medication,
        }

    def clean(self):
        data = super().clean()
        error = diary_date_error(self.day, self.today)
        if error:
            raise forms.ValidationError(error)
        if data.get("headache"):
            if data.get("hours") in (None, 0):
                self.add_error("hours", "Enter how many hours the headache lasted.")
            if not data.get("severity"):
                self.add_error("severity", "Choose how bad the headache was.")
            data["migraine"] = bool(data.get("migraine"))
        return data

    def entry_fields(self) -> dict:
        """The cleaned answers as `record_diary_entry` takes them."""
        data = self.cleaned_data
        return {
            "headache": data["headache"],
            "hours": data["hours"] or 0,
            "severity": data["severity"] or 0,
            "migraine": data["migraine"],
            "acute_medication": data["acute_medication"],
        }


def diary_date_error(day: datetime.date, today: datetime.date) -> str:
    """Why this day cannot be entered, or ""."""
    if day > today:
        return "You cannot fill in the diary for a day that has not happened yet."
    if day < today - datetime.timedelta(days=DIARY_MAX_AGE_DAYS):
        return "Days more than a year ago can no longer be entered."
    return ""


class MidasForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for number, text in enumerate(outcomes.MIDAS_ITEMS, start=1):
            self.fields[f"item{number}"] = forms.IntegerField(
                label=f"{number}. {text}",
                min_value=0,
                max_value=outcomes.MIDAS_MAX_DAYS,
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
                help_text=f"Days, 0 to {outcomes.MIDAS_MAX_DAYS}.",
            )

    def answers(self) -> list:
        return [self.cleaned_data[name] for name in self.fields]


class Hit6Form(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(answer, label) for answer, label, _points in outcomes.HIT6_ANSWERS]
        for number, text in enumerate(outcomes.HIT6_ITEMS, start=1):
            self.fields[f"item{number}"] = forms.ChoiceField(
                label=f"{number}. {text}", choices=choices, widget=forms.RadioSelect
            )

    def answers(self) -> list:
        return [self.cleaned_data[name] for name in self.fields]


# --- the medication list -------------------------------------------------------------------

# Far enough back for anyone's history of preventives; the year 1 is a typo, not a start.
EARLIEST_MEDICATION_DATE = datetime.date(1950, 1, 1)


class IsoDateInput(DateInput):
    """A date input that shows back only an ISO date: the one value <input type="date">
    takes. What was typed instead ("x", 31/02/2026) is left out, with the field's error."""

    def format_value(self, value):
        if isinstance(value, str):
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                return None
        return super().format_value(value)


def _date_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        help_text=help_text,
        widget=IsoDateInput(format="%Y-%m-%d"),
    )


class MedicationForm(forms.ModelForm):
    """One entry of the list: a clinician's form. The rules are the service's
    (`save_medication`) and the database's; these repeat them in words."""

    drug = forms.ChoiceField(
        label="Medicine", choices=[("", "---------"), *medications.drug_choices()]
    )
    started_on = _date_field("Started on")
    stopped_on = _date_field("Stopped on", required=False, help_text="Leave empty while taken.")
    stop_reason = forms.ChoiceField(
        label="Why it stopped", choices=[("", "---------"), *StopReason.choices], required=False
    )

    class Meta:
        model = PatientMedication
        fields = ["drug", "dose", "started_on", "stopped_on", "stop_reason", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, today: datetime.date, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        started, stopped = data.get("started_on"), data.get("stopped_on")
        for name in ("started_on", "stopped_on"):
            day = data.get(name)
            if day is not None and day > self.today:
                self.add_error(name, "The date cannot be in the future.")
            elif day is not None and day < EARLIEST_MEDICATION_DATE:
                self.add_error(name, "Check the year.")
        if started and stopped and stopped < started:
            self.add_error("stopped_on", "It cannot stop before it started.")
        if stopped and not data.get("stop_reason"):
            self.add_error("stop_reason", "Say why it stopped.")
        if not stopped and data.get("stop_reason") and "stopped_on" not in self.errors:
            self.add_error("stop_reason", "A reason is given only with the stop date.")
        return data


class MedicationReportForm(forms.Form):
    """The portal's "I started / stopped ...": a clinician confirms it."""

    kind = forms.ChoiceField(
        label="What changed", choices=MedicationReport.Kind.choices, widget=forms.RadioSelect
    )
    drug = forms.ChoiceField(
        label="Medicine", choices=[("", "---------"), *medications.drug_choices()]
    )
    on = _date_field("When")
    note = forms.CharField(label="Anything to add (optional)", max_length=300, required=False)

    def __init__(self, *args, today: datetime.date, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def clean_on(self):
        day = self.cleaned_data["on"]
        if day > self.today:
            raise forms.ValidationError("The date cannot be in the future.")
        if day < EARLIEST_MEDICATION_DATE:
            raise forms.ValidationError("Check the year.")
        return day


class ReportConfirmForm(forms.Form):
    """What the clinician adds to a patient's report when confirming it."""

    stop_reason = forms.ChoiceField(
        label="Why it stopped", choices=[("", "---------"), *StopReason.choices], required=False
    )
    dose = forms.CharField(label="Dose", max_length=120, required=False)

    def __init__(self, *args, report: MedicationReport, **kwargs):
        self.report = report
        super().__init__(*args, **kwargs)
        self.auto_id = f"id_report{report.pk}_%s"

    def clean(self):
        data = super().clean()
        stopped = self.report.kind == MedicationReport.Kind.STOPPED
        if stopped and not data.get("stop_reason"):
            self.add_error("stop_reason", "Say why it stopped.")
        if not stopped and data.get("stop_reason"):
            self.add_error("stop_reason", "A start has no stop reason.")
        return data
