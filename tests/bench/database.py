"""The benchmarks' throwaway database (tests/bench/README.md): bench_reminders.py and
bench_planning.py each work in a private database, created before `django.setup()` and
dropped at the end, and check that the no-overlap guard survived the migrations."""

import os
import secrets
from pathlib import Path
from urllib.parse import quote


def use_private_database(tmp: Path):
    """Point the settings (ours and the workers', through the environment) at a throwaway
    database; return a function that drops it."""
    os.environ["VAR_DIR"] = str(tmp)
    os.environ["BROKER_DIR"] = str(tmp / "broker")
    url = os.environ.get("DATABASE_URL", "")
    if not (url or os.environ.get("POSTGRES_HOST") or os.environ.get("POSTGRES_DB")):
        return lambda: None  # SQLite under VAR_DIR, removed with the temporary folder

    import dj_database_url
    import psycopg

    if url:
        params = dj_database_url.parse(url)
        if params["ENGINE"] != "django.db.backends.postgresql":
            raise SystemExit("DATABASE_URL must be a PostgreSQL server (postgres://...).")
        host, port = params["HOST"], params["PORT"]
        user, password = params["USER"], params["PASSWORD"]
    else:
        host, port = os.environ.get("POSTGRES_HOST"), os.environ.get("POSTGRES_PORT")
        user, password = os.environ.get("POSTGRES_USER"), os.environ.get("POSTGRES_PASSWORD")
    host, port, user = host or "127.0.0.1", int(port or 5432), user or "postgres"
    server = {"host": host, "port": port, "user": user, "password": password or None}
    name = f"cadence_bench_{secrets.token_hex(4)}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    os.environ["DATABASE_URL"] = f"postgres://{auth}@{host}:{port}/{name}"

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return drop


def overlap_guard() -> str:
    """Whether the database still refuses double bookings (migration 0004's triggers on
    SQLite, exclusion constraints on PostgreSQL): a table rebuild can drop triggers."""
    from django.db import connection

    sqlite = connection.vendor == "sqlite"
    query = (
        "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND name LIKE 'appt_no_overlap_%'"
        if sqlite
        else "SELECT count(*) FROM pg_constraint WHERE conname LIKE 'appt_no_%_overlap'"
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        (found,) = cursor.fetchone()
    what = "triggers" if sqlite else "exclusion constraints"
    return f"{found} of 2 {what}" + ("" if found == 2 else " (MISSING: double booking possible)")
