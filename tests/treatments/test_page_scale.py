"""Issue 13: the calendar, the chart and the alerts inbox at network scale. Their query counts
are pinned at two sizes under one cap (a query per row fails), the calendar's lean markup says
what the template said, and on PostgreSQL the week's query uses its index on a big table."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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
    # 17 at most, however many sessions: the one more than 16 is the medication list of the
    # chart's timeline (issue 18)
    with django_assert_max_num_queries(17):
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


# session, user, the lot's ids with its uses counted, the page (session, patient and location
# joined), the nav's alert count, the lot picker, the session's sliding expiry (3), the audit
# trail's one INSERT
RECALL_QUERIES = 10


@pytest.mark.parametrize("sessions", [1, 5])
def test_the_lot_recall_pages_a_lot_in_wide_use_in_as_many_queries(
    client, clinic_admin, clinician, location, sessions, monkeypatch, django_assert_max_num_queries
):
    # Given a lot used in `sessions` sessions of as many patients, and pages of 2
    monkeypatch.setattr("treatments.views.sessions.RECALL_PAGE_SIZE", 2)
    recorded = []
    for number in range(sessions):
        patient = make_patient(number, location=location)
        recorded.append(
            record_session(patient=patient, injector=clinician, data=session_input(location))
        )
    client.force_login(clinic_admin)
    url = reverse("treatments:lot_recall")

    # When the admin opens the recall of the lot, and then every page of it
    with django_assert_max_num_queries(RECALL_QUERIES):
        first = client.get(url, {"lot": "c1234ab"})
    last_page = (sessions + 1) // 2
    pages = [client.get(url, {"lot": "c1234ab", "page": n}) for n in range(1, last_page + 1)]

    # Then every use is counted, and the pages together list each session once, in the order
    # they were recorded, each row with its patient's links and phone
    assert first.context["page_obj"].paginator.count == sessions
    assert first.context["page_obj"].paginator.num_pages == last_page
    assert f"<strong>{sessions}</strong> session" in first.content.decode()
    assert len(first.context["uses"]) == min(sessions, 2)
    listed = [use.session_id for page in pages for use in page.context["uses"]]
    assert listed == [session.pk for session in recorded]
    use = first.context["uses"][0]
    patient = recorded[0].patient
    assert (use.first_name, use.last_name, use.mrn) == (
        patient.first_name,
        patient.last_name,
        patient.mrn,
    )
    assert use.patient_url == reverse("patients:detail", args=[patient.pk])
    assert use.session_url == reverse("treatments:session_detail", args=[recorded[0].pk])
    assert use.location_name == location.name
    assert f">{patient.phone.as_e164}<" in first.content.decode()


@postgresql_only
def test_the_lot_recall_counts_and_pages_a_lot_in_wide_use_on_its_index(
    client, clinic_admin, clinician, location
):
    # Given 2,000 patients with ten sessions each (20,000), the lot of each half of a patient's
    # cycles one of two lots (10,000 uses each)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO patients_patient (mrn, first_name, last_name, date_of_birth, sex, email,
                phone, address, status, location_id, primary_clinician_id, baseline_headache_days,
                baseline_migraine_days, preventives_failed, preventives_notes, diagnosis_code,
                created_at, updated_at)
            SELECT 'R-' || n, 'Given', 'Family' || n, DATE '1980-01-01', 'female', '', '', '',
                'active', %s, %s, NULL, NULL, NULL, '', '', now(), now()
            FROM generate_series(1, 2000) AS n
            """,
            [location.pk, clinician.pk],
        )
        cursor.execute(
            """
            INSERT INTO treatments_treatmentcourse (patient_id, started_on, interval_days,
                min_interval_days, status, status_reason, last_session_on, created_at)
            SELECT id, DATE '2024-01-01', 84, 84, 'active', '', NULL, now()
            FROM patients_patient WHERE mrn LIKE 'R-%%'
            """
        )
        cursor.execute(
            """
            INSERT INTO treatments_viallot (product, lot_number, expiry)
            VALUES ('botox_200', 'WIDE-1', DATE '2030-01-01'),
                   ('botox_200', 'WIDE-2', DATE '2030-01-01')
            """
        )
        cursor.execute(
            """
            INSERT INTO treatments_treatmentsession (patient_id, course_id, cycle_number,
                location_id, injector_id, administered_at, given_on, reconstituted_at,
                diluent_ml, total_units, units_wasted, consent, other_toxin_units,
                early_reason, extra_vial_reason, under_18_reason, acknowledged, notes, status,
                voided_reason, version, created_at, updated_at)
            SELECT c.patient_id, c.id, k, %s, %s, TIMESTAMPTZ '2024-01-08 15:00+00' + k * 91
                    * INTERVAL '1 day', DATE '2024-01-08' + k * 91, TIMESTAMPTZ
                    '2024-01-08 14:40+00' + k * 91 * INTERVAL '1 day', 4.0, 155, 45, 'course',
                0, '', '', '', '[]'::jsonb, '', 'draft', '', 1, now(), now()
            FROM treatments_treatmentcourse c, generate_series(1, 10) AS k
            """,
            [location.pk, clinician.pk],
        )
        cursor.execute(
            """
            INSERT INTO treatments_vialuse (session_id, lot_id, vials, units_drawn,
                units_administered, units_wasted)
            SELECT s.id, l.id, 1, 200, 155, 45
            FROM treatments_treatmentsession s
            JOIN treatments_viallot l ON l.lot_number = CASE WHEN s.cycle_number <= 5
                THEN 'WIDE-1' ELSE 'WIDE-2' END
            """
        )
        cursor.execute("ANALYZE")
    client.force_login(clinic_admin)

    # When the admin opens the first page of one lot's recall, and its last
    url = reverse("treatments:lot_recall")
    with CaptureQueriesContext(connection) as first:
        response = client.get(url, {"lot": "wide-1"})
    with CaptureQueriesContext(connection) as last:
        client.get(url, {"lot": "wide-1", "page": 10_000})

    # Then every use is counted; the first page finds its rows in the order of
    # vialuse_recall_idx (no sort of the lot's 10,000 uses), and no query scans the uses or
    # the sessions (the lot's query counts on an index of the lot, the pages too; the
    # superseded versions are read on their partial index). Freshly inserted rows are not
    # yet all-visible, so for the last page the planner may read the lot's index and sort:
    # the scale copy, vacuumed, reads vialuse_recall_idx alone (tests/bench/README.md).
    assert response.context["page_obj"].paginator.count == 10_000
    hot = [
        query["sql"]
        for query in [*first.captured_queries, *last.captured_queries]
        if "treatments_vialuse" in query["sql"]
    ]
    counts = [sql for sql in hot if sql.startswith('SELECT "treatments_viallot"')]
    pages = [sql for sql in hot if sql not in counts]
    assert (len(counts), len(pages)) == (2, 2)
    for sql in hot:
        explained = plan(sql, None)
        assert "Seq Scan on treatments_vialuse" not in explained, explained
        assert "Seq Scan on treatments_treatmentsession" not in explained, explained
        assert "session_superseded_idx" in explained, explained
    explained = plan(pages[0], None)
    assert "using vialuse_recall_idx" in explained, explained
    assert "Sort Key: v0.session_id" not in explained, explained
