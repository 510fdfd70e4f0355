"""Booking, moving and cancelling visits (staff and patients), and the front desk's calls."""

import datetime

from django import forms

from clinic.forms import PlausibleDatesMixin
from clinic.models import User
from treatments.models import CallOutcome
from treatments.services import Slot


class SlotChoiceForm(forms.Form):
    """The slot button pressed (`Slot.value`) and an early-booking reason."""

    slot = forms.CharField()
    early_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for booking before the earliest date",
    )
    authorization_reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for booking past the prior authorization",
    )

    def clean_slot(self) -> tuple[User, datetime.datetime]:
        try:
            clinician_id, starts_at = Slot.parse_value(self.cleaned_data["slot"])
            clinician = User.objects.get(pk=clinician_id, role=User.Role.CLINICIAN)
        except (ValueError, User.DoesNotExist) as error:
            raise forms.ValidationError("Choose one of the offered slots.") from error
        return clinician, starts_at


class OwnSlotForm(SlotChoiceForm):
    """The time a patient chose in the portal (no early booking there: staff only)."""

    early_reason = None  # type: ignore[assignment]
    authorization_reason = None  # type: ignore[assignment]


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling", widget=forms.Textarea(attrs={"rows": 2}), max_length=500
    )


class ConfirmForm(forms.Form):
    """The explicit "yes" of a confirmation step (no JavaScript dialog: the CSP allows none
    inline). Absent: ask; "yes": go ahead; anything else is a bad request."""

    confirm = forms.ChoiceField(choices=[("yes", "Yes")], required=False)

    @property
    def confirmed(self) -> bool:
        return self.is_valid() and self.cleaned_data["confirm"] == "yes"


class CallOutcomeForm(PlausibleDatesMixin, forms.ModelForm):
    # Radios, none checked and no blank "---------" radio: the desk picks what happened
    # (issue 14); an unanswered outcome is a form error, never a default.
    outcome = forms.ChoiceField(
        label="Outcome of the call",
        choices=CallOutcome.Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the outcome of the call."},
    )

    class Meta:
        model = CallOutcome
        fields = ["outcome", "call_back_on", "note"]
        widgets = {"call_back_on": forms.DateInput(attrs={"type": "date"})}
        labels = {"note": "Note (the reason, if declined)"}

    def clean(self):
        cleaned = super().clean()
        outcome = cleaned.get("outcome")
        if outcome == CallOutcome.Outcome.CALL_BACK and not cleaned.get("call_back_on"):
            self.add_error("call_back_on", "Give the date to call back.")
        if outcome == CallOutcome.Outcome.DECLINED and not cleaned.get("note"):
            self.add_error("note", "Say why the patient declined.")
        return cleaned


class PatientCancelForm(forms.Form):
    """A patient cancels a visit, from the portal or from a link in a message (`via`)."""

    REASONS = {
        "time": "I cannot come at this time",
        "unwell": "I am unwell",
        "travel": "I cannot get to the clinic",
        "other": "Another reason",
    }
    reason = forms.ChoiceField(
        label="Why are you cancelling?",
        choices=REASONS.items(),
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a reason."},
    )
    details = forms.CharField(
        label="In your own words",
        help_text="Needed if you chose “Another reason”; optional otherwise.",
        required=False,
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, via: str, **kwargs):
        self.via = via
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason") == "other" and not cleaned.get("details", "").strip():
            self.add_error("details", "Tell us the reason.")
        return cleaned

    def reason_text(self) -> str:
        """What staff read: the reason chosen, and the patient's words if any."""
        reason = self.REASONS[self.cleaned_data["reason"]]
        details = self.cleaned_data["details"].strip()
        return f"By the patient ({self.via}): {reason}" + (f". {details}" if details else "")


class DateChangeForm(forms.Form):
    note = forms.CharField(
        label="Which days or times suit you better?",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
