"""No new visit inside a closure or a leave, enforced by the database too (the booking service
checks it under its locks first: `available_slots`; this is the last line).

A row that becomes an active visit (inserted booked or arrived, or moved: its start, end,
clinician or location changed) is refused when a closure of its location or a leave of its
clinician meets it, read on the visit's local day in its location's zone. A status change
alone (a cancellation, a check-in, an undone no-show) is not a move: the visits a new closure
covers are kept and can still be cancelled or moved out (treatments/services/closures.py).

PostgreSQL: a trigger function (an integrity violation), AT TIME ZONE the location's zone.
SQLite: triggers named `guard_appt_closure_*`, which call the zone functions Django registers
on each of its connections (so only Django's connections may write visits), and which
treatments/apps.py drops before a migrate and creates after it (they name other tables). This
migration leaves them to that post_migrate handler: created here, a later migration of the same
run that rebuilds clinic_location (clinic 0007 adds a column) would fail on them."""

from django.db import migrations

ACTIVE = "('booked', 'arrived')"
MESSAGE = "appointment inside a closure or leave"


def _meets(at):
    """A closure meeting the visit NEW; `at(column)` gives NEW.column's local date or time."""
    return f"""SELECT 1 FROM treatments_closure c
        WHERE (c.location_id = NEW.location_id OR c.clinician_id = NEW.clinician_id)
          AND c.day = {at("starts_at", "date")}
          AND (c.from_time IS NULL OR c.from_time < {at("ends_at", "time")})
          AND (c.to_time IS NULL OR c.to_time > {at("starts_at", "time")})"""


ZONE = "(SELECT time_zone FROM clinic_location WHERE id = NEW.location_id)"
SQLITE_MEETS = _meets(lambda col, part: f"django_datetime_cast_{part}(NEW.{col}, {ZONE}, 'UTC')")
MOVED = (
    "(NEW.starts_at IS NOT OLD.starts_at OR NEW.ends_at IS NOT OLD.ends_at "
    "OR NEW.clinician_id IS NOT OLD.clinician_id OR NEW.location_id IS NOT OLD.location_id)"
)
SQLITE = [
    f"CREATE TRIGGER IF NOT EXISTS guard_appt_closure_insert BEFORE INSERT ON treatments_appointment "
    f"WHEN NEW.status IN {ACTIVE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}') WHERE EXISTS ({SQLITE_MEETS}); END",
    f"CREATE TRIGGER IF NOT EXISTS guard_appt_closure_update BEFORE UPDATE OF starts_at, ends_at, "
    f"clinician_id, location_id ON treatments_appointment "
    f"WHEN NEW.status IN {ACTIVE} AND {MOVED} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}') WHERE EXISTS ({SQLITE_MEETS}); END",
]
SQLITE_TRIGGERS = ["guard_appt_closure_insert", "guard_appt_closure_update"]
SQLITE_REVERSE = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]

POSTGRES_MEETS = _meets(lambda col, part: f"(NEW.{col} AT TIME ZONE zone)::{part}")
POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION treatments_appt_closure_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE zone text;
    BEGIN
      IF NEW.status NOT IN {ACTIVE} THEN RETURN NEW; END IF;
      IF TG_OP = 'UPDATE' AND NEW.starts_at = OLD.starts_at AND NEW.ends_at = OLD.ends_at
         AND NEW.clinician_id = OLD.clinician_id AND NEW.location_id = OLD.location_id THEN
        RETURN NEW;
      END IF;
      SELECT time_zone INTO zone FROM clinic_location WHERE id = NEW.location_id;
      IF EXISTS ({POSTGRES_MEETS}) THEN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      RETURN NEW;
    END $$""",
    "CREATE TRIGGER appt_closure_guard BEFORE INSERT OR UPDATE ON treatments_appointment "
    "FOR EACH ROW EXECUTE FUNCTION treatments_appt_closure_guard()",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS appt_closure_guard ON treatments_appointment",
    "DROP FUNCTION IF EXISTS treatments_appt_closure_guard()",
]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("treatments", "0021_closures")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES}),  # SQLite's: post_migrate (treatments/apps.py)
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        ),
    ]
