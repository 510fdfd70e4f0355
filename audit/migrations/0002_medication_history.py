from django.db import migrations

TABLES = ("patients_patientmedication", "patients_medicationreport")


def install(apps, schema_editor):
    """The history trigger on the medication list and the patients' reports."""
    from audit import triggers

    triggers.install_history(schema_editor.connection, TABLES)


def uninstall(apps, schema_editor):
    from audit import triggers

    triggers.uninstall_history(schema_editor.connection, TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_trail"),
        ("patients", "0007_medication_list"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
