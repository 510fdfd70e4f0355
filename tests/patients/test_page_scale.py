"""Issue 13: the registry search and the portal's pages at network scale. Query counts pinned at
two sizes under one cap; on PostgreSQL the name search reads its trigram indexes."""

import datetime

import pytest
from django.db import connection
from django.urls import reverse

from patients.models import DiaryEntry, Patient
from tests.conftest import local, make_patient
from treatments.models import Appointment

SIZES = [3, 40]
TODAY = datetime.date(2026, 3, 18)  # a Wednesday; the clock is pinned to its morning
GRID_STARTS = datetime.date(2026, 2, 23)  # the Monday the month's calendar begins on


@pytest.fixture
def desk_client(client, front_desk):
    client.force_login(front_desk)
    return client


@pytest.fixture
def patient_client(client, patient_a, time_machine):
    time_machine.move_to(local(TODAY, 9))
    client.force_login(patient_a.user)
    return client


def many_patients(count: int, location, clinician) -> list[Patient]:
    return Patient.objects.bulk_create(
        Patient(
            mrn=f"SCALE-{n:04d}",
            first_name=f"Given{n}",
            last_name=f"Morgan{n}",
            date_of_birth=datetime.date(1980, 1, 1),
            sex="female",
            phone="+12125550100",
            location=location,
            primary_clinician=clinician,
        )
        for n in range(count)
    )


def past_visits(patient, clinician, count: int) -> None:
    """`count` cancelled visits, a week apart, before TODAY."""
    Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            clinician=clinician,
            location=patient.location,
            starts_at=local(TODAY - datetime.timedelta(weeks=n + 1), 10),
            ends_at=local(TODAY - datetime.timedelta(weeks=n + 1), 10, 30),
            booked_by=clinician,
            status="cancelled",
            cancel_reason="moved",
        )
        for n in range(count)
    )


def diary(patient, count: int) -> None:
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient,
            date=TODAY - datetime.timedelta(days=n),
            headache=True,
            hours=3,
            severity=2,
        )
        for n in range(count)
    )


# --- query counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", SIZES)
def test_a_registry_search_needs_as_many_queries_for_40_matches_as_for_3(
    desk_client, location, clinician, rows, django_assert_max_num_queries
):
    many_patients(rows, location, clinician)
    make_patient(999, last_name="Unrelated")
    desk_client.post(reverse("patients:list"), {"q": "morgan"})
    # session, user, count, page (location and clinician joined), the session's sliding
    # expiry (3), the audit trail's one INSERT
    with django_assert_max_num_queries(8):
        response = desk_client.get(reverse("patients:list"))
    assert response.context["page"].paginator.count == rows
    assert len(response.context["page"]) == min(rows, 25)


def test_a_search_matching_more_than_its_limit_is_counted_to_the_limit_and_says_so(
    desk_client, location, clinician, monkeypatch, django_assert_max_num_queries
):
    # Given 12 patients named Morgan, and a search counted to 10 at most, 4 a page
    monkeypatch.setattr("patients.views.staff.SEARCH_COUNT_LIMIT", 10)
    monkeypatch.setattr("patients.views.staff.PAGE_SIZE", 4)
    many_patients(12, location, clinician)
    desk_client.post(reverse("patients:list"), {"q": "morgan"})

    # When the front desk opens the results, and a page past the limit
    with django_assert_max_num_queries(8):
        response = desk_client.get(reverse("patients:list"))
    past = desk_client.get(reverse("patients:list"), {"page": 99})

    # Then the list says there are more and asks for another word; its pages end at the
    # limit, the first ten by name
    text = response.content.decode()
    assert "More than 10 patients match “morgan”" in text
    assert "Add a word" in text
    paginator = response.context["page"].paginator
    assert (paginator.count, paginator.num_pages, paginator.capped) == (10, 3, True)
    listed = [p.pk for n in paginator.page_range for p in paginator.page(n)]
    by_name = Patient.objects.filter(last_name__icontains="morgan").order_by(
        "last_name", "first_name", "pk"
    )
    assert listed == list(by_name.values_list("pk", flat=True)[:10])
    assert len(past.context["page"]) == 2


def test_the_whole_registry_and_a_search_within_the_limit_are_counted_in_full(
    desk_client, location, clinician, monkeypatch
):
    # Given 12 patients named Morgan, one other, and a search counted to 12 at most
    monkeypatch.setattr("patients.views.staff.SEARCH_COUNT_LIMIT", 12)
    many_patients(12, location, clinician)
    make_patient(999, last_name="Unrelated")

    # When the front desk lists everyone, then searches
    everyone = desk_client.get(reverse("patients:list"))
    desk_client.post(reverse("patients:list"), {"q": "morgan"})
    search = desk_client.get(reverse("patients:list"))

    # Then both are exact counts, with no "more than"
    assert everyone.context["page"].paginator.count == 13
    assert search.context["page"].paginator.count == 12
    assert not search.context["page"].paginator.capped
    assert "12 patients matching “morgan”" in search.content.decode()
    assert "More than" not in everyone.content.decode() + search.content.decode()


@pytest.mark.parametrize("rows", SIZES)
def test_the_portal_home_needs_as_many_queries_for_40_past_visits_as_for_3(
    patient_client, patient_a, clinician, rows, django_assert_max_num_queries
):
    past_visits(patient_a, clinician, rows)
    diary(patient_a, rows)
    # session, user, patient, course, next visit, questionnaires due, the session's sliding
    # expiry (3), the audit trail's one INSERT, and room for one more
    with django_assert_max_num_queries(12):
        response = patient_client.get(reverse("portal:home"))
    assert response.status_code == 200
    assert response.context["visit"] is None


@pytest.mark.parametrize("rows", SIZES)
def test_the_diary_month_needs_as_many_queries_for_40_entries_as_for_3(
    patient_client, patient_a, rows, django_assert_max_num_queries
):
    diary(patient_a, rows)
    # as tests/patients/test_diary.py counts it
    with django_assert_max_num_queries(9):
        response = patient_client.get(reverse("portal:diary"))
    assert response.status_code == 200
    shown = [day for week in response.context["weeks"] for day in week if day.get("entry")]
    assert len(shown) == min(rows, (TODAY - GRID_STARTS).days + 1)


# --- the trigram indexes (PostgreSQL) ------------------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="EXPLAIN plans and pg_trgm are PostgreSQL's"
)


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@postgresql_only
def test_the_name_search_reads_the_trigram_indexes_of_a_big_registry(front_desk):
    # Given 50,000 patients
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO patients_patient (mrn, first_name, last_name, date_of_birth, sex, "
            "email, phone, address, status, preventives_notes, diagnosis_code, created_at, "
            "updated_at) "
            "SELECT 'BIG-' || n, 'Given' || n, 'Family' || md5(n::text), "
            "date '1950-01-01' + mod(n, 20000), 'female', '', '', '', 'active', '', '', "
            "now(), now() "
            "FROM generate_series(1, 50000) AS n"
        )
        # New rows wait in a GIN index's pending list until a vacuum; flush it, as autovacuum
        # would have long before a registry grew this big
        for index in ("patient_last_name_trgm", "patient_first_name_trgm", "patient_mrn_trgm"):
            cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
        cursor.execute("ANALYZE patients_patient")
    make_patient(1, first_name="Alice", last_name="Zyxwvuts", mrn="CAD-0001")

    # When the registry's own search for a rare name, and the page's count, are planned
    found = Patient.objects.for_user(front_desk).search("zyxwv")
    by_mrn = Patient.objects.for_user(front_desk).search("cad-00")

    # Then they read the trigram indexes (no scan of the table) and find the patient
    for queryset in (found, by_mrn):
        explained = plan(queryset.values("pk")) + plan(queryset.values("pk")[:25])
        assert "patient_last_name_trgm" in explained
        assert "patient_mrn_trgm" in explained
        assert "Seq Scan on patients_patient" not in explained
    assert list(found.values_list("mrn", flat=True)) == ["CAD-0001"]
    assert list(by_mrn.values_list("mrn", flat=True)) == ["CAD-0001"]
