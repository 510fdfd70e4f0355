"""How fast every booked visit's reminders are re-planned at once (docs/architecture.md, "The
reminder path"; tests/bench/README.md, "Planning in bulk"). Not part of `make test`; run it on
PostgreSQL:

    POSTGRES_HOST=127.0.0.1 POSTGRES_USER=postgres .venv/bin/python tests/bench/bench_planning.py

1. A throwaway `cadence_bench_<random>` database on that server, dropped at the end (also on
   Ctrl-C or `kill`).
2. Seeding with set-based SQL: --locations locations in several time zones, --clinicians
   clinicians spread over them, --patients patients with varied consent, and --appointments
   booked visits from a month ahead, 30-minute slots 09:00-17:00 local, the clinicians taking
   turns (no clinician or patient is ever double-booked: the exclusion constraints stay on).
3. One at a time: `plan_visit_reminders` for a --sample of the visits, as a booking would.
4. In bulk: `replan_all_visit_reminders` for all of them (the sample's rows exist already);
   then again on the planned data (it must insert nothing); with --one-connection-run, once
   more on an emptied outbox on one connection; then once more on an emptied outbox
   with the row triggers off (session_replication_role = replica), which prices the foreign
   keys' deferred checks. Peak RSS is this process's (resource.getrusage); the server's CPU
   is every backend's on the throwaway database (the planning threads' included).
"""

import argparse
import datetime
import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "America/Sao_Paulo",
]
SLOTS_PER_DAY = 16  # 09:00-17:00 local, 30 minutes each


def process_cpu(pid: int) -> float:
    """CPU seconds used so far by a process on this machine (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendCpu:
    """The CPU seconds of every PostgreSQL backend on this database (but its own) while the
    `with` block runs, to tell the work from the waiting on a shared machine. The planning
    threads' backends come and go, so a thread samples /proc every 0.1 s: what a backend uses
    in its last 0.1 s before it exits is missed."""

    def __init__(self):
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()

    def sample(self, cursor, first: bool = False) -> None:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        for (pid,) in cursor.fetchall():
            try:
                cpu = process_cpu(pid)
            except OSError:  # exited, or a server on another machine
                continue
            if pid not in self.start:
                self.start[pid] = cpu if first else 0.0
            self.last[pid] = cpu

    def watch(self) -> None:
        from django.db import connection

        try:
            with connection.cursor() as cursor:
                self.sample(cursor, first=True)
                self.started.set()
                while not self.stop.wait(0.1):
                    self.sample(cursor)
                self.sample(cursor)
        finally:
            self.started.set()
            connection.close()

    def __enter__(self):
        self.started = threading.Event()
        self.thread = threading.Thread(target=self.watch)
        self.thread.start()
        self.started.wait()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def per_backend(self) -> list[float]:
        return sorted((self.last[pid] - self.start[pid] for pid in self.last), reverse=True)


def timed_bulk(batch: int, connections: int | None):
    """One bulk run, with the CPU seconds it took here and in the server's backends (the
    busiest first)."""
    from treatments.services.reminder_planning import replan_all_visit_reminders

    here = resource.getrusage(resource.RUSAGE_SELF)
    with BackendCpu() as server:
        result = replan_all_visit_reminders(batch_size=batch, connections=connections)
    after = resource.getrusage(resource.RUSAGE_SELF)
    here_cpu = after.ru_utime + after.ru_stime - here.ru_utime - here.ru_stime
    return result, here_cpu, server.per_backend


def cpu_text(here: float, backends: list[float]) -> str:
    each = " + ".join(f"{seconds:.1f}" for seconds in backends if seconds >= 0.05)
    return f"{here:.1f} s / {sum(backends):.1f} s ({each})"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def seed(args) -> dict[str, float]:
    """Locations, clinicians, patients, consents and booked visits; returns the timings."""
    from django.db import connection
    from django.utils import timezone

    from clinic.models import Location, User

    timings = {}
    started = time.perf_counter()
    locations = Location.objects.bulk_create(
        Location(
            name=f"Bench Clinic {n}",
            address=f"{n} Bench Street",
            phone="+12125550142",
            time_zone=ZONES[n % len(ZONES)],
        )
        for n in range(args.locations)
    )
    clinicians = User.objects.bulk_create(
        User(username=f"bench-clinician-{n}", role="clinician") for n in range(args.clinicians)
    )
    desk = User.objects.create(username="bench-desk", role="front_desk")
    first_day = timezone.localdate() + datetime.timedelta(days=30)
    with connection.cursor() as cursor:
        # Clinician n works at location n % L: their slots are read in that location's zone.
        cursor.execute(
            "CREATE TEMP TABLE bench_clinician (idx int, id bigint, location_id bigint, tz text)"
        )
        cursor.executemany(
            "INSERT INTO bench_clinician VALUES (%s, %s, %s, %s)",
            [
                (n, c.pk, locations[n % len(locations)].pk, locations[n % len(locations)].time_zone)
                for n, c in enumerate(clinicians)
            ],
        )
        cursor.execute(
            """
            INSERT INTO patients_patient
                (mrn, first_name, last_name, date_of_birth, sex, email, phone, address, status,
                 preventives_notes, diagnosis_code, created_at, updated_at)
            SELECT 'S-' || lpad(n::text, 8, '0'), 'Scale', 'Patient' || n,
                   date '1960-01-01' + (n %% 15000), 'female', 'scale' || n || '@example.com',
                   '+12125550100', '', 'active', '', 'G43.709', now(), now()
              FROM generate_series(0, %s - 1) AS n
            """,
            [args.patients],
        )
        cursor.execute("SELECT min(id) FROM patients_patient")
        (first_patient,) = cursor.fetchone()
        # Consents by patient number: 0 both, 1 email only, 2 SMS only, 3 none; and every
        # eighth patient granted SMS once and revoked it later (the latest record counts).
        cursor.execute(
            """
            INSERT INTO patients_contactconsent (patient_id, channel, granted, source, recorded_at)
            SELECT id, channel, granted, 'written', at
              FROM (
                SELECT id, 'email' AS channel, true AS granted, now() - interval '1 year' AS at
                  FROM patients_patient WHERE (id - %(first)s) %% 4 IN (0, 1)
                UNION ALL
                SELECT id, 'sms', true, now() - interval '1 year'
                  FROM patients_patient WHERE (id - %(first)s) %% 4 IN (0, 2)
                UNION ALL
                SELECT id, 'sms', true, now() - interval '2 years'
                  FROM patients_patient WHERE (id - %(first)s) %% 8 = 1
                UNION ALL
                SELECT id, 'sms', false, now() - interval '6 months'
                  FROM patients_patient WHERE (id - %(first)s) %% 8 = 1
              ) AS consent
            """,
            {"first": first_patient},
        )
        timings["patients and consents"] = time.perf_counter() - started

        # Visit n: clinician n % C, their (n // C)-th slot; patient n % P. P is a multiple of
        # C, so a patient always sees the same clinician, P / C slots apart: no overlaps. A
        # patient's first visit is their injection, the later ones reviews (one active
        # injection visit per patient: appt_one_active_injection); reminders do not differ.
        # The audit trigger on appointments is off while seeding (the data set is thrown away;
        # it would write a million change events); the exclusion constraints stay on.
        started = time.perf_counter()
        cursor.execute("ALTER TABLE treatments_appointment DISABLE TRIGGER audit_history")
        chunk = 100_000
        for offset in range(0, args.appointments, chunk):
            cursor.execute(
                """
                INSERT INTO treatments_appointment
                    (starts_at, ends_at, kind, status, booked_at, early_override_reason,
                     cancel_reason, sequence, booked_by_id, clinician_id, location_id,
                     patient_id, change_request)
                SELECT slot.starts, slot.starts + interval '30 minutes',
                       CASE WHEN n < %(patients)s THEN 'injection' ELSE 'review' END, 'booked',
                       now(), '', '', n %% 3, %(desk)s, c.id, c.location_id,
                       %(first)s + n %% %(patients)s, ''
                  FROM generate_series(%(start)s, %(stop)s - 1) AS n
                  JOIN bench_clinician AS c ON c.idx = n %% %(clinicians)s
                 CROSS JOIN LATERAL (
                    SELECT ((%(day)s::date + (n / %(clinicians)s / %(slots)s)::int)
                            + time '09:00'
                            + (n / %(clinicians)s %% %(slots)s) * interval '30 minutes')
                           AT TIME ZONE c.tz AS starts
                 ) AS slot
                """,
                {
                    "desk": desk.pk,
                    "first": first_patient,
                    "patients": args.patients,
                    "clinicians": args.clinicians,
                    "slots": SLOTS_PER_DAY,
                    "day": first_day,
                    "start": offset,
                    "stop": min(offset + chunk, args.appointments),
                },
            )
            log(f"  {min(offset + chunk, args.appointments):,} appointments inserted")
        cursor.execute("ALTER TABLE treatments_appointment ENABLE TRIGGER audit_history")
        cursor.execute("ANALYZE")
    timings["appointments"] = time.perf_counter() - started
    return timings


def plan_one_at_a_time(sample: int) -> tuple[int, float, float]:
    """`plan_visit_reminders` for the first `sample` visits, one transaction each, as booking
    does. Returns (reminders written, seconds in the service, seconds loading)."""
    from django.db import transaction

    from treatments.models import Appointment, Reminder
    from treatments.services.reminders import plan_visit_reminders

    started = time.perf_counter()
    visits = list(
        Appointment.objects.order_by("pk")
        .select_related("patient", "location")
        .prefetch_related("patient__consents")[:sample]
    )
    loading = time.perf_counter() - started
    before = Reminder.objects.count()
    started = time.perf_counter()
    for visit in visits:
        with transaction.atomic():
            plan_visit_reminders(appointment=visit)
    service = time.perf_counter() - started
    return Reminder.objects.count() - before, service, loading


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=None, help="default appointments / 10")
    parser.add_argument("--clinicians", type=int, default=100)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--batch", type=int, default=20_000, help="visits per transaction")
    parser.add_argument("--sample", type=int, default=2000, help="planned one at a time")
    parser.add_argument(
        "--connections",
        type=int,
        default=None,
        help="connections planning at once (default REMINDER_PLANNING_CONNECTIONS, 2)",
    )
    parser.add_argument(
        "--one-connection-run",
        action="store_true",
        help="then plan again into an emptied outbox on one connection, for the ratio",
    )
    parser.add_argument(
        "--no-trigger-run", action="store_true", help="skip the run with row triggers off"
    )
    args = parser.parse_args()
    args.patients = args.patients or max(args.appointments // 10, args.clinicians)
    args.patients -= args.patients % args.clinicians
    if args.patients < args.clinicians:
        parser.error("--patients must be at least --clinicians")

    sys.path.insert(0, str(BASE_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-any-deployment-0123456789")
    if not (
        os.environ.get("DATABASE_URL")
        or os.environ.get("POSTGRES_HOST")
        or os.environ.get("POSTGRES_DB")
    ):
        raise SystemExit("Set POSTGRES_HOST (or DATABASE_URL): this benchmark is for PostgreSQL.")
    import tempfile

    from tests.bench.database import overlap_guard, use_private_database

    tmp = Path(tempfile.mkdtemp(prefix="cadence-bench-"))
    drop_database = lambda: None  # noqa: E731
    rows: list[tuple[str, str]] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        drop_database = use_private_database(tmp)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from treatments.models import Reminder

        if connection.vendor != "postgresql":
            raise SystemExit("This benchmark is for PostgreSQL.")
        database = connection.settings_dict["NAME"]
        log(f"database: {database}")
        call_command("migrate", verbosity=0)
        rows.append(("no-overlap guard", overlap_guard()))
        log(
            f"seeding {args.patients:,} patients and {args.appointments:,} appointments "
            f"({args.clinicians} clinicians, {args.locations} locations) ..."
        )
        for label, seconds in seed(args).items():
            rows.append((f"setup: {label}", f"{seconds:.1f} s"))

        log(f"planning {args.sample:,} visits one at a time ...")
        written, service, loading = plan_one_at_a_time(args.sample)
        one_rate = args.sample / (service + loading)
        rows += [
            ("one at a time: visits / reminders", f"{args.sample:,} / {written:,}"),
            ("one at a time: loading, service", f"{loading:.2f} s, {service:.2f} s"),
            ("one at a time: visits/s (loading included)", f"{one_rate:,.0f}"),
            ("one at a time: visits/s (service only)", f"{args.sample / service:,.0f}"),
        ]
        rss_before = peak_rss_mb()

        log("planning everything in bulk ...")
        load = os.getloadavg()[0]
        first, first_here, first_server = timed_bulk(args.batch, args.connections)
        bulk_rate = first.appointments / first.seconds
        rows += [
            ("bulk: visits / batches", f"{first.appointments:,} / {first.batches:,}"),
            (
                "bulk: reminders inserted (existing)",
                f"{first.inserted:,} ({first.rows - first.inserted:,})",
            ),
            ("bulk: wall time", f"{first.seconds:.1f} s"),
            ("bulk: connections", f"{first.connections}"),
            ("bulk: CPU here / in PostgreSQL (each backend)", cpu_text(first_here, first_server)),
            ("bulk: load average before / after", f"{load:.2f} / {os.getloadavg()[0]:.2f}"),
            ("bulk: visits/s", f"{bulk_rate:,.0f}"),
            ("bulk: reminders/s", f"{first.inserted / first.seconds:,.0f}"),
            ("bulk / one at a time (loading included)", f"{bulk_rate / one_rate:,.0f}x"),
            ("peak RSS before bulk / after", f"{rss_before:.0f} MB / {peak_rss_mb():.0f} MB"),
        ]

        log("planning everything again (nothing to insert) ...")
        second, second_here, second_server = timed_bulk(args.batch, args.connections)
        rows += [
            ("second bulk run: inserted", f"{second.inserted:,} of {second.rows:,}"),
            ("second bulk run: wall time", f"{second.seconds:.1f} s"),
            (
                "second bulk run: CPU here / in PostgreSQL",
                cpu_text(second_here, second_server),
            ),
        ]

        if args.one_connection_run:
            log("planning into an empty outbox on one connection ...")
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE treatments_shortlink, treatments_reminder")
            alone, alone_here, alone_server = timed_bulk(args.batch, 1)
            rows += [
                ("one connection: inserted", f"{alone.inserted:,}"),
                ("one connection: wall time", f"{alone.seconds:.1f} s"),
                ("one connection: CPU here / in PostgreSQL", cpu_text(alone_here, alone_server)),
                ("one connection: load average after", f"{os.getloadavg()[0]:.2f}"),
                (
                    f"{first.connections} connections / one: wall time",
                    f"{first.seconds / alone.seconds:.2f}",
                ),
            ]

        if not args.no_trigger_run:
            log("planning into an empty outbox with row triggers off ...")
            total = Reminder.objects.count()
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE treatments_shortlink, treatments_reminder")
                # For the planning threads' new connections too.
                cursor.execute(f"ALTER DATABASE {database} SET session_replication_role = replica")
                cursor.execute("SET session_replication_role = replica")
            third, third_here, third_server = timed_bulk(args.batch, args.connections)
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {database} RESET session_replication_role")
                cursor.execute("SET session_replication_role = DEFAULT")
            rows += [
                ("bulk without row triggers: inserted", f"{third.inserted:,} (before: {total:,})"),
                ("bulk without row triggers: wall time", f"{third.seconds:.1f} s"),
                (
                    "bulk without row triggers: CPU here / in PostgreSQL",
                    cpu_text(third_here, third_server),
                ),
                (
                    "row triggers' cost (FK checks)",
                    f"{first.seconds - third.seconds:.1f} s "
                    f"({(first.seconds - third.seconds) / first.seconds:.0%} of the first run)",
                ),
                (
                    "row triggers' cost in PostgreSQL CPU",
                    f"{sum(first_server) - sum(third_server):.1f} s",
                ),
            ]
        rows.append(("peak RSS of the whole run", f"{peak_rss_mb():.0f} MB"))

    finally:
        drop_database()
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)

    width = max(len(label) for label, _ in rows)
    when = datetime.datetime.now().astimezone()
    print(f"\nCadence planning benchmark, {when:%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores")
    print(f"database: PostgreSQL {database}; batch {args.batch:,} visits")
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return 0


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
