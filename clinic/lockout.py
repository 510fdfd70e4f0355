"""Lockout after repeated failed logins (django-axes), as the clinic sees it.

django-axes counts failures per account and per source address (AXES_LOCKOUT_PARAMETERS) and
refuses both for AXES_COOLOFF_MINUTES once either reaches AXES_FAILURE_LIMIT. A wrong second
factor counts as a failure of the account too (clinic/mfa.py). The clinic admin sees the
attempts in the admin and can unlock before the cool-off ends."""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Sum
from django.http import HttpRequest
from django.utils import timezone


def client_str(username, ip_address, user_agent, path_info, request) -> str:
    """What axes writes in its log lines: the source and the path, never the username (a
    patient's username is their email address)."""
    if isinstance(path_info, (tuple, list)):
        path_info = path_info[0]
    return f'{{ip_address: "{ip_address}", path_info: "{path_info}"}}'


def record_failure(request: HttpRequest, *, username: str) -> None:
    """Count a failed login step (a wrong second factor) as django-axes counts a wrong
    password: the same signal, so the same limits and the same lockout."""
    user_login_failed.send(__name__, credentials={"username": username}, request=request)


def is_locked_out(request: HttpRequest, *, username: str) -> bool:
    return AxesProxyHandler.is_locked(request, credentials={"username": username})


def locked_usernames(usernames) -> set[str]:
    """Which of these accounts are locked out now (failures within the cool-off at or above
    the limit), in one query."""
    limit = get_failure_limit(None, None)
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    rows = (
        AccessAttempt.objects.filter(username__in=list(usernames), attempt_time__gte=since)
        .values("username")
        .annotate(failures=Sum("failures_since_start"))
        .filter(failures__gte=limit)
    )
    return {row["username"] for row in rows}


def unlock(*, username: str) -> int:
    """Forget the account's failed attempts (and so its lockout); return how many records went.

    The source addresses it failed from are forgotten with it: the clinic admin unlocks a
    person, and that person is usually at the address that locked."""
    ips = set(AccessAttempt.objects.filter(username=username).values_list("ip_address", flat=True))
    count = AxesProxyHandler.reset_attempts(username=username)
    for ip in ips - {None}:
        count += AxesProxyHandler.reset_attempts(ip_address=ip)
    return count
