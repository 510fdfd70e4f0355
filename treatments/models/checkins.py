"""The post-injection check-in: a patient's answers to four questions about a signed session
(docs/clinical-rules.md, "Side effects the patient reports"). One per session: a repeated
submission of the same link finds it and writes nothing."""

from django.conf import settings
from django.db import models

from patients.models import PatientOwnedQuerySet
from treatments.models.session import TreatmentSession


class CheckIn(models.Model):
    class Via(models.TextChoices):
        LINK = "link", "The message's link"
        PORTAL = "portal", "The portal"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="checkins"
    )
    # The version answered about; an amendment moves it to the new version, with its events.
    session = models.OneToOneField(
        TreatmentSession, on_delete=models.PROTECT, related_name="checkin"
    )
    eyelids = models.BooleanField("drooping eyelids")
    neck_pain = models.BooleanField(default=False)
    neck_weakness = models.BooleanField(default=False)
    swallowing = models.BooleanField("trouble swallowing", default=False)
    breathing = models.BooleanField("trouble breathing", default=False)
    speaking = models.BooleanField("trouble speaking", default=False)
    other = models.CharField("anything else", max_length=200, blank=True)
    via = models.CharField(max_length=10, choices=Via.choices)
    answered_by = models.ForeignKey(  # the portal's user; None by the link
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    answered_at = models.DateTimeField(auto_now_add=True)

    objects = PatientOwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-answered_at", "-pk"]

    def __str__(self) -> str:
        return f"Check-in {self.pk}"
