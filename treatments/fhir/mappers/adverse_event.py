"""AdverseEvent: an adverse event after a signed session, linked to it through suspectEntity
(the session's MedicationAdministrations, the drug, and its Procedure, the injections).

Exported: events a clinician recorded, and patients' reports once a clinician confirmed them.
A patient's report no clinician has reviewed yet, or one dismissed as not an adverse event,
is not exported (like a draft session); neither is an event of a session no longer signed
(an amendment moves a session's events to its new version)."""

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Q, QuerySet

from clinic.models import User
from treatments.fhir.mappers.formats import code_system, fhir_date, instant, reference
from treatments.fhir.mappers.procedure import chain_id
from treatments.fhir.mappers.resource_type import JSON, ResourceType
from treatments.models import AdverseEvent, TreatmentSession

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem"
SERIOUSNESS = f"{TERMINOLOGY}/adverse-event-seriousness"
SEVERITY = f"{TERMINOLOGY}/adverse-event-severity"
OUTCOME = f"{TERMINOLOGY}/adverse-event-outcome"
OUTCOMES = {
    AdverseEvent.Outcome.ONGOING: ("ongoing", "Ongoing"),
    AdverseEvent.Outcome.RESOLVING: ("recovering", "Recovering"),
    AdverseEvent.Outcome.RESOLVED: ("resolved", "Resolved"),
    AdverseEvent.Outcome.SEQUELAE: ("resolvedWithSequelae", "Resolved with Sequelae"),
    AdverseEvent.Outcome.UNKNOWN: ("unknown", "Unknown"),
}


def rows() -> QuerySet:
    reviewed = Q(reported_by=AdverseEvent.Reporter.CLINICIAN) | Q(confirmed_at__isnull=False)
    return (
        AdverseEvent.objects.filter(reviewed, dismissed_at__isnull=True)
        .filter(session__status=TreatmentSession.Status.SIGNED)
        .select_related("patient", "session__location", "recorded_by")
        .prefetch_related("session__vials")
        .order_by("pk")
    )


def _recorder(event: AdverseEvent) -> JSON | None:
    user = event.recorded_by
    if user is not None and user.role == User.Role.CLINICIAN:
        return reference("Practitioner", user.pk, str(user))
    if event.reported_by == AdverseEvent.Reporter.PATIENT and (
        user is None or user.role == User.Role.PATIENT
    ):
        return reference("Patient", event.patient_id, event.patient.full_name)
    return None  # front desk or an admin typed it: no Practitioner of ours to name


def to_fhir(event: AdverseEvent) -> JSON:
    session = event.session
    procedure_id = chain_id(session)
    term = AdverseEvent.Term(event.term).label
    text = f"{term}: {event.description}" if event.description else term
    outcome_code, outcome_display = OUTCOMES[AdverseEvent.Outcome(event.outcome)]
    severity = AdverseEvent.Severity(event.severity)
    suspects: list[JSON] = [
        {"instance": reference("MedicationAdministration", f"{procedure_id}-{use.lot_id}")}
        for use in session.vials.all()
    ]
    suspects.append({"instance": reference("Procedure", procedure_id)})
    resource: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": str(event.pk),
        "actuality": "actual",
        "event": {
            "coding": [
                {"system": code_system("adverse-event-term"), "code": event.term, "display": term}
            ],
            "text": text,
        },
        "subject": reference("Patient", event.patient_id, event.patient.full_name),
        "date": fhir_date(event.onset),
        "recordedDate": instant(event.created_at, session.location.zone),
        "location": reference("Location", session.location_id, session.location.name),
        "seriousness": {
            "coding": [
                {"system": SERIOUSNESS, "code": "serious", "display": "Serious"}
                if event.serious
                else {"system": SERIOUSNESS, "code": "non-serious", "display": "Non-serious"}
            ]
        },
        "severity": {
            "coding": [{"system": SEVERITY, "code": severity.value, "display": severity.label}]
        },
        "outcome": {
            "coding": [{"system": OUTCOME, "code": outcome_code, "display": outcome_display}]
        },
        "suspectEntity": suspects,
    }
    recorder = _recorder(event)
    if recorder is not None:
        resource["recorder"] = recorder
    return resource


def resources(events: Iterable[AdverseEvent]) -> Iterator[JSON]:
    for event in events:
        yield to_fhir(event)


TYPE = ResourceType(
    name="AdverseEvent",
    rows=rows,
    resources=resources,
    patient_path="patient",
    location_path="session__location",
    date_path="onset",
    date_is_datetime=False,
    clinical=True,
)
