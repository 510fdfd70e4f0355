"""MedicationAdministration: what a signed session gave, one resource per vial lot it drew from.

Why one per lot: in R4 a MedicationAdministration names ONE medication, and a Medication has
at most one `batch` (one lot number and expiry). A session that drew on two lots (two 100 U
vials of different lots) gave two batches of the drug, so it is two administrations, each with
its own contained Medication and batch and the units given from that lot; together they make
the session's total, and both are `partOf` the session's Procedure. The usual session (one
lot) is one administration with the whole dose.

Ids: "<Procedure id>-<lot pk>": stable across an amendment that keeps the lot.
"""

import re
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Q, QuerySet

from treatments.fhir.mappers.formats import code_system, fhir_date, instant, reference
from treatments.fhir.mappers.procedure import (
    chain_id,
    chain_lookup,
    signed_session_type,
    signed_sessions,
)
from treatments.fhir.mappers.resource_type import JSON
from treatments.models import TreatmentSession, VialUse

SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
INTRAMUSCULAR = {"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}
# No RxNorm code: we give none we cannot vouch for; the text names the drug.
DRUG_TEXT = "onabotulinumtoxinA"
ID = re.compile(r"^([1-9][0-9]{0,17})-([1-9][0-9]{0,17})$")


def rows() -> QuerySet:
    return signed_sessions().prefetch_related("vials__lot").order_by("pk")


def id_lookup(id_str: str) -> Q | None:
    match = ID.match(id_str) if id_str.isascii() else None
    return None if match is None else chain_lookup(match.group(1))


def medication(use: VialUse) -> JSON:
    lot = use.lot
    return {
        "resourceType": "Medication",
        "id": "med",
        "code": {
            "coding": [
                {
                    "system": code_system("vial-product"),
                    "code": lot.product,
                    "display": lot.get_product_display(),
                }
            ],
            "text": DRUG_TEXT,
        },
        "batch": {"lotNumber": lot.lot_number, "expirationDate": fhir_date(lot.expiry)},
    }


def to_fhir(session: TreatmentSession, use: VialUse) -> JSON:
    procedure_id = chain_id(session)
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": f"{procedure_id}-{use.lot_id}",
        "meta": {"versionId": str(session.version)},
        "contained": [medication(use)],
        "partOf": [reference("Procedure", procedure_id)],
        "status": "completed",
        "medicationReference": {"reference": "#med", "display": DRUG_TEXT},
        "subject": reference("Patient", session.patient_id, session.patient.full_name),
        "effectiveDateTime": instant(session.administered_at, session.location.zone),
        "performer": [
            {"actor": reference("Practitioner", session.injector_id, str(session.injector))}
        ],
        "dosage": {
            "text": f"{use.units_administered} U intramuscular, 5 U per 0.1 mL per site",
            "route": {"coding": [INTRAMUSCULAR], "text": "intramuscular"},
            "dose": {
                "value": use.units_administered,
                "unit": "U",
                "system": UCUM,
                "code": "[iU]",
            },
        },
        "note": [
            {
                "text": f"Lot {use.lot.lot_number}: {use.vials} x {use.lot.get_product_display()}"
                f", {use.units_drawn} U drawn, {use.units_wasted} U wasted"
            }
        ],
    }
    return resource


def resources(sessions: Iterable[TreatmentSession]) -> Iterator[JSON]:
    for session in sessions:
        for use in session.vials.all():
            yield to_fhir(session, use)


TYPE = signed_session_type(
    "MedicationAdministration", rows=rows, resources=resources, id_lookup=id_lookup
)
