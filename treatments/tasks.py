"""Thin Celery tasks: ids in, one service call each. Both are safe to run twice."""

from celery import shared_task

from treatments.services.reminders import dispatch_due_reminders, send_reminder


@shared_task
def dispatch_reminders_task() -> int:
    """Every minute (beat): claim due reminders, then enqueue one send per claim on commit."""
    claims = dispatch_due_reminders()
    for reminder_id, claim_token in claims:
        send_reminder_task.delay_on_commit(reminder_id, claim_token)
    return len(claims)


@shared_task
def send_reminder_task(reminder_id: int, claim_token: str) -> str:
    """Send one claimed reminder; a repeat or a stale claim does nothing."""
    return send_reminder(reminder_id=reminder_id, claim_token=claim_token)
