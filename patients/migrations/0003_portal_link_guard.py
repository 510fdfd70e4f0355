"""A portal account, once linked to a patient, stays that patient's: the database refuses to
re-link it to another account or unlink it, whoever writes (the admin shows the link read-only;
only the invitation links an account, and only to a patient who has none). Otherwise the
other account's owner would read this patient's record in the portal.

SQLite rebuilds a table to alter it, which drops its triggers: patients/apps.py puts this
one back after every migrate."""

from django.db import migrations

MESSAGE = "the portal account of a patient is linked once, by the invitation"
SQLITE = (
    "CREATE TRIGGER IF NOT EXISTS guard_patient_portal_link BEFORE UPDATE OF user_id "
    "ON patients_patient WHEN OLD.user_id IS NOT NULL AND NEW.user_id IS NOT OLD.user_id "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
)
POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION patients_portal_link_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.user_id IS NOT NULL AND NEW.user_id IS DISTINCT FROM OLD.user_id THEN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
      END IF;
      RETURN NEW;
    END $$""",
    "CREATE TRIGGER guard_patient_portal_link BEFORE UPDATE OF user_id ON patients_patient "
    "FOR EACH ROW EXECUTE FUNCTION patients_portal_link_guard()",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER guard_patient_portal_link ON patients_patient",
    "DROP FUNCTION patients_portal_link_guard()",
]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES if vendor == "postgresql" else [SQLITE] if vendor == "sqlite" else []:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for sql in POSTGRES_REVERSE:
            schema_editor.execute(sql)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS guard_patient_portal_link")


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_diary_questionnaires")]

    operations = [migrations.RunPython(forwards, backwards)]
