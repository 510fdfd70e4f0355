import datetime
from decimal import Decimal

from django.db import transaction

from clinic.models import User
from patients import outcomes
from patients.models import ContactConsent, DiaryEntry, Patient, QuestionnaireResponse


@transaction.atomic
def record_consent(
    *, patient: Patient, channel: str, granted: bool, source: str, recorded_by: User | None
) -> ContactConsent:
    """Append a consent change for one channel; the latest row is the patient's current state."""
    return ContactConsent.objects.create(
        patient=patient, channel=channel, granted=granted, source=source, recorded_by=recorded_by
    )


@transaction.atomic
def record_diary_entry(
    *,
    patient: Patient,
    date: datetime.date,
    headache: bool,
    hours: Decimal | int = 0,
    severity: int = 0,
    migraine: bool = False,
    acute_medication: str = "none",
) -> DiaryEntry:
    """Create or replace the patient's diary entry for `date` (one entry per day).

    A day without headache keeps no hours, severity or migraine features, whatever was sent:
    the form hides those fields then, and a value left in them is not the patient's answer.
    """
    if not headache:
        hours, severity, migraine = 0, 0, False
    entry, _created = DiaryEntry.objects.update_or_create(
        patient=patient,
        date=date,
        defaults={
            "headache": headache,
            "hours": hours,
            "severity": severity,
            "migraine": migraine,
            "acute_medication": acute_medication,
        },
    )
    return entry


@transaction.atomic
def record_questionnaire(
    *, patient: Patient, kind: str, answers: list, answered_on: datetime.date
) -> QuestionnaireResponse:
    """Score a completed MIDAS or HIT-6 and store it (raises outcomes.InvalidAnswers).

    HIT-6 answers may be answer names ("very_often"); they are stored as points.
    """
    if kind == QuestionnaireResponse.Kind.MIDAS:
        stored = list(answers)
        total, band = outcomes.score_midas(stored)
    elif kind == QuestionnaireResponse.Kind.HIT6:
        stored = outcomes.hit6_points(answers)
        total, band = outcomes.score_hit6(stored)
    else:
        raise outcomes.InvalidAnswers(f"Unknown questionnaire {kind!r}.")
    return QuestionnaireResponse.objects.create(
        patient=patient,
        kind=kind,
        answers=stored,
        total=total,
        band=band,
        answered_on=answered_on,
    )
