"""Celery's own ceiling for the reminders benchmark: a task that does nothing, run by the
same workers on the same broker (`celery worker --include tests.bench.noop`)."""

from celery import shared_task


@shared_task(name="bench.noop")
def noop(n: int) -> int:
    return n
