from celery import shared_task
from django.core.management import call_command


@shared_task
def clear_expired_sessions_task() -> None:
    """Delete expired sessions: the same work as `manage.py clearsessions`, run daily by beat."""
    call_command("clearsessions")
