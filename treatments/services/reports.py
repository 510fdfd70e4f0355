"""Clinic reports and the billing export (issue 16, items 4 and 5): read-only, set-based.

Every figure is one aggregate query (or two, for the responders), whatever the number of rows:
the database counts, Python only labels. The ranges are local dates: a session's own
`given_on` (its location's date), a visit's start and a reminder's due time read in its
location's zone, so a report's edges are midnight where the clinic is.

Definitions (the report page says them too):
- Sessions: signed sessions given in the range (an amendment's latest version only: the
  versions it superseded are not signed any more). "First": no earlier signed session in the
  course. Otherwise the days since the course's previous signed session: "early" below the
  course's minimum interval (84 days; R6), "on time" up to OVERDUE_AFTER_DAYS (98) included,
  "late" after that.
- Overdue and lost to follow-up: today's due list (DueState), as the front desk sees it: the
  patients the list shows as overdue, and those on its lost-to-follow-up list. A count of
  today, not of the range.
- Responders: patients whose R14 review (cycle 2 + 84 days, `outcomes.review_on`) fell in the
  range and is past, judged by `outcomes.response_review`, the chart's own code.
- Visits: every visit that was to start in the range, whatever its status. A late
  cancellation is one cancelled less than CANCELLATION_CUTOFF_HOURS before its start (the
  portal's cut-off: later, a patient must call).
- Units: vial uses of the range's signed sessions, by product, lot and month.
- Reminders: rows due in the range that were sent, failed or skipped, by kind and channel.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from clinic.models import Location
from patients import outcomes
from patients.models import DiaryEntry
from treatments.models import (
    Appointment,
    AppointmentEvent,
    PriorAuthorization,
    Reminder,
    TreatmentCourse,
    TreatmentSession,
    VialLot,
    VialUse,
)
from treatments.models.schedule import AddDays
from treatments.services.local_dates import local_dates, on_local_dates
from treatments.services.schedule import (
    due_patients,
    overdue_after,
)

SIGNED = TreatmentSession.Status.SIGNED
MAX_RANGE_DAYS = 366  # a report covers at most a year: every scan stays bounded
BILLING_CHUNK = 500  # sessions read per step of the billing export's stream

# US billing (docs/clinical-rules.md; TreatmentSession.billing_lines): CPT 64615 once per session,
# HCPCS J0585 per unit administered, the units wasted on a J0585-JW line, or JZ when none.
CPT_CHEMODENERVATION = "64615"
HCPCS_ONABOTULINUMTOXINA = "J0585"
WASTED_MODIFIER = "J0585-JW"
NOTHING_WASTED = "JZ"


@dataclass(frozen=True)
class ReportRange:
    """Local dates `start` to `end` (both included), at one location or all (None)."""

    start: datetime.date
    end: datetime.date
    location: Location | None = None


def clinic_zone(location: Location | None) -> zoneinfo.ZoneInfo:
    """The location's zone, or for all locations the clinic's (TIME_ZONE)."""
    return location.zone if location is not None else zoneinfo.ZoneInfo(settings.TIME_ZONE)


def last_full_month(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The calendar month before `today`'s: (first day, last day)."""
    end = today.replace(day=1) - datetime.timedelta(days=1)
    return end.replace(day=1), end


def default_range(location: Location | None) -> tuple[datetime.date, datetime.date]:
    """The last full calendar month in the location's zone (the clinic's for all)."""
    return last_full_month(timezone.localdate(timezone=clinic_zone(location)))


def _bounds(
    zone: zoneinfo.ZoneInfo, start: datetime.date, end: datetime.date
) -> tuple[datetime.datetime, datetime.datetime]:
    """The instants [midnight starting `start`, midnight after `end`) in `zone`."""
    first = datetime.datetime.combine(start, datetime.time(), zone)
    after = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), zone)
    return first, after


def _in_local_range(
    field_name: str, location_field: str, rng: ReportRange, locations: Sequence[Location]
) -> Q:
    """Rows whose instant `field_name` falls on the range's local dates at the row's location
    (`location_field`): one (location, start, end) term per location, so that an index on
    (location, instant) reads each location's range."""
    chosen = [rng.location] if rng.location is not None else list(locations)
    condition = Q(pk__in=[])
    for location in chosen:
        first, after = _bounds(location.zone, rng.start, rng.end)
        condition |= Q(
            **{location_field: location.pk, f"{field_name}__gte": first, f"{field_name}__lt": after}
        )
    return condition


def signed_sessions_in(rng: ReportRange):
    """The signed sessions given (local date) in the range, at its location (all for None):
    on the partial index session_signed_day_idx."""
    sessions = TreatmentSession.objects.filter(
        status=SIGNED, given_on__gte=rng.start, given_on__lte=rng.end
    )
    if rng.location is not None:
        sessions = sessions.filter(location=rng.location)
    return sessions


# --- 1. sessions on time, early, late, first ---------------------------------------------------


@dataclass(frozen=True)
class SessionTiming:
    total: int
    first: int
    early: int
    on_time: int
    late: int


def session_timing(*, rng: ReportRange) -> SessionTiming:
    """Signed sessions of the range by the days since the course's previous signed session
    (see the module's definitions): one query."""
    previous = (
        TreatmentSession.objects.filter(
            status=SIGNED,
            patient=OuterRef("patient"),
            course=OuterRef("course"),
            administered_at__lt=OuterRef("administered_at"),
        )
        .order_by("-administered_at")
        .values("given_on")[:1]
    )
    early_before = AddDays(F("previous_on"), F("course__min_interval_days"))
    late_after = AddDays(F("previous_on"), Value(settings.OVERDUE_AFTER_DAYS))
    counts = (
        signed_sessions_in(rng)
        .annotate(previous_on=Subquery(previous))
        .aggregate(
            total=Count("pk"),
            first=Count("pk", filter=Q(previous_on__isnull=True)),
            early=Count("pk", filter=Q(previous_on__isnull=False, given_on__lt=early_before)),
            late=Count("pk", filter=Q(previous_on__isnull=False, given_on__gt=late_after)),
        )
    )
    on_time = counts["total"] - counts["first"] - counts["early"] - counts["late"]
    return SessionTiming(on_time=on_time, **counts)


# --- 2. overdue and lost to follow-up (today's due list) ------------------------------------


@dataclass(frozen=True)
class DueStanding:
    overdue: int
    lost: int


def due_standing(*, location: Location | None, locations: Sequence[Location]) -> DueStanding:
    """Today's due list at the location (all for None), counted: the patients it shows as
    overdue (reason "overdue": not a visit to move, not a no-show, and the active course's
    last session OVERDUE_AFTER_DAYS or more ago at their location's today), and the
    patients on its lost-to-follow-up list. Each location's own today, as the list's."""
    today = timezone.localdate()
    today_at = local_dates([location] if location is not None else locations)

    def overdue_on(day: datetime.date) -> Q:
        courses = TreatmentCourse.objects.active().filter(
            patient=OuterRef("patient"), last_session_on__lte=day - overdue_after()
        )
        return Q(Exists(courses))

    listed = due_patients(today=today, location=location, today_at=today_at)
    overdue = listed.filter(change_requested=False, missed_at__isnull=True).filter(
        on_local_dates(overdue_on, today=today, today_at=today_at)
    )
    lost = due_patients(today=today, location=location, today_at=today_at, lost=True)
    return DueStanding(overdue=overdue.order_by().count(), lost=lost.order_by().count())


# --- 3. responders after cycle 2 --------------------------------------------------------------


@dataclass(frozen=True)
class _DiaryDay:
    """A diary entry read as a plain row: what `outcomes.diary_summary` reads of one."""

    date: datetime.date
    headache: bool
    severity: int
    migraine: bool
    acute_medication: str


@dataclass(frozen=True)
class ResponderRates:
    reviewed: int  # patients whose review fell in the range
    insufficient: int  # of those, no baseline or too few diary entries to judge
    responders_30: int  # >= 30 % fewer headache days than baseline
    responders_50: int  # >= 50 %

    @property
    def judged(self) -> int:
        return self.reviewed - self.insufficient

    @property
    def rate_30(self) -> Decimal | None:
        return percent(self.responders_30, self.judged)

    @property
    def rate_50(self) -> Decimal | None:
        return percent(self.responders_50, self.judged)


def responder_rates(*, rng: ReportRange) -> ResponderRates:
    """Patients whose R14 review day (their cycle 2 + STOP_REVIEW_DAYS) is in the range and not
    after today at the cycle-2 session's location, judged by `outcomes.response_review` as
    the chart judges them: two queries (the cycle-2 sessions, then their diaries)."""
    review = datetime.timedelta(days=outcomes.STOP_REVIEW_DAYS)
    latest_review = min(rng.end, timezone.localdate() + datetime.timedelta(days=1))
    first = TreatmentSession.objects.filter(
        status=SIGNED, course=OuterRef("course"), cycle_number=1
    ).values("given_on")[:1]
    cycle_2 = list(
        signed_sessions_in(ReportRange(rng.start - review, latest_review - review, rng.location))
        .filter(cycle_number=2)
        .annotate(first_on=Subquery(first), zone=F("location__time_zone"))
        .values("patient_id", "given_on", "first_on", "zone", "patient__baseline_headache_days")
    )
    cycle_2 = [
        row
        for row in cycle_2
        if row["given_on"] + review <= timezone.localdate(timezone=zoneinfo.ZoneInfo(row["zone"]))
    ]
    if not cycle_2:
        return ResponderRates(0, 0, 0, 0)
    window = datetime.timedelta(days=outcomes.WINDOW_DAYS)
    earliest = min(
        (row["first_on"] or row["given_on"]) - window for row in cycle_2
    )  # the baselines' windows
    diary: dict[int, list[_DiaryDay]] = {}
    for row in DiaryEntry.objects.filter(
        patient_id__in=[row["patient_id"] for row in cycle_2],
        date__gte=earliest,
        date__lte=max(row["given_on"] for row in cycle_2) + review,
    ).values_list("patient_id", "date", "headache", "severity", "migraine", "acute_medication"):
        diary.setdefault(row[0], []).append(_DiaryDay(*row[1:]))
    changes = []
    for row in cycle_2:
        judged = outcomes.response_review(
            diary.get(row["patient_id"], []),
            today=row["given_on"] + review,  # the review day, which is past
            count=1,
            intake=row["patient__baseline_headache_days"],
            first_session_on=row["first_on"],
            second_session_on=row["given_on"],
        ).review
        changes.append(judged.percent_change if judged is not None else None)
    # NICE/EHF's and many US payers' (RESPONSE_NICE_PERCENT, RESPONSE_PAYER_PERCENT)
    low, high = settings.RESPONSE_NICE_PERCENT, settings.RESPONSE_PAYER_PERCENT
    return ResponderRates(
        reviewed=len(changes),
        insufficient=sum(1 for change in changes if change is None),
        responders_30=sum(1 for change in changes if change is not None and change >= low),
        responders_50=sum(1 for change in changes if change is not None and change >= high),
    )


# --- 4. no-shows and late cancellations ---------------------------------------------------------


@dataclass(frozen=True)
class Attendance:
    visits: int
    no_shows: int
    cancelled: int
    late_cancellations: int

    @property
    def no_show_rate(self) -> Decimal | None:
        return percent(self.no_shows, self.visits)

    @property
    def late_cancellation_rate(self) -> Decimal | None:
        return percent(self.late_cancellations, self.visits)


def attendance(*, rng: ReportRange, locations: Sequence[Location]) -> Attendance:
    """Visits that were to start in the range (local dates at their location; on the index
    appt_location_start_idx), their no-shows, cancellations and late cancellations: one
    query. A cancellation's time is its latest "cancelled" event."""
    cancelled_at = (
        AppointmentEvent.objects.filter(
            appointment=OuterRef("pk"), action=Appointment.Status.CANCELLED
        )
        .order_by("-at", "-pk")
        .values("at")[:1]
    )
    cutoff = datetime.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)
    cancelled = Q(status=Appointment.Status.CANCELLED)
    counts = (
        Appointment.objects.filter(_in_local_range("starts_at", "location", rng, locations))
        .annotate(cancelled_at=Subquery(cancelled_at))
        .aggregate(
            visits=Count("pk"),
            no_shows=Count("pk", filter=Q(status=Appointment.Status.NOSHOW)),
            cancelled=Count("pk", filter=cancelled),
            late_cancellations=Count(
                "pk", filter=cancelled & Q(cancelled_at__gt=F("starts_at") - cutoff)
            ),
        )
    )
    return Attendance(**counts)


# --- 5. units given and wasted ------------------------------------------------------------------


@dataclass(frozen=True)
class LotMonth:
    month: datetime.date  # the first of the month
    product: str
    lot_number: str
    vials: int
    administered: int
    wasted: int

    @property
    def product_label(self) -> str:
        return str(VialLot.Product(self.product).label)


def units_by_lot(*, rng: ReportRange) -> list[LotMonth]:
    """Units administered and wasted, and vials, by month, product and lot, of the range's
    signed sessions: one query."""
    rows = (
        VialUse.objects.filter(session__in=signed_sessions_in(rng))
        .values(
            month=TruncMonth("session__given_on"),
            product=F("lot__product"),
            lot_number=F("lot__lot_number"),
        )
        .annotate(
            vials=Sum("vials"),
            administered=Sum("units_administered"),
            wasted=Sum("units_wasted"),
        )
        .order_by("month", "product", "lot_number")
    )
    return [LotMonth(**row) for row in rows]


# --- 6. reminders -------------------------------------------------------------------------------

REPORTED_REMINDERS = (Reminder.Status.SENT, Reminder.Status.FAILED, Reminder.Status.SKIPPED)
UNDELIVERED = (Reminder.Delivery.UNDELIVERED, Reminder.Delivery.FAILED)


@dataclass(frozen=True)
class ReminderCounts:
    kind: str
    channel: str
    sent: int
    delivered: int  # of the sent, the provider confirmed delivery
    undelivered: int  # of the sent, the provider reported it could not deliver
    failed: int
    skipped: int

    @property
    def kind_label(self) -> str:
        return str(Reminder.Kind(self.kind).label)

    @property
    def channel_label(self) -> str:
        return str(Reminder.Channel(self.channel).label)


def reminder_outcomes(*, rng: ReportRange, locations: Sequence[Location]) -> list[ReminderCounts]:
    """Reminders due in the range (local dates at the visit's location, else the patient's;
    with neither, the clinic's zone) that were sent, failed or skipped, by kind and channel:
    one query, on the index reminder_dispatch_idx (status, due_at) for the outer bounds."""
    where = Coalesce(F("appointment__location_id"), F("patient__location_id"))
    zones = [location.zone for location in ([rng.location] if rng.location else locations)]
    unplaced = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    if rng.location is None:
        zones.append(unplaced)
    edges = [_bounds(zone, rng.start, rng.end) for zone in zones]
    rows = (
        Reminder.objects.filter(
            status__in=REPORTED_REMINDERS,
            due_at__gte=min(first for first, _ in edges),
            due_at__lt=max(after for _, after in edges),
        )
        .annotate(at_location=where)
        .filter(_in_local_range("due_at", "at_location", rng, locations) | _unplaced(rng, unplaced))
        .values("kind", "channel")
        .annotate(
            sent=Count("pk", filter=Q(status=Reminder.Status.SENT)),
            delivered=Count(
                "pk",
                filter=Q(status=Reminder.Status.SENT, delivery_status=Reminder.Delivery.DELIVERED),
            ),
            undelivered=Count(
                "pk", filter=Q(status=Reminder.Status.SENT, delivery_status__in=UNDELIVERED)
            ),
            failed=Count("pk", filter=Q(status=Reminder.Status.FAILED)),
            skipped=Count("pk", filter=Q(status=Reminder.Status.SKIPPED)),
        )
        .order_by("kind", "channel")
    )
    return [ReminderCounts(**row) for row in rows]


def _unplaced(rng: ReportRange, zone: zoneinfo.ZoneInfo) -> Q:
    """For all locations: reminders with no location at all, on the clinic zone's dates."""
    if rng.location is not None:
        return Q(pk__in=[])
    first, after = _bounds(zone, rng.start, rng.end)
    return Q(at_location__isnull=True, due_at__gte=first, due_at__lt=after)


# --- the whole report --------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpiringAuthorizations:
    payer: str
    expiring: int  # authorizations whose last day falls in the range
    renewed: int  # of those, the patient has one ending later


def authorizations_expiring(*, rng: ReportRange) -> list[ExpiringAuthorizations]:
    """Prior authorizations ending in the range, by payer, and how many were renewed: one
    query. Their dates are the clinic's dates, compared as they are."""
    later = PriorAuthorization.objects.filter(
        patient=OuterRef("patient"), valid_to__gt=OuterRef("valid_to")
    )
    rows = PriorAuthorization.objects.filter(valid_to__range=(rng.start, rng.end))
    if rng.location is not None:
        rows = rows.filter(patient__location=rng.location)
    return [
        ExpiringAuthorizations(**row)
        for row in rows.values("payer")
        .annotate(expiring=Count("pk"), renewed=Count("pk", filter=Exists(later)))
        .order_by("payer")
    ]


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole in per cent to one decimal, None for an empty whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class ClinicReport:
    range: ReportRange
    sessions: SessionTiming
    due: DueStanding
    responders: ResponderRates
    attendance: Attendance
    units: list[LotMonth] = field(default_factory=list)
    reminders: list[ReminderCounts] = field(default_factory=list)
    authorizations: list[ExpiringAuthorizations] = field(default_factory=list)


def clinic_report(*, rng: ReportRange, locations: Sequence[Location]) -> ClinicReport:
    """Every section of the clinic report for the range (`locations`: every location, read
    once by the caller). A fixed number of queries, whatever the rows."""
    return ClinicReport(
        range=rng,
        sessions=session_timing(rng=rng),
        due=due_standing(location=rng.location, locations=locations),
        responders=responder_rates(rng=rng),
        attendance=attendance(rng=rng, locations=locations),
        units=units_by_lot(rng=rng),
        reminders=reminder_outcomes(rng=rng, locations=locations),
        authorizations=authorizations_expiring(rng=rng),
    )


REPORT_CSV_HEADER = ("section", "group", "measure", "value")


def _figure(value: object) -> str:
    return "" if value is None else str(value)


def report_csv_rows(report: ClinicReport) -> Iterator[tuple[str, str, str, str]]:
    """The report as CSV rows: one file, a section column (REPORT_CSV_HEADER)."""
    s, d, r, a = report.sessions, report.due, report.responders, report.attendance
    for measure in ("total", "first", "early", "on_time", "late"):
        yield "sessions", "", measure, str(getattr(s, measure))
    yield "due_list_today", "", "overdue", str(d.overdue)
    yield "due_list_today", "", "lost_to_follow_up", str(d.lost)
    yield "responders_after_cycle_2", "", "reviewed", str(r.reviewed)
    yield "responders_after_cycle_2", "", "insufficient_data", str(r.insufficient)
    yield "responders_after_cycle_2", "", "responders_30", str(r.responders_30)
    yield "responders_after_cycle_2", "", "responders_50", str(r.responders_50)
    yield "responders_after_cycle_2", "", "rate_30_percent", _figure(r.rate_30)
    yield "responders_after_cycle_2", "", "rate_50_percent", _figure(r.rate_50)
    yield "visits", "", "visits", str(a.visits)
    yield "visits", "", "no_shows", str(a.no_shows)
    yield "visits", "", "cancelled", str(a.cancelled)
    yield "visits", "", "late_cancellations", str(a.late_cancellations)
    yield "visits", "", "no_show_rate_percent", _figure(a.no_show_rate)
    yield "visits", "", "late_cancellation_rate_percent", _figure(a.late_cancellation_rate)
    for u in report.units:
        group = csv_safe(f"{u.month:%Y-%m} {u.product} {u.lot_number}")
        yield "units", group, "vials", str(u.vials)
        yield "units", group, "administered", str(u.administered)
        yield "units", group, "wasted", str(u.wasted)
    for m in report.reminders:
        group = f"{m.kind} {m.channel}"
        for measure in ("sent", "delivered", "undelivered", "failed", "skipped"):
            yield "reminders", group, measure, str(getattr(m, measure))
    for e in report.authorizations:
        yield "authorizations_expiring", csv_safe(e.payer), "expiring", str(e.expiring)
        yield "authorizations_expiring", csv_safe(e.payer), "renewed", str(e.renewed)


# --- the billing export ------------------------------------------------------------------------


def csv_safe(value: object) -> str:
    """A cell no spreadsheet runs as a formula (CSV injection): a text starting with = + - @,
    a tab or a carriage return is prefixed with '."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@dataclass(frozen=True)
class BillingSession:
    """One signed session as the export reads it."""

    id: int
    patient_id: int
    given_on: datetime.date
    mrn: str
    first_name: str
    last_name: str
    clinician: str
    location: str
    units_administered: int
    units_wasted: int
    lots: tuple[str, ...] = ()


def authorizations_for_sessions(
    sessions: Sequence[BillingSession],
) -> dict[int, tuple[str, str]]:
    """(payer, authorization number) of each session's prior authorization, by session id: the
    one covering the day it was given, as the booking guard reads it
    (`PriorAuthorization.objects.covering`: when two overlap, the one that started last). One
    query for the whole chunk; a session that no authorization covers has no entry."""
    if not sessions:
        return {}
    days = [s.given_on for s in sessions]
    candidates = PriorAuthorization.objects.filter(
        patient_id__in={s.patient_id for s in sessions},
        valid_from__lte=max(days),
        valid_to__gte=min(days),
    ).order_by("-valid_from", "-pk")
    by_patient: dict[int, list[PriorAuthorization]] = {}
    for authorization in candidates:
        by_patient.setdefault(authorization.patient_id, []).append(authorization)
    found = {}
    for session in sessions:
        for authorization in by_patient.get(session.patient_id, ()):
            if authorization.valid_from <= session.given_on <= authorization.valid_to:
                found[session.id] = (authorization.payer, authorization.reference)
                break
    return found


BILLING_HEADER = (
    "session_date",
    "mrn",
    "patient",
    "clinician",
    "location",
    "cpt",
    "cpt_units",
    "hcpcs",
    "hcpcs_units",
    "waste_code",
    "units_wasted",
    "lots",
    "payer",
    "authorization",
)


def billing_session_ids(*, rng: ReportRange) -> list[tuple[int, int]]:
    """(session id, patient id) of the range's signed sessions, in the export's order (local
    date, then time): one query on session_signed_day_idx."""
    return list(
        signed_sessions_in(rng)
        .order_by("given_on", "administered_at", "pk")
        .values_list("pk", "patient_id")
    )


def billing_sessions(ids: Sequence[int]) -> list[BillingSession]:
    """The export's rows of these sessions, in the order of `ids`: two queries."""
    rows = {
        row["id"]: row
        for row in TreatmentSession.objects.filter(pk__in=ids).values(
            "id",
            "patient_id",
            "given_on",
            "total_units",
            "units_wasted",
            mrn=F("patient__mrn"),
            first_name=F("patient__first_name"),
            last_name=F("patient__last_name"),
            injector_first=F("injector__first_name"),
            injector_last=F("injector__last_name"),
            injector_username=F("injector__username"),
            location_name=F("location__name"),
        )
    }
    lots: dict[int, list[str]] = {}
    for session_id, lot_number in (
        VialUse.objects.filter(session_id__in=ids)
        .order_by("session_id", "lot__lot_number")
        .values_list("session_id", "lot__lot_number")
    ):
        lots.setdefault(session_id, []).append(lot_number)
    sessions = []
    for pk in ids:
        row = rows[pk]
        injector = f"{row['injector_first']} {row['injector_last']}".strip()
        sessions.append(
            BillingSession(
                id=pk,
                patient_id=row["patient_id"],
                given_on=row["given_on"],
                mrn=row["mrn"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                clinician=injector or row["injector_username"],
                location=row["location_name"],
                units_administered=row["total_units"],
                units_wasted=row["units_wasted"],
                lots=tuple(lots.get(pk, ())),
            )
        )
    return sessions


def billing_line(session: BillingSession, authorization: tuple[str, str] | None) -> list[str]:
    """One CSV line (BILLING_HEADER), every cell CSV-injection safe."""
    payer, reference = authorization or ("", "")
    wasted = session.units_wasted
    cells: list[object] = [
        session.given_on.isoformat(),
        session.mrn,
        f"{session.last_name}, {session.first_name}",
        session.clinician,
        session.location,
        CPT_CHEMODENERVATION,
        1,
        HCPCS_ONABOTULINUMTOXINA,
        session.units_administered,
        WASTED_MODIFIER if wasted else NOTHING_WASTED,
        wasted if wasted else "",
        "; ".join(session.lots),
        payer,
        reference,
    ]
    return [csv_safe(cell) for cell in cells]


def billing_lines(ids: Iterable[int], *, chunk: int = BILLING_CHUNK) -> Iterator[list[str]]:
    """The export's lines for these session ids, read `chunk` sessions at a time (three
    queries a chunk, the authorizations' included), so that memory stays flat."""
    ids = list(ids)
    for start in range(0, len(ids), chunk):
        sessions = billing_sessions(ids[start : start + chunk])
        authorizations = authorizations_for_sessions(sessions)
        for session in sessions:
            yield billing_line(session, authorizations.get(session.id))
