"""Bulk FHIR exports (FHIR Bulk Data Access, system level `$export`): one row per kick-off,
claimed and run by a task (treatments/fhir/export.py), its NDJSON files under
MEDIA_ROOT/fhir-export/<token>/ until `expires_at`, then deleted with the row."""

import datetime
from pathlib import Path
from typing import Self

from django.conf import settings
from django.db import models
from django.db.models import Q


class ExportJobQuerySet(models.QuerySet):
    def expired(self, now: datetime.datetime) -> Self:
        return self.filter(expires_at__lte=now)

    def requested_by(self, *, user=None, client=None) -> Self:
        """The jobs this requester started: an API client's, or a user's by session. Nobody
        else's job is found (a 404, alike for missing and forbidden)."""
        if client is not None:
            return self.filter(client=client)
        if user is not None and user.is_authenticated:
            return self.filter(user=user, client__isnull=True)
        return self.none()


class ExportJob(models.Model):
    """One `$export` kick-off: who asked (an API client, or a clinic admin by session), which
    resource types, and where it stands. The `token` is the opaque random id in the status and
    file URLs; the primary key never leaves the server (the task gets it)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    token = models.CharField(max_length=43, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    client = models.ForeignKey(
        "treatments.ApiClient",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="exports",
    )
    types = models.JSONField()  # resource type names, in the order they are written
    request_url = models.TextField()  # the kick-off URL, for the manifest's `request`
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.CharField(max_length=60, blank=True)
    output = models.JSONField(default=list)  # [{"type": "Patient", "count": 12}, ...]
    error = models.TextField(blank=True)  # a failure's diagnostics (no patient data)
    created_at = models.DateTimeField()
    # Each claim by a task is an attempt of its own: a run checks after every batch that the
    # job is still running as its attempt (and records the time), so a job whose worker died
    # is taken back after FHIR_EXPORT_STALL_MINUTES and a slow run that lost it stops.
    attempt = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["expires_at"], name="export_job_expiry_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="export_job_stall_idx"),
        ]
        constraints = [
            # an API client asks by its token; a user (a clinic admin) by session: never both
            models.CheckConstraint(
                condition=Q(user__isnull=True, client__isnull=False)
                | Q(user__isnull=False, client__isnull=True),
                name="export_job_one_requester",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done", "failed", "cancelled"]),
                name="export_job_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="export_job_expires_after_creation",
            ),
            # finished exactly when done, failed or cancelled
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running"], finished_at__isnull=True)
                | Q(status__in=["done", "failed", "cancelled"], finished_at__isnull=False),
                name="export_job_finished_when_over",
            ),
            # a running job has a heartbeat (its claim's time, then its last batch's)
            models.CheckConstraint(
                condition=~Q(status="running") | Q(heartbeat_at__isnull=False),
                name="export_job_running_has_heartbeat",
            ),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.status})"

    @property
    def directory(self) -> Path:
        """Where its files are: MEDIA_ROOT/fhir-export/<token>/ (never served as media)."""
        return Path(settings.MEDIA_ROOT) / "fhir-export" / self.token

    def file_path(self, type_name: str) -> Path:
        return self.directory / f"{type_name}.ndjson"
