"""A clinician's follow-up of a side effect: acknowledge its alert, resolve the event."""

from django import forms
from django.utils import timezone

from clinic.forms import PlausibleDatesMixin
from treatments.models import AdverseEvent


class AlertAcknowledgeForm(forms.Form):
    note = forms.CharField(
        label="What was done (required)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )

    def clean_note(self) -> str:
        note = self.cleaned_data["note"].strip()
        if not note:
            raise forms.ValidationError("Say what was done about this report.")
        return note


class AdverseEventResolveForm(PlausibleDatesMixin, forms.Form):
    outcome = forms.ChoiceField(
        choices=[
            (AdverseEvent.Outcome.RESOLVED, AdverseEvent.Outcome.RESOLVED.label),
            (AdverseEvent.Outcome.SEQUELAE, AdverseEvent.Outcome.SEQUELAE.label),
        ]
    )
    resolved_on = forms.DateField(
        label="Resolved on", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, event: AdverseEvent, **kwargs):
        self.event = event
        super().__init__(*args, **kwargs)

    def clean_resolved_on(self):
        day = self.cleaned_data["resolved_on"]
        if day < self.event.onset:
            raise forms.ValidationError("It cannot resolve before its onset.")
        if day > timezone.localdate(timezone=self.event.session.local_administered_at.tzinfo):
            raise forms.ValidationError("That date is in the future.")
        return day
