"""The reminder outbox: one row per message that should go out. The row, not the broker,
holds the due time; a unique key makes a second row for the same message impossible."""

import datetime
from typing import Self

from django.db import models
from django.db.models import Exists, OuterRef, Q, Subquery

from patients.models import Channel, ContactConsent, Patient, PatientOwnedQuerySet
from treatments.models.schedule import Appointment

# Noted on a row whose send had already started when its reminder was cancelled: the send
# finishes it (sent, with this note), or skips it if it had not handed the message over yet.
CANCELLED_WHILE_SENDING = "It was cancelled while this message was being sent."
# Noted on a visit's email reminder that went out in another's message (two visits one day).
SENT_WITH = "Sent in one email with reminder"

# What the front desk must look at: a message that failed or was skipped, and one that went out
# for a visit cancelled while it was being handed over. The list's filter and its partial index
# share this one condition (PostgreSQL uses a partial index only for a query that implies it).
# A message the provider reported it could not deliver (delivery receipts) needs a look too.
NEEDS_ATTENTION = (
    Q(status__in=["failed", "skipped"])
    | Q(status="sent", skip_reason__endswith=CANCELLED_WHILE_SENDING)
    | Q(status="sent", delivery_status__in=["undelivered", "failed"])
)


class ReminderQuerySet(PatientOwnedQuerySet):
    def due(self, now: datetime.datetime) -> Self:
        return self.filter(status=Reminder.Status.PENDING, due_at__lte=now)

    def open(self) -> Self:
        return self.filter(status__in=(Reminder.Status.PENDING, Reminder.Status.CLAIMED))

    def needing_attention(self) -> Self:
        return self.filter(NEEDS_ATTENTION)

    def for_sending(self) -> Self:
        """The rows with what a send checks and writes, in one query: the patient, location,
        visit and course, and the patient's latest consent on the row's channel
        (`consent_granted`: None if never asked); and whether the patient has another booked
        visit at the same place within a day of the row's visit (`other_visit_near`: then,
        and only then, a visit's email looks for reminders to take along, which costs the
        send a statement more)."""
        consent = ContactConsent.objects.filter(
            patient=OuterRef("patient_id"), channel=OuterRef("channel")
        ).order_by("-recorded_at", "-pk")
        day = datetime.timedelta(days=1)
        visit_starts = OuterRef("appointment__starts_at")
        other_visit = Appointment.objects.filter(
            patient_id=OuterRef("patient_id"),
            status=Appointment.Status.BOOKED,
            starts_at__gt=visit_starts - day,
            starts_at__lt=visit_starts + day,
            location_id=OuterRef("appointment__location_id"),
        ).exclude(pk=OuterRef("appointment_id"))
        return (
            self.select_related(
                "patient", "patient__location", "course", "appointment", "appointment__location"
            )
            .order_by()
            .annotate(
                consent_granted=Subquery(consent.values("granted")[:1]),
                other_visit_near=Exists(other_visit),
            )
        )


class Reminder(models.Model):
    class Kind(models.TextChoices):
        VISIT_WEEK = "visit_week", "Visit in a week"
        VISIT_TOMORROW = "visit_tomorrow", "Visit tomorrow"
        DUE_NOT_BOOKED = "due_not_booked", "Next session due, not booked"
        REBOOK_NOSHOW = "rebook_noshow", "Rebook after a missed visit"
        SLOT_OFFER = "slot_offer", "Earlier slot offered"
        CHECKIN = "checkin", "Post-injection check-in"

    Channel = Channel  # the patient's contact channels: one enum for consent and messages

    class Delivery(models.TextChoices):
        """What the provider says of a message handed over (its status callbacks). Callbacks
        arrive out of order: a row only moves forward (DELIVERY_RANK), and the first final
        state stays."""

        UNKNOWN = "", "Unknown"
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CLAIMED = "claimed", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"

    # No index of its own: reminder_sms_cap_idx leads with patient_id and serves every query
    # by patient (and the foreign key's checks); one index less on every planned row.
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="reminders", db_index=False
    )
    appointment = models.ForeignKey(
        "treatments.Appointment",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reminders",
    )
    course = models.ForeignKey(
        "treatments.TreatmentCourse",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reminders",
        db_index=False,  # reminder_course_idx, partial: most rows are a visit's
    )
    offer = models.ForeignKey(
        "treatments.SlotOffer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,  # reminder_offer_idx, partial: few rows are offers
    )
    session = models.ForeignKey(
        "treatments.TreatmentSession",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="checkin_messages",
        db_index=False,  # reminder_session_idx, partial: few rows are check-ins
    )
    # What the message is about, as a stable string: "appointment:12:0" (the visit and its
    # calendar SEQUENCE), "course:5:2026-03-02" (due after that session), "noshow:12",
    # "offer:7" (an earlier slot offered from the waitlist), "checkin:31" (the check-in after that
    # signed session).
    subject_key = models.CharField(max_length=60)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)  # queued for a worker
    started_at = models.DateTimeField(null=True, blank=True)  # a worker began sending
    last_error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    # Defaults in the database too: the bulk planners insert rows with SQL of their own.
    delivery_status = models.CharField(
        max_length=12,
        choices=Delivery.choices,
        blank=True,
        default=Delivery.UNKNOWN,
        db_default=Delivery.UNKNOWN,
    )
    # the provider's error code
    delivery_error = models.CharField(max_length=20, blank=True, default="", db_default="")
    delivery_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReminderQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="reminder_dispatch_idx"),
            models.Index(
                fields=["patient", "channel", "status", "sent_at"], name="reminder_sms_cap_idx"
            ),
            # Only the "due, not booked" rows have a course: the visits' rows (nearly all of
            # them) stay out of this index. A query by course implies course_id IS NOT NULL.
            models.Index(
                fields=["course"], name="reminder_course_idx", condition=Q(course__isnull=False)
            ),
            models.Index(
                fields=["offer"], name="reminder_offer_idx", condition=Q(offer__isnull=False)
            ),
            models.Index(
                fields=["session"],
                name="reminder_session_idx",
                condition=Q(session__isnull=False),
            ),
            # the front desk's list of failed and skipped messages (and those sent for a visit
            # cancelled during the hand-over), newest first
            models.Index(
                fields=["-due_at"], name="reminder_problem_idx", condition=NEEDS_ATTENTION
            ),
            # a delivery receipt finds its row by the provider's id (only handed-over rows)
            models.Index(
                fields=["provider_message_id"],
                name="reminder_provider_id_idx",
                condition=~Q(provider_message_id=""),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_key", "kind", "channel"],
                name="one_reminder_per_subject_kind_channel",
            ),
            models.CheckConstraint(
                condition=Q(status="sent") | Q(sent_at__isnull=True),
                name="reminder_sent_at_only_when_sent",
            ),
            models.CheckConstraint(
                condition=~Q(status="claimed") | ~Q(claim_token=""), name="reminder_claim_has_token"
            ),
            models.CheckConstraint(
                condition=Q(
                    delivery_status__in=["", "queued", "sent", "delivered", "undelivered", "failed"]
                ),
                name="reminder_delivery_status_valid",
            ),
            # only a message handed over has a delivery to report
            models.CheckConstraint(
                condition=Q(delivery_status="") | Q(status="sent"),
                name="reminder_delivery_only_when_sent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.get_channel_display()} ({self.status})"

    @property
    def delivery_label(self) -> str:
        """ "delivered", "undelivered: 30003" (the provider's error code), "" if unknown."""
        if not self.delivery_status:
            return ""
        label = self.get_delivery_status_display().lower()
        return f"{label}: {self.delivery_error}" if self.delivery_error else label

    @property
    def idempotency_key(self) -> str:
        """Carried by the message (email Message-ID, SMS reference) so that a receiver can
        drop a repeat after a crash between hand-over and commit."""
        return f"reminder-{self.pk}"
