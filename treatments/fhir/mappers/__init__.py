"""FHIR R4 mappers: our rows as R4 JSON dicts, one module per resource type.

The interface the API (`treatments/fhir/views.py`, `access.py`) and the export
(`treatments/fhir/export.py`, `bundle.py`) build on:

    RESOURCE_TYPES["Procedure"].rows()             every row behind the type, with the joins
                                                   and prefetches `resources` needs (a
                                                   constant number of queries per batch)
    RESOURCE_TYPES["Procedure"].resources(rows)    rows -> R4 JSON dicts (a row may yield
                                                   several: Observation yields one per 28-day
                                                   diary window of a patient)
    get_by_id("Procedure", "12", rows)             the resource with that FHIR id among `rows`
                                                   (a narrowed `rows()`), or None

Narrowing (done by the caller on `rows()`, before `resources`):
- `patient_path`: `rows.filter(**{patient_path: patient_pk})` keeps one patient's rows
  ("pk" for Patient and Observation, whose rows are patients; "patient" elsewhere). None: the
  type is not patient-owned (Location, Practitioner).
- `location_path`: `rows.filter(**{location_path + "__in": locations})` keeps rows of those
  locations (a client's location limit). Patient and Observation use the patient's usual
  location. None: not limited by location (Practitioner).
- `date_path`: the model field `date` searches compare (an aware datetime or a date; see
  `date_is_datetime`). None: the type has no `date` search.
- `status_path` + `status_codes`: `rows.filter(**{status_path + "__in": [status_codes[c] for
  c in codes]})` for `status=<FHIR code>`; a code missing from `status_codes` matches nothing.
- `clinical`: True when the front desk may not read the type (clinicians and API clients with
  the scope only).

Resource ids are our primary keys as strings, except:
- Procedure: the pk of the session's FIRST version (an amendment writes a new row; the FHIR id
  stays the one a client already stored, and the resource shows the latest signed version).
  `meta.versionId` is our version number.
- MedicationAdministration: one per vial lot of a signed session (R4's Medication has one
  batch), "<Procedure id>-<lot pk>".
- Observation (28-day diary windows, derived): "diary-<patient pk>-<window start YYYYMMDD>".
- QuestionnaireResponse: "<pk>" of our QuestionnaireResponse row.
Use `narrow_to_id` (or `get_by_id`) rather than `filter(pk=...)` so that these stay right.

No mapper imports fhir.resources (a dev dependency for the tests' validation only).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

JSON = dict[str, Any]


def pk_lookup(id_str: str) -> Q | None:
    """The rows whose pk is `id_str` (None for anything that is not a positive integer)."""
    if not id_str.isascii() or not id_str.isdigit() or len(id_str) > 18:
        return None
    pk = int(id_str)
    return Q(pk=pk) if pk > 0 else None


@dataclass(frozen=True)
class ResourceType:
    name: str
    rows: Callable[[], QuerySet]
    resources: Callable[[Iterable[Any]], Iterator[JSON]]
    patient_path: str | None
    location_path: str | None
    date_path: str | None
    status_path: str | None = None
    status_codes: dict[str, str] = field(default_factory=dict)
    clinical: bool = True
    # The rows that may hold the resource with FHIR id `id_str` (None: no such id can exist).
    id_lookup: Callable[[str], Q | None] = pk_lookup
    date_is_datetime: bool = True

    def narrow_to_id(self, rows: QuerySet, id_str: str) -> QuerySet | None:
        lookup = self.id_lookup(id_str)
        return None if lookup is None else rows.filter(lookup)


def get_by_id(type_name: str, id_str: str, rows: QuerySet) -> JSON | None:
    """The resource of type `type_name` whose id is `id_str` among `rows` (a narrowed
    `RESOURCE_TYPES[type_name].rows()`), or None: missing and not visible look alike."""
    resource_type = RESOURCE_TYPES.get(type_name)
    if resource_type is None:
        return None
    narrowed = resource_type.narrow_to_id(rows, id_str)
    if narrowed is None:
        return None
    for resource in resource_type.resources(narrowed):
        if resource["id"] == id_str:
            return resource
    return None


def _types() -> dict[str, ResourceType]:
    from treatments.fhir.mappers import (
        appointment,
        location,
        medication_administration,
        patient,
        practitioner,
        procedure,
    )

    types = [
        patient.TYPE,
        location.TYPE,
        practitioner.TYPE,
        appointment.TYPE,
        procedure.TYPE,
        medication_administration.TYPE,
    ]
    return {t.name: t for t in types}


RESOURCE_TYPES: dict[str, ResourceType] = _types()
