import django.core.validators
from django.db import migrations, models


def bring_slot_lengths_into_range(apps, schema_editor):
    # A length outside 5-120 minutes never worked (0 made the booking page loop for ever):
    # such a location gets the default, 30, which its clinic admin can change.
    Location = apps.get_model("clinic", "Location")
    Location.objects.exclude(slot_minutes__range=(5, 120)).update(slot_minutes=30)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_lockout_permissions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="location",
            name="slot_minutes",
            field=models.PositiveSmallIntegerField(
                default=30,
                help_text="Length of an appointment slot: 5 to 120 minutes.",
                validators=[
                    django.core.validators.MinValueValidator(5),
                    django.core.validators.MaxValueValidator(120),
                ],
            ),
        ),
        migrations.RunPython(bring_slot_lengths_into_range, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="location",
            constraint=models.CheckConstraint(
                condition=models.Q(("slot_minutes__range", (5, 120))),
                name="location_slot_minutes_range",
            ),
        ),
    ]
