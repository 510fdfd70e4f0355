from django.db import migrations

from clinic.access import sync_role_groups


def grant_treatment_permissions(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0001_initial"),
        ("clinic", "0002_role_groups"),
    ]

    operations = [
        migrations.RunPython(grant_treatment_permissions, migrations.RunPython.noop),
    ]
