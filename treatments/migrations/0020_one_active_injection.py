from django.db import migrations, models
from django.db.models import Count

REASON = (
    "Booked twice for one patient (requests at the same moment, before the one-visit rule of "
    "migration 0020): the earlier visit is kept, this one is cancelled."
)


def cancel_second_bookings(apps, schema_editor):
    """Before the rule, requests at the same moment could book a patient twice. Keep the
    visit the booking page showed as theirs (the earliest) and cancel the others, saying why
    (their reminders are not sent: a send reads the visit's status)."""
    Appointment = apps.get_model("treatments", "Appointment")
    AppointmentEvent = apps.get_model("treatments", "AppointmentEvent")
    active = Appointment.objects.filter(status__in=["booked", "arrived"], kind="injection")
    twice = active.values("patient").annotate(n=Count("id")).filter(n__gt=1)
    for row in twice:
        keep, *others = active.filter(patient=row["patient"]).order_by("starts_at", "pk")
        for appointment in others:
            appointment.status, appointment.cancel_reason = "cancelled", REASON
            appointment.save(update_fields=["status", "cancel_reason"])
            AppointmentEvent.objects.create(
                appointment=appointment, action="cancelled", note=REASON
            )


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0019_due_order_indexes"),
    ]

    operations = [
        migrations.RunPython(cancel_second_bookings, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind", "injection"), ("status__in", ["booked", "arrived"])),
                fields=("patient",),
                name="appt_one_active_injection",
            ),
        ),
    ]
