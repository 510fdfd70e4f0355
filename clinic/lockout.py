"""Lockout after repeated failed logins (django-axes), as the clinic sees it.

django-axes counts failures per account and per source address (AXES_LOCKOUT_PARAMETERS) and
refuses both for AXES_COOLOFF_MINUTES once either reaches AXES_FAILURE_LIMIT. A wrong second
factor counts as a failure of the account too (mfa_verify in clinic/views.py). The clinic
admin sees the attempts in the admin and can unlock before the cool-off ends."""

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest


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


def forget_failures(*, username: str) -> None:
    """A login is complete (a patient's password; staff's second factor): the account's count
    starts again (as axes' own reset on success would: the address keeps the failures it made
    at other accounts)."""
    AxesProxyHandler.reset_attempts(username=username)


def unlock(*, username: str) -> int:
    """Forget the account's failed attempts (and so its lockout); return how many records went.

    The source addresses it failed from are forgotten with it: the clinic admin unlocks a
    person, and that person is usually at the address that locked."""
    ips = set(AccessAttempt.objects.filter(username=username).values_list("ip_address", flat=True))
    count = AxesProxyHandler.reset_attempts(username=username)
    for ip in ips - {None}:
        count += AxesProxyHandler.reset_attempts(ip_address=ip)
    return count
