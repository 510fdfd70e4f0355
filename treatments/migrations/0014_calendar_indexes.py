"""Indexes for the hot filters of the staff pages at network scale (issue 13). The calendar's
(location, starts_at) and (clinician, starts_at), the chart's (patient, administered_at) and
the diary's (patient, date) were there already; the open alerts, counted on every clinician's
page and listed first in the inbox, get a partial index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("treatments", "0013_due_list_indexes")]

    operations = [
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                condition=models.Q(("acknowledged_at__isnull", True)),
                fields=["urgency", "-created_at"],
                name="alert_open_idx",
            ),
        ),
    ]
