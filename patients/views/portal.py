"""The patient portal: what a patient sees of their own care, on a phone."""

import datetime
import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from clinic.access import AuthenticatedHttpRequest, patient_required
from clinic.models import User
from clinic.params import date_param
from patients.forms import PortalConsentForm
from patients.models import Channel, ContactConsent, Patient
from patients.services import record_consent
from patients.views.diary import questionnaire_links
from treatments.forms import DateChangeForm, OwnSlotForm, PatientCancelForm, SideEffectForm
from treatments.ical import appointments_calendar
from treatments.models import Appointment, CheckIn, PriorAuthorization, TreatmentSession
from treatments.services import BookingError, report_side_effect
from treatments.services.authorizations import PORTAL_CALL_THE_CLINIC, authorized_days
from treatments.services.checkins import checkin_session
from treatments.services.responses import (
    confirm_appointment,
    patient_cancel_appointment,
    request_date_change,
)
from treatments.services.schedule import (
    book_own_visit,
    is_booked_as_asked,
    move_own_visit,
    own_move_refusal,
    self_booking_slots,
    self_booking_window,
)
from treatments.services.side_effects import emergency_number
from treatments.views.checkins import checkin_response


def _me(request) -> Patient | None:
    # (whether any prior authorization is on file: the booking page reads them only if so)
    on_file = PriorAuthorization.objects.filter(patient=OuterRef("pk"))
    return (
        Patient.objects.for_user(request.user)
        .select_related("location")
        .annotate(has_authorizations=Exists(on_file))
        .first()
    )


def _my_visit(request, pk) -> Appointment:
    return get_object_or_404(
        Appointment.objects.for_user(request.user).select_related("location", "patient"), pk=pk
    )


@patient_required
def portal_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = _me(request)
    if patient is None:
        return render(request, "patients/portal_home.html", {"patient": None})
    today = patient.local_today()
    course = patient.courses.active().first()
    visits = list(patient.appointments.active().select_related("location"))
    visit = visits[0] if visits else None
    # a review booked does not stand for the next injection: the patient may still book one
    injection_booked = any(v.kind == Appointment.Kind.INJECTION for v in visits)
    context = {
        "patient": patient,
        "visit": visit,
        "course": course,
        "due_now": course is not None and course.is_due_on(today),
        "questionnaires_due": questionnaire_links(patient.questionnaires_due(today)),
        "injection_booked": injection_booked,
        "can_book": not injection_booked and self_booking_window(patient, today) is not None,
        "can_move": visit is not None and not own_move_refusal(visit),
    }
    return render(request, "patients/portal_home.html", context)


@patient_required
@require_POST
def portal_confirm(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        confirm_appointment(appointment=_my_visit(request, pk))
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Thank you: your visit is confirmed.")
    return redirect("portal:home")


@patient_required
def portal_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    visit = _my_visit(request, pk)
    form = PatientCancelForm(request.POST if request.method == "POST" else None, via="portal")
    if form.is_valid():
        try:
            patient_cancel_appointment(appointment=visit, reason=form.reason_text())
        except BookingError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, "Your visit is cancelled. We will contact you to book a new one."
            )
        return redirect("portal:home")
    return render(
        request,
        "patients/portal_visit_form.html",
        {"visit": visit, "form": form, "action": "cancel"},
    )


@patient_required
def portal_change(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    visit = _my_visit(request, pk)
    form = DateChangeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            request_date_change(appointment=visit, note=form.cleaned_data["note"])
        except BookingError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                "Thank you: the clinic will call you to agree a new "
                "date. Your visit stays booked until then.",
            )
        return redirect("portal:home")
    return render(
        request,
        "patients/portal_visit_form.html",
        {"visit": visit, "form": form, "action": "change"},
    )


# --- booking and moving one's own visit (treatments/services/schedule.py has the rules) ---


@patient_required
def portal_book(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Book the next injection: pick a day of the window, then a time."""
    patient = _me(request)
    if patient is None:
        raise Http404
    form = OwnSlotForm(request.POST if request.method == "POST" else None)
    current = _my_injection_visit(patient)
    if current is not None:
        if form.is_valid() and is_booked_as_asked(current, *form.cleaned_data["slot"]):
            return _done(request, current, "Booked")  # a repeat of the booking that made it
        messages.info(request, "You already have a visit booked: you can move it here.")
        return redirect("portal:move", pk=current.pk)
    if form.is_valid():
        clinician, starts_at = form.cleaned_data["slot"]
        try:
            visit = book_own_visit(patient=patient, clinician=clinician, starts_at=starts_at)
        except BookingError as error:
            # Two requests for one booking at once: the second waited for the first's lock
            made = _my_injection_visit(patient)
            if made is not None and is_booked_as_asked(made, clinician, starts_at):
                return _done(request, made, "Booked")
            form.add_error("slot" if error.field == "slot" else None, error.message)
        else:
            return _done(request, visit, "Booked")
    return _slot_page(request, patient, None, form)


@patient_required
def portal_move(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Move one's own booked injection visit to another free time in the window."""
    visit = _my_visit(request, pk)
    form = OwnSlotForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        clinician, starts_at = form.cleaned_data["slot"]
        if is_booked_as_asked(visit, clinician, starts_at):
            return _done(request, visit, "Moved")  # a repeat of the move that made it
        try:
            visit = move_own_visit(appointment=visit, clinician=clinician, starts_at=starts_at)
        except BookingError as error:
            form.add_error("slot" if error.field == "slot" else None, error.message)
        else:
            return _done(request, visit, "Moved")
    return _slot_page(request, visit.patient, visit, form)


def _my_injection_visit(patient: Patient) -> Appointment | None:
    visits = patient.appointments.active().filter(kind=Appointment.Kind.INJECTION)
    return visits.select_related("location").first()


def _done(request, visit: Appointment, what: str) -> HttpResponse:
    when = visit.local_starts_at
    messages.success(request, f"{what}: your visit is on {when:%A %d %B at %H:%M %Z}.")
    return redirect("portal:home")


def _slot_page(request, patient: Patient, visit: Appointment | None, form) -> HttpResponse:
    """The days of the patient's window with free times, and the times of the day chosen
    (`?day=`): a list, not a grid, to fit a phone."""
    window = self_booking_window(patient, patient.local_today())
    refusal = own_move_refusal(visit) if visit else ""
    slots = self_booking_slots(patient, window) if window and not refusal else []
    on_file = getattr(patient, "has_authorizations", True)
    authorized = authorized_days(patient, ignore=visit) if on_file and slots else None
    if authorized is not None:
        # the days the prior authorization covers (the booking service checks again)
        slots = [slot for slot in slots if authorized(slot.local_starts_at.date())]
        refusal = "" if slots else PORTAL_CALL_THE_CLINIC
    days: dict[datetime.date, list] = {}
    for slot in slots:
        days.setdefault(slot.local_starts_at.date(), []).append(slot)
    day = date_param(request.GET.get("day"))
    location = patient.location
    context = {
        "patient": patient,
        "visit": visit,
        "location": location,
        "window": window,
        "refusal": refusal,
        "days": [(each, len(times)) for each, times in days.items()],
        "day": day if day in days else None,
        "times": days.get(day, []) if day else [],
        "form": form,
    }
    if location is None:
        return render(request, "patients/portal_book.html", context)
    with timezone.override(location.zone):  # times show in the clinic's zone, named
        shown = context["times"][0].local_starts_at if context["times"] else timezone.localtime()
        context["zone_name"] = f"{location.time_zone.replace('_', ' ')}, {shown.tzname()}"
        return render(request, "patients/portal_book.html", context)


def _ics(appointments) -> HttpResponse:
    response = HttpResponse(
        appointments_calendar(appointments), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response


@patient_required
@require_safe
def portal_ics(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _ics([_my_visit(request, pk)])


@patient_required
@require_POST
def portal_feed(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Create, replace or stop the private calendar feed (its secret is in its URL)."""
    stop = request.POST.get("action") == "stop"
    token = None if stop else secrets.token_urlsafe(32)
    User.objects.filter(pk=request.user.pk).update(calendar_token=token)
    messages.success(
        request,
        "The calendar link is stopped."
        if stop
        else "Your calendar link is ready. Any older link no longer works.",
    )
    return redirect("portal:home")


@login_not_required
@require_safe
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A patient's visits as a calendar that follows every change (public, by its secret)."""
    user = User.objects.filter(calendar_token=token, role=User.Role.PATIENT, is_active=True).first()
    if user is None or not hasattr(user, "patient"):
        raise Http404
    since = timezone.now() - datetime.timedelta(days=90)
    visits = Appointment.objects.filter(patient=user.patient, starts_at__gte=since).select_related(
        "location"
    )
    response = _ics(visits)
    response["Content-Disposition"] = 'inline; filename="visits.ics"'
    return response


@patient_required
def portal_treatment(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = _me(request)
    answered = CheckIn.objects.filter(session=OuterRef("pk"))
    sessions = (
        list(
            patient.sessions.signed()
            .select_related("location")
            .annotate(checkin_answered=Exists(answered))
        )
        if patient
        else []
    )
    last = sessions[0] if sessions else None  # sessions are newest first
    data = request.POST if request.method == "POST" else None
    form = SideEffectForm(data, session=last) if last else None
    if form is not None and form.is_valid():
        event = report_side_effect(session=form.session, user=request.user, **form.cleaned_data)
        if event.urgency == "danger":
            # shown once, on the page the patient lands on: seek emergency care now
            request.session["side_effect_danger"] = True
        elif event.urgency == "prompt":
            messages.warning(
                request,
                "Thank you: a clinician will review this within one working day. If it gets "
                "worse, or you have trouble swallowing, speaking or breathing, get help now.",
            )
        else:
            messages.success(
                request,
                "Thank you: your clinician will see this at your next treatment. If you have "
                "trouble swallowing, speaking or breathing, get help now.",
            )
        return redirect("portal:treatment")
    location = (patient.location if patient else None) or (last.location if last else None)
    context = {
        "patient": patient,
        "sessions": sessions,
        "form": form,
        "danger": request.session.pop("side_effect_danger", False),
        "clinic": location,
        "emergency_number": emergency_number(location),
        "checkin_open": last is not None and not last.checkin_answered,
    }
    return render(request, "patients/portal_treatment.html", context)


@patient_required
def portal_checkin(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The post-injection check-in of one of the patient's own sessions (its message's link
    asks the same questions without a login)."""
    get_object_or_404(TreatmentSession.objects.for_user(request.user), pk=pk)
    session = checkin_session(pk)
    if session is None:
        raise Http404
    return checkin_response(
        request,
        session,
        user=request.user,
        via=CheckIn.Via.PORTAL,
        page="patients/portal_checkin.html",
    )


# How the portal names each channel, and what it shows when there is no address for it.
PORTAL_CHANNELS = {
    Channel.EMAIL: ("Email", "no email address"),
    Channel.SMS: ("Text messages", "no phone number"),
}


@patient_required
def portal_contact(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = get_object_or_404(
        Patient.objects.for_user(request.user).prefetch_related("consents__recorded_by")
    )
    if request.method == "POST":
        form = PortalConsentForm(request.POST, patient=patient)
        if form.is_valid():
            source = ContactConsent.Source.PORTAL
            record_consent(
                patient=patient, source=source, recorded_by=request.user, **form.cleaned_data
            )
            messages.success(request, "Saved: this applies from the next message.")
        else:
            messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect("portal:contact")
    channels = [
        (channel, name, patient.address_for(channel) or missing, consent)
        for channel, consent in patient.current_consents().items()
        for name, missing in [PORTAL_CHANNELS[channel]]
    ]
    context = {"patient": patient, "channels": channels, "history": patient.consents.all()}
    return render(request, "patients/portal_contact.html", context)
