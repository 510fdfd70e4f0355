"""R21: a session is recorded once. Each session gets its local date (`given_on`, in its
location's zone) so that the database holds one session per patient per local day; drafts can
be discarded (voided with a reason); a new-session form's one-time token makes resubmission
harmless.

Rows already recorded twice the same day (the bug this fixes: Back and "Save and sign" again)
keep the first; the later ones are voided with a reason naming it, and stay in the history."""

import zoneinfo

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill(apps, schema_editor):
    Session = apps.get_model("treatments", "TreatmentSession")
    kept: dict[tuple[int, object], int] = {}
    rows = Session.objects.select_related("location").order_by("administered_at", "pk")
    for session in rows.iterator():
        zone = zoneinfo.ZoneInfo(session.location.time_zone)
        session.given_on = session.administered_at.astimezone(zone).date()
        fields = ["given_on"]
        first = kept.setdefault((session.patient_id, session.given_on), session.pk)
        if first != session.pk and session.status != "voided":
            session.status = "voided"
            session.voided_reason = f"Recorded twice the same day: session {first} is kept."
            session.voided_at = session.updated_at
            session.appointment_id = None
            fields += ["status", "voided_reason", "voided_at", "appointment"]
        session.save(update_fields=fields)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0004_portal"),
        ("patients", "0002_diary_questionnaires"),
        ("treatments", "0010_alerts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="treatmentsession",
            name="one_session_per_cycle",
        ),
        migrations.RemoveConstraint(
            model_name="treatmentsession",
            name="session_signed_has_signer",
        ),
        migrations.AddField(
            model_name="treatmentsession",
            name="form_token",
            field=models.UUIDField(blank=True, editable=False, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="treatmentsession",
            name="given_on",
            field=models.DateField(editable=False, null=True, verbose_name="given on (local date)"),
        ),
        migrations.AddField(
            model_name="treatmentsession",
            name="voided_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="treatmentsession",
            name="voided_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="treatmentsession",
            name="voided_reason",
            field=models.TextField(blank=True, verbose_name="reason for discarding"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="treatmentsession",
            name="given_on",
            field=models.DateField(editable=False, verbose_name="given on (local date)"),
        ),
        migrations.AlterField(
            model_name="treatmentsession",
            name="status",
            field=models.CharField(
                choices=[("draft", "Draft"), ("signed", "Signed"), ("voided", "Discarded draft")],
                default="draft",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "voided"), _negated=True),
                fields=("course", "cycle_number"),
                name="one_session_per_cycle",
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "voided"), _negated=True),
                fields=("patient", "given_on"),
                name="one_session_per_patient_per_day",
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "voided"), _negated=True),
                    models.Q(
                        models.Q(("voided_reason", ""), _negated=True), ("voided_at__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="session_voided_has_reason",
            ),
        ),
        migrations.AddConstraint(
            model_name="treatmentsession",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "signed"), _negated=True),
                    models.Q(("signed_at__isnull", False), ("signed_by__isnull", False)),
                    _connector="OR",
                ),
                name="session_signed_has_signer",
            ),
        ),
    ]
