"""The FHIR R4 mappers (treatments/fhir/mappers/): every resource of the demo clinic validates
with fhir.resources' R4B models, and each mapper says what our rows mean."""

import datetime
import importlib

import pytest
from django.core.management import call_command

from clinic.models import Location
from patients.models import Patient
from tests.conftest import make_patient, session_input
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


def utc(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


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


# --- Appointment ---------------------------------------------------------------------------


def make_visit(patient, location, clinician, starts_at, **fields):
    from treatments.models import Appointment

    return Appointment.objects.create(
        patient=patient,
        location=location,
        clinician=clinician,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        booked_by=clinician,
        **fields,
    )


def test_appointment_times_carry_the_locations_offset_across_a_dst_change(db, location, clinician):
    # New York moves to daylight time on Sunday 8 March 2026: 10:00 local is 15:00 UTC
    # before, 14:00 UTC after.
    before = make_visit(make_patient(1), location, clinician, utc(2026, 3, 6, 15, 0))
    after = make_visit(make_patient(2), location, clinician, utc(2026, 3, 9, 14, 0))
    first, second = RESOURCE_TYPES["Appointment"].resources(
        RESOURCE_TYPES["Appointment"].rows().filter(pk__in=[before.pk, after.pk])
    )
    assert (first["start"], first["end"]) == (
        "2026-03-06T10:00:00-05:00",
        "2026-03-06T10:30:00-05:00",
    )
    assert (second["start"], second["end"]) == (
        "2026-03-09T10:00:00-04:00",
        "2026-03-09T10:30:00-04:00",
    )


@pytest.mark.parametrize("status", ["booked", "arrived", "fulfilled", "cancelled", "noshow"])
def test_appointment_status_is_our_code_which_is_fhirs(db, location, clinician, status):
    reason = "Patient unwell" if status == "cancelled" else ""
    visit = make_visit(
        make_patient(1),
        location,
        clinician,
        utc(2026, 3, 6, 15),
        status=status,
        cancel_reason=reason,
    )
    (resource,) = RESOURCE_TYPES["Appointment"].resources([visit])
    assert resource["status"] == status
    assert ("cancelationReason" in resource) == (status == "cancelled")
    r4b_model("Appointment").model_validate(resource)


def test_a_cancelled_appointment_gives_its_reason(db, location, clinician):
    visit = make_visit(
        make_patient(1),
        location,
        clinician,
        utc(2026, 3, 6, 15),
        status="cancelled",
        cancel_reason="Snowstorm",
    )
    (resource,) = RESOURCE_TYPES["Appointment"].resources([visit])
    assert resource["cancelationReason"] == {"text": "Snowstorm"}


def test_appointment_names_patient_clinician_and_location_who_all_accepted(db, location, clinician):
    patient = make_patient(1)
    visit = make_visit(patient, location, clinician, utc(2026, 3, 6, 15), kind="review")
    (resource,) = RESOURCE_TYPES["Appointment"].resources([visit])
    actors = [(p["actor"]["reference"], p["status"]) for p in resource["participant"]]
    assert actors == [
        (f"Patient/{patient.pk}", "accepted"),
        (f"Practitioner/{clinician.pk}", "accepted"),
        (f"Location/{location.pk}", "accepted"),
    ]
    assert resource["serviceType"][0]["coding"][0]["code"] == "review"
    assert resource["appointmentType"]["coding"][0]["code"] == "FOLLOWUP"


# --- Procedure ---------------------------------------------------------------------------------


def record(patient, clinician, location, *, sign=True, acknowledged=(), **input_fields):
    from treatments.services import record_session, sign_session

    session = record_session(
        patient=patient, injector=clinician, data=session_input(location, **input_fields)
    )
    if not sign:
        return session
    return sign_session(session=session, user=clinician, acknowledged=list(acknowledged))


def procedures() -> list[dict]:
    return every_resource("Procedure")


def test_a_signed_session_is_a_completed_cpt_64615_procedure(db, patient_a, clinician, location):
    session = record(patient_a, clinician, location)
    (resource,) = procedures()
    assert resource["id"] == str(session.pk)
    assert resource["status"] == "completed"
    assert resource["code"]["coding"][0]["system"] == "http://www.ama-assn.org/go/cpt"
    assert resource["code"]["coding"][0]["code"] == "64615"
    assert resource["subject"]["reference"] == f"Patient/{patient_a.pk}"
    assert resource["performer"][0]["actor"]["reference"] == f"Practitioner/{clinician.pk}"
    assert resource["location"]["reference"] == f"Location/{location.pk}"
    assert resource["performedDateTime"] == "2026-03-02T10:00:00-05:00"  # SESSION_TIME in NY


def test_procedure_time_carries_the_offset_of_its_day_across_a_dst_change(db, clinician, location):
    record(make_patient(1), clinician, location, when=utc(2026, 3, 6, 15, 0))
    record(make_patient(2), clinician, location, when=utc(2026, 3, 9, 14, 0))
    assert sorted(r["performedDateTime"] for r in procedures()) == [
        "2026-03-06T10:00:00-05:00",
        "2026-03-09T10:00:00-04:00",
    ]


def test_drafts_and_discarded_drafts_are_never_exported(db, clinician, location):
    from treatments.services import discard_draft

    record(make_patient(1), clinician, location, sign=False)
    discarded = record(make_patient(2), clinician, location, sign=False)
    discard_draft(session=discarded, user=clinician, reason="Wrong patient")
    assert procedures() == []
    assert every_resource("MedicationAdministration") == []


def test_an_amended_session_exports_its_latest_version_only_under_the_first_ones_id(
    db, signed_session
):
    resources = procedures()
    assert [r["id"] for r in resources] == [str(signed_session.original_id)]
    assert resources[0]["meta"]["versionId"] == "2"
    rows = RESOURCE_TYPES["Procedure"].rows()
    found = get_by_id("Procedure", str(signed_session.original_id), rows)
    assert found == resources[0]
    # The current version's own pk is not an id of its own
    assert get_by_id("Procedure", str(signed_session.pk), rows) is None


def body_site_by_code(resource: dict) -> dict[str, dict]:
    local = "/fhir/CodeSystem/injection-muscle-side"
    return {
        coding["code"]: concept
        for concept in resource["bodySite"]
        for coding in concept["coding"]
        if coding["system"].endswith(local)
    }


def test_body_sites_are_one_per_muscle_and_side_with_snomed_codes_where_known(
    db, patient_a, clinician, location
):
    record(patient_a, clinician, location)
    sites = body_site_by_code(procedures()[0])
    # 7 muscles x 2 sides, procerus once (midline)
    assert len(sites) == 13
    temporalis_left = sites["TEM-L"]
    assert {"system": "http://snomed.info/sct", "code": "52927003"} in temporalis_left["coding"]
    assert temporalis_left["text"] == "Temporalis, left: TEM-L1, TEM-L2, TEM-L3, TEM-L4 (20 U)"
    laterality = temporalis_left["extension"][0]["valueCodeableConcept"]["coding"][0]
    assert (laterality["system"], laterality["code"]) == ("http://snomed.info/sct", "7771000")
    trapezius_right = sites["TRA-R"]
    assert {"system": "http://snomed.info/sct", "code": "31764008"} in trapezius_right["coding"]
    right = trapezius_right["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
    assert right == "24028007"
    # No SNOMED code we are not sure of: frontalis is text and our local code only
    assert [c["code"] for c in sites["FRO-L"]["coding"]] == ["FRO-L"]
    assert "extension" not in sites["PRO-M"]  # midline: no laterality
    assert sites["PRO-M"]["text"] == "Procerus, midline: PRO-M (5 U)"


def test_skipped_sites_are_not_body_sites_and_ftp_sites_join_their_muscle(
    db, patient_a, clinician, location
):
    from treatments.rules import SiteEntry
    from treatments.services import standard_sites

    sites = [
        SiteEntry(s.code, None, "Scar") if s.code == "COR-R" else s for s in standard_sites()
    ] + [SiteEntry("TEM-L5", 5)]
    record(patient_a, clinician, location, sites=sites)
    by_code = body_site_by_code(procedures()[0])
    assert "COR-R" not in by_code
    assert by_code["TEM-L"]["text"].endswith("TEM-L4, TEM-L5 (25 U)")


# --- MedicationAdministration ------------------------------------------------------------------


def test_medication_administration_gives_the_lot_and_expiry_in_a_contained_batch(
    db, patient_a, clinician, location
):
    session = record(patient_a, clinician, location)
    (resource,) = every_resource("MedicationAdministration")
    lot = session.vials.get().lot
    assert resource["id"] == f"{session.pk}-{lot.pk}"
    assert resource["status"] == "completed"
    (medication,) = resource["contained"]
    assert resource["medicationReference"]["reference"] == f"#{medication['id']}"
    assert medication["code"]["text"] == "onabotulinumtoxinA"
    assert medication["batch"] == {"lotNumber": "C1234AB", "expirationDate": "2027-06-30"}
    assert resource["dosage"]["dose"] == {
        "value": 155,
        "unit": "U",
        "system": "http://unitsofmeasure.org",
        "code": "[iU]",
    }
    route = resource["dosage"]["route"]["coding"][0]
    assert (route["system"], route["code"]) == ("http://snomed.info/sct", "78421000")
    assert resource["partOf"] == [{"reference": f"Procedure/{session.pk}"}]
    assert resource["effectiveDateTime"] == "2026-03-02T10:00:00-05:00"


def test_a_session_from_two_lots_is_two_administrations_that_add_up(
    db, patient_a, clinician, location
):
    from treatments.services import VialInput

    vials = [
        VialInput("A100", "botox_100", datetime.date(2027, 1, 31)),
        VialInput("B100", "botox_100", datetime.date(2027, 5, 31)),
    ]
    session = record(patient_a, clinician, location, vials=vials)
    resources = every_resource("MedicationAdministration")
    batches = sorted(
        (r["contained"][0]["batch"]["lotNumber"], r["contained"][0]["batch"]["expirationDate"])
        for r in resources
    )
    assert batches == [("A100", "2027-01-31"), ("B100", "2027-05-31")]
    assert sum(r["dosage"]["dose"]["value"] for r in resources) == session.total_units == 155
    assert {r["partOf"][0]["reference"] for r in resources} == {f"Procedure/{session.pk}"}
    for resource in resources:
        r4b_model("MedicationAdministration").model_validate(resource)
        rows = RESOURCE_TYPES["MedicationAdministration"].rows()
        assert get_by_id("MedicationAdministration", resource["id"], rows) == resource
