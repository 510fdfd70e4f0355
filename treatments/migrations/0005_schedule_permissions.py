from django.db import migrations

from clinic.access import sync_role_groups


def grant_schedule_permissions(apps, schema_editor):
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [("treatments", "0004_no_double_booking")]

    operations = [
        migrations.RunPython(grant_schedule_permissions, migrations.RunPython.noop),
    ]
