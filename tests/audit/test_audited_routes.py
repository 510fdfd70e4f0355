"""The audited column of the role x URL matrix: every route that shows a patient's data is in
AUDITED, and opening each one leaves an AccessEvent row naming the user, the patient and the
route."""

import datetime
import re

import pytest
from django.apps import apps
from django.urls import resolve

from audit.models import AccessEvent
from audit.trail import record_id
from patients.models import ContactConsent, Patient
from tests.access_matrix import AUDITED, EXPECTED
from tests.clinic.test_url_matrix import ROUTES, concrete_url
from tests.conftest import (
    clinic_today,
    make_authorization_records,
    make_medication_records,
    make_offer,
    make_patient,
)
from treatments.links import make_link_token
from treatments.models import (
    Alert,
    CallOutcome,
    Closure,
    InboundMessage,
    Reminder,
    TreatmentCourse,
)

STAFF = ("clinician", "front_desk", "clinic_admin")
REACHED = ("ok", "redirect", "bad_request", "not_allowed")
ADMIN_PAGES = ("", "<path:object_id>/change/", "<path:object_id>/history/")
PATIENT_PARAMETER = re.compile(r"<int:(pk|patient_pk)>|<path:object_id>|<str:token>")


def patient_models() -> set[str]:
    """admin paths ("patients/patient") of Patient and of every model with a patient key."""
    found = set()
    for model in apps.get_models():
        fields = {f.name: f for f in model._meta.concrete_fields}
        owner = fields.get("patient")
        if model is Patient or (owner is not None and owner.related_model is Patient):
            found.add(f"{model._meta.app_label}/{model._meta.model_name}")
    return found


def shows_patient_data(route: str) -> bool:
    if not any(EXPECTED[route][role] in REACHED for role in EXPECTED[route]):
        return False  # nobody gets past the door: nothing is shown
    admin = re.match(r"admin/(\w+/\w+)/(.*)$", route)
    if admin:
        # the list, one record's page and its history; not "add", nor the bare id (a redirect)
        page = admin.group(2)
        return admin.group(1) in patient_models() and page in ADMIN_PAGES
    if route == "portal/calendar-feed/":
        return False  # a POST that makes the account a new feed secret: no record is read
    if route.startswith(("portal/", "r/", "feed/", "audit/")):
        return True
    if route.startswith("treatments/api-clients/"):
        return False  # the FHIR API's clients: no patient's record
    if route.startswith("fhir/"):
        return "<" in route  # a type's search or a resource; not the CapabilityStatement
    return route.startswith(("patients/", "treatments/")) and bool(PATIENT_PARAMETER.search(route))


def test_every_route_that_shows_a_patients_data_is_in_the_audited_column():
    missing = [route for route in ROUTES if shows_patient_data(route) and route not in AUDITED]
    stale = [route for route in AUDITED if route not in ROUTES]
    assert missing == []
    assert stale == []


def test_the_rule_knows_a_patient_page_from_a_clinic_page():
    assert shows_patient_data("patients/<int:pk>/")
    assert shows_patient_data("admin/patients/patient/<path:object_id>/change/")
    assert not shows_patient_data("admin/clinic/location/<path:object_id>/change/")
    assert not shows_patient_data("healthz")


@pytest.fixture
def world(personas, patient_b, signed_session, booked_appointment, front_desk):
    """One object of every kind, all patient_b's, who also has a portal login."""
    ContactConsent.objects.create(
        patient=patient_b, channel="email", granted=True, source="written"
    )
    CallOutcome.objects.create(patient=patient_b, outcome="unreachable", recorded_by=front_desk)
    event = signed_session.adverse_events.get()
    alert = Alert.objects.create(patient=patient_b, event=event, urgency="prompt")
    # a reminder that failed (the reminders list) and a patient due but not booked (due list)
    reminder = Reminder.objects.filter(patient=patient_b).order_by("-due_at").first()
    Reminder.objects.filter(pk=reminder.pk).update(status="skipped", last_error="no consent")
    due = make_patient(7, location=patient_b.location)
    TreatmentCourse.objects.create(
        patient=due,
        started_on=clinic_today(),
        last_session_on=clinic_today() - datetime.timedelta(days=80),
    )
    # patient_b waits for an earlier slot and has an offer (the waitlist and its link)
    offer = make_offer(booked_appointment, to=patient_b, by=front_desk)
    patient_b.user.calendar_token = "feed-secret-for-the-audit-test"
    patient_b.user.save()
    # patient_b texted the clinic (the inbox)
    text = InboundMessage.objects.create(
        patient=patient_b,
        from_number=str(patient_b.phone),
        body="Running late",
        provider_message_id="SM" + "0" * 32,
        action="inbox",
        received_at=booked_appointment.starts_at,
    )
    return {
        "patient": patient_b,
        "user": front_desk,
        "session": signed_session,
        "appointment": booked_appointment,
        "adverse_event": event,
        "alert": alert,
        "reminder": reminder,
        "offer": offer,
        "text": text,
        **make_medication_records(patient_b, personas["clinician"]),
        **make_authorization_records(patient_b, front_desk),
    }


def url_for(route: str, objects: dict) -> str:
    appointment = objects["appointment"].pk
    tokens = {
        "r/confirm/<str:token>/": make_link_token(purpose="confirm", appointment_id=appointment),
        "r/cancel/<str:token>/": make_link_token(purpose="cancel", appointment_id=appointment),
        "r/stop/<str:token>/": make_link_token(
            purpose="stop", patient_id=objects["patient"].pk, channel="email"
        ),
        "feed/<str:token>.ics": "feed-secret-for-the-audit-test",
        "r/offer/<str:token>/": make_link_token(purpose="offer", offer_id=objects["offer"].pk),
        "r/checkin/<str:token>/": make_link_token(
            purpose="checkin", session_id=objects["session"].pk
        ),
    }
    if route in tokens:
        return "/" + route.replace("<str:token>", tokens[route])
    if route.startswith("treatments/reminders/<int:pk>"):
        return f"/treatments/reminders/{objects['reminder'].pk}/resend/"
    if route.startswith("treatments/inbox/<int:pk>"):
        return f"/treatments/inbox/{objects['text'].pk}/handled/"
    url = concrete_url(route, objects)
    if route == "treatments/closures/visits/":
        visit = objects["appointment"]
        Closure.objects.create(
            location=visit.location, day=visit.local_starts_at.date(), reason="Burst pipe"
        )
    if route == "treatments/authorizations/":  # the worklist: one that ends soon
        authorization = objects["authorization"]
        authorization.valid_to = clinic_today() + datetime.timedelta(days=10)
        authorization.save()
    if route == "treatments/lots/":
        url += "?lot=C1234AB"
    if route == "treatments/reports/billing.csv":
        day = objects["session"].given_on.isoformat()  # the range of the session's day
        url += f"?from={day}&to={day}"
    if route == "treatments/calendar/":
        visit = objects["appointment"]
        url += f"?location={visit.location_id}&date={visit.local_starts_at.date().isoformat()}"
    return url


def who_opens(route: str, personas, patient_b):
    """The user who may open the route (the record's own patient for portal pages), and how."""
    if route.startswith(("r/", "feed/")):
        return None, "get"
    if route.startswith(("portal/", "audit/mine/")):
        outcome = EXPECTED[route]["patient"]
        return patient_b.user, "post" if outcome == "not_allowed" else "get"
    role = next(role for role in STAFF if EXPECTED[route][role] in REACHED)
    return personas[role], "post" if EXPECTED[route][role] == "not_allowed" else "get"


@pytest.mark.parametrize("route", sorted(AUDITED))
def test_opening_an_audited_route_leaves_a_row_naming_user_patient_and_route(
    client, world, personas, patient_b, route
):
    # Given the user who may open the route
    user, method = who_opens(route, personas, patient_b)
    if user is not None:
        client.force_login(user)
    url = url_for(route, world)

    # When they open it
    response = getattr(client, method)(url, REMOTE_ADDR="203.0.113.7")

    # Then a row says who opened whose record, on which route, from where
    assert response.status_code < 500
    view = resolve(url.split("?")[0]).view_name
    rows = AccessEvent.objects.filter(view=view, user=user)
    assert rows.exists(), f"{route} ({method.upper()} {response.status_code}) left no row"
    row = rows.latest("pk")
    assert row.patient_id in set(Patient.objects.values_list("pk", flat=True))
    assert row.address == "203.0.113.7"
    assert row.method == method.upper()
    assert row.role == (user.role if user else "")


@pytest.mark.parametrize("object_id", ["²", "1²", "9" * 5000, "abc"])
def test_an_admin_object_id_that_is_not_a_row_id_is_recorded_as_none(object_id):
    assert record_id({"object_id": object_id}) is None
    assert record_id({"object_id": "12"}) == 12
