import datetime
import re

import icalendar
import pytest
from django.urls import URLResolver, get_resolver, reverse

from clinic.models import User
from patients.models import ContactConsent
from tests.conftest import clinic_today, local, next_weekday
from treatments.models import AdverseEvent, Appointment
from treatments.services import due_list, reschedule_appointment


@pytest.fixture
def ben(client, booked_appointment):
    """Ben (patient_b) logged in to the portal, with his next visit booked."""
    client.force_login(booked_appointment.patient.user)
    return client


def test_the_home_page_shows_the_next_visit_in_the_clinics_time(ben, booked_appointment):
    html = ben.get(reverse("portal:home")).content.decode()
    when = booked_appointment.local_starts_at
    assert f"{when:%A} {when.day} {when:%B %Y}" in html
    assert f"10:00 {when:%Z}" in html  # EST or EDT: New York's time, not the server's UTC
    assert "Riverside Clinic" in html


def test_confirming_sets_the_time_once(ben, booked_appointment):
    url = reverse("portal:confirm", args=[booked_appointment.pk])
    ben.post(url)
    booked_appointment.refresh_from_db()
    first = booked_appointment.confirmed_at
    ben.post(url)
    booked_appointment.refresh_from_db()
    assert first is not None
    assert booked_appointment.confirmed_at == first


def test_cancelling_needs_a_reason_and_frees_the_slot(ben, booked_appointment):
    url = reverse("portal:cancel", args=[booked_appointment.pk])
    assert "reason" in ben.post(url, {}).context["form"].errors
    ben.post(url, {"reason": "unwell"})
    booked_appointment.refresh_from_db()
    assert booked_appointment.status == "cancelled"
    assert "I am unwell" in booked_appointment.cancel_reason


def test_cancelling_inside_the_cut_off_is_refused_with_the_clinics_phone(ben, booked_appointment):
    Appointment.objects.filter(pk=booked_appointment.pk).update(
        starts_at=booked_appointment.booked_at + datetime.timedelta(hours=5),
        ends_at=booked_appointment.booked_at + datetime.timedelta(hours=5, minutes=30),
    )
    page = ben.post(
        reverse("portal:cancel", args=[booked_appointment.pk]),
        {"reason": "unwell"},
        follow=True,
    ).content.decode()
    booked_appointment.refresh_from_db()
    assert booked_appointment.status == "booked"
    assert "212-555-0142" in page


def test_asking_for_another_date_puts_the_patient_on_the_due_list(
    ben, booked_appointment, front_desk
):
    ben.post(
        reverse("portal:change", args=[booked_appointment.pk]), {"note": "Mornings after the 10th"}
    )
    [entry] = due_list(today=clinic_today())
    assert (entry.patient, entry.reason) == (booked_appointment.patient, "change")
    reschedule_appointment(
        appointment=booked_appointment, starts_at=local(next_weekday(3), 9), by=front_desk
    )
    assert due_list(today=datetime.date.today()) == []  # noqa: DTZ011


def test_the_visit_downloads_as_a_calendar_file(ben, booked_appointment, settings):
    settings.SITE_URL = "https://cadence.example.org"
    response = ben.get(reverse("portal:ics", args=[booked_appointment.pk]))
    event = icalendar.Calendar.from_ical(response.content).walk("VEVENT")[0]
    assert str(event["UID"]) == f"appointment-{booked_appointment.pk}@cadence.example.org"


def test_the_private_feed_follows_a_move_and_stops_when_revoked(
    ben, booked_appointment, front_desk
):
    ben.post(reverse("portal:feed"), {"action": "new"})
    token = User.objects.get(pk=booked_appointment.patient.user.pk).calendar_token
    feed = reverse("calendar_feed", args=[token])
    anonymous = type(ben)()
    before = icalendar.Calendar.from_ical(anonymous.get(feed).content).walk("VEVENT")[0]
    reschedule_appointment(
        appointment=booked_appointment, starts_at=local(next_weekday(3), 9), by=front_desk
    )
    after = icalendar.Calendar.from_ical(anonymous.get(feed).content).walk("VEVENT")[0]
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1
    assert after["DTSTART"].dt.hour == 9

    ben.post(reverse("portal:feed"), {"action": "new"})  # a new link replaces the old one
    assert anonymous.get(feed).status_code == 404
    ben.post(reverse("portal:feed"), {"action": "stop"})
    assert User.objects.get(pk=booked_appointment.patient.user.pk).calendar_token is None


def test_my_treatment_lists_sessions_and_a_reported_side_effect_reaches_the_chart(
    ben, booked_appointment, client, clinician
):
    page = ben.get(reverse("portal:treatment")).content.decode()
    assert "treatment 1, 155 units" in page
    assert "trouble swallowing" in page
    ben.post(
        reverse("portal:treatment"),
        {"term": "eyelid_ptosis", "onset": "2026-03-05", "severity": "mild"},
    )
    event = AdverseEvent.objects.get(term="eyelid_ptosis")
    assert (event.reported_by, event.recorded_by) == ("patient", booked_appointment.patient.user)
    client.force_login(clinician)
    chart = client.get(reverse("treatments:chart", args=[booked_appointment.patient.pk]))
    assert "Eyelid ptosis" in chart.content.decode()


def test_contact_preferences_apply_from_the_next_message(ben, booked_appointment):
    ben.post(reverse("portal:contact"), {"channel": "sms", "granted": "true"})
    ben.post(reverse("portal:contact"), {"channel": "sms", "granted": "false"})
    patient = booked_appointment.patient
    assert [
        (c.granted, c.source) for c in ContactConsent.objects.filter(patient=patient).order_by("pk")
    ] == [(True, "portal"), (False, "portal")]
    assert patient.current_consents()["sms"].granted is False


def test_nothing_booked_shows_when_the_next_treatment_is_due(ben, booked_appointment):
    Appointment.objects.filter(pk=booked_appointment.pk).update(
        status="cancelled", cancel_reason="x"
    )
    html = ben.get(reverse("portal:home")).content.decode()
    assert "Your next treatment is <strong>due now</strong>" in html
    assert "it was due on 25 May 2026" in html  # 84 days after 2 March


def portal_routes_with_ids():
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and str(pattern.pattern) == "portal/":
            for route in pattern.url_patterns:
                if "<int:" in str(route.pattern):
                    yield str(route.pattern)


@pytest.mark.parametrize("route", list(portal_routes_with_ids()))
def test_another_patients_id_gives_404_on_every_portal_route(
    client, booked_appointment, patient_a, route
):
    # Ben's visit, opened by Alice: every portal route that takes an id must say 404
    client.force_login(patient_a.user)
    url = "/portal/" + re.sub(r"<int:\w+>", str(booked_appointment.pk), route)
    answers = {
        client.get(url).status_code,
        client.post(url, {"reason": "unwell", "note": "x"}).status_code,
    }
    assert 404 in answers  # the method the route takes finds nothing
    assert answers <= {404, 405}  # the other is refused before any lookup
    booked_appointment.refresh_from_db()
    assert (booked_appointment.status, booked_appointment.confirmed_at) == ("booked", None)


def test_the_home_page_asks_for_questionnaires_before_a_visit(ben, booked_appointment):
    # the visit is within 14 days and nothing has been answered since
    html = ben.get(reverse("portal:home")).content.decode()
    assert 'id="questionnaires-due"' in html
    assert reverse("portal:hit6") in html


def test_nothing_booked_and_not_yet_due_shows_the_due_and_earliest_dates(ben, booked_appointment):
    from treatments.models import TreatmentCourse

    Appointment.objects.filter(pk=booked_appointment.pk).update(
        status="cancelled", cancel_reason="x"
    )
    last = clinic_today() - datetime.timedelta(days=10)
    TreatmentCourse.objects.filter(patient=booked_appointment.patient).update(last_session_on=last)
    html = ben.get(reverse("portal:home")).content.decode()
    due = last + datetime.timedelta(days=84)
    assert f"Your next treatment is due on <strong>{due:%A} {due.day} {due:%B %Y}" in html
    assert "it can be booked from" in html
