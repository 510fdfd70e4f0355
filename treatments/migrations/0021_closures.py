"""Closures of a location and leave of a clinician (issue 14, part 2)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from clinic.access import sync_role_groups


def grant_closure_permissions(apps, schema_editor):
    sync_role_groups(apps)  # the clinic admin sets closures and leave; staff see them


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0006_location_slot_minutes_range"),
        ("treatments", "0020_one_active_injection"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Closure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(help_text="The local date.")),
                (
                    "from_time",
                    models.TimeField(
                        blank=True,
                        help_text="Empty: from the start of the day.",
                        null=True,
                        verbose_name="from",
                    ),
                ),
                (
                    "to_time",
                    models.TimeField(
                        blank=True,
                        help_text="Empty: to the end of the day.",
                        null=True,
                        verbose_name="until",
                    ),
                ),
                (
                    "reason",
                    models.CharField(
                        help_text="Shown to staff, e.g. Christmas Day.", max_length=120
                    ),
                ),
                (
                    "clinician",
                    models.ForeignKey(
                        blank=True,
                        help_text="The clinician on leave (leave empty for a location's closure).",
                        limit_choices_to={"role": "clinician"},
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="leave",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "location",
                    models.ForeignKey(
                        blank=True,
                        help_text="The location closed (leave empty for a clinician's leave).",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="closures",
                        to="clinic.location",
                    ),
                ),
            ],
            options={
                "verbose_name": "closure or leave",
                "verbose_name_plural": "closures and leave",
                "ordering": ["day", "from_time", "pk"],
                "indexes": [
                    models.Index(fields=["location", "day"], name="closure_location_day_idx"),
                    models.Index(fields=["clinician", "day"], name="closure_clinician_day_idx"),
                    models.Index(fields=["day"], name="closure_day_idx"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("clinician__isnull", True), ("location__isnull", False)),
                            models.Q(("clinician__isnull", False), ("location__isnull", True)),
                            _connector="OR",
                        ),
                        name="closure_location_xor_clinician",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("from_time__isnull", True),
                            ("to_time__isnull", True),
                            ("from_time__lt", models.F("to_time")),
                            _connector="OR",
                        ),
                        name="closure_times_ordered",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("reason", ""), _negated=True), name="closure_has_reason"
                    ),
                ],
            },
        ),
        migrations.RunPython(grant_closure_permissions, migrations.RunPython.noop),
    ]
