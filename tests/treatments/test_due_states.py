"""Due states kept by the database (migration treatments 0017): whatever writes the patients,
courses, appointments, sessions and calls (the services, QuerySet.update(), bulk_create, raw
SQL, two transactions at once), each patient's DueState row is what the rows themselves say,
read here by the ORM the slow way (`derived`)."""

import datetime
import importlib
import threading

import pytest
from django.db import connection, connections, transaction
from django.db.models import Max

from tests.conftest import SESSION_TIME, make_patient, session_input
from treatments.models import (
    Appointment,
    CallOutcome,
    DueState,
    TreatmentCourse,
    TreatmentSession,
)
from treatments.services import record_call_outcome, record_session, set_appointment_status

DAY = datetime.timedelta(days=1)
DUE_STATES = importlib.import_module("treatments.migrations.0017_due_states")
FIELDS = (
    "active",
    "booked",
    "change_requested",
    "declined",
    "next_due_on",
    "missed_at",
    "last_name",
    "first_name",
    "location_id",
    "primary_clinician_id",
)


def kept() -> dict[int, tuple]:
    return {row[0]: row[1:] for row in DueState.objects.values_list("patient_id", *FIELDS)}


def derived() -> dict[int, tuple]:
    """Each patient's due state, from the rows: the reading the due list made before 0017."""
    from patients.models import Patient

    states = {}
    for patient in Patient.objects.all():
        course = TreatmentCourse.objects.active().filter(patient=patient).first()
        last_session_on = course.last_session_on if course else None
        visits = Appointment.objects.active().filter(patient=patient)
        call = CallOutcome.objects.filter(patient=patient).order_by("-recorded_at", "-pk").first()
        declined = (
            call is not None
            and call.outcome == "declined"
            and (last_session_on is None or call.recorded_at.date() >= last_session_on)
        )
        missed = Appointment.objects.missed().filter(patient=patient).aggregate(at=Max("starts_at"))
        states[patient.pk] = (
            patient.status == "active",
            visits.exists(),
            visits.filter(change_requested_at__isnull=False).exists(),
            declined,
            course.next_due_on if course else None,
            missed["at"],
            patient.last_name,
            patient.first_name,
            patient.location_id,
            patient.primary_clinician_id,
        )
    return states


def assert_kept() -> dict[int, tuple]:
    states = kept()
    assert states == derived()
    return states


def missed_at(patient) -> datetime.datetime | None:
    return DueState.objects.get(patient=patient).missed_at


def visit(patient, clinician, front_desk, starts_at, status="booked") -> Appointment:
    return Appointment.objects.create(
        patient=patient,
        location=patient.location,
        clinician=clinician,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        status=status,
        booked_by=front_desk,
    )


def draft(patient, clinician, when: datetime.datetime) -> TreatmentSession:
    return record_session(
        patient=patient, injector=clinician, data=session_input(patient.location, when=when)
    )


def redate(session: TreatmentSession, when: datetime.datetime) -> None:
    TreatmentSession.objects.filter(pk=session.pk).update(
        administered_at=when, reconstituted_at=when - datetime.timedelta(minutes=20)
    )


@pytest.fixture(autouse=True)
def pinned(time_machine):
    """Every session below is in the past (R21): the clock stands after them all."""
    time_machine.move_to(SESSION_TIME + 300 * DAY, tick=False)


@pytest.fixture
def patients(location, clinician):
    people = [make_patient(n, location=location, primary_clinician=clinician) for n in (1, 2)]
    for person in people:
        TreatmentCourse.objects.create(
            patient=person,
            started_on=SESSION_TIME.date() - 200 * DAY,
            last_session_on=SESSION_TIME.date() - 100 * DAY,
        )
    return people


def test_a_new_patient_has_a_state_and_a_deleted_one_takes_it_along(location):
    patient = make_patient(1, location=location)
    assert assert_kept() == {
        patient.pk: (True, False, False, False, None, None, "Family1", "Given1", location.pk, None)
    }
    patient.delete()
    assert not DueState.objects.exists()


def test_a_no_show_is_missed_until_a_session_is_given_after_it(
    patients, clinician, front_desk, time_machine
):
    first, _ = patients
    starts = SESSION_TIME
    appointment = visit(first, clinician, front_desk, starts)
    assert DueState.objects.get(patient=first).booked
    time_machine.move_to(starts + datetime.timedelta(minutes=10), tick=False)
    set_appointment_status(appointment=appointment, status="noshow", by=front_desk)
    assert_kept()
    assert missed_at(first) == starts

    time_machine.move_to(starts + 3 * DAY, tick=False)
    draft(first, clinician, starts - 90 * DAY)  # a session before the no-show changes nothing
    assert missed_at(first) == starts
    draft(first, clinician, starts + 2 * DAY)
    assert_kept()
    assert missed_at(first) is None


def test_every_way_of_writing_keeps_the_states_true(patients, clinician, front_desk):
    first, second = patients
    early, late = SESSION_TIME, SESSION_TIME + 100 * DAY

    # bulk_create, then QuerySet.update() in and out of no-show
    a, b = Appointment.objects.bulk_create(
        [
            Appointment(
                patient=first,
                location=first.location,
                clinician=clinician,
                starts_at=at,
                ends_at=at + datetime.timedelta(minutes=30),
                status="noshow",
                booked_by=front_desk,
            )
            for at in (early, late)
        ]
    )
    assert_kept()
    assert missed_at(first) == late
    Appointment.objects.filter(pk=b.pk).update(status="fulfilled")
    assert missed_at(first) == early
    Appointment.objects.filter(pk=b.pk).update(
        status="noshow", starts_at=late + DAY, ends_at=late + DAY + datetime.timedelta(hours=1)
    )
    assert_kept()
    assert missed_at(first) == late + DAY

    # a session between the two no-shows: the later one is still missed
    session = draft(first, clinician, early + 50 * DAY)
    assert missed_at(first) == late + DAY
    # re-dated after both (QuerySet.update), then back before both
    redate(session, late + 2 * DAY)
    assert missed_at(first) is None
    redate(session, early - DAY)
    assert_kept()
    assert missed_at(first) == late + DAY

    # a no-show moved to another patient: both patients re-derived
    Appointment.objects.filter(pk=b.pk).update(patient=second)
    assert_kept()
    assert (missed_at(first), missed_at(second)) == (early, late + DAY)

    # a booking, asked to move, by update
    booked = visit(second, clinician, front_desk, late + 10 * DAY)
    Appointment.objects.filter(pk=booked.pk).update(change_requested_at=late)
    assert assert_kept()[second.pk][1:3] == (True, True)
    Appointment.objects.filter(pk=booked.pk).update(status="cancelled", cancel_reason="x")
    assert assert_kept()[second.pk][1:3] == (False, False)

    # the course: its last session moved, its interval changed, then stopped
    TreatmentCourse.objects.filter(patient=first).update(last_session_on=early.date())
    TreatmentCourse.objects.filter(patient=first).update(interval_days=90)
    assert assert_kept()[first.pk][4] == early.date() + 90 * DAY
    TreatmentCourse.objects.filter(patient=first).update(status="stopped", status_reason="Stopped")
    assert assert_kept()[first.pk][4] is None

    # the patient's status, name, location and clinician
    type(first).objects.filter(pk=first.pk).update(status="discharged")
    assert assert_kept()[first.pk][0] is False
    first.last_name, first.location, first.primary_clinician = "Renamed", None, None
    first.save()
    assert assert_kept()[first.pk][6:] == ("Renamed", "Given1", None, None)

    # calls: a refusal after the last session, then a later call that is not one
    declined = record_call_outcome(patient=second, outcome="declined", by=front_desk, note="No")
    assert assert_kept()[second.pk][3] is True
    CallOutcome.objects.filter(pk=declined.pk).update(outcome="unreachable")
    assert assert_kept()[second.pk][3] is False
    CallOutcome.objects.filter(pk=declined.pk).update(outcome="declined")
    record_call_outcome(patient=second, outcome="unreachable", by=front_desk)
    assert assert_kept()[second.pk][3] is False

    # raw SQL, which no Django signal sees
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE treatments_treatmentsession SET administered_at = %s, reconstituted_at = %s "
            "WHERE id = %s",
            [early + DAY, early, session.pk],
        )
        assert missed_at(first) is None
        for table in ("injectionsite", "vialuse"):  # a draft's sites and vials go with it
            cursor.execute(f"DELETE FROM treatments_{table} WHERE session_id = %s", [session.pk])
        cursor.execute("DELETE FROM treatments_treatmentsession WHERE id = %s", [session.pk])
        assert missed_at(first) == early
        cursor.execute("DELETE FROM treatments_appointment WHERE id = %s", [a.pk])
        cursor.execute("DELETE FROM treatments_calloutcome WHERE patient_id = %s", [second.pk])
    assert_kept()
    assert missed_at(first) is None

    # a session moved from one patient to the other
    other = draft(second, clinician, late + 3 * DAY)
    assert missed_at(second) is None
    TreatmentSession.objects.filter(pk=other.pk).update(patient=first)
    assert_kept()
    assert missed_at(second) == late + DAY


def test_the_migrations_derivation_finds_what_the_triggers_keep(patients, clinician, front_desk):
    first, second = patients
    visit(first, clinician, front_desk, SESSION_TIME, status="noshow")
    visit(second, clinician, front_desk, SESSION_TIME, status="noshow")
    moving = visit(second, clinician, front_desk, SESSION_TIME + 50 * DAY)
    Appointment.objects.filter(pk=moving.pk).update(change_requested_at=SESSION_TIME)
    draft(second, clinician, SESSION_TIME + DAY)
    record_call_outcome(patient=first, outcome="declined", by=front_desk, note="Moving away")
    expected = assert_kept()

    DueState.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(DUE_STATES.derive(connection.vendor))
    assert kept() == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite lets one writer in at a time")
@pytest.mark.django_db(transaction=True)
def test_a_session_and_a_no_show_written_at_once_leave_the_truth(location, clinician, front_desk):
    # Given a booked visit, and a session given after it, recorded in a transaction still open
    patient = make_patient(1, location=location, primary_clinician=clinician)
    TreatmentCourse.objects.create(patient=patient, started_on=SESSION_TIME.date() - 200 * DAY)
    appointment = visit(patient, clinician, front_desk, SESSION_TIME)
    done = threading.Event()

    def mark_no_show():
        try:
            with transaction.atomic():
                Appointment.objects.filter(pk=appointment.pk).update(status="noshow")
        finally:
            connections.close_all()
            done.set()

    with transaction.atomic():
        draft(patient, clinician, SESSION_TIME + DAY)
        # When another transaction marks the visit a no-show meanwhile
        other = threading.Thread(target=mark_no_show)
        other.start()
        # Then it waits for this one (it re-derives the patient after it, not beside it)
        assert not done.wait(1)
    other.join(10)
    assert done.is_set()
    # and the visit is not missed: a session was given after it
    assert_kept()
    assert missed_at(patient) is None
