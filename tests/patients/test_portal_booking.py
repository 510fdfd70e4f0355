"""Patients book and move their own injection visit in the portal (issue 14 part 3): within
their window (treatments.services.schedule.self_booking_window), at their usual location, with
the front desk's guarantees."""

import contextlib
import datetime
import re
import zoneinfo
from functools import partial
from urllib.parse import urlencode

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import Location, User
from tests.clinic.test_hostile_input import hostile_values
from tests.concurrency import at_once, logged_in
from tests.conftest import clinic_today, local, make_patient, make_user
from treatments.models import (
    Appointment,
    AppointmentEvent,
    InjectorDay,
    OpeningHours,
    Reminder,
    TreatmentCourse,
)
from treatments.services import BookingError, book_appointment
from treatments.services.schedule import (
    BookingWindow,
    book_own_visit,
    move_own_visit,
    self_booking_slots,
    self_booking_window,
)

DAY = datetime.timedelta(days=1)


def give_course(patient, *, last_session_days_ago: int) -> TreatmentCourse:
    """An active course whose last session was given that many (clinic) days ago."""
    today = clinic_today()
    return TreatmentCourse.objects.create(
        patient=patient,
        started_on=today - datetime.timedelta(days=400),
        last_session_on=today - datetime.timedelta(days=last_session_days_ago),
    )


@pytest.fixture
def every_day(location, clinician):
    """The location opens every day of the week 09:00-17:00 (30-minute slots) and the
    clinician injects every day: any date of a window has slots."""
    for weekday in range(7):
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens=datetime.time(9), closes=datetime.time(17)
        )
        InjectorDay.objects.create(clinician=clinician, location=location, weekday=weekday)
    return location


@pytest.fixture
def alice(client, patient_a, every_day):
    """Alice (patient_a) logged in, last treated 80 days ago: her window is today + 4 (day
    84) to today + 17 (day 97, the day before she is overdue)."""
    give_course(patient_a, last_session_days_ago=80)
    client.force_login(patient_a.user)
    return client


def slot_value(clinician, starts_at) -> str:
    return f"{clinician.pk}|{starts_at.isoformat()}"


def in_days(days: int) -> datetime.date:
    return clinic_today() + datetime.timedelta(days=days)


# --- the window --------------------------------------------------------------------------------


def test_the_window_runs_from_the_earliest_date_to_the_day_before_the_overdue_date(patient_a):
    course = give_course(patient_a, last_session_days_ago=80)
    window = self_booking_window(patient_a, clinic_today())
    assert window == BookingWindow(course.earliest_on, course.overdue_from - DAY)
    assert (window.first, window.last, window.late) == (in_days(4), in_days(17), False)


def test_the_window_starts_tomorrow_once_the_earliest_date_has_passed(patient_a):
    give_course(patient_a, last_session_days_ago=90)
    window = self_booking_window(patient_a, clinic_today())
    assert (window.first, window.last, window.late) == (in_days(1), in_days(7), False)


def test_the_lead_time_is_a_setting(patient_a, settings):
    settings.PORTAL_BOOKING_LEAD_DAYS = 3
    give_course(patient_a, last_session_days_ago=90)
    assert self_booking_window(patient_a, clinic_today()).first == in_days(3)


@pytest.mark.parametrize("days_ago", [97, 98, 150, 700])
def test_a_patient_with_no_day_left_before_overdue_gets_four_weeks_from_tomorrow(
    patient_a, days_ago
):
    # Day 97 today: tomorrow is the overdue date itself
    give_course(patient_a, last_session_days_ago=days_ago)
    window = self_booking_window(patient_a, clinic_today())
    assert (window.first, window.last, window.late) == (in_days(1), in_days(28), True)


def test_no_window_before_the_first_session_without_a_course_or_a_usual_location(
    patient_a, patient_b
):
    assert self_booking_window(patient_a, clinic_today()) is None  # no course
    TreatmentCourse.objects.create(patient=patient_a, started_on=clinic_today())
    assert self_booking_window(patient_a, clinic_today()) is None  # no session yet
    give_course(patient_b, last_session_days_ago=80)
    patient_b.location = None
    assert self_booking_window(patient_b, clinic_today()) is None


@pytest.mark.parametrize(
    ("days", "allowed"),
    [
        (3, False),  # the day before the earliest date (day 83)
        (4, True),  # the earliest date (day 84)
        (17, True),  # the day before the overdue date (day 97)
        (18, False),  # the overdue date (day 98)
    ],
)
def test_the_window_edges_hold_in_the_service(patient_a, every_day, clinician, days, allowed):
    give_course(patient_a, last_session_days_ago=80)
    starts_at = local(in_days(days), 10)
    if allowed:
        visit = book_own_visit(patient=patient_a, clinician=clinician, starts_at=starts_at)
        assert (visit.starts_at, visit.booked_by) == (starts_at, patient_a.user)
    else:
        with pytest.raises(BookingError, match="Choose a day from"):
            book_own_visit(patient=patient_a, clinician=clinician, starts_at=starts_at)
        assert not Appointment.objects.exists()


def test_a_patient_past_the_overdue_date_can_book_tomorrow_but_not_after_four_weeks(
    patient_a, every_day, clinician
):
    give_course(patient_a, last_session_days_ago=120)
    with pytest.raises(BookingError):
        book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(29), 10))
    visit = book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(1), 9))
    assert visit.status == Appointment.Status.BOOKED


def test_a_patient_cannot_book_before_their_first_session(patient_a, every_day, clinician):
    TreatmentCourse.objects.create(patient=patient_a, started_on=clinic_today())
    with pytest.raises(BookingError, match="call the clinic"):
        book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(5), 10))


# --- the pages ---------------------------------------------------------------------------------


def test_the_page_lists_the_windows_days_then_the_times_of_the_day_chosen(alice, clinician):
    html = alice.get(reverse("portal:book")).content.decode()
    days = re.findall(r'href="\?day=(\d{4}-\d{2}-\d{2})"', html)
    assert days == [in_days(n).isoformat() for n in range(4, 18)]
    assert 'name="slot"' not in html  # a day first

    html = alice.get(reverse("portal:book"), {"day": in_days(5).isoformat()}).content.decode()
    values = re.findall(r'name="slot" value="([^"]+)"', html)
    assert len(values) == 16  # 09:00 to 16:30
    assert values[0] == slot_value(clinician, local(in_days(5), 9))
    assert "America/New York, E" in html  # the clinic's zone, named (EST or EDT)
    assert "data-submit-once" in html


def test_a_day_outside_the_window_or_garbage_shows_the_days_only(alice):
    for day in (in_days(1).isoformat(), "9999-12-31", "0001-01-01", "x", "2026-02-30"):
        response = alice.get(reverse("portal:book"), {"day": day})
        assert response.status_code == 200
        assert 'name="slot"' not in response.content.decode()


def test_booking_a_time_makes_the_visit_the_home_page_and_the_calendar_show(
    alice, patient_a, clinician, front_desk, client
):
    starts_at = local(in_days(6), 14, 30)
    response = alice.post(reverse("portal:book"), {"slot": slot_value(clinician, starts_at)})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")

    visit = Appointment.objects.get()
    assert (visit.patient, visit.location, visit.kind) == (
        patient_a,
        patient_a.location,
        "injection",
    )
    assert (visit.starts_at, visit.booked_by, visit.early_override_reason) == (
        starts_at,
        patient_a.user,
        "",
    )
    assert AppointmentEvent.objects.get(appointment=visit).by == patient_a.user
    assert Reminder.objects.filter(appointment=visit, status="pending").exists()

    home = alice.get(reverse("portal:home")).content.decode()
    assert f"14:30 {visit.local_starts_at:%Z}" in home
    assert reverse("portal:move", args=[visit.pk]) in home

    client.force_login(front_desk)
    calendar = client.get(
        reverse("treatments:calendar"),
        {"location": visit.location_id, "date": in_days(6).isoformat()},
    ).content.decode()
    assert "Morgan" in calendar


def test_the_home_page_offers_booking_only_to_a_patient_with_a_window(client, patient_a, schedule):
    client.force_login(patient_a.user)
    assert reverse("portal:book") not in client.get(reverse("portal:home")).content.decode()
    give_course(patient_a, last_session_days_ago=80)
    assert reverse("portal:book") in client.get(reverse("portal:home")).content.decode()


def test_a_review_booked_does_not_hide_booking_the_next_injection(alice, patient_a, clinician):
    review = book_appointment(
        patient=patient_a,
        clinician=clinician,
        location=patient_a.location,
        starts_at=local(in_days(2), 10, 0),
        booked_by=clinician,
        kind=Appointment.Kind.REVIEW,
    )
    home = alice.get(reverse("portal:home")).content.decode()
    assert f"10:00 {review.local_starts_at:%Z}" in home  # the review is the next visit shown
    assert reverse("portal:book") in home  # and the injection can still be booked
    book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(6), 14, 30))
    assert reverse("portal:book") not in alice.get(reverse("portal:home")).content.decode()


def test_a_patient_before_their_first_session_is_asked_to_call(client, patient_a, every_day):
    client.force_login(patient_a.user)
    html = client.get(reverse("portal:book")).content.decode()
    assert 'id="ask-the-clinic"' in html
    assert "Riverside Clinic" in html
    assert 'name="slot"' not in html


def test_a_taken_slot_is_a_form_error_that_changes_nothing(alice, clinician, front_desk):
    starts_at = local(in_days(6), 10)
    other = make_patient(9, location=alice_location())
    book_appointment(
        patient=other,
        clinician=clinician,
        location=other.location,
        starts_at=starts_at,
        booked_by=front_desk,
    )
    response = alice.post(
        reverse("portal:book") + f"?day={in_days(6).isoformat()}",
        {"slot": slot_value(clinician, starts_at)},
    )
    assert response.status_code == 200
    assert "no longer free" in str(response.context["form"].errors)
    assert Appointment.objects.get().patient == other


def alice_location() -> Location:
    return Location.objects.get()


@pytest.mark.parametrize("days", [1, 3, 18, 40])
def test_a_hand_made_slot_outside_the_window_is_refused(alice, clinician, days):
    response = alice.post(
        reverse("portal:book"), {"slot": slot_value(clinician, local(in_days(days), 10))}
    )
    assert response.status_code == 200
    assert "Choose a day from" in str(response.context["form"].errors)
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x",
        "\x00",
        "1|",
        "1|not-a-date",
        "1|2026-01-01T09:00:00",  # naive
        "999999|2027-01-04T15:00:00+00:00",  # nobody
        "1|9999-12-31T23:59:59+00:00",
        "1|0001-01-01T00:00:00+00:00",
        "99999999999999999999999|2027-01-04T15:00:00+00:00",
        "1|2|3",
    ],
)
def test_garbage_slot_values_are_form_errors(alice, value):
    response = alice.post(reverse("portal:book"), {"slot": value})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Appointment.objects.exists()


def test_a_front_desk_users_slot_value_cannot_make_the_visit_someone_elses(
    alice, patient_a, patient_b, clinician
):
    # The form names a time and a clinician only: the patient is always the logged-in one
    alice.post(
        reverse("portal:book"),
        {"slot": slot_value(clinician, local(in_days(5), 9)), "patient": patient_b.pk},
    )
    assert Appointment.objects.get().patient == patient_a


def test_a_repeat_of_a_booking_that_succeeded_shows_the_booking(alice, clinician):
    data = {"slot": slot_value(clinician, local(in_days(5), 9))}
    alice.post(reverse("portal:book"), data)
    response = alice.post(reverse("portal:book"), data, follow=True)
    assert "Booked: your visit is on" in response.content.decode()
    assert Appointment.objects.count() == 1


def test_a_patient_with_a_visit_is_sent_to_move_it(alice, patient_a, clinician):
    visit = book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(5), 9))
    response = alice.post(
        reverse("portal:book"), {"slot": slot_value(clinician, local(in_days(6), 9))}
    )
    assert response["Location"] == reverse("portal:move", args=[visit.pk])
    assert Appointment.objects.get().starts_at == local(in_days(5), 9)


# --- moving ------------------------------------------------------------------------------------


def test_moving_keeps_the_visit_and_the_home_page_shows_the_new_time(alice, patient_a, clinician):
    visit = book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(5), 9))
    url = reverse("portal:move", args=[visit.pk])
    html = alice.get(url, {"day": in_days(7).isoformat()}).content.decode()
    assert slot_value(clinician, local(in_days(7), 15, 30)) in html
    assert reverse("portal:change", args=[visit.pk]) in html  # "ask for another date" stays

    response = alice.post(url, {"slot": slot_value(clinician, local(in_days(7), 15, 30))})
    assert response["Location"] == reverse("portal:home")
    moved = Appointment.objects.get()
    assert (moved.pk, moved.starts_at, moved.sequence) == (visit.pk, local(in_days(7), 15, 30), 1)
    assert moved.events.get(action="rescheduled").by == patient_a.user
    # the old time's reminders are cancelled, the new time's planned (in the same transaction)
    pending = Reminder.objects.filter(appointment=moved, status="pending")
    assert pending.exists()
    assert {reminder.subject_key for reminder in pending} == {f"appointment:{moved.pk}:1"}
    assert f"15:30 {moved.local_starts_at:%Z}" in alice.get(reverse("portal:home")).content.decode()

    # the same request again (a double click) shows the move and changes nothing more
    again = alice.post(url, {"slot": slot_value(clinician, local(in_days(7), 15, 30))}, follow=True)
    assert "Moved: your visit is on" in again.content.decode()
    assert Appointment.objects.get().sequence == 1


def test_the_move_page_does_not_offer_the_visits_own_time(alice, patient_a, clinician):
    visit = book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(5), 9))
    html = alice.get(
        reverse("portal:move", args=[visit.pk]), {"day": in_days(5).isoformat()}
    ).content.decode()
    assert slot_value(clinician, local(in_days(5), 9)) not in html
    assert slot_value(clinician, local(in_days(5), 9, 30)) in html


def test_another_patients_visit_cannot_be_moved(client, patient_a, booked_appointment, clinician):
    alice = client
    alice.force_login(patient_a.user)
    give_course(patient_a, last_session_days_ago=80)
    url = reverse("portal:move", args=[booked_appointment.pk])
    assert alice.get(url).status_code == 404
    response = alice.post(url, {"slot": slot_value(clinician, local(in_days(5), 9))})
    assert response.status_code == 404
    assert Appointment.objects.get(pk=booked_appointment.pk).sequence == 0


def test_a_visit_a_clinician_booked_early_stays_staff_only(alice, patient_a, clinician):
    visit = book_appointment(
        patient=patient_a,
        clinician=clinician,
        location=patient_a.location,
        starts_at=local(in_days(2), 9),
        booked_by=clinician,
        early_reason="Worsening headaches",
    )
    url = reverse("portal:move", args=[visit.pk])
    html = alice.get(url).content.decode()
    assert 'id="staff-only"' in html
    assert "booked this visit early" in html
    assert 'name="slot"' not in html
    assert reverse("portal:change", args=[visit.pk]) in html
    assert url not in alice.get(reverse("portal:home")).content.decode()

    response = alice.post(url, {"slot": slot_value(clinician, local(in_days(6), 9))})
    assert "only the clinic can move it" in str(response.context["form"].errors)
    assert Appointment.objects.get().starts_at == local(in_days(2), 9)
    with pytest.raises(BookingError):
        move_own_visit(appointment=visit, clinician=clinician, starts_at=local(in_days(6), 9))


def test_a_move_to_a_taken_slot_or_outside_the_window_changes_nothing(
    alice, patient_a, clinician, front_desk
):
    visit = book_own_visit(patient=patient_a, clinician=clinician, starts_at=local(in_days(5), 9))
    other = make_patient(9, location=patient_a.location)
    book_appointment(
        patient=other,
        clinician=clinician,
        location=other.location,
        starts_at=local(in_days(6), 9),
        booked_by=front_desk,
    )
    url = reverse("portal:move", args=[visit.pk])
    for starts_at, error in [
        (local(in_days(6), 9), "no longer free"),
        (local(in_days(18), 9), "Choose a day from"),
        (local(in_days(2), 9), "Choose a day from"),
    ]:
        response = alice.post(url, {"slot": slot_value(clinician, starts_at)})
        assert error in str(response.context["form"].errors)
    visit.refresh_from_db()
    assert (visit.starts_at, visit.sequence) == (local(in_days(5), 9), 0)


# --- query count -------------------------------------------------------------------------------


def test_the_slot_list_keeps_a_constant_query_count(
    alice, patient_a, clinician, front_desk, django_assert_max_num_queries
):
    url = reverse("portal:book")
    params = {"day": in_days(6).isoformat()}

    def count() -> int:
        with django_assert_max_num_queries(16) as captured:
            assert alice.get(url, params).status_code == 200
        return len(captured)

    few = count()
    # Given many more clinicians, patients and visits in the window
    for n in range(4):
        other = make_user(f"injector{n}", User.Role.CLINICIAN)
        for weekday in range(7):
            InjectorDay.objects.create(
                clinician=other, location=patient_a.location, weekday=weekday
            )
    for n in range(30):
        other = make_patient(100 + n, location=patient_a.location)
        book_appointment(
            patient=other,
            clinician=clinician,
            location=other.location,
            starts_at=local(in_days(4 + n % 14), 9 + n // 14),
            booked_by=front_desk,
        )
    assert count() == few


# --- every slot offered is one the patient may take ---------------------------------------------


ZONES = ["America/New_York", "Europe/London"]


# the property test's instant: a Saturday evening in New York, the night before US DST starts
NOW = datetime.datetime(2027, 3, 13, 23, 30, tzinfo=datetime.UTC)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    days_ago=st.integers(60, 130),
    lead=st.integers(0, 3),
    weekdays=st.sets(st.integers(0, 6), min_size=1),
    bookings=st.lists(
        st.tuples(
            st.sampled_from(["other", "own_review"]),
            st.integers(0, 30),  # days from today
            st.integers(8 * 4, 17 * 4),  # quarter hours of the day: off the 30-minute grid too
            st.sampled_from([15, 30, 45, 60]),
        ),
        max_size=12,
    ),
)
def test_every_offered_slot_is_in_the_window_at_the_usual_location_and_free(
    patient_a, clinician, front_desk, settings, zone, days_ago, lead, weekdays, bookings
):
    settings.PORTAL_BOOKING_LEAD_DAYS = lead
    with time_machine.travel(NOW, tick=False), transaction.atomic():
        location = patient_a.location
        location.time_zone = zone
        location.save()
        elsewhere = Location.objects.create(name="Elsewhere", time_zone=zone)
        second = make_user("second", User.Role.CLINICIAN)
        for weekday in weekdays:
            OpeningHours.objects.create(
                location=location, weekday=weekday, opens=datetime.time(9), closes=datetime.time(17)
            )
            OpeningHours.objects.create(
                location=elsewhere,
                weekday=weekday,
                opens=datetime.time(8),
                closes=datetime.time(18),
            )
            InjectorDay.objects.create(clinician=clinician, location=location, weekday=weekday)
            InjectorDay.objects.create(clinician=second, location=elsewhere, weekday=weekday)
        give_course(patient_a, last_session_days_ago=days_ago)
        other = make_patient(9, location=location)
        for n, (who, days, quarter, minutes) in enumerate(bookings):
            starts_at = local(in_days(days), quarter // 4, 15 * (quarter % 4), zone=zone)
            ends_at = starts_at + datetime.timedelta(minutes=minutes)
            # Written as they might be in the clinic's history (another grid, another
            # location); an overlap the database refuses is left out
            with contextlib.suppress(IntegrityError), transaction.atomic():
                Appointment.objects.create(
                    patient=other if who == "other" else patient_a,
                    clinician=clinician if who == "other" else second,
                    location=location if who == "other" else elsewhere,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    kind="injection" if who == "other" and n == 0 else "review",
                    booked_by=front_desk,
                )
        patient_a.refresh_from_db()

        window = self_booking_window(patient_a, NOW.astimezone(zoneinfo.ZoneInfo(zone)).date())
        slots = self_booking_slots(patient_a, window)

        busy = list(
            Appointment.objects.active()
            .filter(Q(clinician=clinician) | Q(patient=patient_a))
            .values_list("starts_at", "ends_at")
        )
        if window.days >= 7:  # every weekday is in it, and a dozen visits fill no day
            assert slots
        for slot in slots:
            assert slot.location == location
            assert slot.local_starts_at.date() in window
            assert slot.starts_at > NOW
            assert not any(start < slot.ends_at and end > slot.starts_at for start, end in busy)
            assert slot.local_starts_at.weekday() in weekdays
        transaction.set_rollback(True)


# --- hostile input and races -------------------------------------------------------------------


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(slot=hostile_values(), day=hostile_values())
def test_hostile_slots_and_days_never_give_a_server_error(alice, patient_a, slot, day):
    for url in (reverse("portal:book"), reverse("portal:move", args=[visit_of(patient_a).pk])):
        response = alice.post(f"{url}?{urlencode({'day': day})}", {"slot": slot})
        assert response.status_code in (200, 302, 400)
        assert alice.get(url, {"day": day}).status_code in (200, 302, 400)
    assert Appointment.objects.get().starts_at == local(in_days(5), 9)


def visit_of(patient) -> Appointment:
    """The patient's booked visit (the test's example makes it once, at 09:00 on day 85)."""
    visit = Appointment.objects.filter(patient=patient).first()
    if visit is None:
        visit = book_own_visit(
            patient=patient, clinician=patient.primary_clinician, starts_at=local(in_days(5), 9)
        )
    return visit


@pytest.mark.django_db(transaction=True)
def test_ten_requests_at_once_from_one_patient_book_one_visit(patient_a, every_day, clinician):
    # Given Alice's window, and ten free times on five days
    give_course(patient_a, last_session_days_ago=80)
    times = [local(in_days(days), hour) for days in range(5, 10) for hour in (9, 14)]

    # When ten of her requests (tabs, a double click) book them all at the same moment
    def book_one(phone, starts_at):
        response = phone.post(reverse("portal:book"), {"slot": slot_value(clinician, starts_at)})
        return response.status_code, response.get("Location", "")

    results = at_once([partial(book_one, logged_in(patient_a.user), at) for at in times])

    # Then one visit is booked; every other request was told so (the form's error, or the
    # page to move that visit); never a 500
    [visit] = Appointment.objects.filter(patient=patient_a)
    move = reverse("portal:move", args=[visit.pk])
    booked = [where for status, where in results if status == 302 and where != move]
    told = [status for status, where in results if status == 200 or where == move]
    assert booked == [reverse("portal:home")], results
    assert len(told) == 9, results
