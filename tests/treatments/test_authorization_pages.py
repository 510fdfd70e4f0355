"""The staff's pages of prior authorizations (issue 16, item 1): recorded and edited on the
patient's record, documents uploaded (checked by their first bytes and size) and downloaded
only through a checked view, and the worklist of those to renew with the evidence."""

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import ChangeEvent
from patients.models import DiaryEntry
from tests.conftest import (
    PDF_BYTES,
    PNG_BYTES,
    clinic_today,
    local,
    make_authorization_records,
    make_patient,
    visit_day,
)
from treatments.models import AuthorizationDocument, PriorAuthorization
from treatments.services import book_appointment
from treatments.services.authorizations import (
    authorization_state,
    record_authorization,
    with_usage,
)

DAY = datetime.timedelta(days=1)
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 16


def form_data(**changes):
    today = clinic_today()
    return {
        "payer": "Blue Cross",
        "reference": "BC-2291",
        "sessions_approved": "4",
        "units_approved": "620",
        "valid_from": today.isoformat(),
        "valid_to": (today + 364 * DAY).isoformat(),
        "notes": "",
    } | changes


# --- recording ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_front_desk_and_clinicians_record_an_authorization(client, personas, patient_b, role):
    client.force_login(personas[role])
    url = reverse("treatments:authorization_create", args=[patient_b.pk])
    response = client.post(url, form_data())
    authorization = PriorAuthorization.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "treatments:authorization_detail", args=[authorization.pk]
    )
    assert (authorization.patient, authorization.reference, authorization.units_approved) == (
        patient_b,
        "BC-2291",
        620,
    )
    assert authorization.created_by == personas[role]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"valid_to": "2026-01-01", "valid_from": "2026-02-01"},
            "valid_to",
            "cannot end before it starts",
        ),
        ({"sessions_approved": "0"}, "sessions_approved", "greater than or equal to 1"),
        ({"units_approved": "0"}, "units_approved", "greater than or equal to 1"),
        ({"units_approved": "99999999999"}, "units_approved", "less than or equal to"),
        ({"valid_to": "9999-12-31"}, "valid_to", ""),
    ],
)
def test_an_impossible_authorization_is_a_form_error(
    client, front_desk, patient_b, changes, field, message
):
    client.force_login(front_desk)
    url = reverse("treatments:authorization_create", args=[patient_b.pk])
    response = client.post(url, form_data(**changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert message in " ".join(errors[field])
    assert not PriorAuthorization.objects.exists()


def test_a_clinic_admin_cannot_record_one(client, clinic_admin, patient_b):
    client.force_login(clinic_admin)
    url = reverse("treatments:authorization_create", args=[patient_b.pk])
    assert client.post(url, form_data()).status_code == 403
    assert not PriorAuthorization.objects.exists()


def test_editing_an_authorization_saves_its_terms(client, front_desk, patient_b):
    authorization = make_authorization_records(patient_b, front_desk)["authorization"]
    client.force_login(front_desk)
    url = reverse("treatments:authorization_detail", args=[authorization.pk])
    response = client.post(url, form_data(sessions_approved="5", reference="BC-2291-A"))
    assert response.status_code == 302
    authorization.refresh_from_db()
    assert (authorization.sessions_approved, authorization.reference) == (5, "BC-2291-A")


def test_an_edit_of_an_authorization_is_in_the_patients_change_history(
    client, front_desk, clinic_admin, patient_b
):
    # Given an authorization, edited through its page and then by a raw UPDATE
    authorization = make_authorization_records(patient_b, front_desk)["authorization"]
    client.force_login(front_desk)
    url = reverse("treatments:authorization_detail", args=[authorization.pk])
    client.post(url, form_data(sessions_approved="5"))
    authorization.refresh_from_db()
    PriorAuthorization.objects.filter(pk=authorization.pk).update(units_approved=900)

    # Then the database recorded both, with the patient and (through the page) the actor
    changes = ChangeEvent.objects.filter(
        table_name="treatments_priorauthorization", record_id=authorization.pk
    ).order_by("pk")
    assert [c.operation for c in changes] == ["insert", "update", "update"]
    assert {c.patient_id for c in changes} == {patient_b.pk}
    assert changes[1].changes["sessions_approved"] == [4, 5]
    assert changes[1].actor_id == front_desk.pk
    assert changes[2].changes == {"units_approved": [authorization.units_approved, 900]}

    # and the clinic admin reads the edit on the patient's history page
    client.force_login(clinic_admin)
    page = client.get(reverse("audit:patient", args=[patient_b.pk])).content.decode()
    assert "prior authorization" in page.lower()


def test_the_patients_page_shows_the_authorizations_and_their_documents(
    client, front_desk, patient_b
):
    records = make_authorization_records(patient_b, front_desk)
    client.force_login(front_desk)
    page = client.get(reverse("patients:detail", args=[patient_b.pk])).content.decode()
    assert "Prior authorization" in page
    assert "PA-10001" in page
    assert reverse("treatments:authorization_document", args=[records["document"].pk]) in page
    assert "approval letter.pdf" in page
    assert ">Active<" in page


def test_the_patients_page_says_when_none_is_on_file(client, front_desk, patient_b):
    client.force_login(front_desk)
    page = client.get(reverse("patients:detail", args=[patient_b.pk])).content.decode()
    assert "No prior authorization on file" in page


# --- the states --------------------------------------------------------------------------------


@pytest.fixture
def given(schedule, signed_session):
    return signed_session.patient  # one signed 155 U session on 2026-03-02


@pytest.mark.parametrize(
    ("terms", "today_offset", "state"),
    [
        ({"valid_to": 400, "sessions": 4}, 0, "active"),
        ({"valid_to": 20, "sessions": 4}, 0, "ending_soon"),
        ({"valid_to": 400, "sessions": 2}, 0, "one_left"),
        ({"valid_to": 400, "sessions": 1}, 0, "used_up"),
        ({"valid_to": 400, "sessions": 4, "units": 155}, 0, "used_up"),
        ({"valid_to": 20, "sessions": 4}, 21, "expired"),
        ({"valid_to": 400, "sessions": 4}, -500, "future"),
    ],
)
def test_each_state_of_an_authorization(given, front_desk, terms, today_offset, state):
    today = clinic_today()
    record_authorization(
        patient=given,
        by=front_desk,
        payer="Aetna",
        reference="X",
        sessions_approved=terms["sessions"],
        units_approved=terms.get("units", 800),
        valid_from=datetime.date(2026, 1, 1),
        valid_to=today + terms["valid_to"] * DAY,
    )
    row = with_usage(PriorAuthorization.objects.all()).get()
    on = today + today_offset * DAY
    on = max(on, datetime.date(2025, 12, 1)) if state == "future" else on
    assert authorization_state(row, on) == state


# --- documents ---------------------------------------------------------------------------------


@pytest.fixture
def authorization(patient_b, front_desk):
    return record_authorization(
        patient=patient_b,
        by=front_desk,
        payer="Aetna",
        reference="PA-1",
        sessions_approved=4,
        units_approved=800,
        valid_from=datetime.date(2026, 1, 1),
        valid_to=datetime.date(2028, 1, 1),
    )


def upload(client, authorization, name, content, content_type):
    url = reverse("treatments:authorization_document_upload", args=[authorization.pk])
    return client.post(url, {"file": SimpleUploadedFile(name, content, content_type)})


@pytest.mark.parametrize(
    ("name", "content", "stored_type"),
    [
        ("letter.pdf", PDF_BYTES, "application/pdf"),
        ("scan.png", PNG_BYTES, "image/png"),
        ("photo.jpg", JPEG_BYTES, "image/jpeg"),
        ("no-extension", PDF_BYTES, "application/pdf"),  # judged by its bytes, not its name
    ],
)
def test_a_pdf_png_or_jpeg_is_kept_under_a_random_name(
    client, front_desk, authorization, settings, name, content, stored_type
):
    client.force_login(front_desk)
    response = upload(client, authorization, name, content, "application/octet-stream")
    assert response.status_code == 302
    document = AuthorizationDocument.objects.get()
    assert (document.original_name, document.content_type, document.size) == (
        name,
        stored_type,
        len(content),
    )
    assert document.file.name.startswith("authorizations/")
    assert name.split(".")[0] not in document.file.name
    stored = settings.MEDIA_ROOT / document.file.name
    assert stored.read_bytes() == content


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("letter.pdf", b"<html><script>alert(1)</script></html>", "application/pdf"),
        ("scan.png", b"GIF89a" + b"\x00" * 20, "image/png"),
        ("run.pdf", b"MZ\x90\x00" + b"\x00" * 20, "application/pdf"),
        ("empty.pdf", b"", "application/pdf"),
    ],
)
def test_a_file_of_another_type_is_refused_whatever_its_name(
    client, front_desk, authorization, name, content, content_type
):
    client.force_login(front_desk)
    response = upload(client, authorization, name, content, content_type)
    assert response.status_code == 200
    assert not AuthorizationDocument.objects.exists()
    errors = " ".join(response.context["upload_form"].errors["file"])
    assert "PDF, PNG or JPEG" in errors or "empty" in errors


def test_an_oversize_file_is_refused(client, front_desk, authorization, settings):
    settings.AUTHORIZATION_UPLOAD_MAX_MB = 1
    client.force_login(front_desk)
    big = PDF_BYTES + b"0" * (1024 * 1024)
    response = upload(client, authorization, "big.pdf", big, "application/pdf")
    assert response.status_code == 200
    assert "too large: at most 1 MB" in " ".join(response.context["upload_form"].errors["file"])
    assert not AuthorizationDocument.objects.exists()
    exactly = PDF_BYTES + b"0" * (1024 * 1024 - len(PDF_BYTES))
    assert upload(client, authorization, "ok.pdf", exactly, "application/pdf").status_code == 302


@pytest.mark.parametrize("role", ["front_desk", "clinician", "clinic_admin"])
def test_staff_download_a_document_as_an_attachment(client, personas, patient_b, role):
    document = make_authorization_records(patient_b, personas["front_desk"])["document"]
    client.force_login(personas[role])
    response = client.get(reverse("treatments:authorization_document", args=[document.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "approval letter.pdf" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == PDF_BYTES


def test_a_patient_cannot_download_a_document_not_even_their_own(client, patient_b, front_desk):
    document = make_authorization_records(patient_b, front_desk)["document"]
    client.force_login(patient_b.user)
    response = client.get(reverse("treatments:authorization_document", args=[document.pk]))
    assert response.status_code == 404


def remove(client, document, reason):
    url = reverse("treatments:authorization_document_remove", args=[document.pk])
    return client.post(url, {"reason": reason})


def test_a_document_attached_by_mistake_is_removed_its_file_deleted_its_trace_kept(
    client, clinician, front_desk, patient_b, django_capture_on_commit_callbacks
):
    # Given another patient's letter attached to patient B's authorization
    records = make_authorization_records(patient_b, front_desk)
    document, authorization = records["document"], records["authorization"]
    path = Path(document.file.path)
    assert path.read_bytes() == PDF_BYTES

    # When a clinician removes it, saying why
    client.force_login(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        response = remove(client, document, "  Another patient's letter  ")

    # Then the file is gone from the disk, and the row says who removed it, when and why
    assert response.status_code == 302
    assert not path.exists()
    document.refresh_from_db()
    assert (document.removed_by, document.removed_reason) == (clinician, "Another patient's letter")
    assert document.removed_at is not None
    # nobody can download it; the patient's page no longer links it; its page shows the trace
    download = reverse("treatments:authorization_document", args=[document.pk])
    assert client.get(download).status_code == 404
    patient_page = client.get(reverse("patients:detail", args=[patient_b.pk])).content.decode()
    assert download not in patient_page
    assert "approval letter.pdf" not in patient_page
    detail = reverse("treatments:authorization_detail", args=[authorization.pk])
    page = client.get(detail).content.decode()
    assert "<del>approval letter.pdf</del>" in page
    assert "Another patient&#x27;s letter" in page
    assert download not in page


def test_a_removal_without_a_reason_is_a_form_error_and_changes_nothing(
    client, front_desk, patient_b
):
    document = make_authorization_records(patient_b, front_desk)["document"]
    client.force_login(front_desk)
    for reason in ("", "   ", "x" * 201):
        response = remove(client, document, reason)
        assert response.status_code == 400
        assert response.context["removal"][1].errors["reason"]
    document.refresh_from_db()
    assert document.removed_at is None
    assert Path(document.file.path).read_bytes() == PDF_BYTES


def test_removing_twice_says_so_and_changes_nothing_more(client, front_desk, clinician, patient_b):
    document = make_authorization_records(patient_b, front_desk)["document"]
    client.force_login(front_desk)
    assert remove(client, document, "Wrong scan").status_code == 302
    client.force_login(clinician)  # a second desk, or the Back button
    response = remove(client, document, "Another reason")
    assert response.status_code == 302
    document.refresh_from_db()
    assert (document.removed_by, document.removed_reason) == (front_desk, "Wrong scan")
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["approval letter.pdf was removed already."]


def test_a_clinic_admin_cannot_remove_a_document(client, clinic_admin, front_desk, patient_b):
    document = make_authorization_records(patient_b, front_desk)["document"]
    client.force_login(clinic_admin)
    assert remove(client, document, "Wrong scan").status_code == 403
    document.refresh_from_db()
    assert document.removed_at is None


def test_the_database_refuses_a_removal_without_who_or_why(front_desk, patient_b):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    document = make_authorization_records(patient_b, front_desk)["document"]
    rows = AuthorizationDocument.objects.filter(pk=document.pk)
    for fields in (
        {"removed_at": timezone.now()},
        {"removed_at": timezone.now(), "removed_by": front_desk},
        {"removed_at": timezone.now(), "removed_by": front_desk, "removed_reason": "  "},
        {"removed_reason": "why"},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            rows.update(**fields)


def test_no_media_url_serves_the_files(client, front_desk, patient_b, settings):
    document = make_authorization_records(patient_b, front_desk)["document"]
    client.force_login(front_desk)
    for prefix in ("/media/", "/", "/static/"):
        assert client.get(prefix + document.file.name).status_code == 404


# --- the worklist -----------------------------------------------------------------------------


def diary(patient, days: int, headache_days: int, *, end: datetime.date) -> None:
    """`days` diary entries to `end`, the first `headache_days` of them with a headache."""
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient,
            date=end - n * DAY,
            headache=n < headache_days,
            hours=Decimal(4) if n < headache_days else Decimal(0),
            severity=2 if n < headache_days else 0,
        )
        for n in range(days)
    )


def test_the_worklist_shows_what_needs_renewing_with_its_evidence(
    client, front_desk, given, clinician
):
    today = clinic_today()
    given.baseline_headache_days = 20
    given.save()
    diary(given, 28, 8, end=today)  # 8 headache days of 28: 60 % fewer than 20
    ending = make_authorization_records(given, front_desk, valid_to=today + 10 * DAY)
    fine = make_patient(30, location=given.location)
    make_authorization_records(fine, front_desk, reference="PA-FINE")
    client.force_login(front_desk)
    response = client.get(reverse("treatments:authorization_list"))
    page = response.content.decode()
    [row] = response.context["rows"]
    assert row.authorization == ending["authorization"]
    assert row.state == "ending_soon"
    assert (row.baseline, row.latest.headache_days, row.latest.percent_change) == (
        20,
        8,
        Decimal(60),
    )
    assert [s.given_on for s in row.sessions] == [datetime.date(2026, 3, 2)]
    assert "PA-FINE" not in page
    assert "60 % fewer" in page
    assert "baseline 20" in page
    # the payer's evidence is the clinician's PDF: linked for those who may download it
    pdf = reverse("treatments:continuation_pdf", args=[given.pk])
    assert pdf not in page
    client.force_login(clinician)
    assert pdf in client.get(reverse("treatments:authorization_list")).content.decode()


def test_the_worklist_lists_one_session_left_and_a_visit_past_the_end(
    client, front_desk, given, clinician
):
    today = clinic_today()
    left = make_patient(31, location=given.location)
    make_authorization_records(left, front_desk, reference="PA-LEFT", sessions_approved=1)
    renewed = make_patient(32, location=given.location)
    make_authorization_records(renewed, front_desk, reference="PA-OLD", valid_to=today + DAY)
    make_authorization_records(renewed, front_desk, reference="PA-NEW", valid_from=today + DAY)
    # given's visit is booked past the end of their authorization (a clinician's override)
    make_authorization_records(given, front_desk, reference="PA-PAST", valid_to=today + 2 * DAY)
    book_appointment(
        patient=given,
        clinician=clinician,
        location=given.location,
        starts_at=local(visit_day() + 35 * DAY, 10),
        booked_by=clinician,
        authorization_reason="Renewal pending",
    )
    client.force_login(front_desk)
    response = client.get(reverse("treatments:authorization_list"))
    rows = {row.authorization.reference: row for row in response.context["rows"]}
    assert set(rows) == {"PA-LEFT", "PA-PAST"}
    assert rows["PA-LEFT"].state == "one_left"
    assert rows["PA-PAST"].visit_past_end
    assert "past its end" in response.content.decode()


WORKLIST_QUERIES = (
    12  # session (3), user, locations, count, rows, sessions, visits, diary, audit (2)
)


@pytest.mark.parametrize("size", [2, 12])
def test_the_worklist_keeps_a_constant_query_count(
    client, front_desk, location, size, django_assert_max_num_queries
):
    today = clinic_today()
    for n in range(size):
        patient = make_patient(100 + n, location=location, baseline_headache_days=18)
        diary(patient, 28, 10, end=today)
        make_authorization_records(patient, front_desk, valid_to=today + (n % 20) * DAY)
    client.force_login(front_desk)
    with django_assert_max_num_queries(WORKLIST_QUERIES):
        response = client.get(reverse("treatments:authorization_list"))
    assert len(response.context["rows"]) == size
