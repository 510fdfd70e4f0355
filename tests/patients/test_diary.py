import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from patients import outcomes
from patients.models import DiaryEntry
from patients.services import record_diary_entry

HEADACHE = {
    "headache": "yes",
    "hours": "4",
    "severity": "2",
    "migraine": "yes",
    "acute_medication": "triptan",
}


def day_url(day: datetime.date) -> str:
    return reverse("portal:diary_day", args=[day.isoformat()])


def fill(patient, start: datetime.date, days: int, *, headache_every: int = 2):
    """Entries for `days` consecutive days from `start`: a moderate migraine treated with a
    triptan every `headache_every` days, headache-free days between."""
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient,
            date=start + datetime.timedelta(days=n),
            **(
                {"headache": True, "hours": 4, "severity": 2, "migraine": True}
                | {"acute_medication": "triptan"}
                if n % headache_every == 0
                else {"headache": False}
            ),
        )
        for n in range(days)
    )


@pytest.fixture
def today(patient_a):
    return patient_a.local_today()


@pytest.fixture
def patient_client(client, patient_a):
    client.force_login(patient_a.user)
    return client


# --- the day form --------------------------------------------------------------------------


def test_a_patient_enters_a_headache_day(patient_client, patient_a, today):
    response = patient_client.post(day_url(today), HEADACHE)

    assert response.status_code == 302
    entry = DiaryEntry.objects.get(patient=patient_a)
    assert (entry.date, entry.headache, entry.hours, entry.severity) == (
        today,
        True,
        Decimal("4.0"),
        2,
    )
    assert (entry.migraine, entry.acute_medication) == (True, "triptan")


def test_entering_the_same_day_again_edits_the_one_entry(patient_client, patient_a, today):
    patient_client.post(day_url(today), HEADACHE)

    patient_client.post(day_url(today), HEADACHE | {"severity": "3", "hours": "10.5"})

    entry = DiaryEntry.objects.get(patient=patient_a)
    assert (entry.severity, entry.hours) == (3, Decimal("10.5"))


def test_the_day_form_shows_the_existing_entry(patient_client, patient_a, today):
    record_diary_entry(patient=patient_a, date=today, headache=True, hours=3, severity=3)

    form = patient_client.get(day_url(today)).context["form"]

    assert form["severity"].value() == 3
    assert form["headache"].value() == "yes"


def test_a_future_day_is_refused_with_a_form_error(patient_client, today):
    tomorrow = today + datetime.timedelta(days=1)

    response = patient_client.post(day_url(tomorrow), HEADACHE)

    assert response.status_code == 200
    assert "has not happened yet" in response.context["form"].non_field_errors()[0]
    assert not DiaryEntry.objects.exists()


def test_a_future_day_offers_no_form(patient_client, today):
    response = patient_client.get(day_url(today + datetime.timedelta(days=1)))
    assert "has not happened yet" in response.content.decode()
    assert b'type="submit"' not in response.content.split(b"Log out")[1]


def test_a_day_more_than_a_year_ago_is_refused(patient_client, today):
    response = patient_client.post(day_url(today - datetime.timedelta(days=366)), HEADACHE)
    assert "more than a year ago" in response.context["form"].non_field_errors()[0]
    assert not DiaryEntry.objects.exists()


def test_a_day_exactly_a_year_ago_may_be_entered(patient_client, today):
    response = patient_client.post(day_url(today - datetime.timedelta(days=365)), HEADACHE)
    assert response.status_code == 302
    assert DiaryEntry.objects.count() == 1


def test_a_date_that_is_not_a_date_is_not_found(patient_client):
    assert patient_client.get("/portal/diary/2026-02-30/").status_code == 404
    assert patient_client.get("/portal/diary/yesterday/").status_code == 404


@pytest.mark.parametrize("hours", ["24.5", "-1", "100"])
def test_hours_must_be_within_0_and_24(patient_client, today, hours):
    response = patient_client.post(day_url(today), HEADACHE | {"hours": hours})
    assert response.context["form"].errors["hours"]
    assert not DiaryEntry.objects.exists()


def test_a_headache_needs_its_hours_and_severity(patient_client, today):
    response = patient_client.post(day_url(today), {"headache": "yes", "acute_medication": "none"})
    assert set(response.context["form"].errors) == {"hours", "severity"}
    assert not DiaryEntry.objects.exists()


def test_no_headache_forces_hours_severity_and_migraine_to_nothing(
    patient_client, patient_a, today
):
    patient_client.post(day_url(today), HEADACHE | {"headache": "no"})

    entry = DiaryEntry.objects.get(patient=patient_a)
    assert (entry.headache, entry.hours, entry.severity, entry.migraine) == (False, 0, 0, False)
    assert entry.acute_medication == "triptan"  # a medicine day counts even without headache


def test_the_service_also_clears_a_headache_free_day(patient_a, today):
    entry = record_diary_entry(
        patient=patient_a, date=today, headache=False, hours=5, severity=3, migraine=True
    )
    assert (entry.hours, entry.severity, entry.migraine) == (0, 0, False)


# --- the database refuses bad rows ---------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"headache": True, "hours": 25, "severity": 2},
        {"headache": True, "hours": -1, "severity": 2},
        {"headache": True, "hours": 2, "severity": 4},
        {"headache": False, "hours": 2},
        {"headache": False, "severity": 1},
        {"headache": False, "migraine": True},
        {"headache": True, "hours": 2, "severity": 0},
        {"headache": False, "acute_medication": "aspirin-ish"},
    ],
)
def test_the_database_refuses_an_impossible_diary_row(patient_a, today, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        DiaryEntry.objects.create(patient=patient_a, date=today, **fields)


def test_the_database_refuses_a_second_entry_for_a_day(patient_a, today):
    DiaryEntry.objects.create(patient=patient_a, date=today, headache=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        DiaryEntry.objects.create(patient=patient_a, date=today, headache=False)


# --- the 28-day summary --------------------------------------------------------------------


def test_a_window_counts_headache_moderate_migraine_and_medication_days(patient_a, today):
    start = today - datetime.timedelta(days=27)
    fill(patient_a, start, 28, headache_every=2)  # 14 headache days
    record_diary_entry(
        patient=patient_a,
        date=start + datetime.timedelta(days=2),
        headache=True,
        hours=1,
        severity=1,
    )  # mild, no migraine, no medicine

    summary = outcomes.diary_summary(DiaryEntry.objects.all(), start, baseline=20)

    assert summary.entries == 28
    assert summary.headache_days == 14
    assert summary.moderate_severe_days == 13
    assert summary.migraine_days == 13
    assert summary.medication_days == 13
    assert summary.insufficient is False
    assert summary.percent_change == 30  # (20 - 14) / 20


def test_entries_outside_the_window_do_not_count(patient_a, today):
    start = today - datetime.timedelta(days=27)
    fill(patient_a, start - datetime.timedelta(days=10), 48, headache_every=1)
    summary = outcomes.diary_summary(DiaryEntry.objects.all(), start)
    assert (summary.entries, summary.headache_days) == (28, 28)


@pytest.mark.parametrize(("entered", "insufficient"), [(19, True), (20, False)])
def test_fewer_than_20_entries_is_insufficient_data(patient_a, today, entered, insufficient):
    start = today - datetime.timedelta(days=27)
    fill(patient_a, start, entered)
    summary = outcomes.diary_summary(DiaryEntry.objects.all(), start, baseline=20)
    assert summary.insufficient is insufficient
    assert (summary.percent_change is None) is insufficient


def test_the_percent_change_is_against_the_intake_baseline():
    assert outcomes.percent_change(20, 10) == 50
    assert outcomes.percent_change(20, 25) == -25
    assert outcomes.percent_change(18, 12) == 33  # 33.3, rounded


def test_without_a_baseline_there_is_no_percent_change(patient_a, today):
    start = today - datetime.timedelta(days=27)
    fill(patient_a, start, 28)
    assert outcomes.diary_summary(DiaryEntry.objects.all(), start).percent_change is None


def test_the_calendar_summarises_the_last_28_days(patient_client, patient_a, today):
    patient_a.baseline_headache_days = 20
    patient_a.save()
    fill(patient_a, today - datetime.timedelta(days=27), 28, headache_every=2)

    html = patient_client.get(reverse("portal:diary")).content.decode()

    assert "Headache days</dt><dd>14</dd>" in html
    assert "30 % fewer" in html


def test_the_calendar_says_insufficient_data_below_20_entries(patient_client, patient_a, today):
    fill(patient_a, today - datetime.timedelta(days=11), 12)

    html = patient_client.get(reverse("portal:diary")).content.decode()

    assert "Insufficient data: 12 of 28 days entered" in html


# --- the calendar --------------------------------------------------------------------------


def test_the_calendar_links_past_days_but_not_future_ones(patient_client, today):
    response = patient_client.get(reverse("portal:diary"))
    html = response.content.decode()
    assert f'href="{day_url(today)}"' in html
    assert f'href="{day_url(today + datetime.timedelta(days=1))}"' not in html


def test_the_calendar_shows_each_days_state(patient_client, patient_a, today):
    record_diary_entry(patient=patient_a, date=today, headache=True, hours=2, severity=3)
    cells = [
        cell
        for week in patient_client.get(reverse("portal:diary")).context["weeks"]
        for cell in week
    ]
    todays = next(cell for cell in cells if cell["date"] == today)
    assert todays["entry"].severity == 3
    assert todays["open"] is True


def test_the_calendar_pages_back_by_month_but_not_into_the_future(patient_client, today):
    this_month = today.replace(day=1)
    response = patient_client.get(reverse("portal:diary"), {"month": "2099-01"})
    assert response.context["month"] == this_month
    assert response.context["next"] is None

    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    response = patient_client.get(reverse("portal:diary"), {"month": f"{last_month:%Y-%m}"})
    assert response.context["month"] == last_month
    assert response.context["next"] == this_month


def test_a_month_that_is_not_a_month_shows_this_month(patient_client, today):
    response = patient_client.get(reverse("portal:diary"), {"month": "2026-13"})
    assert response.context["month"] == today.replace(day=1)


@pytest.mark.parametrize("months", [1, 6])
def test_the_calendar_query_count_does_not_grow_with_the_diary(
    patient_client, patient_a, today, months, django_assert_max_num_queries
):
    fill(patient_a, today - datetime.timedelta(days=30 * months), 30 * months)
    # session, user, patient, the month's entries, the last 28 days' entries, and the
    # session's sliding expiry (3)
    with django_assert_max_num_queries(9):  # +1: the audit trail's one INSERT
        response = patient_client.get(reverse("portal:diary"))
    assert response.status_code == 200


@pytest.mark.parametrize("months", [1, 6])
def test_the_day_form_query_count_does_not_grow_with_the_diary(
    patient_client, patient_a, today, months, django_assert_max_num_queries
):
    fill(patient_a, today - datetime.timedelta(days=30 * months), 30 * months + 1)
    with django_assert_max_num_queries(8):  # +1: the audit trail's one INSERT
        response = patient_client.get(day_url(today))
    assert response.status_code == 200


# --- no one else's diary -------------------------------------------------------------------


def test_a_patient_never_sees_another_patients_diary(patient_client, patient_b, today):
    record_diary_entry(patient=patient_b, date=today, headache=True, hours=9, severity=3)

    month = patient_client.get(reverse("portal:diary"))
    day = patient_client.get(day_url(today))

    assert all(cell["entry"] is None for week in month.context["weeks"] for cell in week)
    assert day.context["entry"] is None
    assert "saving replaces it" not in day.content.decode()


def test_a_patient_saving_a_day_never_touches_another_patients_entry(
    patient_client, patient_a, patient_b, today
):
    theirs = record_diary_entry(patient=patient_b, date=today, headache=True, hours=9, severity=3)

    patient_client.post(day_url(today), HEADACHE | {"headache": "no"})

    theirs.refresh_from_db()
    assert (theirs.headache, theirs.hours, theirs.severity) == (True, Decimal("9.0"), 3)
    assert DiaryEntry.objects.get(patient=patient_a).headache is False


def test_a_portal_account_without_a_patient_record_has_no_diary(client, db):
    from clinic.models import User
    from tests.conftest import make_user

    client.force_login(make_user("unlinked", User.Role.PATIENT))
    assert client.get(reverse("portal:diary")).status_code == 404
    assert client.get(reverse("portal:questionnaires")).status_code == 404


def test_staff_cannot_open_a_patients_diary_page(client, clinician, today):
    client.force_login(clinician)
    assert client.get(reverse("portal:diary")).status_code == 403
    assert client.post(day_url(today), HEADACHE).status_code == 403
    assert not DiaryEntry.objects.exists()
