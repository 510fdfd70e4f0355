"""Peak memory of the FHIR bulk export at 1x and 10x the demo clinic (issue 17; see
tests/bench/README.md, "FHIR bulk export"). Not part of `make test`:

    .venv/bin/python tests/bench/bench_fhir_export.py                 # SQLite, the default
    POSTGRES_HOST=127.0.0.1 POSTGRES_USER=postgres .venv/bin/python tests/bench/bench_fhir_export.py

1. A throwaway database (tests/bench/database.py), migrated, with the demo clinic
   (`seed_demo`), and a throwaway MEDIA_ROOT.
2. 1x: the clinic admin's export of every type runs in a fresh child process (so that its
   peak RSS is the export's, not the seeding's); the child prints its peak RSS before and
   after the export, the lines written and the time.
3. 10x: the demo's people and records are bulk-copied 9 times by SQL (every patient-owned
   table the mappers read, and the users, with ids offset, MRNs and usernames suffixed: each
   copy has its own clinicians, so no booking overlaps another), triggers off during the copy
   (SQLite: dropped and recreated; PostgreSQL: session_replication_role = replica). Then the
   same export in a fresh child.
4. It prints both peaks, their ratio (flat is about 1), and the growth over the child's
   baseline (the memory the export itself took).
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
COPIED = [
    ("clinic", "User"),
    ("patients", "Patient"),
    ("patients", "ContactConsent"),
    ("patients", "PatientMedication"),
    ("patients", "DiaryEntry"),
    ("patients", "QuestionnaireResponse"),
    ("treatments", "TreatmentCourse"),
    ("treatments", "Appointment"),
    ("treatments", "TreatmentSession"),
    ("treatments", "InjectionSite"),
    ("treatments", "VialUse"),
    ("treatments", "AdverseEvent"),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def setup_django() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-any-deployment-0123456789")
    import django

    django.setup()


def child() -> None:
    """In a fresh process: one export by the demo's clinic admin; print JSON figures."""
    setup_django()
    from django.utils import timezone

    from clinic.models import User
    from treatments.fhir.access import FhirAccess
    from treatments.fhir.export import export_types, run_export, start_export

    admin = User.objects.get(username="admin")
    access = FhirAccess(user=admin, client=None)
    job = start_export(
        access=access,
        types=export_types(access, None),
        request_url="http://bench/fhir/R4/$export",
        now=timezone.now(),
    )
    baseline = peak_rss_mb()
    started = time.monotonic()
    outcome = run_export(job_id=job.pk)
    elapsed = time.monotonic() - started
    job.refresh_from_db()
    print(
        json.dumps(
            {
                "outcome": outcome,
                "baseline_mb": baseline,
                "peak_mb": peak_rss_mb(),
                "seconds": elapsed,
                "lines": sum(item["count"] for item in job.output),
                "output": job.output,
            }
        )
    )


def export_in_child() -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"the export child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def copy_demo(copies: int) -> None:
    """Bulk-copy the demo's rows `copies` times (see the module's docstring, step 3)."""
    from django.apps import apps
    from django.db import connection, transaction
    from django.db.models import ForeignKey

    models = [apps.get_model(app, name) for app, name in COPIED]
    copied = set(models)
    with connection.cursor() as cursor:
        biggest = 0
        for model in models:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {model._meta.db_table}")
            biggest = max(biggest, cursor.fetchone()[0])
    step = 10 ** len(str(biggest))  # ids of copy k: original + k * step
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        triggers = _triggers_off(cursor)
        for k in range(1, copies + 1):
            offset = k * step
            for model in models:
                columns, values = [], []
                for field in model._meta.concrete_fields:
                    column = quote(field.column)
                    columns.append(column)
                    remapped = isinstance(field, ForeignKey) and field.related_model in copied
                    if field.primary_key or remapped:
                        values.append(f"{column} + {offset}")
                    elif field.unique and field.get_internal_type() == "CharField":
                        values.append(f"{column} || '~{k}'")
                    elif field.unique:
                        values.append("NULL")
                    else:
                        values.append(column)
                table = quote(model._meta.db_table)
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {', '.join(values)} FROM {table} WHERE id < {step}"
                )
        _triggers_on(cursor, triggers)
        if connection.vendor == "postgresql":
            for model in models:  # the sequences past the copies' ids
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )


def _triggers_off(cursor) -> list[str]:
    from django.db import connection

    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL session_replication_role = replica")
        return []
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f'DROP TRIGGER "{name}"')
    return [sql for _, sql in found]


def _triggers_on(cursor, triggers: list[str]) -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        cursor.execute("SET LOCAL session_replication_role = origin")
        return
    for sql in triggers:
        cursor.execute(sql)


def counts() -> dict[str, int]:
    from django.apps import apps

    return {name: apps.get_model(app, name).objects.count() for app, name in COPIED}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--times", type=int, default=10, help="the larger clinic, x the demo")
    parser.add_argument("--batch", type=int, default=None, help="FHIR_EXPORT_BATCH")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return 0
    if args.batch is not None:
        os.environ["FHIR_EXPORT_BATCH"] = str(args.batch)
    sys.path.insert(0, str(BASE_DIR))
    from tests.bench.database import use_private_database

    tmp = Path(tempfile.mkdtemp(prefix="cadence-bench-"))
    os.environ["MEDIA_ROOT"] = str(tmp / "media")
    drop_database = lambda: None  # noqa: E731
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        drop_database = use_private_database(tmp)
        setup_django()
        from django.core.management import call_command
        from django.db import connection

        log(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        call_command("migrate", verbosity=0)
        call_command("seed_demo", verbosity=0)
        connection.close()  # the children open their own
        small_counts = counts()
        small = export_in_child()
        log(f"1x: {small_counts}")
        log(f"1x export: {small}")
        copy_demo(args.times - 1)
        connection.close()
        large_counts = counts()
        large = export_in_child()
        log(f"{args.times}x: {large_counts}")
        log(f"{args.times}x export: {large}")
        ratio = large["peak_mb"] / small["peak_mb"]
        grew_small = small["peak_mb"] - small["baseline_mb"]
        grew_large = large["peak_mb"] - large["baseline_mb"]
        print(f"database: {connection.vendor}; batch {os.environ.get('FHIR_EXPORT_BATCH', 100)}")
        print(
            f"1x:  {small_counts['Patient']:>6} patients, {small['lines']:>7} NDJSON lines, "
            f"{small['seconds']:6.1f} s, peak RSS {small['peak_mb']:7.1f} MB "
            f"(+{grew_small:.1f} MB over the process before the export)"
        )
        print(
            f"{args.times}x: {large_counts['Patient']:>6} patients, {large['lines']:>7} NDJSON "
            f"lines, {large['seconds']:6.1f} s, peak RSS {large['peak_mb']:7.1f} MB "
            f"(+{grew_large:.1f} MB over the process before the export)"
        )
        print(f"peak ratio {args.times}x / 1x: {ratio:.2f} (flat: about 1)")
        return 0 if small["outcome"] == large["outcome"] == "done" else 1
    finally:
        drop_database()


if __name__ == "__main__":
    sys.exit(main())
