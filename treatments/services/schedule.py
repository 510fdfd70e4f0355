"""Booking and the due list: the front desk's side of the 12-week schedule.

No double booking: `book_appointment` and `reschedule_appointment` lock the clinician's and
the patient's rows (PostgreSQL; SQLite's IMMEDIATE transactions serialize writers anyway),
check for overlaps, then write; the database refuses an overlap that slips past (migration
treatments 0004). A lost race is a BookingError, which the views show as a form error."""

import bisect
import datetime
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import (
    Case,
    CharField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from clinic.models import Location, User
from patients.models import Patient
from treatments.models import (
    AddDays,
    Appointment,
    AppointmentEvent,
    CallOutcome,
    Closure,
    DueState,
    InjectorDay,
    OpeningHours,
    TreatmentCourse,
    TreatmentSession,
)
from treatments.models.schedule import DUE_ORDER
from treatments.services import authorizations, freed_slots, reminders
from treatments.services.local_dates import LocalDates, on_local_dates


class BookingError(Exception):
    """The booking cannot be made; `field` names the form field to show it at."""

    def __init__(self, message: str, field: str | None = None):
        self.message, self.field = message, field
        super().__init__(message)


@dataclass(frozen=True)
class Slot:
    clinician: User
    location: Location
    starts_at: datetime.datetime
    ends_at: datetime.datetime

    @property
    def local_starts_at(self) -> datetime.datetime:
        return self.starts_at.astimezone(self.location.zone)

    @property
    def value(self) -> str:
        """The slot as a form value: "<clinician id>|<ISO start>" (see `parse_value`)."""
        return f"{self.clinician.pk}|{self.starts_at.isoformat()}"

    @staticmethod
    def parse_value(value: str) -> tuple[int, datetime.datetime]:
        """(clinician id, aware start) from a `value`; ValueError if it is not one."""
        clinician_id, starts = value.split("|")
        starts_at = datetime.datetime.fromisoformat(starts)
        if starts_at.tzinfo is None:
            raise ValueError("A slot starts at an aware time.")
        return int(clinician_id), starts_at


def local_datetime(
    day: datetime.date, time: datetime.time, zone: zoneinfo.ZoneInfo
) -> datetime.datetime:
    """The instant of a wall-clock time on a date in a zone (DST handled by zoneinfo)."""
    return datetime.datetime.combine(day, time, zone)


BOOKING_HORIZON = datetime.timedelta(days=731)  # how far ahead a visit may be booked
BUSY_DAYS = 7  # how many days of appointments available_slots reads at a time


def within_booking_horizon(starts_at: datetime.datetime, now: datetime.datetime) -> bool:
    """A visit may be booked at most BOOKING_HORIZON ahead: the booking services refuse a
    later slot, and the booking grid offers none."""
    return starts_at - now <= BOOKING_HORIZON


def available_slots(
    *,
    location: Location,
    start_date: datetime.date,
    days: int = 21,
    clinician: User | None = None,
    per_clinician: int | None = None,
    ignore: Appointment | None = None,
    now: datetime.datetime | None = None,
) -> list[Slot]:
    """Free slots at a location: its opening hours on the days each clinician injects there,
    on the location's slot grid, minus active appointments (of the clinician anywhere), the
    location's closures, the clinician's leave and anything already past. `ignore` frees an
    appointment's own slot (for rescheduling)."""
    now = now or timezone.now()
    hours: dict[int, list[OpeningHours]] = {}
    for block in location.opening_hours.all():
        hours.setdefault(block.weekday, []).append(block)
    injectors = _injectors(location, clinician)
    everyone = {person.pk for people in injectors.values() for person in people}
    slots: list[Slot] = []
    taken: dict[int, int] = {}  # slots found so far, by clinician id
    busy: dict[int, _Busy] = {}
    for offset in range(days):
        if offset % BUSY_DAYS == 0:
            # The appointments are read a week at a time, and no further once every injector
            # has their `per_clinician` slots: a busy location's three weeks are 600 rows.
            if per_clinician and all(taken.get(pk, 0) >= per_clinician for pk in everyone):
                break
            first = start_date + datetime.timedelta(days=offset)
            last = start_date + datetime.timedelta(days=min(days, offset + BUSY_DAYS))
            busy = _busy(location, injectors, first, last, ignore)
        day = start_date + datetime.timedelta(days=offset)
        for person in sorted(injectors.get(day.weekday(), []), key=lambda u: u.pk):
            appointments = busy.get(person.pk, _NOT_BUSY)
            for block in hours.get(day.weekday(), []):
                for slot in _grid(person, location, day, block):
                    if per_clinician and taken.get(person.pk, 0) >= per_clinician:
                        break
                    if slot.starts_at > now and not appointments.overlaps(slot):
                        slots.append(slot)
                        taken[person.pk] = taken.get(person.pk, 0) + 1
    return sorted(slots, key=lambda slot: (slot.starts_at, slot.clinician.pk))


def _injectors(location: Location, clinician: User | None) -> dict[int, list[User]]:
    """The active clinicians injecting at the location, by weekday."""
    rota = InjectorDay.objects.filter(location=location, clinician__is_active=True)
    if clinician is not None:
        rota = rota.filter(clinician=clinician)
    injectors: dict[int, list[User]] = {}
    for day in rota.select_related("clinician"):
        injectors.setdefault(day.weekday, []).append(day.clinician)
    return injectors


class _Busy:
    """One clinician's active appointments, sorted by start: whether a slot overlaps one is
    a binary search, not a walk of them all (a busy location's three weeks hold hundreds of
    appointments for thousands of candidate slots)."""

    def __init__(self, intervals: Iterable[tuple]):
        ordered = sorted(intervals)
        self.starts = [start for start, _ in ordered]
        # the latest end among the appointments up to each one (they may overlap each other)
        self.latest_ends: list[datetime.datetime] = []
        for _, end in ordered:
            self.latest_ends.append(max(end, self.latest_ends[-1]) if self.latest_ends else end)

    def overlaps(self, slot: Slot) -> bool:
        """Some appointment starts before the slot ends and ends after it starts."""
        before = bisect.bisect_left(self.starts, slot.ends_at)
        return before > 0 and self.latest_ends[before - 1] > slot.starts_at


_NOT_BUSY = _Busy([])


def _busy(location, injectors, start_date, end_date, ignore) -> dict[int, _Busy]:
    """Each injector's busy times in the range, by clinician id: their active appointments
    (anywhere), the location's closures (for every injector) and their own leave, both read
    in the location's zone. Two queries a week however many rows."""
    zone = location.zone
    everyone = {c for cs in injectors.values() for c in cs}
    busy = (
        Appointment.objects.active()
        .filter(clinician__in=everyone)
        .overlapping(
            local_datetime(start_date, datetime.time(), zone),
            local_datetime(end_date, datetime.time(), zone),
        )
        .exclude(pk=ignore.pk if ignore else None)
        .values_list("clinician_id", "starts_at", "ends_at")
    )
    by_clinician: dict[int, list[tuple]] = {}
    for clinician_id, starts, ends in busy:
        by_clinician.setdefault(clinician_id, []).append((starts, ends))
    closures = Closure.objects.affecting(location, everyone).on_days(start_date, end_date)
    for closure in closures.only("location_id", "clinician_id", "day", "from_time", "to_time"):
        closed = closure.bounds(zone)
        for person in everyone if closure.location_id else ():
            by_clinician.setdefault(person.pk, []).append(closed)
        if closure.clinician_id:
            by_clinician.setdefault(closure.clinician_id, []).append(closed)
    return {clinician_id: _Busy(times) for clinician_id, times in by_clinician.items()}


def _grid(person: User, location: Location, day: datetime.date, block: OpeningHours):
    """The slots of one opening-hours block, on the location's slot grid."""
    step = datetime.timedelta(minutes=location.slot_minutes)
    start = local_datetime(day, block.opens, location.zone)
    close = local_datetime(day, block.closes, location.zone)
    while start + step <= close:
        yield Slot(person, location, start, start + step)
        start += step


def _check_slot(
    *,
    location: Location,
    clinician: User,
    starts_at: datetime.datetime,
    ignore: Appointment | None = None,
) -> datetime.datetime:
    # (nor a date the calendar cannot hold: 9999-12-31 or 0001-01-01 in another zone)
    now = timezone.now()
    if not within_booking_horizon(starts_at, now):
        raise BookingError("Choose a slot within the next two years.", "slot")
    if starts_at < now:
        raise BookingError("That time has passed: choose another slot.", "slot")
    day = starts_at.astimezone(location.zone).date()
    for slot in available_slots(
        location=location, start_date=day, days=1, clinician=clinician, ignore=ignore
    ):
        if slot.starts_at == starts_at:
            return slot.ends_at
    closure = _closure_at(location, clinician, starts_at)
    if closure is not None:
        raise BookingError(closure, "slot")
    raise BookingError("That slot is no longer free: choose another.", "slot")


def _closure_at(location: Location, clinician: User, starts_at: datetime.datetime) -> str | None:
    """Why the location is closed or the clinician away at `starts_at`, if they are."""
    day = starts_at.astimezone(location.zone).date()
    closures = Closure.objects.affecting(location, [clinician]).filter(day=day)
    for closure in closures.select_related("location", "clinician"):
        start, end = closure.bounds(location.zone)
        if (
            start < starts_at + datetime.timedelta(minutes=location.slot_minutes)
            and end > starts_at
        ):
            if closure.location is not None:
                return f"{closure.location} is closed then: {closure.reason}."
            return f"{closure.clinician} is away then: {closure.reason}."
    return None


def _lock(clinician: User, patient: Patient) -> None:
    # Always clinician first, then patient: one order, so two bookings cannot deadlock.
    User.objects.select_for_update().filter(pk=clinician.pk).first()
    Patient.objects.select_for_update().filter(pk=patient.pk).first()


def _check_no_injection_booked(patient: Patient) -> None:
    """One next injection visit per patient (the database has the same rule): a second
    booking, say a repeat of one that just succeeded, names the visit to move instead."""
    booked = Appointment.objects.active().filter(patient=patient, kind=Appointment.Kind.INJECTION)
    current = booked.select_related("location").first()
    if current is not None:
        raise BookingError(
            f"{patient} already has an injection visit booked on "
            f"{current.local_starts_at:%a %d %b %Y %H:%M %Z}: move that one instead.",
            "slot",
        )


def _check_patient_free(
    patient: Patient,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    ignore: Appointment | None = None,
) -> None:
    clash = Appointment.objects.active().filter(patient=patient).overlapping(starts_at, ends_at)
    if ignore is not None:
        clash = clash.exclude(pk=ignore.pk)
    if clash.exists():
        raise BookingError("The patient already has an appointment at that time.", "slot")


def _check_earliest(
    patient: Patient,
    kind: str,
    starts_at: datetime.datetime,
    location: Location,
    early_reason: str,
    by: User,
) -> None:
    """An injection before the course's minimum interval (R6) needs a clinician's override
    with a reason, which is kept on the appointment."""
    if kind != Appointment.Kind.INJECTION:
        return
    earliest = earliest_bookable_on(patient)
    local_day = starts_at.astimezone(location.zone).date()
    if earliest is None or local_day >= earliest:
        return
    if by.role != User.Role.CLINICIAN:
        raise BookingError(
            f"The earliest date for this patient is {earliest:%a %d %b %Y}. "
            "Only a clinician can book earlier.",
            "slot",
        )
    if not early_reason.strip():
        raise BookingError(
            f"The earliest date for this patient is {earliest:%a %d %b %Y}. "
            "Give the reason for treating early.",
            "early_reason",
        )


def _check_authorization(
    patient: Patient,
    kind: str,
    starts_at: datetime.datetime,
    location: Location,
    reason: str,
    by: User,
    ignore: Appointment | None = None,
) -> str | None:
    """The prior authorization's guard (treatments/services/authorizations.py), its refusal
    as a BookingError; the override reason to keep, if a clinician gave one."""
    try:
        return authorizations.check_visit_authorized(
            patient=patient,
            kind=kind,
            starts_at=starts_at,
            location=location,
            by=by,
            override_reason=reason,
            ignore=ignore,
        )
    except authorizations.AuthorizationRefused as refusal:
        raise BookingError(refusal.message, refusal.field) from refusal


def _event_note(early_reason: str, authorization_reason: str | None) -> str:
    notes = [early_reason.strip()]
    if authorization_reason:
        notes.append(f"Past the prior authorization: {authorization_reason}")
    return " ".join(filter(None, notes))


def earliest_bookable_on(patient: Patient) -> datetime.date | None:
    course = patient.courses.active().first()
    return course.earliest_on if course else None


def _next_cycle(patient: Patient) -> int | None:
    course = patient.courses.active().first()
    if course is None:
        return 1
    last = course.sessions.signed().order_by("-cycle_number").first()
    return (last.cycle_number if last else 0) + 1


def _save_unless_taken(appointment: Appointment) -> None:
    """Save; the database's refusal of an overlap (a race lost) is a BookingError."""
    try:
        with transaction.atomic():
            appointment.save()
    except IntegrityError as error:
        raise BookingError("That slot was just taken: choose another.", "slot") from error


@transaction.atomic
def book_appointment(
    *,
    patient: Patient,
    clinician: User,
    location: Location,
    starts_at: datetime.datetime,
    booked_by: User,
    kind: str = Appointment.Kind.INJECTION,
    early_reason: str = "",
    authorization_reason: str = "",
) -> Appointment:
    """Book a visit.

    1. Lock the clinician and the patient (one at a time per pair, in a fixed order).
    2. An injection only if none is booked for the patient (their next visit is moved instead).
       The slot must still be free on the clinician's rota, and the patient free then too.
    3. An injection before the earliest date needs a reason, which is kept and shown; so
       does one the patient's prior authorization does not cover (a clinician's override).
    4. Write the appointment and its "booked" event; the database refuses any overlap.
    """
    _lock(clinician, patient)
    if kind == Appointment.Kind.INJECTION:
        _check_no_injection_booked(patient)
    ends_at = _check_slot(location=location, clinician=clinician, starts_at=starts_at)
    _check_patient_free(patient, starts_at, ends_at)
    _check_earliest(patient, kind, starts_at, location, early_reason, booked_by)
    override = _check_authorization(
        patient, kind, starts_at, location, authorization_reason, booked_by
    )
    appointment = Appointment(
        patient=patient,
        clinician=clinician,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=kind,
        booked_by=booked_by,
        early_override_reason=early_reason.strip(),
        authorization_override_reason=override,
        cycle_number=_next_cycle(patient) if kind == Appointment.Kind.INJECTION else None,
    )
    _save_unless_taken(appointment)
    AppointmentEvent.objects.create(
        appointment=appointment,
        action="booked",
        by=booked_by,
        note=_event_note(early_reason, override),
    )
    reminders.on_booked(appointment=appointment)
    return appointment


@transaction.atomic
def reschedule_appointment(
    *,
    appointment: Appointment,
    starts_at: datetime.datetime,
    by: User,
    clinician: User | None = None,
    location: Location | None = None,
    early_reason: str = "",
    authorization_reason: str = "",
) -> Appointment:
    """Move a booked appointment, to another time, clinician or `location` (the slot checked
    there, under the same locks); the row (and its calendar UID) stays, SEQUENCE goes up, and
    the reminders are planned again for the new time and place. The "rescheduled" event keeps
    the slot the visit left (time, clinician, location), which the waitlist's sweep reads."""
    clinician = clinician or appointment.clinician
    _lock(clinician, appointment.patient)
    appointment = (
        Appointment.objects.select_for_update().select_related("location").get(pk=appointment.pk)
    )
    if appointment.status != Appointment.Status.BOOKED:
        raise BookingError("Only a booked appointment can be moved.")
    old_location, location = appointment.location, location or appointment.location
    ends_at = _check_slot(
        location=location, clinician=clinician, starts_at=starts_at, ignore=appointment
    )
    _check_patient_free(appointment.patient, starts_at, ends_at, ignore=appointment)
    _check_earliest(appointment.patient, appointment.kind, starts_at, location, early_reason, by)
    override = _check_authorization(
        appointment.patient,
        appointment.kind,
        starts_at,
        location,
        authorization_reason,
        by,
        ignore=appointment,
    )
    freed_slots.slot_freed(appointment, appointment.starts_at, appointment.clinician, old_location)
    old_clinician = appointment.clinician
    previous, appointment.starts_at, appointment.ends_at = appointment.starts_at, starts_at, ends_at
    appointment.clinician, appointment.location = clinician, location
    appointment.early_override_reason = early_reason.strip()
    appointment.authorization_override_reason = override
    appointment.confirmed_at = None  # a new time needs a new confirmation
    appointment.change_requested_at, appointment.change_request = None, ""
    appointment.sequence += 1
    _save_unless_taken(appointment)
    moved = f"Moved from {old_location} to {location}." if location != old_location else ""
    AppointmentEvent.objects.create(
        appointment=appointment,
        action="rescheduled",
        by=by,
        previous_starts_at=previous,
        previous_clinician=old_clinician,
        previous_location=old_location,
        note=" ".join(filter(None, [moved, _event_note(early_reason, override)])),
    )
    reminders.replan_visit_reminders(appointment=appointment)
    return appointment


@transaction.atomic
def set_appointment_status(
    *, appointment: Appointment, status: str, by: User | None, reason: str = ""
) -> Appointment:
    """Move an appointment along the state machine (Appointment.TRANSITIONS), under the
    row's lock. A no-show only once the visit has started; a check-in only on the visit's
    local day (`_check_timing`)."""
    appointment = (
        Appointment.objects.select_for_update().select_related("location").get(pk=appointment.pk)
    )
    if appointment.status == status:
        return appointment  # the same click twice changes nothing
    if not appointment.can_become(status):
        raise BookingError(
            f"A {appointment.get_status_display().lower()} appointment cannot "
            f"become {Appointment.Status(status).label.lower()}."
        )
    _check_timing(appointment, status, timezone.now())
    if status == Appointment.Status.CANCELLED:
        if not reason.strip():
            raise BookingError("Give a reason for the cancellation.", "reason")
        appointment.cancel_reason = reason.strip()
    appointment.status = status
    if status in (Appointment.Status.CANCELLED, Appointment.Status.NOSHOW):
        appointment.sequence += 1  # calendars show both as cancelled: a new version
    appointment.save()
    AppointmentEvent.objects.create(
        appointment=appointment, action=status, by=by, note=reason.strip()
    )
    reminders.on_status_changed(appointment=appointment)
    if status == Appointment.Status.CANCELLED:
        freed_slots.slot_freed(appointment)  # offered to the waitlist after commit
    return appointment


def _check_timing(appointment: Appointment, status: str, now: datetime.datetime) -> None:
    """A visit is missed only once it has started, and checked in only on its own day (in
    its location's zone): a click on next month's visit must not record either."""
    if status == Appointment.Status.NOSHOW and now < appointment.starts_at:
        raise BookingError(
            f"The {appointment.local_starts_at:%a %d %b %H:%M} visit has not started yet: "
            "it cannot be a no-show before it begins."
        )
    if status == Appointment.Status.ARRIVED and (
        now.astimezone(appointment.zone).date() != appointment.local_starts_at.date()
    ):
        raise BookingError(
            f"Check-in is only on the day of the visit ({appointment.local_starts_at:%a %d %b})."
        )


@transaction.atomic
def undo_appointment_status(*, appointment: Appointment, by: User) -> Appointment:
    """Undo a check-in or a no-show on the (local) day it was recorded: the visit is booked
    again and the undo is in its history.

    1. Lock the clinician, the patient, then the appointment (the booking's order).
    2. Only arrived or no-show, recorded today in the location's zone; a check-in whose
       session is already recorded stays.
    3. From a no-show the slot must still be free (someone may have been booked into it):
       the database's overlap guard backs the check. The "please rebook" message is cancelled.
    4. Raise the calendar SEQUENCE (a no-show was published as cancelled) and record the event.
    """
    _lock(appointment.clinician, appointment.patient)
    appointment = (
        Appointment.objects.select_for_update().select_related("location").get(pk=appointment.pk)
    )
    previous = appointment.status
    if previous not in Appointment.UNDOABLE:
        raise BookingError(
            f"A {appointment.get_status_display().lower()} appointment has nothing to undo: "
            "only a check-in or a no-show can be undone."
        )
    recorded = appointment.events.filter(action=previous).order_by("-at", "-pk").first()
    today = timezone.now().astimezone(appointment.zone).date()
    if recorded is None or recorded.at.astimezone(appointment.zone).date() != today:
        raise BookingError(
            f"The {appointment.get_status_display().lower()} can be undone only on the day "
            "it was recorded."
        )
    if TreatmentSession.objects.filter(appointment=appointment).exists():
        raise BookingError("A session is recorded for this visit: its check-in stays.")
    if previous == Appointment.Status.NOSHOW:
        _check_slot_still_free(appointment)
    appointment.status = Appointment.Status.BOOKED
    appointment.sequence += 1
    _save_unless_taken(appointment)
    AppointmentEvent.objects.create(appointment=appointment, action=f"undo_{previous}", by=by)
    reminders.on_status_undone(appointment=appointment, previous=previous)
    return appointment


def _check_slot_still_free(appointment: Appointment) -> None:
    taken = (
        Appointment.objects.active()
        .filter(clinician=appointment.clinician)
        .overlapping(appointment.starts_at, appointment.ends_at)
        .exclude(pk=appointment.pk)
    )
    if taken.exists():
        raise BookingError("The slot has been given to someone else since: book a new visit.")
    _check_patient_free(
        appointment.patient, appointment.starts_at, appointment.ends_at, ignore=appointment
    )


def cancel_appointment(*, appointment: Appointment, reason: str, by: User | None) -> Appointment:
    """Cancel (reason required): the slot is free again at once."""
    return set_appointment_status(
        appointment=appointment, status=Appointment.Status.CANCELLED, by=by, reason=reason
    )


@transaction.atomic
def record_call_outcome(
    *,
    patient: Patient,
    outcome: str,
    by: User,
    call_back_on: datetime.date | None = None,
    note: str = "",
) -> CallOutcome:
    return CallOutcome.objects.create(
        patient=patient,
        outcome=outcome,
        call_back_on=call_back_on,
        note=note.strip(),
        recorded_by=by,
    )


# The due list's "how overdue" filter: days past the due date, inclusive (None: no bound).
DUE_BUCKETS: dict[str, tuple[str, int | None, int | None]] = {
    "upcoming": ("Not yet due", None, 0),
    "4w": ("Past due up to 4 weeks", 1, 28),
    "12w": ("Past due 4 to 12 weeks", 29, 84),
    "older": ("Past due over 12 weeks", 85, None),
}


@dataclass(frozen=True)
class DueCall:
    """The patient's latest call outcome, as the row shows it."""

    outcome: str
    call_back_on: datetime.date | None
    note: str
    recorded_at: datetime.datetime
    recorded_by: str

    def get_outcome_display(self) -> str:
        return str(CallOutcome.Outcome(self.outcome).label)


@dataclass
class DueEntry:
    patient: Patient  # with only the fields a row shows: read `location` and `phone` here
    reason: str  # "due", "overdue", "noshow" or "change" (asked for another date)
    next_due_on: datetime.date | None
    days_since_last: int | None
    last_call: DueCall | None
    appointment: Appointment | None = None  # the visit to move ("change" only), pk and request
    location: str = ""  # the patient's usual location
    phone: str = ""  # formatted once, "" if none on file
    time_zone: str = ""  # the usual location's, "" for none: the last call's time is read in it

    BADGES = {
        "change": ("Asked for another date", "primary"),
        "noshow": ("No-show", "danger"),
        "overdue": ("Overdue", "warning"),
        "due": ("Due", "info"),
    }

    @property
    def badge(self) -> tuple[str, str]:
        """(label, Bootstrap colour) of the reason, for the list."""
        return self.BADGES[self.reason]


def due_patients(
    *,
    today: datetime.date,
    weeks: int | None = None,
    location: Location | None = None,
    clinician: User | None = None,
    overdue: str | None = None,
    lost: bool = False,
    today_at: LocalDates | None = None,
) -> QuerySet[DueState]:
    """The front desk's worklist as one query in due-date order, of DueState rows (whose pk is
    the patient's): page its ids, then `due_entries` reads the rows of one page.

    Patients with an active course whose next session is due within `weeks` ("overdue" from
    OVERDUE_AFTER_DAYS), plus patients whose last appointment was a no-show; none who already
    hold an active booking, and none who declined after their last session. Patients who
    asked to move a booked visit are on it too ("change"). More than DUE_LIST_LOST_AFTER_DAYS
    past due, a patient leaves it for the lost-to-follow-up list (`lost=True`) until booked.
    `overdue` is a key of DUE_BUCKETS. What does not depend on the day is kept per patient by
    the database (DueState, migration treatments 0017); the day's cut-offs apply here, to the
    workable rows of its partial index. `today_at` gives a location's own date where it
    differs from `today` (see LocalDates): its patients' cut-offs are counted from it."""
    weeks = settings.DUE_LIST_WEEKS if weeks is None else weeks
    lost_after = datetime.timedelta(days=settings.DUE_LIST_LOST_AFTER_DAYS)

    def day_conditions(day: datetime.date) -> Q:
        horizon = day + datetime.timedelta(weeks=weeks)
        condition = Q(change_requested=True) | Q(next_due_on__lte=horizon)
        condition |= Q(missed_at__isnull=False)
        is_lost = Q(next_due_on__lt=day - lost_after, change_requested=False)
        condition &= is_lost if lost else ~is_lost
        if overdue in DUE_BUCKETS:
            _, least, most = DUE_BUCKETS[overdue]
            if least is not None:
                condition &= Q(next_due_on__lte=day - datetime.timedelta(days=least))
            if most is not None:
                condition &= Q(next_due_on__gte=day - datetime.timedelta(days=most))
        return condition

    states = DueState.objects.workable().filter(
        on_local_dates(day_conditions, today=today, today_at=today_at)
    )
    if location is not None:
        states = states.filter(location=location)
    if clinician is not None:
        states = states.filter(primary_clinician=clinician)
    return states.order_by(*DUE_ORDER)  # the order of its indexes: a page reads one range


def _with_course(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """With the active course's `next_due_on` and `last_session_on` (None without one)."""
    return patients.alias(
        course=FilteredRelation(
            "courses", condition=Q(courses__status=TreatmentCourse.Status.ACTIVE)
        )
    ).annotate(
        next_due_on=AddDays(F("course__last_session_on"), F("course__interval_days")),
        last_session_on=F("course__last_session_on"),
    )


def due_entries(
    patient_ids: list[int], *, today: datetime.date, today_at: LocalDates | None = None
) -> list[DueEntry]:
    """The due-list rows of these patients (a page of `due_patients`), in the same order: two
    queries however many. Patients load with the few fields a row shows (so the audit trail
    notes each one, docs/audit.md), the phone as its stored text, parsed once for display.
    Days since the last session, and "overdue", count from the date at the patient's usual
    location (`today_at`; `today` for a location not in it, or none)."""
    changes = Appointment.objects.change_requested().filter(patient=OuterRef("pk"))
    rows = (
        _with_course(Patient.objects.filter(pk__in=patient_ids))
        .only("mrn", "first_name", "last_name", "location_id")
        .annotate(
            change_pk=Subquery(changes.values("pk")[:1]),
            change_request=Subquery(changes.values("change_request")[:1]),
            reason=Case(
                When(change_pk__isnull=False, then=Value("change")),
                When(due_state__missed_at__isnull=False, then=Value("noshow")),
                default=Value("due"),  # or "overdue": by the row's own date (_due_entry)
            ),
            location_name=F("location__name"),
            location_zone=F("location__time_zone"),
            phone_number=ExpressionWrapper(F("phone"), output_field=CharField()),
        )
    )
    by_pk = {row.pk: row for row in rows}
    latest = _latest_calls(list(by_pk))
    today_at = today_at or {}

    def day_at(location_id: int | None) -> datetime.date:
        return today if location_id is None else today_at.get(location_id, today)

    return [
        _due_entry(by_pk[pk], latest.get(pk), day_at(by_pk[pk].location_id))
        for pk in patient_ids
        if pk in by_pk
    ]


def due_list(*, today: datetime.date, **filters) -> list[DueEntry]:
    """The whole list at once (for tests and commands; the page reads a page at a time)."""
    ids = list(due_patients(today=today, **filters).values_list("pk", flat=True))
    return due_entries(ids, today=today, today_at=filters.get("today_at"))


def overdue_after() -> datetime.timedelta:
    return datetime.timedelta(days=settings.OVERDUE_AFTER_DAYS)  # a setting tests may change


def _due_entry(row: Any, call: DueCall | None, today: datetime.date) -> DueEntry:
    """A row, on `today` (the date at the patient's location)."""
    last = row.last_session_on
    reason = row.reason
    if reason == "due" and last is not None and last <= today - overdue_after():
        reason = "overdue"
    return DueEntry(
        patient=row,
        reason=reason,
        next_due_on=row.next_due_on,
        days_since_last=(today - last).days if last else None,
        last_call=call,
        appointment=(
            Appointment(pk=row.change_pk, change_request=row.change_request or "")
            if row.reason == "change"
            else None
        ),
        location=row.location_name or "",
        phone=display_phone(row.phone_number) if row.phone_number else "",
        time_zone=row.location_zone or "",
    )


@functools.lru_cache(maxsize=4096)
def display_phone(stored: str) -> str:
    """A stored (E.164) number as people read it (PHONENUMBER_DEFAULT_FORMAT). Parsing and
    formatting cost about 0.13 ms a number; a desk reads the same page's numbers again and
    again, so each process keeps the last few thousand it formatted."""
    return str(PhoneNumber.from_string(stored))


def _latest_calls(patient_ids: list[int]) -> dict[int, DueCall]:
    """Each patient's latest call outcome, in one query."""
    latest: dict[int, DueCall] = {}
    calls = (
        CallOutcome.objects.filter(patient_id__in=patient_ids)
        .order_by("patient_id", "-recorded_at", "-pk")
        .values_list(
            "patient_id",
            "outcome",
            "call_back_on",
            "note",
            "recorded_at",
            "recorded_by__first_name",
            "recorded_by__last_name",
            "recorded_by__username",
        )
    )
    for patient_id, outcome, call_back_on, note, at, first, last, username in calls:
        if patient_id not in latest:
            name = f"{first} {last}".strip() or username
            latest[patient_id] = DueCall(outcome, call_back_on, note, at, name)
    return latest


# --- patients booking their own visit (the portal) -----------------------------------------


def is_booked_as_asked(
    appointment: Appointment | None, clinician: User, starts_at: datetime.datetime
) -> bool:
    """The visit is the slot a booking (or a move) asked for: a double click's second
    request, or a form sent again, finds what its first one made and shows it as done,
    for the front desk and the portal alike."""
    return (
        appointment is not None
        and appointment.clinician_id == clinician.pk
        and appointment.starts_at == starts_at
    )


@dataclass(frozen=True)
class BookingWindow:
    """The days (local to the patient's usual location, both ends included) on which a
    patient may book their own next injection in the portal. `late`: they were already
    past the overdue date, and the window is the first PORTAL_LATE_BOOKING_DAYS bookable
    days instead."""

    first: datetime.date
    last: datetime.date
    late: bool = False

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def __contains__(self, day: datetime.date) -> bool:
        return self.first <= day <= self.last


def self_booking_window(patient: Patient, today: datetime.date) -> BookingWindow | None:
    """The patient's own booking window on `today` (their location's date), or None when
    they cannot book themselves: no usual location, no active course, or no session given
    yet (the first visit is agreed with the clinic).

    From the later of the earliest bookable date (R6) and today + PORTAL_BOOKING_LEAD_DAYS,
    to the day before the overdue date: a visit the patient books is never overdue. A
    patient for whom no such day is left is offered PORTAL_LATE_BOOKING_DAYS days from the
    first bookable one, so that an overdue patient can still book (the sooner the better)."""
    if patient.location_id is None:
        return None
    course = patient.courses.active().first()
    if course is None or course.earliest_on is None or course.overdue_from is None:
        return None
    lead = datetime.timedelta(days=settings.PORTAL_BOOKING_LEAD_DAYS)
    first = max(course.earliest_on, today + lead)
    last = course.overdue_from - datetime.timedelta(days=1)
    if first <= last:
        return BookingWindow(first, last)
    late = datetime.timedelta(days=settings.PORTAL_LATE_BOOKING_DAYS - 1)
    return BookingWindow(first, first + late, late=True)


def self_booking_slots(
    patient: Patient,
    window: BookingWindow,
    *,
    ignore: Appointment | None = None,
    now: datetime.datetime | None = None,
) -> list[Slot]:
    """The free slots a patient may choose in the portal: at their usual location, within
    the window, free on the clinician's rota and not clashing with another of the patient's
    own visits (`ignore`: the visit being moved). Three queries plus two a week (visits,
    closures and leave)."""
    assert patient.location is not None
    slots = available_slots(
        location=patient.location,
        start_date=window.first,
        days=window.days,
        ignore=ignore,
        now=now,
    )
    zone = patient.location.zone
    own = (
        Appointment.objects.active()
        .filter(patient=patient)
        .overlapping(
            local_datetime(window.first, datetime.time(), zone),
            local_datetime(window.last + datetime.timedelta(days=1), datetime.time(), zone),
        )
        .exclude(pk=ignore.pk if ignore else None)
        .values_list("starts_at", "ends_at")
    )
    mine = _Busy(own)
    return [slot for slot in slots if not mine.overlaps(slot)]


def _check_own_booking(patient: Patient, starts_at: datetime.datetime) -> Location:
    """The portal's rules, under the booking's lock: the patient's usual location, and a
    day within their window (a slot sent by hand outside it changes nothing)."""
    location = patient.location
    if location is None:
        raise BookingError("Please call the clinic to book your visit.")
    today = timezone.localdate(timezone=location.zone)
    window = self_booking_window(patient, today)
    if window is None:
        raise BookingError("Please call the clinic to book your visit.")
    # (a time the zone's calendar cannot hold, 0001-01-01 or 9999-12-31, is outside too)
    now = timezone.now()
    if not (now < starts_at and within_booking_horizon(starts_at, now)) or (
        starts_at.astimezone(location.zone).date() not in window
    ):
        raise BookingError(
            f"Choose a day from {window.first:%a %d %b} to {window.last:%a %d %b %Y}.", "slot"
        )
    return location


@transaction.atomic
def book_own_visit(
    *, patient: Patient, clinician: User, starts_at: datetime.datetime
) -> Appointment:
    """A patient books their own next injection in the portal.

    1. Lock the clinician and the patient (the booking's order).
    2. The patient's usual location, a day within their window (`self_booking_window`).
    3. `book_appointment`, by the patient's own user: the same checks and guarantees as the
       front desk's booking (one injection visit, a free slot, not before the earliest date).
    """
    if patient.user is None:
        raise BookingError("Please call the clinic to book your visit.")
    _lock(clinician, patient)
    location = _check_own_booking(patient, starts_at)
    return book_appointment(
        patient=patient,
        clinician=clinician,
        location=location,
        starts_at=starts_at,
        booked_by=patient.user,
    )


def own_move_refusal(appointment: Appointment) -> str:
    """Why the patient cannot move this visit in the portal themselves ("" if they can)."""
    if appointment.status != Appointment.Status.BOOKED:
        return "Only a booked visit can be moved."
    if appointment.kind != Appointment.Kind.INJECTION:
        return "This visit can be moved only by the clinic."
    if appointment.early_override_reason:
        return (
            "Your clinician booked this visit early on purpose: only the clinic can move it. "
            "Ask for another date and they will call you."
        )
    if appointment.location_id != appointment.patient.location_id:
        return "This visit is not at your usual clinic: only the clinic can move it."
    return ""


@transaction.atomic
def move_own_visit(
    *, appointment: Appointment, clinician: User, starts_at: datetime.datetime
) -> Appointment:
    """A patient moves their own booked injection visit in the portal.

    1. Lock the clinician, the patient, then the visit (the booking's order).
    2. Only a booked injection visit at the patient's usual location that no clinician
       booked early (`own_move_refusal`), to a day within the window.
    3. `reschedule_appointment`, by the patient's own user (same checks and guarantees).
    """
    patient = appointment.patient
    if patient.user is None:
        raise BookingError("Please call the clinic to move your visit.")
    _lock(clinician, patient)
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient__location", "location")
        .get(pk=appointment.pk)
    )
    refusal = own_move_refusal(appointment)
    if refusal:
        raise BookingError(refusal)
    _check_own_booking(appointment.patient, starts_at)
    return reschedule_appointment(
        appointment=appointment, starts_at=starts_at, by=patient.user, clinician=clinician
    )
