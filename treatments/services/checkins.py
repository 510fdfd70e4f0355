"""The post-injection check-in (docs/clinical-rules.md, "Side effects the patient reports"):
the patient's answers to four questions about a signed session become draft adverse events on
it, with the same alarms as a side effect reported in the portal; a clinician confirms or
dismisses each draft."""

import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic.models import User
from patients.models import Patient
from treatments.models import AdverseEvent, CheckIn, TreatmentSession
from treatments.services.side_effects import report_side_effect

Term = AdverseEvent.Term
# Each yes of the four questions, as the term of its draft event (docs/clinical-rules.md,
# "Side effects the patient reports").
# Neck weakness is in the injected muscles (cervical paraspinal, trapezius): a local effect.
ANSWER_TERMS = {
    "eyelids": Term.EYELID_PTOSIS,
    "neck_pain": Term.NECK_PAIN,
    "neck_weakness": Term.WEAKNESS,
    "swallowing": Term.DYSPHAGIA,
    "breathing": Term.DYSPNOEA,
    "speaking": Term.DYSARTHRIA,
}
# The patient is not asked how bad it is (four questions only): a draft's severity follows how
# urgent its sign is, and the clinician sets the real one when confirming it.
DRAFT_SEVERITY = {
    "danger": AdverseEvent.Severity.SEVERE,
    "prompt": AdverseEvent.Severity.MODERATE,
    None: AdverseEvent.Severity.MILD,
}
FROM_CHECKIN = "Post-injection check-in"


def checkin_session(session_id: int) -> TreatmentSession | None:
    """The signed version of the session a check-in link names: itself, or the amendment
    that replaced it (None if it is no longer signed in any version)."""
    named = TreatmentSession.objects.filter(pk=session_id).values_list("pk", "original_id").first()
    if named is None:
        return None
    root = named[1] or named[0]
    versions = TreatmentSession.objects.signed().filter(Q(pk=root) | Q(original_id=root))
    return versions.select_related("location", "patient").first()


@transaction.atomic
def answer_checkin(
    *, session: TreatmentSession, answers: dict, user: User | None, via: str
) -> tuple[CheckIn, list[AdverseEvent], bool]:
    """Record the answers to a session's check-in, once. Returns (check-in, the draft events
    written, whether this call recorded it).

    1. Lock the patient's row (as signing and amending do, so an amendment and an answer
       wait for each other); a check-in already there (a repeated link, a second tab) is
       returned as it is, with nothing written (the database's one-per-session key backs it).
    2. Record the answers.
    3. Each sign ticked becomes a draft adverse event on the session, reported by the patient
       (`report_side_effect`: a danger sign raises an urgent alert, another boxed-warning sign
       a prompt one, in this transaction); "anything else" becomes an "Other" event.
    """
    Patient.objects.select_for_update().values_list("pk", flat=True).get(pk=session.patient_id)
    existing = CheckIn.objects.filter(session=session).first()
    if existing is not None:
        return existing, [], False
    fields = {name: bool(answers.get(name)) for name in ANSWER_TERMS}
    other = (answers.get("other") or "").strip()
    checkin = CheckIn.objects.create(
        patient_id=session.patient_id,
        session=session,
        other=other,
        via=via,
        answered_by=user,
        **fields,
    )
    onset = _today_at(session)
    events = []
    for name, term in ANSWER_TERMS.items():
        if fields[name]:
            events.append(_draft(session, user, term=term, description=FROM_CHECKIN, onset=onset))
    if other:
        events.append(_draft(session, user, term=Term.OTHER, description=other, onset=onset))
    return checkin, events, True


def _draft(session: TreatmentSession, user: User | None, **fields) -> AdverseEvent:
    urgency = AdverseEvent(term=fields["term"]).urgency
    return report_side_effect(
        session=session, user=user, severity=DRAFT_SEVERITY[urgency], **fields
    )


def _today_at(session: TreatmentSession) -> datetime.date:
    """Today at the session's location (never before the session's own local date)."""
    return max(timezone.now().astimezone(session.location.zone).date(), session.given_on)


def dismiss_adverse_event(*, event: AdverseEvent, user: User) -> bool:
    """Dismiss a patient's draft report (not an adverse event after all): kept, marked with
    who and when. A conditional UPDATE, so a draft confirmed or dismissed meanwhile is left
    as it is; returns whether this call dismissed it. An open alert stays open: a clinician
    acknowledges it with a note."""
    return bool(
        AdverseEvent.objects.filter(
            pk=event.pk,
            reported_by=AdverseEvent.Reporter.PATIENT,
            confirmed_at__isnull=True,
            dismissed_at__isnull=True,
        ).update(dismissed_at=timezone.now(), dismissed_by=user)
    )
