"""What an SMS provider tells us back: delivery receipts for the texts we sent, and the texts
patients send to the clinic's number (the README's production section says how Twilio is
set up to call them).

Receipts arrive out of order and more than once: a reminder's delivery only moves forward.
Replies may arrive twice too (the provider retries a webhook that timed out): each is stored
once, by its provider id, and acted on once. The text of a reply is patient data: it is stored,
never logged.
"""

import datetime
from dataclasses import dataclass

import phonenumbers
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.models import Location
from patients.models import Channel, ContactConsent, Patient
from treatments.models import Appointment, InboundMessage, Reminder
from treatments.services.responses import confirm_appointment, start_messages, stop_messages
from treatments.services.schedule import BookingError

Delivery = Reminder.Delivery

# Twilio's statuses of an outgoing message, as the outbox records them.
PROVIDER_STATUSES = {
    "accepted": Delivery.QUEUED,
    "scheduled": Delivery.QUEUED,
    "queued": Delivery.QUEUED,
    "sending": Delivery.SENT,
    "sent": Delivery.SENT,
    "delivered": Delivery.DELIVERED,
    "read": Delivery.DELIVERED,
    "undelivered": Delivery.UNDELIVERED,
    "failed": Delivery.FAILED,
    "canceled": Delivery.FAILED,
}
# A receipt moves a reminder only forward: to a later rank, never back or sideways (the first
# final state stays: a late "sent" after "delivered" changes nothing).
FINAL = (Delivery.DELIVERED, Delivery.UNDELIVERED, Delivery.FAILED)
EARLIER: dict[str, list[str]] = {
    Delivery.QUEUED: [Delivery.UNKNOWN],
    Delivery.SENT: [Delivery.UNKNOWN, Delivery.QUEUED],
    **{final: [Delivery.UNKNOWN, Delivery.QUEUED, Delivery.SENT] for final in FINAL},
}


def record_delivery(
    *, provider_message_id: str, status: str, error_code: str = "", now=None
) -> int:
    """Record a provider's receipt on the reminder it sent; the number of rows changed (0: an
    unknown id, or a receipt older than what is recorded). One conditional UPDATE: two
    receipts at once cannot move a row backwards."""
    delivery = PROVIDER_STATUSES[status]
    error = error_code if delivery in (Delivery.UNDELIVERED, Delivery.FAILED) else ""
    return Reminder.objects.filter(
        provider_message_id=provider_message_id,
        status=Reminder.Status.SENT,
        delivery_status__in=EARLIER[delivery],
    ).update(
        delivery_status=delivery,
        delivery_error=error,
        delivery_updated_at=now or timezone.now(),
    )


# The standard opt-out and opt-in words (CTIA; Twilio's defaults), said alone.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
CONFIRM_WORDS = frozenset({"C", "YES"})


@dataclass(frozen=True)
class Reply:
    """What was done with a text, and the answer to text back ("" for none)."""

    message: InboundMessage
    answer: str


def keyword(body: str) -> str:
    """The text as a keyword: trimmed, upper case, a trailing full stop or "!" dropped."""
    return body.strip().rstrip(".!").strip().upper()


def e164(number: str) -> str:
    """The number in E.164 if it is a possible phone number, else "" (a short code, a sender
    name, garbage): it then matches no patient."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_possible_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def receive_sms(*, provider_message_id: str, from_number: str, body: str, now=None) -> Reply:
    """A text a patient sent to the clinic's number.

    1. Store it (every text, whatever it says); a text already stored (the provider sent the
       webhook again) is answered as before and acted on no more.
    2. Find the patient by number; none, or several sharing it: nobody is guessed.
    3. STOP (and the other opt-out words) revokes SMS consent at once, for every patient on
       that number (stopping is never a guess that sends more); START grants it back; HELP
       answers with the clinic's phone; C or YES confirms the patient's next booked visit.
       Anything else, or a word that cannot be acted on, waits in the front desk's inbox.
    """
    now = now or timezone.now()
    existing = InboundMessage.objects.filter(provider_message_id=provider_message_id).first()
    if existing is not None:
        return Reply(existing, _answer_of(existing))
    try:
        with transaction.atomic():
            message = _act(provider_message_id, from_number, body, now)
    except IntegrityError:  # the same text, stored by a webhook running at the same time
        message = InboundMessage.objects.get(provider_message_id=provider_message_id)
    return Reply(message, _answer_of(message))


def _act(provider_message_id: str, from_number: str, body: str, now) -> InboundMessage:
    number = e164(from_number)
    patients = (
        list(Patient.objects.select_related("location").filter(phone=number).order_by("pk")[:10])
        if number
        else []
    )
    patient = patients[0] if len(patients) == 1 else None
    word = keyword(body)
    action: str = InboundMessage.Action.INBOX
    note, handled = "", False
    if word in STOP_WORDS and patients:
        stopped = [
            stop_messages(patient=p, channel=Channel.SMS, source=ContactConsent.Source.SMS_REPLY)
            for p in patients
        ]
        action, handled = InboundMessage.Action.STOP, True
        note = "Texts stopped." if any(stopped) else "Texts were already stopped."
        if word == "CANCEL":  # a patient may mean the visit: the front desk has a look too
            handled, note = False, note + " The patient may mean their visit."
    elif word in HELP_WORDS:
        action, handled = InboundMessage.Action.HELP, True
    elif not patients:
        note = "No patient has this number."
    elif patient is None:
        note = f"{len(patients)} patients share this number."
    elif word in START_WORDS:
        started = start_messages(
            patient=patient, channel=Channel.SMS, source=ContactConsent.Source.SMS_REPLY
        )
        action, handled = InboundMessage.Action.START, True
        note = "Texts started again." if started else "Texts were already on."
    elif word in CONFIRM_WORDS:
        action, note, handled = _confirm_next_visit(patient, now)
    return InboundMessage.objects.create(
        patient=patient,
        from_number=from_number,
        body=body,
        provider_message_id=provider_message_id,
        action=action,
        note=note,
        received_at=now,
        handled_at=now if handled else None,
    )


def _confirm_next_visit(patient: Patient, now: datetime.datetime) -> tuple[str, str, bool]:
    visit = (
        Appointment.objects.filter(
            patient=patient, status=Appointment.Status.BOOKED, starts_at__gt=now
        )
        .order_by("starts_at")
        .first()
    )
    if visit is None:
        return InboundMessage.Action.INBOX, "No booked visit to confirm.", False
    try:
        with transaction.atomic():
            confirm_appointment(appointment=visit, now=now)
    except BookingError as refusal:
        return InboundMessage.Action.INBOX, refusal.message[:200], False
    return InboundMessage.Action.CONFIRM, "Next visit confirmed.", True


def _clinic(message: InboundMessage) -> Location | None:
    """Whom the texter hears from: their patient's usual location, else where they were last
    booked, else the clinic's only location."""
    patient = message.patient
    if patient is not None:
        if patient.location is not None:
            return patient.location
        latest = patient.appointments.select_related("location").order_by("-starts_at").first()
        if latest is not None:
            return latest.location
    locations = list(Location.objects.order_by("pk")[:2])
    return locations[0] if len(locations) == 1 else None


def _answer_of(message: InboundMessage) -> str:
    """The text sent back: only for HELP (the clinic's name and phone, nothing of the patient)
    and a confirmation. STOP and START are answered by the provider's own opt-out handling."""
    if message.action == InboundMessage.Action.HELP:
        clinic = _clinic(message)
        if clinic is None:
            return "Please call your clinic for help. Reply STOP to stop texts."
        return f"{clinic.name}: for help call {clinic.phone}. Reply STOP to stop texts."
    if message.action == InboundMessage.Action.CONFIRM:
        clinic = _clinic(message)
        where = f" at {clinic.name}" if clinic else ""
        return f"Thank you: your next visit{where} is confirmed."
    return ""


@transaction.atomic
def mark_inbound_handled(*, message: InboundMessage, user) -> bool:
    """A person has dealt with a text: False (nothing written) if it was already handled."""
    return bool(
        InboundMessage.objects.filter(pk=message.pk, handled_at__isnull=True).update(
            handled_at=timezone.now(), handled_by=user
        )
    )
