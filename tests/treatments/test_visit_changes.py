"""No-show, check-in and their undo (issue "Records a clinician can trust", item 10): a visit
is marked a no-show only once it has started, checked in only on its local day, and either can
be undone on the day it was recorded. The rules are the service's; the calendar asks first."""

import datetime

import pytest
from django.urls import reverse

from tests.conftest import fresh_vials, local, session_input, visit_day
from treatments.models import Appointment, AppointmentEvent, Reminder
from treatments.services import BookingError, record_session, set_appointment_status
from treatments.services.schedule import undo_appointment_status

MINUTE = datetime.timedelta(minutes=1)


def status_of(appointment) -> str:
    return Appointment.objects.get(pk=appointment.pk).status


def actions(appointment) -> list[str]:
    return list(
        AppointmentEvent.objects.filter(appointment=appointment).values_list("action", flat=True)
    )


# --- the rules, in the service ----------------------------------------------------------------


def test_a_no_show_before_the_visit_starts_is_refused(booked_appointment, front_desk, time_machine):
    # Given the visit starts in a minute
    time_machine.move_to(booked_appointment.starts_at - MINUTE)

    # When the desk marks it a no-show, Then it is refused and nothing changes
    with pytest.raises(BookingError, match="before"):
        set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    assert status_of(booked_appointment) == "booked"
    assert actions(booked_appointment) == ["booked"]
    assert not Reminder.objects.filter(kind="rebook_noshow").exists()


def test_a_no_show_a_month_ahead_is_refused(booked_appointment, front_desk):
    # The clock is real: visit_day() is more than a week away
    with pytest.raises(BookingError):
        set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    assert status_of(booked_appointment) == "booked"
    assert not Reminder.objects.filter(kind="rebook_noshow").exists()


def test_a_no_show_once_the_visit_has_started_is_recorded(
    booked_appointment, front_desk, time_machine
):
    time_machine.move_to(booked_appointment.starts_at + MINUTE)
    set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    assert status_of(booked_appointment) == "noshow"
    assert actions(booked_appointment) == ["booked", "noshow"]


@pytest.mark.parametrize(
    "when",
    [
        # 23:30 the evening before in New York: already the visit's date in UTC
        lambda: local(visit_day() - datetime.timedelta(days=1), 23, 30),
        # the day after, at the same hour
        lambda: local(visit_day() + datetime.timedelta(days=1), 10),
    ],
    ids=["the evening before", "the day after"],
)
def test_check_in_on_another_local_day_is_refused(
    booked_appointment, front_desk, time_machine, when
):
    time_machine.move_to(when())
    with pytest.raises(BookingError, match="day"):
        set_appointment_status(appointment=booked_appointment, status="arrived", by=front_desk)
    assert status_of(booked_appointment) == "booked"
    assert actions(booked_appointment) == ["booked"]


@pytest.mark.parametrize("hour", [0, 8, 23])
def test_check_in_on_the_visits_local_day_is_recorded(
    booked_appointment, front_desk, time_machine, hour
):
    # From local midnight (05:00 UTC) to 23:00 (04:00 UTC the next day) of the visit's day
    time_machine.move_to(local(visit_day(), hour))
    set_appointment_status(appointment=booked_appointment, status="arrived", by=front_desk)
    assert status_of(booked_appointment) == "arrived"


# --- undo ---------------------------------------------------------------------------------------


def test_undoing_a_no_show_the_same_day_books_the_visit_again_and_cancels_the_rebook_message(
    booked_appointment, front_desk, clinician, time_machine
):
    # Given a no-show recorded at 10:20, with its "please rebook" message planned
    time_machine.move_to(booked_appointment.starts_at + 20 * MINUTE)
    noshow = set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    rebook = Reminder.objects.get(appointment=booked_appointment, kind="rebook_noshow")
    assert rebook.status == "pending"

    # When the patient turns up at 10:40 and the desk undoes it
    time_machine.move_to(booked_appointment.starts_at + 40 * MINUTE)
    undone = undo_appointment_status(appointment=booked_appointment, by=clinician)

    # Then the visit is booked again (a new calendar version), the message is cancelled and
    # the undo is in the visit's history
    assert undone.status == "booked"
    assert status_of(booked_appointment) == "booked"
    assert undone.sequence == noshow.sequence + 1
    rebook.refresh_from_db()
    assert rebook.status == "cancelled"
    event = AppointmentEvent.objects.filter(appointment=booked_appointment).last()
    assert (event.action, event.by) == ("undo_noshow", clinician)
    # and the patient can be checked in now
    set_appointment_status(appointment=booked_appointment, status="arrived", by=front_desk)
    assert status_of(booked_appointment) == "arrived"


def test_undoing_a_check_in_the_same_day_books_the_visit_again(
    booked_appointment, front_desk, time_machine
):
    time_machine.move_to(booked_appointment.starts_at - 10 * MINUTE)
    set_appointment_status(appointment=booked_appointment, status="arrived", by=front_desk)
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)

    undo_appointment_status(appointment=booked_appointment, by=front_desk)

    assert status_of(booked_appointment) == "booked"
    assert actions(booked_appointment) == ["booked", "arrived", "undo_arrived"]


@pytest.mark.parametrize("status", ["noshow", "arrived"])
def test_an_undo_after_the_day_it_was_recorded_is_refused(
    booked_appointment, front_desk, time_machine, status
):
    # Given a check-in or a no-show recorded on the visit's day
    time_machine.move_to(booked_appointment.starts_at + 30 * MINUTE)
    set_appointment_status(appointment=booked_appointment, status=status, by=front_desk)
    rebooks = list(Reminder.objects.filter(kind="rebook_noshow").values_list("status", flat=True))

    # When someone tries to undo it the next morning (still the same day in UTC until 19:00 ET)
    day = booked_appointment.local_starts_at.date()
    time_machine.move_to(local(day + datetime.timedelta(days=1), 0, 30))
    with pytest.raises(BookingError, match="day"):
        undo_appointment_status(appointment=booked_appointment, by=front_desk)

    # Then nothing changed
    assert status_of(booked_appointment) == status
    assert actions(booked_appointment) == ["booked", status]
    assert (
        list(Reminder.objects.filter(kind="rebook_noshow").values_list("status", flat=True))
        == rebooks
    )


@pytest.mark.parametrize("status", ["booked", "cancelled", "fulfilled"])
def test_only_a_check_in_or_a_no_show_can_be_undone(booked_appointment, front_desk, status):
    Appointment.objects.filter(pk=booked_appointment.pk).update(status=status, cancel_reason="x")
    with pytest.raises(BookingError):
        undo_appointment_status(appointment=booked_appointment, by=front_desk)
    assert status_of(booked_appointment) == status


def test_a_no_show_whose_slot_was_taken_since_cannot_be_undone(
    booked_appointment, front_desk, patient_a, clinician, time_machine
):
    # Given a no-show at 10:00, and the freed slot given to another patient at 10:05
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)
    set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    Appointment.objects.create(
        patient=patient_a,
        location=booked_appointment.location,
        clinician=clinician,
        starts_at=booked_appointment.starts_at,
        ends_at=booked_appointment.ends_at,
        booked_by=front_desk,
    )

    # When the desk tries to undo the no-show, Then it is refused, not a crash
    with pytest.raises(BookingError, match="slot"):
        undo_appointment_status(appointment=booked_appointment, by=front_desk)
    assert status_of(booked_appointment) == "noshow"


def test_a_check_in_with_a_session_recorded_cannot_be_undone(
    booked_appointment, front_desk, clinician, location, time_machine
):
    time_machine.move_to(booked_appointment.starts_at)
    set_appointment_status(appointment=booked_appointment, status="arrived", by=front_desk)
    when = booked_appointment.starts_at
    record_session(
        patient=booked_appointment.patient,
        injector=clinician,
        data=session_input(location, when=when, vials=fresh_vials(when)),
    )
    with pytest.raises(BookingError, match="session"):
        undo_appointment_status(appointment=booked_appointment, by=front_desk)
    assert status_of(booked_appointment) == "arrived"


# --- the calendar asks first ------------------------------------------------------------------


class Desk:
    """The front desk's browser, logged in afresh at each request: the tests move the clock
    by days, beyond the idle session's 30 minutes."""

    def __init__(self, client, user):
        self.client, self.user = client, user

    def get(self, *args, **kwargs):
        self.client.force_login(self.user)
        return self.client.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        self.client.force_login(self.user)
        return self.client.post(*args, **kwargs)


@pytest.fixture
def desk(client, front_desk):
    return Desk(client, front_desk)


def status_url(appointment) -> str:
    return reverse("treatments:appointment_status", args=[appointment.pk])


def undo_url(appointment) -> str:
    return reverse("treatments:appointment_undo", args=[appointment.pk])


@pytest.mark.parametrize("status", ["noshow", "arrived"])
def test_the_calendar_button_asks_for_confirmation_and_changes_nothing(
    desk, booked_appointment, time_machine, status
):
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)

    response = desk.post(status_url(booked_appointment), {"status": status, "view": "week"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ben Patel" in html
    assert 'name="confirm" value="yes"' in html
    assert f'name="status" value="{status}"' in html
    assert 'name="view" value="week"' in html
    assert status_of(booked_appointment) == "booked"
    assert actions(booked_appointment) == ["booked"]


@pytest.mark.parametrize("status", ["noshow", "arrived"])
def test_confirming_changes_the_status_and_goes_back_to_the_calendar(
    desk, booked_appointment, time_machine, status
):
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)
    response = desk.post(status_url(booked_appointment), {"status": status, "confirm": "yes"})
    assert response.status_code == 302
    assert status_of(booked_appointment) == status


def test_a_no_show_before_the_start_through_the_calendar_is_refused_with_a_message(
    desk, booked_appointment
):
    response = desk.post(
        status_url(booked_appointment), {"status": "noshow", "confirm": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert "before" in response.content.decode()
    assert status_of(booked_appointment) == "booked"


@pytest.mark.parametrize(
    "data",
    [
        {"status": "noshow", "confirm": "maybe"},
        {"status": "noshow", "confirm": ["yes", "no"]},
        {"status": "noshow", "confirm": "yes" * 1000},
    ],
)
def test_a_hostile_confirmation_is_a_400_and_changes_nothing(
    desk, booked_appointment, time_machine, data
):
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)
    response = desk.post(status_url(booked_appointment), data)
    assert response.status_code == 400
    assert status_of(booked_appointment) == "booked"


@pytest.mark.parametrize(
    "data",
    [
        {"status": "<script>", "confirm": "yes"},
        {"status": "noshow", "confirm": "yes", "view": "<script>", "clinician": "1 OR 1=1"},
        {"status": "noshow", "confirm": "yes", "clinician": "9" * 40},
        {},
    ],
)
def test_hostile_status_posts_never_crash(desk, booked_appointment, time_machine, data):
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)
    assert desk.post(status_url(booked_appointment), data).status_code in (302, 400)
    assert desk.post(undo_url(booked_appointment), data).status_code in (302, 400)


def test_the_calendar_offers_undo_for_todays_no_show_and_undo_asks_first(
    desk, booked_appointment, front_desk, time_machine
):
    # Given today's visit marked a no-show
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)
    set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    calendar = reverse("treatments:calendar")
    day = booked_appointment.local_starts_at.date()
    query = f"?location={booked_appointment.location_id}&date={day.isoformat()}"

    # When the desk opens today's calendar, Then it offers an undo
    html = desk.get(calendar + query).content.decode()
    assert f'action="{undo_url(booked_appointment)}"' in html

    # And pressing it asks first
    asked = desk.post(undo_url(booked_appointment), {})
    assert asked.status_code == 200
    assert 'name="confirm" value="yes"' in asked.content.decode()
    assert status_of(booked_appointment) == "noshow"

    # And confirming books the visit again
    done = desk.post(undo_url(booked_appointment), {"confirm": "yes"}, follow=True)
    assert "Undone" in done.content.decode()
    assert status_of(booked_appointment) == "booked"


def test_an_undo_the_next_day_through_the_calendar_is_refused_with_a_message(
    desk, booked_appointment, front_desk, time_machine
):
    time_machine.move_to(booked_appointment.starts_at + 5 * MINUTE)
    set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(days=1))
    response = desk.post(undo_url(booked_appointment), {"confirm": "yes"}, follow=True)
    assert response.status_code == 200
    assert "day" in response.content.decode()
    assert status_of(booked_appointment) == "noshow"


def test_a_patient_gets_404_on_the_undo_url(client, booked_appointment, patient_b):
    client.force_login(patient_b.user)
    assert client.post(undo_url(booked_appointment), {"confirm": "yes"}).status_code == 404
