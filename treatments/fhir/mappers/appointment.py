"""Appointment: status (our codes are FHIR's), start and end with the location's offset, the
patient, clinician and location as participants, the kind of visit, the cancellation reason."""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from treatments.fhir.mappers.formats import code_system, instant, reference
from treatments.fhir.mappers.resource_type import JSON, ResourceType
from treatments.models import Appointment

# HL7 v2 table 0276 (appointment reason codes), the binding of Appointment.appointmentType.
APPOINTMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0276"
APPOINTMENT_TYPES = {
    Appointment.Kind.INJECTION: ("ROUTINE", "Routine appointment - default if not valued"),
    Appointment.Kind.REVIEW: ("FOLLOWUP", "A follow up visit from a previous appointment"),
}


def rows() -> QuerySet:
    return Appointment.objects.select_related("patient", "clinician", "location").order_by("pk")


def to_fhir(visit: Appointment) -> JSON:
    zone = visit.location.zone
    type_code, type_display = APPOINTMENT_TYPES[Appointment.Kind(visit.kind)]
    kind_label = Appointment.Kind(visit.kind).label
    resource: JSON = {
        "resourceType": "Appointment",
        "id": str(visit.pk),
        "status": visit.status,  # booked, arrived, fulfilled, cancelled, noshow: FHIR's codes
        "serviceType": [
            {
                "coding": [
                    {
                        "system": code_system("appointment-kind"),
                        "code": visit.kind,
                        "display": kind_label,
                    }
                ],
                "text": kind_label,
            }
        ],
        "appointmentType": {
            "coding": [
                {"system": APPOINTMENT_TYPE_SYSTEM, "code": type_code, "display": type_display}
            ],
            "text": kind_label,
        },
        "start": instant(visit.starts_at, zone),
        "end": instant(visit.ends_at, zone),
        "minutesDuration": int((visit.ends_at - visit.starts_at).total_seconds() // 60),
        "created": instant(visit.booked_at, zone),
        "participant": [
            {
                "actor": reference("Patient", visit.patient_id, visit.patient.full_name),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": reference("Practitioner", visit.clinician_id, str(visit.clinician)),
                "required": "required",
                "status": "accepted",
            },
            {
                "actor": reference("Location", visit.location_id, visit.location.name),
                "required": "required",
                "status": "accepted",
            },
        ],
    }
    if visit.status == Appointment.Status.CANCELLED and visit.cancel_reason.strip():
        resource["cancelationReason"] = {"text": visit.cancel_reason.strip()}
    return resource


def resources(visits: Iterable[Appointment]) -> Iterator[JSON]:
    for visit in visits:
        yield to_fhir(visit)


TYPE = ResourceType(
    name="Appointment",
    rows=rows,
    resources=resources,
    patient_path="patient",
    location_path="location",
    date_path="starts_at",
    status_path="status",
    status_codes={status: status for status in Appointment.Status.values},
    clinical=False,
)
