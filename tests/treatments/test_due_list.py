"""The due list at network scale (issue 13): computed in SQL a page at a time, filtered by
location, clinician and how overdue, with patients long past due moved to a lost-to-follow-up
list; the failed/skipped reminders list paged; both at a constant number of queries, and the
hot queries on their indexes."""

import datetime

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import AccessEvent
from clinic.models import Location, User
from tests.conftest import local, make_patient, make_reminders, make_user, next_weekday
from treatments.models import Appointment, CallOutcome, DueState, Reminder, TreatmentCourse
from treatments.models.reminders import CANCELLED_WHILE_SENDING
from treatments.services import book_appointment, record_call_outcome
from treatments.services.schedule import due_list, due_patients

NOW = datetime.datetime(2026, 9, 16, 15, 0, tzinfo=datetime.UTC)  # Wed 11:00 in New York
TODAY = datetime.date(2026, 9, 16)
DUE_PAGE_QUERIES = (
    14  # session (3), user, locations (2), clinicians (2), bounds, count, ids, rows, calls
)
REMINDER_PAGE_QUERIES = 8


@pytest.fixture
def pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


def past_due(number: int, days: int, **fields):
    """A patient with an active course whose next session was due `days` ago (negative: ahead)."""
    patient = make_patient(number, **fields)
    last = TODAY - datetime.timedelta(days=84 + days)
    TreatmentCourse.objects.create(patient=patient, started_on=last, last_session_on=last)
    return patient


def mrns(entries) -> list[str]:
    return [entry.patient.mrn for entry in entries]


def lost_list(**filters) -> list:
    return due_list(today=TODAY, lost=True, **filters)


# --- lost to follow-up ------------------------------------------------------------------------


def test_a_patient_past_due_by_more_than_the_cut_off_is_lost_not_on_the_working_list(
    pinned, location, settings
):
    settings.DUE_LIST_LOST_AFTER_DAYS = 365
    on_the_edge = past_due(1, 365, location=location)
    lost = past_due(2, 366, location=location)

    assert mrns(due_list(today=TODAY)) == [on_the_edge.mrn]
    assert mrns(lost_list()) == [lost.mrn]
    assert [entry.reason for entry in lost_list()] == ["overdue"]


def test_the_cut_off_is_a_setting(pinned, location, settings):
    patient = past_due(1, 40, location=location)
    settings.DUE_LIST_LOST_AFTER_DAYS = 60
    assert mrns(due_list(today=TODAY)) == [patient.mrn]
    settings.DUE_LIST_LOST_AFTER_DAYS = 30
    assert due_list(today=TODAY) == []
    assert mrns(lost_list()) == [patient.mrn]


def test_booking_a_lost_patient_takes_them_off_both_lists(
    pinned, schedule, clinician, front_desk, settings
):
    settings.DUE_LIST_LOST_AFTER_DAYS = 365
    patient = past_due(1, 500, location=schedule)
    assert mrns(lost_list()) == [patient.mrn]

    book_appointment(
        patient=patient,
        clinician=clinician,
        location=schedule,
        starts_at=local(next_weekday(2, after=TODAY), 9),
        booked_by=front_desk,
    )

    assert lost_list() == []
    assert due_list(today=TODAY) == []


def test_a_patient_who_asked_to_move_a_visit_is_never_lost(
    pinned, schedule, clinician, front_desk, settings
):
    settings.DUE_LIST_LOST_AFTER_DAYS = 365
    patient = past_due(1, 500, location=schedule)
    visit = book_appointment(
        patient=patient,
        clinician=clinician,
        location=schedule,
        starts_at=local(next_weekday(2, after=TODAY), 9),
        booked_by=front_desk,
    )
    Appointment.objects.filter(pk=visit.pk).update(change_requested_at=NOW, change_request="Fri")

    [entry] = due_list(today=TODAY)
    assert (entry.patient.mrn, entry.reason, entry.appointment.pk) == (
        patient.mrn,
        "change",
        visit.pk,
    )
    assert lost_list() == []


def test_a_patient_who_missed_their_first_visit_stays_on_the_working_list(
    pinned, location, clinician, front_desk
):
    # Given a course with no session yet (no due date) and its first visit missed: before the
    # due states (migration 0017) such a patient was on neither list
    patient = make_patient(1, location=location)
    TreatmentCourse.objects.create(patient=patient, started_on=TODAY - datetime.timedelta(days=30))
    missed = NOW - datetime.timedelta(days=20)
    Appointment.objects.create(
        patient=patient,
        location=location,
        clinician=clinician,
        starts_at=missed,
        ends_at=missed + datetime.timedelta(minutes=30),
        status="noshow",
        booked_by=front_desk,
    )
    never_seen = make_patient(2, location=location)  # no visit missed, no due date: not listed
    TreatmentCourse.objects.create(patient=never_seen, started_on=TODAY)

    [entry] = due_list(today=TODAY)
    assert (entry.patient.mrn, entry.reason, entry.next_due_on) == (patient.mrn, "noshow", None)
    assert lost_list() == []


def test_the_lost_list_is_its_own_tab_for_staff(pinned, client, front_desk, location, settings):
    settings.DUE_LIST_LOST_AFTER_DAYS = 365
    lost = past_due(1, 400, location=location)
    working = past_due(2, 10, location=location)
    client.force_login(front_desk)

    page = client.get(reverse("treatments:due_list"), {"list": "lost"})

    assert page.status_code == 200
    assert mrns(page.context["entries"]) == [lost.mrn]
    assert "Lost to follow-up" in page.content.decode()
    assert mrns(client.get(reverse("treatments:due_list")).context["entries"]) == [working.mrn]


# --- paging and filters -----------------------------------------------------------------------


def test_the_due_list_shows_fifty_a_page_in_due_date_order(pinned, client, front_desk, location):
    patients = [past_due(n, 60 - n, location=location) for n in range(55)]
    client.force_login(front_desk)

    first = client.get(reverse("treatments:due_list"))
    second = client.get(reverse("treatments:due_list"), {"page": "2"})

    assert first.context["page_obj"].paginator.count == 55
    by_due_date = [p.mrn for p in patients]  # the longest past due first
    assert mrns(first.context["entries"]) == by_due_date[:50]
    assert mrns(second.context["entries"]) == by_due_date[50:]
    assert "?page=2" in first.content.decode()


@pytest.mark.parametrize("page", ["0", "-1", "x", "999999999999999999999", "1e309"])
def test_a_page_number_out_of_range_or_nonsense_shows_a_page(
    pinned, client, front_desk, location, page
):
    past_due(1, 10, location=location)
    client.force_login(front_desk)
    response = client.get(reverse("treatments:due_list"), {"page": page})
    assert response.status_code == 200
    assert len(response.context["entries"]) == 1


def test_the_due_list_filters_by_the_patients_location(pinned, client, front_desk, location):
    elsewhere = Location.objects.create(
        name="Hillside", address="1 Hill Road", phone="+12125550143", time_zone="America/New_York"
    )
    here = past_due(1, 10, location=location)
    past_due(2, 10, location=elsewhere)
    client.force_login(front_desk)

    page = client.get(reverse("treatments:due_list"), {"location": location.pk})

    assert mrns(page.context["entries"]) == [here.mrn]


def test_the_due_list_filters_by_the_patients_clinician(
    pinned, client, front_desk, location, clinician
):
    other = make_user("other", User.Role.CLINICIAN, first_name="Kofi", last_name="Mensah")
    mine = past_due(1, 10, location=location, primary_clinician=clinician)
    past_due(2, 10, location=location, primary_clinician=other)
    past_due(3, 10, location=location)
    client.force_login(front_desk)

    page = client.get(reverse("treatments:due_list"), {"clinician": clinician.pk})
    nobody = client.get(reverse("treatments:due_list"), {"clinician": front_desk.pk})

    assert mrns(page.context["entries"]) == [mine.mrn]
    assert len(nobody.context["entries"]) == 3  # not a clinician: the filter is ignored


@pytest.mark.parametrize(
    ("bucket", "expected"),
    [("upcoming", "MRN-0001"), ("4w", "MRN-0002"), ("12w", "MRN-0003"), ("older", "MRN-0004")],
)
def test_the_due_list_filters_by_how_overdue(
    pinned, client, front_desk, location, bucket, expected
):
    for number, days in ((1, -7), (2, 28), (3, 29), (4, 200)):
        past_due(number, days, location=location)
    client.force_login(front_desk)

    page = client.get(reverse("treatments:due_list"), {"overdue": bucket})

    assert mrns(page.context["entries"]) == [expected]


def test_the_weeks_ahead_still_bound_the_list(pinned, location):
    soon = past_due(1, -20, location=location)  # due in 20 days
    past_due(2, -30, location=location)  # due in 30 days
    assert mrns(due_list(today=TODAY)) == [soon.mrn]
    assert len(due_list(today=TODAY, weeks=5)) == 2


def test_a_row_shows_the_formatted_phone_and_the_latest_call(pinned, client, front_desk, location):
    patient = past_due(1, 10, location=location, phone="+12125550100")
    record_call_outcome(patient=patient, outcome="unreachable", by=front_desk)
    record_call_outcome(
        patient=patient,
        outcome="call_back",
        by=front_desk,
        call_back_on=TODAY + datetime.timedelta(days=1),
        note="after 5",
    )
    client.force_login(front_desk)

    page = client.get(reverse("treatments:due_list")).content.decode()

    assert "+1 212-555-0100" in page
    assert "Call back (17 Sep): after 5" in page
    assert "Unreachable<div" not in page  # the latest call only
    assert page.count(", Min-ji Kim</div>") == 1
    call = reverse("treatments:call_outcome", args=[patient.pk])
    assert f'href="{call}?next=/treatments/due/"' in page
    assert f'href="{reverse("treatments:book", args=[patient.pk])}"' in page
    table = page.split('id="due-list"')[1].split("</table>")[0]
    assert "<form" not in table  # a link per row, no form


def test_a_call_is_recorded_on_its_own_page_and_leads_back_to_the_list_as_it_was(
    pinned, client, front_desk, location
):
    # Given a patient on the due list, filtered to her location, on its call page
    patient = past_due(1, 10, location=location)
    client.force_login(front_desk)
    back = f"{reverse('treatments:due_list')}?location={location.pk}&weeks=4"
    html = client.get(reverse("treatments:due_list"), {"location": location.pk, "weeks": 4})
    call = reverse("treatments:call_outcome", args=[patient.pk])
    assert f'href="{call}?next=/treatments/due/%3Flocation%3D{location.pk}%26weeks%3D4"' in (
        html.content.decode()
    )
    page = client.get(call, {"next": back})
    assert page.status_code == 200
    assert f'name="next" value="{back.replace("&", "&amp;")}"' in page.content.decode()

    # When a call back is saved without its date, then with it
    refused = client.post(call, {"outcome": "call_back", "next": back})
    saved = client.post(call, {"outcome": "call_back", "call_back_on": "2026-09-18", "next": back})

    # Then the first shows the error on the page, the second goes back to the filtered list
    assert refused.status_code == 200
    assert "Give the date to call back." in refused.content.decode()
    assert saved.status_code == 302
    assert saved["Location"] == back
    assert CallOutcome.objects.get(patient=patient).call_back_on == datetime.date(2026, 9, 18)
    # and a next leading off the site leads to the list
    elsewhere = client.post(call, {"outcome": "unreachable", "next": "https://evil.test/"})
    assert elsewhere["Location"] == reverse("treatments:due_list")


# --- constant query counts --------------------------------------------------------------------


@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize(
    "query",
    [{}, {"list": "lost"}, {"overdue": "older", "clinician": "1", "location": "1", "page": "2"}],
)
def test_the_due_and_lost_lists_keep_a_constant_query_count(
    pinned, client, front_desk, location, clinician, settings, rows, query,
    django_assert_max_num_queries,
):  # fmt: skip
    settings.DUE_LIST_LOST_AFTER_DAYS = 365
    for n in range(rows):
        patient = past_due(n, 100 + 400 * (n % 2), location=location, primary_clinician=clinician)
        CallOutcome.objects.create(patient=patient, outcome="unreachable", recorded_by=front_desk)
    client.force_login(front_desk)
    with django_assert_max_num_queries(DUE_PAGE_QUERIES):
        response = client.get(reverse("treatments:due_list"), query)
    assert response.status_code == 200
    if not query:
        assert len(response.context["entries"]) == (rows + 1) // 2


@pytest.mark.parametrize("rows", [3, 30])
def test_the_reminders_list_keeps_a_constant_query_count(
    pinned, client, front_desk, location, rows, django_assert_max_num_queries
):
    for n in range(rows):
        patient = make_patient(n, location=location)
        Reminder.objects.create(
            patient=patient,
            subject_key=f"test:{n}",
            kind="rebook_noshow",
            channel="email",
            due_at=NOW - datetime.timedelta(hours=n),
            status=("failed", "skipped")[n % 2],
            skip_reason="no consent",
        )
    client.force_login(front_desk)
    with django_assert_max_num_queries(REMINDER_PAGE_QUERIES):
        response = client.get(reverse("treatments:reminder_list"))
    assert len(response.context["reminders"]) == rows
    assert response.context["reminders"][0].patient.last_name == "Family0"  # newest first


def test_the_reminders_list_shows_fifty_a_page(pinned, client, front_desk, location):
    make_reminders(
        [make_patient(1, location=location)] * 60,
        due_at=NOW,
        each_earlier_by=datetime.timedelta(hours=1),
        status="failed",
    )
    client.force_login(front_desk)
    second = client.get(reverse("treatments:reminder_list"), {"page": "2"})
    assert [r.subject_key for r in second.context["reminders"]] == [
        f"test:{n}" for n in range(50, 60)
    ]


# --- the plan on PostgreSQL -------------------------------------------------------------------


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plan of PostgreSQL's planner (SQLite: none)"
)
def test_the_due_lists_hot_queries_use_their_indexes_at_scale(
    pinned, location, clinician, front_desk
):
    # Given 20,000 patients with 20,000 courses and 40,000 past visits, a few of them no-shows
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO patients_patient (mrn, first_name, last_name, date_of_birth, sex, email,
                phone, address, status, location_id, primary_clinician_id, baseline_headache_days,
                baseline_migraine_days, preventives_failed, preventives_notes, diagnosis_code,
                created_at, updated_at)
            SELECT 'S-' || n, 'Given', 'Family' || n, DATE '1980-01-01', 'female', '', '', '',
                'active', %s, %s, NULL, NULL, NULL, '', '', now(), now()
            FROM generate_series(1, 20000) AS n
            """,
            [location.pk, clinician.pk],
        )
        cursor.execute(
            """
            INSERT INTO treatments_treatmentcourse (patient_id, started_on, interval_days,
                min_interval_days, status, status_reason, last_session_on, created_at)
            SELECT id, DATE '2024-01-01', 84, 84, 'active', '',
                DATE '2026-09-16' - 60 - (id % 400)::int, now()
            FROM patients_patient
            """
        )
        cursor.execute(
            """
            INSERT INTO treatments_appointment (patient_id, location_id, clinician_id, starts_at,
                ends_at, kind, status, booked_by_id, booked_at, early_override_reason,
                cancel_reason, change_request, sequence)
            SELECT p.id, %s, %s, TIMESTAMPTZ '2020-01-06 14:00+00' + k * INTERVAL '1 day'
                    + (p.id %% 1000) * INTERVAL '30 minutes',
                TIMESTAMPTZ '2020-01-06 14:30+00' + k * INTERVAL '1 day'
                    + (p.id %% 1000) * INTERVAL '30 minutes',
                'injection', CASE WHEN p.id %% 500 = 0 AND k = 1 THEN 'noshow'
                    ELSE 'fulfilled' END, %s, now(), '', '', '', 0
            FROM patients_patient p, generate_series(0, 1) AS k
            """,
            [location.pk, clinician.pk, front_desk.pk],
        )
        cursor.execute("ANALYZE")
    missed = Appointment.objects.missed().values("patient_id")
    changes = Appointment.objects.change_requested().values("patient_id")

    plans = [_plan(missed), _plan(changes), _plan(due_patients(today=TODAY).values("pk"))]

    noshow_indexes = ("appt_noshow_idx", "appt_status_order_idx")  # both partial or leading
    assert any(name in plans[0] for name in noshow_indexes), plans[0]
    assert "appt_change_request_idx" in plans[1]
    for plan in plans[:2]:
        assert "Seq Scan on treatments_appointment" not in plan, plan
    # The list reads the due states the triggers derived from the raw INSERTs (40 missed
    # visits among them), not the visits, sessions and calls themselves.
    assert DueState.objects.count() == 20000
    assert DueState.objects.filter(missed_at__isnull=False).count() == 40
    assert "treatments_duestate" in plans[2]
    for table in ("appointment", "treatmentsession", "calloutcome", "treatmentcourse"):
        assert f"treatments_{table}" not in plans[2], plans[2]
    # A page of the list, the location's or the lost one is a range of an index in the list's
    # order: no sort of every due state
    # (and so is the page at an hour when the location's date is not the server's)
    behind = {"today_at": {location.pk: TODAY - datetime.timedelta(days=1)}}
    for filters in ({}, {"location": location}, {"lost": True}, behind):
        page = _plan(due_patients(today=TODAY, **filters).values("pk")[:50])
        assert "due_order_idx" in page or "due_location_order_idx" in page, page
        assert "Sort" not in page, page
    assert len(due_list(today=TODAY)) > 0


def test_a_row_shows_names_and_call_notes_as_text_not_markup(pinned, client, front_desk, location):
    # Given a patient whose name and latest call note hold markup
    patient = past_due(1, 10, location=location, last_name="<i>Lee</i>")
    CallOutcome.objects.create(
        patient=patient, outcome="unreachable", note="<b>x</b> & y", recorded_by=front_desk
    )
    client.force_login(front_desk)

    # When the front desk opens the due list
    html = client.get(reverse("treatments:due_list")).content.decode()

    # Then both show escaped, as text
    assert "&lt;i&gt;Lee&lt;/i&gt;, Given1" in html
    assert "Unreachable: &lt;b&gt;x&lt;/b&gt; &amp; y" in html
    assert "<i>Lee" not in html
    assert "<b>x" not in html


def test_every_patient_on_the_page_is_in_the_audit_trail(pinned, client, front_desk, location):
    shown = {past_due(n, 10, location=location).pk for n in range(3)}
    client.force_login(front_desk)
    client.get(reverse("treatments:due_list"))
    noted = AccessEvent.objects.filter(view="treatments:due_list", user=front_desk)
    assert set(noted.values_list("patient_id", flat=True)) == shown


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plan of PostgreSQL's planner (SQLite: none)"
)
def test_the_reminders_list_reads_its_partial_index_at_scale(pinned, client, front_desk, location):
    # Given 100,000 reminders of the last 23 days sent as usual, and among them 50 failed,
    # 50 skipped and 50 sent for a visit cancelled during the hand-over
    patient = make_patient(1, location=location)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO treatments_reminder (patient_id, subject_key, kind, channel, due_at,
                status, attempts, claim_token, last_error, skip_reason, sent_at,
                provider_message_id, created_at)
            SELECT %s, 'scale:' || n, 'rebook_noshow', 'email',
                %s - n * INTERVAL '20 seconds',
                CASE WHEN n %% 2000 = 1 THEN 'failed' WHEN n %% 2000 = 2 THEN 'skipped'
                    ELSE 'sent' END,
                1, '', '',
                CASE WHEN n %% 2000 = 3 THEN %s ELSE '' END,
                CASE WHEN n %% 2000 IN (1, 2) THEN NULL ELSE now() END, '', now()
            FROM generate_series(1, 100000) AS n
            """,
            [patient.pk, NOW, f"The visit is cancelled. {CANCELLED_WHILE_SENDING}"],
        )
        cursor.execute("ANALYZE treatments_reminder")
    client.force_login(front_desk)

    # When the front desk opens the list, the page's query reads the partial index
    response = client.get(reverse("treatments:reminder_list"))
    assert response.context["page_obj"].paginator.count == 150
    plan = _plan(response.context["page_obj"].object_list)
    assert "reminder_problem_idx" in plan, plan
    assert "Seq Scan on treatments_reminder" not in plan, plan


@pytest.mark.parametrize("weeks", ["²", "-1", "0", "27", "9" * 5000, ""])
def test_weeks_ahead_out_of_range_or_not_a_number_falls_back_to_the_default(
    pinned, client, front_desk, location, settings, weeks
):
    settings.DUE_LIST_WEEKS = 4
    soon = past_due(1, -20, location=location)  # due in 20 days
    past_due(2, -30, location=location)  # due in 30 days
    client.force_login(front_desk)

    page = client.get(reverse("treatments:due_list"), {"weeks": weeks})

    assert page.status_code == 200
    assert mrns(page.context["entries"]) == [soon.mrn]
    # the page says and offers the setting's weeks (it said 3, whatever the setting)
    assert "Patients due within 4 weeks" in page.content.decode()
    assert 'name="weeks" min="1" max="26" value="4"' in page.content.decode()


@pytest.mark.parametrize(("weeks", "due"), [("1", 0), ("5", 2), ("26", 2)])
def test_weeks_ahead_from_one_to_twenty_six_bound_the_list(
    pinned, client, front_desk, location, weeks, due
):
    past_due(1, -20, location=location)  # due in 20 days
    past_due(2, -30, location=location)  # due in 30 days
    client.force_login(front_desk)

    page = client.get(reverse("treatments:due_list"), {"weeks": weeks})

    assert page.context["weeks"] == int(weeks)
    assert len(page.context["entries"]) == due
