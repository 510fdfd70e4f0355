"""QuestionnaireResponse: a completed MIDAS or HIT-6 with each item's answer, the total and
the band (patients/outcomes.py scores them).

`questionnaire` is a canonical URL of ours, SITE_URL + "/fhir/Questionnaire/midas" or
".../hit-6": stable for as long as the site's address is (no Questionnaire resource is served
yet). Item linkIds: "1".."5" (MIDAS) or "1".."6" (HIT-6) in the instrument's order, then
"total" and "band". MIDAS answers are days (valueInteger); HIT-6 answers are codings of ours
(never ... always) carrying their points as the core ordinalValue extension."""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from patients import outcomes
from patients.models import QuestionnaireResponse
from treatments.fhir.mappers.formats import code_system, fhir_date, reference, site_base
from treatments.fhir.mappers.resource_type import JSON, ResourceType

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
SLUG = {QuestionnaireResponse.Kind.MIDAS: "midas", QuestionnaireResponse.Kind.HIT6: "hit-6"}
ITEMS = {
    QuestionnaireResponse.Kind.MIDAS: outcomes.MIDAS_ITEMS,
    QuestionnaireResponse.Kind.HIT6: outcomes.HIT6_ITEMS,
}
TOTAL_TEXT = {
    QuestionnaireResponse.Kind.MIDAS: "MIDAS score (days in the last 3 months)",
    QuestionnaireResponse.Kind.HIT6: "HIT-6 total score (36-78)",
}
BAND_TEXT = {
    QuestionnaireResponse.Kind.MIDAS: "MIDAS grade",
    QuestionnaireResponse.Kind.HIT6: "HIT-6 impact",
}
HIT6_BY_POINTS = {points: (code, label) for code, label, points in outcomes.HIT6_ANSWERS}


def questionnaire_url(kind: str) -> str:
    return f"{site_base()}/fhir/Questionnaire/{SLUG[QuestionnaireResponse.Kind(kind)]}"


def rows() -> QuerySet:
    return QuestionnaireResponse.objects.select_related("patient").order_by("pk")


def _answer(kind: str, value: int) -> JSON:
    if kind == QuestionnaireResponse.Kind.MIDAS:
        return {"valueInteger": value}
    code, label = HIT6_BY_POINTS[value]
    return {
        "valueCoding": {
            "extension": [{"url": ORDINAL_VALUE, "valueDecimal": value}],
            "system": code_system("hit-6-answer"),
            "code": code,
            "display": label,
        }
    }


def to_fhir(response: QuestionnaireResponse) -> JSON:
    kind = response.kind
    items: list[JSON] = [
        {"linkId": str(number), "text": text, "answer": [_answer(kind, value)]}
        for number, (text, value) in enumerate(
            zip(ITEMS[QuestionnaireResponse.Kind(kind)], response.answers, strict=True), start=1
        )
    ]
    items.append(
        {
            "linkId": "total",
            "text": TOTAL_TEXT[QuestionnaireResponse.Kind(kind)],
            "answer": [{"valueInteger": response.total}],
        }
    )
    items.append(
        {
            "linkId": "band",
            "text": BAND_TEXT[QuestionnaireResponse.Kind(kind)],
            "answer": [
                {
                    "valueCoding": {
                        "system": code_system(f"{SLUG[QuestionnaireResponse.Kind(kind)]}-band"),
                        "code": response.band,
                        "display": response.band_label,
                    }
                }
            ],
        }
    )
    patient = reference("Patient", response.patient_id, response.patient.full_name)
    return {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.pk),
        "questionnaire": questionnaire_url(kind),
        "status": "completed",
        "subject": patient,
        "authored": fhir_date(response.answered_on),
        "source": patient,  # patient-reported, whoever typed it in
        "item": items,
    }


def resources(responses: Iterable[QuestionnaireResponse]) -> Iterator[JSON]:
    for response in responses:
        yield to_fhir(response)


TYPE = ResourceType(
    name="QuestionnaireResponse",
    rows=rows,
    resources=resources,
    patient_path="patient",
    location_path="patient__location",
    date_path="answered_on",
    date_is_datetime=False,
    status_path=None,
    clinical=True,
)
