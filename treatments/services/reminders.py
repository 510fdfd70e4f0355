"""The reminder outbox (docs/architecture.md, "The reminder path").

1. Rows are planned in the same transaction as the change that implies them (booking,
   moving, cancelling, signing a session); a unique key makes a duplicate row impossible.
2. `dispatch_due_reminders` claims due rows with a conditional UPDATE (pending -> claimed,
   with a fresh claim token) and returns the claims; the task module enqueues one send per
   claim on commit (services never import tasks). Claims older than the lease (a worker
   died) go back to pending.
3. `send_reminder` acts only on a row still claimed with its token; it re-reads everything,
   skips what no longer applies, defers out of quiet hours, sends, and marks the row sent.
   Transient errors go back to pending with a backoff, a bounded number of times.
"""

import contextlib
import datetime
import logging
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Concat
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.models import Location
from patients.models import Channel, Patient
from treatments import channels
from treatments.links import link_url
from treatments.models import Appointment, CheckIn, Reminder, TreatmentCourse, TreatmentSession
from treatments.models.reminders import CANCELLED_WHILE_SENDING, SENT_WITH, ReminderQuerySet
from treatments.services import reminder_statements as statements
from treatments.services.short_links import short_link_url

Kind, Status = Reminder.Kind, Reminder.Status
logger = logging.getLogger(__name__)


# --- time ----------------------------------------------------------------------------------------


def in_quiet_hours(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> bool:
    hour = moment.astimezone(zone).hour
    return hour >= settings.QUIET_HOURS_START or hour < settings.QUIET_HOURS_END


def out_of_quiet_hours(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """The same moment, or the end of the quiet hours it falls in (08:00 local)."""
    if not in_quiet_hours(moment, zone):
        return moment
    local = moment.astimezone(zone)
    day = (
        local.date()
        if local.hour < settings.QUIET_HOURS_END
        else (local.date() + datetime.timedelta(days=1))
    )
    return datetime.datetime.combine(day, datetime.time(settings.QUIET_HOURS_END), zone)


def _at_local_hour(day: datetime.date, zone) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(settings.REMINDER_SEND_HOUR), zone)


def _zone_of(patient: Patient, appointment: Appointment | None = None) -> zoneinfo.ZoneInfo:
    location = appointment.location if appointment else patient.location
    return location.zone if location else zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _reminder_zone(reminder: Reminder) -> zoneinfo.ZoneInfo:
    """Where a message's quiet hours are read: a check-in's at its session's location."""
    if reminder.kind == Kind.CHECKIN and reminder.session is not None:
        return reminder.session.location.zone
    return _zone_of(reminder.patient, reminder.appointment)


# --- planning ------------------------------------------------------------------------------------


LATE = "Its time had passed when it was planned."


def preferred_channel(first: str, consents_to: Callable[[str], bool | None]) -> str:
    """`first` if the patient consents to it, else the other consented channel, else `first`
    (the send will then be skipped as "no consent", which the front desk sees)."""
    for channel in (first, Channel.SMS if first == Channel.EMAIL else Channel.EMAIL):
        if consents_to(channel):
            return channel
    return first


def _preferred(patient: Patient, first: str) -> str:
    return preferred_channel(first, patient.consents_to)


def planned_state(due_at: datetime.datetime, now: datetime.datetime) -> tuple[str, str]:
    """A new row's (status, skip reason): a time already passed is skipped, never sent late."""
    return (Status.SKIPPED.value, LATE) if due_at <= now else (Status.PENDING.value, "")


def _plan(
    *,
    patient: Patient,
    kind: str,
    channel: str,
    due_at: datetime.datetime,
    subject_key: str,
    now: datetime.datetime,
    appointment: Appointment | None = None,
    course: TreatmentCourse | None = None,
    session: TreatmentSession | None = None,
) -> Reminder:
    """One row per (subject, kind, channel); planning again changes nothing. A reminder whose
    time has already passed is recorded as skipped, never sent late."""
    status, skip_reason = planned_state(due_at, now)
    reminder, _ = Reminder.objects.get_or_create(
        subject_key=subject_key,
        kind=kind,
        channel=channel,
        defaults={
            "patient": patient,
            "appointment": appointment,
            "course": course,
            "session": session,
            "due_at": due_at,
            "status": status,
            "skip_reason": skip_reason,
        },
    )
    return reminder


def plan_visit_reminders(
    *, appointment: Appointment, now: datetime.datetime | None = None
) -> list[Reminder]:
    """A week before (email) and the day before (SMS, or email without SMS consent), at the
    visit's local time of day, moved out of quiet hours."""
    now = now or timezone.now()
    plans = visit_reminder_plans(
        appointment_id=appointment.pk,
        sequence=appointment.sequence,
        times=visit_reminder_times(appointment.starts_at, appointment.zone),
        consents_to=appointment.patient.consents_to,
    )
    return [
        _plan(
            patient=appointment.patient,
            appointment=appointment,
            kind=kind,
            channel=channel,
            due_at=due_at,
            subject_key=key,
            now=now,
        )
        for key, kind, channel, due_at in plans
    ]


def visit_reminder_times(
    starts_at: datetime.datetime, zone: zoneinfo.ZoneInfo
) -> tuple[datetime.datetime, datetime.datetime]:
    """When a visit's week-before and day-before reminders are due: the visit's local time of
    day that many days before (wall clock, across a change of offset), out of quiet hours."""
    local = starts_at.astimezone(zone)
    week = local - datetime.timedelta(days=settings.REMINDER_VISIT_EMAIL_DAYS)
    tomorrow = local - datetime.timedelta(days=settings.REMINDER_VISIT_SMS_DAYS)
    return out_of_quiet_hours(week, zone), out_of_quiet_hours(tomorrow, zone)


def visit_reminder_plans(
    *,
    appointment_id: int,
    sequence: int,
    times: tuple[datetime.datetime, datetime.datetime],
    consents_to: Callable[[str], bool | None],
) -> list[tuple[str, str, str, datetime.datetime]]:
    """A visit's reminders as (subject key, kind, channel, due time), from plain values and
    its `visit_reminder_times`: the one rule for booking one visit (`plan_visit_reminders`)
    and re-planning them all (`reminder_planning.replan_all_visit_reminders`)."""
    key = f"appointment:{appointment_id}:{sequence}"
    week, tomorrow = times
    return [
        (key, Kind.VISIT_WEEK, Channel.EMAIL, week),
        (key, Kind.VISIT_TOMORROW, preferred_channel(Channel.SMS, consents_to), tomorrow),
    ]


def cancel_open_reminders(queryset: ReminderQuerySet, reason: str) -> int:
    """Cancel the pending and claimed-not-started rows, in one UPDATE. A row whose send has
    started is left to that send (a message being handed over cannot be taken back): it only
    gets the reason and a note, and the send records what really happened."""
    started = Q(status=Status.CLAIMED, started_at__isnull=False)
    return queryset.open().update(
        status=Case(When(started, then=F("status")), default=Value(Status.CANCELLED)),
        claim_token=Case(When(started, then=F("claim_token")), default=Value("")),
        skip_reason=Case(
            When(started, then=Value(f"{reason} {CANCELLED_WHILE_SENDING}")),
            default=Value(reason),
        ),
    )


def replan_visit_reminders(
    *, appointment: Appointment, now: datetime.datetime | None = None
) -> list[Reminder]:
    """After a move: the old time's reminders are cancelled, the new time's planned."""
    cancel_open_reminders(
        Reminder.objects.filter(appointment=appointment).exclude(
            subject_key=f"appointment:{appointment.pk}:{appointment.sequence}"
        ),
        "The visit was moved.",
    )
    return plan_visit_reminders(appointment=appointment, now=now)


def plan_due_reminder(
    *, course: TreatmentCourse, now: datetime.datetime | None = None
) -> Reminder | None:
    """ "Next session due, not booked", around day 70 after the last session given."""
    if course.last_session_on is None:
        return None
    now = now or timezone.now()
    patient = course.patient
    key, channel, due_at = due_reminder_plan(
        course_id=course.pk,
        last_session_on=course.last_session_on,
        zone=_zone_of(patient),
        consents_to=patient.consents_to,
    )
    # An earlier session's open reminder is out of date; this session's own stays (planning
    # twice changes nothing).
    cancel_open_reminders(
        Reminder.objects.filter(course=course, kind=Kind.DUE_NOT_BOOKED).exclude(subject_key=key),
        "A newer session was given.",
    )
    return _plan(
        patient=patient,
        course=course,
        kind=Kind.DUE_NOT_BOOKED,
        channel=channel,
        due_at=due_at,
        subject_key=key,
        now=now,
    )


def due_reminder_plan(
    *,
    course_id: int,
    last_session_on: datetime.date,
    zone: zoneinfo.ZoneInfo,
    consents_to: Callable[[str], bool | None],
) -> tuple[str, str, datetime.datetime]:
    """A course's "due, not booked" reminder as (subject key, channel, due time), from plain
    values: the one rule for signing a session (`plan_due_reminder`) and re-planning every
    course (`reminder_planning.replan_all_due_reminders`). The patient's usual location's
    zone (else the server's), by email unless only SMS is consented to."""
    day = last_session_on + datetime.timedelta(days=settings.REMINDER_DUE_DAY)
    return (
        f"course:{course_id}:{last_session_on.isoformat()}",
        preferred_channel(Channel.EMAIL, consents_to),
        out_of_quiet_hours(_at_local_hour(day, zone), zone),
    )


def plan_checkin_reminder(
    *, session: TreatmentSession, now: datetime.datetime | None = None
) -> Reminder:
    """The post-injection check-in, CHECKIN_AFTER_DAYS after a signed session: at
    REMINDER_SEND_HOUR in the session's location, out of quiet hours; by SMS, else by email
    (`preferred_channel`). Planning twice changes nothing."""
    now = now or timezone.now()
    patient = session.patient
    key, channel, due_at = checkin_reminder_plan(
        session_id=session.pk,
        given_on=session.given_on,
        zone=session.location.zone,
        consents_to=patient.consents_to,
    )
    return _plan(
        patient=patient,
        session=session,
        kind=Kind.CHECKIN,
        channel=channel,
        due_at=due_at,
        subject_key=key,
        now=now,
    )


def checkin_reminder_plan(
    *,
    session_id: int,
    given_on: datetime.date,
    zone: zoneinfo.ZoneInfo,
    consents_to: Callable[[str], bool | None],
) -> tuple[str, str, datetime.datetime]:
    """A session's check-in as (subject key, channel, due time), from plain values: the one
    rule for signing a session (`plan_checkin_reminder`) and re-planning them all
    (`reminder_planning.replan_all_checkin_reminders`)."""
    day = given_on + datetime.timedelta(days=settings.CHECKIN_AFTER_DAYS)
    return (
        f"checkin:{session_id}",
        preferred_channel(Channel.SMS, consents_to),
        out_of_quiet_hours(_at_local_hour(day, zone), zone),
    )


def on_session_amended(
    *, previous: TreatmentSession, version: TreatmentSession, now: datetime.datetime | None = None
) -> None:
    """An amendment replaces a signed version: the previous version's check-in, if not sent
    yet, is cancelled and the new version's planned (its date may have moved). One already
    sent, or never planned, is not sent again."""
    cancelled = cancel_open_reminders(
        Reminder.objects.filter(session=previous, kind=Kind.CHECKIN), "The session was amended."
    )
    if cancelled:
        plan_checkin_reminder(session=version, now=now)


def plan_noshow_reminder(
    *, appointment: Appointment, now: datetime.datetime | None = None
) -> Reminder:
    """A missed visit: a "please rebook" message the next day."""
    now = now or timezone.now()
    zone = appointment.zone
    day = now.astimezone(zone).date() + datetime.timedelta(days=1)
    return _plan(
        patient=appointment.patient,
        appointment=appointment,
        kind=Kind.REBOOK_NOSHOW,
        channel=_preferred(appointment.patient, Channel.SMS),
        due_at=_at_local_hour(day, zone),
        subject_key=f"noshow:{appointment.pk}",
        now=now,
    )


def on_booked(*, appointment: Appointment) -> None:
    """Booking plans the visit's reminders and ends any "please book" ones."""
    cancel_open_reminders(
        Reminder.objects.filter(
            patient=appointment.patient, kind__in=(Kind.DUE_NOT_BOOKED, Kind.REBOOK_NOSHOW)
        ),
        "The next visit was booked.",
    )
    plan_visit_reminders(appointment=appointment)


def on_status_changed(*, appointment: Appointment) -> None:
    """Cancelled, no-show or checked in: the visit's pending reminders stop; a no-show plans
    the rebook message."""
    if appointment.status in (
        Appointment.Status.CANCELLED,
        Appointment.Status.NOSHOW,
        Appointment.Status.ARRIVED,
    ):
        cancel_open_reminders(
            Reminder.objects.filter(
                appointment=appointment, kind__in=(Kind.VISIT_WEEK, Kind.VISIT_TOMORROW)
            ),
            f"The visit is {appointment.get_status_display().lower()}.",
        )
    if appointment.status == Appointment.Status.NOSHOW:
        plan_noshow_reminder(appointment=appointment)


def on_status_undone(*, appointment: Appointment, previous: str) -> None:
    """A no-show undone: its "please rebook" message is not sent. (The visit's own reminders
    were for times already past; nothing is planned again.)"""
    if previous == Appointment.Status.NOSHOW:
        cancel_open_reminders(
            Reminder.objects.filter(appointment=appointment, kind=Kind.REBOOK_NOSHOW),
            "The no-show was undone.",
        )


# --- dispatching ---------------------------------------------------------------------------------


def _take_back_stale_claims(now) -> int:
    """A started send older than the lease (its worker died), or a claim never started after
    the queue timeout (its message was lost with the broker), goes back to pending with no
    token. A stale task that turns up later finds no row to start."""
    lease = datetime.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)
    queue_timeout = datetime.timedelta(seconds=settings.REMINDER_QUEUE_TIMEOUT_SECONDS)
    stale = Reminder.objects.filter(status=Status.CLAIMED).filter(
        Q(started_at__lt=now - lease)
        | Q(started_at__isnull=True, claimed_at__lt=now - queue_timeout)
    )
    return stale.update(status=Status.PENDING, claim_token="", started_at=None)


def dispatch_due_reminders(
    *, now: datetime.datetime | None = None, batch_size: int = 200
) -> list[tuple[int, str]]:
    """Claim every due reminder once; return the claims (reminder id, claim token), each to
    be sent by one task. Safe to run twice at once: a row is claimed by exactly one
    conditional UPDATE."""
    now = now or timezone.now()
    _take_back_stale_claims(now)
    claims: list[tuple[int, str]] = []
    while True:
        with transaction.atomic():
            candidates = list(
                Reminder.objects.due(now)
                .order_by("due_at", "pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not candidates:
                break
            token = uuid.uuid4().hex
            Reminder.objects.filter(pk__in=candidates, status=Status.PENDING).update(
                status=Status.CLAIMED, claim_token=token, claimed_at=now
            )
            mine = Reminder.objects.filter(pk__in=candidates, claim_token=token)
            claims += [(pk, token) for pk in mine.values_list("pk", flat=True)]
    return claims


# --- sending -------------------------------------------------------------------------------------


def send_reminders(claims) -> dict[str, str]:
    """Send a batch of claims [(reminder id, claim token), ...], each on its own: each row
    starts (and is leased) when its turn comes, and one that fails does not stop the others.
    Returns what happened to each, by reminder id.

    A row's last write (sent, skipped, released) is made with the next row's start, in one
    round trip on PostgreSQL (reminder_statements.start); the last row's on its own."""
    results: dict[str, str] = {}
    held: _Held | None = None  # the previous row's write, not made yet
    with _asynchronous_commits():
        for reminder_id, claim_token in claims:
            previous, held = held, None
            try:
                reminder, written = statements.start(
                    int(reminder_id),
                    str(claim_token),
                    timezone.now(),
                    after=previous.write if previous else None,
                )
            except Exception:  # noqa: BLE001 (the rows stay claimed; the lease gives them back)
                for key in ([previous.key] if previous else []) + [str(reminder_id)]:
                    logger.exception("Sending reminder %s failed unexpectedly.", key)
                    results[key] = "error"
                continue
            if previous:
                results[previous.key] = _outcome(previous, written)
            if reminder is None:
                results[str(reminder_id)] = "not-mine"
                continue
            try:
                held = _Held(str(reminder_id), *_send_started(reminder, str(claim_token)))
            except Exception:  # noqa: BLE001 (the row stays claimed; the lease gives it back)
                logger.exception("Sending reminder %s failed unexpectedly.", reminder_id)
                results[str(reminder_id)] = "error"
        if held:
            try:
                written = statements.write(held.write) if held.write else None
            except Exception:  # noqa: BLE001 (the row stays claimed; the lease gives it back)
                logger.exception("Sending reminder %s failed unexpectedly.", held.key)
                results[held.key] = "error"
            else:
                results[held.key] = _outcome(held, written)
    return results


@dataclass(frozen=True)
class _Held:
    """A row whose send is done but whose last write is not made yet: the write, and what its
    row count means."""

    key: str
    write: statements.Write | None  # None: made already
    then: Callable[[int], str]


def _outcome(held: _Held, written: int | None) -> str:
    try:
        return held.then(written or 0)
    except Exception:  # noqa: BLE001 (as in send_reminders)
        logger.exception("Sending reminder %s failed unexpectedly.", held.key)
        return "error"


def send_reminder(
    *, reminder_id: int, claim_token: str, now: datetime.datetime | None = None
) -> str:
    """Send one claimed reminder; return what happened: sent, skipped, deferred, retry,
    failed; not-mine when another run owns or finished it; claim-lost when the message was
    handed over after the claim had been taken back (another send may repeat it, with the same
    Message-ID), claim-lost-recorded when it could still be recorded sent then.

    1. Start exclusively: a repeated delivery of the same task, or a stale one, finds no row
       to start; from here the (short) lease, not the queue timeout, guards the claim.
    2. Skip what no longer applies; defer out of the quiet hours.
    3. Hand the message over; record it sent, or retry / fail by the error's kind.
    """
    now = now or timezone.now()
    reminder, _ = statements.start(reminder_id, claim_token, timezone.now())
    if reminder is None:
        return "not-mine"
    write, then = _send_started(reminder, claim_token, now)
    return then(statements.write(write) if write else 0)


def _send_started(
    reminder: Reminder, token: str, now: datetime.datetime | None = None
) -> tuple[statements.Write | None, Callable[[int], str]]:
    """Steps 2 and 3 of `send_reminder` for a started row: the write that records what
    happened, and what the write's row count means (the outcome); no write when it has been
    made already (an SMS, under the patient's lock)."""
    now = now or timezone.now()
    reason = _why_skip(reminder, now)
    if not reason and reminder.skip_reason.endswith(CANCELLED_WHILE_SENDING):
        reason = reminder.skip_reason
    if reason:
        return _finish(reminder, token, status=Status.SKIPPED, skip_reason=reason), _is("skipped")
    zone = _reminder_zone(reminder)
    if in_quiet_hours(now, zone):
        return _release(reminder, token, due_at=out_of_quiet_hours(now, zone)), _is("deferred")
    if reminder.channel == Channel.SMS:
        return _send_capped(reminder, token, now)
    return _hand_over(reminder, token, now)


def _send_capped(
    reminder: Reminder, token: str, now: datetime.datetime
) -> tuple[statements.Write | None, Callable[[int], str]]:
    """An SMS under the patient's daily and weekly caps, which two sends at the same instant
    must not both pass: the patient's SMS lock is held from the count to the "sent" write's
    commit, which is made here rather than with the next row's start. Only SMS rows pay the
    transaction, and only sends to one patient wait for each other."""
    with transaction.atomic():
        _lock_patient_sms(reminder.patient_id)
        reason = _sms_cap_reason(reminder.patient, now)
        if reason:
            skip = _finish(reminder, token, status=Status.SKIPPED, skip_reason=reason)
            statements.write(skip)
            return None, _is("skipped")
        write, then = _hand_over(reminder, token, now)
        assert write is not None
        outcome = then(statements.write(write))
    return None, _is(outcome)


# A namespace of PostgreSQL's two-key advisory locks: "SMS" (the second key is the patient).
SMS_LOCK_SPACE = 0x534D53


def _lock_patient_sms(patient_id: int) -> None:
    """Until the transaction ends, one send at a time counts and sends a patient's SMS. On
    PostgreSQL an advisory lock (no row of the patient's is locked, so nothing that locks the
    patient's rows can deadlock with it); SQLite's IMMEDIATE transactions already serialize
    every writer."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [SMS_LOCK_SPACE, patient_id])


def _hand_over(
    reminder: Reminder, token: str, now: datetime.datetime
) -> tuple[statements.Write | None, Callable[[int], str]]:
    """Hand the message to its channel; the write that records it sent, failed or retried."""
    companions, companion_token = _take_companions(reminder, now)
    try:
        message = render_message(reminder, companions=companions)
        provider_id = channels.send(reminder.channel, message)
    except channels.SendError as error:
        _give_back(companions, companion_token)
        return _send_failed(reminder, token, error, now)
    sent = {
        "status": Status.SENT,
        "sent_at": timezone.now(),
        "provider_message_id": provider_id,
        "attempts": reminder.attempts + 1,
        "last_error": "",
    }
    _companions_sent(reminder, companions, companion_token, sent)

    def recorded(written: int) -> str:
        if written:
            return "sent"
        # The claim was taken back while the relay held the message (slower than the lease).
        # A message handed over is recorded as sent, unless another send has started on it.
        nobody_sending = Q(status__in=(Status.PENDING, Status.CANCELLED)) | Q(
            status=Status.CLAIMED, started_at__isnull=True
        )
        late = Reminder.objects.filter(nobody_sending, pk=reminder.pk).update(
            **sent, claim_token=token, started_at=None
        )
        logger.warning("Reminder %s was handed over after its claim was taken back.", reminder.pk)
        return "claim-lost-recorded" if late else "claim-lost"

    return _finish(reminder, token, **sent), recorded


# --- several visits one day, one email --------------------------------------------------------


def _take_companions(reminder: Reminder, now: datetime.datetime) -> tuple[list[Reminder], str]:
    """A visit's email reminder also speaks for the patient's other booked visits at the same
    place on the same local day (an injection and a review): their reminders of the same kind
    by email, pending or claimed but not started, are taken here (started, under a token of
    this send's own, so that their own sends find nothing to start) and go in this message.
    Returns them with their visits, and the token; nothing for any other reminder.

    Only email: a text listing two visits would not fit one SMS segment."""
    appointment = reminder.appointment
    if reminder.channel != Channel.EMAIL or appointment is None:
        return [], ""
    if not getattr(reminder, "other_visit_near", True):  # for_sending's hint: nobody to take
        return [], ""
    if reminder.kind not in (Kind.VISIT_WEEK, Kind.VISIT_TOMORROW):
        return [], ""
    day = appointment.starts_at.astimezone(appointment.zone).date()
    day_starts = datetime.datetime.combine(day, datetime.time(), appointment.zone)
    day_ends = datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(), appointment.zone
    )
    same_day = Reminder.objects.filter(
        patient_id=reminder.patient_id,
        kind=reminder.kind,
        channel=reminder.channel,
        appointment__location_id=appointment.location_id,
        appointment__status=Appointment.Status.BOOKED,
        appointment__starts_at__gte=max(day_starts, now),
        appointment__starts_at__lt=day_ends,
    ).exclude(pk=reminder.pk)
    nobody_sending = Q(status=Status.PENDING) | Q(status=Status.CLAIMED, started_at__isnull=True)
    token = uuid.uuid4().hex
    taken = Reminder.objects.filter(nobody_sending, pk__in=same_day.values("pk")).update(
        status=Status.CLAIMED, claim_token=token, claimed_at=now, started_at=now
    )
    if not taken:
        return [], ""
    mine = Reminder.objects.filter(status=Status.CLAIMED, claim_token=token)
    return list(mine.select_related("appointment", "appointment__location")), token


def _give_back(companions: list[Reminder], token: str) -> None:
    """The message did not go: its companions go back to the outbox as they were (each due at
    its own time, which may be sent with this one's retry)."""
    if companions:
        Reminder.objects.filter(
            pk__in=[c.pk for c in companions], status=Status.CLAIMED, claim_token=token
        ).update(status=Status.PENDING, claim_token="", started_at=None)


def _companions_sent(
    reminder: Reminder, companions: list[Reminder], token: str, sent: dict
) -> None:
    """The companions went in `reminder`'s message: sent, with its provider id and a note. As
    for the message's own row, one whose claim was taken back meanwhile is recorded too,
    unless another send has started on it."""
    if not companions:
        return
    still_mine = Q(status=Status.CLAIMED, claim_token=token)
    nobody_sending = Q(status__in=(Status.PENDING, Status.CANCELLED)) | Q(
        status=Status.CLAIMED, started_at__isnull=True
    )
    Reminder.objects.filter(still_mine | nobody_sending, pk__in=[c.pk for c in companions]).update(
        **(sent | {"attempts": F("attempts") + 1}),
        # a visit cancelled while this went keeps its note after this one: the front desk
        # sees it (NEEDS_ATTENTION)
        skip_reason=Case(
            When(
                skip_reason__endswith=CANCELLED_WHILE_SENDING,
                then=Concat(Value(f"{SENT_WITH} {reminder.pk}. "), F("skip_reason")),
            ),
            default=Value(f"{SENT_WITH} {reminder.pk}."),
        ),
    )


def _is(outcome: str) -> Callable[[int], str]:
    """An outcome whatever the write's row count (a write that finds the row no longer this
    send's changes nothing, and nothing was handed over)."""
    return lambda written: outcome


def _send_failed(
    reminder: Reminder, token: str, error: channels.SendError, now: datetime.datetime
) -> tuple[statements.Write, Callable[[int], str]]:
    """Transient errors go back to the outbox with a backoff, a bounded number of times."""
    attempts, message = reminder.attempts + 1, str(error)
    if isinstance(error, channels.TransientSendError):
        if attempts < settings.REMINDER_MAX_ATTEMPTS:
            backoff = datetime.timedelta(minutes=2 ** (attempts - 1))  # 1, 2, 4, 8 minutes
            release = _release(
                reminder, token, attempts=attempts, last_error=message, due_at=now + backoff
            )
            return release, _is("retry")
        message = f"Gave up after {attempts} tries: {error}"
    return _finish(reminder, token, status=Status.FAILED, attempts=attempts, last_error=message), (
        _is("failed")
    )


def _release(reminder: Reminder, token: str, **fields) -> statements.Write:
    """Back to pending, unclaimed, for a later run; cancelled instead if it was cancelled
    while this send was running. Conditional on the claim."""
    return statements.Write(reminder.pk, token, fields, release=True)


def _finish(reminder: Reminder, token: str, **fields) -> statements.Write:
    """Conditional on the claim: a run whose claim was taken back writes nothing (0)."""
    return statements.Write(reminder.pk, token, fields)


@contextlib.contextmanager
def _asynchronous_commits():
    """While a batch is sent, PostgreSQL commits the sends' own writes (start, finish,
    release) without waiting for the disk (REMINDER_SYNCHRONOUS_COMMIT off, the default): a
    flushed commit costs more than the rest of a send, and a send makes two. Row locks and
    visibility are as usual, so the exclusive start still holds; only a database crash can
    lose the last fraction of a second of these writes, which then behaves as a worker crash
    does (the row is sent again after the lease, with the same Message-ID). Set for the
    connection once per batch and reset after it."""
    if connection.vendor != "postgresql" or settings.REMINDER_SYNCHRONOUS_COMMIT:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _why_skip(reminder: Reminder, now: datetime.datetime) -> str:
    patient = reminder.patient
    if patient.status != Patient.Status.ACTIVE:
        return "The patient is discharged."
    appointment, course = reminder.appointment, reminder.course
    if reminder.kind in (Kind.VISIT_WEEK, Kind.VISIT_TOMORROW):
        assert appointment is not None  # a visit's reminders go with it (CASCADE)
        if appointment.status != Appointment.Status.BOOKED:
            return "The visit is no longer booked."
        if appointment.starts_at <= now:
            return "The visit has already started."
    if reminder.kind in (Kind.DUE_NOT_BOOKED, Kind.REBOOK_NOSHOW) and (
        patient.appointments.active().exists()
    ):
        return "The next visit is already booked."
    if reminder.kind == Kind.DUE_NOT_BOOKED and (
        course is not None and course.status != TreatmentCourse.Status.ACTIVE
    ):
        return "The course is paused or stopped."
    if reminder.kind == Kind.SLOT_OFFER:
        reason = _offer_skip_reason(reminder, now)
        if reason:
            return reason
    if reminder.kind == Kind.CHECKIN:
        session = reminder.session
        if session is None or session.status != TreatmentSession.Status.SIGNED:
            return "The session was amended."
        if CheckIn.objects.filter(session=session).exists():
            return "The check-in was already answered."
    if not reminder.consent_granted:  # type: ignore[attr-defined]  # for_sending
        return f"No consent to {reminder.get_channel_display()} messages."
    if not patient.address_for(reminder.channel):
        return f"No {'email address' if reminder.channel == Channel.EMAIL else 'phone number'}."
    return ""  # the SMS caps are counted under the patient's lock (_send_capped)


def _offer_skip_reason(reminder: Reminder, now: datetime.datetime) -> str:
    """An offer's message goes out only while the offer is open (not expired, taken or
    claimed, its patient still waiting): a late message would offer a slot already gone."""
    offer = reminder.offer
    if offer is None:
        return "The offer no longer exists."
    state = offer.state(now)
    return {
        "open": "",
        "expired": "The offer has expired.",
        "closed": "The patient is no longer on the waitlist.",
    }.get(state, "The slot has been taken.")


def _sms_cap_reason(patient: Patient, now: datetime.datetime) -> str:
    sent = Reminder.objects.filter(patient=patient, channel=Channel.SMS, status=Status.SENT)
    if sent.filter(sent_at__gt=now - datetime.timedelta(days=1)).count() >= (
        settings.SMS_MAX_PER_DAY
    ):
        return f"SMS limit reached ({settings.SMS_MAX_PER_DAY} a day)."
    if sent.filter(sent_at__gt=now - datetime.timedelta(days=7)).count() >= (
        settings.SMS_MAX_PER_WEEK
    ):
        return f"SMS limit reached ({settings.SMS_MAX_PER_WEEK} a week)."
    return ""


def render_message(reminder: Reminder, *, companions: Sequence[Reminder] = ()) -> channels.Message:
    """The words, with no clinical detail: clinic, date, time, place, links. An email has them
    as text and as HTML, and a visit's email lists its companions' visits too (the same
    patient's other visits that day: `_take_companions`)."""
    patient = reminder.patient
    appointment = reminder.appointment
    location = appointment.location if appointment else patient.location
    if reminder.kind == Kind.SLOT_OFFER and reminder.offer is not None:
        location = reminder.offer.location
    if reminder.kind == Kind.CHECKIN and reminder.session is not None:
        location = reminder.session.location
    assert location is not None  # only patients with a usual location get "please book"
    if reminder.channel == Channel.SMS:
        return channels.Message(
            to=str(patient.phone.as_e164),
            subject="",
            body=sms_text(reminder, location),
            key=reminder.idempotency_key,
        )
    stop = link_url("stop", patient_id=patient.pk, channel=reminder.channel)
    page: dict = {}  # what the HTML part shows besides the subject and the clinic
    if reminder.kind in (Kind.VISIT_WEEK, Kind.VISIT_TOMORROW):
        assert appointment is not None
        when = appointment.starts_at.astimezone(appointment.zone)
        visits = [
            _visit(visit, reminder)
            for visit in sorted(
                [appointment, *(c.appointment for c in companions if c.appointment)],
                key=lambda visit: visit.starts_at,
            )
        ]
        if len(visits) == 1:
            subject = f"Your appointment at {location.name} on {when:%a %-d %b} at {when:%H:%M}"
            body = f"{subject}.\n" + _visit_lines(visits[0], location.phone)
        else:
            *earlier, last = [visit["time"] for visit in visits]
            times = f"{', '.join(earlier)} and {last}"
            subject = f"Your appointments at {location.name} on {when:%a %-d %b} at {times}"
            body = f"{subject}.\n" + "".join(
                f"\n{visit['time']}\n{_visit_lines(visit, location.phone)}" for visit in visits
            )
        page = {"visits": visits}
    elif reminder.kind == Kind.SLOT_OFFER:
        offer = reminder.offer
        assert offer is not None  # an offer's messages go with it (CASCADE)
        location = offer.location
        when = offer.starts_at.astimezone(location.zone)
        until = offer.expires_at.astimezone(location.zone)
        subject = f"An earlier appointment at {location.name}: {when:%a %-d %b} at {when:%H:%M}"
        claim = link_url("offer", offer_id=offer.pk)
        body = f"{subject}. First to claim it gets it, until {until:%H:%M}:\n{claim}\n"
        page = {"offer": {"until": f"{until:%H:%M}", "link": claim}}
    elif reminder.kind == Kind.CHECKIN:
        assert reminder.session is not None  # a check-in's messages go with it (CASCADE)
        # no symptom, no treatment named: only that there are questions (docs/clinical-rules.md)
        subject = f"{location.name}: a few questions after your visit"
        answer = link_url("checkin", session_id=reminder.session_id)
        body = f"{subject}: {answer}\n"
        page = {"action": {"link": answer, "text": "Answer four short questions"}}
    elif reminder.kind == Kind.DUE_NOT_BOOKED:
        subject = f"Time to book your next visit at {location.name}"
        page = {"lead": f"Please call {location.phone}."}
        body = f"{subject}. {page['lead']}\n"
    else:
        subject = f"We missed you at {location.name}"
        page = {"lead": f"Please call {location.phone} to book a new visit."}
        body = f"{subject}. {page['lead']}\n"
    address = " ".join(location.address.split())
    body += f"\n{location.name}, {address}, {location.phone}\nNo more emails: {stop}\n"
    context = page | {"subject": subject, "location": location, "address": address}
    html = render_to_string("treatments/reminder_email.html", context | {"stop": stop})
    return channels.Message(
        to=patient.email,
        subject=subject,
        body=body,
        key=reminder.idempotency_key,
        html=html,
        unsubscribe=stop,
    )


def sms_text(reminder: Reminder, location: Location) -> str:
    """A text message's words: one GSM-7 segment (160 characters) with the clinic's SMS name,
    its phone, and SMS_LINK_URL as long as they may be (tests/treatments/test_sms_length.py).
    Its links are short links (treatments/services/short_links.py). A visit's one link opens
    the confirm page, which offers the cancel page while the visit may still be cancelled
    online and the clinic's phone after that."""
    name = location.sms_label
    if reminder.kind in (Kind.VISIT_WEEK, Kind.VISIT_TOMORROW):
        appointment = reminder.appointment
        assert appointment is not None
        when = appointment.starts_at.astimezone(appointment.zone)
        visit = {"appointment_id": appointment.pk, "sequence": appointment.sequence}
        confirm = _short(reminder, "confirm", **visit)
        text = f"{name}: visit {when:%a %-d %b %H:%M}\nConfirm or cancel: {confirm}"
    elif reminder.kind == Kind.SLOT_OFFER:
        offer = reminder.offer
        assert offer is not None  # an offer's messages go with it (CASCADE)
        when = offer.starts_at.astimezone(location.zone)
        until = offer.expires_at.astimezone(location.zone)
        claim = _short(reminder, "offer", offer_id=offer.pk)
        text = f"{name}: free slot {when:%a %-d %b %H:%M}\nClaim by {until:%H:%M}: {claim}"
    elif reminder.kind == Kind.DUE_NOT_BOOKED:
        text = f"{name}: time to book your next visit. Please call {location.sms_phone}"
    elif reminder.kind == Kind.REBOOK_NOSHOW:
        text = f"{name}: we missed you. Please call {location.sms_phone} to book a new visit."
    elif reminder.kind == Kind.CHECKIN:
        answer = _short(reminder, "checkin", session_id=reminder.session_id)
        text = f"{name}: a few questions after your visit\nAnswer: {answer}"
    else:  # a new kind needs its own words, checked at the limits by test_sms_length.py
        raise ValueError(f"No text message for a {reminder.kind} reminder.")
    stop = _short(reminder, "stop", patient_id=reminder.patient_id, channel=reminder.channel)
    return f"{text}\nStop texts: {stop}"


def _short(reminder: Reminder, purpose: str, **ids) -> str:
    return short_link_url(reminder_id=reminder.pk, purpose=purpose, **ids)


def _visit(appointment: Appointment, reminder: Reminder) -> dict[str, str]:
    """A visit's time and links in a message: confirm, and cancel unless the message goes
    inside the cancellation cut-off (the link would only say "please call")."""
    when = appointment.starts_at.astimezone(appointment.zone)
    # the links name this version of the visit: moved later, they say it has changed
    ids = {"appointment_id": appointment.pk, "sequence": appointment.sequence}
    cutoff = datetime.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)
    cancel = link_url("cancel", **ids) if appointment.starts_at - reminder.due_at > cutoff else ""
    return {"time": f"{when:%H:%M}", "confirm": link_url("confirm", **ids), "cancel": cancel}


def _visit_lines(visit: dict[str, str], phone: str) -> str:
    cancel = f"Cancel: {visit['cancel']}" if visit["cancel"] else f"To cancel, call {phone}."
    return f"Confirm: {visit['confirm']}\n{cancel}\n"


@transaction.atomic
def resend_reminder(*, reminder: Reminder) -> Reminder:
    """Put a failed or skipped reminder back in the outbox, due now; the send re-checks
    everything (booking, consent, quiet hours, the SMS cap)."""
    if reminder.status not in (Status.FAILED, Status.SKIPPED):
        raise ValueError("Only a failed or skipped reminder can be sent again.")
    Reminder.objects.filter(pk=reminder.pk).update(
        status=Status.PENDING,
        started_at=None,
        due_at=timezone.now(),
        attempts=0,
        last_error="",
        skip_reason="",
        claim_token="",
    )
    reminder.refresh_from_db()
    return reminder
