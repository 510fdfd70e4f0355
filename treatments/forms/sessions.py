"""The session page's forms (its fields, the sites table, the vials) and adverse events."""

import zoneinfo

from django import forms
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from clinic.forms import ChoicesReadWholeMixin, PlausibleDatesMixin
from clinic.models import Location
from treatments import protocol, rules
from treatments.models import AdverseEvent, TreatmentSession, VialLot
from treatments.services import SessionInput, VialInput
from treatments.services.sessions import SCALAR_FIELDS

YES_NO = [(True, "Yes"), (False, "No")]


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class SessionForm(ChoicesReadWholeMixin, PlausibleDatesMixin, forms.ModelForm):
    """The session's own fields. Times are entered in the location's time zone (the view
    activates it)."""

    acknowledged = forms.MultipleChoiceField(
        label="I have considered these warnings",
        required=False,
        choices=list(rules.ACKNOWLEDGEABLE.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    # A new session's one-time token (R21): a resubmitted form finds what it recorded.
    form_token = forms.UUIDField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = TreatmentSession
        fields = list(SCALAR_FIELDS)
        widgets = {
            "administered_at": DateTimeInput(),
            "reconstituted_at": DateTimeInput(),
            "consent": forms.RadioSelect,
            "early_reason": forms.Textarea(attrs={"rows": 2}),
            "extra_vial_reason": forms.Textarea(attrs={"rows": 2}),
            "under_18_reason": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["consent"].choices = TreatmentSession.Consent.choices
        self.fields["consent"].required = False
        for name in (
            "infection_at_site",
            "hypersensitivity",
            "pregnant_or_breastfeeding",
            "other_toxin_recent",
        ):
            self.fields[name] = forms.NullBooleanField(
                label=self.fields[name].label,
                required=False,
                widget=forms.RadioSelect(choices=YES_NO),
            )

    def clean_diluent_ml(self):
        # R19's absolute bounds here, at the field, before the model's check constraint would
        # report them for the whole form; the rules check the volume against the vials.
        ml = self.cleaned_data.get("diluent_ml")
        if ml is not None:
            for finding in rules.saline_findings(ml, []):
                if finding.severity == rules.BLOCK:
                    raise forms.ValidationError(f"{finding.rule}: {finding.message}")
        return ml


class SitesForm(forms.Form):
    """Units (or a skip reason) for every site in the catalogue: the table the map edits."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for site in protocol.SITES.values():
            label = f"{site.label} (follow-the-pain)" if site.ftp else site.label
            self.fields[f"units-{site.code}"] = forms.IntegerField(
                label=label,
                required=False,
                max_value=protocol.MAX_SITE_UNITS,
                error_messages={
                    "max_value": f"R18: no site holds more than {protocol.MAX_SITE_UNITS} U."
                },
                widget=forms.NumberInput(
                    attrs={
                        "class": "form-control form-control-sm",
                        "min": 1,
                        "max": protocol.MAX_SITE_UNITS,
                    }
                ),
            )
            if not site.ftp:
                reason_label = f"Reason {site.label} was skipped"
                self.fields[f"skip-{site.code}"] = forms.CharField(
                    label=reason_label,
                    required=False,
                    max_length=200,
                    widget=forms.TextInput(
                        attrs={"class": "form-control form-control-sm", "aria-label": reason_label}
                    ),
                )

    @staticmethod
    def initial_for(entries: list[rules.SiteEntry]) -> dict[str, object]:
        initial: dict[str, object] = {}
        for entry in entries:
            initial[f"units-{entry.code}"] = entry.units
            initial[f"skip-{entry.code}"] = entry.skipped_reason
        return initial

    def clean(self):
        cleaned = super().clean()
        for site in protocol.FIXED_SITES:
            if cleaned.get(f"units-{site.code}") is not None and cleaned.get(f"skip-{site.code}"):
                self.add_error(f"skip-{site.code}", "Give units or a reason to skip, not both.")
        return cleaned

    def entries(self) -> list[rules.SiteEntry]:
        return [
            rules.SiteEntry(
                site.code,
                self.cleaned_data.get(f"units-{site.code}"),
                (self.cleaned_data.get(f"skip-{site.code}") or "").strip(),
            )
            for site in protocol.SITES.values()
        ]

    def rows(self):
        """(site, units field, skip field or None) for the template's table."""
        for site in protocol.SITES.values():
            skip = self[f"skip-{site.code}"] if not site.ftp else None
            yield site, self[f"units-{site.code}"], skip

    def table_rows(self) -> SafeString:
        """The sites table's rows, written here rather than by a template loop: 31 rows of a
        dozen variables each were a fifth of the session page's rendering."""
        return format_html_join(
            "\n",
            '<tr data-site="{}" data-muscle="{}" data-side="{}" data-ftp="{}">\n'
            '  <th scope="row"><label for="{}">{}</label></th>\n'
            "  <td>{}{}</td>\n"
            "  <td>{}</td>\n"
            "</tr>",
            (
                (
                    site.code,
                    site.muscle,
                    site.side,
                    "true" if site.ftp else "false",
                    units.id_for_label,
                    units.label,
                    units,
                    _errors(units),
                    "" if skip is None else format_html("{}{}", skip, _errors(skip)),
                )
                for site, units, skip in self.rows()
            ),
        )


def _errors(field: forms.BoundField) -> SafeString:
    return format_html_join(
        "", '<div class="invalid-feedback d-block">{}</div>', ((e,) for e in field.errors)
    )


class VialForm(PlausibleDatesMixin, forms.Form):
    lot_number = forms.CharField(
        max_length=30, required=False, widget=forms.TextInput(attrs={"list": "known-lots"})
    )
    product = forms.ChoiceField(
        choices=[("", "---------"), *VialLot.Product.choices], required=False
    )
    expiry = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    vials = forms.IntegerField(min_value=1, max_value=4, initial=1)

    def clean(self):
        cleaned = super().clean()
        lot_number = (cleaned.get("lot_number") or "").strip().upper()
        if not lot_number:
            return cleaned
        cleaned["lot_number"] = lot_number
        known = list(VialLot.objects.filter(lot_number=lot_number))
        if cleaned.get("product"):
            known = [lot for lot in known if lot.product == cleaned["product"]]
        if len(known) == 1:
            lot = known[0]
            if cleaned.get("expiry") and cleaned["expiry"] != lot.expiry:
                self.add_error(
                    "expiry",
                    f"Lot {lot_number} is on file with expiry "
                    f"{lot.expiry:%Y-%m-%d}: check the vial.",
                )
            cleaned["product"] = cleaned.get("product") or lot.product
            cleaned["expiry"] = cleaned.get("expiry") or lot.expiry
        else:
            for name in ("product", "expiry"):
                if not cleaned.get(name):
                    self.add_error(name, "Needed for a lot not on file yet.")
        return cleaned


VialFormSet = forms.formset_factory(VialForm, extra=0, min_num=1, max_num=4)


class SessionEntry:
    """The three forms of a session page bound together: the session's fields, the sites
    table, and the vials. `to_input()` gives the service its SessionInput."""

    def __init__(
        self,
        data=None,
        *,
        session: TreatmentSession | None = None,
        initial_sites: list[rules.SiteEntry] | None = None,
        initial=None,
        initial_lot: VialLot | None = None,
    ):
        entries = initial_sites or []
        if session is not None:
            entries = [
                rules.SiteEntry(s.site_code, s.units, s.skipped_reason) for s in session.sites.all()
            ]
        self.form = SessionForm(data, instance=session, initial=initial)
        self.sites = SitesForm(data, initial=SitesForm.initial_for(entries))
        uses = [(use.lot, use.vials) for use in session.vials.all()] if session else []
        if not uses:
            uses = [(initial_lot or VialLot(product=VialLot.Product.BOTOX_200), 1)]
        vial_initial = [
            {
                "lot_number": lot.lot_number,
                "product": lot.product,
                "expiry": lot.expiry,
                "vials": vials,
            }
            for lot, vials in uses
        ]
        self.vials = VialFormSet(data, prefix="vials", initial=vial_initial)

    def is_valid(self) -> bool:
        return all([self.form.is_valid(), self.sites.is_valid(), self.vials.is_valid()])

    def to_input(self) -> SessionInput:
        data = self.form.cleaned_data
        return SessionInput(
            location=data["location"],
            administered_at=data["administered_at"],
            reconstituted_at=data["reconstituted_at"],
            diluent_ml=data["diluent_ml"],
            consent=data["consent"] or "",
            infection_at_site=data["infection_at_site"],
            hypersensitivity=data["hypersensitivity"],
            pregnant_or_breastfeeding=data["pregnant_or_breastfeeding"],
            other_toxin_recent=data["other_toxin_recent"],
            other_toxin_units=data["other_toxin_units"] or 0,
            early_reason=data["early_reason"],
            extra_vial_reason=data["extra_vial_reason"],
            under_18_reason=data["under_18_reason"],
            notes=data["notes"],
            sites=self.sites.entries(),
            vials=[
                VialInput(v["lot_number"], v["product"], v["expiry"], v["vials"])
                for v in self.vials.cleaned_data
                if v.get("lot_number")
            ],
        )

    def add_findings(self, findings: list[rules.Finding]) -> None:
        """Show each blocking finding at the field or site that caused it."""
        for finding in findings:
            message = f"{finding.rule}: {finding.message}"
            if finding.field in protocol.SITES:
                self.sites.add_error(f"units-{finding.field}", message)
            elif finding.field in self.form.fields:
                self.form.add_error(finding.field, message)
            else:
                self.form.add_error(None, message)


def location_zone(data, default: Location | None) -> zoneinfo.ZoneInfo:
    """The time zone the page's times are in: the chosen location's, else the default's."""
    location = Location.objects.from_param((data or {}).get("location")) or default
    return location.zone if location else zoneinfo.ZoneInfo("UTC")


class AmendmentReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason for the amendment", widget=forms.Textarea(attrs={"rows": 2}), max_length=1000
    )


class DiscardForm(forms.Form):
    reason = forms.CharField(
        label="Reason for discarding the draft",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )


class AdverseEventChecks:
    """What every adverse-event report must say, worded (WORDS) for who reports it."""

    WORDS = {
        "describe": "Describe the event.",
        "before": "The onset cannot be before the session.",
        "future": "The onset cannot be in the future.",
    }

    def __init__(self, *args, session: TreatmentSession, **kwargs):
        self.session = session
        super().__init__(*args, **kwargs)

    def today(self):
        return timezone.localdate(timezone=self.session.local_administered_at.tzinfo)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("term") == AdverseEvent.Term.OTHER and not cleaned.get("description"):
            self.add_error("description", self.WORDS["describe"])
        onset = cleaned.get("onset")
        if onset and onset < self.session.session_date:
            self.add_error("onset", self.WORDS["before"])
        if onset and onset > self.today():
            self.add_error("onset", self.WORDS["future"])
        return cleaned


class AdverseEventForm(PlausibleDatesMixin, AdverseEventChecks, forms.ModelForm):
    class Meta:
        model = AdverseEvent
        fields = [
            "term",
            "description",
            "onset",
            "severity",
            "serious",
            "outcome",
            "hint_next_session",
        ]
        widgets = {"onset": forms.DateInput(attrs={"type": "date"})}


class SideEffectForm(PlausibleDatesMixin, AdverseEventChecks, forms.Form):
    """A side effect the patient reports in the portal, in the patient's words."""

    WORDS = {
        "describe": "Tell us what happened.",
        "before": "That is before your last treatment.",
        "future": "That date is in the future.",
    }
    # The boxed warning's six signs of distant spread first (AdverseEvent.DANGER_TERMS and
    # PROMPT_TERMS say how urgent each is), then the common local effects (docs/clinical-rules.md).
    PATIENT_TERMS = [
        (AdverseEvent.Term.DYSPHAGIA, "Trouble swallowing"),
        (AdverseEvent.Term.DYSPNOEA, "Trouble breathing"),
        (AdverseEvent.Term.DYSARTHRIA, "Trouble speaking or slurred speech"),
        (AdverseEvent.Term.VISION, "Double or blurred vision"),
        (AdverseEvent.Term.EYELID_PTOSIS, "Drooping eyelids"),
        (AdverseEvent.Term.DISTANT_WEAKNESS, "Weakness away from where you were injected"),
        (AdverseEvent.Term.NECK_PAIN, "Neck pain"),
        (AdverseEvent.Term.INJECTION_SITE_PAIN, "Pain where injected"),
        (AdverseEvent.Term.HEADACHE, "Headache"),
        (AdverseEvent.Term.STIFFNESS, "Stiff muscles"),
        (AdverseEvent.Term.BROW_PTOSIS, "Drooping or uneven eyebrows"),
        (AdverseEvent.Term.OTHER, "Something else"),
    ]
    term = forms.ChoiceField(
        label="What happened?", choices=PATIENT_TERMS, widget=forms.RadioSelect
    )
    description = forms.CharField(label="Tell us more", required=False, max_length=200)
    onset = forms.DateField(
        label="When did it start?", widget=forms.DateInput(attrs={"type": "date"})
    )
    severity = forms.ChoiceField(
        label="How bad is it?", widget=forms.RadioSelect, choices=AdverseEvent.Severity.choices
    )

    def today(self):
        return timezone.localdate()
