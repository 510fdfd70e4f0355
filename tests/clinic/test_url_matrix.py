import re

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.shortcuts import resolve_url
from django.urls import URLResolver, get_resolver

from patients.models import Patient
from tests.access_matrix import EXPECTED, ROLES


def walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from walk(pattern.url_patterns, route)
        else:
            yield route


ROUTES = list(dict.fromkeys(walk(get_resolver().url_patterns)))


def test_every_route_is_in_the_matrix():
    missing = [route for route in ROUTES if route not in EXPECTED]
    stale = [route for route in EXPECTED if route not in ROUTES]
    assert missing == [], "routes with no row in tests/access_matrix.py"
    assert stale == [], "rows in tests/access_matrix.py for routes that no longer exist"


def concrete_url(route: str, objects: dict[str, object]) -> str:
    """Fill a route's parameters with real ids, so a GET reaches the view itself."""
    admin_model = re.match(r"admin/(\w+)/(\w+)/<path:object_id>", route)
    model = apps.get_model(*admin_model.groups()) if admin_model else None
    values = {
        "pk": objects[
            "session"
            if route.startswith(("treatments/sessions/", "portal/treatment/"))
            else "adverse_event"
            if route.startswith("treatments/adverse-events/")
            else "alert"
            if route.startswith("treatments/alerts/")
            else "appointment"
            if route.startswith(("treatments/appointments/", "portal/visits/"))
            else "medication"
            if route.startswith("patients/medications/")
            else "medication_report"
            if route.startswith("patients/medication-reports/")
            else "authorization"
            if route.startswith("treatments/authorizations/")
            else "document"
            if route.startswith("treatments/authorization-documents/")
            else "patient"
        ].pk,
        "patient_pk": objects["patient"].pk,
        "object_id": (model.objects.order_by("pk").first().pk if model else objects["patient"].pk),
        "content_type_id": ContentType.objects.get_for_model(Patient).pk,
        "id": objects["user"].pk,
        "uidb64": "MQ",
        "token": "set-password",  # not a valid signed link either
        "code": "abcdefghjk",  # a short link's code no link has
        "day": "2026-01-15",
        "resource_type": "Patient",  # a bulk export's file
        # the FHIR API: the Patient type, and the patient's own id
        "type_name": "Patient",
        "resource_id": objects["patient"].pk,
    }
    url = re.sub(r"\^\(\?P<app_label>[\w|]+\)/\$", "clinic/", route)
    url = url.replace("(?P<url>.*)$", "no-such-page/")
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), url)
    return "/" + url


def outcome(response, login_urls: tuple[str, ...]) -> str:
    if response.status_code == 302:
        return "login" if response["Location"].startswith(login_urls) else "redirect"
    return {
        200: "ok",
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "not_allowed",
    }.get(response.status_code, str(response.status_code))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_the_committed_outcome_on_every_route(
    client, personas, one_of_every_kind, role
):
    # Given one object of every kind, and a patient who is not the user's own (patient_b)
    objects = one_of_every_kind
    if personas[role]:
        client.force_login(personas[role])
    login_urls = (resolve_url("login"), resolve_url("admin:login"))

    # When the role opens every route
    actual = {
        route: outcome(client.get(concrete_url(route, objects)), login_urls) for route in ROUTES
    }

    # Then each outcome is the one in the table
    expected = {route: EXPECTED[route][role] for route in ROUTES}
    wrong = {
        route: f"got {actual[route]}, expected {expected[route]}"
        for route in ROUTES
        if actual[route] != expected[route]
    }
    assert wrong == {}
