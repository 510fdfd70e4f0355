"""Thin Celery tasks: ids in, one service call each. Both are safe to run twice."""

from celery import shared_task

from treatments.services.reminders import dispatch_due_reminders, send_reminder


@shared_task
def dispatch_reminders_task() -> int:
    """Every minute (beat): claim due reminders and enqueue their sends."""
    return dispatch_due_reminders()


@shared_task
def send_reminder_task(reminder_id: int, claim_token: str) -> str:
    """Send one claimed reminder; a repeat or a stale claim does nothing."""
    return send_reminder(reminder_id=reminder_id, claim_token=claim_token)
