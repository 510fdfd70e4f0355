"""What every page's navbar needs: a clinician's count of open alerts."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from treatments.models import Alert


def alerts(request: HttpRequest) -> dict:
    """`open_alerts` for clinicians: {"open": n, "danger": m}, read by one query, and only when
    a template uses it."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_clinician", False):
        return {}
    return {"open_alerts": SimpleLazyObject(lambda: Alert.objects.for_user(user).open_counts())}
