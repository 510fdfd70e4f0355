"""The eligibility-aware waitlist (issue 14, part 4).

A patient (or the front desk for them) asks for an earlier slot. When a visit is cancelled or
moved, the schedule's hook (`freed_slots.slot_freed`) asks, after commit, for its slot to be
offered (`offer_freed_slot`, run by a Celery task with ids only): to the waiting patients at
that location who will be past their minimum interval on the slot's local date, are free
then, and have consent on a channel, most overdue first, at most WAITLIST_OFFERS_PER_SLOT of
them. Each offer is a message in the reminders outbox with a signed claim link. The first
claim wins (`claim_offer`, under the booking's locks); the slot's other offers become "taken",
and the database holds one claim per slot. A slot whose task never ran (the broker refused it)
is offered by beat's sweep (`sweep_freed_slots`), from the visits' events. Offers expire
lazily: an offer past `expires_at` is expired when it is read or claimed.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from clinic.models import Location, User
from patients.models import Channel, ContactConsent, Patient
from treatments.models import (
    AddDays,
    Appointment,
    AppointmentEvent,
    Reminder,
    SlotOffer,
    TreatmentCourse,
    WaitlistEntry,
)
from treatments.services import reminders, schedule


class WaitlistError(Exception):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


# --- asking --------------------------------------------------------------------------------------


@transaction.atomic
def join_waitlist(*, patient: Patient, by: User, location: Location | None = None) -> WaitlistEntry:
    """Put the patient on the waitlist at their usual location (or `location`). Asking twice
    returns the waiting entry (the database holds one waiting entry per patient)."""
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    waiting = WaitlistEntry.objects.waiting().filter(patient=patient).first()
    if waiting is not None:
        return waiting
    location = location or patient.location
    if location is None:
        raise WaitlistError("The patient has no usual location to wait for a slot at.")
    if patient.status != Patient.Status.ACTIVE:
        raise WaitlistError("Only an active patient can wait for an earlier slot.")
    return WaitlistEntry.objects.create(patient=patient, location=location, asked_by=by)


@transaction.atomic
def leave_waitlist(*, patient: Patient) -> bool:
    """Withdraw the patient's waiting entry; False if there was none. Their open offers stay
    on record and are refused if claimed (the entry no longer waits)."""
    return bool(
        WaitlistEntry.objects.waiting()
        .filter(patient=patient)
        .update(status=WaitlistEntry.Status.WITHDRAWN, closed_at=timezone.now())
    )


# --- offering ------------------------------------------------------------------------------------


def eligible_entries(
    *,
    location: Location,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    exclude_patient_id: int | None = None,
) -> QuerySet[WaitlistEntry]:
    """The waiting entries a slot may be offered to, most overdue first: at the location; the
    patient active, with an active course whose earliest date is on or before the slot's local
    date (or no session yet), no visit overlapping the slot, no injection visit booked at or
    before it (an offer must be earlier), and consent on a channel (the latest record granting
    it). `next_due_on` is annotated (None last, then who asked first)."""
    day = starts_at.astimezone(location.zone).date()
    courses = TreatmentCourse.objects.active().filter(patient=OuterRef("patient"))
    active = Appointment.objects.active().filter(patient=OuterRef("patient"))

    def course_date(days: str):  # the last session given + the course's `days` field
        dated = courses.annotate(on=AddDays(F("last_session_on"), F(days)))
        return Subquery(dated.values("on")[:1])

    def consent(channel: str):
        latest = ContactConsent.objects.filter(patient=OuterRef("patient"), channel=channel)
        return Subquery(latest.order_by("-recorded_at", "-pk").values("granted")[:1])

    return (
        WaitlistEntry.objects.waiting()
        .filter(location=location, patient__status=Patient.Status.ACTIVE)
        .annotate(
            last_session_on=Subquery(courses.values("last_session_on")[:1]),
            earliest_on=course_date("min_interval_days"),
            next_due_on=course_date("interval_days"),
            email_consent=consent(Channel.EMAIL),
            sms_consent=consent(Channel.SMS),
        )
        .filter(Exists(courses))
        .filter(Q(last_session_on__isnull=True) | Q(earliest_on__lte=day))
        .filter(Q(email_consent=True) | Q(sms_consent=True))
        .exclude(Exists(active.overlapping(starts_at, ends_at)))
        .exclude(Exists(active.filter(kind=Appointment.Kind.INJECTION, starts_at__lte=starts_at)))
        .exclude(patient_id=exclude_patient_id)
        .select_related("patient")
        .order_by(F("next_due_on").asc(nulls_last=True), "asked_at", "pk")
    )


def _channels(entry: WaitlistEntry) -> list[str]:
    """The consented channels the patient can be reached on (an address on file)."""
    granted = {Channel.EMAIL: entry.email_consent, Channel.SMS: entry.sms_consent}  # type: ignore[attr-defined]
    return [ch for ch, ok in granted.items() if ok and entry.patient.address_for(ch)]


@transaction.atomic
def offer_freed_slot(
    *,
    appointment_id: int,
    clinician_id: int,
    starts_at: datetime.datetime,
    location_id: int | None = None,
    now: datetime.datetime | None = None,
) -> list[SlotOffer]:
    """Offer the slot a visit freed (safe to run twice: the slot's offers are made once).

    1. Lock the clinician (the booking's first lock): two runs for one slot queue here.
    2. Nothing if the slot starts within WAITLIST_MIN_NOTICE_MINUTES, or is not free on the
       clinician's rota (`available_slots`: opening hours, other visits, closures, leave).
    3. Offer it to the first WAITLIST_OFFERS_PER_SLOT eligible entries, each with one outbox
       row per consented channel, due now (the dispatcher sends them within a minute).
    """
    now = now or timezone.now()
    source = Appointment.objects.select_related("location").filter(pk=appointment_id).first()
    clinician = User.objects.select_for_update().filter(pk=clinician_id).first()
    if source is None or clinician is None:
        return []
    # where the slot was: a move may have taken the visit to another location since
    location = Location.objects.filter(pk=location_id).first() if location_id else source.location
    if location is None:
        return []
    key = _slot_key(clinician.pk, starts_at, source.pk)
    if SlotOffer.objects.filter(slot_key=key).exists():
        return []
    if starts_at - now < datetime.timedelta(minutes=settings.WAITLIST_MIN_NOTICE_MINUTES):
        return []
    day = starts_at.astimezone(location.zone).date()
    slot = next(
        (
            s
            for s in schedule.available_slots(
                location=location, start_date=day, days=1, clinician=clinician, now=now
            )
            if s.starts_at == starts_at
        ),
        None,
    )
    if slot is None:
        return []
    # open for WAITLIST_OFFER_MINUTES from when its message can go out (a slot freed at night
    # is offered at the end of the quiet hours), and never past the slot's start
    opens = reminders.out_of_quiet_hours(now, location.zone)
    expires_at = min(opens + datetime.timedelta(minutes=settings.WAITLIST_OFFER_MINUTES), starts_at)
    offers = []
    candidates = eligible_entries(
        location=location,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        exclude_patient_id=source.patient_id,
    )
    for entry in candidates[: settings.WAITLIST_OFFERS_PER_SLOT * 4]:
        channels = _channels(entry)
        if not channels:
            continue
        offer = SlotOffer.objects.create(
            entry=entry,
            clinician=clinician,
            location=location,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            slot_key=key,
            freed_by=source,
            expires_at=expires_at,
        )
        for channel in channels:
            reminders._plan(
                patient=entry.patient,
                kind=Reminder.Kind.SLOT_OFFER,
                channel=channel,
                due_at=now,
                subject_key=f"offer:{offer.pk}",
                now=now - datetime.timedelta(seconds=1),  # due now: pending, not "late"
            )
        Reminder.objects.filter(subject_key=f"offer:{offer.pk}").update(offer=offer)
        offers.append(offer)
        if len(offers) >= settings.WAITLIST_OFFERS_PER_SLOT:
            break
    return offers


def _slot_key(clinician_id: int, starts_at: datetime.datetime, appointment_id: int) -> str:
    """The offers' `slot_key` of a slot freed by a visit: what the task and the sweep check."""
    return f"{SlotOffer.key_for(clinician_id, starts_at)}|{appointment_id}"


# --- the safety net ------------------------------------------------------------------------------

FREED_BY = (Appointment.Status.CANCELLED.value, "rescheduled")  # the events that free a slot


@dataclass(frozen=True)
class FreedSlot:
    """A slot an injection visit's cancellation or move freed: what the offering task gets."""

    appointment_id: int
    clinician_id: int
    starts_at: datetime.datetime
    location_id: int

    @property
    def key(self) -> str:
        return _slot_key(self.clinician_id, self.starts_at, self.appointment_id)


def freed_slots_without_offer(*, now: datetime.datetime) -> list[FreedSlot]:
    """The slots freed by injection visits' cancellations and moves in the last
    WAITLIST_SWEEP_HOURS, still ahead, that have no offer yet: two index ranges (the events
    by time, the offers by slot key). A move's slot is on its event (the time, clinician and
    location it left); a move recorded before those were kept is passed over."""
    since = now - datetime.timedelta(hours=settings.WAITLIST_SWEEP_HOURS)
    events = (
        AppointmentEvent.objects.filter(
            at__gte=since,
            at__lte=now,
            action__in=FREED_BY,
            appointment__kind=Appointment.Kind.INJECTION,
        )
        .order_by()
        .values_list(
            "action",
            "appointment_id",
            "appointment__clinician_id",
            "appointment__starts_at",
            "appointment__location_id",
            "previous_clinician_id",
            "previous_starts_at",
            "previous_location_id",
        )
    )
    slots: dict[str, FreedSlot] = {}
    for action, pk, clinician, starts, location, was_with, was_at, was_in in events:
        if action == "rescheduled":
            if was_with is None or was_at is None or was_in is None:
                continue
            clinician, starts, location = was_with, was_at, was_in
        slot = FreedSlot(pk, clinician, starts, location)
        if slot.starts_at > now:
            slots[slot.key] = slot
    offered = set(
        SlotOffer.objects.filter(slot_key__in=list(slots))
        .order_by()
        .values_list("slot_key", flat=True)
    )
    return [slot for key, slot in slots.items() if key not in offered]


def sweep_freed_slots(*, now: datetime.datetime) -> list[SlotOffer]:
    """The safety net under the offering task (beat, every WAITLIST_SWEEP_MINUTES): offer the
    recently freed slots that have no offer yet, such as a cancellation whose task the broker
    refused. Each slot goes through `offer_freed_slot`, in a transaction of its own, under the
    clinician's lock and the slot's key: a sweep and a task at once make one set of offers. A
    slot that found no one has no offer, so every sweep looks at it again while its event is
    in the window (a patient who joined since may take it)."""
    offers: list[SlotOffer] = []
    for slot in freed_slots_without_offer(now=now):
        offers += offer_freed_slot(
            appointment_id=slot.appointment_id,
            clinician_id=slot.clinician_id,
            starts_at=slot.starts_at,
            location_id=slot.location_id,
            now=now,
        )
    return offers


# --- claiming ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimResult:
    """What a claim came to: "claimed" (with the visit), "taken", "expired", "closed" (the
    entry no longer waits), or "refused" (with the booking's reason)."""

    state: str
    offer: SlotOffer
    appointment: Appointment | None = None
    message: str = ""


def offer_state(offer: SlotOffer, now: datetime.datetime | None = None) -> str:
    """What a claim of the offer would meet now (`SlotOffer.state`)."""
    return offer.state(now or timezone.now())


def expire_offer_if_due(offer: SlotOffer, now: datetime.datetime) -> None:
    """Record an open offer past its time as expired (expiry is lazy: when read)."""
    if offer.status == SlotOffer.Status.OFFERED and not offer.is_open(now):
        SlotOffer.objects.filter(pk=offer.pk, status=SlotOffer.Status.OFFERED).update(
            status=SlotOffer.Status.EXPIRED
        )
        offer.status = SlotOffer.Status.EXPIRED.value


@transaction.atomic
def claim_offer(*, offer_id: int, now: datetime.datetime | None = None) -> ClaimResult:
    """Claim an offered slot for its patient; the first claim of a slot wins.

    1. Lock the clinician, then the offer rows of the slot (every claim of the slot queues
       here, behind the booking's own first lock, so no claim can deadlock a booking).
    2. Refuse an expired offer, one whose entry no longer waits, and a slot already claimed
       ("taken": the entry stays waiting).
    3. Book the slot, or move the patient's booked injection visit to it, through the
       booking services (their locks, their checks: rota, overlap, minimum interval).
    4. Mark the offer claimed (the database refuses a second claim of the slot), the slot's
       other offers taken, and the entry booked.
    """
    now = now or timezone.now()
    offer = SlotOffer.objects.select_related("clinician", "location", "entry").get(pk=offer_id)
    User.objects.select_for_update().filter(pk=offer.clinician_id).first()
    list(SlotOffer.objects.select_for_update().filter(slot_key=offer.slot_key).order_by("pk"))
    offer = SlotOffer.objects.select_related(
        "clinician", "location", "entry", "entry__patient", "entry__asked_by"
    ).get(pk=offer_id)
    expire_offer_if_due(offer, now)
    state = offer_state(offer, now)
    if state != "open":
        return ClaimResult(str(state), offer)
    if SlotOffer.objects.filter(slot_key=offer.slot_key, status=SlotOffer.Status.CLAIMED).exists():
        SlotOffer.objects.filter(pk=offer.pk).update(status=SlotOffer.Status.TAKEN)
        offer.status = SlotOffer.Status.TAKEN.value
        return ClaimResult("taken", offer)
    try:
        appointment = _book_or_move(offer)
    except schedule.BookingError as refusal:
        if refusal.field == "slot" and "no longer free" in refusal.message:
            SlotOffer.objects.filter(slot_key=offer.slot_key, status="offered").update(
                status=SlotOffer.Status.TAKEN
            )
            offer.status = SlotOffer.Status.TAKEN.value
            return ClaimResult("taken", offer)
        return ClaimResult("refused", offer, message=refusal.message)
    try:
        with transaction.atomic():
            SlotOffer.objects.filter(pk=offer.pk).update(
                status=SlotOffer.Status.CLAIMED, claimed_at=now, appointment=appointment
            )
    except IntegrityError:  # another claim got in (the database's guard)
        raise schedule.BookingError("That slot was just taken.", "slot") from None
    SlotOffer.objects.filter(slot_key=offer.slot_key, status=SlotOffer.Status.OFFERED).update(
        status=SlotOffer.Status.TAKEN
    )
    WaitlistEntry.objects.filter(pk=offer.entry_id).update(
        status=WaitlistEntry.Status.BOOKED, closed_at=now
    )
    offer.refresh_from_db()
    return ClaimResult("claimed", offer, appointment)


def _book_or_move(offer: SlotOffer) -> Appointment:
    """Book the offered slot for the patient, or move their booked injection visit to it."""
    patient = offer.entry.patient
    by = patient.user or offer.entry.asked_by  # who asked: the patient, or the desk for them
    booked = (
        Appointment.objects.active()
        .filter(patient=patient, kind=Appointment.Kind.INJECTION)
        .first()
    )
    if booked is None:
        return schedule.book_appointment(
            patient=patient,
            clinician=offer.clinician,
            location=offer.location,
            starts_at=offer.starts_at,
            booked_by=by,
        )
    if booked.location_id != offer.location_id:
        raise schedule.BookingError(
            "Your booked visit is at another location: please call the clinic to move it."
        )
    return schedule.reschedule_appointment(
        appointment=booked, starts_at=offer.starts_at, by=by, clinician=offer.clinician
    )


# --- the front desk's list -----------------------------------------------------------------------


def offers_for_list() -> QuerySet[SlotOffer]:
    return SlotOffer.objects.select_related(
        "entry__patient", "location", "clinician", "appointment"
    ).order_by("-offered_at", "-pk")
