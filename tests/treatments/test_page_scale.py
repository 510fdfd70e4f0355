"""Issue 13: the calendar, the chart and the alerts inbox at network scale. Their query counts
are pinned at two sizes under one cap (a query per row fails), the calendar's lean markup says
what the template said, and on PostgreSQL the week's query uses its index on a big table."""

import datetime

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import AccessEvent
from clinic.models import Location
from patients.models import Patient
from tests.conftest import fresh_vials, local, make_patient, session_input
from treatments.models import Alert, Appointment
from treatments.services import record_session, report_side_effect, sign_session
from treatments.views import pk_url

MONDAY = datetime.date(2026, 3, 2)
SIZES = [3, 40]
# session, user, location, appointments (one query, patients and clinicians joined), the two
# pickers, the session's sliding expiry (3), the audit trail's one INSERT
CALENDAR_QUERIES = 10


@pytest.fixture
def desk(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def clinician_client(client, clinician):
    client.force_login(clinician)
    return client


def book_many(count: int, location, clinician, *, days: int = 7) -> list[Appointment]:
    """`count` visits of as many patients, spread over the week from MONDAY, 15 minutes apart
    on each day."""
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"SCALE-{n:04d}",
            first_name=f"Given{n}",
            last_name=f"Family{n}",
            date_of_birth=datetime.date(1980, 1, 1),
            sex="female",
            location=location,
        )
        for n in range(count)
    )
    visits = []
    for n, patient in enumerate(patients):
        starts_at = local(MONDAY + datetime.timedelta(days=n % days), 9) + datetime.timedelta(
            minutes=15 * (n // days)
        )
        visits.append(
            Appointment(
                patient=patient,
                clinician=clinician,
                location=location,
                starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(minutes=15),
                booked_by=clinician,
                cycle_number=2,
            )
        )
    return Appointment.objects.bulk_create(visits)


def calendar(location, view: str, day: datetime.date = MONDAY) -> str:
    return reverse("treatments:calendar") + f"?location={location.pk}&view={view}&date={day}"


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("visits", SIZES)
def test_the_week_calendar_needs_as_many_queries_for_40_visits_as_for_3(
    desk, location, clinician, visits, django_assert_max_num_queries
):
    book_many(visits, location, clinician)
    with django_assert_max_num_queries(CALENDAR_QUERIES):
        response = desk.get(calendar(location, "week"))
    assert sum(len(day.appointments) for day in response.context["days"]) == visits


@pytest.mark.parametrize("visits", SIZES)
def test_the_day_calendar_needs_as_many_queries_for_40_visits_as_for_3(
    desk, location, clinician, visits, django_assert_max_num_queries
):
    book_many(visits, location, clinician, days=1)
    with django_assert_max_num_queries(CALENDAR_QUERIES):
        response = desk.get(calendar(location, "day"))
    assert len(response.context["days"][0].appointments) == visits


@pytest.mark.parametrize("cycles", SIZES)
def test_the_chart_needs_as_many_queries_for_40_sessions_as_for_3(
    client, patient_a, clinician, location, cycles, django_assert_max_num_queries, time_machine
):
    # Sessions 84 days apart, each with a vial that is fresh on its day; the clock stands
    # after the last one (no session in the future)
    start = datetime.datetime(2014, 1, 6, 15, tzinfo=datetime.UTC)
    time_machine.move_to(start + datetime.timedelta(days=84 * cycles))
    for cycle in range(cycles):
        when = start + datetime.timedelta(days=84 * cycle)
        data = session_input(location, when=when, vials=fresh_vials(when))
        session = record_session(patient=patient_a, injector=clinician, data=data)
        sign_session(session=session, user=clinician, acknowledged=[])
    client.force_login(clinician)
    # as tests/treatments/test_views.py counts the chart's: 16 at most, however many sessions
    with django_assert_max_num_queries(16):
        response = client.get(reverse("treatments:chart", args=[patient_a.pk]))
    assert len(response.context["sessions"]) == cycles


@pytest.mark.parametrize("alerts", SIZES)
def test_the_alerts_inbox_needs_as_many_queries_for_40_alerts_as_for_3(
    clinician_client, signed_session, alerts, django_assert_max_num_queries
):
    for number in range(alerts):
        report_side_effect(
            session=signed_session,
            user=signed_session.patient.user,
            term="dysphagia" if number % 2 else "vision",
            description="",
            onset=signed_session.session_date + datetime.timedelta(days=1),
            severity="severe",
        )
    # session, user, open alerts, acknowledged ones, the navbar's count, the session's sliding
    # expiry (3), the audit trail's one INSERT
    with django_assert_max_num_queries(9):
        response = clinician_client.get(reverse("treatments:alert_list"))
    assert len(response.context["alerts"]) == Alert.objects.count() == alerts


# --- the lean markup says what the template said -------------------------------------------------


def test_an_arrived_visit_today_offers_its_undo_with_the_view_and_clinician_kept(
    desk, location, clinician, patient_b, time_machine
):
    # Given a visit checked in this morning
    visit = book_many(1, location, clinician)[0]
    Appointment.objects.filter(pk=visit.pk).update(status="arrived")
    time_machine.move_to(local(MONDAY, 11))

    # When the desk opens the week filtered to the clinician
    html = desk.get(calendar(location, "week") + f"&clinician={clinician.pk}").content.decode()

    # Then the undo form posts to the visit's undo URL with the view and the filter
    undo = reverse("treatments:appointment_undo", args=[visit.pk])
    form = html[html.index(f'action="{undo}"') :]
    form = form[: form.index("</form>")]
    assert 'name="csrfmiddlewaretoken"' in form
    assert '<input type="hidden" name="view" value="week">' in form
    assert f'<input type="hidden" name="clinician" value="{clinician.pk}">' in form
    assert "Undo check-in" in form
    assert reverse("treatments:appointment_status", args=[visit.pk]) not in html


def test_an_arrived_visit_of_another_day_offers_no_undo(desk, location, clinician, time_machine):
    visit = book_many(1, location, clinician)[0]
    Appointment.objects.filter(pk=visit.pk).update(status="arrived")
    time_machine.move_to(local(MONDAY + datetime.timedelta(days=1), 11))
    html = desk.get(calendar(location, "week")).content.decode()
    assert reverse("treatments:appointment_undo", args=[visit.pk]) not in html
    assert "Arrived" in html


def test_names_and_the_early_reason_are_escaped_in_the_calendar(desk, location, clinician):
    # Given a patient and an early-booking reason with markup in them
    patient = make_patient(9, first_name="<b>Eve</b>", last_name="O'Hara & Co", location=location)
    Appointment.objects.create(
        patient=patient,
        clinician=clinician,
        location=location,
        starts_at=local(MONDAY, 10),
        ends_at=local(MONDAY, 10, 30),
        booked_by=clinician,
        early_override_reason='travel "abroad" <soon>',
    )

    html = desk.get(calendar(location, "day")).content.decode()

    # Then every text is escaped, never markup
    assert "<b>Eve</b>" not in html
    assert "&lt;b&gt;Eve&lt;/b&gt; O&#x27;Hara &amp; Co" in html
    assert 'title="Booked early: travel &quot;abroad&quot; &lt;soon&gt;"' in html


def test_the_audit_trail_names_every_patient_the_week_shows(desk, location, clinician):
    visits = book_many(12, location, clinician)
    desk.get(calendar(location, "week"))
    noted = AccessEvent.objects.filter(view="treatments:calendar")
    assert sorted(noted.values_list("patient_id", flat=True)) == sorted(
        visit.patient_id for visit in visits
    )


# --- the index on a big table (PostgreSQL) -------------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="EXPLAIN plans and the indexes are PostgreSQL's"
)


def plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@postgresql_only
def test_the_week_calendar_reads_a_big_table_through_its_location_index(
    location, clinician, front_desk
):
    # Given 100,000 visits over two years at twenty locations (this one among them)
    patient = make_patient(1, location=location)
    others = Location.objects.bulk_create(
        Location(name=f"Clinic {n}", address="1 Main Street", time_zone="America/New_York")
        for n in range(19)
    )
    locations = [location.pk] + [other.pk for other in others]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO treatments_appointment (patient_id, location_id, clinician_id, "
            "starts_at, ends_at, kind, status, booked_by_id, booked_at, early_override_reason, "
            "cancel_reason, change_request, sequence) "
            "SELECT %s, (%s::bigint[])[1 + n %% 20], %s, "
            "%s::timestamptz + n * interval '10 minutes', "
            "%s::timestamptz + n * interval '10 minutes' + interval '5 minutes', "
            "'injection', 'cancelled', %s, now(), '', 'seed', '', 0 "
            "FROM generate_series(1, 100000) AS n",
            [
                patient.pk,
                locations,
                clinician.pk,
                local(MONDAY, 0),
                local(MONDAY, 0),
                front_desk.pk,
            ],
        )
        cursor.execute("ANALYZE treatments_appointment")

    # When the calendar's own query for one week is planned
    start = local(MONDAY, 0)
    week = (
        Appointment.objects.for_user(front_desk)
        .filter(location=location)
        .between(start, start + datetime.timedelta(days=7))
        .values("pk", "patient__last_name", "clinician__username", "starts_at")
    )
    sql, params = week.query.sql_with_params()

    # Then it reads the (location, starts_at) index, not the whole table
    explained = plan(sql, params)
    assert "appt_location_start_idx" in explained
    assert "Seq Scan on treatments_appointment" not in explained


@pytest.mark.parametrize(
    "name",
    [
        "patients:detail",
        "treatments:book",
        "treatments:call_outcome",
        "treatments:reminder_resend",
        "treatments:appointment_status",
        "treatments:appointment_undo",
        "treatments:appointment_reschedule",
        "treatments:appointment_cancel",
        "treatments:appointment_ics",
    ],
)
def test_a_link_built_once_a_page_is_the_link_reverse_gives_for_every_id(name):
    link = pk_url(name)
    for pk in (1, 7, 2147483647, 2147483648, 10**15):
        assert link(pk) == reverse(name, args=[pk])


# --- the lot recall, a page at a time ------------------------------------------------------------


@pytest.mark.parametrize("sessions", [1, 5])
def test_the_lot_recall_pages_a_lot_in_wide_use_in_as_many_queries(
    client, clinic_admin, clinician, location, sessions, monkeypatch, django_assert_max_num_queries
):
    # Given a lot used in `sessions` sessions of as many patients, and pages of 2
    monkeypatch.setattr("treatments.views.sessions.RECALL_PAGE_SIZE", 2)
    for number in range(sessions):
        patient = make_patient(number, location=location)
        record_session(patient=patient, injector=clinician, data=session_input(location))
    client.force_login(clinic_admin)
    url = reverse("treatments:lot_recall")

    # When the admin opens the recall of the lot, and its last page
    # session, user, count, page (session, patient, location, injector, lot joined), the lot
    # picker, the session's sliding expiry (3), the audit trail's one INSERT
    with django_assert_max_num_queries(9):
        first = client.get(url, {"lot": "c1234ab"})
    last_page = (sessions + 1) // 2
    last = client.get(url, {"lot": "c1234ab", "page": last_page})

    # Then every use is counted, and the pages together list each session once, oldest first
    assert first.context["page_obj"].paginator.count == sessions
    assert f"<strong>{sessions}</strong> session" in first.content.decode()
    assert len(first.context["uses"]) == min(sessions, 2)
    pages = first.context["page_obj"].paginator
    listed = [use.session_id for number in pages.page_range for use in pages.page(number)]
    assert len(listed) == len(set(listed)) == sessions
    assert pages.num_pages == last_page
    assert list(last.context["uses"]) == list(pages.page(last_page))
