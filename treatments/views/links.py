"""The pages behind the signed links in messages: confirm a visit, cancel it, stop messages,
claim an earlier slot, answer the post-injection check-in.

Anyone holding the link may open them, and a link may be forwarded: the pages show a visit's
place and time only, never a name or a clinical detail. GET never changes anything (mail
scanners open links); the page's button POSTs (CSRF on) and the result is shown at once, so a
refresh or a second tap replays harmlessly. A tampered, expired or wrong-purpose token gets one
friendly 400 page that does not say which.
"""

import logging
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from patients.models import Channel, Patient
from treatments.forms import PatientCancelForm
from treatments.links import BadLink, make_link_token, read_link_token
from treatments.models import Appointment, CheckIn, SlotOffer
from treatments.services.checkins import checkin_session
from treatments.services.responses import (
    VisitChanged,
    cancellation_cutoff,
    confirm_appointment,
    patient_cancel_appointment,
    stop_messages,
)
from treatments.services.schedule import BookingError
from treatments.services.short_links import resolve_short_link
from treatments.services.waitlist import claim_offer, expire_offer_if_due, offer_state
from treatments.views.checkins import checkin_response

logger = logging.getLogger(__name__)


def public_link(view):
    """No login, never cached (the page shows a visit), GET/HEAD to look and POST to act."""
    return login_not_required(never_cache(require_http_methods(["GET", "HEAD", "POST"])(view)))


def _read(token: str, purpose: str) -> dict | None:
    try:
        return read_link_token(token, purpose=purpose)
    except BadLink:
        logger.info("Refused a %s link", purpose)  # never the token: it is a credential
        return None


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD"])
def short_link(request: HttpRequest, code: str) -> HttpResponse:
    """A text message's short link: on to the signed link it stands for, whose page checks
    the signature and its age as ever. An unknown or expired code, or anything that is not a
    code, gets the invalid-link page with 404."""
    link = resolve_short_link(code)
    if link is None:
        logger.info("Refused a short link")  # never the code: it is a credential
        return render(request, "links/invalid.html", status=404)
    path = reverse(f"links:{link.purpose}", args=[link.token])
    return HttpResponseRedirect(settings.SITE_URL.rstrip("/") + path)


def _bad_link(request):
    return render(request, "links/invalid.html", status=400)


def _gone(request):
    return render(request, "links/gone.html", status=404)


def appointment_link(purpose: str):
    """A public page about the appointment its link names: the view gets the appointment; a
    bad link gets the invalid-link page, a visit deleted since the gone page."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, token):
            data = _read(token, purpose)
            if data is None:
                return _bad_link(request)
            visits = Appointment.objects.select_related("location")
            appointment = visits.filter(pk=data["appointment_id"]).first()
            if appointment is None:
                return _gone(request)
            if _changed(appointment, data["sequence"]):
                return _changed_page(request, appointment)
            return view(request, appointment, data["sequence"])

        return public_link(wrapped)

    return decorator


def _changed(appointment: Appointment, sequence: int) -> bool:
    """The visit moved (or was cancelled and restored) since the message was sent. A visit
    since cancelled keeps its own page, which says so."""
    return appointment.status in Appointment.ACTIVE and appointment.sequence != sequence


def _changed_page(request, appointment):
    context = {"appointment": appointment}
    return render(request, "links/changed.html", context, status=409)


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


@appointment_link("confirm")
def link_confirm(request: HttpRequest, appointment: Appointment, sequence: int) -> HttpResponse:
    state, error = _confirm_state(appointment), ""
    if request.method == "POST" and state == "open":
        try:
            appointment = confirm_appointment(appointment=appointment, sequence=sequence)
            state = "done"
        except VisitChanged:  # moved between the page and the press
            return _changed_page(request, appointment)
        except BookingError as refusal:  # the visit changed since the page was shown
            appointment.refresh_from_db()
            state, error = _confirm_state(appointment), refusal.message
    context = {"appointment": appointment, "state": state, "error": error}
    context["cancel_path"] = _cancel_path(appointment, sequence)
    return render(request, "links/confirm.html", context | {"replay": request.method == "POST"})


def _cancel_path(appointment: Appointment, sequence: int) -> str:
    """The cancel page of this version of the visit while it may be cancelled online, else "":
    a text message has one link for both (treatments/services/reminders.py, `sms_text`). Whoever
    holds the confirm link held the cancel link in the same message."""
    if _cancel_state(appointment) != "open":
        return ""
    token = make_link_token(purpose="cancel", appointment_id=appointment.pk, sequence=sequence)
    return reverse("links:cancel", args=[token])


@appointment_link("cancel")
def link_cancel(request: HttpRequest, appointment: Appointment, sequence: int) -> HttpResponse:
    state = _cancel_state(appointment)
    form = PatientCancelForm(request.POST if request.method == "POST" else None, via="link")
    if request.method == "POST" and state == "open" and form.is_valid():
        try:
            appointment = patient_cancel_appointment(
                appointment=appointment, reason=form.reason_text(), sequence=sequence
            )
            state = "done"
        except VisitChanged:
            return _changed_page(request, appointment)
        except BookingError as refusal:  # the visit changed, or the cut-off passed, meanwhile
            appointment.refresh_from_db()
            state = _cancel_state(appointment)
            form.add_error(None, refusal.message)
    context = {"appointment": appointment, "state": state, "form": form}
    context |= {"cutoff_hours": settings.CANCELLATION_CUTOFF_HOURS}
    return render(request, "links/cancel.html", context | {"replay": request.method == "POST"})


# RFC 8058: a one-click unsubscribe POSTs List-Unsubscribe=One-Click
ONE_CLICK = "One-Click"


def _one_click(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("List-Unsubscribe") == ONE_CLICK


def one_click_or_csrf(view):
    """CSRF as everywhere, except for RFC 8058's one-click unsubscribe: a mail client's POST of
    `List-Unsubscribe=One-Click` to the link in the List-Unsubscribe header, which cannot carry
    a token. The signed link is what authorizes it; that POST can only stop messages."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not _one_click(request):
            refused = CsrfViewMiddleware(lambda request: HttpResponse()).process_view(
                request, None, (), {}
            )
            if refused is not None:
                return refused
        return view(request, *args, **kwargs)

    return csrf_exempt(wrapped)


@public_link
@one_click_or_csrf
def link_stop(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a person, or a scanner, which changes nothing); the page's POST stops the
    channel's messages, and so does a mail client's one-click POST (no CSRF token there)."""
    data = _read(token, "stop")
    if data is None:
        return _bad_link(request)
    patient = Patient.objects.select_related("location").filter(pk=data["patient_id"]).first()
    if patient is None:
        return _gone(request)
    channel = data["channel"]
    state = "stopped" if patient.consents_to(channel) is False else "open"
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


@public_link
def link_offer(request: HttpRequest, token: str) -> HttpResponse:
    """A waitlist offer: GET shows the slot and a button; POST claims it (the first claim of a
    slot wins; a later one is told "already taken", 200, and stays on the list)."""
    data = _read(token, "offer")
    if data is None:
        return _bad_link(request)
    offers = SlotOffer.objects.select_related("location", "clinician", "entry")
    offer = offers.filter(pk=data["offer_id"]).first()
    if offer is None:
        return _gone(request)
    now = timezone.now()
    expire_offer_if_due(offer, now)
    state, error, moved = offer_state(offer, now), "", False
    if request.method == "POST" and state == "open":
        try:
            result = claim_offer(offer_id=offer.pk, now=now)
        except BookingError:  # the database refused a second claim of the slot
            state = "taken"
        else:
            state, error, offer = result.state, result.message, result.offer
            moved = bool(result.appointment and result.appointment.sequence)
            state = "open" if state == "refused" else state
    context = {"offer": offer, "state": state, "error": error, "moved": moved}
    return render(request, "links/offer.html", context)


@public_link
def link_checkin(request: HttpRequest, token: str) -> HttpResponse:
    """The post-injection check-in: four questions about the session the link names (its
    current version, if amended since); answered once."""
    data = _read(token, "checkin")
    if data is None:
        return _bad_link(request)
    session = checkin_session(data["session_id"])
    if session is None:
        return _gone(request)
    return checkin_response(
        request, session, user=None, via=CheckIn.Via.LINK, page="links/checkin.html"
    )
