"""Proper email (issue 15, item 5): a text and an HTML part, List-Unsubscribe with RFC 8058's
one-click POST, Auto-Submitted, Message-IDs and calendar UIDs at SITE_URL's host (which follows
PORT in the embedded default), and a patient's visits of one day in one message."""

import datetime
import email
import email.policy
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.checks import run_checks
from django.test import Client
from django.urls import reverse

from patients.models import ContactConsent
from patients.services import record_consent
from tests.conftest import local
from treatments import channels
from treatments.links import link_url, make_link_token, site_domain
from treatments.models import Appointment, Reminder
from treatments.models.reminders import SENT_WITH
from treatments.services import book_appointment, set_appointment_status
from treatments.services.reminder_statements import start
from treatments.services.reminders import (
    dispatch_due_reminders,
    render_message,
    send_reminder,
    send_reminders,
)

SITE = "https://cadence.riverside.example"
CLINICAL_WORDS = ("Botox", "botulinum", "migraine", "units", "injection", "review", "Given")


@pytest.fixture
def visit(booked_appointment, time_machine, settings):
    """patient_b's 10:00 New York visit, its patient consenting to email only (so both of its
    reminders are emails), the site at its own address, and the clock stopped at the visit's
    week-before reminder."""
    settings.SITE_URL = SITE
    record_consent(
        patient=booked_appointment.patient,
        channel="email",
        granted=True,
        source="written",
        recorded_by=None,
    )
    time_machine.move_to(week_reminder(booked_appointment).due_at, tick=False)
    return booked_appointment


def week_reminder(appointment) -> Reminder:
    return appointment.reminders.get(kind="visit_week")


class Sink:
    """An SMTP server that keeps the bytes of every message it accepts."""

    def __init__(self):
        self.received: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.received.append(envelope.original_content or envelope.content)
        return "250 OK"


@pytest.fixture
def smtp_sink(settings):
    from aiosmtpd.controller import Controller

    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    channels.close_email_connection()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER = False, ""
    yield sink
    channels.close_email_connection()
    controller.stop()


def send_due(now) -> dict[str, str]:
    return send_reminders(dispatch_due_reminders(now=now))


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def links_in(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', html)


# --- the message -------------------------------------------------------------------------------


def test_a_reminder_email_is_a_text_and_an_html_part_with_list_and_auto_headers(visit, smtp_sink):
    # Given the visit's week-before reminder, due now
    reminder = week_reminder(visit)

    # When it is sent through an SMTP relay
    assert send_due(reminder.due_at) == {str(reminder.pk): "sent"}

    # Then the relay got one multipart/alternative message: text, then HTML, both UTF-8
    [data] = smtp_sink.received
    message = parsed(data)
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), text.get_content_charset()) == ("text/plain", "utf-8")
    assert (html.get_content_type(), html.get_content_charset()) == ("text/html", "utf-8")
    # its headers: a Message-ID at SITE_URL's host, the one-click stop link, a machine's mail
    stop = link_url("stop", patient_id=visit.patient_id, channel="email")
    assert message["Message-ID"] == f"<reminder-{reminder.pk}@cadence.riverside.example>"
    # (a long link goes folded onto its own line: whitespace around it is the fold's)
    assert message["List-Unsubscribe"].strip() == f"<{stop}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["To"] == visit.patient.email
    # and the parts say the same: the same links, in the text and as the HTML's <a>
    confirm = link_url("confirm", appointment_id=visit.pk, sequence=visit.sequence)
    cancel = link_url("cancel", appointment_id=visit.pk, sequence=visit.sequence)
    assert re.findall(r"https://\S+", text.get_content()) == [confirm, cancel, stop]
    assert links_in(html.get_content()) == [confirm, cancel, stop]
    reminder.refresh_from_db()
    assert (reminder.status, reminder.provider_message_id) == ("sent", message["Message-ID"])


def test_the_html_part_is_a_small_accessible_page_with_no_external_resources(visit):
    message = render_message(Reminder.objects.for_sending().get(pk=week_reminder(visit).pk))
    html = message.html

    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert f"<title>{message.subject}</title>" in html
    assert re.search(r"<h1[^>]*>([^<]+)</h1>", html).group(1) == message.subject
    # links say where they go; nothing is fetched when the mail is opened (no tracking pixel)
    assert re.findall(r"<a [^>]*>([^<]+)</a>", html) == [
        "Confirm the visit at 10:00",
        "Cancel the visit at 10:00",
        "No more emails",
    ]
    for loaded in ("<img", "<link", "<script", "<iframe", "src=", "url(", "@import"):
        assert loaded not in html
    for word in CLINICAL_WORDS:
        assert word.lower() not in (message.subject + message.body + html).lower()


def test_the_html_parts_are_valid_html(visit, review, tmp_path):
    from tests.clinic.test_valid_html import vnu_messages

    # Given a visit's email alone, with another visit that day, and a "please book" one
    alone = render_message(Reminder.objects.for_sending().get(pk=week_reminder(visit).pk))
    first, second = week_reminder(visit), week_reminder(review)
    both = render_message(Reminder.objects.for_sending().get(pk=first.pk), companions=[second])
    paths = []
    for name, message in (("alone", alone), ("both", both)):
        path = tmp_path / f"{name}.html"
        path.write_text(message.html)
        paths.append(path)

    # Then the Nu HTML Checker finds nothing wrong
    assert vnu_messages(paths) == []


def test_the_html_part_escapes_the_clinics_words(visit):
    # Given a clinic whose name and address hold markup characters
    location = visit.location
    location.name, location.address = "Smith & <Jones>", 'Suite "4" <b>'
    location.save()

    message = render_message(Reminder.objects.for_sending().get(pk=week_reminder(visit).pk))

    # Then the HTML shows them as text, never as markup
    assert "Smith &amp; &lt;Jones&gt;" in message.html
    assert "Suite &quot;4&quot; &lt;b&gt;" in message.html
    assert "<Jones>" not in message.html
    assert "<b>" not in message.html
    assert "Smith & <Jones>" in message.body  # the text part is text


def test_a_reminders_email_with_its_html_part_takes_the_direct_build(visit):
    message = render_message(Reminder.objects.for_sending().get(pk=week_reminder(visit).pk))
    built = channels.build_email(message)

    assert [mimetype for _, mimetype in built.alternatives] == ["text/html"]
    assert channels.plain_bytes(built) is not None


# --- message ids and calendar ids -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("site_url", "domain"),
    [
        ("https://cadence.example.org", "cadence.example.org"),
        ("https://Cadence.Example.org:8443/clinic/", "cadence.example.org"),
        ("http://127.0.0.1:8123", "127.0.0.1"),
        ("http://[::1]:8000", "[::1]"),
    ],
)
def test_the_domain_of_message_ids_and_calendar_uids_is_site_urls_host(settings, site_url, domain):
    settings.SITE_URL = site_url
    assert site_domain() == domain


def test_the_portals_calendar_names_its_events_at_site_urls_host(visit):
    from treatments.ical import appointments_calendar

    calendar = appointments_calendar([visit]).decode()

    assert f"UID:appointment-{visit.pk}@cadence.riverside.example" in calendar
    assert "@cadence\r" not in calendar


# --- SITE_URL follows PORT ------------------------------------------------------------------------


def settings_in_a_new_process(**env) -> dict[str, str]:
    """SITE_URL and its domain as a fresh process reads them from its environment."""
    environment = {
        name: value for name, value in os.environ.items() if name not in ("SITE_URL", "PORT")
    }
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from treatments.links import site_domain; print(settings.SITE_URL, site_domain())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment | env | {"DJANGO_SETTINGS_MODULE": "clinic.settings"},
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    site_url, domain = result.stdout.split()
    return {"SITE_URL": site_url, "domain": domain}


def test_site_url_unset_follows_the_port_the_app_runs_on():
    assert settings_in_a_new_process(PORT="8123") == {
        "SITE_URL": "http://127.0.0.1:8123",
        "domain": "127.0.0.1",
    }
    assert settings_in_a_new_process()["SITE_URL"] == "http://127.0.0.1:8000"


def test_site_url_set_wins_over_the_port():
    found = settings_in_a_new_process(PORT="8123", SITE_URL="https://cadence.example.org")
    assert found == {"SITE_URL": "https://cadence.example.org", "domain": "cadence.example.org"}


def test_make_run_hands_its_port_to_the_worker_as_site_url():
    # honcho gives the worker and beat ports of their own (+100, +200): the web's port must
    # reach the worker, which writes the links, some other way
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8123"],
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    [start] = [line for line in plan.splitlines() if "honcho start" in line]
    expanded = subprocess.run(
        ["sh", "-c", start.replace(".venv/bin/honcho start --port 8123", "printenv SITE_URL")],
        env={name: value for name, value in os.environ.items() if name != "SITE_URL"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert expanded == "http://127.0.0.1:8123"
    assert "--port 8123" in start


def test_production_refuses_to_start_without_site_url(settings):
    settings.EMBEDDED, settings.SITE_URL_SET = False, False
    assert "treatments.E004" in ids_of(run_checks(include_deployment_checks=True))

    settings.SITE_URL_SET = True
    assert "treatments.E004" not in ids_of(run_checks(include_deployment_checks=True))


def test_the_embedded_default_needs_no_site_url(settings):
    settings.EMBEDDED, settings.SITE_URL_SET = True, False
    assert "treatments.E004" not in ids_of(run_checks(include_deployment_checks=True))


def ids_of(messages) -> set[str]:
    return {message.id for message in messages}


# --- one-click unsubscribe (RFC 8058) ------------------------------------------------------------


@pytest.fixture
def strict():
    """A mail client (or a browser) with CSRF checked, as in production."""
    return Client(enforce_csrf_checks=True)


def stop_path(patient, channel="email") -> str:
    return reverse(
        "links:stop", args=[make_link_token(purpose="stop", patient_id=patient.pk, channel=channel)]
    )


def consents(patient, channel="email"):
    patient.refresh_from_db()
    return patient.consents_to(channel)


ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_a_one_click_post_revokes_email_consent_at_once_without_csrf(strict, visit, encoding):
    # Given a patient who consents to email
    patient = visit.patient
    assert consents(patient) is True

    # When their mail client POSTs List-Unsubscribe=One-Click to the header's link (no
    # cookie, no token, no login), in either form encoding RFC 8058 allows
    if encoding == "urlencoded":
        body = "List-Unsubscribe=One-Click"
        response = strict.post(
            stop_path(patient), body, content_type="application/x-www-form-urlencoded"
        )
    else:
        response = strict.post(stop_path(patient), ONE_CLICK)

    # Then email consent is revoked, from the stop link, at once
    assert response.status_code == 200
    assert consents(patient) is False
    latest = ContactConsent.objects.filter(patient=patient, channel="email").latest("pk")
    assert (latest.granted, latest.source) == (False, ContactConsent.Source.STOP_LINK)
    assert consents(patient, "sms") is None  # the other channel as it was


def test_opening_the_list_unsubscribe_link_changes_nothing(strict, visit):
    response = strict.get(stop_path(visit.patient))

    assert response.status_code == 200
    assert "Stop emails?" in response.content.decode()
    assert consents(visit.patient) is True


def test_a_one_click_post_with_a_bad_token_gets_400_and_changes_nothing(strict, visit):
    token = make_link_token(purpose="stop", patient_id=visit.patient_id, channel="email")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = strict.post(reverse("links:stop", args=[tampered]), ONE_CLICK)

    assert response.status_code == 400
    assert consents(visit.patient) is True


@pytest.mark.parametrize("body", [{}, {"List-Unsubscribe": "one-click"}, {"stop": "1"}])
def test_any_other_post_to_the_stop_link_still_needs_its_csrf_token(strict, visit, body):
    response = strict.post(stop_path(visit.patient), body)

    assert response.status_code == 403
    assert consents(visit.patient) is True


def test_the_stop_pages_own_button_still_works_with_its_csrf_token(strict, visit):
    path = stop_path(visit.patient)
    strict.get(path)
    token = strict.cookies[django_settings.CSRF_COOKIE_NAME].value

    response = strict.post(path, {"csrfmiddlewaretoken": token})

    assert response.status_code == 200
    assert "Emails stopped" in response.content.decode()
    assert consents(visit.patient) is False


def test_the_one_click_body_opens_no_other_link_without_csrf(strict, visit):
    confirm = reverse(
        "links:confirm",
        args=[make_link_token(purpose="confirm", appointment_id=visit.pk, sequence=visit.sequence)],
    )

    response = strict.post(confirm, ONE_CLICK)

    assert response.status_code == 403
    visit.refresh_from_db()
    assert visit.confirmed_at is None


# --- several visits on one day, one message ------------------------------------------------------


@pytest.fixture
def review(visit, clinician, front_desk):
    """A review for the same patient at 14:00 the same day, at the same clinic."""
    return book_appointment(
        patient=visit.patient,
        clinician=clinician,
        location=visit.location,
        starts_at=local(visit.local_starts_at.date(), 14),
        booked_by=front_desk,
        kind=Appointment.Kind.REVIEW,
    )


def test_two_visits_on_one_day_go_in_one_email(visit, review, smtp_sink):
    # Given the 10:00 visit's week-before reminder due now, the 14:00 review's due at 14:00
    first, second = week_reminder(visit), week_reminder(review)
    assert second.due_at - first.due_at == datetime.timedelta(hours=4)

    # When the first is sent
    assert send_due(first.due_at) == {str(first.pk): "sent"}

    # Then one email lists both visits, each with its own links
    [data] = smtp_sink.received
    message = parsed(data)
    text, html = (part.get_content() for part in message.iter_parts())
    when = visit.local_starts_at
    assert message["Subject"] == (
        f"Your appointments at Riverside Clinic on {when:%a %-d %b} at 10:00 and 14:00"
    )
    links = [
        link_url(purpose, appointment_id=appointment.pk, sequence=appointment.sequence)
        for appointment in (visit, review)
        for purpose in ("confirm", "cancel")
    ]
    stop = link_url("stop", patient_id=visit.patient_id, channel="email")
    assert re.findall(r"https://\S+", text) == [*links, stop]
    assert links_in(html) == [*links, stop]
    for word in CLINICAL_WORDS:
        assert word.lower() not in (message["Subject"] + text + html).lower()
    # and the review's reminder is recorded sent in it, with a note, never to go again
    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.status, second.provider_message_id) == ("sent", first.provider_message_id)
    assert second.skip_reason == f"{SENT_WITH} {first.pk}."
    assert second.attempts == 1
    assert send_due(second.due_at) == {}
    assert len(smtp_sink.received) == 1


def test_the_later_visits_reminder_takes_the_earlier_along_when_it_is_due_first(visit, review):
    # Given the review's reminder due first (say the 10:00 visit's was deferred)
    first, second = week_reminder(visit), week_reminder(review)
    Reminder.objects.filter(pk=first.pk).update(due_at=second.due_at + datetime.timedelta(hours=1))

    # When the review's is sent
    assert send_due(second.due_at) == {str(second.pk): "sent"}

    # Then the one message lists the visits in the day's order
    [message] = mail.outbox
    assert message.subject.endswith("at 10:00 and 14:00")
    assert Reminder.objects.get(pk=first.pk).skip_reason == f"{SENT_WITH} {second.pk}."


def test_two_reminders_claimed_in_one_batch_go_as_one_email(visit, review):
    # Given both due and claimed together (a worker was down)
    first, second = week_reminder(visit), week_reminder(review)
    claims = dispatch_due_reminders(now=second.due_at)
    assert sorted(pk for pk, _ in claims) == [first.pk, second.pk]

    # When the batch runs
    results = send_reminders(claims)

    # Then one message went; the second's own send found its row taken
    assert results == {str(first.pk): "sent", str(second.pk): "not-mine"}
    assert len(mail.outbox) == 1
    assert Reminder.objects.get(pk=second.pk).status == "sent"


def test_a_companion_whose_own_send_has_started_is_left_to_it(visit, review):
    # Given the review's reminder claimed and already started by another worker
    first, second = week_reminder(visit), week_reminder(review)
    claims = dict(dispatch_due_reminders(now=second.due_at))
    started, _ = start(second.pk, claims[second.pk], second.due_at)
    assert started is not None

    # When the first is sent
    assert send_reminder(reminder_id=first.pk, claim_token=claims[first.pk]) == "sent"

    # Then its message names its own visit only, and the other send still owns its row
    [message] = mail.outbox
    assert message.subject.endswith(f"on {visit.local_starts_at:%a %-d %b} at 10:00")
    second.refresh_from_db()
    assert (second.status, second.claim_token) == ("claimed", claims[second.pk])
    assert send_reminders([(second.pk, claims[second.pk])]) == {str(second.pk): "not-mine"}


def test_visits_on_other_days_or_cancelled_are_not_taken_along(visit, clinician, front_desk):
    # Given the same patient's review the next day, and one that day since cancelled
    day = visit.local_starts_at.date()
    other_day = book_appointment(
        patient=visit.patient,
        clinician=clinician,
        location=visit.location,
        starts_at=local(day + datetime.timedelta(days=1), 9),
        booked_by=front_desk,
        kind=Appointment.Kind.REVIEW,
    )
    cancelled = book_appointment(
        patient=visit.patient,
        clinician=clinician,
        location=visit.location,
        starts_at=local(day, 15),
        booked_by=front_desk,
        kind=Appointment.Kind.REVIEW,
    )
    set_appointment_status(appointment=cancelled, status="cancelled", by=front_desk, reason="x")
    first = week_reminder(visit)

    # When the first is sent
    assert send_due(first.due_at) == {str(first.pk): "sent"}

    # Then it speaks of its own visit only, and the next day's waits for its own time
    [message] = mail.outbox
    assert message.subject.endswith(" at 10:00")
    assert week_reminder(other_day).status == "pending"
    assert week_reminder(cancelled).status == "cancelled"


def test_a_failed_send_gives_its_companion_back_to_the_outbox(visit, review, monkeypatch):
    # Given a relay that is down
    first, second = week_reminder(visit), week_reminder(review)

    def down(channel, message):
        raise channels.TransientSendError("Connection refused")

    monkeypatch.setattr(channels, "send", down)

    # When the first is sent: it is retried later
    assert send_due(first.due_at) == {str(first.pk): "retry"}

    # Then the review's reminder is back as it was: pending at its own time, unclaimed
    second_after = Reminder.objects.get(pk=second.pk)
    assert (second_after.status, second_after.claim_token, second_after.started_at) == (
        "pending",
        "",
        None,
    )
    assert second_after.due_at == second.due_at
    assert second_after.attempts == 0


def test_texts_are_never_combined(visit, review, settings, tmp_path):
    # Given the patient also consents to SMS: the day-before reminders are texts
    settings.SMS_FILE_PATH = tmp_path / "sms"
    record_consent(
        patient=visit.patient, channel="sms", granted=True, source="written", recorded_by=None
    )
    Reminder.objects.filter(appointment__in=[visit, review], kind="visit_tomorrow").update(
        channel="sms"
    )
    first = visit.reminders.get(kind="visit_tomorrow")
    second = review.reminders.get(kind="visit_tomorrow")
    Reminder.objects.filter(kind="visit_week").update(status="cancelled")  # not this test's

    # When the first is sent
    assert send_due(first.due_at) == {str(first.pk): "sent"}

    # Then it is one text about its own visit; the other waits for its own time
    [text] = list(Path(settings.SMS_FILE_PATH).iterdir())
    assert "14:00" not in text.read_text()
    assert Reminder.objects.get(pk=second.pk).status == "pending"
