"""Short links in text messages: a short random code that stands for one signed link
(treatments/links.py), so that a text fits one segment (treatments/services/short_links.py)."""

import datetime
from typing import Self

from django.db import models
from django.db.models import Q


class ShortLinkQuerySet(models.QuerySet):
    def live(self, now: datetime.datetime) -> Self:
        return self.filter(expires_at__gt=now)

    def expired(self, now: datetime.datetime) -> Self:
        return self.filter(expires_at__lte=now)


class ShortLink(models.Model):
    """`/s/<code>` opens `/r/<purpose>/<token>/`. One per reminder and purpose, so a send that
    is repeated (a retry, a crash after hand-over) texts the same code; the code is unique. It
    expires with its signed token (LINK_MAX_AGE_DAYS), and the token's own expiry still holds."""

    reminder = models.ForeignKey(
        "treatments.Reminder",
        on_delete=models.CASCADE,
        related_name="short_links",
        db_index=False,  # short_link_per_reminder_purpose leads with it
    )
    purpose = models.CharField(max_length=10)
    code = models.CharField(max_length=16, unique=True)
    token = models.TextField()  # the signed token: a credential, never logged
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    objects = ShortLinkQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="short_link_expiry_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["reminder", "purpose"], name="short_link_per_reminder_purpose"
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=["confirm", "cancel", "stop", "offer", "checkin"]),
                name="short_link_purpose_valid",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="short_link_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"Short {self.purpose} link"
