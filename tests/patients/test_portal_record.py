"""Download my record (patients/views/portal_record.py): the patient's own record as a FHIR
Bundle that validates as R4B, and as a PDF whose text says what the record holds; only their
own, audited, in a constant number of queries."""

import datetime
import json
import re
import subprocess

import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle

from audit.models import AccessEvent
from patients.models import DiaryEntry, PatientMedication, QuestionnaireResponse
from tests.conftest import SESSION_TIME, make_medication_records, session_input
from treatments.record_pdf import record_pdf, record_summary
from treatments.services import record_session, sign_session

PAGE = "/portal/record/"
BUNDLE = "/portal/record/fhir.json"
PDF = "/portal/record/summary.pdf"


def add_diary(patient, first: datetime.date, days: int) -> None:
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient,
            date=first + datetime.timedelta(days=offset),
            headache=offset % 3 == 0,
            hours=4 if offset % 3 == 0 else 0,
            severity=2 if offset % 3 == 0 else 0,
            migraine=offset % 6 == 0,
            acute_medication="triptan" if offset % 6 == 0 else "none",
        )
        for offset in range(days)
    )


def add_scores(patient, on: datetime.date, count: int = 1) -> None:
    for number in range(count):
        day = on + datetime.timedelta(days=number * 30)
        QuestionnaireResponse.objects.create(
            patient=patient,
            kind="midas",
            answers=[3, 4, 2, 5, 3],
            total=17,
            band="III",
            answered_on=day,
        )
        QuestionnaireResponse.objects.create(
            patient=patient,
            kind="hit6",
            answers=[10, 11, 10, 8, 11, 13],
            total=63,
            band="severe",
            answered_on=day,
        )


@pytest.fixture
def record(patient_b, signed_session, booked_appointment, clinician):
    """patient_b's record: a signed (amended) session with an adverse event, a booked visit,
    two months of diary, MIDAS and HIT-6, and medicines."""
    add_diary(patient_b, SESSION_TIME.date() - datetime.timedelta(days=56), 56)
    add_scores(patient_b, SESSION_TIME.date())
    make_medication_records(patient_b, clinician)
    return patient_b


def pdf_text(content: bytes, tmp_path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(content)
    result = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(result.stdout.split())


def test_the_portal_home_links_to_the_record_page_which_offers_both_files(client, record):
    client.force_login(record.user)
    assert f'href="{reverse("portal:record")}"' in client.get("/portal/").content.decode()
    page = client.get(PAGE).content.decode()
    assert f'href="{BUNDLE}"' in page
    assert f'href="{PDF}"' in page


def test_the_bundle_holds_every_resource_of_the_patient_and_validates_as_r4b(client, record):
    client.force_login(record.user)

    response = client.get(BUNDLE)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert response["Content-Disposition"] == 'attachment; filename="my-record.fhir.json"'
    assert response["Cache-Control"] == "no-store"
    bundle = json.loads(response.content)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    resources = [entry["resource"] for entry in bundle["entry"]]
    kinds = {resource["resourceType"] for resource in resources}
    assert {"Patient", "Appointment", "Procedure", "MedicationAdministration"} <= kinds
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert [p["id"] for p in patients] == [str(record.pk)]
    # every reference resolves inside the bundle
    present = {f"{r['resourceType']}/{r['id']}" for r in resources}
    text = json.dumps(resources)
    for kind in ("Patient", "Practitioner", "Location"):
        for reference in set(re.findall(rf'"({kind}/[^"#]+)"', text)):
            assert reference in present, reference
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == (
            f"http://testserver/fhir/R4/{resource['resourceType']}/{resource['id']}"
        )


def test_the_bundle_holds_nothing_of_another_patient(client, record, patient_a):
    client.force_login(patient_a.user)

    bundle = json.loads(client.get(BUNDLE).content)

    patients = {
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    }
    assert patients == {str(patient_a.pk)}
    assert f"Patient/{record.pk}" not in json.dumps(bundle)
    assert record.last_name not in json.dumps(bundle)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert "Procedure" not in kinds  # patient_a has no session


def test_the_pdf_summary_reads_as_the_record(client, record, tmp_path):
    client.force_login(record.user)

    response = client.get(PDF)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="my-record.pdf"'
    text = pdf_text(response.content, tmp_path)
    assert "Ben Patel" in text
    assert record.mrn in text
    assert record.date_of_birth.strftime("%d %b %Y") in text
    assert "C1234AB (30 Jun 2027)" in text  # the session's vial lot and its expiry
    assert "02 Mar 2026 1 155 45" in text  # the session: date, cycle, units given, wasted
    assert "Neck pain Mild no" in text  # the adverse event
    assert "MIDAS 17" in text
    assert "HIT-6 63" in text
    assert "Topiramate" in text
    assert "Booked" in text  # the visit


def test_the_pdf_shows_the_diarys_28_day_windows(record, tmp_path):
    # Given 56 days of diary up to the day before the session, printed that day
    summary = record_summary(record, SESSION_TIME.date() - datetime.timedelta(days=1))

    text = pdf_text(record_pdf(summary), tmp_path)

    # Then two windows: from, to, entries, headache days, migraine days, medication days
    assert "05 Jan 2026 01 Feb 2026 28 10 5 5" in text
    assert "02 Feb 2026 01 Mar 2026 28 9 5 5" in text


def test_the_pdf_of_another_patient_holds_only_their_own_record(
    client, record, patient_a, tmp_path
):
    client.force_login(patient_a.user)

    text = pdf_text(client.get(PDF).content, tmp_path)

    assert "Alice Morgan" in text
    assert "Patel" not in text
    assert record.mrn not in text
    assert "C1234AB" not in text
    assert "No injection sessions yet." in text


def test_each_download_is_audited_as_a_look_at_the_patients_own_record(client, record):
    client.force_login(record.user)
    for url, view in ((BUNDLE, "portal:record_fhir"), (PDF, "portal:record_pdf")):
        client.get(url)
        event = AccessEvent.objects.filter(view=view).get()
        assert event.patient_id == record.pk
        assert event.user_id == record.user.pk
        assert event.role == "patient"


def grow(patient, clinician, location) -> None:
    """More of every kind of record: an earlier signed session, a year of diary, more scores
    and medicines."""
    earlier = SESSION_TIME - datetime.timedelta(days=120)
    session = record_session(
        patient=patient, injector=clinician, data=session_input(location, when=earlier)
    )
    sign_session(session=session, user=clinician, acknowledged=[])
    add_diary(patient, SESSION_TIME.date() - datetime.timedelta(days=400), 300)
    add_scores(patient, SESSION_TIME.date() - datetime.timedelta(days=300), count=6)
    PatientMedication.objects.bulk_create(
        PatientMedication(
            patient=patient,
            drug="propranolol",
            dose="40 mg",
            started_on=SESSION_TIME.date() - datetime.timedelta(days=500 - 10 * n),
            stopped_on=SESSION_TIME.date() - datetime.timedelta(days=450 - 10 * n),
            stop_reason="not_tolerated",
            recorded_by=clinician,
        )
        for n in range(5)
    )


@pytest.mark.parametrize("url", [BUNDLE, PDF])
def test_the_downloads_queries_do_not_grow_with_the_record(
    client, record, clinician, location, django_assert_max_num_queries, url
):
    client.force_login(record.user)
    client.get(url)  # warm the session and the caches
    with django_assert_max_num_queries(40) as small:
        client.get(url)
    grow(record, clinician, location)
    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        response = client.get(url)
    assert response.status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
