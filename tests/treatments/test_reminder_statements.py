"""A send's statements, compiled once per process (treatments/services/reminder_statements.py):
the compiled read gives exactly what `Reminder.objects.for_sending()` gives, and on PostgreSQL
one row's last write and the next row's start and read are one round trip."""

import datetime

import pytest
from django.core import mail
from django.db import connection

from patients.services import record_consent
from tests.conftest import make_patient
from tests.treatments.test_reminder_workers import make_visits
from treatments import channels
from treatments.links import site_domain
from treatments.models import Reminder, TreatmentCourse
from treatments.services import reminder_statements as statements
from treatments.services.reminders import dispatch_due_reminders, send_reminders

TOKEN = "t" * 32
POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def _awake(settings):
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 24, 0


NOW = datetime.datetime(2026, 12, 2, 15, tzinfo=datetime.UTC)  # a Wednesday afternoon


@pytest.fixture
def now(time_machine):
    """The test's instant, the clock pinned to it: every instant the test uses derives from it,
    and the code under test reads the same one."""
    time_machine.move_to(NOW, tick=False)
    return NOW


def claimed(reminder: Reminder, now, token: str = TOKEN) -> Reminder:
    Reminder.objects.filter(pk=reminder.pk).update(
        status="claimed", claim_token=token, claimed_at=now, started_at=None
    )
    return reminder


def values(obj) -> dict | None:
    """Every column of a row as read, with its Python type (a converter that did not run
    shows as a different type)."""
    if obj is None:
        return None
    return {
        f.attname: (type(value), value)
        for f in obj._meta.concrete_fields
        for value in [f.value_from_object(obj)]
    }


def as_read(reminder: Reminder) -> dict:
    """The row and everything a send reads through it, loaded with it."""
    appointment = reminder.appointment
    return {
        "reminder": values(reminder),
        "consent_granted": reminder.consent_granted,  # type: ignore[attr-defined]
        "patient": values(reminder.patient),
        "patient's location": values(reminder.patient.location),
        "course": values(reminder.course),
        "appointment": values(appointment),
        "appointment's location": values(appointment.location) if appointment else None,
    }


@pytest.fixture
def varied(db, now):
    """Rows of every shape a send reads: a visit's email (consent granted), a course's "due,
    not booked" SMS (a patient with a phone and no consent record), a no-show's email (consent
    granted, then revoked), a patient with no usual location."""
    [visit] = make_visits(1)
    location = visit.appointment.location
    due = now - datetime.timedelta(minutes=1)
    course_patient = make_patient(101, location=location)
    course = TreatmentCourse.objects.create(
        patient=course_patient, started_on=datetime.date(2026, 1, 5)
    )
    due_sms = Reminder.objects.create(
        patient=course_patient,
        course=course,
        subject_key=f"course:{course.pk}:2026-01-05",
        kind="due_not_booked",
        channel="sms",
        due_at=due,
    )
    revoked = make_patient(102, location=location)
    for granted in (True, False):
        record_consent(
            patient=revoked, channel="email", granted=granted, source="phone", recorded_by=None
        )
    noshow = Reminder.objects.create(
        patient=revoked, subject_key="noshow:1", kind="rebook_noshow", channel="email", due_at=due
    )
    nowhere = Reminder.objects.create(
        patient=make_patient(103, phone=""),
        subject_key="noshow:2",
        kind="rebook_noshow",
        channel="email",
        due_at=due,
    )
    return [visit, due_sms, noshow, nowhere]


def test_the_compiled_read_gives_exactly_what_for_sending_gives(
    varied, django_assert_num_queries, now
):
    for reminder in varied:
        # Given the row claimed; when its send starts and reads it through the compiled statement
        claimed(reminder, now)
        started, _ = statements.start(reminder.pk, TOKEN, now)
        assert started is not None

        # Then every column of it and of what it joins is what for_sending() reads, loaded with
        # it (no query to reach the patient, the visit, the locations, the course)
        expected = as_read(Reminder.objects.filter(pk=reminder.pk).for_sending().get())
        with django_assert_num_queries(0):
            assert as_read(started) == expected
        assert expected["reminder"]["started_at"] is not None


def test_a_row_not_claimed_with_this_token_or_already_started_is_not_started(varied, now):
    reminder = claimed(varied[0], now)
    assert statements.start(reminder.pk, "u" * 32, now) == (None, None)
    assert statements.start(reminder.pk, TOKEN, now)[0] is not None
    assert statements.start(reminder.pk, TOKEN, now) == (None, None)


@pytest.fixture
def two_claimed(db):
    first, second = make_visits(2)
    claims = dispatch_due_reminders()
    assert [pk for pk, _ in claims] == [first.pk, second.pk]
    return first, second, claims[0][1]


def test_one_rows_write_and_the_next_rows_start_are_one_round_trip_on_postgresql(
    two_claimed, django_assert_num_queries, now
):
    # Given the first row started, its send done, its write held
    first, second, token = two_claimed
    statements.start(first.pk, token, now)
    write = statements.Write(first.pk, token, {"status": "skipped", "skip_reason": "A test."})

    # When the second row starts with the first row's write
    with django_assert_num_queries(1 if POSTGRESQL else 3):
        started, written = statements.start(second.pk, token, now, after=write)

    # Then both happened: the write's count comes back with the second row, started now
    assert written == 1
    assert started is not None
    assert (started.pk, started.started_at) == (second.pk, now)
    first.refresh_from_db()
    assert (first.status, first.skip_reason) == ("skipped", "A test.")


def test_a_write_whose_claim_was_taken_back_counts_zero_and_the_next_row_still_starts(
    two_claimed, now
):
    # Given the first row's claim taken back (pending again) before its write
    first, second, token = two_claimed
    Reminder.objects.filter(pk=first.pk).update(status="pending", claim_token="")
    write = statements.Write(first.pk, token, {"status": "skipped", "skip_reason": "A test."})

    started, written = statements.start(second.pk, token, now, after=write)

    assert (written, started is not None) == (0, True)
    first.refresh_from_db()
    assert (first.status, first.skip_reason) == ("pending", "")


def test_the_write_is_made_and_counted_when_the_next_row_does_not_start(two_claimed, now):
    first, second, token = two_claimed
    statements.start(first.pk, token, now)
    write = statements.Write(first.pk, token, {"due_at": now}, release=True)

    # the next claim's token is wrong: nothing starts, the write is still made
    assert statements.start(second.pk, "u" * 32, now, after=write) == (None, 1)
    first.refresh_from_db()
    assert (first.status, first.claim_token, first.started_at) == ("pending", "", None)


def test_a_release_of_a_row_cancelled_while_it_was_sent_ends_cancelled(two_claimed, now):
    first, second, token = two_claimed
    statements.start(first.pk, token, now)
    Reminder.objects.filter(pk=first.pk).update(
        skip_reason="The visit was cancelled. It was cancelled while this message was being sent."
    )
    write = statements.Write(first.pk, token, {"due_at": now}, release=True)

    statements.start(second.pk, token, now, after=write)

    first.refresh_from_db()
    assert (first.status, first.claim_token, first.started_at) == ("cancelled", "", None)


def test_a_write_and_a_start_on_the_same_row_are_made_in_order(two_claimed, now):
    # Given a row started and its release held; the same claim delivered again
    first, _, token = two_claimed
    statements.start(first.pk, token, now)
    write = statements.Write(first.pk, token, {"due_at": now}, release=True)

    # Then the release is made first, and the repeat finds nothing to start
    assert statements.start(first.pk, token, now, after=write) == (None, 1)


def test_a_batch_costs_one_round_trip_per_row_on_postgresql(django_assert_num_queries, db):
    # Given three claimed due emails
    make_visits(3)
    claims = dispatch_due_reminders()

    # When the batch is sent: on PostgreSQL SET/RESET synchronous_commit, one statement per
    # row, and the last row's write; elsewhere a write, a start and a read per row
    with django_assert_num_queries(2 + 3 + 1 if POSTGRESQL else 3 * 3):
        results = send_reminders(claims)

    assert set(results.values()) == {"sent"}
    assert len(mail.outbox) == 3
    assert Reminder.objects.filter(status="sent").count() == 3


def test_a_late_hand_over_in_a_batch_is_recorded_sent_and_the_next_row_goes(
    two_claimed, monkeypatch, settings
):
    # Given a relay slower than the lease on the first row of a batch: meanwhile its claim is
    # taken back (pending, due again later), the second row's claim is still queued
    first, second, token = two_claimed
    settings.REMINDER_LEASE_SECONDS = 60
    assert settings.REMINDER_QUEUE_TIMEOUT_SECONDS > 61
    real_send = channels.send

    def slow_relay(channel, message):
        if message.key == first.idempotency_key:
            # the lease runs out while the relay takes the message (from the row's own start)
            later = Reminder.objects.get(pk=first.pk).started_at + datetime.timedelta(seconds=61)
            Reminder.objects.filter(pk=first.pk).update(due_at=later + datetime.timedelta(hours=1))
            dispatch_due_reminders(now=later)
        return real_send(channel, message)

    monkeypatch.setattr(channels, "send", slow_relay)

    # When the batch runs (the first row's write goes with the second row's start)
    results = send_reminders([(first.pk, token), (second.pk, token)])

    # Then the first is recorded sent late, exactly as a single send records it; the second goes
    assert results == {str(first.pk): "claim-lost-recorded", str(second.pk): "sent"}
    rows = {r.pk: r for r in Reminder.objects.filter(pk__in=[first.pk, second.pk])}
    assert [rows[r.pk].status for r in (first, second)] == ["sent", "sent"]
    assert rows[first.pk].provider_message_id == f"<{first.idempotency_key}@{site_domain()}>"
    assert len(mail.outbox) == 2
