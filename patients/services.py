from django.db import transaction

from clinic.models import User
from patients.models import ContactConsent, Patient


@transaction.atomic
def record_consent(
    *, patient: Patient, channel: str, granted: bool, source: str, recorded_by: User | None
) -> ContactConsent:
    """Append a consent change for one channel; the latest row is the patient's current state."""
    return ContactConsent.objects.create(
        patient=patient, channel=channel, granted=granted, source=source, recorded_by=recorded_by
    )
