from django.db import migrations

from clinic.access import sync_role_groups


def grant_authorization_permissions(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0032_prior_authorization")]

    operations = [
        migrations.RunPython(grant_authorization_permissions, migrations.RunPython.noop),
    ]
