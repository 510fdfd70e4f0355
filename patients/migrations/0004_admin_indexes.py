"""The admin's consent changelist sorts newest first on an index (issue 13)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0003_portal_link_guard"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contactconsent",
            index=models.Index(fields=["-recorded_at", "-id"], name="consent_order_idx"),
        ),
    ]
