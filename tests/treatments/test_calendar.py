import datetime
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import Location
from tests.conftest import local, make_patient, make_user
from treatments.models import Appointment, AppointmentEvent, InjectorDay
from treatments.services import cancel_appointment

CALENDAR = reverse("treatments:calendar")
# The calendar's queries, however many appointments: the session and the user, the location,
# the appointments (with patient, clinician and location joined), the location and clinician
# pickers, the session's save (a savepoint, the update, its release), and the audit trail's one
# INSERT of the patients shown. Pinned, so that a query per row fails the test.
CALENDAR_QUERIES = 10

MONDAY = datetime.date(2026, 3, 2)  # the week in which New York moves to summer time (Sun 8 Mar)


def add_appointment(patient, clinician, location, starts_at, minutes=30, **fields):
    """An appointment straight in the database: the calendar shows what is there, however
    it was booked."""
    return Appointment.objects.create(
        patient=patient,
        clinician=clinician,
        location=location,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=minutes),
        booked_by=clinician,
        **fields,
    )


def location_zone(location) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(location.time_zone)


def calendar_url(location, day=None, view="day", **params) -> str:
    query = {"location": location.pk, "view": view, **params}
    if day is not None:
        query["date"] = day.isoformat()
    return f"{CALENDAR}?" + "&".join(f"{name}={value}" for name, value in query.items())


def shown_times(html: str) -> list[str]:
    """The start times the calendar shows, in page order."""
    return re.findall(r'<time datetime="[^"]+">(\d\d:\d\d)</time>', html)


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def other_location(db):
    return Location.objects.create(
        name="Harbour Clinic",
        address="1 Harbour Street, London",
        phone="+442079460000",
        time_zone="Europe/London",
    )


# --- what the calendar shows ------------------------------------------------------------------


def test_the_day_view_lists_that_days_appointments_at_the_location_in_time_order(
    desk, location, other_location, clinician, patient_a, patient_b
):
    # Given two visits on Tuesday at the location, booked out of order, and others elsewhere
    tuesday = MONDAY + datetime.timedelta(days=1)
    add_appointment(patient_a, clinician, location, local(tuesday, 14))
    add_appointment(patient_b, clinician, location, local(tuesday, 9, 30))
    # (one next injection visit per patient: the others are a past one and a review)
    add_appointment(patient_a, clinician, location, local(MONDAY, 11), status="fulfilled")
    add_appointment(
        patient_b, clinician, other_location, local(tuesday, 16, 0, "Europe/London"), kind="review"
    )

    # When the front desk opens Tuesday's day view
    response = desk.get(calendar_url(location, tuesday))

    # Then Tuesday's two visits at this location show, earliest first, in New York time
    html = response.content.decode()
    assert response.status_code == 200
    assert shown_times(html) == ["09:30", "14:00"]
    assert html.index("Ben Patel") < html.index("Alice Morgan")
    assert "Tuesday 3 March 2026" in html
    assert "America/New_York (EST)" in html


def test_each_appointment_shows_its_patient_link_kind_cycle_and_clinician(
    desk, location, clinician, patient_b
):
    # Given a cycle-3 injection visit
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10), cycle_number=3)

    # When the front desk opens that day
    html = desk.get(calendar_url(location, MONDAY)).content.decode()

    # Then the patient's name links to their record, with the kind, cycle and clinician
    detail = reverse("patients:detail", args=[appointment.patient_id])
    assert f'<a class="appointment-patient" href="{detail}">Ben Patel</a>' in html
    assert "Injection · cycle 3 · Ama Osei" in html


def test_the_week_view_shows_monday_to_sunday_of_the_week_containing_the_date(
    desk, location, clinician, patient_a, patient_b
):
    # Given visits on the Monday and Sunday of a week, and on the days either side of it
    add_appointment(patient_a, clinician, location, local(MONDAY, 9))
    add_appointment(patient_b, clinician, location, local(MONDAY + datetime.timedelta(days=6), 11))
    add_appointment(
        patient_a,
        clinician,
        location,
        local(MONDAY - datetime.timedelta(days=1), 12),
        kind="review",
    )
    add_appointment(
        patient_b,
        clinician,
        location,
        local(MONDAY + datetime.timedelta(days=7), 13),
        kind="review",
    )

    # When the front desk asks for the week of its Wednesday
    response = desk.get(calendar_url(location, MONDAY + datetime.timedelta(days=2), view="week"))

    # Then seven days show, Monday to Sunday, with the two visits of that week only
    html = response.content.decode()
    assert [day.date for day in response.context["days"]] == [
        MONDAY + datetime.timedelta(days=offset) for offset in range(7)
    ]
    assert "Week of Mon 2 Mar 2026" in html
    assert shown_times(html) == ["09:00", "11:00"]


@pytest.mark.parametrize(
    ("before", "after", "zones"),
    [
        # spring: clocks go forward on Sunday 8 March 2026
        (datetime.date(2026, 3, 6), datetime.date(2026, 3, 8), "EST/EDT"),
        # autumn: clocks go back on Sunday 1 November 2026
        (datetime.date(2026, 10, 30), datetime.date(2026, 11, 1), "EDT/EST"),
    ],
)
def test_a_week_across_a_dst_change_shows_10_00_on_both_sides(
    desk, location, clinician, patient_a, patient_b, before, after, zones
):
    # Given a 10:00 New York visit on each side of the change (an hour apart in UTC terms)
    first = add_appointment(patient_a, clinician, location, local(before, 10))
    second = add_appointment(patient_b, clinician, location, local(after, 10))
    assert (
        first.starts_at.astimezone(datetime.UTC).hour
        != second.starts_at.astimezone(datetime.UTC).hour
    )

    # When the front desk opens that week
    html = desk.get(calendar_url(location, before, view="week")).content.decode()

    # Then both show at 10:00, and the page names both abbreviations
    assert shown_times(html) == ["10:00", "10:00"]
    assert f"America/New_York ({zones})" in html


def test_the_day_views_on_either_side_of_a_dst_change_both_show_10_00(
    desk, location, clinician, patient_a, patient_b
):
    # Given 10:00 visits on the Friday before and the Monday after the spring change
    friday, monday = datetime.date(2026, 3, 6), datetime.date(2026, 3, 9)
    add_appointment(patient_a, clinician, location, local(friday, 10))
    add_appointment(patient_b, clinician, location, local(monday, 10))

    # When the front desk opens each day
    before = desk.get(calendar_url(location, friday)).content.decode()
    after = desk.get(calendar_url(location, monday)).content.decode()

    # Then each shows its visit at 10:00 in that day's zone abbreviation
    assert (shown_times(before), "(EST)" in before) == (["10:00"], True)
    assert (shown_times(after), "(EDT)" in after) == (["10:00"], True)


def test_the_day_of_the_change_itself_shows_both_sides_at_their_wall_clock_times(
    desk, location, clinician, patient_a, patient_b
):
    # Given, on the night New York moves to summer time, a visit at 01:30 EST and one at 10:00 EDT
    sunday = datetime.date(2026, 3, 8)
    add_appointment(patient_a, clinician, location, local(sunday, 1, 30))
    add_appointment(patient_b, clinician, location, local(sunday, 10))

    # When the front desk opens that day
    html = desk.get(calendar_url(location, sunday)).content.decode()

    # Then both show at their local times, and the page names both abbreviations
    assert shown_times(html) == ["01:30", "10:00"]
    assert "America/New_York (EST/EDT)" in html


def test_a_late_evening_visit_shows_on_its_local_day_not_its_utc_day(
    desk, location, clinician, patient_a
):
    # Given a 21:00 New York visit on Monday (02:00 on Tuesday in UTC)
    add_appointment(patient_a, clinician, location, local(MONDAY, 21))

    # When the front desk opens Monday and Tuesday
    monday = desk.get(calendar_url(location, MONDAY)).content.decode()
    tuesday = desk.get(calendar_url(location, MONDAY + datetime.timedelta(days=1)))

    # Then it is on Monday at 21:00
    assert shown_times(monday) == ["21:00"]
    assert shown_times(tuesday.content.decode()) == []


def test_the_calendar_can_show_one_clinician_only(desk, location, clinician, patient_a, patient_b):
    # Given visits with two clinicians on the same day
    colleague = make_user("colleague", "clinician", first_name="Tomas", last_name="Berg")
    add_appointment(patient_a, clinician, location, local(MONDAY, 9))
    add_appointment(patient_b, colleague, location, local(MONDAY, 10))

    # When the front desk filters to the colleague
    html = desk.get(calendar_url(location, MONDAY, clinician=colleague.pk)).content.decode()

    # Then only the colleague's visit shows
    assert shown_times(html) == ["10:00"]
    assert "Ben Patel" in html
    assert "Alice Morgan" not in html


def test_the_clinician_picker_lists_active_clinicians_and_keeps_one_who_has_left(
    desk, location, clinician
):
    # Given a clinician who has left, and a colleague at the front desk (no clinician)
    former = make_user("former", "clinician", first_name="Ida", last_name="Aalto", is_active=False)
    make_user("another", "front_desk")

    # When the front desk opens the calendar without and with the former clinician's filter
    plain = desk.get(calendar_url(location, MONDAY)).context["clinicians"]
    filtered = desk.get(calendar_url(location, MONDAY, clinician=former.pk)).context["clinicians"]

    # Then the picker lists the active clinicians, plus the former one only when chosen
    assert list(plain) == [clinician]
    assert list(filtered) == [former, clinician]


def test_without_a_location_a_clinician_sees_where_they_inject_that_weekday(
    client, clinician, location, other_location
):
    # Given a clinician who injects at the (later by name) Riverside Clinic on Tuesdays
    InjectorDay.objects.create(clinician=clinician, location=location, weekday=1)
    client.force_login(clinician)

    # When they open a Tuesday, and a Wednesday, without choosing a location
    tuesday = client.get(f"{CALENDAR}?date=2026-03-03")
    wednesday = client.get(f"{CALENDAR}?date=2026-03-04")

    # Then Tuesday is at their rota's location; Wednesday falls back to the first by name
    assert tuesday.context["location"] == location
    assert wednesday.context["location"] == other_location


def test_without_a_date_the_calendar_shows_today_in_the_locations_zone(desk, location):
    response = desk.get(f"{CALENDAR}?location={location.pk}")
    assert response.context["day"] == timezone.localdate(timezone=location_zone(location))
    assert response.context["view"] == "day"


def test_a_date_the_calendar_cannot_read_falls_back_to_today(desk, location):
    for bad in ("yesterday", "2026-02-30", "9999-12-31"):
        response = desk.get(f"{CALENDAR}?location={location.pk}&date={bad}&view=month")
        assert response.status_code == 200
        assert response.context["day"] == timezone.localdate(timezone=location_zone(location))
        assert response.context["view"] == "day"


def test_with_no_location_set_up_the_calendar_says_so(desk):
    response = desk.get(CALENDAR)
    assert response.status_code == 200
    assert "No location is set up yet" in response.content.decode()


def test_previous_and_next_move_by_a_day_or_by_a_week(desk, location, clinician):
    url = calendar_url(location, MONDAY, clinician=clinician.pk)
    day = desk.get(url).context
    week = desk.get(url.replace("view=day", "view=week")).context
    assert "date=2026-03-01" in day["previous_url"]
    assert "date=2026-03-03" in day["next_url"]
    assert "date=2026-02-23" in week["previous_url"]
    assert "date=2026-03-09" in week["next_url"]
    # the filter and the location travel with every move; Today drops the date
    for context in (day, week):
        for name in ("previous_url", "next_url", "today_url", "day_url", "week_url"):
            assert f"location={location.pk}" in context[name]
            assert f"clinician={clinician.pk}" in context[name]
        assert "date=" not in context["today_url"]


def test_navigation_uses_htmx_on_the_calendar_and_plain_links_without_it(desk, location):
    html = desk.get(calendar_url(location, MONDAY)).content.decode()
    previous = re.search(r"<a [^>]*>Previous", html).group(0)
    assert 'href="/treatments/calendar/?' in previous
    assert 'hx-get="/treatments/calendar/?' in previous
    assert 'hx-target="#calendar"' in previous
    assert 'hx-push-url="true"' in previous


def test_an_htmx_request_gets_only_the_calendar_partial(desk, location):
    response = desk.get(calendar_url(location, MONDAY), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="calendar"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_a_plain_request_and_an_htmx_history_restore_get_the_whole_page(desk, location):
    plain = desk.get(calendar_url(location, MONDAY))
    restore = desk.get(
        calendar_url(location, MONDAY),
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    for response in (plain, restore):
        html = response.content.decode()
        assert "<html" in html
        assert html.count('id="calendar"') == 1


# --- statuses and actions ---------------------------------------------------------------------


def test_a_booked_appointment_offers_check_in_no_show_reschedule_cancel_and_ics(
    desk, location, clinician, patient_b
):
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    html = desk.get(calendar_url(location, MONDAY)).content.decode()
    assert f'action="{reverse("treatments:appointment_status", args=[appointment.pk])}"' in html
    assert 'name="status" value="arrived"' in html
    assert 'name="status" value="noshow"' in html
    assert reverse("treatments:appointment_reschedule", args=[appointment.pk]) in html
    assert reverse("treatments:appointment_cancel", args=[appointment.pk]) in html
    assert reverse("treatments:appointment_ics", args=[appointment.pk]) in html
    assert 'class="badge status-badge status-booked">Booked<' in html


@pytest.mark.parametrize(("status", "label"), [("cancelled", "Cancelled"), ("noshow", "No-show")])
def test_a_cancelled_or_noshow_appointment_shows_its_badge_and_only_the_ics_link(
    desk, location, clinician, patient_b, status, label
):
    # Given a visit that is over without happening
    reason = "Patient unwell" if status == "cancelled" else ""
    appointment = add_appointment(
        patient_b, clinician, location, local(MONDAY, 10), status=status, cancel_reason=reason
    )

    # When the front desk opens that day
    html = desk.get(calendar_url(location, MONDAY)).content.decode()

    # Then it shows (styled by its status) with its badge, and no action but the .ics file
    assert f'class="list-group-item appointment status-{status}"' in html
    assert f'class="badge status-badge status-{status}">{label}<' in html
    assert reverse("treatments:appointment_status", args=[appointment.pk]) not in html
    assert reverse("treatments:appointment_reschedule", args=[appointment.pk]) not in html
    assert reverse("treatments:appointment_cancel", args=[appointment.pk]) not in html
    assert reverse("treatments:appointment_ics", args=[appointment.pk]) in html


def test_a_cancelled_appointment_is_struck_through_and_a_noshow_is_not(
    desk, location, clinician, patient_a, patient_b
):
    add_appointment(
        patient_a,
        clinician,
        location,
        local(MONDAY, 9),
        status="cancelled",
        cancel_reason="Patient unwell",
    )
    add_appointment(patient_b, clinician, location, local(MONDAY, 10), status="noshow")
    html = desk.get(calendar_url(location, MONDAY)).content.decode()
    assert re.search(r"<s><time [^>]+>09:00</time></s>", html)
    assert re.search(r"<s><a [^>]+>Alice Morgan</a></s>", html)
    assert not re.search(r"<s><a [^>]+>Ben Patel</a></s>", html)


def test_confirmed_and_early_appointments_are_marked(desk, location, clinician, patient_b):
    add_appointment(
        patient_b,
        clinician,
        location,
        local(MONDAY, 10),
        confirmed_at=timezone.now(),
        early_override_reason="Travelling abroad in week 12",
    )
    html = desk.get(calendar_url(location, MONDAY)).content.decode()
    assert ">Confirmed</span>" in html
    assert 'title="Booked early: Travelling abroad in week 12">Early</span>' in html


def test_an_unconfirmed_on_time_appointment_has_neither_mark(desk, location, clinician, patient_b):
    add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    html = desk.get(calendar_url(location, MONDAY)).content.decode()
    assert ">Confirmed</span>" not in html
    assert ">Early</span>" not in html


@pytest.mark.parametrize(("status", "message"), [("arrived", "Checked in"), ("noshow", "no-show")])
def test_check_in_and_no_show_through_the_calendar_change_the_status_and_redirect(
    desk, front_desk, location, clinician, patient_b, status, message, time_machine
):
    # Given a booked visit on Monday at 10:00, and it is 10:05 that day
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    time_machine.move_to(local(MONDAY, 10, 5))

    # When the front desk presses the button and confirms
    response = desk.post(
        reverse("treatments:appointment_status", args=[appointment.pk]),
        {"status": status, "confirm": "yes"},
    )

    # Then the status changed, the change is logged, and they are back on that day
    appointment.refresh_from_db()
    assert appointment.status == status
    assert AppointmentEvent.objects.filter(
        appointment=appointment, action=status, by=front_desk
    ).exists()
    assert response.status_code == 302
    assert response["Location"] == f"{CALENDAR}?location={location.pk}&view=day&date=2026-03-02"
    assert message in desk.get(response["Location"]).content.decode()


def test_the_status_redirect_keeps_the_week_view_and_the_clinician_filter(
    desk, location, clinician, patient_b, time_machine
):
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 21))
    time_machine.move_to(local(MONDAY, 20, 55))  # the patient arrives that evening
    response = desk.post(
        reverse("treatments:appointment_status", args=[appointment.pk]),
        {"status": "arrived", "view": "week", "clinician": clinician.pk, "confirm": "yes"},
    )
    # 21:00 in New York is already Tuesday in UTC: the redirect is to the local date
    assert response["Location"] == (
        f"{CALENDAR}?location={location.pk}&clinician={clinician.pk}&view=week&date=2026-03-02"
    )


def test_a_no_show_after_a_cancellation_is_refused_with_a_message_and_changes_nothing(
    desk, location, clinician, patient_b, front_desk
):
    # Given a cancelled visit
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    cancel_appointment(appointment=appointment, reason="Patient unwell", by=front_desk)
    appointment.refresh_from_db()
    events = AppointmentEvent.objects.count()

    # When someone presses No-show on a stale page
    response = desk.post(
        reverse("treatments:appointment_status", args=[appointment.pk]),
        {"status": "noshow"},
        follow=True,
    )

    # Then they are told why, and nothing changed
    assert "A cancelled appointment cannot become no-show." in response.content.decode()
    assert response.redirect_chain[-1][0].startswith(CALENDAR)
    cancelled = Appointment.objects.get(pk=appointment.pk)
    assert (cancelled.status, cancelled.sequence) == ("cancelled", appointment.sequence)
    assert AppointmentEvent.objects.count() == events


def test_checking_in_twice_is_harmless(desk, location, clinician, patient_b, time_machine):
    # Given a patient already checked in
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    time_machine.move_to(local(MONDAY, 9, 50))
    url = reverse("treatments:appointment_status", args=[appointment.pk])
    desk.post(url, {"status": "arrived", "confirm": "yes"})
    events = AppointmentEvent.objects.count()

    # When a second click arrives
    response = desk.post(url, {"status": "arrived"}, follow=True)

    # Then it is still arrived, with no second event, and the desk is told
    appointment.refresh_from_db()
    assert appointment.status == "arrived"
    assert AppointmentEvent.objects.count() == events
    assert "Already done" in response.content.decode()


@pytest.mark.parametrize("status", ["cancelled", "fulfilled", "booked", "", "nonsense"])
def test_the_calendar_sets_no_status_but_arrived_or_noshow(
    desk, location, clinician, patient_b, status
):
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    response = desk.post(
        reverse("treatments:appointment_status", args=[appointment.pk]),
        {"status": status},
        follow=True,
    )
    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert not AppointmentEvent.objects.filter(appointment=appointment).exists()
    assert "Choose check-in or no-show." in response.content.decode()


def test_a_get_on_the_status_url_is_not_allowed(desk, location, clinician, patient_b):
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    response = desk.get(reverse("treatments:appointment_status", args=[appointment.pk]))
    assert response.status_code == 405
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_a_patient_gets_404_on_the_status_and_ics_urls_even_for_their_own_appointment(
    client, location, clinician, patient_a, patient_b
):
    # Given an appointment of each patient
    own = add_appointment(patient_a, clinician, location, local(MONDAY, 9))
    other = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    client.force_login(patient_a.user)

    for appointment in (own, other):
        # When the patient tries the staff URLs
        status = reverse("treatments:appointment_status", args=[appointment.pk])
        ics = reverse("treatments:appointment_ics", args=[appointment.pk])

        # Then each is a 404, and nothing changes
        assert client.post(status, {"status": "noshow"}).status_code == 404
        assert client.get(status).status_code == 404
        assert client.get(ics).status_code == 404
        appointment.refresh_from_db()
        assert appointment.status == "booked"


def test_an_unknown_appointment_is_a_404_for_staff_too(desk):
    assert desk.post(reverse("treatments:appointment_status", args=[999]), {}).status_code == 404
    assert desk.get(reverse("treatments:appointment_ics", args=[999])).status_code == 404


def test_the_ics_link_downloads_an_icalendar_file(desk, location, clinician, patient_b, settings):
    settings.SITE_URL = "https://cadence.example.org"
    appointment = add_appointment(patient_b, clinician, location, local(MONDAY, 10))
    response = desk.get(reverse("treatments:appointment_ics", args=[appointment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="appointment.ics"'
    assert f"UID:appointment-{appointment.pk}@cadence.example.org".encode() in response.content


# --- the number of queries --------------------------------------------------------------------


def add_many(count, *, first, days, clinician, location):
    """`count` more appointments over `days` days from `first`, each with a new patient and,
    within a day, 15 minutes apart from 08:00: nobody is double-booked."""
    start = Appointment.objects.count()
    for number in range(start, start + count):
        day = first + datetime.timedelta(days=number % days)
        add_appointment(
            make_patient(100 + number, location=location),
            clinician,
            location,
            local(day, 8) + datetime.timedelta(minutes=15 * (number // days)),
            minutes=15,
            cycle_number=number % 9 + 1,
        )


@pytest.mark.parametrize(("view", "days"), [("day", 1), ("week", 7)])
def test_the_calendar_needs_as_many_queries_for_30_appointments_as_for_3(
    desk, location, clinician, view, days, django_assert_max_num_queries
):
    url = calendar_url(location, MONDAY, view=view)

    # Given 3 appointments that day (or that week)
    add_many(3, first=MONDAY, days=days, clinician=clinician, location=location)
    with django_assert_max_num_queries(CALENDAR_QUERIES):
        few = desk.get(url)
    assert len(shown_times(few.content.decode())) == 3

    # When there are 30
    add_many(27, first=MONDAY, days=days, clinician=clinician, location=location)
    with django_assert_max_num_queries(CALENDAR_QUERIES):
        many = desk.get(url)

    # Then the page shows them all with no more queries
    assert len(shown_times(many.content.decode())) == 30


# --- a clinician's home -----------------------------------------------------------------------


def test_a_clinician_lands_on_todays_calendar_filtered_to_themself(
    client, clinician, location, patient_a, patient_b
):
    # Given a colleague with a visit today, and the clinician's own visit today
    colleague = make_user("colleague", "clinician", first_name="Tomas", last_name="Berg")
    today = timezone.localdate(timezone=location_zone(location))
    add_appointment(patient_a, clinician, location, local(today, 9))
    add_appointment(patient_b, colleague, location, local(today, 10))
    client.force_login(clinician)

    # When they open the home page
    response = client.get(reverse("home"), follow=True)

    # Then they are on today's calendar with their own visit only
    assert response.redirect_chain == [(f"{CALENDAR}?clinician={clinician.pk}", 302)]
    assert response.context["day"] == today
    assert response.context["clinician"] == clinician
    html = response.content.decode()
    assert "Alice Morgan" in html
    assert "Ben Patel" not in html


def test_the_front_desk_still_lands_on_the_patient_list(desk):
    response = desk.get(reverse("home"))
    assert response["Location"] == reverse("patients:list")
