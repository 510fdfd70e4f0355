"""The pages behind the signed links in messages: confirm a visit, cancel it, stop messages.

Anyone holding the link may open them, and a link may be forwarded: the pages show a visit's
place and time only, never a name or a clinical detail. GET never changes anything (mail
scanners open links); the page's button POSTs (CSRF on) and the result is shown at once, so a
refresh or a second tap replays harmlessly. A tampered, expired or wrong-purpose token gets one
friendly 400 page that does not say which.
"""

import logging

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from patients.models import Channel, Patient
from treatments.links import BadLink, read_link_token
from treatments.models import Appointment
from treatments.services.responses import (
    cancellation_cutoff,
    confirm_appointment,
    patient_cancel_appointment,
    stop_messages,
)
from treatments.services.schedule import BookingError

logger = logging.getLogger(__name__)


def public_link(view):
    """No login, never cached (the page shows a visit), GET/HEAD to look and POST to act."""
    return login_not_required(never_cache(require_http_methods(["GET", "HEAD", "POST"])(view)))


class PatientCancelForm(forms.Form):
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

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("reason") == "other" and not cleaned.get("details", "").strip():
            self.add_error("details", "Tell us the reason.")
        return cleaned

    def reason_text(self) -> str:
        """What staff read: the reason chosen, and the patient's words if any."""
        reason = self.REASONS[self.cleaned_data["reason"]]
        details = self.cleaned_data["details"].strip()
        return f"By the patient (link): {reason}" + (f". {details}" if details else "")


def _read(token: str, purpose: str) -> dict | None:
    try:
        return read_link_token(token, purpose=purpose)
    except BadLink:
        logger.info("Refused a %s link", purpose)  # never the token: it is a credential
        return None


def _bad_link(request):
    return render(request, "links/invalid.html", status=400)


def _gone(request):
    return render(request, "links/gone.html", status=404)


def _appointment(token: str, purpose: str) -> Appointment | None | bool:
    """The appointment a link names; False for a bad link, None for a visit deleted since."""
    data = _read(token, purpose)
    if data is None:
        return False
    return Appointment.objects.select_related("location").filter(pk=data["appointment_id"]).first()


def _confirm_state(appointment: Appointment) -> str:
    if appointment.status == Appointment.Status.CANCELLED:
        return "cancelled"
    if appointment.status != Appointment.Status.BOOKED:
        return "closed"
    if appointment.confirmed_at is not None:
        return "confirmed"
    return "closed" if appointment.starts_at <= timezone.now() else "open"


def _cancel_state(appointment: Appointment) -> str:
    if appointment.status == Appointment.Status.CANCELLED:
        return "cancelled"
    if appointment.status != Appointment.Status.BOOKED:
        return "closed"
    return "late" if timezone.now() >= cancellation_cutoff(appointment) else "open"


@public_link
def link_confirm(request, token):
    appointment = _appointment(token, "confirm")
    if appointment is False:
        return _bad_link(request)
    if appointment is None:
        return _gone(request)
    state, error = _confirm_state(appointment), ""
    if request.method == "POST" and state == "open":
        try:
            appointment = confirm_appointment(appointment=appointment)
            state = "done"
        except BookingError as refusal:  # the visit changed since the page was shown
            appointment.refresh_from_db()
            state, error = _confirm_state(appointment), refusal.message
    context = {"appointment": appointment, "state": state, "error": error}
    return render(request, "links/confirm.html", context | {"replay": request.method == "POST"})


@public_link
def link_cancel(request, token):
    appointment = _appointment(token, "cancel")
    if appointment is False:
        return _bad_link(request)
    if appointment is None:
        return _gone(request)
    state = _cancel_state(appointment)
    form = PatientCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and state == "open" and form.is_valid():
        try:
            appointment = patient_cancel_appointment(
                appointment=appointment, reason=form.reason_text()
            )
            state = "done"
        except BookingError as refusal:  # the visit changed, or the cut-off passed, meanwhile
            appointment.refresh_from_db()
            state = _cancel_state(appointment)
            form.add_error(None, refusal.message)
    context = {"appointment": appointment, "state": state, "form": form}
    context |= {"cutoff_hours": settings.CANCELLATION_CUTOFF_HOURS}
    return render(request, "links/cancel.html", context | {"replay": request.method == "POST"})


@public_link
def link_stop(request, token):
    data = _read(token, "stop")
    if data is None:
        return _bad_link(request)
    patient = Patient.objects.select_related("location").filter(pk=data["patient_id"]).first()
    if patient is None:
        return _gone(request)
    channel = data["channel"]
    current = patient.current_consents()[channel]
    state = "stopped" if current is not None and not current.granted else "open"
    if request.method == "POST":
        state = "done" if stop_messages(patient=patient, channel=channel) else "stopped"
    context = {
        "state": state,
        "what": "text messages" if channel == Channel.SMS else "emails",
        "other": "Emails" if channel == Channel.SMS else "Text messages",
        "clinic": _clinic_of(patient),
    }
    return render(request, "links/stop.html", context)


def _clinic_of(patient: Patient):
    """Whom the patient hears from: their usual location, else where they were last booked."""
    if patient.location is not None:
        return patient.location
    latest = patient.appointments.select_related("location").order_by("-starts_at").first()
    return latest.location if latest else None
