"""API clients: other systems (the hospital EHR, a registry) that read the FHIR API with a
bearer token. The clinic admin creates one, sees its secret once, and may revoke it.

Only the SHA-256 of the secret is stored: the secret is 32 random bytes, so a plain hash is
enough (nothing to brute-force) and lets a call find its client with one indexed query."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q

TOKEN_PREFIX = "cad_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A fresh secret: "cad_" and 43 URL-safe characters (256 bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiClientQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)

    def by_token(self, token: str) -> ApiClient | None:
        """The live client holding `token`, or None: one indexed query on the hash, then a
        constant-time comparison of the hashes."""
        if not token or len(token) > 200:
            return None
        digest = hash_token(token)
        client = self.active().select_related("location").filter(token_hash=digest).first()
        if client is None or not hmac.compare_digest(client.token_hash, digest):
            return None
        return client


class ApiClient(models.Model):
    name = models.CharField(max_length=120)
    # SHA-256 hex of the secret; the secret itself is shown once, at creation, never stored.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters of the secret, to tell tokens apart in the list ("cad_AbC1").
    token_hint = models.CharField(max_length=12, editable=False)
    # FHIR resource type names this client may read ("Patient", "Procedure", ...).
    scopes = models.JSONField(default=list)
    # When set, the client sees only this location's patients and their records.
    location = models.ForeignKey(
        "clinic.Location",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_clients",
        help_text="Leave empty for every location.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = ApiClientQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API client"
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("created_at")),
                name="apiclient_revoked_after_created",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="apiclient_revoked_by_whom",
            ),
            models.CheckConstraint(
                condition=Q(token_hash__regex=r"^[0-9a-f]{64}$"),
                name="apiclient_token_hash_is_sha256",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def may_read(self, type_name: str) -> bool:
        return not self.is_revoked and type_name in (self.scopes or [])
