"""Thin Celery tasks: ids in, one service call each. All are safe to run twice."""

import datetime

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings
from django.utils import timezone

from treatments import channels
from treatments.fhir.export import delete_expired_exports, reclaim_stalled_exports, run_export
from treatments.services.reminders import dispatch_due_reminders, send_reminder, send_reminders
from treatments.services.short_links import delete_expired_short_links
from treatments.services.waitlist import offer_freed_slot, sweep_freed_slots


@shared_task
def dispatch_reminders_task() -> int:
    """Every minute (beat): claim due reminders, then enqueue them on commit, in batches of
    REMINDER_SEND_BATCH claims (ids and tokens only)."""
    claims = dispatch_due_reminders()
    size = settings.REMINDER_SEND_BATCH
    for offset in range(0, len(claims), size):
        send_reminders_task.delay_on_commit(claims[offset : offset + size])
    return len(claims)


@shared_task
def send_reminders_task(claims: list[tuple[int, str]]) -> dict[str, str]:
    """Send a batch of claimed reminders, each on its own; a repeat or a stale claim does
    nothing. Returns each one's outcome by reminder id."""
    return send_reminders(claims)


@shared_task
def send_reminder_task(reminder_id: int, claim_token: str) -> str:
    """One claimed reminder (what the dispatcher enqueued before batches: kept for the
    messages still queued across an upgrade)."""
    return send_reminder(reminder_id=reminder_id, claim_token=claim_token)


@shared_task
def offer_freed_slot_task(
    appointment_id: int, clinician_id: int, starts_at: str, location_id: int | None = None
) -> int:
    """A cancelled or moved visit's slot (clinician, ISO start, location): offer it to the
    waitlist, then dispatch at once rather than at the next beat. Running twice offers nothing
    more."""
    offers = offer_freed_slot(
        appointment_id=appointment_id,
        clinician_id=clinician_id,
        starts_at=datetime.datetime.fromisoformat(starts_at),
        location_id=location_id,
    )
    if offers:
        dispatch_reminders_task.delay_on_commit()
    return len(offers)


@shared_task
def delete_expired_short_links_task() -> int:
    """Daily (beat): delete the text messages' short links past their expiry."""
    return delete_expired_short_links()


@shared_task
def sweep_freed_slots_task() -> int:
    """Every WAITLIST_SWEEP_MINUTES (beat): offer the recently freed slots that no offering
    task has offered (a task the broker refused or lost), then dispatch the offers at once.
    Running twice offers nothing more."""
    offers = sweep_freed_slots(now=timezone.now())
    if offers:
        dispatch_reminders_task.delay_on_commit()
    return len(offers)


@shared_task
def run_export_task(job_id: int) -> str:
    """A FHIR bulk export ($export): claim the job and write its NDJSON files. Running twice
    exports once (the claim is a conditional UPDATE)."""
    return run_export(job_id=job_id)


@shared_task
def reclaim_stalled_exports_task() -> int:
    """Every FHIR_EXPORT_STALL_MINUTES / 2 (beat): take back the exports whose worker died and
    enqueue them again, with those whose message was lost. Running twice runs each once."""
    waiting = reclaim_stalled_exports(now=timezone.now())
    for job_id in waiting:
        run_export_task.delay_on_commit(job_id)
    return len(waiting)


@shared_task
def delete_expired_exports_task() -> int:
    """Hourly (beat): delete the bulk exports past FHIR_EXPORT_KEEP_HOURS, files and rows."""
    return delete_expired_exports(now=timezone.now())


@worker_process_shutdown.connect  # a prefork child
@worker_shutdown.connect  # the solo pool's one process
def _close_email_connection(**kwargs) -> None:
    """The worker process's SMTP connection is reused for every message; close it at exit."""
    channels.close_email_connection()
