"""A patient's answers to a message, through its signed links: confirm the visit, cancel it,
or stop messages on a channel. Every answer is safe to give twice (a refreshed page, a second
tap, a mail scanner): the second changes nothing."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clinic.models import Location
from patients.models import Channel, ContactConsent, Patient
from patients.services import record_consent
from treatments.models import Appointment, AppointmentEvent
from treatments.services.schedule import BookingError, cancel_appointment


def call_the_clinic(location: Location) -> str:
    """ "Please call Riverside Clinic on +1 212-555-0142." """
    return f"Please call {location.name} on {location.phone}."


def _locked(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update().select_related("location").get(pk=appointment.pk)


class VisitChanged(BookingError):
    """The message's link names an earlier version of the visit (moved since)."""

    def __init__(self):
        super().__init__(
            "This visit has changed since the message was sent: see the newer message, or log "
            "in to see your visit."
        )


def _still_booked(
    appointment: Appointment, done: str, *, cancelled: str, sequence: int | None = None
) -> Appointment:
    """The appointment, locked, if a patient may still have it `done` online; `sequence`,
    from a message's link, must still be the visit's."""
    appointment = _locked(appointment)
    if appointment.status == Appointment.Status.CANCELLED:
        raise BookingError(cancelled)
    if sequence is not None and sequence != appointment.sequence:
        raise VisitChanged
    if appointment.status != Appointment.Status.BOOKED:
        raise BookingError(
            f"This visit can no longer be {done} online. " + call_the_clinic(appointment.location)
        )
    return appointment


def cancellation_cutoff(appointment: Appointment) -> datetime.datetime:
    """The last moment a patient may cancel online; later, they call the clinic."""
    return appointment.starts_at - datetime.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)


@transaction.atomic
def confirm_appointment(
    *,
    appointment: Appointment,
    sequence: int | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """The patient confirms that they will come.

    1. Lock the appointment; only a booked visit that has not yet started can be confirmed,
       and by a message's link only the version of the visit it was sent about (`sequence`).
    2. Confirming again changes nothing. Otherwise set `confirmed_at` and write a "confirmed"
       event with no user (the patient, by link).
    """
    now = now or timezone.now()
    appointment = _still_booked(
        appointment, "confirmed", cancelled="This visit was cancelled.", sequence=sequence
    )
    if appointment.confirmed_at is not None:
        return appointment
    if appointment.starts_at <= now:
        raise BookingError(
            "The time of this visit has passed. " + call_the_clinic(appointment.location)
        )
    appointment.confirmed_at = now
    appointment.save(update_fields=["confirmed_at"])
    AppointmentEvent.objects.create(appointment=appointment, action="confirmed", by=None)
    return appointment


@transaction.atomic
def patient_cancel_appointment(
    *,
    appointment: Appointment,
    reason: str,
    sequence: int | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """The patient cancels a visit.

    1. Lock the appointment; it must still be booked (a cancelled one says so), and by a
       message's link still the version it was sent about (`sequence`).
    2. Refuse inside CANCELLATION_CUTOFF_HOURS before the start: the clinic needs a call then,
       and the message says whom to call.
    3. A reason is required; `cancel_appointment` then frees the slot (and stops the visit's
       reminders) with no user on the event (the patient, by link).
    """
    now = now or timezone.now()
    appointment = _still_booked(
        appointment, "cancelled", cancelled="This visit is already cancelled.", sequence=sequence
    )
    if now >= cancellation_cutoff(appointment):
        raise BookingError(
            f"This visit is less than {settings.CANCELLATION_CUTOFF_HOURS} hours away, too late "
            "to cancel online. " + call_the_clinic(appointment.location)
        )
    if not reason.strip():
        raise BookingError("Tell us why you are cancelling.", "reason")
    return cancel_appointment(appointment=appointment, reason=reason.strip(), by=None)


@transaction.atomic
def stop_messages(
    *, patient: Patient, channel: str, source: str = ContactConsent.Source.STOP_LINK
) -> bool:
    """The patient stops messages on one channel: record a revoked consent from the stop link
    (or a STOP texted back, `source`). False (nothing written) when consent on that channel is
    already revoked."""
    return _set_consent(patient=patient, channel=channel, granted=False, source=source)


@transaction.atomic
def start_messages(*, patient: Patient, channel: str, source: str) -> bool:
    """The patient asks for messages on one channel again (START texted back): record a
    granted consent. False (nothing written) when it is already granted."""
    return _set_consent(patient=patient, channel=channel, granted=True, source=source)


def _set_consent(*, patient: Patient, channel: str, granted: bool, source: str) -> bool:
    if channel not in Channel.values:
        raise ValueError(f"Unknown channel: {channel!r}")
    # Lock the patient so that two taps at once write one row, not two.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    if patient.consents_to(channel) is granted:
        return False
    record_consent(
        patient=patient, channel=channel, granted=granted, source=source, recorded_by=None
    )
    return True


@transaction.atomic
def request_date_change(*, appointment: Appointment, note: str) -> Appointment:
    """The patient asks for another date: the front desk sees it on the due list at once, and
    moving the visit clears it."""
    appointment = _locked(appointment)
    if appointment.status != Appointment.Status.BOOKED:
        raise BookingError("Only a booked visit can be moved.")
    appointment.change_requested_at = timezone.now()
    appointment.change_request = note.strip()[:300]
    appointment.save(update_fields=["change_requested_at", "change_request"])
    AppointmentEvent.objects.create(
        appointment=appointment, action="change_requested", note=appointment.change_request
    )
    return appointment
