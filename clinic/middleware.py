"""Middleware of our own: refusing NUL bytes, and the Permissions-Policy header."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse


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
