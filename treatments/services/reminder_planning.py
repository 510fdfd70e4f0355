"""Re-planning every booked visit's reminders at once (docs/architecture.md, "The reminder
path"), after the reminder settings change or for visits written outside the booking service.

One booking plans its own reminders in its own transaction (`reminders.plan_visit_reminders`).
This plans the same rows for every booked future visit, set-based, one transaction per batch:

1. Find the batch: the next `batch_size` booked visits still ahead, by id (keyset paging:
   each batch starts where the last ended). One query, which returns only the id range.
2. With `replace_pending`, delete the batch's visit reminders not yet sent nor claimed.
3. Plan the batch's rows and insert them in one statement, conflicts ignored: the unique key
   `one_reminder_per_subject_kind_channel` keeps every existing row as it is (pending, sent,
   cancelled...), so running this twice, or beside bookings, writes each row once. On
   PostgreSQL the rows are computed by the server (`_PLAN_VISITS`, the SQL twin of
   `visit_reminder_times` and `visit_reminder_plans`): nothing travels to Python and back.
   Elsewhere (SQLite) Python computes them with the booking's own functions.

On PostgreSQL the batches are planned on `connections` database connections at once
(REMINDER_PLANNING_CONNECTIONS, 2): one thread each takes the next batch from a short queue
that this thread fills with step 1, and closes its connection when the work is done. Batches
are disjoint id ranges and the unique key ignores conflicts, so no row is written twice
whoever plans it. SQLite, and a caller already in a transaction (whose uncommitted rows other
connections cannot see, and whose rollback would not undo their commits), plan on this
thread's connection alone.

A batch that fails is rolled back, the batches already handed out still run, no new one is
started, and `PlanningFailed` is raised with the counts of what was committed, each failed
batch's id range and error, and the last id handed out: no visit after it was tried.
Running it again plans what is missing and keeps the rest.

`replan_all_checkin_reminders` plans the post-injection check-in of every recent signed session
(`reminders.plan_checkin_reminder`), as signing does.

`replan_all_due_reminders` does the same for the active courses' "due, not booked" reminder
(`reminders.plan_due_reminder`): a few thousand courses per batch, computed in Python with
signing's own function (one row per course, a tenth of the visits' at most), one insert, and
one UPDATE that cancels each course's older open "due" rows, as signing a newer session does.
"""

import datetime
import functools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from patients.models import ContactConsent
from treatments.models import Appointment, Reminder, TreatmentCourse, TreatmentSession
from treatments.models.reminders import ReminderQuerySet
from treatments.services.reminders import (
    LATE,
    cancel_open_reminders,
    checkin_reminder_plan,
    due_reminder_plan,
    planned_state,
    visit_reminder_plans,
    visit_reminder_times,
)

VISIT_KINDS = (Reminder.Kind.VISIT_WEEK, Reminder.Kind.VISIT_TOMORROW)


@dataclass
class PlanningResult:
    appointments: int = 0  # booked visits planned (replan_all_visit_reminders)
    courses: int = 0  # active courses planned (replan_all_due_reminders)
    sessions: int = 0  # signed sessions planned (replan_all_checkin_reminders)
    batches: int = 0
    rows: int = 0  # rows planned (two per visit)
    inserted: int = 0  # new rows; the others existed already
    replaced: int = 0  # pending rows deleted first (replace_pending)
    seconds: float = 0.0
    connections: int = 1  # database connections that planned batches at once
    # Batches rolled back: (after, last, error), the visits with ids in (after, last].
    failed: list[tuple[int, int, str]] = field(default_factory=list)
    # With a failure: the last visit id handed out; no visit after it was tried.
    stopped_after: int | None = None


class PlanningFailed(Exception):
    """Some batches failed and were rolled back; the others committed (`result` counts
    them). Planning again plans what is missing."""

    def __init__(self, result: PlanningResult):
        self.result = result
        ranges = ", ".join(f"({after}, {last}]" for after, last, _ in result.failed)
        super().__init__(
            f"{len(result.failed)} batch(es) of visits failed and were rolled back (ids {ranges}); "
            f"no visit after id {result.stopped_after} was tried."
        )


def replan_all_visit_reminders(
    *,
    now: datetime.datetime | None = None,
    batch_size: int = 20_000,
    replace_pending: bool = False,
    connections: int | None = None,
) -> PlanningResult:
    """Make sure every booked visit that has not started has its reminder rows, exactly as
    `plan_visit_reminders(appointment=...)` would write them; existing rows stay untouched.
    With `replace_pending`, the visits' reminders never sent nor claimed (pending, or skipped
    because their time had passed when they were planned) are first deleted, so that they are
    planned again under the settings in force (the days before, quiet hours, consent).
    One transaction per batch of `batch_size` visits, on `connections` connections at once
    (REMINDER_PLANNING_CONNECTIONS; one on SQLite or inside a transaction). Returns the
    counts; raises `PlanningFailed` (with them) if a batch failed."""
    now = now or timezone.now()
    wanted = connections or settings.REMINDER_PLANNING_CONNECTIONS
    alone = connection.vendor != "postgresql" or connection.in_atomic_block
    result = PlanningResult(connections=1 if alone else wanted)
    started = time.perf_counter()
    ahead = Appointment.objects.filter(status=Appointment.Status.BOOKED, starts_at__gt=now)
    plan = functools.partial(_plan_visits, ahead=ahead, now=now, replace_pending=replace_pending)
    _run_batches(_batches(ahead, batch_size), plan, result)
    result.seconds = time.perf_counter() - started
    if result.failed:
        raise PlanningFailed(result)
    return result


def _batches(ahead, batch_size: int) -> Iterator[tuple[int, int, int]]:
    """(after, last, count) for each next `batch_size` visits of `ahead` by id (keyset
    paging: each batch starts where the last ended), one query each."""
    last = 0
    while True:
        # Aggregated over the slice itself, which reads only the batch's rows by the primary
        # key (`pk__in` the slice hash-joined it to a scan of every appointment: 0.25 s a
        # batch at 1M appointments).
        page = ahead.filter(pk__gt=last).order_by("pk").values("pk")[:batch_size]
        batch = page.aggregate(count=Count("pk"), last=Max("pk"))
        if not batch["count"]:
            return
        yield last, batch["last"], batch["count"]
        last = batch["last"]


def _plan_visits(
    after: int, last: int, *, ahead, now: datetime.datetime, replace_pending: bool
) -> tuple[int, int]:
    """Plan the visits of `ahead` with ids in (after, last] in one transaction, on this
    thread's connection; return (rows inserted, rows replaced)."""
    visits = ahead.filter(pk__gt=after, pk__lte=last)
    replaced = 0
    with transaction.atomic():
        if replace_pending:
            # A dispatcher's claim (pending -> claimed) and this delete each re-check the
            # status under the row lock: a row in flight is never deleted.
            replaced = (
                Reminder.objects.filter(appointment__in=visits, kind__in=VISIT_KINDS)
                .filter(
                    Q(status=Reminder.Status.PENDING)
                    | Q(status=Reminder.Status.SKIPPED, skip_reason=LATE)
                )
                .delete()[0]
            )
        if connection.vendor == "postgresql":
            inserted = _plan_in_postgresql(after=after, last=last, now=now)
        else:
            inserted = _insert(
                list(_visit_reminders(visits, now)),
                Reminder.objects.filter(appointment__in=visits),
            )
    return inserted, replaced


def _run_batches(
    batches: Iterator[tuple[int, int, int]],
    plan: Callable[[int, int], tuple[int, int]],
    result: PlanningResult,
) -> None:
    """Run `plan` for each batch on `result.connections` connections, adding to `result`.
    Batches fail alone: a failure is recorded and stops the handing out of new batches."""
    lock = threading.Lock()

    def run(after: int, last: int, count: int) -> None:
        try:
            inserted, replaced = plan(after, last)
        except Exception as error:  # recorded, and raised by the caller as PlanningFailed
            with lock:
                result.failed.append((after, last, f"{type(error).__name__}: {error}"))
            return
        with lock:
            result.appointments += count
            result.batches += 1
            result.rows += 2 * count
            result.inserted += inserted
            result.replaced += replaced

    handed_out = 0
    if result.connections == 1:
        for after, last, count in batches:
            handed_out = last
            run(after, last, count)
            if result.failed:
                break
    else:
        # A short queue: the next batches are found while the current ones are planned.
        work: queue.Queue[tuple[int, int, int] | None] = queue.Queue(maxsize=result.connections)

        def worker() -> None:
            try:
                while (batch := work.get()) is not None:
                    run(*batch)
            finally:
                connections.close_all()  # this thread's own

        threads = [threading.Thread(target=worker) for _ in range(result.connections)]
        for thread in threads:
            thread.start()
        try:
            for batch in batches:
                if result.failed:
                    break
                work.put(batch)
                handed_out = batch[1]
        finally:
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
    if result.failed:
        result.failed.sort()
        result.stopped_after = handed_out


def replan_all_due_reminders(
    *, now: datetime.datetime | None = None, batch_size: int = 5000
) -> PlanningResult:
    """Make sure every active course with a session given has its "due, not booked" row for
    that session, as `plan_due_reminder(course=...)` writes it when the session is signed;
    rows already there stay untouched, and the course's open "due" rows for an earlier
    session are cancelled. One transaction per batch of `batch_size` courses."""
    now = now or timezone.now()
    result = PlanningResult()
    started = time.perf_counter()
    courses = TreatmentCourse.objects.active().filter(last_session_on__isnull=False)
    last = 0
    while True:
        batch = list(
            courses.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "patient_id", "last_session_on", "patient__location__time_zone")[
                :batch_size
            ]
        )
        if not batch:
            break
        consents = _latest_consents({patient for _, patient, _, _ in batch})
        zones: dict[str, ZoneInfo] = {}
        reminders = []
        for pk, patient, last_session_on, zone_name in batch:
            zone_name = zone_name or settings.TIME_ZONE
            zone = zones.get(zone_name) or zones.setdefault(zone_name, ZoneInfo(zone_name))
            key, channel, due_at = due_reminder_plan(
                course_id=pk,
                last_session_on=last_session_on,
                zone=zone,
                consents_to=functools.partial(_consented, consents, patient),
            )
            status, skip_reason = planned_state(due_at, now)
            reminders.append(
                Reminder(
                    patient_id=patient,
                    course_id=pk,
                    subject_key=key,
                    kind=Reminder.Kind.DUE_NOT_BOOKED,
                    channel=channel,
                    due_at=due_at,
                    status=status,
                    skip_reason=skip_reason,
                )
            )
        batch_courses = courses.filter(pk__gt=last, pk__lte=batch[-1][0])
        due_rows = Reminder.objects.filter(
            course__in=batch_courses, kind=Reminder.Kind.DUE_NOT_BOOKED
        )
        with transaction.atomic():
            cancel_open_reminders(
                due_rows.exclude(subject_key__in=[r.subject_key for r in reminders]),
                "A newer session was given.",
            )
            result.inserted += _insert(reminders, due_rows)
        last = batch[-1][0]
        result.courses += len(batch)
        result.batches += 1
        result.rows += len(reminders)
    result.seconds = time.perf_counter() - started
    return result


def replan_all_checkin_reminders(
    *, now: datetime.datetime | None = None, batch_size: int = 5000
) -> PlanningResult:
    """Make sure every signed session whose check-in may still be ahead (given at most
    CHECKIN_AFTER_DAYS + 1 days ago, local dates run up to a day behind UTC's) has its
    check-in row, as `plan_checkin_reminder(session=...)` writes it when the session is
    signed; rows already there stay untouched. Older sessions are left out: their row would
    only be recorded as skipped (late), and there are as many of them as sessions ever given.
    One transaction per batch of `batch_size` sessions, computed in Python with signing's own
    function (`checkin_reminder_plan`)."""
    now = now or timezone.now()
    result = PlanningResult()
    started = time.perf_counter()
    since = now.date() - datetime.timedelta(days=settings.CHECKIN_AFTER_DAYS + 1)
    sessions = TreatmentSession.objects.signed().filter(given_on__gte=since)
    last = 0
    while True:
        batch = list(
            sessions.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", "patient_id", "given_on", "location__time_zone")[:batch_size]
        )
        if not batch:
            break
        consents = _latest_consents({patient for _, patient, _, _ in batch})
        zones: dict[str, ZoneInfo] = {}
        reminders = []
        for pk, patient, given_on, zone_name in batch:
            zone = zones.get(zone_name) or zones.setdefault(zone_name, ZoneInfo(zone_name))
            key, channel, due_at = checkin_reminder_plan(
                session_id=pk,
                given_on=given_on,
                zone=zone,
                consents_to=functools.partial(_consented, consents, patient),
            )
            status, skip_reason = planned_state(due_at, now)
            reminders.append(
                Reminder(
                    patient_id=patient,
                    session_id=pk,
                    subject_key=key,
                    kind=Reminder.Kind.CHECKIN,
                    channel=channel,
                    due_at=due_at,
                    status=status,
                    skip_reason=skip_reason,
                )
            )
        batch_sessions = sessions.filter(pk__gt=last, pk__lte=batch[-1][0])
        with transaction.atomic():
            result.inserted += _insert(
                reminders,
                Reminder.objects.filter(session__in=batch_sessions, kind=Reminder.Kind.CHECKIN),
            )
        last = batch[-1][0]
        result.sessions += len(batch)
        result.batches += 1
        result.rows += len(reminders)
    result.seconds = time.perf_counter() - started
    return result


def _latest_consents(patient_ids: set[int]) -> dict[tuple[int, str], bool]:
    """{(patient id, channel): granted} from each pair's latest record, as
    `Patient.current_consents` orders them (recorded_at, then id)."""
    records = (
        ContactConsent.objects.filter(patient_id__in=patient_ids)
        .order_by("recorded_at", "pk")
        .values_list("patient_id", "channel", "granted")
    )
    return {(patient, channel): granted for patient, channel, granted in records}


def _consented(consents: dict[tuple[int, str], bool], patient: int, channel: str) -> bool | None:
    return consents.get((patient, channel))


def _visit_reminders(visits, now: datetime.datetime) -> Iterator[Reminder]:
    """The visits' rows, computed in Python by the booking's own functions."""
    batch = list(
        visits.order_by("pk").values_list(
            "pk", "sequence", "starts_at", "patient_id", "location__time_zone"
        )
    )
    consents = _latest_consents({patient for _, _, _, patient, _ in batch})
    zones: dict[str, ZoneInfo] = {}
    # Visits at one location start on one slot grid: several share each start, and so their
    # reminders' times.
    times: dict[tuple[datetime.datetime, str], tuple[datetime.datetime, datetime.datetime]] = {}
    for pk, sequence, starts_at, patient, zone_name in batch:
        when = times.get((starts_at, zone_name))
        if when is None:
            zone = zones.get(zone_name) or zones.setdefault(zone_name, ZoneInfo(zone_name))
            when = times[starts_at, zone_name] = visit_reminder_times(starts_at, zone)
        plans = visit_reminder_plans(
            appointment_id=pk,
            sequence=sequence,
            times=when,
            consents_to=functools.partial(_consented, consents, patient),
        )
        for key, kind, channel, due_at in plans:
            status, skip_reason = planned_state(due_at, now)
            yield Reminder(
                patient_id=patient,
                appointment_id=pk,
                subject_key=key,
                kind=kind,
                channel=channel,
                due_at=due_at,
                status=status,
                skip_reason=skip_reason,
            )


def _insert(reminders: list[Reminder], planned: ReminderQuerySet) -> int:
    """Insert the reminders that do not exist yet (`planned` holds any that do); return how
    many were new."""
    if not reminders:
        return 0
    before = planned.count()
    Reminder.objects.bulk_create(reminders, ignore_conflicts=True)
    return planned.count() - before


def _instant(wall: str, later: str, zone: str) -> str:
    """SQL for the instant at which the clock in `zone` reads `wall` (a timestamp without time
    zone), as Python reads an aware datetime (fold=0), given `later`, PostgreSQL's reading
    (`wall AT TIME ZONE zone`). They differ only on the hour a clock repeats: Python takes
    its first pass, PostgreSQL the second. So where the offset three hours before `later`
    is not `later`'s own (rare: a change of offset just passed; no zone changes twice in three
    hours), read `wall` with that earlier offset too, and take it if the clock then read
    `wall` (in a gap, both readings use the offset from before it)."""
    before = f"({later} - interval '3 hours')"
    offset = f"({before} AT TIME ZONE {zone} - {before} AT TIME ZONE 'UTC')"
    earlier = f"(({wall} - {offset}) AT TIME ZONE 'UTC')"
    return (
        f"CASE WHEN {offset} = {wall} - ({later} AT TIME ZONE 'UTC') THEN {later}"
        f" WHEN {earlier} AT TIME ZONE {zone} = {wall} THEN {earlier} ELSE {later} END"
    )


# The SQL twin of `visit_reminder_times` and `visit_reminder_plans` (with `planned_state` and
# `preferred_channel`) for the booked visits ahead with ids in (after, last]: the visit's local
# wall time that many days before, out of quiet hours (the end of the quiet hours that day,
# or the next day's after the evening start); the day before by SMS with the latest SMS
# consent granted, else by email with email's granted, else SMS; a time already passed skipped.
# The times are computed once per start and zone (visits share a location's slot grid), each
# step a MATERIALIZED table: inlined, a time zone conversion would run again for every later
# mention of its column. Each patient's latest consent per channel is folded into one row (sms,
# email), so that a visit finds both in one join (two joins of the per-channel rows cost more
# of the server's CPU: tests/bench/README.md). tests/treatments/test_reminder_planning.py
# compares the rows with booking's, changes of offset included.
_PLAN_VISITS = f"""
WITH visit AS MATERIALIZED (
    SELECT a.id, a.sequence, a.patient_id, l.time_zone AS tz,
           a.starts_at AT TIME ZONE l.time_zone AS start
      FROM treatments_appointment AS a
      JOIN clinic_location AS l ON l.id = a.location_id
     WHERE a.id > %(after)s AND a.id <= %(last)s
       AND a.status = 'booked' AND a.starts_at > %(now)s
), latest AS (
    SELECT DISTINCT ON (patient_id, channel) patient_id, channel, granted
      FROM patients_contactconsent
     WHERE patient_id IN (SELECT patient_id FROM visit)
     ORDER BY patient_id, channel, recorded_at DESC, id DESC
), consent AS MATERIALIZED (
    SELECT patient_id,
           bool_or(granted) FILTER (WHERE channel = 'sms') AS sms,
           bool_or(granted) FILTER (WHERE channel = 'email') AS email
      FROM latest
     GROUP BY patient_id
), planned AS MATERIALIZED (
    SELECT slot.tz, slot.start, plan.kind, plan.wall, plan.wall AT TIME ZONE slot.tz AS later
      FROM (SELECT DISTINCT tz, start FROM visit) AS slot
     CROSS JOIN LATERAL (VALUES
        ('visit_week', slot.start - %(week)s * interval '1 day'),
        ('visit_tomorrow', slot.start - %(tomorrow)s * interval '1 day')
     ) AS plan (kind, wall)
), timed AS MATERIALIZED (
    SELECT tz, start, kind, {_instant("wall", "later", "tz")} AS at FROM planned
), local AS MATERIALIZED (
    SELECT timed.*, at AT TIME ZONE tz AS wall FROM timed
), quiet AS MATERIALIZED (
    SELECT local.*,
           CASE WHEN extract(hour FROM wall) >= %(quiet_start)s
                  OR extract(hour FROM wall) < %(quiet_end)s
                THEN wall::date + (extract(hour FROM wall) >= %(quiet_end)s)::int
                     + %(quiet_end)s * interval '1 hour'
           END AS moved
      FROM local
), moved AS MATERIALIZED (
    SELECT quiet.*, moved AT TIME ZONE tz AS moved_later FROM quiet
), due AS MATERIALIZED (
    SELECT tz, start, kind,
           CASE WHEN moved IS NULL THEN at
                ELSE {_instant("moved", "moved_later", "tz")} END AS due_at
      FROM moved
)
INSERT INTO treatments_reminder
    (patient_id, appointment_id, subject_key, kind, channel, due_at, status, skip_reason,
     course_id, attempts, claim_token, claimed_at, started_at, last_error, sent_at,
     provider_message_id, created_at)
SELECT visit.patient_id, visit.id, 'appointment:' || visit.id || ':' || visit.sequence,
       due.kind,
       CASE WHEN due.kind = 'visit_week' OR (consent.sms IS NOT TRUE AND consent.email)
            THEN 'email' ELSE 'sms' END,
       due.due_at,
       CASE WHEN due.due_at <= %(now)s THEN 'skipped' ELSE 'pending' END,
       CASE WHEN due.due_at <= %(now)s THEN %(late)s ELSE '' END,
       NULL, 0, '', NULL, NULL, '', NULL, '', %(created)s
  FROM visit
  JOIN due ON due.tz = visit.tz AND due.start = visit.start
  LEFT JOIN consent ON consent.patient_id = visit.patient_id
    ON CONFLICT (subject_key, kind, channel) DO NOTHING
"""


def _plan_in_postgresql(*, after: int, last: int, now: datetime.datetime) -> int:
    """Plan and insert the rows of the booked visits ahead with ids in (after, last], in one
    statement; return how many were new."""
    with connection.cursor() as cursor:
        # A lost commit is planned again by the next run: no need to wait for the disk.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            _PLAN_VISITS,
            {
                "after": after,
                "last": last,
                "now": now,
                "week": settings.REMINDER_VISIT_EMAIL_DAYS,
                "tomorrow": settings.REMINDER_VISIT_SMS_DAYS,
                "quiet_start": settings.QUIET_HOURS_START,
                "quiet_end": settings.QUIET_HOURS_END,
                "late": LATE,
                "created": timezone.now(),
            },
        )
        return cursor.rowcount
