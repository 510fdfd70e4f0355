"""Payers: the prior authorizations that pay for a patient's sessions, and the documents that
prove them (issue 16). Booking an injection checks them (treatments/services/authorizations.py).

Why no trigger holds the booking rule (only the service does, under the booking's locks): the
rule reads the visit's date in its location's zone (SQLite has no IANA zones), the sessions
signed in the authorization's period, the other visits booked in it and the patient's last dose,
and a clinician may override it. The database holds what a row alone can say: the dates in
order, at least one session and one unit approved, and an override always has its reason
(`appt_authorization_override_has_reason`)."""

import datetime
import secrets
from pathlib import Path
from typing import Self, cast

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Trim
from django.db.models.lookups import GreaterThan

from patients.models import PatientOwnedQuerySet


class AuthorizationQuerySet(PatientOwnedQuerySet):
    def covering(self, patient_id: int, on_date: datetime.date) -> "PriorAuthorization | None":
        """The patient's authorization valid on `on_date` (both ends included); when two
        overlap, the one that started last (a renewal takes over from the old one)."""
        return (
            self.filter(patient_id=patient_id, valid_from__lte=on_date, valid_to__gte=on_date)
            .order_by("-valid_from", "-pk")
            .first()
        )


class PriorAuthorization(models.Model):
    """A payer's approval of a number of sessions and units for a period."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="authorizations"
    )
    payer = models.CharField(max_length=120)
    reference = models.CharField("authorization number", max_length=60)
    sessions_approved = models.PositiveSmallIntegerField()
    units_approved = models.PositiveIntegerField(help_text="Total units across its sessions.")
    valid_from = models.DateField()
    valid_to = models.DateField(help_text="The last day it covers.")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = AuthorizationQuerySet.as_manager()

    # what it has used, annotated by treatments.services.authorizations.with_usage
    sessions_given: int
    units_given: int
    visits_booked: int

    class Meta:
        ordering = ["-valid_from", "-pk"]
        indexes = [
            models.Index(fields=["patient", "valid_from"], name="auth_patient_from_idx"),
            models.Index(fields=["valid_to"], name="auth_valid_to_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__gte=models.F("valid_from")), name="auth_ends_after_it_starts"
            ),
            models.CheckConstraint(
                condition=Q(sessions_approved__gte=1), name="auth_sessions_ge_1"
            ),
            models.CheckConstraint(condition=Q(units_approved__gte=1), name="auth_units_ge_1"),
        ]

    def __str__(self) -> str:
        return f"{self.payer} {self.reference}"


def _document_path(instance: "AuthorizationDocument", filename: str) -> str:
    """A random name under authorizations/: nothing of the patient's or the uploader's file
    name reaches the disk (the original is kept in the row)."""
    suffix = Path(filename).suffix.lower()[:5] if Path(filename).suffix else ""
    return f"authorizations/{secrets.token_hex(16)}{suffix}"


class AuthorizationDocumentQuerySet(models.QuerySet):
    def for_user(self, user) -> Self:
        """The documents of the authorizations of the patients `user` may see."""
        visible = PriorAuthorization.objects.for_user(user)
        return self.filter(authorization__in=visible)

    def present(self) -> Self:
        """Not removed: the documents one may still open."""
        return self.filter(removed_at__isnull=True)


class AuthorizationDocument(models.Model):
    """A scan or letter of a prior authorization, kept under MEDIA_ROOT and streamed only by
    a view that checks the user (never a public URL)."""

    CONTENT_TYPES = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}

    authorization = models.ForeignKey(
        PriorAuthorization, on_delete=models.PROTECT, related_name="documents"
    )
    file = models.FileField(upload_to=_document_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(
        max_length=40, choices=[(value, value) for value in CONTENT_TYPES.values()]
    )
    size = models.PositiveIntegerField(help_text="Bytes.")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # Removed (the wrong patient's letter, a wrong scan): the file is deleted from the disk,
    # the row stays as the record that it was there, who removed it, when and why.
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_reason = models.CharField(max_length=200, blank=True)

    objects = AuthorizationDocumentQuerySet.as_manager()

    class Meta:
        ordering = ["-uploaded_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=["application/pdf", "image/png", "image/jpeg"]),
                name="authdoc_content_type_valid",
            ),
            # removed with who and why, or not removed at all
            models.CheckConstraint(
                condition=cast(
                    Q,
                    Q(removed_at__isnull=True, removed_by__isnull=True, removed_reason="")
                    | (
                        Q(removed_at__isnull=False, removed_by__isnull=False)
                        & GreaterThan(Length(Trim("removed_reason")), 0)
                    ),
                ),
                name="authdoc_removed_with_who_and_why",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name
