"""Reminders through real processes: workers and beats on the configured broker (Redis in
CI's PostgreSQL run, the filesystem transport in the embedded run)."""

import datetime
import re

import pytest
from django.utils import timezone

from clinic.models import Location, User
from patients.models import ContactConsent, Patient
from tests.conftest import wait_until
from treatments.models import Appointment, Reminder
from treatments.tasks import dispatch_reminders_task

pytestmark = pytest.mark.worker

MESSAGE_ID = re.compile(rb"^Message-ID: <(reminder-\d+)@cadence>", re.MULTILINE)


def keys_in_mailbox(folder) -> list[str]:
    """Every reminder key the email backend was handed, repeats included."""
    if not folder.exists():
        return []
    return [
        key.decode() for path in folder.iterdir() for key in MESSAGE_ID.findall(path.read_bytes())
    ]


def make_visits(count: int, *, cancelled_every: int = 0) -> list[Reminder]:
    """`count` patients with email consent, each with a visit and a due "week before"
    reminder; every `cancelled_every`-th visit is cancelled (its reminder must not go)."""
    location = Location.objects.create(
        name="Riverside Clinic",
        address="120 Riverside Drive",
        phone="+12125550142",
        time_zone="America/New_York",
    )
    clinician = User.objects.create(username="injector", role="clinician")
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"F-{n:05d}",
            first_name="Test",
            last_name=f"Patient{n}",
            date_of_birth=datetime.date(1980, 1, 1),
            sex="female",
            email=f"p{n}@example.com",
            location=location,
        )
        for n in range(count)
    )
    ContactConsent.objects.bulk_create(
        ContactConsent(patient=p, channel="email", granted=True, source="written") for p in patients
    )
    start = timezone.now() + datetime.timedelta(days=3)
    visits = Appointment.objects.bulk_create(
        Appointment(
            patient=p,
            location=location,
            clinician=clinician,
            booked_by=clinician,
            starts_at=start + datetime.timedelta(minutes=30 * n),
            ends_at=start + datetime.timedelta(minutes=30 * n + 30),
            **(
                {"status": "cancelled", "cancel_reason": "test"}
                if cancelled_every and n % cancelled_every == 0
                else {}
            ),
        )
        for n, p in enumerate(patients)
    )
    due = timezone.now() - datetime.timedelta(minutes=1)
    return Reminder.objects.bulk_create(
        Reminder(
            patient=v.patient,
            appointment=v,
            subject_key=f"appointment:{v.pk}:0",
            kind="visit_week",
            channel="email",
            due_at=due,
        )
        for v in visits
    )


def test_a_real_worker_sends_a_due_reminder_and_marks_it_sent(celery_cluster):
    # Given one due reminder, and a worker on the configured broker
    [reminder] = make_visits(1)
    celery_cluster.worker()

    # When the dispatcher runs through the broker (as beat would start it)
    dispatch_reminders_task.apply_async(queue=celery_cluster.queue)

    # Then the worker sends it and marks it sent, once
    wait_until(lambda: Reminder.objects.get(pk=reminder.pk).status == "sent")
    assert keys_in_mailbox(celery_cluster.mail_dir) == [reminder.idempotency_key]


def test_kills_and_double_beats_lose_nothing_and_send_nothing_twice(celery_cluster):
    """A few thousand due at once; two workers and two beats; one worker SIGKILLed mid-run
    and replaced. Every reminder is delivered, none for a cancelled visit, none twice (by
    key); raw repeats (a kill between hand-over and commit) are at most the kills."""
    reminders = make_visits(2000, cancelled_every=10)
    expected = {r.idempotency_key for r in reminders if r.appointment.status == "booked"}
    cancelled = {r.idempotency_key for r in reminders} - expected

    first = celery_cluster.worker()
    celery_cluster.worker()
    celery_cluster.beat()
    celery_cluster.beat()
    wait_until(lambda: Reminder.objects.filter(status="sent").count() >= 300, timeout=120)
    first.kill()
    kills = 1
    celery_cluster.worker()

    def settled():
        return not Reminder.objects.filter(status__in=("pending", "claimed")).exists()

    wait_until(settled, timeout=300, interval=0.5)
    statuses = {s: Reminder.objects.filter(status=s).count() for s in ("sent", "skipped", "failed")}
    delivered = keys_in_mailbox(celery_cluster.mail_dir)
    repeats = len(delivered) - len(set(delivered))
    print(
        f"\nfault test: {len(expected)} expected, {len(delivered)} handed over, "
        f"{len(set(delivered))} distinct, {repeats} raw repeats after {kills} kill"
    )

    assert statuses == {"sent": len(expected), "skipped": len(cancelled), "failed": 0}
    assert set(delivered) == expected
    assert not set(delivered) & cancelled
    assert repeats <= kills
