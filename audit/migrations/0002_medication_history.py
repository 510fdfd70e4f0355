from django.db import migrations

TABLES = ("patients_patientmedication", "patients_medicationreport")


def install(apps, schema_editor):
    """The history trigger on the medication list and the patients' reports (audit/triggers.py):
    PostgreSQL's function exists since 0001; SQLite's triggers are generated again from the
    tables as they are (post_migrate does it too)."""
    from audit import triggers

    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(triggers.postgres_history(table))
    else:
        triggers.install(connection)


def uninstall(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in TABLES:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER IF EXISTS audit_history ON {table}")
            else:
                for operation in ("insert", "update", "delete"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS audit_history_{table}_{operation}")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_trail"),
        ("patients", "0007_medication_list"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
