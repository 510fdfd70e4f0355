import datetime

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from clinic.tasks import clear_expired_sessions_task
from tests.conftest import wait_until


def make_sessions():
    live, expired = SessionStore(), SessionStore()
    live.create()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(minutes=1)
    )
    return live.session_key, expired.session_key


def test_clearing_sessions_removes_only_expired_ones_and_is_safe_twice(db):
    live, expired = make_sessions()
    clear_expired_sessions_task()
    clear_expired_sessions_task()
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]


def test_the_session_cleanup_is_on_beats_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["clear-expired-sessions"]
    assert entry["task"] == clear_expired_sessions_task.name


@pytest.mark.worker
def test_a_real_worker_on_the_configured_broker_clears_expired_sessions(celery_worker_process):
    # Given an expired and a live session in the database the worker shares
    live, expired = make_sessions()

    # When the task goes through the broker to a worker process
    clear_expired_sessions_task.apply_async(queue=celery_worker_process.queue)

    # Then the worker deletes the expired one only
    wait_until(lambda: not Session.objects.filter(session_key=expired).exists())
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert "clear_expired_sessions_task" in "".join(celery_worker_process.output)


@pytest.mark.worker
def test_a_worker_started_by_a_test_reads_the_tests_clock(celery_cluster, time_machine):
    # Given the test's clock five years from the real one, and sessions expiring around it
    time_machine.move_to(datetime.datetime(2031, 5, 6, 12, tzinfo=datetime.UTC), tick=True)
    live, expired = make_sessions()

    # When a worker started now clears expired sessions
    worker = celery_cluster.worker()
    clear_expired_sessions_task.apply_async(queue=celery_cluster.queue)

    # Then it judged "expired" by the test's clock (on the real one neither has expired)
    wait_until(lambda: not Session.objects.filter(session_key=expired).exists())
    assert list(Session.objects.values_list("session_key", flat=True)) == [live]
    assert "clear_expired_sessions_task" in "".join(worker.output)
