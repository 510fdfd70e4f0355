"""The waitlist: patients who asked for an earlier slot, and the offers of freed slots made to
them (treatments/services/waitlist.py). The first claim of a slot wins; the database keeps
one waiting entry per patient and one claim per slot."""

import datetime
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q

from patients.models import PatientOwnedQuerySet


class WaitlistEntryQuerySet(PatientOwnedQuerySet):
    def waiting(self) -> Self:
        return self.filter(status=WaitlistEntry.Status.WAITING)


class WaitlistEntry(models.Model):
    """A patient asks (or the front desk asks for them) for an earlier slot at a location."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        BOOKED = "booked", "Booked from an offer"
        WITHDRAWN = "withdrawn", "Withdrawn"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    location = models.ForeignKey(
        "clinic.Location", on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    asked_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = WaitlistEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-asked_at", "-pk"]
        verbose_name_plural = "waitlist entries"
        indexes = [
            # the offering's scan: a location's waiting entries
            models.Index(
                fields=["location", "asked_at"],
                name="waitlist_waiting_idx",
                condition=Q(status="waiting"),
            ),
            models.Index(fields=["-asked_at", "-id"], name="waitlist_order_idx"),  # the list
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"], condition=Q(status="waiting"), name="waitlist_one_waiting"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["waiting", "booked", "withdrawn"]),
                name="waitlist_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist {self.get_status_display().lower()} since {self.asked_at:%Y-%m-%d}"


class SlotOfferQuerySet(models.QuerySet):
    def open(self, now: datetime.datetime) -> Self:
        """Offers still open at `now`: offered and not past their time (`SlotOffer.is_open`,
        the same rule for one row)."""
        return self.filter(status=SlotOffer.Status.OFFERED, expires_at__gt=now)


class SlotOffer(models.Model):
    """A freed slot offered to one waiting entry. Offers of one slot share `slot_key`; at
    most one of them is ever claimed (a partial unique constraint)."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Offered"
        CLAIMED = "claimed", "Claimed"
        TAKEN = "taken", "Taken by another"
        EXPIRED = "expired", "Expired"

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    location = models.ForeignKey("clinic.Location", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # "<clinician id>|<ISO start in UTC>": the slot, whoever it is offered to
    slot_key = models.CharField(max_length=60)
    freed_by = models.ForeignKey(
        "treatments.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The cancelled or moved visit the slot came from.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFERED)
    offered_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        "treatments.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The visit booked (or moved) by the claim.",
    )

    objects = SlotOfferQuerySet.as_manager()

    class Meta:
        ordering = ["-offered_at", "-pk"]
        indexes = [
            models.Index(fields=["-offered_at", "-id"], name="offer_order_idx"),  # the list
        ]
        constraints = [
            # one slot, one claim
            models.UniqueConstraint(
                fields=["slot_key"], condition=Q(status="claimed"), name="offer_one_claim_per_slot"
            ),
            # offering the same slot again (a task run twice) makes no second offer; slot_key
            # first, so that its index also serves every read of a slot's offers (the claim's
            # lock, the offering's and the sweep's "offered yet?")
            models.UniqueConstraint(fields=["slot_key", "entry"], name="offer_once_per_entry"),
            models.CheckConstraint(
                condition=Q(status__in=["offered", "claimed", "taken", "expired"]),
                name="offer_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(claimed_at__isnull=False),
                name="offer_claim_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Offer {self.get_status_display().lower()} for {self.starts_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def key_for(clinician_id: int, starts_at: datetime.datetime) -> str:
        return f"{clinician_id}|{starts_at.astimezone(datetime.UTC).isoformat()}"

    def is_open(self, now: datetime.datetime) -> bool:
        """Offered and not past its time (`SlotOfferQuerySet.open`, the same rule in SQL)."""
        return self.status == self.Status.OFFERED and self.expires_at > now

    def outcome(self, now: datetime.datetime) -> str:
        """The status as it stands now: an offer past its time is expired (expiry is applied
        lazily, when an offer is read or claimed)."""
        if self.status == self.Status.OFFERED and not self.is_open(now):
            return self.Status.EXPIRED.value
        return self.status

    def state(self, now: datetime.datetime) -> str:
        """What a claim of the offer would meet now: "open", or "expired", "closed" (its
        entry no longer waits), "claimed", "taken"."""
        outcome = self.outcome(now)
        if outcome != self.Status.OFFERED:
            return str(outcome)
        if self.entry.status != WaitlistEntry.Status.WAITING:
            return "closed"
        return "expired" if self.starts_at <= now else "open"

    def outcome_label(self, now: datetime.datetime) -> str:
        return str(self.Status(self.outcome(now)).label)
