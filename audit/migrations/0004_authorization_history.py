from django.db import migrations

TABLES = ("treatments_priorauthorization",)


def install(apps, schema_editor):
    """The history trigger on prior authorizations: an edit of the sessions, units or dates a
    payer approved is in the patient's change history, with who made it. (Their documents are
    only ever added, each with its uploader and time.)"""
    from audit import triggers

    triggers.install_history(schema_editor.connection, TABLES)


def uninstall(apps, schema_editor):
    from audit import triggers

    triggers.uninstall_history(schema_editor.connection, TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_fhir_api_calls"),
        ("treatments", "0033_authorization_permissions"),
    ]

    operations = [migrations.RunPython(install, uninstall)]
