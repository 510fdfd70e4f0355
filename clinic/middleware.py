"""Middleware of our own: refusing NUL bytes, the Permissions-Policy header, and the staff
second factor before any page that needs a login."""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url

from clinic import mfa


def _has_nul(items) -> bool:
    return any("\x00" in key or any("\x00" in value for value in values) for key, values in items)


class RejectNulBytesMiddleware:
    """400 Bad Request for a NUL byte in the path or a query parameter.

    No page takes one, and PostgreSQL refuses them in text (a DataError, a server error, from
    a feed token or a lot number in a query). One check here rather than one in every view.
    Posted fields are left to the forms, whose text fields refuse a NUL with a form error
    (Django's ProhibitNullCharactersValidator), so the user keeps the rest of what they typed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or _has_nul(request.GET.lists()):
            raise BadRequest("NUL byte in the request")
        return self.get_response(request)


class PermissionsPolicyMiddleware:
    """Sends settings.PERMISSIONS_POLICY: browser features no page uses stay off, even for a
    script that got in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        return response


# Django's own views that a half-logged-in user may reach: logging out.
EXEMPT_ROUTES = frozenset({"logout", "admin:logout"})


def second_factor_exempt(view):
    """Mark a view that a logged-in staff user may open before the second factor (the
    second-factor pages themselves, logging out)."""
    view.second_factor_exempt = True
    return view


class SecondFactorRequiredMiddleware:
    """After LoginRequiredMiddleware: a staff user whose session has not passed the second
    factor is sent to enter a code, or to enrol an authenticator if they have none yet.

    Public pages (login_not_required) stay open, as for anyone. Django's admin is covered
    too: its views need a login, and its site also checks `mfa.is_verified`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not getattr(view_func, "login_required", True):
            return None
        if getattr(view_func, "second_factor_exempt", False):
            return None
        if request.resolver_match and request.resolver_match.view_name in EXEMPT_ROUTES:
            return None
        user = request.user
        if not mfa.needs_second_factor(user) or mfa.is_verified(request):
            return None
        target = "mfa_verify" if mfa.has_device(user) else "mfa_setup"
        return redirect_to_login(request.get_full_path(), resolve_url(target))
