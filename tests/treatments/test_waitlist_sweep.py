"""The waitlist's safety net: every WAITLIST_SWEEP_MINUTES beat offers the slots freed in the
last WAITLIST_SWEEP_HOURS that no offering task has offered (a task the broker refused or
lost), with the task's own lock and slot key, so that a sweep and a task make one offer.

The clock is pinned at one anchor: the events' times are the clock's."""

import datetime
import io
import re
from functools import partial

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.concurrency import at_once
from tests.conftest import local, london, make_patient
from tests.treatments.test_waitlist import eligible_on, waiting
from treatments.models import AppointmentEvent, Reminder, SlotOffer
from treatments.services import book_appointment, cancel_appointment, reschedule_appointment
from treatments.services.waitlist import (
    freed_slots_without_offer,
    offer_freed_slot,
    sweep_freed_slots,
)
from treatments.tasks import sweep_freed_slots_task

# Monday 1 March 2027, 10:00 in New York; the freed visit is on Wednesday 10 March at 10:00.
NOW = datetime.datetime(2027, 3, 1, 15, 0, tzinfo=datetime.UTC)
SLOT_DAY = datetime.date(2027, 3, 10)
SWEEP = datetime.timedelta(minutes=5)


@pytest.fixture
def pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def freed(pinned, schedule, clinician, front_desk):
    """Another patient's injection visit at 10:00 on SLOT_DAY, which the tests cancel or move."""
    return book_appointment(
        patient=make_patient(90, location=schedule),
        clinician=clinician,
        location=schedule,
        starts_at=local(SLOT_DAY, 10),
        booked_by=front_desk,
    )


@pytest.fixture
def broker_down(monkeypatch):
    """The broker refuses every message: the offering task is never queued."""

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("celery.current_app.send_task", refuse)


def test_a_cancellation_whose_task_the_broker_refused_is_offered_by_the_sweep(
    schedule, front_desk, freed, broker_down, django_capture_on_commit_callbacks
):
    # Given a waiting patient, and a cancellation whose offering task never reached the broker
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY))
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    assert not SlotOffer.objects.exists()

    # When beat's sweep runs within its five minutes, and again at the next one
    [offer] = sweep_freed_slots(now=NOW + SWEEP)
    again = sweep_freed_slots(now=NOW + 2 * SWEEP)

    # Then the slot is offered once, as the task would have, with its message in the outbox
    assert again == []
    assert (offer.entry, offer.starts_at, offer.freed_by) == (entry, freed.starts_at, freed)
    assert offer.slot_key == f"{SlotOffer.key_for(freed.clinician_id, freed.starts_at)}|{freed.pk}"
    assert SlotOffer.objects.count() == 1
    assert Reminder.objects.filter(offer=offer, kind=Reminder.Kind.SLOT_OFFER).count() == 1


def test_a_slot_the_task_offered_is_left_alone_by_the_sweep(schedule, front_desk, freed):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY))
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    [offer] = offer_freed_slot(
        appointment_id=freed.pk,
        clinician_id=freed.clinician_id,
        starts_at=freed.starts_at,
        location_id=schedule.pk,
        now=NOW,
    )

    assert freed_slots_without_offer(now=NOW + SWEEP) == []
    assert sweep_freed_slots(now=NOW + SWEEP) == []
    assert list(SlotOffer.objects.all()) == [offer]


@pytest.mark.django_db(transaction=True)
def test_a_sweep_and_the_task_at_once_make_one_set_of_offers(schedule, front_desk, freed, settings):
    # Given three waiting patients and a cancelled visit (committed), two offers per slot
    settings.WAITLIST_OFFERS_PER_SLOT = 2
    entries = [
        waiting(n, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY, n))
        for n in (1, 2, 3)
    ]
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    task = partial(
        offer_freed_slot,
        appointment_id=freed.pk,
        clinician_id=freed.clinician_id,
        starts_at=freed.starts_at,
        location_id=schedule.pk,
        now=NOW + SWEEP,
    )

    # When the offering task and beat's sweep run at the same moment (twice over)
    results = at_once([task, partial(sweep_freed_slots, now=NOW + SWEEP)] * 2)

    # Then one of them made the slot's two offers (the most overdue first); the others none
    assert sorted(len(offers) for offers in results) == [0, 0, 0, 2]
    offered = SlotOffer.objects.order_by("pk")
    assert [offer.entry_id for offer in offered] == [entries[2].pk, entries[1].pk]
    assert Reminder.objects.filter(kind=Reminder.Kind.SLOT_OFFER).count() == 2


def test_a_moved_visits_old_slot_is_offered_at_its_old_clinician_and_location(
    schedule, clinician, front_desk, freed, harbour, broker_down, django_capture_on_commit_callbacks
):
    # Given a patient waiting at the visit's first location, and the visit moved to Harbour
    # (another clinician, another zone) while the broker was down
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY))
    old = freed.starts_at
    with django_capture_on_commit_callbacks(execute=True):
        reschedule_appointment(
            appointment=freed,
            starts_at=london(SLOT_DAY, 15, 30),
            clinician=harbour.injector,
            location=harbour,
            by=front_desk,
        )

    # When the sweep runs
    [offer] = sweep_freed_slots(now=NOW + SWEEP)

    # Then the move's event kept the slot it left, and that slot is offered where it was
    event = AppointmentEvent.objects.get(appointment=freed, action="rescheduled")
    assert (event.previous_starts_at, event.previous_clinician, event.previous_location) == (
        old,
        clinician,
        schedule,
    )
    assert (offer.entry, offer.location, offer.starts_at) == (entry, schedule, old)
    assert offer.clinician == clinician


def test_events_older_than_the_window_are_left_to_rest(
    schedule, front_desk, freed, time_machine, settings
):
    # Given a visit cancelled 25 hours before the sweep (the window is 24), and a patient
    # who joined the list since
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    waiting(1, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY))
    swept_at = NOW + datetime.timedelta(hours=25)

    # When beat sweeps then, nothing is offered; an hour earlier (inside the window) it was
    assert settings.WAITLIST_SWEEP_HOURS == 24
    assert freed_slots_without_offer(now=swept_at) == []
    assert sweep_freed_slots(now=swept_at) == []
    assert len(sweep_freed_slots(now=swept_at - datetime.timedelta(hours=2))) == 1


def test_a_slot_that_found_no_one_is_looked_at_again_at_the_next_sweep(
    schedule, front_desk, freed, time_machine
):
    # Given a cancellation that nobody on the list could take
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    assert sweep_freed_slots(now=NOW + SWEEP) == []

    # When a patient joins the list before the next sweep
    time_machine.move_to(NOW + SWEEP + datetime.timedelta(minutes=1), tick=False)
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY))
    [offer] = sweep_freed_slots(now=NOW + 2 * SWEEP)

    # Then that sweep offers them the slot
    assert (offer.entry, offer.starts_at) == (entry, freed.starts_at)


def test_a_review_visits_cancellation_is_not_swept(schedule, clinician, front_desk, pinned):
    review = book_appointment(
        patient=make_patient(5, location=schedule),
        clinician=clinician,
        location=schedule,
        starts_at=local(SLOT_DAY, 11),
        booked_by=front_desk,
        kind="review",
    )
    waiting(1, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY))
    cancel_appointment(appointment=review, reason="Unwell", by=front_desk)

    assert freed_slots_without_offer(now=NOW + SWEEP) == []


def test_the_sweep_is_on_beats_schedule_every_five_minutes(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-freed-slots"]

    assert entry["task"] == sweep_freed_slots_task.name
    assert entry["schedule"] == settings.WAITLIST_SWEEP_MINUTES * 60 == 300


def test_the_task_and_the_command_sweep_on_the_clock_and_are_safe_twice(
    schedule, front_desk, freed
):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(SLOT_DAY))
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    out = io.StringIO()

    call_command("offer_freed_slots", stdout=out)
    call_command("offer_freed_slots", stdout=out)

    assert out.getvalue() == "Made 1 offer.\nMade 0 offers.\n"
    assert sweep_freed_slots_task() == 0
    assert SlotOffer.objects.filter(freed_by=freed).count() == 1


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plan of PostgreSQL's planner (SQLite: none)"
)
def test_the_sweeps_reads_are_index_ranges(schedule, front_desk, freed):
    # Given a year of 20,000 older events and 20,000 offers, then a cancellation and a move
    # in the window
    entry = waiting(1, schedule, front_desk, last_session_on=None)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO treatments_appointmentevent (appointment_id, action, note, at) "
            "SELECT %s, 'cancelled', '', %s - n * interval '25 minutes' "
            "FROM generate_series(100, 20099) AS n",
            [freed.pk, NOW],
        )
        cursor.execute(
            "INSERT INTO treatments_slotoffer (entry_id, clinician_id, location_id, starts_at, "
            "ends_at, slot_key, status, offered_at, expires_at) "
            "SELECT %s, %s, %s, %s, %s, 'old|' || n, 'expired', %s, %s "
            "FROM generate_series(1, 20000) AS n",
            [entry.pk, freed.clinician_id, schedule.pk, freed.starts_at, freed.ends_at] + [NOW] * 2,
        )
        cursor.execute("ANALYZE treatments_appointmentevent")
        cursor.execute("ANALYZE treatments_slotoffer")
    other = book_appointment(
        patient=make_patient(91, location=schedule),
        clinician=freed.clinician,
        location=schedule,
        starts_at=local(SLOT_DAY, 11),
        booked_by=front_desk,
    )
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    reschedule_appointment(appointment=other, starts_at=local(SLOT_DAY, 14), by=front_desk)

    # When the sweep reads the freed slots and their offers
    with CaptureQueriesContext(connection) as reads:
        assert len(freed_slots_without_offer(now=NOW + SWEEP)) == 2
    events, offers = (query["sql"] for query in reads.captured_queries)

    # Then each read is a range of an index: the events by time, the offers by slot key
    events_plan, offers_plan = _plan(events), _plan(offers)
    index_scan = r"Index (Only )?Scan (on|using) {}"
    assert re.search(index_scan.format("event_order_idx"), events_plan), events_plan
    assert re.search(r"Index Cond: .*\bat >= .*\bat <= ", events_plan), events_plan
    assert re.search(index_scan.format("offer_once_per_entry"), offers_plan), offers_plan
    assert re.search(r"Index Cond: .*slot_key.* = ANY ", offers_plan), offers_plan
    assert "Seq Scan" not in events_plan + offers_plan
