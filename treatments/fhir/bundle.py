"""One patient's whole record as a FHIR R4 Bundle (type `collection`): "download my record" in
the portal.

1. Every patient-owned resource type (`patient_path` set), its rows narrowed to the patient,
   through the mapper: the same resources the API and the bulk export give.
2. The types that belong to no patient (Location, Practitioner): only the rows those resources
   refer to, so that every reference in the Bundle resolves inside it.

A constant number of queries whatever the size of the record: one set per type (the mappers'
`rows()` carry their joins and prefetches), whatever the number of rows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from patients.models import Patient
from treatments.fhir.mappers import RESOURCE_TYPES


def _references(value: Any) -> Iterator[str]:
    """Every `reference` string anywhere in a resource ("Practitioner/12")."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def patient_resources(patient: Patient) -> list[dict]:
    """The patient's resources, in the mappers' order, then the shared ones they name."""
    resources: list[dict] = []
    shared = []
    for resource_type in RESOURCE_TYPES.values():
        path = resource_type.patient_path
        if path is None:
            shared.append(resource_type)
            continue
        rows = resource_type.rows().filter(**{path: patient.pk})
        resources.extend(resource_type.resources(rows))
    named = {reference for resource in resources for reference in _references(resource)}
    for resource_type in shared:
        prefix = f"{resource_type.name}/"
        ids = sorted(ref[len(prefix) :] for ref in named if ref.startswith(prefix))
        lookups = [lookup for id_str in ids if (lookup := resource_type.id_lookup(id_str))]
        if not lookups:
            continue
        condition = lookups[0]
        for lookup in lookups[1:]:
            condition |= lookup
        resources.extend(resource_type.resources(resource_type.rows().filter(condition)))
    return resources


def patient_bundle(*, patient: Patient, base_url: str, now: datetime.datetime) -> dict:
    """A Bundle of type `collection` holding every resource of the patient; `base_url` is the
    API's base (".../fhir/R4/"), for each entry's fullUrl."""
    base = base_url.rstrip("/")
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.astimezone(datetime.UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
        "entry": [
            {
                "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
            }
            for resource in patient_resources(patient)
        ],
    }
