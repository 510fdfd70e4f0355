from django.db import migrations

from clinic.access import sync_role_groups


def grant_lockout_permissions(apps, schema_editor):
    # Clinic admins see failed logins (django-axes) and delete them to unlock.
    sync_role_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0004_portal"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [
        migrations.RunPython(grant_lockout_permissions, migrations.RunPython.noop),
    ]
