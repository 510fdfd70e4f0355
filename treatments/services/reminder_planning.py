"""Re-planning every booked visit's reminders at once (docs/architecture.md, "The reminder
path"), after the reminder settings change or for visits written outside the booking service.

One booking plans its own reminders in its own transaction (`reminders.plan_visit_reminders`).
This plans the same rows for every booked future visit, set-based:

1. Read the visits in keyset-paged batches (by id) as plain values: id, sequence, start, the
   location's time zone and the patient; then the batch's patients' consent records, latest
   last. Two queries per batch, no model instances.
2. Compute each visit's rows with the same pure function as one booking
   (`reminders.visit_reminder_plans`), and whether each is already late.
3. Insert them in one statement per batch with conflicts ignored: the unique key
   `one_reminder_per_subject_kind_channel` keeps every existing row as it is (pending, sent,
   cancelled...), so running this twice, or beside bookings, writes each row once. A row
   already planned keeps its due time; `replace_pending` first deletes the batch's visit
   reminders not yet sent nor claimed, so that new settings move them.

The course's "due, not booked" reminder (`plan_due_reminder`) is not re-planned here yet. It
would fit the same pattern (active courses with a last session, the patient's usual location's
zone and consents, one insert per batch), plus one UPDATE per batch: planning it also cancels
the course's older open "due" rows.
"""

import datetime
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import psycopg
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from patients.models import ContactConsent
from treatments.models import Appointment, Reminder
from treatments.services.reminders import (
    LATE,
    planned_state,
    visit_reminder_plans,
    visit_reminder_times,
)

# One reminder row as it is inserted: (patient id, appointment id, subject key, kind, channel,
# due time, status, skip reason).
Row = tuple[int, int, str, str, str, datetime.datetime, str, str]
VISIT_KINDS = (Reminder.Kind.VISIT_WEEK, Reminder.Kind.VISIT_TOMORROW)


@dataclass
class PlanningResult:
    appointments: int = 0
    batches: int = 0
    rows: int = 0  # rows computed (two per visit)
    inserted: int = 0  # new rows; the others existed already
    replaced: int = 0  # pending rows deleted first (replace_pending)
    seconds: float = 0.0


def replan_all_visit_reminders(
    *,
    now: datetime.datetime | None = None,
    batch_size: int = 5000,
    replace_pending: bool = False,
) -> PlanningResult:
    """Make sure every booked visit that has not started has its reminder rows, exactly as
    `plan_visit_reminders(appointment=...)` would write them; existing rows stay untouched.
    With `replace_pending`, the visits' reminders never sent nor claimed (pending, or skipped
    because their time had passed when they were planned) are first deleted, so that they are
    planned again under the settings in force (the days before, quiet hours, consent).
    One transaction per batch of `batch_size` visits. Returns the counts."""
    now = now or timezone.now()
    result = PlanningResult()
    started = time.perf_counter()
    for batch in _booked_visit_batches(now, batch_size):
        rows = list(_visit_rows(batch, now))
        with transaction.atomic():
            if replace_pending:
                # A dispatcher's claim (pending -> claimed) and this delete each re-check the
                # status under the row lock: a row in flight is never deleted.
                result.replaced += (
                    Reminder.objects.filter(
                        appointment_id__in=[visit[0] for visit in batch], kind__in=VISIT_KINDS
                    )
                    .filter(
                        Q(status=Reminder.Status.PENDING)
                        | Q(status=Reminder.Status.SKIPPED, skip_reason=LATE)
                    )
                    .delete()[0]
                )
            inserted = _insert(rows)
        result.appointments += len(batch)
        result.batches += 1
        result.rows += len(rows)
        result.inserted += inserted
    result.seconds = time.perf_counter() - started
    return result


def _booked_visit_batches(
    now: datetime.datetime, batch_size: int
) -> Iterator[list[tuple[int, int, datetime.datetime, int, str]]]:
    """(id, sequence, starts_at, patient id, location time zone) of booked visits still ahead,
    `batch_size` at a time, by id (keyset paging: each page starts where the last ended)."""
    visits = Appointment.objects.filter(
        status=Appointment.Status.BOOKED, starts_at__gt=now
    ).order_by("pk")
    last = 0
    while True:
        batch = list(
            visits.filter(pk__gt=last).values_list(
                "pk", "sequence", "starts_at", "patient_id", "location__time_zone"
            )[:batch_size]
        )
        if not batch:
            return
        yield batch
        last = batch[-1][0]


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


def _visit_rows(
    batch: list[tuple[int, int, datetime.datetime, int, str]], now: datetime.datetime
) -> Iterator[Row]:
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
            yield (patient, pk, key, str(kind), str(channel), due_at, *planned_state(due_at, now))


def _insert(rows: list[Row]) -> int:
    """Insert the rows that do not exist yet; return how many were new."""
    if connection.vendor == "postgresql":
        return _insert_postgresql(rows)
    if not rows:
        return 0
    planned = Reminder.objects.filter(appointment_id__in={row[1] for row in rows})
    before = planned.count()
    Reminder.objects.bulk_create(
        (
            Reminder(
                patient_id=patient,
                appointment_id=appointment,
                subject_key=key,
                kind=kind,
                channel=channel,
                due_at=due_at,
                status=status,
                skip_reason=skip_reason,
            )
            for patient, appointment, key, kind, channel, due_at, status, skip_reason in rows
        ),
        ignore_conflicts=True,
    )
    return planned.count() - before


def _insert_postgresql(rows: list[Row]) -> int:
    """What `bulk_create(..., ignore_conflicts=True)` writes, faster: the rows go by binary
    COPY (rows formatted in C, no model instances, no parameter per value) into a temporary
    table, and one INSERT ... SELECT moves them into the outbox, skipping conflicts.
    Benchmarked in tests/bench/README.md, "Planning in bulk"."""
    if not rows:
        return 0
    connection.ensure_connection()
    # psycopg's own cursor: Django's would bind on the client (and COPY needs psycopg's).
    with psycopg.Cursor(connection.connection) as cursor:
        # A lost commit is planned again by the next run: no need to wait for the disk.
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(
            """
            CREATE TEMPORARY TABLE IF NOT EXISTS cadence_planned_reminder
                (patient_id bigint, appointment_id bigint, subject_key text, kind text,
                 channel text, due_at timestamptz, status text, skip_reason text)
                ON COMMIT DELETE ROWS
            """
        )
        with cursor.copy("COPY cadence_planned_reminder FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "int8", "text", "text", "text", "timestamptz", "text", "text"])
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            """
            WITH planned AS (DELETE FROM cadence_planned_reminder RETURNING *)
            INSERT INTO treatments_reminder
                (patient_id, appointment_id, subject_key, kind, channel, due_at, status,
                 skip_reason, course_id, attempts, claim_token, claimed_at, started_at,
                 last_error, sent_at, provider_message_id, created_at)
            SELECT patient_id, appointment_id, subject_key, kind, channel, due_at, status,
                   skip_reason, NULL, 0, '', NULL, NULL, '', NULL, '', %s
              FROM planned
            ON CONFLICT (subject_key, kind, channel) DO NOTHING
            """,
            [timezone.now()],
        )
        return cursor.rowcount
