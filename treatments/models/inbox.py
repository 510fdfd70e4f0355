"""Texts patients send to the clinic's number (Twilio's inbound webhook). Every one is kept,
whatever it said: STOP, START, HELP and a confirmation are acted on at once and kept as
handled; anything else waits in the front desk's inbox until someone marks it handled."""

from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Case, IntegerField, Q, Value, When

from patients.models import PatientOwnedQuerySet


class InboundMessageQuerySet(PatientOwnedQuerySet):
    def for_inbox(self) -> Self:
        """Open messages first, newest first within open and handled."""
        return (
            self.select_related("patient", "handled_by")
            .annotate(
                closed=Case(
                    When(handled_at__isnull=True, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                )
            )
            .order_by("closed", "-received_at", "-pk")
        )


class InboundMessage(models.Model):
    class Action(models.TextChoices):
        STOP = "stop", "Texts stopped"
        START = "start", "Texts started again"
        HELP = "help", "Sent the clinic's phone number"
        CONFIRM = "confirm", "Next visit confirmed"
        INBOX = "inbox", "For the front desk"

    # None: no patient has this number, or several share it (the front desk decides).
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
    )
    from_number = models.CharField(max_length=32)
    body = models.TextField(blank=True)
    # Twilio's MessageSid: a webhook Twilio sends again is the same message, stored once.
    provider_message_id = models.CharField(max_length=64, unique=True)
    action = models.CharField(max_length=10, choices=Action.choices)
    note = models.CharField(max_length=200, blank=True)  # what was done, or why not
    received_at = models.DateTimeField()
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )

    objects = InboundMessageQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="inbound_order_idx"),
            models.Index(
                fields=["-received_at"],
                condition=Q(handled_at__isnull=True),
                name="inbound_open_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["stop", "start", "help", "confirm", "inbox"]),
                name="inbound_action_valid",
            ),
            # a person marks a message handled; the automatic answers have no one
            models.CheckConstraint(
                condition=Q(handled_by__isnull=True) | Q(handled_at__isnull=False),
                name="inbound_handled_by_only_when_handled",
            ),
        ]

    def __str__(self) -> str:
        return f"Text {self.pk} ({self.get_action_display()})"

    @property
    def is_open(self) -> bool:
        return self.handled_at is None
