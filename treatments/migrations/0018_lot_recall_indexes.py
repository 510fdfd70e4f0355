"""Lot recall at network scale (issue 13): a lot's uses counted and paged in (lot, session)
order on one index, and the superseded versions it leaves out on a small partial index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("treatments", "0017_due_states")]

    operations = [
        migrations.AddIndex(
            model_name="treatmentsession",
            index=models.Index(
                condition=models.Q(("status", "superseded")),
                fields=["id"],
                name="session_superseded_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="vialuse",
            index=models.Index(fields=["lot", "session"], name="vialuse_recall_idx"),
        ),
    ]
