"""Booking, moving and cancelling visits, and the front desk's due list."""

import datetime
import zoneinfo
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.db.models import Exists, OuterRef, prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_http_methods

from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.forms import safe_next_url
from clinic.models import Location, User
from clinic.paging import page_of
from clinic.params import date_param, int_param
from patients.models import Patient, medication_overuse_of
from treatments.forms import CallOutcomeForm, CancelForm, SlotChoiceForm
from treatments.models import Appointment, Closure, PriorAuthorization
from treatments.services.authorizations import with_usage
from treatments.services.local_dates import local_dates
from treatments.services.schedule import (
    DUE_BUCKETS,
    BookingError,
    available_slots,
    book_appointment,
    cancel_appointment,
    due_entries,
    due_patients,
    is_booked_as_asked,
    record_call_outcome,
    reschedule_appointment,
    within_booking_horizon,
)
from treatments.views import pk_url


def _patient(user, pk):
    on_file = PriorAuthorization.objects.filter(patient=OuterRef("pk"))
    patients = Patient.objects.for_user(user).select_related("location")
    return get_object_or_404(patients.annotate(has_authorizations=Exists(on_file)), pk=pk)


@staff_required
def book(request: AuthenticatedHttpRequest, patient_pk: int) -> HttpResponse:
    patient = _patient(request.user, patient_pk)
    current = patient.appointments.active().select_related("clinician", "location").first()
    if current is not None and request.method == "POST":
        form = SlotChoiceForm(request.POST)
        if form.is_valid() and _is_booked_as_asked(current, form.cleaned_data["slot"]):
            return _booked(request, current)  # a repeat of the booking that made it
    if current is not None:
        messages.info(request, "This patient already has a visit booked: move it instead.")
        return redirect("treatments:appointment_reschedule", pk=current.pk)
    return _slot_page(request, patient=patient, appointment=None)


def _is_booked_as_asked(appointment: Appointment | None, slot) -> bool:
    """The visit is the slot a booking asked for (a double click's second request, or a
    form sent again, finds the booking its first one made)."""
    clinician, starts_at = slot
    return is_booked_as_asked(appointment, clinician, starts_at)


def _booked(request, appointment: Appointment) -> HttpResponse:
    when = appointment.local_starts_at
    messages.success(
        request,
        f"Booked: {when:%a %d %b %Y %H:%M %Z} with {appointment.clinician} "
        f"at {appointment.location}.",
    )
    return redirect(_calendar_url(appointment))


@staff_required
def appointment_reschedule(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    appointment = get_object_or_404(
        Appointment.objects.for_user(request.user).select_related("patient", "location"), pk=pk
    )
    if appointment.status != Appointment.Status.BOOKED:
        messages.error(request, "Only a booked appointment can be moved.")
        return redirect("patients:detail", pk=appointment.patient_id)
    return _slot_page(request, patient=appointment.patient, appointment=appointment)


def _slot_page(request, *, patient, appointment):
    """The slot grid: a week of every free slot at a location (one clinician's or everyone's),
    times down, days across; one click on a slot books it, or moves the visit there."""
    location = (
        Location.objects.from_param(request.GET.get("location"))
        or (appointment.location if appointment else None)
        or patient.location
        or Location.objects.order_by("name").first()
    )
    form = SlotChoiceForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            return _booked(request, _book_or_move(request, form, patient, appointment, location))
        except BookingError as error:
            # Two requests for one booking at once: the second waited for the first's lock
            current = None if appointment else patient.appointments.active().first()
            if _is_booked_as_asked(current, form.cleaned_data["slot"]):
                return _booked(request, current)
            form.add_error(error.field if error.field in form.fields else None, error.message)
    with timezone.override(location.zone):  # slot times show in the location's zone
        context = _slot_context(request, patient, appointment, location)
        return render(request, "treatments/book.html", context | {"form": form})


def _book_or_move(request, form, patient, appointment, location) -> Appointment:
    clinician, starts_at = form.cleaned_data["slot"]
    chosen = {"clinician": clinician, "starts_at": starts_at, "location": location}
    chosen["early_reason"] = form.cleaned_data["early_reason"]
    chosen["authorization_reason"] = form.cleaned_data["authorization_reason"]
    if appointment:
        return reschedule_appointment(appointment=appointment, by=request.user, **chosen)
    return book_appointment(patient=patient, booked_by=request.user, **chosen)


def _slot_context(request, patient, appointment, location) -> dict:
    """One slot search for the week (Monday to Sunday) holding `?from=`, by default the week of
    the patient's earliest bookable date (or of today, if later)."""
    today = timezone.localdate()
    course = patient.courses.active().first()
    earliest = course.earliest_on if course else None
    overdue_from = course.overdue_from if course else None
    shown = date_param(request.GET.get("from")) or max(today, earliest or today)
    monday = shown - datetime.timedelta(days=shown.weekday())
    clinicians = list(
        User.objects.filter(
            role=User.Role.CLINICIAN, is_active=True, injector_days__location=location
        )
        .distinct()
        .order_by("last_name", "first_name", "pk")
        .only("first_name", "last_name", "username")
    )
    chosen = User.objects.clinician_from_param(request.GET.get("clinician"))
    prefetch_related_objects([location], "opening_hours")  # read by the search and the rows
    now = timezone.now()
    slots = [  # none past the booking horizon, which booking would refuse
        slot
        for slot in available_slots(
            location=location,
            start_date=monday,
            days=7,
            clinician=chosen,
            ignore=appointment,
            now=now,
        )
        if within_booking_horizon(slot.starts_at, now)
    ]
    week = [monday + datetime.timedelta(days=n) for n in range(7)]
    early_days = [day for day in week if earliest and day < earliest]
    # the week's closures of the location and leave of the clinicians shown, marked on their day
    closures = Closure.objects.affecting(location, [chosen] if chosen else clinicians).on_days(
        week[0], week[-1] + datetime.timedelta(days=1)
    )
    grid = SlotGrid(
        week=week,
        slots=slots,
        closures=closures,
        names={person.pk: str(person) for person in clinicians},
        times=_grid_times(location),
        earliest=earliest,
        overdue_from=overdue_from,
        may_book_early=request.user.is_clinician,
        current=appointment,
    )
    # the authorization the page names: the first not yet ended, else the last that ended
    on_file = (
        list(with_usage(patient.authorizations.order_by("valid_from", "pk")))
        if getattr(patient, "has_authorizations", True)
        else []
    )
    current = [a for a in on_file if a.valid_to >= today]
    authorization = current[0] if current else max(on_file, key=lambda a: a.valid_to, default=None)
    return {
        "patient": patient,
        "appointment": appointment,
        "authorization": authorization,
        "course": course,
        "location": location,
        "locations": Location.objects.order_by("name"),
        "clinicians": clinicians,
        "chosen": chosen,
        "earliest": earliest,
        "overdue_from": overdue_from,
        "start": monday,
        "week_end": week[-1],
        "week_links": _week_links(request, monday),
        "early_days": early_days,
        "slots": slots,
        "grid": grid,
        "zone_names": _zone_names(location, week),
        "today": today,
        "now_label": f"{appointment.local_starts_at:%a %d %b %Y %H:%M %Z}" if appointment else "",
    }


def _grid_times(location: Location) -> list[datetime.time]:
    """Every start time of the location's slot grid, on any weekday (the grid's rows)."""
    step = datetime.timedelta(minutes=location.slot_minutes)
    times = set()
    for block in location.opening_hours.all():
        start = datetime.datetime.combine(datetime.date(2000, 1, 3), block.opens)
        close = datetime.datetime.combine(start.date(), block.closes)
        while start + step <= close:
            times.add(start.time())
            start += step
    return sorted(times)


def _zone_names(location: Location, week: list[datetime.date]) -> str:
    """The zone and its abbreviations that week ("America/New_York, EDT/EST" across a change)."""
    names: list[str] = []
    for day in (week[0], week[-1]):
        name = datetime.datetime.combine(day, datetime.time(12), location.zone).tzname() or ""
        if name not in names:
            names.append(name)
    return f"{location.time_zone}, {'/'.join(names)}"


def _week_links(request, monday: datetime.date) -> dict[str, str]:
    """The previous and next weeks' addresses, keeping the location and clinician chosen."""
    links = {}
    for name, days in (("previous", -7), ("next", 7)):
        query = request.GET.copy()
        query["from"] = (monday + datetime.timedelta(days=days)).isoformat()
        links[name] = f"?{query.urlencode()}"
    return links


class SlotGrid:
    """The week's free slots as table rows (times) and columns (days), built in Python: a busy
    location's week is some 400 buttons, each a few template variables (see _due_rows). Every
    slot is one submit button whose accessible name says the day, time and clinician; a day
    before the earliest date is marked, and its slots are disabled for anyone but a clinician
    (who gives a reason); a day from the overdue date is marked, and so are the location's
    closures and the clinicians' leave (whose slots the search never offers)."""

    def __init__(
        self,
        *,
        week,
        slots,
        closures,
        names,
        times,
        earliest,
        overdue_from,
        may_book_early,
        current,
    ):
        self.week, self.earliest, self.overdue_from = week, earliest, overdue_from
        self.may_book_early, self.current = may_book_early, current
        self.closed: dict[datetime.date, list[tuple[str, str]]] = {}  # the day's closure marks
        for closure in closures:
            if closure.location_id:
                mark = (f"closed{closure.times}: {closure.reason}", "danger")
            else:
                who = names.get(closure.clinician_id, "a clinician")
                mark = (f"{who} away{closure.times}: {closure.reason}", "light")
            self.closed.setdefault(closure.day, []).append(mark)
        self.cells: dict[tuple[datetime.date, datetime.time], list] = {}
        for slot in slots:
            local = slot.local_starts_at
            self.cells.setdefault((local.date(), local.time()), []).append(slot)
        self.times = sorted(set(times) | {time for _, time in self.cells})
        self._names: dict[int, str] = {}  # escaped, by clinician id
        self._days: dict[datetime.date, str] = {}  # escaped labels ("Tuesday 8 December")

    def marks(self, day: datetime.date) -> list[tuple[str, str]]:
        """(text, Bootstrap colour) of the day's marks."""
        marks = []
        if self.earliest and day < self.earliest:
            marks.append(("before earliest", "secondary"))
        if self.overdue_from and day >= self.overdue_from:
            marks.append(("overdue", "warning"))
        return marks + self.closed.get(day, [])

    def header(self) -> SafeString:
        cells = SafeString('<th scope="col">Time</th>')
        for day in self.week:
            badges = format_html_join(
                "",
                ' <span class="badge text-bg-{}">{}</span>',
                ((c, t) for t, c in self.marks(day)),
            )
            cells += format_html(
                '<th scope="col" data-day="{}">{}{}</th>',
                day.isoformat(),
                date_format(day, "D j M"),
                badges,
            )
        return format_html("<tr>{}</tr>", cells)

    def rows(self) -> list[SafeString]:
        return [self._row(time) for time in self.times]

    def _row(self, time: datetime.time) -> SafeString:
        # Plain strings, every text escaped once (a day's label, a clinician's name): a busy
        # week's 400 buttons through format_html took some 40 ms.
        hhmm = time.strftime("%H:%M")
        cells = [f'<th scope="row">{hhmm}</th>']
        for day in self.week:
            early = bool(self.earliest and day < self.earliest)
            slots = self.cells.get((day, time), [])
            buttons = " ".join(self._button(slot, day, hhmm, early) for slot in slots)
            cells.append(f'<td class="early">{buttons}</td>' if early else f"<td>{buttons}</td>")
        return SafeString(f"<tr>{''.join(cells)}</tr>")

    def _button(self, slot, day: datetime.date, hhmm: str, early: bool) -> str:
        clinician = slot.clinician
        if clinician.pk not in self._names:
            self._names[clinician.pk] = escape(clinician.get_full_name() or clinician.username)
        if day not in self._days:
            self._days[day] = escape(date_format(day, "l j F"))
        now = self.current is not None and (
            self.current.starts_at == slot.starts_at
            and self.current.clinician_id == clinician.pk
            and self.current.location_id == slot.location.pk
        )
        style = "btn-outline-secondary" if early else "btn-outline-primary"
        disabled = " disabled" if early and not self.may_book_early else ""
        return (
            f'<button type="submit" name="slot" value="{escape(slot.value)}" '
            f'class="btn btn-sm {style} mb-1"{disabled}><span class="visually-hidden">'
            f"{self._days[day]} {hhmm}{' (before the earliest date)' if early else ''}, with "
            f"</span>{self._names[clinician.pk]}{' (now)' if now else ''}</button>"
        )


def _calendar_url(appointment) -> str:
    return (
        f"{reverse('treatments:calendar')}?location={appointment.location_id}"
        f"&date={appointment.local_starts_at.date().isoformat()}"
    )


@staff_required
def appointment_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    appointment = get_object_or_404(
        Appointment.objects.for_user(request.user).select_related(
            "patient", "location", "clinician"
        ),
        pk=pk,
    )
    form = CancelForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            cancel_appointment(
                appointment=appointment, reason=form.cleaned_data["reason"], by=request.user
            )
        except BookingError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Appointment cancelled; the slot is free again.")
            return redirect(_calendar_url(appointment))
    return render(
        request, "treatments/appointment_cancel.html", {"appointment": appointment, "form": form}
    )


MAX_DUE_WEEKS = 26  # the furthest ahead the due list looks


@staff_required
def due_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The working list, or (`?list=lost`) the patients lost to follow-up; a page at a time."""
    location = Location.objects.from_param(request.GET.get("location"))
    clinician = User.objects.clinician_from_param(request.GET.get("clinician"))
    weeks = int_param(request.GET.get("weeks"), least=1, most=MAX_DUE_WEEKS)
    overdue = request.GET.get("overdue")
    overdue = overdue if overdue in DUE_BUCKETS else None
    lost = request.GET.get("list") == "lost"
    # One rule, filtered or not: a patient's days count from today at their usual location
    # (its zone's date), and the page says which date that is at each location. A patient
    # with no usual location counts from the server's date.
    locations = list(Location.objects.order_by("name"))
    today = timezone.localdate()
    today_at = local_dates([location] if location else locations)
    patients = due_patients(
        today=today,
        weeks=weeks,
        location=location,
        clinician=clinician,
        overdue=overdue,
        lost=lost,
        today_at=today_at,
    )
    # The count and a page of ordered ids (two queries on the due states' partial index),
    # then the page's rows.
    page = page_of(request, patients.values_list("pk", flat=True))
    entries = due_entries(list(page.object_list), today=today, today_at=today_at)
    # Medication overuse from the diary: clinical, so clinicians only (one query a page).
    overuse = (
        medication_overuse_of(
            {e.patient.pk: today_at.get(e.patient.location_id or 0, today) for e in entries}
        )
        if request.user.role == User.Role.CLINICIAN
        else {}
    )
    context = {
        "entries": entries,
        "rows": _due_rows(entries, back=request.get_full_path(), overuse=overuse),
        "page_obj": page,
        "today": today_at[location.pk] if location else today,
        "today_label": _today_label(locations, today_at, today, location),
        "location": location,
        "locations": locations,
        "clinician": clinician,
        "clinicians": User.objects.filter(role=User.Role.CLINICIAN)
        .order_by("last_name")
        .only("first_name", "last_name", "username"),
        "weeks": weeks or settings.DUE_LIST_WEEKS,
        "max_weeks": MAX_DUE_WEEKS,
        "overdue": overdue,
        "buckets": [(key, label) for key, (label, _, _) in DUE_BUCKETS.items()],
        "lost": lost,
        "lost_after_days": settings.DUE_LIST_LOST_AFTER_DAYS,
    }
    return render(request, "treatments/due_list.html", context)


def _today_label(
    locations: list[Location],
    today_at: dict[int, datetime.date],
    today: datetime.date,
    location: Location | None,
) -> str:
    """The page's "Today: ...": the filtered location's date; unfiltered, the one date all
    are on, or each date with its locations (patients with no usual location count from the
    server's date)."""
    if location is not None:
        return date_format(today_at[location.pk], "D j M Y")
    on: dict[datetime.date, list[str]] = {}
    for place in locations:
        on.setdefault(today_at[place.pk], []).append(place.name)
    if set(on) <= {today}:
        return date_format(today, "D j M Y")
    on.setdefault(today, []).append("patients with no usual location")
    return "; ".join(
        f"{date_format(day, 'D j M Y')} ({', '.join(names)})"
        for day, names in sorted(on.items(), reverse=True)
    )


def _due_rows(entries: list, *, back: str, overuse: dict | None = None) -> list[SafeString]:
    """Each row's markup, built in Python: the template's 25 variables and filters a row cost
    about 0.15 ms each (7.5 ms a page of 50). One reverse per kind of link, every text escaped
    (format_html); the markup is the one the template had."""
    detail, book = pk_url("patients:detail"), pk_url("treatments:book")
    call, move = pk_url("treatments:call_outcome"), pk_url("treatments:appointment_reschedule")
    back = quote(back, safe="/")  # as the template's |urlencode did
    overuse = overuse or {}
    return [
        _due_row(entry, detail, book, call, move, back, overuse.get(entry.patient.pk))
        for entry in entries
    ]


def _due_row(entry, detail, book, call, move, back, overuse=None) -> SafeString:
    patient, appointment, last_call = entry.patient, entry.appointment, entry.last_call
    label, colour = entry.badge
    why = format_html('<span class="badge text-bg-{}">{}</span>', colour, label)
    if overuse is not None:
        why += format_html(
            ' <span class="badge text-bg-danger" data-overuse title="{}">Medication overuse</span>',
            overuse.message,
        )
    if appointment is not None and appointment.change_request:
        why += format_html('<div class="small">“{}”</div>', appointment.change_request)
    if last_call is None:
        called = "—"
    else:
        called = format_html(
            '{}{}{}<div class="small text-muted">{}, {}</div>',
            last_call.get_outcome_display(),
            f" ({date_format(last_call.call_back_on, 'j M')})" if last_call.call_back_on else "",
            f": {last_call.note}" if last_call.note else "",
            date_format(
                timezone.localtime(
                    last_call.recorded_at,
                    zoneinfo.ZoneInfo(entry.time_zone) if entry.time_zone else None,
                ),
                "j M H:i T",  # in the patient's location's zone, named
            ),
            last_call.recorded_by,
        )
    if appointment is not None:
        action = format_html(
            '<a class="btn btn-sm btn-primary mb-1" href="{}">Move</a>', move(appointment.pk)
        )
    else:
        action = format_html(
            '<a class="btn btn-sm btn-primary mb-1" href="{}">Book</a>', book(patient.pk)
        )
    since = entry.days_since_last
    return format_html(
        '<tr data-patient="{pk}">\n'
        '      <td><a href="{detail}">{last}, {first}</a><div class="small text-muted">{mrn} · '
        "{location} · {phone}</div></td>\n"
        "      <td>{due}</td>\n"
        "      <td>{since}</td>\n"
        "      <td>{why}</td>\n"
        "      <td>{called}</td>\n"
        "      <td>\n"
        "        {action}\n"
        '        <a class="btn btn-sm btn-outline-secondary mb-1" href="{call}?next={back}">Record '
        'a call<span class="visually-hidden"> to {first} {last}</span></a>\n'
        "      </td>\n"
        "    </tr>",
        pk=patient.pk,
        detail=detail(patient.pk),
        last=patient.last_name,
        first=patient.first_name,
        mrn=patient.mrn,
        location=entry.location,
        phone=entry.phone or "no phone",
        due=date_format(entry.next_due_on, "D j M") if entry.next_due_on else "—",
        since="—" if since is None else f"{since} days",
        why=why,
        called=called,
        action=action,
        call=call(patient.pk),
        back=back,
    )


@staff_required
@require_http_methods(["GET", "POST"])
def call_outcome_create(request: AuthenticatedHttpRequest, patient_pk: int) -> HttpResponse:
    """A call to a patient on the due list, on its own page (the list has a link per row, no
    form); saved, back to the list as it was (`next`)."""
    patient = _patient(request.user, patient_pk)
    asked = request.POST.get("next") if request.method == "POST" else request.GET.get("next")
    back = safe_next_url(request, asked, reverse("treatments:due_list"))
    form = CallOutcomeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        record_call_outcome(patient=patient, by=request.user, **form.cleaned_data)
        messages.success(request, f"Call outcome saved for {patient.full_name}.")
        return redirect(back)
    context = {"patient": patient, "form": form, "next": back}
    return render(request, "treatments/call_outcome_form.html", context)
