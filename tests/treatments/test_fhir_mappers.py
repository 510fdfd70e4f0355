"""The FHIR R4 mappers (treatments/fhir/mappers/): every resource of the demo clinic validates
with fhir.resources' R4B models, and each mapper says what our rows mean."""

import datetime
import importlib
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from clinic.models import Location, User
from patients.models import Patient
from tests.conftest import make_patient, make_user, session_input
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


def references_in(value) -> Iterator[str]:
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value["reference"]
        for inner in value.values():
            yield from references_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references_in(inner)


def test_every_resource_of_the_demo_clinic_validates_as_r4b_and_refers_to_exported_ones(db):
    call_command("seed_demo")
    exported: set[str] = set()
    references: set[str] = set()
    for type_name in RESOURCE_TYPES:
        resources = every_resource(type_name)
        assert resources, f"the demo clinic has no {type_name}"
        model = r4b_model(type_name)
        ids = set()
        for resource in resources:
            assert resource["resourceType"] == type_name
            model.model_validate(resource)
            ids.add(resource["id"])
            references.update(r for r in references_in(resource) if not r.startswith("#"))
        assert len(ids) == len(resources), f"{type_name} ids repeat"
        exported.update(f"{type_name}/{id_}" for id_ in ids)
    assert references - exported == set()


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


def test_patient_holds_demographics_only_as_the_front_desk_may_read_it(db, patient_a):
    assert RESOURCE_TYPES["Patient"].clinical is False
    patient_a.diagnosis_code = "G43.709"
    patient_a.baseline_headache_days = 20
    patient_a.preventives_notes = "Topiramate: not tolerated"
    patient_a.save()
    (resource,) = every_resource("Patient")
    assert set(resource) <= {
        "resourceType",
        "id",
        "meta",
        "identifier",
        "active",
        "name",
        "gender",
        "birthDate",
        "telecom",
        "address",
        "generalPractitioner",
    }
    text = str(resource)
    assert "G43" not in text
    assert "Topiramate" not in text


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


# --- Observation (28-day diary windows) -------------------------------------------------------


def keep_diary(patient, days: list[datetime.date], *, headache_every: int = 2) -> None:
    from patients.models import DiaryEntry

    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient,
            date=day,
            headache=index % headache_every == 0,
            severity=2 if index % headache_every == 0 else 0,
            migraine=index % (2 * headache_every) == 0,
            acute_medication="triptan" if index % (2 * headache_every) == 0 else "none",
        )
        for index, day in enumerate(days)
    )


def component_values(resource: dict) -> dict[str, int | None]:
    return {
        c["code"]["coding"][0]["code"]: c.get("valueQuantity", {}).get("value")
        for c in resource["component"]
    }


def test_diary_window_figures_equal_the_charts(db, patient_a):
    today = patient_a.local_today()
    keep_diary(patient_a, [today - datetime.timedelta(days=back) for back in range(60)])
    chart = Patient.objects.with_outcomes(windows=3).get(pk=patient_a.pk).diary_windows(3)
    resources = every_resource("Observation")
    assert [r["effectivePeriod"] for r in resources] == [
        {"start": w.start.isoformat(), "end": w.end.isoformat()} for w in chart
    ]
    for window, resource in zip(chart, resources, strict=True):
        values = component_values(resource)
        assert values["diary-days"] == window.entries
        if window.insufficient:
            assert values["headache-days"] is None
            continue
        assert values["headache-days"] == window.headache_days
        assert values["migraine-days"] == window.migraine_days
        assert values["moderate-severe-days"] == window.moderate_severe_days
        assert values["acute-medication-days"] == window.medication_days
    # 60 days: two full windows ending today and 4 days of the one before (insufficient)
    assert [r["id"] for r in resources][-1] == f"diary-{patient_a.pk}-{chart[-1].start:%Y%m%d}"
    assert chart[-1].end == today
    assert [component_values(r)["diary-days"] for r in resources] == [4, 28, 28]
    assert component_values(resources[-1])["headache-days"] == 14


def test_a_window_with_too_few_entries_gives_the_days_entered_and_no_counts(db, patient_a):
    today = patient_a.local_today()
    keep_diary(patient_a, [today - datetime.timedelta(days=back) for back in range(10)])
    (resource,) = every_resource("Observation")
    assert component_values(resource)["diary-days"] == 10
    headache = next(
        c for c in resource["component"] if c["code"]["coding"][0]["code"] == "headache-days"
    )
    assert "valueQuantity" not in headache
    assert headache["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert headache["dataAbsentReason"]["text"].startswith("Insufficient data: 10 of 28")
    r4b_model("Observation").model_validate(resource)


def test_windows_without_entries_and_patients_without_a_diary_are_left_out(db, patient_a):
    make_patient(9)  # no diary
    today = patient_a.local_today()
    # the window ending today, and one 56-83 days back: the one between is empty
    keep_diary(patient_a, [today - datetime.timedelta(days=back) for back in range(28)])
    keep_diary(patient_a, [today - datetime.timedelta(days=back) for back in range(56, 84)])
    periods = [r["effectivePeriod"]["start"] for r in every_resource("Observation")]
    assert periods == [
        (today - datetime.timedelta(days=83)).isoformat(),
        (today - datetime.timedelta(days=27)).isoformat(),
    ]


def test_a_window_id_reads_the_same_window_on_a_later_day(db, patient_a):
    today = patient_a.local_today()
    keep_diary(patient_a, [today - datetime.timedelta(days=back) for back in range(40)])
    rows = RESOURCE_TYPES["Observation"].rows()
    listed = every_resource("Observation")[-1]
    assert get_by_id("Observation", listed["id"], rows) == listed
    # A window that starts a day earlier is not listed today, yet reads by its id
    earlier_start = today - datetime.timedelta(days=28)
    earlier = get_by_id("Observation", f"diary-{patient_a.pk}-{earlier_start:%Y%m%d}", rows)
    assert earlier["effectivePeriod"]["end"] == (today - datetime.timedelta(days=1)).isoformat()
    # Not yet over, another patient's, or no such date: nothing
    assert get_by_id("Observation", f"diary-{patient_a.pk}-{today:%Y%m%d}", rows) is None
    assert get_by_id("Observation", listed["id"], rows.exclude(pk=patient_a.pk)) is None
    assert get_by_id("Observation", f"diary-{patient_a.pk}-20260231", rows) is None


# --- QuestionnaireResponse ---------------------------------------------------------------------


def test_midas_gives_each_items_days_and_the_total_under_our_canonical_url(db, patient_a, settings):
    from patients.services import record_questionnaire

    settings.SITE_URL = "https://cadence.example.org"
    record_questionnaire(
        patient=patient_a,
        kind="midas",
        answers=[3, 2, 4, 1, 2],
        answered_on=datetime.date(2026, 3, 1),
    )
    (resource,) = every_resource("QuestionnaireResponse")
    assert resource["questionnaire"] == "https://cadence.example.org/fhir/Questionnaire/midas"
    assert resource["status"] == "completed"
    assert resource["authored"] == "2026-03-01"
    answers = {item["linkId"]: item["answer"][0] for item in resource["item"]}
    assert [answers[str(n)]["valueInteger"] for n in range(1, 6)] == [3, 2, 4, 1, 2]
    assert answers["total"] == {"valueInteger": 12}
    assert answers["band"]["valueCoding"]["code"] == "III"


def test_hit6_answers_are_codings_with_their_points(db, patient_a):
    from patients.services import record_questionnaire

    record_questionnaire(
        patient=patient_a,
        kind="hit6",
        answers=["never", "rarely", "sometimes", "very_often", "always", "always"],
        answered_on=datetime.date(2026, 3, 1),
    )
    (resource,) = every_resource("QuestionnaireResponse")
    assert resource["questionnaire"].endswith("/fhir/Questionnaire/hit-6")
    codings = [item["answer"][0] for item in resource["item"]]
    assert [c["valueCoding"]["code"] for c in codings[:6]] == [
        "never",
        "rarely",
        "sometimes",
        "very_often",
        "always",
        "always",
    ]
    points = [c["valueCoding"]["extension"][0]["valueDecimal"] for c in codings[:6]]
    assert points == [6, 8, 10, 11, 13, 13]
    assert codings[6] == {"valueInteger": 61}
    assert codings[7]["valueCoding"]["code"] == "severe"
    r4b_model("QuestionnaireResponse").model_validate(resource)


# --- AdverseEvent ------------------------------------------------------------------------------


def test_adverse_event_is_linked_to_its_sessions_administration_and_procedure(
    db, signed_session, clinician
):
    (resource,) = every_resource("AdverseEvent")
    procedure_id = signed_session.original_id
    lot_id = signed_session.vials.get().lot_id
    assert resource["actuality"] == "actual"
    assert resource["suspectEntity"] == [
        {"instance": {"reference": f"MedicationAdministration/{procedure_id}-{lot_id}"}},
        {"instance": {"reference": f"Procedure/{procedure_id}"}},
    ]
    assert resource["event"]["text"] == "Neck pain"
    assert resource["date"] == "2026-03-04"
    assert resource["seriousness"]["coding"][0]["code"] == "non-serious"
    assert resource["severity"]["coding"][0]["code"] == "mild"
    assert resource["outcome"]["coding"][0]["code"] == "ongoing"
    assert resource["recorder"]["reference"] == f"Practitioner/{clinician.pk}"
    # the references resolve among the exported resources
    administrations = {r["id"] for r in every_resource("MedicationAdministration")}
    assert f"{procedure_id}-{lot_id}" in administrations


def test_only_reviewed_adverse_events_are_exported(db, patient_a, clinician, location):
    from django.utils import timezone

    from treatments.services import report_adverse_event

    session = record(patient_a, clinician, location)

    def report(**fields):
        return report_adverse_event(
            session=session,
            recorded_by=None,
            reported_by="patient",
            term="eyelid_ptosis",
            onset=datetime.date(2026, 3, 10),
            severity="moderate",
            **fields,
        )

    report()  # awaiting a clinician's review
    now = timezone.now()
    confirmed = report(confirmed_at=now, confirmed_by=clinician, serious=True, outcome="resolving")
    report(dismissed_at=now, dismissed_by=clinician)
    (resource,) = every_resource("AdverseEvent")
    assert resource["id"] == str(confirmed.pk)
    assert resource["seriousness"]["coding"][0]["code"] == "serious"
    assert resource["outcome"]["coding"][0]["code"] == "recovering"
    assert resource["recorder"]["reference"] == f"Patient/{patient_a.pk}"
    r4b_model("AdverseEvent").model_validate(resource)


# --- queries per batch -------------------------------------------------------------------------


def give_history(number: int) -> None:
    """A clinician at a location of their own, and a patient with one of everything: a signed
    session from two lots with an adverse event, a visit, 30 days of diary and both
    questionnaires."""
    from patients.services import record_questionnaire
    from treatments.services import VialInput, report_adverse_event

    location = Location.objects.create(
        name=f"Clinic {number}",
        address=f"{number} High Street",
        phone="+12125550142",
        time_zone="America/New_York",
    )
    clinician = make_user(f"clinician{number}", User.Role.CLINICIAN, last_name=f"Doctor{number}")

    patient = make_patient(number, location=location, primary_clinician=clinician)
    vials = [
        VialInput(f"A{number}", "botox_100", datetime.date(2027, 1, 31)),
        VialInput(f"B{number}", "botox_100", datetime.date(2027, 5, 31)),
    ]
    session = record(patient, clinician, location, vials=vials)
    report_adverse_event(
        session=session,
        recorded_by=clinician,
        reported_by="clinician",
        term="neck_pain",
        onset=datetime.date(2026, 3, 4),
        severity="mild",
    )
    make_visit(patient, location, clinician, utc(2026, 5, 25, 14), kind="review")
    today = patient.local_today()
    keep_diary(patient, [today - datetime.timedelta(days=back) for back in range(30)])
    for kind, answers in (("midas", [1, 2, 3, 4, 5]), ("hit6", [6, 8, 10, 11, 13, 13])):
        record_questionnaire(
            patient=patient, kind=kind, answers=answers, answered_on=datetime.date(2026, 3, 1)
        )


def queries_per_type() -> dict[str, tuple[int, int]]:
    """(queries, resources) of reading every row of each type and mapping it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    for name, resource_type in RESOURCE_TYPES.items():
        with CaptureQueriesContext(connection) as queries:
            resources = list(resource_type.resources(resource_type.rows()))
        counts[name] = (len(queries), len(resources))
    return counts


def test_each_type_reads_a_batch_in_a_constant_number_of_queries(db):
    give_history(1)
    small = queries_per_type()
    for number in range(2, 6):
        give_history(number)
    large = queries_per_type()
    for name in RESOURCE_TYPES:
        assert large[name][1] > small[name][1], f"{name}: the batch did not grow"
        assert large[name][0] == small[name][0], f"{name}: queries grow with rows"
        assert large[name][0] <= 3, f"{name}: {large[name][0]} queries"


def test_observation_dates_are_its_window(db, patient_a):
    today = patient_a.local_today()
    keep_diary(patient_a, [today - datetime.timedelta(days=back) for back in range(5)])
    (resource,) = every_resource("Observation")
    date_of = RESOURCE_TYPES["Observation"].date_of
    assert date_of(resource) == (today - datetime.timedelta(days=27), today)
