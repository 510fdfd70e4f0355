import datetime

import pytest
from django.db import IntegrityError
from django.urls import reverse

from clinic.models import User
from patients.models import ContactConsent, Patient
from tests.conftest import make_patient, make_user


def test_a_patient_sees_only_themself(patient_a, patient_b):
    assert list(Patient.objects.for_user(patient_a.user)) == [patient_a]
    assert list(Patient.objects.for_user(patient_b.user)) == [patient_b]


def test_staff_see_the_whole_registry(personas, patient_a, patient_b):
    for role in ("front_desk", "clinician", "clinic_admin"):
        assert set(Patient.objects.for_user(personas[role])) == {patient_a, patient_b}


def test_a_user_without_a_known_role_sees_no_one(patient_a):
    assert list(Patient.objects.for_user(User(role="unknown"))) == []


@pytest.mark.parametrize("name", ["patients:detail", "patients:update", "patients:intake"])
def test_a_patient_opening_another_patients_record_gets_404(client, patient_a, patient_b, name):
    client.force_login(patient_a.user)
    assert client.get(reverse(name, args=[patient_b.pk])).status_code == 404


def test_a_patient_cannot_record_consent_for_another_patient(client, patient_a, patient_b):
    client.force_login(patient_a.user)
    response = client.post(
        reverse("patients:consent", args=[patient_b.pk]),
        {"channel": "email", "granted": "false", "source": "phone"},
    )
    assert response.status_code == 404
    assert ContactConsent.objects.count() == 0


def test_the_portal_shows_the_patient_their_own_name_and_no_one_elses(client, patient_a, patient_b):
    client.force_login(patient_a.user)
    html = client.get(reverse("portal:home")).content.decode()
    assert "Hello, Alice" in html
    assert "You have no upcoming visits." in html
    assert "Ben" not in html
    assert patient_b.mrn not in html


def test_a_patient_account_with_no_record_is_told_to_contact_the_clinic(client, db):
    client.force_login(make_user("orphan", User.Role.PATIENT))
    html = client.get(reverse("portal:home")).content.decode()
    assert "not linked to a patient record" in html


# --- database constraints hold against writes that bypass the forms --------------------------


def test_the_database_refuses_a_duplicate_mrn(db):
    make_patient(1, mrn="CAD-0001")
    with pytest.raises(IntegrityError):
        make_patient(2, mrn="CAD-0001")


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "deceased"},
        {"sex": "robot"},
        {"date_of_birth": datetime.date(1850, 1, 1)},
        {"baseline_headache_days": 40},
        {"baseline_headache_days": 10, "baseline_migraine_days": 12},
        {"baseline_migraine_days": 5},
    ],
)
def test_the_database_refuses_impossible_patient_values(db, fields):
    with pytest.raises(IntegrityError):
        make_patient(1, **fields)


def test_the_database_refuses_an_unknown_consent_channel(patient_a):
    with pytest.raises(IntegrityError):
        ContactConsent.objects.create(
            patient=patient_a, channel="fax", granted=True, source="written"
        )


def test_the_database_refuses_an_unknown_role(db):
    with pytest.raises(IntegrityError):
        User.objects.create(username="x", role="superhero")
