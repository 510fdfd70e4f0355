"""The due list in its own order on its partial indexes (issue 13): a page of the working list,
or of a location's, reads its 50 index entries instead of sorting every workable due state
(31,000 at network scale). They replace the indexes on (next_due_on) and (location,
next_due_on)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("treatments", "0018_lot_recall_indexes")]

    operations = [
        migrations.RemoveIndex(
            model_name="duestate",
            name="due_workable_idx",
        ),
        migrations.RemoveIndex(
            model_name="duestate",
            name="due_location_idx",
        ),
        migrations.AddIndex(
            model_name="duestate",
            index=models.Index(
                models.ExpressionWrapper(
                    models.Q(("next_due_on__isnull", False)), output_field=models.BooleanField()
                ),
                models.F("next_due_on"),
                models.F("last_name"),
                models.F("first_name"),
                models.F("patient_id"),
                condition=models.Q(
                    ("declined", False),
                    models.Q(
                        ("change_requested", True),
                        models.Q(("active", True), ("booked", False)),
                        _connector="OR",
                    ),
                ),
                name="due_order_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="duestate",
            index=models.Index(
                models.F("location"),
                models.ExpressionWrapper(
                    models.Q(("next_due_on__isnull", False)), output_field=models.BooleanField()
                ),
                models.F("next_due_on"),
                models.F("last_name"),
                models.F("first_name"),
                models.F("patient_id"),
                condition=models.Q(
                    ("declined", False),
                    models.Q(
                        ("change_requested", True),
                        models.Q(("active", True), ("booked", False)),
                        _connector="OR",
                    ),
                ),
                name="due_location_order_idx",
            ),
        ),
    ]
