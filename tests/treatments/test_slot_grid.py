"""Issue 14, part 1: the staff slot grid. A week of every free slot at a location, times down
and days across, one click a slot; both locations reachable for booking and for moving; the
earliest and overdue dates marked; a constant number of queries; garbage parameters refused."""

import datetime
import re

import pytest
from django.urls import reverse

from clinic.models import User
from patients.models import ContactConsent
from tests.conftest import (
    clinic_today,
    local,
    london,
    make_patient,
    make_user,
    next_weekday,
    visit_day,
)
from treatments.models import (
    Appointment,
    AppointmentEvent,
    Closure,
    InjectorDay,
    OpeningHours,
    Reminder,
    TreatmentCourse,
)
from treatments.services import BookingError, reschedule_appointment
from treatments.services.schedule import Slot

SLOT = re.compile(r'<button type="submit" name="slot" value="([^"]+)"([^>]*)>(.*?)</button>')


def slot_buttons(response) -> list[tuple[str, bool, str]]:
    """(value, disabled, accessible text) of every slot button on the page."""
    return [
        (value, "disabled" in attrs, re.sub(r"<[^>]+>", "", text))
        for value, attrs, text in SLOT.findall(response.content.decode())
    ]


def book_page(client, patient, **params):
    return client.get(reverse("treatments:book", args=[patient.pk]), params)


# --- the grid ------------------------------------------------------------------------------------


def day_header(response, day: datetime.date) -> str:
    """The text of a day's column header (its date and marks)."""
    cell = re.search(rf'<th scope="col" data-day="{day.isoformat()}">(.*?)</th>', response.text)
    assert cell is not None
    return re.sub(r"<[^>]+>", "", cell.group(1))


def test_the_grid_marks_the_weeks_closures_and_leave_and_offers_no_slot_in_them(
    client, front_desk, schedule, clinician, patient_a
):
    # Given the clinic closed on the Wednesday and the clinician away on Thursday afternoon
    monday = visit_day()
    wednesday, thursday = (monday + datetime.timedelta(days=n) for n in (2, 3))
    Closure.objects.create(location=schedule, day=wednesday, reason="Staff training")
    Closure.objects.create(
        clinician=clinician, day=thursday, from_time=datetime.time(13), reason="Conference"
    )
    client.force_login(front_desk)

    # When the front desk opens that week's grid
    response = book_page(client, patient_a, **{"from": monday.isoformat()})

    # Then both days say why in their headers, and no slot falls inside either
    assert "closed: Staff training" in day_header(response, wednesday)
    assert f"{clinician} away from 13:00: Conference" in day_header(response, thursday)
    assert "closed" not in day_header(response, monday)
    starts = [
        Slot.parse_value(value)[1].astimezone(schedule.zone)
        for value, _, _ in slot_buttons(response)
    ]
    assert starts
    assert not [start for start in starts if start.date() == wednesday]
    thursday_times = {start.time() for start in starts if start.date() == thursday}
    assert thursday_times
    assert max(thursday_times) == datetime.time(12, 30)


def test_the_grid_shows_every_free_slot_of_the_week_afternoons_included(
    client, front_desk, schedule, clinician, patient_a, patient_b
):
    # Given a week ahead with one visit booked on its Tuesday at 10:00
    monday = visit_day()
    taken = local(monday + datetime.timedelta(days=1), 10)
    Appointment.objects.create(
        patient=patient_b,
        clinician=clinician,
        location=schedule,
        starts_at=taken,
        ends_at=taken + datetime.timedelta(minutes=30),
        booked_by=front_desk,
        cycle_number=1,
    )
    client.force_login(front_desk)

    # When the front desk opens Alice's booking grid on any day of that week
    response = book_page(
        client, patient_a, **{"from": (monday + datetime.timedelta(3)).isoformat()}
    )

    # Then every free slot of Monday to Friday is a button (16 a day, less the one taken),
    # 15:30 and 16:30 included, each named by its day, time and clinician
    buttons = slot_buttons(response)
    offered = {value for value, _, _ in buttons}
    days = [monday + datetime.timedelta(days=d) for d in range(5)]
    every = {
        f"{clinician.pk}|{local(day, 9 + n // 2, 30 * (n % 2)).isoformat()}"
        for day in days
        for n in range(16)
    }
    assert offered == every - {f"{clinician.pk}|{taken.isoformat()}"}
    assert len(buttons) == 79
    thursday = monday + datetime.timedelta(days=3)
    assert f"{thursday:%A} {thursday.day} {thursday:%B} 15:30, with Ama Osei" in {
        text for _, _, text in buttons
    }
    assert not any(disabled for _, disabled, _ in buttons)
    page = response.content.decode()
    assert response.context["start"] == monday
    assert '<th scope="row">15:30</th>' in page
    assert page.count('<th scope="col"') == 8  # the times, then Monday to Sunday
    assert "Times in America/New_York, E" in page  # the zone, named


def test_one_click_on_the_1530_slot_books_it(client, front_desk, schedule, clinician, patient_a):
    client.force_login(front_desk)
    thursday = next_weekday(3, after=visit_day())
    slot = f"{clinician.pk}|{local(thursday, 15, 30).isoformat()}"
    assert slot in {
        value
        for value, _, _ in slot_buttons(
            book_page(client, patient_a, **{"from": thursday.isoformat()})
        )
    }

    response = client.post(reverse("treatments:book", args=[patient_a.pk]), {"slot": slot})

    assert response.status_code == 302
    visit = Appointment.objects.get(patient=patient_a)
    assert visit.local_starts_at == local(thursday, 15, 30)


def test_the_clinician_filter_shows_one_clinicians_slots(
    client, front_desk, schedule, clinician, patient_a
):
    other = make_user("second", User.Role.CLINICIAN, first_name="Ben", last_name="Ode")
    InjectorDay.objects.create(clinician=other, location=schedule, weekday=5)  # a Saturday list
    OpeningHours.objects.create(
        location=schedule, weekday=5, opens=datetime.time(9), closes=datetime.time(12)
    )
    client.force_login(front_desk)
    monday = visit_day()

    everyone = slot_buttons(book_page(client, patient_a, **{"from": monday.isoformat()}))
    only_ben = slot_buttons(
        book_page(client, patient_a, **{"from": monday.isoformat(), "clinician": other.pk})
    )

    assert len(everyone) == 5 * 16 + 6
    assert len(only_ben) == 6
    assert all(text.endswith("with Ben Ode") for _, _, text in only_ben)


def test_the_default_week_is_the_week_of_the_earliest_bookable_date(
    client, front_desk, schedule, patient_a
):
    earliest = clinic_today() + datetime.timedelta(days=30)
    TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=clinic_today() - datetime.timedelta(days=200),
        last_session_on=earliest - datetime.timedelta(days=84),
    )
    client.force_login(front_desk)

    response = book_page(client, patient_a)

    assert response.context["start"] == earliest - datetime.timedelta(days=earliest.weekday())


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_days_before_the_earliest_date_and_from_the_overdue_date_are_marked(
    client, settings, schedule, patient_a, front_desk, clinician, role
):
    # Given Alice's earliest date is a week's Tuesday and (here) overdue from its Thursday
    settings.OVERDUE_AFTER_DAYS = 86
    monday = visit_day()
    TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=monday - datetime.timedelta(days=300),
        last_session_on=monday + datetime.timedelta(days=1) - datetime.timedelta(days=84),
    )
    client.force_login({"front_desk": front_desk, "clinician": clinician}[role])

    # When the grid of that week is open
    response = book_page(client, patient_a, **{"from": monday.isoformat()})
    page = response.content.decode()

    # Then Monday's column says "before earliest", Thursday's to Sunday's "overdue", in text
    headers = dict(re.findall(r'<th scope="col" data-day="([-\d]+)">(.*?)</th>', page))
    marks = {
        day: re.findall(r'class="badge [^"]+">([^<]+)<', header) for day, header in headers.items()
    }
    week = [monday + datetime.timedelta(days=d) for d in range(7)]
    assert [marks[day.isoformat()] for day in week] == [
        ["before earliest"],
        [],
        [],
        ["overdue"],
        ["overdue"],
        ["overdue"],
        ["overdue"],
    ]
    assert 'id="legend"' in page
    # and Monday's slots are disabled but for a clinician, who is asked for a reason
    buttons = slot_buttons(response)
    mondays = [(disabled, text) for _, disabled, text in buttons if f"{monday:%A}" in text]
    assert len(mondays) == 16
    assert all("before the earliest date" in text for _, text in mondays)
    assert all(disabled == (role == "front_desk") for disabled, _ in mondays)
    assert not any(disabled for _, disabled, text in buttons if f"{monday:%A}" not in text)
    assert ('name="early_reason"' in page) == (role == "clinician")


def test_a_clinician_books_an_early_slot_from_the_grid_with_a_reason(
    client, schedule, patient_a, clinician
):
    monday = visit_day()
    TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=monday - datetime.timedelta(days=300),
        last_session_on=monday + datetime.timedelta(days=1) - datetime.timedelta(days=84),
    )
    client.force_login(clinician)
    url = reverse("treatments:book", args=[patient_a.pk]) + f"?from={monday.isoformat()}"
    slot = f"{clinician.pk}|{local(monday, 15, 30).isoformat()}"

    without = client.post(url, {"slot": slot})
    booked = client.post(url, {"slot": slot, "early_reason": "Flying abroad on Tuesday"})

    assert without.status_code == 200
    assert without.context["form"].errors["early_reason"]
    assert booked.status_code == 302
    visit = Appointment.objects.get(patient=patient_a)
    assert visit.early_override_reason == "Flying abroad on Tuesday"


# --- both locations, for booking and for moving ----------------------------------------------


def test_the_booking_grid_books_at_the_other_location(
    client, front_desk, schedule, harbour, patient_a
):
    client.force_login(front_desk)
    tuesday = visit_day() + datetime.timedelta(days=1)
    response = book_page(client, patient_a, location=harbour.pk, **{"from": tuesday.isoformat()})
    slot = f"{harbour.injector.pk}|{london(tuesday, 15, 30).isoformat()}"
    assert slot in {value for value, _, _ in slot_buttons(response)}
    assert "Times in Europe/London, " in response.content.decode()

    url = reverse("treatments:book", args=[patient_a.pk]) + f"?location={harbour.pk}"
    assert client.post(url, {"slot": slot}).status_code == 302

    visit = Appointment.objects.get(patient=patient_a)
    assert (visit.location, visit.clinician) == (harbour, harbour.injector)


def test_a_visit_moves_to_the_other_location_with_its_reminders_planned_again(
    client, front_desk, booked_appointment, harbour
):
    # Given Ben's visit at Riverside (New York), with his consent to email
    visit = booked_appointment
    ContactConsent.objects.create(
        patient=visit.patient, channel="email", granted=True, source="written"
    )
    tuesday = visit_day() + datetime.timedelta(days=1)
    url = reverse("treatments:appointment_reschedule", args=[visit.pk])
    client.force_login(front_desk)
    reminders_before = set(
        Reminder.objects.filter(appointment=visit, status="pending").values_list("pk", flat=True)
    )

    # When the desk opens the Harbour grid from the move page and clicks Tuesday 15:30
    grid = client.get(url, {"location": harbour.pk, "from": tuesday.isoformat()})
    slot = f"{harbour.injector.pk}|{london(tuesday, 15, 30).isoformat()}"
    assert slot in {value for value, _, _ in slot_buttons(grid)}
    response = client.post(f"{url}?location={harbour.pk}", {"slot": slot})

    # Then the visit is at Harbour then, its move recorded, its reminders planned again
    assert response.status_code == 302
    visit.refresh_from_db()
    assert (visit.location, visit.clinician) == (harbour, harbour.injector)
    assert visit.starts_at == london(tuesday, 15, 30)
    event = AppointmentEvent.objects.filter(appointment=visit, action="rescheduled").get()
    assert event.note == "Moved from Riverside Clinic to Harbour Clinic."
    assert event.previous_starts_at == local(visit_day(), 10)
    pending = Reminder.objects.filter(appointment=visit, status="pending")
    assert pending.exists()
    assert not pending.filter(pk__in=reminders_before).exists()
    assert all(r.subject_key.endswith(f":{visit.sequence}") for r in pending)


def test_a_move_to_the_other_location_is_refused_when_the_slot_was_taken(
    client, front_desk, booked_appointment, harbour, patient_a
):
    # Given Harbour's Tuesday 15:30 is taken after the grid showed it
    visit = booked_appointment
    tuesday = visit_day() + datetime.timedelta(days=1)
    starts_at = london(tuesday, 15, 30)
    Appointment.objects.create(
        patient=patient_a,
        clinician=harbour.injector,
        location=harbour,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        booked_by=front_desk,
        cycle_number=1,
    )
    client.force_login(front_desk)
    url = reverse("treatments:appointment_reschedule", args=[visit.pk])

    # When the desk clicks it
    response = client.post(
        f"{url}?location={harbour.pk}", {"slot": f"{harbour.injector.pk}|{starts_at.isoformat()}"}
    )

    # Then it is a form error, and the visit stays where it was
    assert response.status_code == 200
    assert "no longer free" in response.content.decode()
    visit.refresh_from_db()
    assert (visit.location.name, visit.starts_at) == ("Riverside Clinic", local(visit_day(), 10))


def test_a_move_elsewhere_needs_the_clinician_to_inject_there(
    booked_appointment, harbour, clinician, front_desk
):
    tuesday = visit_day() + datetime.timedelta(days=1)
    with pytest.raises(BookingError, match="no longer free"):
        reschedule_appointment(
            appointment=booked_appointment,
            starts_at=london(tuesday, 15, 30),
            clinician=clinician,  # Riverside's injector, not Harbour's
            location=harbour,
            by=front_desk,
        )
    booked_appointment.refresh_from_db()
    assert booked_appointment.location.name == "Riverside Clinic"


# --- speed ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("visits", [1, 40])
def test_the_grid_needs_as_many_queries_for_many_visits_as_for_one(
    client, front_desk, schedule, clinician, patient_a, visits, django_assert_max_num_queries
):
    # Given a second injector and `visits` visits in the week (of as many patients)
    other = make_user("second", User.Role.CLINICIAN, first_name="Ben", last_name="Ode")
    OpeningHours.objects.create(
        location=schedule, weekday=5, opens=datetime.time(9), closes=datetime.time(12)
    )
    InjectorDay.objects.create(clinician=other, location=schedule, weekday=5)
    monday = visit_day()
    rows = []
    for n in range(visits):
        starts_at = local(monday + datetime.timedelta(days=n // 16 % 5), 9) + datetime.timedelta(
            minutes=30 * (n % 16)
        )
        rows.append(
            Appointment(
                patient=make_patient(300 + n, location=schedule),
                clinician=clinician,
                location=schedule,
                starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(minutes=30),
                booked_by=front_desk,
                cycle_number=1,
            )
        )
    Appointment.objects.bulk_create(rows)
    client.force_login(front_desk)

    # session and user (2), the patient, their active visit and course, the location's
    # clinicians, opening hours, rota, the week's visits and closures (one slot search), the
    # week's closures and leave to mark, the locations, the audit trail's INSERT, the
    # session's sliding expiry (3)
    with django_assert_max_num_queries(GRID_QUERIES):
        response = book_page(client, patient_a, **{"from": monday.isoformat()})

    assert len(slot_buttons(response)) == 80 + 6 - visits


GRID_QUERIES = 16


# --- hostile input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"from": "not-a-date"},
        {"from": "9999-12-31"},
        {"from": "0001-01-01"},
        {"from": "2999-12-31"},
        {"from": "1900-01-01"},
        {"location": "x' OR 1=1"},
        {"location": "99999999999999999999999"},
        {"location": "-1"},
        {"clinician": "²"},
        {"clinician": "1" * 5000},
        {"clinician": "0"},
        {"from": ["2026-01-01", "x"], "location": ["1", "y"]},
    ],
)
def test_garbage_in_the_grid_s_parameters_shows_a_page_not_a_500(
    client, front_desk, schedule, booked_appointment, patient_a, params
):
    client.force_login(front_desk)
    for url in (
        reverse("treatments:book", args=[patient_a.pk]),
        reverse("treatments:appointment_reschedule", args=[booked_appointment.pk]),
    ):
        assert client.get(url, params).status_code == 200


@pytest.mark.parametrize(
    "slot",
    [
        "",
        "1|",
        "|2026-01-01T10:00:00+00:00",
        "abc|def",
        "1|2026-01-01T10:00:00",  # naive
        "99999999999999999999|2026-01-01T10:00:00+00:00",
        "1" * 5000 + "|2026-01-01T10:00:00+00:00",
        "1|2026-01-01T10:00:00+00:00|x",
    ],
)
def test_a_garbage_slot_is_a_form_error(client, front_desk, schedule, patient_a, slot):
    client.force_login(front_desk)
    response = client.post(
        reverse("treatments:book", args=[patient_a.pk]) + "?location=zzz&from=zzz", {"slot": slot}
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Appointment.objects.exists()


def test_the_grid_offers_no_slot_beyond_the_booking_horizon(
    client, front_desk, schedule, clinician, patient_a, time_machine
):
    # Given the clock at Saturday 28 November 2026, 12:00 in New York: the two-year booking
    # horizon ends on Tuesday 28 November 2028 at 12:00 there
    time_machine.move_to(local(datetime.date(2026, 11, 28), 12), tick=False)
    monday, tuesday = datetime.date(2028, 11, 27), datetime.date(2028, 11, 28)
    client.force_login(front_desk)

    # When the front desk opens the grid of the horizon's week
    response = book_page(client, patient_a, **{"from": tuesday.isoformat()})

    # Then Monday's slots and Tuesday's to 12:00 are offered, none after
    starts = [Slot.parse_value(value)[1] for value, _, _ in slot_buttons(response)]
    assert sorted(starts) == [local(monday, 9 + n // 2, 30 * (n % 2)) for n in range(16)] + [
        local(tuesday, 9 + n // 2, 30 * (n % 2)) for n in range(7)
    ]

    # and booking agrees: the last slot shown is bookable, the next one is refused
    book = reverse("treatments:book", args=[patient_a.pk])
    later = client.post(book, {"slot": f"{clinician.pk}|{local(tuesday, 12, 30).isoformat()}"})
    assert "Choose a slot within the next two years." in later.content.decode()
    last = client.post(book, {"slot": f"{clinician.pk}|{local(tuesday, 12).isoformat()}"})
    assert last.status_code == 302
    assert Appointment.objects.get(patient=patient_a).starts_at == local(tuesday, 12)
