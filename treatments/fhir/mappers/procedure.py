"""Procedure: one per signed session (the current version of an amended one): CPT 64615, when,
who injected, where, and a bodySite per injected muscle and side.

bodySite (a CodeableConcept per muscle and side, as FHIR R4 types it): the muscle's SNOMED CT
code where we know it (temporalis, trapezius), our muscle-and-side code as a local coding, the
text with the sites and units ("Temporalis, left: TEM-L1, TEM-L2 ... (20 U)"), and the side as
a SNOMED CT laterality qualifier in an extension (R4 has no core laterality element; a
midline site, procerus, has none)."""

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Q, QuerySet

from treatments import protocol
from treatments.fhir.mappers.formats import code_system, instant, reference, site_base
from treatments.fhir.mappers.resource_type import JSON, ResourceType
from treatments.models import InjectionSite, TreatmentSession

SNOMED = "http://snomed.info/sct"
CPT = "http://www.ama-assn.org/go/cpt"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT_CHEMODENERVATION = "64615"  # once per session (docs/clinical-rules.md, billing)
CPT_DISPLAY = (
    "Chemodenervation of muscle(s); muscle(s) innervated by facial, trigeminal, cervical spinal "
    "and accessory nerves, bilateral (eg, for chronic migraine)"
)
# SNOMED CT body structures (docs/clinical-rules.md, "Codes for FHIR"); the other muscles go
# as text and our local code only (no code we are not sure of).
MUSCLE_SNOMED = {"TEM": "52927003", "TRA": "31764008"}
# SNOMED CT laterality qualifiers (docs/clinical-rules.md, "Codes for FHIR"): left, right
# (both, 51440002, is unused: each side is a bodySite of its own).
SIDE_SNOMED = {protocol.LEFT: ("7771000", "Left"), protocol.RIGHT: ("24028007", "Right")}


def laterality_extension_url() -> str:
    return f"{site_base()}/fhir/StructureDefinition/laterality"


def chain_id(session: TreatmentSession) -> int:
    """The FHIR id of a session's Procedure and MedicationAdministration: its first version's
    pk, so an amendment keeps the id a client stored."""
    return session.original_id or session.pk


def chain_lookup(id_str: str) -> Q | None:
    """The session rows that may be the current version of the chain with FHIR id `id_str`."""
    if not id_str.isascii() or not id_str.isdigit() or len(id_str) > 18 or int(id_str) < 1:
        return None
    pk = int(id_str)
    return Q(pk=pk, original__isnull=True) | Q(original_id=pk)


def signed_sessions() -> QuerySet:
    """Signed sessions only: drafts, discarded drafts and superseded versions are never
    exported (an amended session's current version is signed, the old ones superseded)."""
    return TreatmentSession.objects.signed().select_related("patient", "location", "injector")


def rows() -> QuerySet:
    return signed_sessions().prefetch_related("sites").order_by("pk")


def body_sites(sites: Iterable[InjectionSite]) -> list[JSON]:
    """One CodeableConcept per injected muscle and side, in protocol order (skipped sites are
    not injected and not listed)."""
    groups: dict[tuple[str, str], list[InjectionSite]] = {}
    for site in sites:
        if site.units:
            groups.setdefault((site.muscle, site.side), []).append(site)
    order = {code: index for index, code in enumerate(protocol.SITE_CODES)}
    concepts = []
    for (muscle, side), given in sorted(
        groups.items(), key=lambda item: min(order[s.site_code] for s in item[1])
    ):
        given.sort(key=lambda s: order[s.site_code])
        name = protocol.MUSCLES[muscle].name
        side_name = protocol.SIDES[side].lower()
        units = sum(s.units or 0 for s in given)
        codes = ", ".join(s.site_code for s in given)
        coding: list[JSON] = []
        if muscle in MUSCLE_SNOMED:
            coding.append({"system": SNOMED, "code": MUSCLE_SNOMED[muscle]})
        coding.append(
            {
                "system": code_system("injection-muscle-side"),
                "code": f"{muscle}-{side}",
                "display": f"{name}, {side_name}",
            }
        )
        concept: JSON = {"coding": coding, "text": f"{name}, {side_name}: {codes} ({units} U)"}
        if side in SIDE_SNOMED:
            code, display = SIDE_SNOMED[side]
            concept["extension"] = [
                {
                    "url": laterality_extension_url(),
                    "valueCodeableConcept": {
                        "coding": [{"system": SNOMED, "code": code, "display": display}],
                        "text": display,
                    },
                }
            ]
        concepts.append(concept)
    return concepts


def to_fhir(session: TreatmentSession) -> JSON:
    zone = session.location.zone
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": str(chain_id(session)),
        "meta": {"versionId": str(session.version)},
        "status": "completed",
        "code": {
            "coding": [{"system": CPT, "code": CPT_CHEMODENERVATION, "display": CPT_DISPLAY}],
            "text": "OnabotulinumtoxinA injections for chronic migraine (PREEMPT)",
        },
        "subject": reference("Patient", session.patient_id, session.patient.full_name),
        "performedDateTime": instant(session.administered_at, zone),
        "performer": [
            {"actor": reference("Practitioner", session.injector_id, str(session.injector))}
        ],
        "location": reference("Location", session.location_id, session.location.name),
        "bodySite": body_sites(session.sites.all()),
    }
    if session.patient.diagnosis_code:
        resource["reasonCode"] = [
            {
                "coding": [{"system": ICD10CM, "code": session.patient.diagnosis_code}],
                "text": session.patient.get_diagnosis_code_display(),
            }
        ]
    return resource


def resources(sessions: Iterable[TreatmentSession]) -> Iterator[JSON]:
    for session in sessions:
        yield to_fhir(session)


def signed_session_type(name: str, *, rows, resources, id_lookup) -> ResourceType:
    """A type mapped from signed sessions (Procedure, MedicationAdministration): searched alike,
    by the session's patient, location, time and status."""
    return ResourceType(
        name=name,
        rows=rows,
        resources=resources,
        id_lookup=id_lookup,
        patient_path="patient",
        location_path="location",
        date_path="administered_at",
        status_path="status",
        status_codes={"completed": TreatmentSession.Status.SIGNED},
        clinical=True,
    )


TYPE = signed_session_type("Procedure", rows=rows, resources=resources, id_lookup=chain_lookup)
