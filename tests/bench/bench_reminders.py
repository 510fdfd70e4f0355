"""How fast the reminder outbox plans and sends (docs/architecture.md, "The reminder path").
Not part of `make test`; run it with `make bench` or

    .venv/bin/python tests/bench/bench_reminders.py [--appointments 100000] [--send 2000]

1. A private database: a fresh SQLite file under a temporary VAR_DIR, or, when POSTGRES_HOST,
   POSTGRES_DB or DATABASE_URL is set, a throwaway `cadence_bench_<random>` database on that
   PostgreSQL server, dropped at the end. The broker is CELERY_BROKER_URL's, on a private queue.
2. Planning: N booked appointments for N patients, then `plan_visit_reminders` for each, in
   transactions of --batch appointments.
3. Sending: --send due email reminders, --workers worker processes and one beat, Django's SMTP
   backend pointed at an SMTP sink in this process; timed until every reminder is sent, and
   the sink must hold exactly --send distinct Message-IDs. Before that, the same workers run
   --noop tasks that do nothing (Celery's own ceiling on this broker), and the ratio of the
   two rates is printed. --procfile runs the workers as `make run` does instead (one prefork
   worker, --concurrency 2, the filesystem transport).
"""

import argparse
import ast
import collections
import datetime
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
# Celery's "Task name[id] succeeded in 0.01s: {'12': 'sent'}" lines, from the workers' output.
TASK_RESULT = re.compile(
    r"\.(send_reminders_task|send_reminder_task|dispatch_reminders_task)\[[^]]+\] "
    r"succeeded in \S+: (.+)$"
)
NOOP_DONE = "bench.noop["
# The reminder's idempotency key is the Message-ID's local part (treatments/channels.py).
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<([^>@]+)@[^>]*>", re.MULTILINE | re.IGNORECASE)
SLOTS_PER_DAY = 16  # 09:00-17:00 local, 30 minutes each
ZONE = "America/New_York"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- planning -------------------------------------------------------------------------------------


def slot_start(index: int, clinicians: int, first_day: datetime.date) -> datetime.datetime:
    """Appointment `index`'s start: clinicians take turns; each works every day, 16 slots."""
    import zoneinfo

    slot = index // clinicians
    day = first_day + datetime.timedelta(days=slot // SLOTS_PER_DAY)
    start = datetime.datetime.combine(day, datetime.time(9), zoneinfo.ZoneInfo(ZONE))
    return start + datetime.timedelta(minutes=30 * (slot % SLOTS_PER_DAY))


def seed_appointments(count: int, clinicians: int, chunk: int = 5000):
    """`count` patients (all with email consent, every second one with SMS consent too), each
    with one booked appointment a month or more ahead. Returns (location, clinicians,
    timings). Inserted latest first: the SQLite no-overlap trigger then finds no earlier
    appointment to compare with (see measure_booking_trigger)."""
    from django.utils import timezone

    from clinic.models import Location, User
    from patients.models import ContactConsent, Patient
    from treatments.models import Appointment

    timings = {}
    started = time.perf_counter()
    location = Location.objects.create(
        name="Bench Clinic", address="1 Bench Street", phone="+12125550142", time_zone=ZONE
    )
    staff = User.objects.bulk_create(
        User(username=f"bench-clinician-{n}", role="clinician") for n in range(clinicians)
    )
    patients = Patient.objects.bulk_create(
        (
            Patient(
                mrn=f"B-{n:07d}",
                first_name="Bench",
                last_name=f"Patient{n}",
                date_of_birth=datetime.date(1980, 1, 1),
                sex="female",
                email=f"bench{n}@example.com",
                phone="+12125550100",
                location=location,
            )
            for n in range(count)
        ),
        batch_size=chunk,
    )
    ContactConsent.objects.bulk_create(
        (
            ContactConsent(patient=p, channel=channel, granted=True, source="written")
            for n, p in enumerate(patients)
            for channel in (("email", "sms") if n % 2 == 0 else ("email",))
        ),
        batch_size=chunk,
    )
    timings["patients and consents"] = time.perf_counter() - started

    first_day = timezone.localdate() + datetime.timedelta(days=30)

    def appointment(n: int) -> Appointment:
        start = slot_start(n, clinicians, first_day)
        return Appointment(
            patient=patients[n],
            location=location,
            clinician=staff[n % clinicians],
            booked_by=staff[n % clinicians],
            starts_at=start,
            ends_at=start + datetime.timedelta(minutes=30),
        )

    started = time.perf_counter()
    for end in range(count, 0, -chunk):
        Appointment.objects.bulk_create(
            appointment(n) for n in range(end - 1, max(end - chunk, 0) - 1, -1)
        )
        if (count - end) // chunk % 4 == 3:
            log(f"  {count - end + chunk:,} appointments inserted")
    timings["appointments"] = time.perf_counter() - started
    return location, staff, timings


def plan_all(batch: int) -> tuple[int, float, float]:
    """plan_visit_reminders for every booked appointment, `batch` per transaction. Returns
    (reminders planned, seconds in the service, seconds loading appointments)."""
    from django.db import transaction

    from treatments.models import Appointment, Reminder
    from treatments.services.reminders import plan_visit_reminders

    ids = list(Appointment.objects.filter(status="booked").order_by("pk").values_list("pk"))
    ids = [pk for (pk,) in ids]
    before = Reminder.objects.count()
    service = loading = 0.0
    for n, offset in enumerate(range(0, len(ids), batch)):
        started = time.perf_counter()
        # What a caller holds after booking: the appointment with its patient and location;
        # the consents prefetched (current_consents uses them).
        chunk = list(
            Appointment.objects.filter(pk__in=ids[offset : offset + batch])
            .select_related("patient", "location")
            .prefetch_related("patient__consents")
        )
        loading += time.perf_counter() - started
        started = time.perf_counter()
        with transaction.atomic():
            for appointment in chunk:
                plan_visit_reminders(appointment=appointment)
        service += time.perf_counter() - started
        if n % 20 == 19:
            done = offset + batch
            log(f"  {done:,} appointments planned ({done / service:,.0f}/s so far)")
    return Reminder.objects.count() - before, service, loading


def measure_booking_trigger(location, staff, samples: int = 200) -> dict[str, float]:
    """Milliseconds per appointment insert, for a clinician who already has thousands: one
    booked after all of their appointments (the usual case: bookings move forward in time)
    and one before all of them. Rolled back."""
    from django.db import transaction

    from patients.models import Patient
    from treatments.models import Appointment

    clinician = staff[0]
    existing = Appointment.objects.filter(clinician=clinician)
    latest = existing.order_by("-starts_at").values_list("ends_at", flat=True).first()
    earliest = existing.order_by("starts_at").values_list("starts_at", flat=True).first()
    results = {}
    with transaction.atomic():
        patients = Patient.objects.bulk_create(
            Patient(
                mrn=f"T-{n:07d}",
                first_name="Trigger",
                last_name=f"Patient{n}",
                date_of_birth=datetime.date(1980, 1, 1),
                sex="female",
            )
            for n in range(2 * samples)
        )
        for label, origin, step in (
            ("after the clinician's appointments", latest, 1),
            ("before the clinician's appointments", earliest, -1),
        ):
            started = time.perf_counter()
            for n in range(samples):
                start = origin + datetime.timedelta(minutes=30 * (n if step > 0 else -(n + 1)))
                Appointment.objects.create(
                    patient=patients[n + (0 if step > 0 else samples)],
                    location=location,
                    clinician=clinician,
                    booked_by=clinician,
                    starts_at=start,
                    ends_at=start + datetime.timedelta(minutes=30),
                )
            results[label] = (time.perf_counter() - started) / samples * 1000
        transaction.set_rollback(True)
    return results


# --- sending --------------------------------------------------------------------------------------


class Sink:
    """An SMTP server that accepts everything and counts Message-IDs."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ids: collections.Counter[str] = collections.Counter()
        self.messages = 0
        self.without_id = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        found = MESSAGE_ID.search(envelope.original_content or envelope.content)
        with self.lock:
            self.messages += 1
            if found:
                self.ids[found.group(1).decode()] += 1
            else:
                self.without_id += 1
        return "250 Message accepted for delivery"

    def snapshot(self) -> tuple[int, collections.Counter]:
        with self.lock:
            return self.messages, self.ids.copy()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_quiet_sink(sink: Sink, quiet: float = 3.0, limit: float = 30.0) -> None:
    """Until no message arrived for `quiet` seconds: a repeat can trail the last `sent`."""
    deadline = time.monotonic() + limit
    last, since = sink.snapshot()[0], time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.2)
        now = sink.snapshot()[0]
        if now != last:
            last, since = now, time.monotonic()


def send_all(args, tmp: Path, queue: str) -> dict:
    """--send due email reminders through --workers workers and a beat, into the sink."""
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.db.models import Count

    from tests.conftest import CeleryCluster
    from tests.treatments.test_reminder_workers import make_visits
    from treatments.models import Reminder

    started = time.perf_counter()
    reminders = make_visits(args.send)
    setup = time.perf_counter() - started
    first, last = reminders[0].pk, reminders[-1].pk
    mine = Reminder.objects.filter(pk__gte=first, pk__lte=last)
    expected = {r.idempotency_key for r in reminders}

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: lines per connection
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    cluster = CeleryCluster(tmp / "celery")
    cluster.tmp_path.mkdir()
    cluster.queue = queue
    cluster.env |= {
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "",
        "EMAIL_HOST_USER": "",
        "QUIET_HOURS_START": "24",
        "QUIET_HOURS_END": "0",
        "REMINDER_DISPATCH_SECONDS": "1",
        # The test cluster's short lease, queue timeout and channel timeouts are for its fault
        # tests; here the settings' own (the production defaults unless an option says so).
        "REMINDER_LEASE_SECONDS": str(settings.REMINDER_LEASE_SECONDS),
        "REMINDER_QUEUE_TIMEOUT_SECONDS": str(args.queue_timeout),
        "REMINDER_SEND_MARGIN_SECONDS": str(settings.REMINDER_SEND_MARGIN_SECONDS),
        "EMAIL_TIMEOUT": str(settings.EMAIL_TIMEOUT),
        "SMS_TIMEOUT": str(settings.SMS_TIMEOUT),
        "REMINDER_SEND_BATCH": str(args.batch_size or settings.REMINDER_SEND_BATCH),
    }
    if args.procfile:  # the Procfile's worker line: one prefork worker, two processes
        options: tuple[str, ...] | None = ("--concurrency", "2")
    else:
        options = ("--pool", "solo", "--without-gossip", "--without-mingle")
        options += ("--without-heartbeat",)
    options += ("--include", "tests.bench.noop")
    result = {"setup": setup}
    try:
        t0 = time.perf_counter()
        for _ in range(1 if args.procfile else args.workers):
            cluster.worker(options)
        result["startup"] = time.perf_counter() - t0
        if args.noop:
            log(f"  {args.noop:,} no-op tasks through the same workers ...")
            result["noop"] = run_noops(cluster, queue, args.noop)
        cluster.beat()
        t_beat = time.perf_counter()
        log(f"  workers and a beat ready in {t_beat - t0:.1f} s")
        t_first = None
        deadline = t_beat + args.timeout
        while True:
            counts = dict(mine.values_list("status").annotate(n=Count("pk")).order_by())
            sent = counts.get("sent", 0)
            if sent and t_first is None:
                t_first = time.perf_counter()
            if sent == args.send:
                break
            if not counts.get("pending") and not counts.get("claimed"):
                raise SystemExit(f"Settled without sending everything: {counts}")
            if time.perf_counter() > deadline:
                raise SystemExit(f"Not all sent after {args.timeout} s: {counts}")
            time.sleep(0.1)
        t_end = time.perf_counter()
        wait_for_quiet_sink(sink)
    finally:
        cluster.stop()
        controller.stop()
    outcomes: collections.Counter[str] = collections.Counter()
    for process in cluster.processes:
        for line in process.output:
            if found := TASK_RESULT.search(line.rstrip()):
                task, value = found.groups()
                if task == "send_reminders_task":
                    outcomes["send tasks"] += 1
                    outcomes.update(ast.literal_eval(value).values())
                elif task == "send_reminder_task":
                    outcomes[value.strip("'")] += 1
                elif int(value):
                    outcomes["dispatch runs that claimed"] += 1
                    outcomes["claimed by dispatch"] += int(value)
    messages, ids = sink.snapshot()
    repeats = {key: n for key, n in ids.items() if n > 1}
    result |= {
        "to first sent": (t_first or t_end) - t_beat,
        "sending": t_end - t_beat,
        "messages": messages,
        "distinct": len(ids),
        "repeats": repeats,
        "unexpected": set(ids) - expected,
        "missing": expected - set(ids),
        "without id": sink.without_id,
        "outcomes": outcomes,
    }
    return result


def run_noops(cluster, queue: str, count: int) -> float:
    """Seconds from the first of `count` no-op tasks published (from here, as fast as the
    broker takes them) until the workers logged the last one done."""
    from tests.bench.noop import noop

    seen = [0] * len(cluster.processes)
    done = 0

    def count_done() -> int:
        nonlocal done
        for n, process in enumerate(cluster.processes):
            lines = process.output[seen[n] :]
            seen[n] += len(lines)
            done += sum(NOOP_DONE in line and " succeeded " in line for line in lines)
        return done

    started = time.perf_counter()
    for n in range(count):
        noop.apply_async((n,), queue=queue)
    deadline = time.perf_counter() + 300
    while count_done() < count:
        if time.perf_counter() > deadline:
            for process in cluster.processes:
                log("".join(process.output[-15:]))
            raise SystemExit(f"Only {done} of {count} no-op tasks done after 300 s")
        time.sleep(0.05)
    return time.perf_counter() - started


def delete_queue(queue: str) -> None:
    """Leftover beat ticks would sit in a Redis list for ever; the filesystem broker's folder
    goes with the temporary directory."""
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return
    from clinic.celery import app

    with app.connection_for_write() as connection:
        # kombu deletes only the bindings this process has declared: declare, then delete.
        bound = app.amqp.queues[queue].bind(connection.default_channel)
        bound.declare()
        bound.delete()


# --- the run --------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=100_000, help="to plan (0: skip)")
    parser.add_argument("--clinicians", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1000, help="appointments per transaction")
    parser.add_argument("--send", type=int, default=2000, help="due email reminders (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (solo pool)")
    parser.add_argument(
        "--queue-timeout",
        type=int,
        default=None,
        help="REMINDER_QUEUE_TIMEOUT_SECONDS for the workers (default: the setting's)",
    )
    parser.add_argument("--timeout", type=int, default=900, help="give up sending after this")
    parser.add_argument(
        "--noop", type=int, default=4000, help="no-op tasks through the same workers (0: skip)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="REMINDER_SEND_BATCH for the workers (default: the setting's)",
    )
    parser.add_argument(
        "--procfile",
        action="store_true",
        help="workers as `make run` starts them: one prefork worker, --concurrency 2, the "
        "filesystem transport (whatever CELERY_BROKER_URL says)",
    )
    args = parser.parse_args()
    if args.procfile:
        os.environ.pop("CELERY_BROKER_URL", None)
    # The workers get a DATABASE_URL, which the settings take for production: a real key.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))

    sys.path.insert(0, str(BASE_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    tmp = Path(tempfile.mkdtemp(prefix="cadence-bench-"))
    queue = f"bench-{secrets.token_hex(6)}"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = queue
    drop_database = lambda: None  # noqa: E731
    rows: list[tuple[str, str]] = []
    sent = {}
    # `kill` as well as Ctrl-C stops the workers and drops the database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        from tests.bench.database import overlap_guard, use_private_database

        drop_database = use_private_database(tmp)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection

        if args.queue_timeout is None:
            args.queue_timeout = settings.REMINDER_QUEUE_TIMEOUT_SECONDS
        database = f"{connection.vendor} {connection.settings_dict['NAME']}"
        broker = settings.CELERY_BROKER_URL.split("@")[-1]
        log(f"database: {database}\nbroker: {broker} (queue {queue})")
        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        rows.append(("migrate", f"{time.perf_counter() - started:.1f} s"))
        rows.append(("no-overlap guard after migrate", overlap_guard()))

        if args.appointments:
            log(f"seeding {args.appointments:,} patients and appointments ...")
            location, staff, timings = seed_appointments(args.appointments, args.clinicians)
            for label, seconds in timings.items():
                rows.append((f"setup: {label}", f"{seconds:.1f} s"))
            log("planning ...")
            planned, service, loading = plan_all(args.batch)
            rows += [
                ("reminders planned", f"{planned:,} for {args.appointments:,} appointments"),
                ("planning time (service calls)", f"{service:.1f} s"),
                ("loading appointments (not in the rates)", f"{loading:.1f} s"),
                ("appointments planned per second", f"{args.appointments / service:,.0f}"),
                ("reminders planned per second", f"{planned / service:,.0f}"),
            ]
            log("timing the no-overlap check on booking ...")
            for label, ms in measure_booking_trigger(location, staff).items():
                rows.append((f"one booking {label}", f"{ms:.2f} ms"))

        if args.send:
            log(f"sending {args.send:,} reminders ...")
            sent = send_all(args, tmp, queue)
            rows += [
                ("setup: due reminders", f"{sent['setup']:.1f} s"),
                ("workers start", f"{sent['startup']:.1f} s"),
                ("beat ready to first sent", f"{sent['to first sent']:.1f} s"),
                ("beat ready to all sent", f"{sent['sending']:.1f} s"),
                ("sent per second end to end", f"{args.send / sent['sending']:,.1f}"),
                ("SMTP messages received", f"{sent['messages']:,}"),
                ("distinct Message-IDs", f"{sent['distinct']:,} (expected {args.send:,})"),
            ]
            if "noop" in sent:
                noop_rate = args.noop / sent["noop"]
                rows += [
                    (
                        f"no-op tasks per second ({args.noop:,}, same workers and broker)",
                        f"{noop_rate:,.1f}",
                    ),
                    ("ratio sent/s / no-op/s", f"{args.send / sent['sending'] / noop_rate:.3f}"),
                ]
            outcomes = ", ".join(f"{key} {n:,}" for key, n in sorted(sent["outcomes"].items()))
            rows.append(("task results (worker logs)", outcomes))
            if sent["repeats"]:
                rows.append(("repeated Message-IDs", str(sent["repeats"])))
            for key in ("unexpected", "missing", "without id"):
                if sent[key]:
                    rows.append((key, str(sent[key])))
    finally:
        try:
            if args.send and "django" in sys.modules:
                delete_queue(queue)
        finally:
            drop_database()
            shutil.rmtree(tmp, ignore_errors=True)

    width = max(len(label) for label, _ in rows)
    when = datetime.datetime.now().astimezone()
    print(f"\nCadence reminders benchmark, {when:%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores")
    workers = (
        "one prefork worker, --concurrency 2 (the Procfile's)"
        if args.procfile
        else f"{args.workers} (solo pool)"
    )
    print(f"database: {database}; broker: {broker}; workers: {workers}")
    if args.send:
        print(f"send batch: {args.batch_size or settings.REMINDER_SEND_BATCH} claims per task")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    ok = not args.send or not (sent["repeats"] or sent["missing"] or sent["unexpected"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
