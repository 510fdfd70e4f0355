from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache

from clinic.access import AuthenticatedHttpRequest
from clinic.models import User


def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send each role to its own home page."""
    role = request.user.role
    if role == User.Role.PATIENT:
        return redirect("portal:home")
    if role == User.Role.CLINICIAN:
        # A clinician's day starts from their own list: today's calendar, filtered to them.
        return redirect(f"{reverse('treatments:calendar')}?clinician={request.user.pk}")
    if request.user.is_staff_member:
        return redirect("patients:list")
    raise PermissionDenied


@login_not_required
@never_cache
def health(request: HttpRequest) -> HttpResponse:
    """For load balancers and the compose healthcheck: the app answers and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
