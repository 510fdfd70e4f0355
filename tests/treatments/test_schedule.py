import datetime
import itertools
import zoneinfo
from functools import partial

import pytest
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import Location
from tests.concurrency import at_once, logged_in
from tests.conftest import (
    SESSION_TIME,
    clinic_today,
    fresh_vials,
    local,
    make_patient,
    next_weekday,
    session_input,
    visit_day,
)
from treatments.models import Appointment, AppointmentEvent, CallOutcome, TreatmentCourse
from treatments.services import (
    BookingError,
    available_slots,
    book_appointment,
    cancel_appointment,
    due_list,
    record_call_outcome,
    record_session,
    reschedule_appointment,
    set_appointment_status,
    sign_session,
)
from treatments.services.schedule import local_datetime

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def treat(patient, clinician, location, when, **fields):
    session = record_session(
        patient=patient, injector=clinician, data=session_input(location, when=when, **fields)
    )
    return sign_session(session=session, user=clinician, acknowledged=[])


# --- due dates ---------------------------------------------------------------------------------


def test_signing_a_session_anchors_the_next_due_date_on_the_day_it_was_given(signed_session):
    course = TreatmentCourse.objects.get()
    given = datetime.date(2026, 3, 2)
    assert course.last_session_on == given
    assert course.next_due_on == given + datetime.timedelta(days=84)
    assert course.earliest_on == given + datetime.timedelta(days=84)
    assert course.overdue_from == given + datetime.timedelta(days=98)


def test_a_late_session_moves_every_later_date(signed_session, clinician, location):
    late = SESSION_TIME + datetime.timedelta(days=100)
    treat(signed_session.patient, clinician, location, late)
    course = TreatmentCourse.objects.get()
    assert course.next_due_on == late.astimezone(NEW_YORK).date() + datetime.timedelta(days=84)


def test_the_session_date_is_the_clinics_local_date(patient_a, clinician, location):
    # 02:30 UTC on 3 March is still 2 March in New York
    treat(patient_a, clinician, location, datetime.datetime(2026, 3, 3, 2, 30, tzinfo=datetime.UTC))
    assert TreatmentCourse.objects.get().last_session_on == datetime.date(2026, 3, 2)


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(datetime.date(2020, 1, 1), datetime.date(2035, 12, 31)),
    hour=st.integers(8, 17),
    minute=st.sampled_from([0, 15, 30, 45]),
    zone=st.sampled_from(["America/New_York", "Europe/London"]),
)
def test_the_rebooked_slot_keeps_its_local_time_across_dst(day, hour, minute, zone):
    # A visit at a wall-clock time, and the next one 84 days later "at the same time"
    tz = zoneinfo.ZoneInfo(zone)
    first = local_datetime(day, datetime.time(hour, minute), tz)
    again = local_datetime(day + datetime.timedelta(days=84), datetime.time(hour, minute), tz)
    assert again.astimezone(tz).time() == first.astimezone(tz).time() == datetime.time(hour, minute)
    # 84 days is 12 weeks: the same weekday, whatever the UTC offsets did in between
    assert again.date().weekday() == first.date().weekday()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(weeks=st.integers(0, 52 * 9))
def test_offered_slots_are_on_the_local_grid_on_any_week(schedule, clinician, weeks):
    # Any Monday up to 2035, in New York: slots run 09:00-16:30 local, DST or not
    monday = next_weekday(0) + datetime.timedelta(weeks=weeks)
    slots = available_slots(location=schedule, start_date=monday, days=1)
    assert [s.local_starts_at.strftime("%H:%M") for s in slots][:2] == ["09:00", "09:30"]
    assert slots[-1].local_starts_at.strftime("%H:%M") == "16:30"
    assert len(slots) == 16


# --- slots ---------------------------------------------------------------------------------------


def test_slots_follow_hours_rota_and_existing_bookings(booked_appointment, schedule, clinician):
    monday = visit_day()
    slots = available_slots(location=schedule, start_date=monday, days=7)
    times = {s.local_starts_at for s in slots}
    assert local(monday, 10) not in times  # taken
    assert local(monday, 10, 30) in times
    assert {s.local_starts_at.weekday() for s in slots} == {0, 1, 2, 3, 4}  # no weekend
    assert all(s.clinician == clinician for s in slots)


def test_the_picker_offers_the_first_free_slots_per_clinician(schedule):
    slots = available_slots(location=schedule, start_date=next_weekday(0), per_clinician=4)
    assert [s.local_starts_at.strftime("%H:%M") for s in slots] == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
    ]


# --- booking -------------------------------------------------------------------------------------


def test_booking_records_who_and_the_cycle(booked_appointment, front_desk):
    assert booked_appointment.status == "booked"
    assert booked_appointment.booked_by == front_desk
    assert booked_appointment.cycle_number == 2
    assert booked_appointment.events.get().action == "booked"


def test_a_slot_outside_the_rota_or_hours_is_refused(schedule, patient_a, clinician, front_desk):
    saturday, monday = next_weekday(5), next_weekday(0)
    for starts_at in (local(saturday, 10), local(monday, 8, 30), local(monday, 10, 10)):
        with pytest.raises(BookingError):
            book_appointment(
                patient=patient_a,
                clinician=clinician,
                location=schedule,
                starts_at=starts_at,
                booked_by=front_desk,
            )
    assert not Appointment.objects.exists()


def test_the_same_patient_cannot_be_in_two_places_at_once(
    booked_appointment, schedule, front_desk, db
):
    from tests.conftest import make_user

    other = make_user("dr2", "clinician")
    from treatments.models import InjectorDay

    InjectorDay.objects.create(clinician=other, location=schedule, weekday=0)
    with pytest.raises(BookingError, match="already has an appointment"):
        book_appointment(
            patient=booked_appointment.patient,
            clinician=other,
            location=schedule,
            starts_at=booked_appointment.starts_at,
            booked_by=front_desk,
            kind=Appointment.Kind.REVIEW,  # a second injection is refused before the time is
        )


def test_booking_before_the_earliest_date_needs_a_clinicians_reason(
    schedule, signed_session, clinician, front_desk
):
    # The last session was today minus 10 days: the earliest date is 74 days away
    patient = signed_session.patient
    TreatmentCourse.objects.filter(patient=patient).update(
        last_session_on=clinic_today() - datetime.timedelta(days=10)
    )
    starts_at = local(next_weekday(0), 11)
    with pytest.raises(BookingError, match="Only a clinician"):
        book_appointment(
            patient=patient,
            clinician=clinician,
            location=schedule,
            starts_at=starts_at,
            booked_by=front_desk,
            early_reason="asked",
        )
    with pytest.raises(BookingError, match="Give the reason"):
        book_appointment(
            patient=patient,
            clinician=clinician,
            location=schedule,
            starts_at=starts_at,
            booked_by=clinician,
        )
    assert not Appointment.objects.exists()

    appointment = book_appointment(
        patient=patient,
        clinician=clinician,
        location=schedule,
        starts_at=starts_at,
        booked_by=clinician,
        early_reason="Flying abroad for 3 months",
    )
    assert appointment.early_override_reason == "Flying abroad for 3 months"


def test_rescheduling_keeps_the_row_raises_the_sequence_and_frees_the_old_slot(
    booked_appointment, front_desk, schedule
):
    old = booked_appointment.starts_at
    new = local(next_weekday(1), 14)
    moved = reschedule_appointment(appointment=booked_appointment, starts_at=new, by=front_desk)
    assert (moved.pk, moved.starts_at, moved.sequence) == (booked_appointment.pk, new, 1)
    assert AppointmentEvent.objects.get(action="rescheduled").previous_starts_at == old
    assert old in {
        s.starts_at for s in available_slots(location=schedule, start_date=visit_day(), days=1)
    }


def test_cancelling_needs_a_reason_and_frees_the_slot(booked_appointment, front_desk):
    with pytest.raises(BookingError):
        cancel_appointment(appointment=booked_appointment, reason=" ", by=front_desk)
    booked_appointment.refresh_from_db()
    assert booked_appointment.status == "booked"
    cancel_appointment(appointment=booked_appointment, reason="Patient unwell", by=front_desk)
    booked_appointment.refresh_from_db()
    assert (booked_appointment.status, booked_appointment.cancel_reason) == (
        "cancelled",
        "Patient unwell",
    )


# --- the state machine ---------------------------------------------------------------------

ALLOWED = {
    ("booked", "arrived"),
    ("booked", "cancelled"),
    ("booked", "noshow"),
    ("arrived", "fulfilled"),
    ("arrived", "cancelled"),
}


@pytest.mark.parametrize(
    ("start", "end"),
    [pair for pair in itertools.product(Appointment.Status.values, repeat=2) if pair[0] != pair[1]],
)
def test_every_transition_is_allowed_or_refused_as_the_state_machine_says(
    booked_appointment, front_desk, start, end, time_machine
):
    # At the visit, once it has started: the state machine alone decides
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=5))
    Appointment.objects.filter(pk=booked_appointment.pk).update(
        status=start, cancel_reason="was cancelled"
    )
    if (start, end) in ALLOWED:
        changed = set_appointment_status(
            appointment=booked_appointment, status=end, by=front_desk, reason="reason"
        )
        assert changed.status == end
    else:
        with pytest.raises(BookingError):
            set_appointment_status(
                appointment=booked_appointment, status=end, by=front_desk, reason="reason"
            )
        booked_appointment.refresh_from_db()
        assert booked_appointment.status == start


def test_a_session_signed_after_check_in_fulfils_the_appointment(
    booked_appointment, clinician, front_desk, location, time_machine
):
    # Given the patient checked in for the visit; the session is signed 20 minutes in
    visit = booked_appointment.starts_at
    time_machine.move_to(visit - datetime.timedelta(minutes=5))
    set_appointment_status(appointment=booked_appointment, status="arrived", by=front_desk)
    time_machine.move_to(visit + datetime.timedelta(minutes=20))
    session = treat(
        booked_appointment.patient, clinician, location, visit, vials=fresh_vials(visit)
    )
    booked_appointment.refresh_from_db()
    assert session.appointment == booked_appointment
    assert booked_appointment.status == "fulfilled"


def test_signing_a_session_fulfils_its_visit_through_the_state_machine(
    booked_appointment, clinician, front_desk, location, time_machine
):
    # Given a checked-in visit (on its day)
    time_machine.move_to(booked_appointment.starts_at - datetime.timedelta(minutes=5))
    set_appointment_status(appointment=booked_appointment, status="arrived", by=front_desk)
    # When the clinician signs the session given at it
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=20))
    treat(booked_appointment.patient, clinician, location, booked_appointment.starts_at)
    # Then the visit's history records the fulfilment, by the clinician who signed
    event = AppointmentEvent.objects.filter(appointment=booked_appointment).last()
    assert (event.action, event.by) == ("fulfilled", clinician)


# --- no double booking, under concurrency ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_desks_booking_the_same_slot_make_exactly_one_appointment(
    schedule, clinician, front_desk
):
    patients = [make_patient(100 + n, location=schedule) for n in range(20)]
    starts_at = local(next_weekday(2), 11)
    slot = f"{clinician.pk}|{starts_at.isoformat()}"

    def book_one(desk, patient):
        return desk.post(reverse("treatments:book", args=[patient.pk]), {"slot": slot}).status_code

    results = at_once([partial(book_one, logged_in(front_desk), p) for p in patients])

    assert sorted(results) == [200] * 19 + [302]  # 19 form errors, 1 booking, no 500
    assert Appointment.objects.filter(starts_at=starts_at).count() == 1


def test_the_database_itself_refuses_an_overlapping_active_appointment(booked_appointment):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=make_patient(50),
            location=booked_appointment.location,
            clinician=booked_appointment.clinician,
            starts_at=booked_appointment.starts_at + datetime.timedelta(minutes=15),
            ends_at=booked_appointment.ends_at + datetime.timedelta(minutes=15),
            booked_by=booked_appointment.booked_by,
        )


# --- the due list --------------------------------------------------------------------------


def patients_on(entries):
    return [(e.patient.mrn, e.reason) for e in entries]


def test_the_due_list_shows_due_and_overdue_patients_without_a_booking(
    schedule, clinician, front_desk
):
    today = clinic_today()
    due = make_patient(1, location=schedule)
    overdue = make_patient(2, location=schedule)
    recent = make_patient(3, location=schedule)
    booked = make_patient(4, location=schedule)
    for patient, days_ago in ((due, 70), (overdue, 110), (recent, 20), (booked, 75)):
        TreatmentCourse.objects.create(
            patient=patient,
            started_on=today,
            last_session_on=today - datetime.timedelta(days=days_ago),
        )
    book_appointment(
        patient=booked,
        clinician=clinician,
        location=schedule,
        starts_at=local(next_weekday(3, after=today + datetime.timedelta(days=14)), 9),
        booked_by=front_desk,
    )

    entries = due_list(today=today)
    assert patients_on(entries) == [("MRN-0002", "overdue"), ("MRN-0001", "due")]
    assert entries[1].days_since_last == 70


def test_a_no_show_is_on_the_due_list_at_once(booked_appointment, front_desk, time_machine):
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=15))
    assert due_list(today=clinic_today()) == []
    set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    assert patients_on(due_list(today=clinic_today())) == [
        (booked_appointment.patient.mrn, "noshow")
    ]


def test_call_outcomes_show_and_a_decline_takes_the_patient_off(
    booked_appointment, front_desk, time_machine
):
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=15))
    set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    patient = booked_appointment.patient
    record_call_outcome(
        patient=patient,
        outcome="call_back",
        by=front_desk,
        call_back_on=clinic_today() + datetime.timedelta(days=2),
    )
    [entry] = due_list(today=clinic_today())
    assert entry.last_call.outcome == "call_back"
    record_call_outcome(patient=patient, outcome="declined", by=front_desk, note="moving away")
    assert due_list(today=clinic_today()) == []
    assert CallOutcome.objects.count() == 2


@pytest.mark.parametrize("rows", [3, 30])
def test_the_due_list_page_keeps_a_constant_query_count(
    client, front_desk, location, rows, django_assert_max_num_queries
):
    today = clinic_today()
    for n in range(rows):
        patient = make_patient(n, location=location)
        TreatmentCourse.objects.create(
            patient=patient, started_on=today, last_session_on=today - datetime.timedelta(days=80)
        )
        CallOutcome.objects.create(patient=patient, outcome="unreachable", recorded_by=front_desk)
    client.force_login(front_desk)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("treatments:due_list"))
    assert len(response.context["entries"]) == rows


# --- the booking page ---------------------------------------------------------------------


def test_the_booking_page_starts_at_the_earliest_date_and_books_a_slot(
    client, front_desk, schedule, signed_session
):
    patient = signed_session.patient
    TreatmentCourse.objects.filter(patient=patient).update(
        last_session_on=clinic_today() - datetime.timedelta(days=80)
    )
    client.force_login(front_desk)
    page = client.get(reverse("treatments:book", args=[patient.pk]))
    earliest = clinic_today() + datetime.timedelta(days=4)
    monday = earliest - datetime.timedelta(days=earliest.weekday())
    assert page.context["start"] == monday  # the week of the earliest date
    if all(slot.local_starts_at.date() < earliest for slot in page.context["slots"]):
        # (earliest on a weekend: its week has no bookable slot left; the next one has)
        page = client.get(
            reverse("treatments:book", args=[patient.pk]),
            {"from": (monday + datetime.timedelta(days=7)).isoformat()},
        )
    first = next(s for s in page.context["slots"] if s.local_starts_at.date() >= earliest)

    response = client.post(
        reverse("treatments:book", args=[patient.pk]),
        {"slot": f"{first.clinician.pk}|{first.starts_at.isoformat()}"},
    )
    assert response.status_code == 302
    assert Appointment.objects.get().starts_at == first.starts_at


def test_a_made_up_slot_is_a_form_error_and_books_nothing(client, front_desk, patient_a, schedule):
    client.force_login(front_desk)
    response = client.post(reverse("treatments:book", args=[patient_a.pk]), {"slot": "nonsense"})
    assert response.context["form"].errors["slot"] == ["Choose one of the offered slots."]
    assert not Appointment.objects.exists()


def test_a_booked_patient_is_sent_to_move_their_visit(client, front_desk, booked_appointment):
    client.force_login(front_desk)
    response = client.get(reverse("treatments:book", args=[booked_appointment.patient.pk]))
    assert response["Location"] == reverse(
        "treatments:appointment_reschedule", args=[booked_appointment.pk]
    )


def test_the_location_list_is_used_for_booking_elsewhere(client, front_desk, patient_a, schedule):
    other = Location.objects.create(
        name="Harbour Clinic", address="x", phone="+441174960100", time_zone="Europe/London"
    )
    client.force_login(front_desk)
    page = client.get(reverse("treatments:book", args=[patient_a.pk]), {"location": other.pk})
    assert page.context["location"] == other
    assert page.context["slots"] == []  # nobody injects there


def test_a_no_show_or_a_cancellation_publishes_a_new_calendar_version(
    booked_appointment, front_desk, time_machine
):
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=15))
    noshow = set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    assert noshow.sequence == 1


def test_the_no_double_booking_guards_survive_every_migration(db):
    # SQLite drops triggers when a migration rebuilds the table; post_migrate puts them back
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            names = {row[0] for row in cursor.fetchall()}
        assert {"appt_no_overlap_insert", "appt_no_overlap_update"} <= names
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT conname FROM pg_constraint WHERE contype = 'x'")
            names = {row[0] for row in cursor.fetchall()}
        assert {"appt_no_clinician_overlap", "appt_no_patient_overlap"} <= names
