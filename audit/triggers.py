"""The database side of the audit trail: the SQL that records every change to a patient's data
and refuses any change to the audit rows themselves (docs/audit.md).

PostgreSQL: one plpgsql function diffs `to_jsonb(OLD)` and `to_jsonb(NEW)`, so a column added
later is recorded without a new migration. SQLite has no such reflection: its triggers are
generated from the table's columns as the database has them (`PRAGMA table_info`), at migration
time and again after every migrate (`audit.apps`), so a rebuilt or widened table gets them back.

Who made the change comes from the connection: `cadence.actor_id` / `cadence.actor_role` (PG
settings) or the functions `cadence_actor_id()` / `cadence_actor_role()` (SQLite), both fed by
`audit.trail`. A write from outside the app records no actor (NULL).

Every SQLite trigger that refuses writes is named `guard_...`: the test suite's flush lifts those
before it empties the tables (tests/conftest.py).
"""

from __future__ import annotations

# The tables whose every write is recorded, and the column that names the patient.
HISTORY_TABLES = {
    "patients_patient": "id",
    "patients_contactconsent": "patient_id",
    "treatments_appointment": "patient_id",
    "treatments_treatmentsession": "patient_id",
    "treatments_adverseevent": "patient_id",
    "patients_patientmedication": "patient_id",
    "patients_medicationreport": "patient_id",
    "treatments_priorauthorization": "patient_id",
}
APPEND_ONLY_TABLES = ("audit_accessevent", "audit_changeevent")
OPERATIONS = ("insert", "update", "delete")

POSTGRES_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit rows are append-only: % refused on %', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION audit_record_change() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
        new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
        the_row jsonb := COALESCE(new_row, old_row);
        diff jsonb;
    BEGIN
        SELECT jsonb_object_agg(key, jsonb_build_array(old_row -> key, new_row -> key))
          INTO diff
          FROM jsonb_object_keys(COALESCE(old_row, '{}') || COALESCE(new_row, '{}')) AS key
         WHERE key <> 'id'
           AND COALESCE(old_row -> key, 'null') IS DISTINCT FROM COALESCE(new_row -> key, 'null');
        IF diff IS NULL THEN
            RETURN NULL;  -- an UPDATE that changed nothing
        END IF;
        INSERT INTO audit_changeevent
            (at, table_name, record_id, patient_id, operation, actor_id, actor_role, changes)
        VALUES (
            clock_timestamp(), TG_TABLE_NAME, (the_row ->> 'id')::bigint,
            (the_row ->> TG_ARGV[0])::bigint, lower(TG_OP),
            NULLIF(current_setting('cadence.actor_id', true), '')::bigint,
            COALESCE(current_setting('cadence.actor_role', true), ''), diff);
        RETURN NULL;
    END $$
    """,
]


def postgres_install() -> list[str]:
    statements = list(POSTGRES_FUNCTIONS)
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"CREATE TRIGGER guard_{table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
        )
    statements += [postgres_history(table) for table in HISTORY_TABLES]
    return statements


def postgres_history(table: str) -> str:
    """The history trigger on `table`, if the table is there and has none yet: a table added
    to HISTORY_TABLES later (the medication list) gets its trigger from its own migration
    (audit 0002), whichever of the two migrations runs first."""
    return (
        "DO $$ BEGIN "
        f"IF to_regclass('{table}') IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_trigger "
        f"WHERE tgname = 'audit_history' AND tgrelid = to_regclass('{table}')) THEN "
        f"CREATE TRIGGER audit_history AFTER INSERT OR UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION audit_record_change('{HISTORY_TABLES[table]}'); "
        "END IF; END $$"
    )


def install_history(connection, tables) -> None:
    """The history trigger on `tables`, added to HISTORY_TABLES after audit 0001 (a migration
    of their own): PostgreSQL's function exists since 0001; SQLite's triggers are generated
    again from the tables as they are (post_migrate does it too)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(postgres_history(table))
    else:
        install(connection)


def uninstall_history(connection, tables) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS audit_history ON {table}")
            else:
                for operation in OPERATIONS:
                    cursor.execute(f"DROP TRIGGER IF EXISTS audit_history_{table}_{operation}")


def postgres_uninstall() -> list[str]:
    return [
        *[f"DROP TRIGGER guard_{table}_append_only ON {table}" for table in APPEND_ONLY_TABLES],
        *[f"DROP TRIGGER IF EXISTS audit_history ON {table}" for table in HISTORY_TABLES],
        "DROP FUNCTION audit_record_change()",
        "DROP FUNCTION audit_append_only()",
    ]


def sqlite_guards() -> dict[str, str]:
    """name -> CREATE TRIGGER for the append-only audit tables."""
    return {
        f"guard_{table}_no_{operation}": (
            f"CREATE TRIGGER IF NOT EXISTS guard_{table}_no_{operation} "
            f"BEFORE {operation.upper()} ON {table} "
            "BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END"
        )
        for table in APPEND_ONLY_TABLES
        for operation in ("update", "delete")
    }


def sqlite_history(table: str, columns: list[str]) -> dict[str, str]:
    """name -> CREATE TRIGGER recording inserts, updates and deletes on `table`, one trigger per
    operation, each writing one audit_changeevent row with {column: [before, after]} for the
    columns that differ."""
    patient_column = HISTORY_TABLES[table]
    triggers = {}
    for operation in OPERATIONS:
        row = "OLD" if operation == "delete" else "NEW"
        before = {"insert": "NULL", "update": "OLD.{c}", "delete": "OLD.{c}"}[operation]
        after = {"insert": "NEW.{c}", "update": "NEW.{c}", "delete": "NULL"}[operation]
        diffs = " UNION ALL ".join(
            f"SELECT '{column}' AS k, {before.format(c=_q(column))} AS o, "
            f"{after.format(c=_q(column))} AS n "
            f"WHERE {before.format(c=_q(column))} IS NOT {after.format(c=_q(column))}"
            for column in columns
            if column != "id"
        )
        name = f"audit_history_{table}_{operation}"
        triggers[name] = (
            f"CREATE TRIGGER {name} AFTER {operation.upper()} ON {table} BEGIN "
            "INSERT INTO audit_changeevent "
            "(at, table_name, record_id, patient_id, operation, actor_id, actor_role, changes) "
            f"SELECT strftime('%Y-%m-%d %H:%M:%f', 'now'), '{table}', {row}.id, "
            f"{row}.{_q(patient_column)}, '{operation}', cadence_actor_id(), "
            "cadence_actor_role(), diff FROM ("
            f"SELECT json_group_object(k, json_array(o, n)) AS diff, count(*) AS changed "
            f"FROM ({diffs})) WHERE changed > 0; END"
        )
    return triggers


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def sqlite_columns(cursor, table: str) -> list[str]:
    cursor.execute(f"PRAGMA table_info({table})")
    return [row[1] for row in cursor.fetchall()]


def sqlite_install(cursor) -> None:
    """Create the guards if missing, and (re)create each history trigger whose SQL no longer
    matches the table's columns (a column added, or the table rebuilt and its triggers lost).
    Safe to run again: it changes nothing when all is in place."""
    for sql in sqlite_guards().values():
        cursor.execute(sql)
    cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    existing = dict(cursor.fetchall())
    for table in HISTORY_TABLES:
        columns = sqlite_columns(cursor, table)
        if not columns:
            continue  # the table is not there (yet)
        for name, sql in sqlite_history(table, columns).items():
            if existing.get(name) == sql:
                continue
            cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(sql)


def sqlite_uninstall(cursor) -> None:
    names = [*sqlite_guards()]
    for table in HISTORY_TABLES:
        names += [f"audit_history_{table}_{operation}" for operation in OPERATIONS]
    for name in names:
        cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def install(connection) -> None:
    """Put the audit triggers in place on `connection` (migration and post_migrate)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            sqlite_install(cursor)
        elif connection.vendor == "postgresql":
            for sql in postgres_install():
                cursor.execute(sql)
