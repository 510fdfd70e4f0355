"""The reports' and the billing export's read: signed sessions by local date (and location)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0030_export_jobs"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="treatmentsession",
            index=models.Index(
                condition=models.Q(("status", "signed")),
                fields=["given_on", "location"],
                name="session_signed_day_idx",
            ),
        ),
    ]
