"""The page benchmark's URLconf (tests/bench/bench_pages.py): Cadence's own URLs plus a bare
view, the yardstick every page is measured against in the same run. Served only by the
benchmark's gunicorn, through the ROOT_URLCONF environment variable."""

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from clinic.models import Location
from clinic.urls import urlpatterns as cadence_urlpatterns

BARE = engines["django"].from_string(
    "<!doctype html><title>bare</title><p>{{ location.name }} ({{ location.time_zone }})</p>"
)


def bare(request: HttpRequest) -> HttpResponse:
    """One query, a small template: what any page costs before its own work (behind the same
    middleware: session, login, second factor)."""
    location = Location.objects.order_by("pk").first()
    return HttpResponse(BARE.render({"location": location}, request))


urlpatterns = [path("bench/bare/", bare, name="bench_bare"), *cadence_urlpatterns]
