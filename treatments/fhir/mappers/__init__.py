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
  `date_is_datetime`). None: the type has no `date` search on rows; if `date_of` is given
  (Observation: its effectivePeriod as a (start, end) pair of dates), filter the mapped
  resources on it instead.
- `status_path` + `status_codes`: `rows.filter(**{status_path + "__in": [status_codes[c] for
  c in codes]})` for `status=<FHIR code>`; a code missing from `status_codes` matches nothing.
- `clinical`: True when the front desk may not read the type (clinicians and API clients with
  the scope only).

`rows()` is ordered by pk, so pages of rows are stable. A page of n rows yields n resources,
except MedicationAdministration (one per vial lot of a session: usually 1, sometimes 2) and
Observation (one per diary window of a patient): page those by rows, or fill a page of
resources and remember the row to go on from.

Resource ids are our primary keys as strings, except:
- Procedure: the pk of the session's FIRST version (an amendment writes a new row; the FHIR id
  stays the one a client already stored, and the resource shows the latest signed version).
  `meta.versionId` is our version number.
- MedicationAdministration: one per vial lot of a signed session (R4's Medication has one
  batch), "<Procedure id>-<lot pk>".
- Observation (28-day diary windows, derived): "diary-<patient pk>-<window start YYYYMMDD>";
  rows are patients (those who kept a diary), each yielding its windows. `get_by_id` reads
  any past window by its id (observation.read), not only the ones a search lists today.
- QuestionnaireResponse: "<pk>" of our QuestionnaireResponse row.
Use `narrow_to_id` (or `get_by_id`) rather than `filter(pk=...)` so that these stay right.

No mapper imports fhir.resources (a dev dependency for the tests' validation only).
"""

from django.db.models import QuerySet

from treatments.fhir.mappers import (
    adverse_event,
    appointment,
    location,
    medication_administration,
    observation,
    patient,
    practitioner,
    procedure,
    questionnaire_response,
)
from treatments.fhir.mappers.resource_type import JSON, ResourceType, pk_lookup

__all__ = ["JSON", "RESOURCE_TYPES", "ResourceType", "get_by_id", "pk_lookup"]

# In the order an export writes them: what others refer to first.
RESOURCE_TYPES: dict[str, ResourceType] = {
    t.name: t
    for t in (
        patient.TYPE,
        location.TYPE,
        practitioner.TYPE,
        appointment.TYPE,
        procedure.TYPE,
        medication_administration.TYPE,
        observation.TYPE,
        questionnaire_response.TYPE,
        adverse_event.TYPE,
    )
}


def get_by_id(type_name: str, id_str: str, rows: QuerySet) -> JSON | None:
    """The resource of type `type_name` whose id is `id_str` among `rows` (a narrowed
    `RESOURCE_TYPES[type_name].rows()`), or None: missing and not visible look alike."""
    resource_type = RESOURCE_TYPES.get(type_name)
    if resource_type is None:
        return None
    if resource_type.read is not None:
        return resource_type.read(rows, id_str)
    narrowed = resource_type.narrow_to_id(rows, id_str)
    if narrowed is None:
        return None
    for resource in resource_type.resources(narrowed):
        if resource["id"] == id_str:
            return resource
    return None
