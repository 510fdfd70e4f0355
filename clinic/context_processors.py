"""What every page's template needs from the clinic's settings."""

from django.conf import settings
from django.http import HttpRequest


def session(request: HttpRequest) -> dict:
    """`idle_seconds`: how long a session lasts without a request, for the idle warning."""
    return {"idle_seconds": settings.SESSION_COOKIE_AGE}
