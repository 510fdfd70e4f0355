"""Reminders through real processes: workers and beats on the configured broker (Redis in
CI's PostgreSQL run, the filesystem transport in the embedded run)."""

import asyncio
import collections
import datetime
import logging
import re
import shutil
import threading
import time

import pytest
from django.conf import settings
from django.utils import timezone

from clinic.models import Location, User
from patients.models import ContactConsent, Patient
from tests.conftest import PrivateRedis, free_port, wait_until
from tests.treatments.test_sms_twilio import make_texts
from treatments.links import site_domain
from treatments.models import Appointment, Reminder
from treatments.tasks import dispatch_reminders_task

pytestmark = pytest.mark.worker

MESSAGE_ID = re.compile(
    rb"^Message-ID: <(reminder-\d+)@" + re.escape(site_domain().encode()) + rb">", re.MULTILINE
)


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


def lose_the_queue(cluster, redis: PrivateRedis | None) -> None:
    """The broker loses every message it holds: Redis SIGKILLed (no persistence) and started
    again empty; on the filesystem transport, the queue's message files deleted."""
    if redis is not None:
        redis.kill()
        time.sleep(1)
        redis.start()
        return
    queue_folder = settings.BROKER_DIR / "queue"
    for path in queue_folder.glob(f"*.{cluster.queue}.msg"):
        path.unlink(missing_ok=True)


@pytest.fixture
def private_redis(tmp_path):
    """On Redis runs, a redis-server of the test's own (it gets SIGKILLed); None on the
    filesystem transport."""
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        yield None
        return
    if not shutil.which("redis-server"):
        pytest.fail("The broker-loss test needs redis-server (make test installs it).")
    redis = PrivateRedis(tmp_path / "redis")
    redis.start()
    yield redis
    redis.kill()


def test_kills_double_beats_and_a_lost_queue_lose_nothing_and_send_nothing_twice(
    celery_cluster, private_redis
):
    """A few thousand due at once; two workers and two beats; one worker SIGKILLed mid-run
    and replaced; then the broker loses its queue (Redis SIGKILLed and restarted empty, or
    the filesystem queue's files deleted). Every reminder is delivered, none for a cancelled
    visit, none twice (by key); raw repeats (a kill between hand-over and commit) are at most
    the kills. The claims lost with the queue come back after the queue timeout (10 s here),
    so the drain ends within seconds of it, not after the production timeout."""
    reminders = make_visits(2000, cancelled_every=10)
    survive_kills_and_a_lost_queue(
        celery_cluster, private_redis, reminders, lambda: keys_in_mailbox(celery_cluster.mail_dir)
    )


def test_the_same_faults_lose_no_text_and_send_none_twice_through_the_twilio_adapter(
    celery_cluster, private_redis, fake_twilio
):
    """The same run with texts, sent by the workers through the Twilio adapter to the fake
    Twilio (tests/fake_twilio.py): each text Twilio accepted, by its patient's number."""
    celery_cluster.env |= {
        "SMS_BACKEND": "treatments.sms_twilio.TwilioSmsBackend",
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
        "TWILIO_FROM": "+12125550199",
        "TWILIO_API_BASE_URL": fake_twilio.url,
        "SITE_URL": "https://cadence.example.org",
    }
    reminders = make_texts(2000, cancelled_every=10)
    key_of = {r.patient.phone.as_e164: r.idempotency_key for r in reminders}

    def handed_over() -> list[str]:
        with fake_twilio.lock:
            return [key_of[message["to"]] for message in fake_twilio.messages]

    survive_kills_and_a_lost_queue(celery_cluster, private_redis, reminders, handed_over)
    assert all(
        m["status_callback"].endswith("/webhooks/twilio/status/") for m in fake_twilio.messages
    )


def survive_kills_and_a_lost_queue(celery_cluster, private_redis, reminders, handed_over) -> None:
    """The fault run over `reminders` (some for a cancelled visit); `handed_over()` lists the
    key of every message the channel was handed, repeats included."""
    queue_timeout = 10
    celery_cluster.env["REMINDER_QUEUE_TIMEOUT_SECONDS"] = str(queue_timeout)
    if private_redis is not None:
        celery_cluster.env["CELERY_BROKER_URL"] = private_redis.url
    expected = {r.idempotency_key for r in reminders if r.appointment.status == "booked"}
    cancelled = {r.idempotency_key for r in reminders} - expected

    first = celery_cluster.worker()
    celery_cluster.worker()
    celery_cluster.beat()
    celery_cluster.beat()
    wait_until(lambda: Reminder.objects.filter(status="sent").count() >= 300, timeout=60)
    first.kill()
    kills = 1
    celery_cluster.worker()
    wait_until(lambda: Reminder.objects.filter(status="sent").count() >= 600, timeout=60)
    queued = Reminder.objects.filter(status="claimed", started_at__isnull=True).count()
    lose_the_queue(celery_cluster, private_redis)
    kills += 1
    lost_at = time.monotonic()

    def settled():
        return not Reminder.objects.filter(status__in=("pending", "claimed")).exists()

    wait_until(settled, timeout=queue_timeout + 40, interval=0.5)
    drain = time.monotonic() - lost_at
    statuses = {s: Reminder.objects.filter(status=s).count() for s in ("sent", "skipped", "failed")}
    delivered = handed_over()
    repeats = len(delivered) - len(set(delivered))
    print(
        f"\nfault test: {len(expected)} expected, {len(delivered)} handed over, "
        f"{len(set(delivered))} distinct, {repeats} raw repeats after {kills} kills; "
        f"{queued} claims queued when the broker lost them, drained {drain:.1f} s later"
    )

    assert queued > 0  # the broker really held claims when it lost them
    assert statuses == {"sent": len(expected), "skipped": len(cancelled), "failed": 0}
    assert set(delivered) == expected
    assert not set(delivered) & cancelled
    assert repeats <= kills
    assert drain < queue_timeout + 30


# --- against an SMTP relay --------------------------------------------------------------------


class Relay:
    """An SMTP relay in the test process (aiosmtpd): notes each message's key and the
    connection it came on; it can hold the first message it receives for a while."""

    def __init__(self, hold_first: float = 0):
        self.hold_first = hold_first
        self.held: str | None = None
        self.lock = threading.Lock()
        self.keys: collections.Counter[str] = collections.Counter()
        self.peers: set = set()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        [key] = MESSAGE_ID.findall(envelope.original_content or envelope.content)
        with self.lock:
            first = not self.keys
            self.keys[key.decode()] += 1
            self.peers.add(session.peer)
            if first:
                self.held = key.decode()
        if first and self.hold_first:
            await asyncio.sleep(self.hold_first)
        return "250 OK"


@pytest.fixture
def relay(celery_cluster):
    """Start a relay (`relay(hold_first=...)`); the cluster's workers send through it."""
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: lines per command
    controllers = []

    def start(hold_first: float = 0) -> Relay:
        handler = Relay(hold_first)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        celery_cluster.env |= {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "EMAIL_USE_TLS": "",
            "EMAIL_HOST_USER": "",
        }
        return handler

    yield start
    for controller in controllers:
        controller.stop()


def test_one_worker_sends_every_message_over_one_smtp_connection(celery_cluster, relay):
    sink = relay()
    reminders = make_visits(60)
    celery_cluster.worker()

    dispatch_reminders_task.apply_async(queue=celery_cluster.queue)

    wait_until(lambda: Reminder.objects.filter(status="sent").count() == 60)
    assert sum(sink.keys.values()) == 60
    assert set(sink.keys) == {r.idempotency_key for r in reminders}
    assert len(sink.peers) == 1


def test_a_relay_slower_than_the_lease_never_yields_two_sent_tasks(celery_cluster, relay):
    """The misconfiguration of issue 13 (the email timeout beyond the lease, which the system
    check now refuses): a relay holds the first message for 8 s, longer than the 3 s lease.
    Its claim is taken back and the other worker sends it again (the same Message-ID); the
    first send, its claim lost, must not also report "sent"."""
    sink = relay(hold_first=8)
    celery_cluster.env |= {
        "REMINDER_LEASE_SECONDS": "3",
        "EMAIL_TIMEOUT": "20",
        "REMINDER_SEND_BATCH": "1",
    }
    reminders = make_visits(2)
    celery_cluster.worker()
    celery_cluster.worker()
    celery_cluster.beat()

    wait_until(lambda: Reminder.objects.filter(status="sent").count() == 2, timeout=30)
    # until every send that was waiting for the relay has reported
    wait_until(
        lambda: len([r for r in celery_cluster.send_results() if r[1] != "not-mine"]) >= 3,
        timeout=20,
    )
    results = celery_cluster.send_results()
    sent = collections.Counter(pk for pk, outcome in results if outcome == "sent")

    assert {pk for pk, _ in results} == {r.pk for r in reminders}
    held = next(r.pk for r in reminders if r.idempotency_key == sink.held)
    assert all(n == 1 for n in sent.values()), results
    assert (held, "claim-lost") in results, results
    assert Reminder.objects.filter(status="sent").count() == 2
    assert sink.keys[sink.held] == 2  # the repeat the lease allows, with the same Message-ID
