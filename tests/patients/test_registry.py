import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from patients.models import ContactConsent, Patient, PatientMedication
from tests.conftest import make_patient

VALID = {
    "mrn": "rs-20001",
    "first_name": "Chloe",
    "last_name": "Nguyen",
    "date_of_birth": "1984-03-09",
    "sex": "female",
    "email": "chloe@example.com",
    "phone": "+1 212 555 0177",
    "address": "1 Example Street",
    "status": "active",
}


@pytest.fixture
def desk_client(client, front_desk):
    client.force_login(front_desk)
    return client


# --- create and edit --------------------------------------------------------------------------


def test_registering_a_patient_normalises_mrn_and_phone(desk_client, location, clinician):
    response = desk_client.post(
        reverse("patients:create"),
        VALID | {"location": location.pk, "primary_clinician": clinician.pk},
    )
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:detail", args=[patient.pk])
    assert patient.mrn == "RS-20001"
    assert patient.phone.as_e164 == "+12125550177"
    assert patient.primary_clinician == clinician


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mrn", "x", "An MRN is 3 to 20 letters, digits or hyphens."),
        ("mrn", "", "This field is required."),
        ("first_name", "", "This field is required."),
        ("date_of_birth", "not-a-date", "Enter a valid date."),
        ("date_of_birth", "1899-12-31", "older than 120"),
        ("phone", "12345", "Enter a valid phone number"),
        ("email", "chloe@", "Enter a valid email address."),
        ("sex", "robot", "Select a valid choice."),
    ],
)
def test_each_rule_rejects_bad_input_with_a_message_and_saves_nothing(
    desk_client, field, value, message
):
    response = desk_client.post(reverse("patients:create"), VALID | {field: value})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert Patient.objects.count() == 0


def test_a_date_of_birth_in_the_future_is_refused(desk_client):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    response = desk_client.post(reverse("patients:create"), VALID | {"date_of_birth": tomorrow})
    assert response.context["form"].errors["date_of_birth"] == [
        "The date of birth cannot be in the future."
    ]
    assert Patient.objects.count() == 0


def test_a_duplicate_mrn_is_refused_whatever_its_case(desk_client):
    make_patient(1, mrn="RS-20001")
    response = desk_client.post(reverse("patients:create"), VALID | {"mrn": " rs-20001 "})
    assert response.context["form"].errors["mrn"] == [
        "A patient with this MRN is already registered."
    ]
    assert Patient.objects.count() == 1


def test_a_duplicate_mrn_that_slips_past_validation_is_a_form_error_not_a_500(
    desk_client, monkeypatch
):
    # Given another desk inserted the same MRN after our uniqueness check ran
    from patients.forms import PatientForm

    make_patient(9, mrn="RS-20001")
    monkeypatch.setattr(PatientForm, "validate_unique", lambda form: None)

    # When we save, the database's unique constraint refuses the row
    response = desk_client.post(reverse("patients:create"), VALID)

    # Then the desk sees the form error, and only the rival's row exists
    assert response.status_code == 200
    assert response.context["form"].errors["mrn"] == [
        "A patient with this MRN is already registered."
    ]
    assert list(Patient.objects.values_list("first_name", flat=True)) == ["Given9"]


def test_editing_keeps_the_mrn_unique_check_off_its_own_row(desk_client, patient_a):
    url = reverse("patients:update", args=[patient_a.pk])
    response = desk_client.post(url, VALID | {"mrn": patient_a.mrn, "last_name": "Morgan-Lee"})
    assert response.status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.last_name == "Morgan-Lee"


def test_only_clinicians_edit_the_intake_baseline(client, front_desk, clinician, patient_a):
    # Given three preventives failed on the medication list (NICE reads the list, issue 18)
    for drug in ("topiramate", "propranolol", "amitriptyline"):
        PatientMedication.objects.create(
            patient=patient_a,
            drug=drug,
            started_on=datetime.date(2025, 1, 1),
            stopped_on=datetime.date(2025, 3, 1),
            stop_reason="ineffective",
            recorded_by=clinician,
        )
    url = reverse("patients:intake", args=[patient_a.pk])
    data = {
        "diagnosis_code": "G43.709",
        "baseline_headache_days": 20,
        "baseline_migraine_days": 12,
    }
    client.force_login(front_desk)
    assert client.post(url, data).status_code == 403
    client.force_login(clinician)
    assert client.post(url, data).status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.meets_nice_start_criteria is True


def test_migraine_days_above_headache_days_are_refused(client, clinician, patient_a):
    client.force_login(clinician)
    response = client.post(
        reverse("patients:intake", args=[patient_a.pk]),
        {"baseline_headache_days": 10, "baseline_migraine_days": 12},
    )
    assert response.context["form"].errors["baseline_migraine_days"] == [
        "Migraine days cannot exceed headache days."
    ]
    patient_a.refresh_from_db()
    assert patient_a.baseline_headache_days is None


def test_front_desk_does_not_see_the_clinical_baseline(client, front_desk, clinician, patient_a):
    patient_a.preventives_notes = "Topiramate caused paraesthesia"
    patient_a.save()
    url = reverse("patients:detail", args=[patient_a.pk])
    client.force_login(front_desk)
    assert "Topiramate" not in client.get(url).content.decode()
    client.force_login(clinician)
    assert "Topiramate" in client.get(url).content.decode()


# --- consent ----------------------------------------------------------------------------------


def test_consent_changes_are_kept_as_history_with_who_and_how(desk_client, front_desk, patient_a):
    url = reverse("patients:consent", args=[patient_a.pk])
    desk_client.post(url, {"channel": "sms", "granted": "true", "source": "written"})
    desk_client.post(url, {"channel": "sms", "granted": "false", "source": "phone"})

    history = list(patient_a.consents.order_by("recorded_at", "pk"))
    assert [(c.granted, c.source, c.recorded_by) for c in history] == [
        (True, "written", front_desk),
        (False, "phone", front_desk),
    ]
    current = Patient.objects.get(pk=patient_a.pk).current_consents()
    assert current["sms"].granted is False
    assert current["email"] is None


def test_consent_to_a_channel_without_contact_details_is_refused(desk_client, patient_a):
    patient_a.phone = ""
    patient_a.save()
    response = desk_client.post(
        reverse("patients:consent", args=[patient_a.pk]),
        {"channel": "sms", "granted": "true", "source": "written"},
    )
    assert response.status_code == 200
    assert "Add a phone number before recording SMS consent." in response.content.decode()
    assert ContactConsent.objects.count() == 0


# --- list and search --------------------------------------------------------------------------


def search(client, query):
    client.post(reverse("patients:list"), {"q": query})
    response = client.get(reverse("patients:list"))
    return [p.mrn for p in response.context["page"]]


def test_search_finds_by_name_mrn_or_date_of_birth(desk_client):
    make_patient(
        1,
        first_name="Alice",
        last_name="Morgan",
        mrn="CAD-0001",
        date_of_birth=datetime.date(1980, 5, 17),
    )
    make_patient(2, first_name="Ben", last_name="Patel", mrn="CAD-0002")
    make_patient(3, first_name="Alicia", last_name="Patel", mrn="HB-0003")

    assert search(desk_client, "morgan") == ["CAD-0001"]
    assert search(desk_client, "ali patel") == ["HB-0003"]
    assert search(desk_client, "cad-") == ["CAD-0001", "CAD-0002"]
    assert search(desk_client, "1980-05-17") == ["CAD-0001"]
    assert search(desk_client, "") == ["CAD-0001", "HB-0003", "CAD-0002"]  # by name


def test_search_words_never_appear_in_a_url(desk_client):
    make_patient(1, last_name="Morgan")
    response = desk_client.post(reverse("patients:list"), {"q": "Morgan"})
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:list")
    page = desk_client.get(reverse("patients:list"))
    assert page.context["query"] == "Morgan"
    assert "?q=" not in page.content.decode()


def test_htmx_search_returns_only_the_results_fragment(desk_client):
    make_patient(1, last_name="Morgan")
    response = desk_client.post(reverse("patients:list"), {"q": "Morgan"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="results">')
    assert "Family" not in html
    assert "Morgan" in html


def test_the_list_is_paginated(desk_client):
    for number in range(30):
        make_patient(number)
    first = desk_client.get(reverse("patients:list"))
    second = desk_client.get(reverse("patients:list"), {"page": 2})
    assert len(first.context["page"]) == 25
    assert len(second.context["page"]) == 5


@pytest.mark.parametrize("rows", [5, 50])
def test_the_patient_list_query_count_does_not_grow_with_rows(
    desk_client, location, clinician, rows, django_assert_max_num_queries
):
    for number in range(rows):
        make_patient(number, location=location, primary_clinician=clinician)
    # session, user, count, page, and the session's sliding expiry (savepoint, update,
    # release): the same for 5 rows as for 50
    with django_assert_max_num_queries(8):  # +1: the audit trail's one INSERT
        response = desk_client.get(reverse("patients:list"))
    assert len(response.context["page"]) == min(rows, 25)


def test_the_patient_detail_query_count_does_not_grow_with_consent_history(
    desk_client, patient_a, front_desk, django_assert_max_num_queries
):
    for _ in range(20):
        ContactConsent.objects.create(
            patient=patient_a,
            channel="email",
            granted=True,
            source="written",
            recorded_by=front_desk,
        )
    # session, user, patient with its location and clinician, consents with their recorders,
    # treatment session dates, the next visit with its reminders, the course, the history's
    # visits and calls (2), and the session's sliding expiry (3)
    with django_assert_max_num_queries(13):
        desk_client.get(reverse("patients:detail", args=[patient_a.pk]))


def test_a_local_phone_number_is_read_in_the_usual_locations_country(desk_client, location):
    # Given the default region is GB but the patient's clinic is in New York
    response = desk_client.post(
        reverse("patients:create"), VALID | {"phone": "(212) 555-0133", "location": location.pk}
    )
    assert response.status_code == 302
    assert Patient.objects.get().phone.as_e164 == "+12125550133"


def test_consent_times_show_in_the_patients_clinic_time_zone(desk_client, patient_a):
    # Given consent recorded at 15:30 UTC in January, for a patient of a New York clinic
    ContactConsent.objects.create(
        patient=patient_a,
        channel="email",
        granted=True,
        source="written",
        recorded_at=datetime.datetime(2026, 1, 15, 15, 30, tzinfo=datetime.UTC),
    )
    html = desk_client.get(reverse("patients:detail", args=[patient_a.pk])).content.decode()
    assert "2026-01-15 10:30 EST" in html


def test_the_search_box_is_a_labelled_bootstrap_input(desk_client):
    html = desk_client.get(reverse("patients:list")).content.decode()
    assert '<label class="form-label" for="id_q">Search patients</label>' in html
    assert 'class="form-control"' in html.split('id="id_q"')[0].rsplit("<input", 1)[1]
