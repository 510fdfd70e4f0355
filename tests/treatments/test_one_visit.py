"""One next injection visit per patient, however the bookings arrive: the booking service
refuses a second one under its lock, and the database refuses it too."""

import datetime
import re
from functools import partial

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from patients.models import ContactConsent
from tests.concurrency import LiveSession, at_once, logged_in
from tests.conftest import clinic_today, give_totp_device, local, make_patient, next_weekday
from treatments.models import Appointment, Reminder
from treatments.services import BookingError, book_appointment, cancel_appointment


def book(patient, clinician, location, starts_at, by, kind=Appointment.Kind.INJECTION):
    return book_appointment(
        patient=patient,
        clinician=clinician,
        location=location,
        starts_at=starts_at,
        booked_by=by,
        kind=kind,
    )


def test_a_second_injection_visit_is_refused_and_names_the_first(schedule, clinician, front_desk):
    patient = make_patient(1, location=schedule)
    first = book(patient, clinician, schedule, local(next_weekday(1), 10), front_desk)

    with pytest.raises(BookingError) as refused:
        book(patient, clinician, schedule, local(next_weekday(3), 15, 30), front_desk)

    assert "already has an injection visit booked" in refused.value.message
    assert f"{first.local_starts_at:%a %d %b %Y %H:%M}" in refused.value.message
    assert list(Appointment.objects.all()) == [first]


def test_a_cancelled_visit_frees_the_patient_to_book_again(schedule, clinician, front_desk):
    patient = make_patient(1, location=schedule)
    first = book(patient, clinician, schedule, local(next_weekday(1), 10), front_desk)
    cancel_appointment(appointment=first, reason="Patient unwell", by=front_desk)

    again = book(patient, clinician, schedule, local(next_weekday(3), 15, 30), front_desk)

    assert again.status == Appointment.Status.BOOKED


def test_a_review_may_sit_beside_the_booked_injection(schedule, clinician, front_desk):
    patient = make_patient(1, location=schedule)
    book(patient, clinician, schedule, local(next_weekday(1), 10), front_desk)

    review = book(
        patient, clinician, schedule, local(next_weekday(3), 9), front_desk, Appointment.Kind.REVIEW
    )

    assert review.kind == Appointment.Kind.REVIEW


def test_the_database_refuses_a_second_active_injection_visit_on_every_write_path(
    schedule, clinician, front_desk
):
    patient = make_patient(1, location=schedule)
    first = book(patient, clinician, schedule, local(next_weekday(1), 10), front_desk)
    later = local(next_weekday(3), 15)
    second = book(
        patient, clinician, schedule, later, front_desk, kind=Appointment.Kind.REVIEW
    )  # a review, then turned into an injection below
    cancelled = book(patient, clinician, schedule, local(next_weekday(4), 9), front_desk, "review")
    cancel_appointment(appointment=cancelled, reason="Not needed", by=front_desk)
    table = Appointment._meta.db_table
    copy = {
        "patient": patient,
        "clinician": clinician,
        "location": schedule,
        "booked_by": front_desk,
        "starts_at": local(next_weekday(2), 11),
        "ends_at": local(next_weekday(2), 11, 30),
    }
    writes = [
        lambda: Appointment.objects.create(**copy),
        lambda: Appointment.objects.bulk_create([Appointment(**copy)]),
        lambda: Appointment.objects.filter(pk=second.pk).update(kind="injection"),
        lambda: Appointment.objects.filter(pk=cancelled.pk).update(
            status="booked", kind="injection"
        ),
        lambda: connection.cursor().execute(
            f"UPDATE {table} SET kind = 'injection' WHERE id = %s", [second.pk]
        ),
    ]
    for write in writes:
        with pytest.raises(IntegrityError), transaction.atomic():
            write()

    injections = Appointment.objects.active().filter(kind="injection")
    assert list(injections) == [first]


@pytest.mark.django_db(transaction=True)
def test_twenty_requests_at_once_for_one_patient_book_one_visit(schedule, clinician, front_desk):
    # Given one patient and twenty free slots on four days
    patient = make_patient(1, location=schedule)
    slots = [
        local(next_weekday(day), hour, minute)
        for day in (1, 2, 3, 4)
        for hour, minute in ((9, 0), (10, 30), (13, 0), (15, 30), (16, 30))
    ]
    url = reverse("treatments:book", args=[patient.pk])

    # When twenty desks (or one impatient double click) book them all at the same moment
    def book_one(desk, starts_at):
        response = desk.post(url, {"slot": f"{clinician.pk}|{starts_at.isoformat()}"})
        return response.status_code, response.get("Location", "")

    results = at_once([partial(book_one, logged_in(front_desk), slot) for slot in slots])

    # Then one visit is booked; every other request was told so: the form's error, or (once
    # the booking is in) the move page of that visit; never a 500
    [visit] = Appointment.objects.filter(patient=patient)
    move = reverse("treatments:appointment_reschedule", args=[visit.pk])
    booked = [where for status, where in results if status == 302 and where != move]
    told = [status for status, where in results if status == 200 or where == move]
    assert len(booked) == 1, results
    assert len(told) == 19, results


def test_a_booking_sent_again_shows_the_booking_it_made(schedule, clinician, front_desk, client):
    # Given a booking just made (the first of a double click, or a form sent again)
    patient = make_patient(1, location=schedule)
    give_totp_device(front_desk)
    client.force_login(front_desk)
    url = reverse("treatments:book", args=[patient.pk])
    slot = {"slot": f"{clinician.pk}|{local(next_weekday(2), 15, 30).isoformat()}"}
    first = client.post(url, slot)

    # When the same booking arrives again
    again = client.post(url, slot, follow=True)

    # Then it lands where the first did and says the visit is booked, once
    assert again.redirect_chain[0][0] == first["Location"]
    assert "Booked: " in again.content.decode()
    assert Appointment.objects.filter(patient=patient).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_for_the_same_slot_both_show_the_one_booking(
    schedule, clinician, front_desk
):
    patient = make_patient(1, location=schedule)
    slot = {"slot": f"{clinician.pk}|{local(next_weekday(2), 15, 30).isoformat()}"}
    url = reverse("treatments:book", args=[patient.pk])

    def book_it(desk):
        response = desk.post(url, slot)
        return response.status_code, response["Location"]

    results = at_once([partial(book_it, logged_in(front_desk)) for _ in range(2)])

    [visit] = Appointment.objects.filter(patient=patient)
    calendar = f"{reverse('treatments:calendar')}?location={schedule.pk}"
    assert [status for status, _ in results] == [302, 302]
    assert all(where.startswith(calendar) for _, where in results), results
    assert visit.starts_at == local(next_weekday(2), 15, 30)


@pytest.mark.parametrize(
    ("iso", "error"),
    [
        ("9999-12-31T23:59:59+00:00", "within the next two years"),
        ("9999-12-31T23:59:59-05:00", "within the next two years"),
        ("0001-01-01T00:00:00+00:00", "That time has passed"),
    ],
)
def test_a_slot_at_either_end_of_the_calendar_is_a_form_error(
    schedule, clinician, front_desk, client, iso, error
):
    # A slot value naming the first or last second the calendar holds: reading it in the
    # location's zone, or adding a day to it, overflowed
    patient = make_patient(1, location=schedule)
    give_totp_device(front_desk)
    client.force_login(front_desk)

    response = client.post(
        reverse("treatments:book", args=[patient.pk]), {"slot": f"{clinician.pk}|{iso}"}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Appointment.objects.exists()


# --- through HTTP: a live server, real sockets, one logged-in desk ------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_http_requests_at_once_for_one_patient_book_one_visit_with_its_reminders_once(
    live_server, schedule, clinician, front_desk
):
    # Given one patient who agreed to email and SMS, twenty free slots on four days, and a
    # front desk logged in (past the second factor) in a browser: its session and CSRF cookies
    patient = make_patient(1, location=schedule)
    for channel in ("email", "sms"):
        ContactConsent.objects.create(
            patient=patient, channel=channel, granted=True, source="written"
        )
    monday = next_weekday(0, after=clinic_today() + datetime.timedelta(days=7))
    slots = [
        local(monday + datetime.timedelta(days=day), hour, minute)
        for day in (0, 1, 2, 3)
        for hour, minute in ((9, 0), (10, 30), (13, 0), (15, 30), (16, 30))
    ]
    desk = LiveSession(live_server, front_desk)
    path = f"{reverse('treatments:book', args=[patient.pk])}?from={monday}"
    status, _, page = desk.get(path)
    assert status == 200
    offered = set(re.findall(r'name="slot" value="([^"]+)"', page))
    posts = [{"slot": f"{clinician.pk}|{at.isoformat()}"} for at in slots]
    assert {post["slot"] for post in posts} <= offered

    # When the twenty slots are clicked at the same moment (twenty tabs, one session)
    def post(data):
        status, headers, _ = desk.post(path, data)
        return status, headers.get("Location", "")

    results = at_once([partial(post, data) for data in posts])

    # Then one visit is booked, every other request told so (the form's error, or the move
    # page of that visit), none failed; and the visit's reminders are planned once each
    [visit] = Appointment.objects.filter(patient=patient)
    assert visit.status == Appointment.Status.BOOKED
    move = reverse("treatments:appointment_reschedule", args=[visit.pk])
    calendar = reverse("treatments:calendar")
    assert len(results) == 20
    assert all(status in (200, 302) for status, _ in results), results
    booked = [where for status, where in results if status == 302 and where.startswith(calendar)]
    told = [status for status, where in results if status == 200 or where == move]
    assert len(booked) == 1, results
    assert len(told) == 19, results
    reminders = list(Reminder.objects.filter(patient=patient).values_list("kind", "channel"))
    assert reminders
    assert len(reminders) == len(set(reminders)), reminders
    assert set(Reminder.objects.filter(patient=patient).values_list("appointment", flat=True)) == {
        visit.pk
    }
