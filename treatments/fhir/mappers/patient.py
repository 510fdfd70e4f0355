"""Patient: identifier (MRN), name, birthDate, gender, telecom, address, active."""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from patients.models import Patient
from treatments.fhir.mappers.formats import fhir_date, instant, mrn_system, reference
from treatments.fhir.mappers.resource_type import JSON, ResourceType

# HL7 v2 table 0203: "MR" = medical record number
IDENTIFIER_TYPE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}],
    "text": "MRN",
}


def rows() -> QuerySet:
    return Patient.objects.select_related("primary_clinician").order_by("pk")


def to_fhir(patient: Patient) -> JSON:
    resource: JSON = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "meta": {"lastUpdated": instant(patient.updated_at)},
        "identifier": [
            {
                "use": "usual",
                "type": IDENTIFIER_TYPE,
                "system": mrn_system(),
                "value": patient.mrn,
            }
        ],
        "active": patient.status == Patient.Status.ACTIVE,
        "name": [
            {
                "use": "official",
                "family": patient.last_name,
                "given": [patient.first_name],
                "text": patient.full_name,
            }
        ],
        "gender": patient.sex,  # Patient.Sex's values are FHIR's AdministrativeGender
        "birthDate": fhir_date(patient.date_of_birth),
    }
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone.as_e164, "use": "mobile"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    if patient.address.strip():
        resource["address"] = [{"text": patient.address.strip()}]
    if patient.primary_clinician_id:
        resource["generalPractitioner"] = [
            reference("Practitioner", patient.primary_clinician_id, str(patient.primary_clinician))
        ]
    return resource


def resources(patients: Iterable[Patient]) -> Iterator[JSON]:
    for patient in patients:
        yield to_fhir(patient)


TYPE = ResourceType(
    name="Patient",
    rows=rows,
    resources=resources,
    patient_path="pk",
    location_path="location",
    date_path=None,
    # FHIR's Patient has no `status` search (`active` is a search of its own)
    status_path=None,
    clinical=False,
)
