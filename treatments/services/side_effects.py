"""Side effects the patient reports, the alerts they raise, and a clinician's follow-up:
acknowledge an alert, turn a report into a structured adverse event, resolve an event."""

import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic.models import User
from treatments.models import AdverseEvent, Alert, TreatmentSession
from treatments.services.sessions import report_adverse_event

# The emergency number a patient is told to call, by the clinic's country (its phone's region).
EMERGENCY_NUMBERS = {"US": "911", "CA": "911", "GB": "999", "AU": "000"}
EMERGENCY_NUMBER_ELSEWHERE = "112"  # the EU's and GSM phones' number


def emergency_number(location) -> str:
    """The number a patient of `location` (a Location, or None) calls in an emergency."""
    region = location.region if location else None
    return EMERGENCY_NUMBERS.get(region or "", EMERGENCY_NUMBER_ELSEWHERE)


# What the email says: never the symptom or the patient (docs/clinical-rules.md).
ALERT_EMAIL_SUBJECT = "Cadence: a patient report needs review"


@transaction.atomic
def report_side_effect(*, session: TreatmentSession, user: User | None, **fields) -> AdverseEvent:
    """Record a side effect the patient reports, and alert the clinicians if it is a
    boxed-warning sign.

    1. Record the adverse event on the session, reported by the patient.
    2. A danger or prompt sign raises an open alert in the same transaction.
    3. After commit, email CLINICAL_ALERT_EMAIL (if set) that a report needs review.
    """
    event = report_adverse_event(
        session=session, recorded_by=user, reported_by=AdverseEvent.Reporter.PATIENT, **fields
    )
    if event.urgency is not None:
        Alert.objects.create(patient=event.patient, event=event, urgency=event.urgency)
        if settings.CLINICAL_ALERT_EMAIL:
            # robust: a mail server that is down must not turn the patient's report into an error
            transaction.on_commit(send_alert_email, robust=True)
    return event


def send_alert_email() -> None:
    """Tell the clinical address that a patient report needs review, with the inbox's link."""
    link = settings.SITE_URL.rstrip("/") + reverse("treatments:alert_list")
    send_mail(
        ALERT_EMAIL_SUBJECT,
        f"A patient report needs review. Open the alerts inbox: {link}\n",
        None,
        [settings.CLINICAL_ALERT_EMAIL],
    )


def acknowledge_alert(*, alert: Alert, user: User, note: str) -> bool:
    """Close an open alert with the clinician's note. A conditional UPDATE, so two clinicians
    acknowledging at once leave the first one's note; returns whether this call closed it."""
    return bool(
        Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=timezone.now(), acknowledged_by=user, note=note.strip()
        )
    )


@transaction.atomic
def confirm_adverse_event(*, event: AdverseEvent, user: User, **fields) -> AdverseEvent:
    """Turn a patient's report into a structured adverse event: the clinician's term, onset,
    severity, seriousness and outcome replace the patient's words; who and when are kept."""
    for name, value in fields.items():
        setattr(event, name, value)
    if event.outcome not in AdverseEvent.RESOLVED_OUTCOMES:
        event.resolved_on = None
    event.confirmed_at = timezone.now()
    event.confirmed_by = user
    event.dismissed_at = event.dismissed_by = None  # confirmed after all
    event.save()
    return event


def resolve_adverse_event(
    *, event: AdverseEvent, outcome: str, resolved_on: datetime.date
) -> AdverseEvent:
    """Mark an adverse event resolved (fully, or with lasting effects) on a date."""
    event.outcome = outcome
    event.resolved_on = resolved_on
    event.save(update_fields=["outcome", "resolved_on"])
    return event
