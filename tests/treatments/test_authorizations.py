"""Prior authorizations guard booking (issue 16, item 1): an injection visit of a patient with
an authorization on file is refused past its end, before it starts, beyond its sessions and
above its units, on every write path (the service, the staff forms, the portal), unless a
clinician overrides it with a reason, which is kept."""

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.conftest import clinic_today, local, visit_day
from treatments.models import Appointment, AppointmentEvent, PriorAuthorization
from treatments.services import BookingError, book_appointment, reschedule_appointment
from treatments.services.authorizations import (
    authorization_state,
    record_authorization,
    with_usage,
)
from treatments.services.schedule import book_own_visit

DAY = datetime.timedelta(days=1)
LONG_AGO = datetime.date(2026, 1, 1)  # before the signed session (2026-03-02, 155 U)


def authorize(patient, by, *, valid_from=LONG_AGO, valid_to=None, sessions=4, units=620):
    return record_authorization(
        patient=patient,
        by=by,
        payer="Aetna",
        reference="PA-77812",
        sessions_approved=sessions,
        units_approved=units,
        valid_from=valid_from,
        valid_to=valid_to or visit_day() + 60 * DAY,
    )


@pytest.fixture
def given(schedule, signed_session, front_desk):
    """patient_b, with one signed 155 U session on 2026-03-02 and nothing booked."""
    return signed_session.patient


def book(patient, clinician, by, day=None, **extra):
    return book_appointment(
        patient=patient,
        clinician=clinician,
        location=patient.location,
        starts_at=local(day or visit_day(), 10),
        booked_by=by,
        **extra,
    )


# --- the service -------------------------------------------------------------------------------


def test_a_patient_with_no_authorization_on_file_is_not_checked(given, clinician, front_desk):
    visit = book(given, clinician, front_desk)
    assert visit.authorization_override_reason is None


def test_a_visit_the_authorization_covers_is_booked(given, clinician, front_desk):
    authorize(given, front_desk, sessions=2, units=310)  # 155 given + 155 planned = 310
    visit = book(given, clinician, front_desk)
    assert visit.status == "booked"
    assert visit.authorization_override_reason is None


def test_booking_past_the_authorizations_end_is_refused(given, clinician, front_desk):
    authorize(given, front_desk, valid_to=visit_day() - DAY)
    with pytest.raises(BookingError) as refused:
        book(given, clinician, front_desk)
    assert "past the end of the prior authorization PA-77812" in refused.value.message
    assert refused.value.field == "slot"
    assert not Appointment.objects.exists()


def test_booking_before_the_authorization_starts_is_refused(given, clinician, front_desk):
    authorize(given, front_desk, valid_from=visit_day() + DAY)
    with pytest.raises(BookingError) as refused:
        book(given, clinician, front_desk)
    assert "before the prior authorization PA-77812" in refused.value.message
    assert f"starts on {visit_day() + DAY:%d %b %Y}" in refused.value.message


def test_booking_beyond_the_authorized_sessions_is_refused(given, clinician, front_desk):
    authorize(given, front_desk, sessions=1)  # the session of 2026-03-02 used it
    with pytest.raises(BookingError) as refused:
        book(given, clinician, front_desk)
    assert "sessions of the prior authorization PA-77812 are used up" in refused.value.message
    assert "1 approved, 1 given and 0 booked" in refused.value.message


def test_booking_above_the_authorized_units_is_refused(given, clinician, front_desk):
    authorize(given, front_desk, units=309)  # 155 given + 155 planned = 310
    with pytest.raises(BookingError) as refused:
        book(given, clinician, front_desk)
    assert "units of the prior authorization PA-77812 would be exceeded" in refused.value.message
    assert "309 U approved, 155 U given, 155 U planned" in refused.value.message


def test_a_session_given_outside_the_period_does_not_count(given, clinician, front_desk):
    authorize(given, front_desk, valid_from=datetime.date(2026, 3, 3), sessions=1, units=155)
    assert book(given, clinician, front_desk).authorization_override_reason is None


def test_a_review_visit_is_not_checked(given, clinician, front_desk):
    authorize(given, front_desk, valid_to=visit_day() - DAY)
    visit = book(given, clinician, front_desk, kind=Appointment.Kind.REVIEW)
    assert visit.kind == "review"


def test_a_clinician_overrides_with_a_reason_kept_on_the_visit_and_its_event(given, clinician):
    authorize(given, clinician, valid_to=visit_day() - DAY)
    visit = book(given, clinician, clinician, authorization_reason="  Renewal sent 3 Dec  ")
    assert visit.authorization_override_reason == "Renewal sent 3 Dec"
    event = AppointmentEvent.objects.get(appointment=visit, action="booked")
    assert "Past the prior authorization: Renewal sent 3 Dec" in event.note


def test_a_clinician_without_a_reason_is_asked_for_one(given, clinician):
    authorize(given, clinician, sessions=1)
    with pytest.raises(BookingError) as refused:
        book(given, clinician, clinician, authorization_reason="   ")
    assert refused.value.field == "authorization_reason"
    assert "give the reason" in refused.value.message


def test_the_front_desk_cannot_override(given, clinician, front_desk):
    authorize(given, front_desk, units=200)
    with pytest.raises(BookingError) as refused:
        book(given, clinician, front_desk, authorization_reason="Please")
    assert "Only a clinician can book it anyway" in refused.value.message


def test_moving_a_visit_past_the_authorizations_end_is_refused(given, clinician, front_desk):
    visit = book(given, clinician, front_desk)
    authorize(given, front_desk, valid_to=visit_day() + 6 * DAY)
    with pytest.raises(BookingError) as refused:
        reschedule_appointment(
            appointment=visit, starts_at=local(visit_day() + 7 * DAY, 10), by=front_desk
        )
    assert "past the end of the prior authorization" in refused.value.message
    visit.refresh_from_db()
    assert visit.starts_at == local(visit_day(), 10)


def test_moving_a_visit_within_the_period_does_not_count_it_twice(given, clinician, front_desk):
    authorize(given, front_desk, sessions=2)  # one given, this visit the second
    visit = book(given, clinician, front_desk)
    moved = reschedule_appointment(
        appointment=visit, starts_at=local(visit_day() + DAY, 11), by=front_desk
    )
    assert moved.authorization_override_reason is None


def test_moving_with_a_clinicians_override_keeps_the_reason(given, clinician, front_desk):
    visit = book(given, clinician, front_desk)
    authorize(given, front_desk, valid_to=visit_day() + 6 * DAY)
    moved = reschedule_appointment(
        appointment=visit,
        starts_at=local(visit_day() + 7 * DAY, 10),
        by=clinician,
        authorization_reason="Payer agreed by phone",
    )
    assert moved.authorization_override_reason == "Payer agreed by phone"
    event = moved.events.get(action="rescheduled")
    assert "Payer agreed by phone" in event.note


def test_the_visits_booked_in_the_period_count_as_used(given, clinician, front_desk):
    authorize(given, front_desk, sessions=2)
    visit = book(given, clinician, front_desk)
    row = with_usage(PriorAuthorization.objects.all()).get()
    assert (row.sessions_given, row.units_given, row.visits_booked) == (1, 155, 1)
    assert authorization_state(row, visit.local_starts_at.date()) == "used_up"
    row = with_usage(PriorAuthorization.objects.all(), ignore=visit).get()
    assert row.visits_booked == 0


# --- the staff forms ---------------------------------------------------------------------------


def slot(clinician, day=None):
    return f"{clinician.pk}|{local(day or visit_day(), 10).isoformat()}"


def test_the_booking_page_shows_the_refusal(client, given, clinician, front_desk):
    authorize(given, front_desk, valid_to=visit_day() - DAY)
    client.force_login(front_desk)
    url = reverse("treatments:book", args=[given.pk])
    response = client.post(url, {"slot": slot(clinician)})
    assert response.status_code == 200
    assert "past the end of the prior authorization PA-77812" in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_booking_page_says_a_patient_without_authorization_is_not_checked(
    client, given, front_desk
):
    client.force_login(front_desk)
    page = client.get(reverse("treatments:book", args=[given.pk])).content.decode()
    assert "No prior authorization on file" in page
    assert "self-pay" in page
    assert 'name="authorization_reason"' not in page


def test_only_a_clinician_sees_the_override_field(client, given, clinician, front_desk):
    authorize(given, front_desk)
    url = reverse("treatments:book", args=[given.pk])
    client.force_login(front_desk)
    assert 'name="authorization_reason"' not in client.get(url).content.decode()
    client.force_login(clinician)
    assert 'name="authorization_reason"' in client.get(url).content.decode()


def test_a_clinician_books_past_the_authorization_with_the_form(client, given, clinician):
    authorize(given, clinician, units=200)
    client.force_login(clinician)
    url = reverse("treatments:book", args=[given.pk])
    refused = client.post(url, {"slot": slot(clinician)})
    assert "would be exceeded" in refused.content.decode()
    response = client.post(url, {"slot": slot(clinician), "authorization_reason": "Appeal won"})
    assert response.status_code == 302
    assert Appointment.objects.get().authorization_override_reason == "Appeal won"


def test_the_move_page_refuses_past_the_authorization(client, given, clinician, front_desk):
    visit = book(given, clinician, front_desk)
    authorize(given, front_desk, valid_to=visit_day() + 6 * DAY)
    client.force_login(front_desk)
    url = reverse("treatments:appointment_reschedule", args=[visit.pk])
    response = client.post(url, {"slot": slot(clinician, visit_day() + 7 * DAY)})
    assert "past the end of the prior authorization" in response.content.decode()


# --- the portal ----------------------------------------------------------------------------------


def test_the_portal_asks_the_patient_to_call_the_clinic(given, clinician, front_desk):
    authorize(given, front_desk, valid_to=clinic_today())
    with pytest.raises(BookingError) as refused:
        book_own_visit(patient=given, clinician=clinician, starts_at=local(visit_day(), 10))
    assert refused.value.message.startswith("Please call the clinic")
    assert not Appointment.objects.exists()


def test_the_portal_page_offers_no_times_past_the_authorization(
    client, given, clinician, front_desk
):
    authorize(given, front_desk, valid_to=clinic_today())
    client.force_login(given.user)
    page = client.get(reverse("portal:book")).content.decode()
    assert "Please call the clinic" in page
    assert 'id="days"' not in page
    response = client.post(reverse("portal:book"), {"slot": slot(clinician)})
    assert "Please call the clinic" in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_portal_offers_times_the_authorization_covers(client, given, front_desk):
    authorize(given, front_desk, valid_from=LONG_AGO, valid_to=clinic_today() + 400 * DAY)
    client.force_login(given.user)
    page = client.get(reverse("portal:book")).content.decode()
    assert "Please call the clinic" not in page
    assert 'id="days"' in page


# --- the database ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"valid_from": datetime.date(2026, 5, 2), "valid_to": datetime.date(2026, 5, 1)},
        {"sessions_approved": 0},
        {"units_approved": 0},
    ],
)
def test_the_database_refuses_an_impossible_authorization(patient_b, front_desk, fields):
    values = {
        "patient": patient_b,
        "created_by": front_desk,
        "payer": "Aetna",
        "reference": "X",
        "sessions_approved": 1,
        "units_approved": 155,
        "valid_from": datetime.date(2026, 5, 1),
        "valid_to": datetime.date(2026, 8, 1),
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        PriorAuthorization.objects.create(**(values | fields))


@pytest.mark.parametrize("reason", ["", "   "])
def test_the_database_refuses_a_blank_override_reason(given, clinician, front_desk, reason):
    visit = book(given, clinician, front_desk)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=visit.pk).update(authorization_override_reason=reason)
