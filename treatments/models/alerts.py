"""Alerts: a patient's report of a boxed-warning sign, open until a clinician acknowledges it."""

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, IntegerField, Q, Value, When

from patients.models import PatientOwnedQuerySet
from treatments.models.session import AdverseEvent


class AlertQuerySet(PatientOwnedQuerySet):
    def open(self) -> Self:
        return self.filter(acknowledged_at__isnull=True)

    def for_inbox(self) -> Self:
        """Open alerts first, urgent (danger) before prompt, newest first within each."""
        return (
            self.select_related("patient", "event__session__location", "acknowledged_by")
            .annotate(
                closed=Case(
                    When(acknowledged_at__isnull=True, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                ),
                rank=Case(
                    When(urgency=Alert.Urgency.DANGER, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                ),
            )
            .order_by("closed", "rank", "-created_at", "-pk")
        )

    def open_counts(self) -> dict[str, int]:
        """The number of open alerts and how many of them are urgent, in one query."""
        return self.open().aggregate(
            open=Count("pk"), danger=Count("pk", filter=Q(urgency=Alert.Urgency.DANGER))
        )


class Alert(models.Model):
    """A patient report that a clinician must see: urgent (a danger sign) or prompt."""

    class Urgency(models.TextChoices):
        DANGER = "danger", "Urgent"
        PROMPT = "prompt", "Prompt (within one working day)"

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="alerts")
    event = models.OneToOneField(AdverseEvent, on_delete=models.PROTECT, related_name="alert")
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    note = models.TextField("acknowledgement note", blank=True)

    objects = AlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # Every clinician's page counts the open alerts (the navbar badge) and the inbox
            # lists them first: a small partial index, whatever the history acknowledged.
            models.Index(
                fields=["urgency", "-created_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="alert_open_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(urgency__in=["danger", "prompt"]), name="alert_urgency_valid"
            ),
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                | (Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False) & ~Q(note="")),
                name="alert_acknowledged_with_note_and_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_urgency_display()} alert {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None
