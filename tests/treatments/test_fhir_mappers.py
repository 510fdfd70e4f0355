"""The FHIR R4 mappers (treatments/fhir/mappers/): every resource of the demo clinic validates
with fhir.resources' R4B models, and each mapper says what our rows mean."""

import importlib

import pytest
from django.core.management import call_command

from clinic.models import Location
from patients.models import Patient
from tests.conftest import make_patient
from treatments.fhir.mappers import RESOURCE_TYPES, get_by_id

R4B_MODULES = {
    "Patient": "patient",
    "Location": "location",
    "Practitioner": "practitioner",
    "Appointment": "appointment",
    "Procedure": "procedure",
    "MedicationAdministration": "medicationadministration",
    "Observation": "observation",
    "QuestionnaireResponse": "questionnaireresponse",
    "AdverseEvent": "adverseevent",
}


def r4b_model(type_name: str):
    module = importlib.import_module(f"fhir.resources.R4B.{R4B_MODULES[type_name]}")
    return getattr(module, type_name)


def every_resource(type_name: str) -> list[dict]:
    resource_type = RESOURCE_TYPES[type_name]
    return list(resource_type.resources(resource_type.rows()))


def test_every_resource_of_the_demo_clinic_validates_as_r4b(db):
    call_command("seed_demo")
    for type_name in RESOURCE_TYPES:
        resources = every_resource(type_name)
        assert resources, f"the demo clinic has no {type_name}"
        model = r4b_model(type_name)
        ids = set()
        for resource in resources:
            assert resource["resourceType"] == type_name
            model.model_validate(resource)
            ids.add(resource["id"])
        assert len(ids) == len(resources), f"{type_name} ids repeat"


# --- Patient ---------------------------------------------------------------------------------


def test_patient_carries_the_mrn_under_the_configured_system(db, settings):
    settings.FHIR_MRN_SYSTEM = "https://records.example.org/mrn"
    patient = make_patient(1, mrn="RIV-0001", sex="male")
    resource = get_by_id("Patient", str(patient.pk), RESOURCE_TYPES["Patient"].rows())
    assert resource is not None
    assert resource["identifier"][0]["system"] == "https://records.example.org/mrn"
    assert resource["identifier"][0]["value"] == "RIV-0001"
    assert resource["gender"] == "male"
    assert resource["birthDate"] == patient.date_of_birth.isoformat()
    assert resource["name"][0]["family"] == "Family1"
    assert {"system": "phone", "value": "+12125550100", "use": "mobile"} in resource["telecom"]
    assert {"system": "email", "value": "patient1@example.com"} in resource["telecom"]


def test_patient_mrn_system_defaults_to_the_site_url(db, settings):
    settings.FHIR_MRN_SYSTEM = ""
    settings.SITE_URL = "https://cadence.example.org/"
    patient = make_patient(1)
    (resource,) = RESOURCE_TYPES["Patient"].resources([patient])
    assert resource["identifier"][0]["system"] == "https://cadence.example.org/mrn"


def test_a_discharged_patient_is_not_active(db):
    active = make_patient(1)
    discharged = make_patient(2, status=Patient.Status.DISCHARGED)
    resources = RESOURCE_TYPES["Patient"].resources([active, discharged])
    assert [r["active"] for r in resources] == [True, False]


def test_a_patient_without_phone_or_email_has_no_telecom(db):
    patient = make_patient(1, phone="", email="")
    (resource,) = RESOURCE_TYPES["Patient"].resources([patient])
    assert "telecom" not in resource
    r4b_model("Patient").model_validate(resource)


@pytest.mark.parametrize("bad_id", ["", "0", "-1", "abc", "1.0", "١", "9" * 30])
def test_an_id_that_is_no_pk_finds_nothing(db, bad_id):
    make_patient(1)
    assert get_by_id("Patient", bad_id, RESOURCE_TYPES["Patient"].rows()) is None


def test_get_by_id_finds_nothing_outside_the_rows_it_is_given(db):
    one, two = make_patient(1), make_patient(2)
    narrowed = RESOURCE_TYPES["Patient"].rows().filter(pk=one.pk)
    assert get_by_id("Patient", str(one.pk), narrowed)["id"] == str(one.pk)
    assert get_by_id("Patient", str(two.pk), narrowed) is None
    assert get_by_id("NoSuchType", str(one.pk), narrowed) is None


# --- Location and Practitioner ------------------------------------------------------------------


def test_location_names_its_time_zone(db, location):
    (resource,) = RESOURCE_TYPES["Location"].resources([location])
    assert resource["name"] == "Riverside Clinic"
    assert resource["extension"] == [
        {
            "url": "http://hl7.org/fhir/StructureDefinition/timezone",
            "valueCode": "America/New_York",
        }
    ]
    assert resource["telecom"][0]["value"] == "+12125550142"


def test_practitioners_are_the_clinicians_only_with_their_names(db, personas):
    resources = every_resource("Practitioner")
    assert [r["name"][0]["family"] for r in resources] == ["Osei"]
    assert set(resources[0]) == {"resourceType", "id", "active", "name"}
    assert Location.objects.exists()
