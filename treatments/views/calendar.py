"""The clinic calendar: a location's appointments by day or week in the location's own time
zone, check-in and no-show from the desk, and each appointment as an .ics file.

The URL carries ids and dates only (location, clinician, date, view): never patient data."""

import datetime
import zoneinfo
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST, require_safe

from audit.trail import note_patients
from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.models import Location, User
from clinic.params import date_param, id_param
from treatments.forms import ConfirmForm
from treatments.ical import appointments_calendar
from treatments.models import Appointment, InjectorDay
from treatments.services import BookingError, set_appointment_status, undo_appointment_status
from treatments.views import pk_url

VIEWS = ("day", "week")
# What the desk may set from the calendar; cancelling asks for a reason on its own page.
DESK_STATUSES: dict[str, str] = {
    Appointment.Status.ARRIVED: "Checked in",
    Appointment.Status.NOSHOW: "Marked as a no-show",
}
ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CalendarVisit:
    """One appointment as the calendar shows it: its status (the row's class) and its markup."""

    status: str
    html: SafeString


@dataclass
class CalendarDay:
    date: datetime.date
    zone_names: str  # the zone's abbreviation that day: EST, or EST/EDT on the day it changes
    url: str
    appointments: list[CalendarVisit] = field(default_factory=list)
    items: SafeString = SafeString("")  # the appointments' <li> elements, joined (_fill)


@staff_required
def calendar_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    clinician = User.objects.clinician_from_param(request.GET.get("clinician", ""))
    asked = date_param(request.GET.get("date"))
    location = Location.objects.from_param(request.GET.get("location")) or _default_location(
        request.user, clinician, asked
    )
    context = {"location": location}
    if location is not None:
        view = request.GET.get("view") if request.GET.get("view") in VIEWS else "day"
        context |= _calendar(request, location, clinician, asked, view)
    # A history restore after a cache miss wants the whole page, as does a plain request.
    template = "treatments/calendar.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#calendar"
    response = render(request, template, context)
    # The same URL answers with a fragment or a page: caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _calendar(request, location, clinician, asked, view) -> dict:
    """The days shown, each with its appointments (every status) in time order."""
    zone = location.zone
    today = timezone.localdate(timezone=zone)
    day = asked or today
    first = day - datetime.timedelta(days=day.weekday()) if view == "week" else day
    state = {"location": location.pk, "clinician": clinician.pk if clinician else "", "view": view}
    dates = [first + offset * ONE_DAY for offset in range(7 if view == "week" else 1)]
    days = [
        CalendarDay(
            date, _zone_names(date, zone), _calendar_url(**state | {"view": "day", "date": date})
        )
        for date in dates
    ]
    appointments = Appointment.objects.for_user(request.user).filter(location=location)
    markup = VisitMarkup(request, view=view, clinician=clinician, today=today)
    _fill(days, appointments, clinician, zone, markup)
    step = len(days) * ONE_DAY
    return {
        "view": view,
        "day": day,
        "today": today,
        "days": days,
        "clinician": clinician,
        "zone_names": "/".join(
            dict.fromkeys(name for d in days for name in d.zone_names.split("/"))
        ),
        "previous_url": _calendar_url(**state | {"date": day - step}),
        "today_url": _calendar_url(**state),
        "next_url": _calendar_url(**state | {"date": day + step}),
        "day_url": _calendar_url(**state | {"view": "day", "date": day}),
        "week_url": _calendar_url(**state | {"view": "week", "date": day}),
        "locations": Location.objects.order_by("name"),
        # Active clinicians, and the one filtered to even if they have since left.
        "clinicians": User.objects.filter(role=User.Role.CLINICIAN)
        .filter(Q(is_active=True) | Q(pk=clinician.pk if clinician else None))
        .order_by("last_name", "first_name", "pk")
        .only("first_name", "last_name", "username"),
    }


# What the calendar reads of each appointment: plain rows, one query, no model instances (a
# busy location's week is thousands of visits; building models and parsing every patient's
# phone number cost more than the SQL).
VISIT_COLUMNS = (
    "pk",
    "patient_id",
    "patient__first_name",
    "patient__last_name",
    "clinician__first_name",
    "clinician__last_name",
    "clinician__username",
    "starts_at",
    "kind",
    "cycle_number",
    "status",
    "confirmed_at",
    "early_override_reason",
)


def _fill(days: list[CalendarDay], appointments, clinician: User | None, zone, markup) -> None:
    """Put each appointment of the days shown (of the clinician, if one) on its local day."""
    appointments = appointments.between(
        _midnight(days[0].date, zone), _midnight(days[-1].date + ONE_DAY, zone)
    )
    if clinician is not None:
        appointments = appointments.filter(clinician=clinician)
    by_date = {calendar_day.date: calendar_day for calendar_day in days}
    shown = set()
    for row in appointments.values(*VISIT_COLUMNS):
        local = row["starts_at"].astimezone(zone)
        by_date[local.date()].appointments.append(markup.visit(row, local))
        shown.add(row["patient_id"])
    # One string per day: the template's loop over a week's 385 visits cost 4 ms.
    item = markup.item
    for calendar_day in days:
        calendar_day.items = SafeString(
            "\n".join(item % (visit.status, visit.html) for visit in calendar_day.appointments)
        )
    # Plain rows load no Patient: the audit trail is told who was shown.
    note_patients(shown)


KIND_LABELS = {kind.value: str(kind.label) for kind in Appointment.Kind}
STATUS_LABELS = {status.value: str(status.label) for status in Appointment.Status}


class VisitMarkup:
    """Each appointment's markup, built in Python: the template engine took a second and a
    half (and reversed six URLs) per busy week. Every URL is reversed once a page (pk_url),
    every text escaped; the markup is the one the calendar always had."""

    def __init__(self, request, *, view: str, clinician: User | None, today: datetime.date):
        self.today = today
        # each visit's <li> (a % format of status and markup): the week's compact cards or
        # the day's list group
        self.item = (
            '<li class="appointment appointment-compact status-%s">%s</li>'
            if view == "week"
            else '<li class="list-group-item appointment status-%s">%s</li>'
        )
        self.url = {
            name: pk_url(name)
            for name in (
                "patients:detail",
                "treatments:appointment_status",
                "treatments:appointment_undo",
                "treatments:appointment_reschedule",
                "treatments:appointment_cancel",
                "treatments:appointment_ics",
            )
        }
        self.hidden = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(get_token(request))}">'
            f'\n    <input type="hidden" name="view" value="{escape(view)}">'
        )
        if clinician is not None:
            self.hidden += f'\n    <input type="hidden" name="clinician" value="{clinician.pk}">'

    def visit(self, row: dict, local: datetime.datetime) -> CalendarVisit:
        pk, status = row["pk"], row["status"]
        name = escape(f"{row['patient__first_name']} {row['patient__last_name']}")
        clinician = (
            f"{row['clinician__first_name']} {row['clinician__last_name']}".strip()
            or row["clinician__username"]
        )
        struck = ("<s>", "</s>") if status == Appointment.Status.CANCELLED else ("", "")
        about = KIND_LABELS[row["kind"]]
        if row["cycle_number"]:
            about += f" · cycle {row['cycle_number']}"
        badges = f'<span class="badge status-badge status-{status}">{STATUS_LABELS[status]}</span>'
        if row["confirmed_at"]:
            badges += '\n    <span class="badge text-bg-light border">Confirmed</span>'
        if row["early_override_reason"]:
            reason = escape(row["early_override_reason"])
            badges += (
                f'\n    <span class="badge text-bg-warning" title="Booked early: {reason}">'
                "Early</span>"
            )
        hidden_name = f'<span class="visually-hidden"> {name}</span>'
        actions = ""
        if status == Appointment.Status.BOOKED:
            actions = (
                f'<form method="post" action="{self.url["treatments:appointment_status"](pk)}">'
                f"\n    {self.hidden}"
                '\n    <button type="submit" name="status" value="arrived" '
                f'class="btn btn-sm btn-success">Check in{hidden_name}</button>'
                '\n    <button type="submit" name="status" value="noshow" '
                f'class="btn btn-sm btn-outline-danger">No-show{hidden_name}</button>'
                "\n  </form>"
                '\n  <a class="btn btn-sm btn-outline-secondary" '
                f'href="{self.url["treatments:appointment_reschedule"](pk)}">'
                f"Reschedule{hidden_name}</a>"
                '\n  <a class="btn btn-sm btn-outline-secondary" '
                f'href="{self.url["treatments:appointment_cancel"](pk)}">Cancel{hidden_name}</a>'
                "\n  "
            )
        elif status in Appointment.UNDOABLE and local.date() == self.today:
            undone = "check-in" if status == Appointment.Status.ARRIVED else "no-show"
            actions = (
                f'<form method="post" action="{self.url["treatments:appointment_undo"](pk)}">'
                f"\n    {self.hidden}"
                '\n    <button type="submit" class="btn btn-sm btn-outline-secondary">'
                f"Undo {undone}{hidden_name}</button>"
                "\n  </form>\n  "
            )
        html = (
            '\n<div class="appointment-time">'
            f'\n  {struck[0]}<time datetime="{local.isoformat()}">{local:%H:%M}</time>{struck[1]}'
            '\n</div>\n<div class="appointment-main">'
            f'\n  {struck[0]}<a class="appointment-patient" '
            f'href="{self.url["patients:detail"](row["patient_id"])}">{name}</a>{struck[1]}'
            f'\n  <div class="small text-body-secondary">{about} · {escape(clinician)}</div>'
            f'\n  <div class="appointment-badges">\n    {badges}\n  </div>'
            '\n</div>\n<div class="appointment-actions">'
            f"\n  {actions}"
            f'<a class="btn btn-sm btn-link" href="{self.url["treatments:appointment_ics"](pk)}">'
            f'.ics<span class="visually-hidden"> calendar file for {name}</span></a>'
            "\n</div>\n"
        )
        return CalendarVisit(status, mark_safe(html))  # every text escaped above


def _midnight(day: datetime.date, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """The instant a local date begins (DST changes in our zones happen at night, not at 00:00;
    where midnight is skipped, zoneinfo's fold=0 gives the moment the day starts)."""
    return datetime.datetime.combine(day, datetime.time(), zone)


def _zone_names(day: datetime.date, zone: zoneinfo.ZoneInfo) -> str:
    names = (
        _midnight(day, zone).tzname(),
        (_midnight(day + ONE_DAY, zone) - datetime.timedelta(microseconds=1)).tzname(),
    )
    return "/".join(dict.fromkeys(name or "" for name in names))


def _calendar_url(**params) -> str:
    query = urlencode({name: value for name, value in params.items() if value not in ("", None)})
    return f"{reverse('treatments:calendar')}?{query}" if query else reverse("treatments:calendar")


def _default_location(user, clinician, day) -> Location | None:
    """Where the clinician (the one asked for, else the user if a clinician) injects that
    weekday; else the first location by name."""
    person = clinician or (user if user.is_clinician else None)
    if person is not None:
        weekday = (day or timezone.localdate()).weekday()
        rota = InjectorDay.objects.filter(clinician=person, weekday=weekday)
        day_there = rota.select_related("location").first()
        if day_there is not None:
            return day_there.location
    return Location.objects.order_by("name").first()


@staff_required
@require_POST
def appointment_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Check a patient in, or mark a no-show, once confirmed on a second page; back to the
    calendar (post/redirect/get). The service decides when either is allowed."""
    appointment = _appointment(request, pk)
    status = request.POST.get("status", "")
    when = f"{appointment.local_starts_at:%H:%M}"
    if status not in DESK_STATUSES:
        messages.error(request, "Choose check-in or no-show.")
    elif appointment.status == status:
        messages.info(request, f"Already done: the {when} appointment.")
    else:
        # What the state machine refuses is said at once, not after a confirmation.
        asked = (
            _ask_first(request, appointment, QUESTIONS[status], {"status": status})
            if appointment.can_become(status)
            else None
        )
        if asked is not None:
            return asked
        try:
            set_appointment_status(appointment=appointment, status=status, by=request.user)
        except BookingError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{DESK_STATUSES[status]}: the {when} appointment.")
    return redirect(_back_to(request, appointment))


@staff_required
@require_POST
def appointment_undo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Undo today's check-in or no-show, once confirmed: the visit is booked again."""
    appointment = _appointment(request, pk)
    when = f"{appointment.local_starts_at:%H:%M}"
    if appointment.status not in Appointment.UNDOABLE:
        messages.info(request, f"Nothing to undo at {when}: not checked in or missed.")
        return redirect(_back_to(request, appointment))
    question = f"Undo the {appointment.get_status_display().lower()} and book the visit again?"
    asked = _ask_first(request, appointment, question, {})
    if asked is not None:
        return asked
    try:
        undo_appointment_status(appointment=appointment, by=request.user)
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Undone: the {when} appointment is booked again.")
    return redirect(_back_to(request, appointment))


QUESTIONS: dict[str, str] = {
    Appointment.Status.ARRIVED: "Check the patient in?",
    Appointment.Status.NOSHOW: 'Mark the visit as a no-show? A "please rebook" message will '
    "be sent tomorrow.",
}


def _appointment(request, pk: int) -> Appointment:
    return get_object_or_404(
        Appointment.objects.for_user(request.user).select_related(
            "location", "patient", "clinician"
        ),
        pk=pk,
    )


def _ask_first(request, appointment, question: str, fields: dict) -> HttpResponse | None:
    """None once the POST carries confirm=yes; else the confirmation page (400 if the
    confirmation is not one)."""
    form = ConfirmForm(request.POST)
    if form.confirmed:
        return None
    clinician, view = request.POST.get("clinician", ""), request.POST.get("view", "")
    fields = fields | {"view": view if view in VIEWS else "", "clinician": clinician}
    if id_param(clinician) is None:
        del fields["clinician"]
    context = {
        "appointment": appointment,
        "form": form,
        "question": question,
        "fields": fields,
        "action": request.path,
        "back_url": _back_to(request, appointment),
    }
    status = 400 if form.errors else 200
    return render(request, "treatments/appointment_confirm.html", context, status=status)


def _back_to(request, appointment: Appointment) -> str:
    """The page the button was on: the appointment's day, in the view and filter used."""
    clinician = request.POST.get("clinician", "")
    view = request.POST.get("view", "")
    return _calendar_url(
        location=appointment.location_id,
        clinician=clinician if id_param(clinician) is not None else "",
        view=view if view in VIEWS else "day",
        date=appointment.local_starts_at.date(),
    )


@staff_required
@require_safe
def appointment_ics(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    appointment = get_object_or_404(
        Appointment.objects.for_user(request.user).select_related("location"), pk=pk
    )
    response = HttpResponse(
        appointments_calendar([appointment]), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response
