"""Indexes for the due list's hot filters, the reminders list and the admin's orderings (issue
13). Plain AddIndex: no table is rebuilt, so SQLite's no-double-booking triggers stay."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0012_chart_versions"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["starts_at", "id"], name="appt_order_idx"),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(fields=["status", "starts_at", "id"], name="appt_status_order_idx"),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(("status", "noshow")),
                fields=["patient", "starts_at"],
                name="appt_noshow_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(
                    ("change_requested_at__isnull", False), ("status__in", ["booked", "arrived"])
                ),
                fields=["patient"],
                name="appt_change_request_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="appointmentevent",
            index=models.Index(fields=["at", "id"], name="event_order_idx"),
        ),
        migrations.AddIndex(
            model_name="calloutcome",
            index=models.Index(fields=["-recorded_at", "-id"], name="call_order_idx"),
        ),
        migrations.AddIndex(
            model_name="reminder",
            index=models.Index(
                condition=models.Q(("status__in", ["failed", "skipped"])),
                fields=["-due_at"],
                name="reminder_problem_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="treatmentcourse",
            index=models.Index(fields=["-started_on", "-id"], name="course_order_idx"),
        ),
        migrations.AddIndex(
            model_name="treatmentsession",
            index=models.Index(fields=["-administered_at", "-id"], name="session_order_idx"),
        ),
    ]
