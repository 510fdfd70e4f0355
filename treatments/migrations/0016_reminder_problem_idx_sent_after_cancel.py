"""The front desk's reminders list also shows a message sent for a visit cancelled while it was
being handed over (its note is in skip_reason): its partial index covers those rows too."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("treatments", "0015_reminder_lean_indexes")]

    operations = [
        migrations.RemoveIndex(model_name="reminder", name="reminder_problem_idx"),
        migrations.AddIndex(
            model_name="reminder",
            index=models.Index(
                condition=models.Q(
                    ("status__in", ["failed", "skipped"]),
                    models.Q(
                        (
                            "skip_reason__endswith",
                            "It was cancelled while this message was being sent.",
                        ),
                        ("status", "sent"),
                    ),
                    _connector="OR",
                ),
                fields=["-due_at"],
                name="reminder_problem_idx",
            ),
        ),
    ]
