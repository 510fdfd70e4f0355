"""The schedule's hook into the waitlist: a cancelled or moved injection visit's slot is
offered after commit, by a task (treatments/services/waitlist.py does the offering). Apart
from waitlist.py so that the booking services can call it without importing the services that
call them back."""

import datetime
import logging

from celery import current_app
from django.conf import settings
from django.db import transaction

from clinic.models import Location, User
from treatments.models import Appointment

OFFER_TASK = "treatments.tasks.offer_freed_slot_task"
logger = logging.getLogger(__name__)


def slot_freed(
    appointment: Appointment,
    starts_at: datetime.datetime | None = None,
    clinician: User | None = None,
    location: Location | None = None,
) -> None:
    """The hook of `set_appointment_status` (cancelled) and `reschedule_appointment` (moved):
    after commit, a task offers the freed slot (the visit's, or `starts_at` with `clinician`
    at `location` for a move, which may take the visit elsewhere). An injection visit's slot
    only; ids and times only in the task's arguments."""
    if appointment.kind != Appointment.Kind.INJECTION:
        return
    who = (clinician or appointment.clinician).pk
    where = (location or appointment.location).pk
    args = [appointment.pk, who, (starts_at or appointment.starts_at).isoformat(), where]
    transaction.on_commit(lambda: _enqueue(args))


def _enqueue(args: list) -> None:
    """Publish the offering task by name (services never import tasks), on the reminders'
    queue. After commit the visit's change is done whatever happens here: a broker that
    refuses the message never costs the patient's request, and the sweep
    (`waitlist.sweep_freed_slots`, every WAITLIST_SWEEP_MINUTES) offers the slot instead."""
    try:
        current_app.send_task(OFFER_TASK, args=args, queue=settings.CELERY_REMINDERS_QUEUE)
    except Exception:  # noqa: BLE001 (logged; the cancellation or move stands)
        logger.exception("Could not enqueue the offer of a freed slot (visit %s).", args[0])
