"""Closures of a location and leave of a clinician (issue 14, part 2): the database refuses a
malformed one, only the clinic admin sets them, nothing inside one is offered or bookable, the
visits a new one covers are kept and listed to be moved."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from clinic.models import Location, User
from tests.conftest import local, make_patient, make_user, next_weekday, visit_day
from treatments.models import Appointment, Closure, InjectorDay
from treatments.services import (
    BookingError,
    available_slots,
    book_appointment,
    reschedule_appointment,
)
from treatments.services.closures import visits_in_closures, visits_inside

T = datetime.time


def refused(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def times(slots, clinician=None):
    return [
        s.local_starts_at.strftime("%H:%M")
        for s in slots
        if clinician is None or s.clinician == clinician
    ]


# --- the database's rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"location": True, "clinician": True},  # both owners
        {},  # no owner
        {"location": True, "from_time": T(13), "to_time": T(12)},  # times the wrong way round
        {"location": True, "from_time": T(13), "to_time": T(13)},  # an empty part day
        {"location": True, "reason": ""},
    ],
)
def test_the_database_refuses_a_malformed_closure(location, clinician, fields):
    values = {"day": datetime.date(2026, 12, 25), "reason": "Christmas Day"} | fields
    values["location"] = location if fields.get("location") else None
    values["clinician"] = clinician if fields.get("clinician") else None
    refused(lambda: Closure.objects.create(**values))
    assert not Closure.objects.exists()


def test_a_raw_insert_with_both_owners_is_refused_by_the_database(location, clinician):
    sql = (
        "INSERT INTO treatments_closure (location_id, clinician_id, day, reason) "
        "VALUES (%s, %s, %s, %s)"
    )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [location.pk, clinician.pk, "2026-12-25", "Christmas Day"])
    assert not Closure.objects.exists()


def test_whole_days_open_ended_and_part_days_are_allowed(location, clinician):
    day = datetime.date(2026, 12, 24)
    Closure.objects.create(location=location, day=day, reason="Christmas Eve", from_time=T(13))
    Closure.objects.create(clinician=clinician, day=day, reason="Dentist", to_time=T(10))
    Closure.objects.create(
        clinician=clinician, day=day, reason="Course", from_time=T(14), to_time=T(16)
    )
    Closure.objects.create(
        location=location, day=day + datetime.timedelta(days=1), reason="Christmas Day"
    )
    assert Closure.objects.count() == 4


def test_a_closure_is_read_in_the_zone_it_is_given(location):
    closure = Closure(location=location, day=datetime.date(2027, 3, 14), reason="Holiday")
    start, end = closure.bounds(location.zone)
    # New York springs forward that night: the local day is 23 hours long
    length = end.astimezone(datetime.UTC) - start.astimezone(datetime.UTC)
    assert (start.hour, end.hour, length) == (0, 0, datetime.timedelta(hours=23))
    part = Closure(location=location, day=datetime.date(2027, 3, 14), from_time=T(13), reason="x")
    assert part.bounds(location.zone)[0] == local(datetime.date(2027, 3, 14), 13)


# --- who sets them -----------------------------------------------------------------------------


def test_only_the_clinic_admin_may_add_change_or_delete_closures(
    clinic_admin, front_desk, clinician
):
    for action in ("add", "change", "delete"):
        assert clinic_admin.has_perm(f"treatments.{action}_closure")
        assert not front_desk.has_perm(f"treatments.{action}_closure")
        assert not clinician.has_perm(f"treatments.{action}_closure")


def closure_form(location=None, clinician=None, day=None, **fields):
    return {
        "location": location.pk if location else "",
        "clinician": clinician.pk if clinician else "",
        "day": (day or datetime.date(2026, 12, 25)).isoformat(),
        "from_time": "",
        "to_time": "",
        "reason": "Christmas Day",
        **fields,
    }


def test_the_clinic_admin_adds_a_closure_in_the_admin(client, clinic_admin, location):
    client.force_login(clinic_admin)
    response = client.post(reverse("admin:treatments_closure_add"), closure_form(location))
    assert response.status_code == 302
    assert Closure.objects.get().location == location


def test_the_admin_form_refuses_a_closure_of_both_a_location_and_a_clinician(
    client, clinic_admin, location, clinician
):
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:treatments_closure_add"), closure_form(location, clinician)
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Closure.objects.exists()


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_the_front_desk_and_clinicians_cannot_set_closures(client, personas, location, role):
    client.force_login(personas[role])
    response = client.post(reverse("admin:treatments_closure_add"), closure_form(location))
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert not Closure.objects.exists()


def test_saving_a_closure_over_a_booked_visit_keeps_it_and_says_so(
    client, clinic_admin, booked_appointment
):
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:treatments_closure_add"),
        closure_form(booked_appointment.location, day=visit_day(), reason="Flood"),
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert any("1 booked visit falls inside it and is kept" in m for m in shown)
    assert reverse("treatments:closure_visit_list") in "".join(shown)
    booked_appointment.refresh_from_db()
    assert booked_appointment.status == Appointment.Status.BOOKED


# --- the slot search ---------------------------------------------------------------------------


def test_a_whole_day_closure_offers_nothing_that_day(schedule, clinician):
    monday = next_weekday(0)
    Closure.objects.create(location=schedule, day=monday, reason="Bank holiday")
    slots = available_slots(location=schedule, start_date=monday, days=2)
    assert {s.local_starts_at.date() for s in slots} == {monday + datetime.timedelta(days=1)}


def test_a_part_day_closure_takes_out_only_the_slots_it_touches(schedule, clinician):
    monday = next_weekday(0)
    Closure.objects.create(
        location=schedule, day=monday, from_time=T(10, 15), to_time=T(12), reason="Drill"
    )
    Closure.objects.create(location=schedule, day=monday, from_time=T(16), reason="Early close")
    slots = available_slots(location=schedule, start_date=monday, days=1)
    assert times(slots) == ["09:00", "09:30", "12:00", "12:30", "13:00", "13:30", "14:00"] + [
        "14:30",
        "15:00",
        "15:30",
    ]


def test_leave_takes_out_only_that_clinicians_slots(schedule, clinician):
    other = make_user("dr2", User.Role.CLINICIAN, first_name="Ben", last_name="Ode")
    monday = next_weekday(0)
    InjectorDay.objects.create(clinician=other, location=schedule, weekday=0)
    Closure.objects.create(clinician=clinician, day=monday, to_time=T(11), reason="Leave")
    slots = available_slots(location=schedule, start_date=monday, days=1)
    assert times(slots, clinician)[0] == "11:00"
    assert times(slots, other)[0] == "09:00"
    assert len(times(slots, other)) == 16


def test_another_locations_closure_changes_nothing_here(schedule, clinician):
    other = Location.objects.create(name="Hillside", time_zone="Europe/London")
    monday = next_weekday(0)
    Closure.objects.create(location=other, day=monday, reason="Closed")
    assert len(available_slots(location=schedule, start_date=monday, days=1)) == 16


def test_leave_is_read_in_the_zone_of_the_location_the_clinician_is_at(schedule, clinician):
    # Leave until 10:00 on a day at the New York location: 10:00 New York time, not London's
    monday = next_weekday(0)
    Closure.objects.create(clinician=clinician, day=monday, to_time=T(10), reason="School run")
    assert times(available_slots(location=schedule, start_date=monday, days=1))[0] == "10:00"


# --- booking and moving ------------------------------------------------------------------------


def test_booking_inside_a_closure_is_refused_and_names_it(schedule, clinician, front_desk):
    monday = next_weekday(0)
    Closure.objects.create(location=schedule, day=monday, reason="Christmas Day")
    with pytest.raises(BookingError) as error:
        book_appointment(
            patient=make_patient(1, location=schedule),
            clinician=clinician,
            location=schedule,
            starts_at=local(monday, 10),
            booked_by=front_desk,
        )
    assert error.value.message == "Riverside Clinic is closed then: Christmas Day."
    assert error.value.field == "slot"
    assert not Appointment.objects.exists()


def test_booking_inside_a_closure_through_the_page_is_a_form_error_and_changes_nothing(
    client, schedule, clinician, front_desk
):
    patient = make_patient(1, location=schedule)
    monday = next_weekday(0)
    Closure.objects.create(location=schedule, day=monday, from_time=T(15), reason="Staff training")
    client.force_login(front_desk)
    response = client.post(
        reverse("treatments:book", args=[patient.pk]),
        {"slot": f"{clinician.pk}|{local(monday, 15, 30).isoformat()}"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["slot"]
    assert errors == ["Riverside Clinic is closed then: Staff training."]
    assert not Appointment.objects.exists()


def test_moving_a_visit_into_the_clinicians_leave_is_refused_and_keeps_it(
    booked_appointment, clinician, front_desk
):
    day = visit_day() + datetime.timedelta(days=1)
    Closure.objects.create(clinician=clinician, day=day, reason="Annual leave")
    with pytest.raises(BookingError) as error:
        reschedule_appointment(
            appointment=booked_appointment, starts_at=local(day, 11), by=front_desk
        )
    assert error.value.message == f"{clinician} is away then: Annual leave."
    before = booked_appointment.starts_at
    booked_appointment.refresh_from_db()
    assert (booked_appointment.starts_at, booked_appointment.sequence) == (before, 0)


# --- the visits a closure covers ---------------------------------------------------------------


def test_a_new_closure_keeps_the_visits_it_covers_and_lists_them(booked_appointment, front_desk):
    Closure.objects.create(
        location=booked_appointment.location, day=visit_day(), from_time=T(9), reason="Flood"
    )
    booked_appointment.refresh_from_db()
    assert booked_appointment.status == Appointment.Status.BOOKED
    listed = list(visits_in_closures(now=booked_appointment.booked_at))
    assert listed == [booked_appointment]
    assert listed[0].closure_reason == "Flood"


@pytest.mark.parametrize(
    ("fields", "caught"),
    [
        ({"to_time": T(10)}, False),  # ends as the 10:00 visit starts
        ({"from_time": T(10, 30)}, False),  # starts as it ends
        ({"from_time": T(10, 15), "to_time": T(10, 20)}, True),
        ({}, True),
    ],
)
def test_a_closure_covers_a_visit_only_if_their_times_meet(booked_appointment, fields, caught):
    closure = Closure.objects.create(
        location=booked_appointment.location, day=visit_day(), reason="Works", **fields
    )
    now = booked_appointment.booked_at
    assert list(visits_in_closures(now=now)) == ([booked_appointment] if caught else [])
    assert visits_inside(closure, now=now).count() == int(caught)


def test_leave_covers_the_clinicians_visits_only(booked_appointment, clinician):
    other = make_user("dr2", User.Role.CLINICIAN)
    Closure.objects.create(clinician=other, day=visit_day(), reason="Leave")
    now = booked_appointment.booked_at
    assert not visits_in_closures(now=now).exists()
    Closure.objects.create(clinician=clinician, day=visit_day(), reason="Leave")
    assert list(visits_in_closures(now=now)) == [booked_appointment]


def test_a_cancelled_or_past_visit_is_not_listed(booked_appointment, front_desk):
    Closure.objects.create(location=booked_appointment.location, day=visit_day(), reason="Flood")
    later = booked_appointment.ends_at
    assert not visits_in_closures(now=later).exists()
    Appointment.objects.filter(pk=booked_appointment.pk).update(
        status="cancelled", cancel_reason="Flood"
    )
    assert not visits_in_closures(now=booked_appointment.booked_at).exists()


@pytest.mark.parametrize("visits", [1, 5])
def test_the_visits_in_closures_page_lists_them_with_a_move_link_in_constant_queries(
    client, front_desk, schedule, clinician, visits, django_assert_max_num_queries
):
    monday = next_weekday(0)
    for n in range(visits):
        starts_at = local(monday, 9 + n)
        Appointment.objects.create(
            patient=make_patient(300 + n, location=schedule),
            clinician=clinician,
            location=schedule,
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(minutes=30),
            booked_by=front_desk,
        )
    Closure.objects.create(location=schedule, day=monday, reason="Christmas Day")  # then
    client.force_login(front_desk)
    # session, user, the count, the page's rows (with the reason), the audit INSERT, the
    # session's sliding expiry (3)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("treatments:closure_visit_list"))
    page = response.content.decode()
    assert page.count("Christmas Day") == visits
    for visit in Appointment.objects.all():
        assert reverse("treatments:appointment_reschedule", args=[visit.pk]) in page


@pytest.mark.parametrize("role", ["front_desk", "clinician", "clinic_admin"])
def test_every_staff_role_reaches_the_page_from_the_menu(client, personas, role):
    client.force_login(personas[role])
    home = client.get(reverse("treatments:due_list")).content.decode()
    assert reverse("treatments:closure_visit_list") in home
    assert client.get(reverse("treatments:closure_visit_list")).status_code == 200


def test_a_hostile_page_number_is_the_first_page(client, front_desk):
    client.force_login(front_desk)
    response = client.get(reverse("treatments:closure_visit_list"), {"page": "x'; --"})
    assert response.status_code == 200


# --- the database's guard ----------------------------------------------------------------------


def visit_at(starts_at, location, clinician, by, status="booked", number=1):
    return Appointment.objects.create(
        patient=make_patient(number, location=location),
        clinician=clinician,
        location=location,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        status=status,
        cancel_reason="Moved away" if status == "cancelled" else "",
        booked_by=by,
    )


def test_the_database_refuses_a_new_visit_inside_a_closure(schedule, clinician, front_desk):
    monday = next_weekday(0)
    Closure.objects.create(location=schedule, day=monday, from_time=T(10), reason="Works")
    refused(lambda: visit_at(local(monday, 10), schedule, clinician, front_desk))
    refused(lambda: visit_at(local(monday, 9, 45), schedule, clinician, front_desk, number=2))
    visit_at(local(monday, 9, 30), schedule, clinician, front_desk, number=3)  # ends at 10:00
    visit_at(local(monday, 11), schedule, clinician, front_desk, "cancelled", number=4)
    assert Appointment.objects.count() == 2


def test_the_database_refuses_a_visit_moved_into_leave_read_in_its_locations_zone(
    booked_appointment, clinician
):
    day = visit_day() + datetime.timedelta(days=1)
    Closure.objects.create(clinician=clinician, day=day, to_time=T(10), reason="Leave")
    moved = Appointment.objects.filter(pk=booked_appointment.pk)
    refused(lambda: moved.update(starts_at=local(day, 9, 30), ends_at=local(day, 10)))
    moved.update(starts_at=local(day, 10), ends_at=local(day, 10, 30))  # New York's 10:00


def test_the_visits_a_new_closure_covers_can_still_change_status_and_move_out(
    booked_appointment, front_desk
):
    from treatments.services import cancel_appointment

    Closure.objects.create(location=booked_appointment.location, day=visit_day(), reason="Flood")
    booked_appointment.confirmed_at = booked_appointment.booked_at
    booked_appointment.save()  # a save that moves nothing is not refused
    moved = reschedule_appointment(
        appointment=booked_appointment,
        starts_at=local(visit_day() + datetime.timedelta(days=1), 10),
        by=front_desk,
    )
    assert moved.sequence == 1
    cancel_appointment(appointment=moved, reason="Patient unwell", by=front_desk)
    assert Appointment.objects.get().status == Appointment.Status.CANCELLED
