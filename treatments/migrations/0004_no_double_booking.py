"""No double booking, enforced by the database itself (the booking service also takes row
locks first, so a lost race is normally a clean form error; this is the last line).

PostgreSQL: exclusion constraints over the time range of active appointments, per clinician
and per patient. SQLite: triggers that refuse an overlapping active appointment."""

from django.db import migrations

ACTIVE = "('booked', 'arrived')"

POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    *[
        f"ALTER TABLE treatments_appointment ADD CONSTRAINT appt_no_{who}_overlap "
        f"EXCLUDE USING gist ({who}_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
        f"WHERE (status IN {ACTIVE})"
        for who in ("clinician", "patient")
    ],
]
POSTGRES_REVERSE = [
    f"ALTER TABLE treatments_appointment DROP CONSTRAINT appt_no_{who}_overlap"
    for who in ("clinician", "patient")
]

OVERLAP = f"""
    SELECT RAISE(ABORT, 'appointment overlaps another active appointment') WHERE EXISTS (
        SELECT 1 FROM treatments_appointment a
        WHERE a.id IS NOT NEW.id AND a.status IN {ACTIVE}
          AND (a.clinician_id = NEW.clinician_id OR a.patient_id = NEW.patient_id)
          AND a.starts_at < NEW.ends_at AND a.ends_at > NEW.starts_at);
"""
SQLITE = [
    f"CREATE TRIGGER appt_no_overlap_insert BEFORE INSERT ON treatments_appointment "
    f"WHEN NEW.status IN {ACTIVE} BEGIN {OVERLAP} END",
    f"CREATE TRIGGER appt_no_overlap_update BEFORE UPDATE OF starts_at, ends_at, status, "
    f"clinician_id, patient_id ON treatments_appointment "
    f"WHEN NEW.status IN {ACTIVE} BEGIN {OVERLAP} END",
]
SQLITE_REVERSE = ["DROP TRIGGER appt_no_overlap_insert", "DROP TRIGGER appt_no_overlap_update"]


def _run(statements):
    def run(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        for sql in statements.get(vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("treatments", "0003_schedule")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
