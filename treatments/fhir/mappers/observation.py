"""Observation: one per 28-day window of a patient's headache diary, the figures the chart
shows (patients/outcomes.py counts them for both).

Windows: as on the chart, consecutive 28-day windows ending on the patient's today (their
usual location's date), back to the one holding their first diary entry. Windows without a
single entry are skipped (nothing was observed); a window with entries but fewer than the
20 the counts need ("insufficient data" on the chart) is an Observation with the days entered
and a `dataAbsentReason` in place of each count, as the chart shows no figures for it.

Ids: "diary-<patient pk>-<window start YYYYMMDD>". As the windows end on today, a search
lists other windows tomorrow; a read by id still answers any past 28-day window that starts
on that day (its figures do not depend on today), so an id a client stored keeps working.
"""

import datetime
import re
from collections.abc import Iterable, Iterator

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from patients import outcomes
from patients.models import DiaryEntry, Patient
from treatments.fhir.mappers.formats import code_system, fhir_date, reference
from treatments.fhir.mappers.resource_type import JSON, ResourceType

UCUM = "http://unitsofmeasure.org"
CATEGORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "survey",
            "display": "Survey",
        }
    ]
}
CODE_TEXT = "Headache diary, 28-day summary"
# (our code, text, the DiarySummary field): counts withheld when the window is insufficient
COUNTS = (
    ("headache-days", "Headache days in 28 days", "headache_days"),
    ("migraine-days", "Migraine days in 28 days", "migraine_days"),
    ("moderate-severe-days", "Moderate or severe headache days in 28 days", "moderate_severe_days"),
    ("acute-medication-days", "Acute medication days in 28 days", "medication_days"),
)
ENTRIES = ("diary-days", "Days entered in the diary in 28 days")
ID = re.compile(r"^diary-([1-9][0-9]{0,17})-([0-9]{8})$")
WINDOW = datetime.timedelta(days=outcomes.WINDOW_DAYS)


def rows() -> QuerySet:
    """The patients who kept a diary, with their usual location (their today) and every entry."""
    kept = DiaryEntry.objects.filter(patient=OuterRef("pk"))
    return (
        Patient.objects.filter(Exists(kept))
        .select_related("location")
        .prefetch_related(Prefetch("diary_entries", queryset=DiaryEntry.objects.order_by("date")))
        .order_by("pk")
    )


def _parse(id_str: str) -> tuple[int, datetime.date] | None:
    match = ID.match(id_str) if id_str.isascii() else None
    if match is None:
        return None
    try:
        digits = match.group(2)
        start = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None
    return int(match.group(1)), start


def id_lookup(id_str: str) -> Q | None:
    parsed = _parse(id_str)
    return None if parsed is None else Q(pk=parsed[0])


def window_id(patient_pk: int, start: datetime.date) -> str:
    return f"diary-{patient_pk}-{start:%Y%m%d}"


def _quantity(value: int) -> JSON:
    return {"value": value, "unit": "d", "system": UCUM, "code": "d"}


def _code(code: str, text: str) -> JSON:
    return {
        "coding": [{"system": code_system("headache-diary"), "code": code, "display": text}],
        "text": text,
    }


def to_fhir(patient: Patient, summary: outcomes.DiarySummary) -> JSON:
    entries_code, entries_text = ENTRIES
    components: list[JSON] = [
        {"code": _code(entries_code, entries_text), "valueQuantity": _quantity(summary.entries)}
    ]
    for code, text, attribute in COUNTS:
        component: JSON = {"code": _code(code, text)}
        if summary.insufficient:
            component["dataAbsentReason"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "code": "unknown",
                        "display": "Unknown",
                    }
                ],
                "text": f"Insufficient data: {summary.entries} of {summary.days} days entered "
                f"(at least {outcomes.MIN_ENTRIES_PER_WINDOW} needed)",
            }
        else:
            component["valueQuantity"] = _quantity(getattr(summary, attribute))
        components.append(component)
    return {
        "resourceType": "Observation",
        "id": window_id(patient.pk, summary.start),
        "status": "final",
        "category": [CATEGORY],
        "code": _code("diary-28-days", CODE_TEXT),
        "subject": reference("Patient", patient.pk, patient.full_name),
        "effectivePeriod": {"start": fhir_date(summary.start), "end": fhir_date(summary.end)},
        "performer": [reference("Patient", patient.pk, patient.full_name)],
        "component": components,
    }


def windows(patient: Patient) -> list[outcomes.DiarySummary]:
    """The chart's windows to the patient's today, back to their first entry; empty ones
    left out."""
    entries = list(patient.diary_entries.all())
    if not entries:
        return []
    today = patient.local_today()
    first = min(entry.date for entry in entries)
    count = max(1, (today - first).days // outcomes.WINDOW_DAYS + 1)
    summaries = outcomes.diary_windows(entries, today, count)
    return [summary for summary in summaries if summary.entries]


def resources(patients: Iterable[Patient]) -> Iterator[JSON]:
    for patient in patients:
        for summary in windows(patient):
            yield to_fhir(patient, summary)


def read(rows: QuerySet, id_str: str) -> JSON | None:
    """The window with FHIR id `id_str`: any 28 days that start on that day and are over by
    the patient's today, if the patient is among `rows` and entered at least one of its days."""
    parsed = _parse(id_str)
    if parsed is None:
        return None
    patient = rows.filter(pk=parsed[0]).first()
    if patient is None:
        return None
    start = parsed[1]
    if start + WINDOW - datetime.timedelta(days=1) > patient.local_today():
        return None
    summary = outcomes.diary_summary(patient.diary_entries.all(), start)
    return to_fhir(patient, summary) if summary.entries else None


def date_of(resource: JSON) -> tuple[datetime.date, datetime.date]:
    period = resource["effectivePeriod"]
    return datetime.date.fromisoformat(period["start"]), datetime.date.fromisoformat(period["end"])


TYPE = ResourceType(
    name="Observation",
    rows=rows,
    resources=resources,
    patient_path="pk",
    location_path="location",
    date_path=None,
    clinical=True,
    id_lookup=id_lookup,
    read=read,
    date_of=date_of,
)
