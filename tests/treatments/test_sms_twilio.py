"""The Twilio SMS adapter (treatments/sms_twilio.py) against a local stand-in for Twilio's
Messages API (tests/fake_twilio.py): what it sends, and what each answer does to the outbox."""

import datetime
import logging
import time

import pytest
from django.utils import timezone

from clinic.models import Location, User
from patients.models import ContactConsent, Patient
from tests.conftest import free_port
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, SITE_URL
from treatments import channels
from treatments.models import Appointment, Reminder
from treatments.services.reminders import dispatch_due_reminders, send_reminders
from treatments.sms_twilio import TwilioSmsBackend


def make_texts(count: int, *, first_phone: int = 1000, cancelled_every: int = 0) -> list[Reminder]:
    """`count` patients consenting to SMS, each with their own mobile number, a visit in three
    days and its "visit tomorrow" text due a minute ago; every `cancelled_every`-th visit is
    cancelled (its text must not go)."""
    location = Location.objects.create(
        name="Riverside Clinic",
        address="120 Riverside Drive",
        phone="+12125550142",
        time_zone="America/New_York",
    )
    clinician = User.objects.create(username="texter", role="clinician")
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"T-{n:05d}",
            first_name="Test",
            last_name=f"Texted{n}",
            date_of_birth=datetime.date(1980, 1, 1),
            sex="female",
            phone=f"+1212555{first_phone + n:04d}",
            location=location,
        )
        for n in range(count)
    )
    ContactConsent.objects.bulk_create(
        ContactConsent(patient=p, channel="sms", granted=True, source="written") for p in patients
    )
    now = timezone.now()  # one read of the suite's clock: every instant derives from it
    start = now + datetime.timedelta(days=3)
    visits = Appointment.objects.bulk_create(
        Appointment(
            patient=p,
            location=location,
            clinician=clinician,
            booked_by=clinician,
            starts_at=start + datetime.timedelta(minutes=30 * n),
            ends_at=start + datetime.timedelta(minutes=30 * n + 30),
            **(
                {"status": "cancelled", "cancel_reason": "test"}
                if cancelled_every and n % cancelled_every == 0
                else {}
            ),
        )
        for n, p in enumerate(patients)
    )
    due = now - datetime.timedelta(minutes=1)
    return Reminder.objects.bulk_create(
        Reminder(
            patient=v.patient,
            appointment=v,
            subject_key=f"appointment:{v.pk}:0",
            kind="visit_tomorrow",
            channel="sms",
            due_at=due,
        )
        for v in visits
    )


@pytest.fixture
def due_text(db, settings, fake_twilio):
    """One due text, outside quiet hours, and the adapter pointed at the fake Twilio."""
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 24, 0
    [reminder] = make_texts(1)
    return reminder


def send_due() -> dict[str, str]:
    return send_reminders(dispatch_due_reminders())


def a_text(to="+12125551234", body="Your appointment at Riverside Clinic.") -> channels.Message:
    return channels.Message(to=to, subject="", body=body, key="reminder-1")


# --- success ------------------------------------------------------------------------------------


def test_a_text_goes_to_twilio_with_number_sender_body_and_callback_and_its_sid_is_kept(
    due_text, fake_twilio
):
    # When the due text is sent through the adapter
    assert send_due() == {str(due_text.pk): "sent"}

    # Then Twilio got one authenticated request on the account's Messages resource, with the
    # patient's number, the clinic's sender, the rendered text and the status callback
    [request] = fake_twilio.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form["To"] == "+12125551000"
    assert request.form["From"] == FROM_NUMBER
    assert "MessagingServiceSid" not in request.form
    assert request.form["Body"].startswith("Riverside Clinic: visit ")
    assert "Stop texts: " in request.form["Body"]
    assert request.form["StatusCallback"] == f"{SITE_URL}/webhooks/twilio/status/"
    # and the reminder is sent, with Twilio's message SID as the provider's id
    [accepted] = fake_twilio.messages
    due_text.refresh_from_db()
    assert (due_text.status, due_text.provider_message_id) == ("sent", accepted["sid"])
    assert accepted["sid"].startswith("SM")
    assert len(accepted["sid"]) == 34


def test_a_messaging_service_is_named_as_the_sender_by_its_sid(fake_twilio, settings):
    # Given the sender is a Messaging Service
    settings.TWILIO_FROM = "MG" + "ab" * 16

    # When a text is sent
    sid = TwilioSmsBackend(timeout=2).send(a_text())

    # Then Twilio is asked to send it from that service, not from a number
    [request] = fake_twilio.requests
    assert request.form["MessagingServiceSid"] == settings.TWILIO_FROM
    assert "From" not in request.form
    assert sid == fake_twilio.messages[0]["sid"]


def test_the_adapter_is_chosen_by_the_setting_and_given_the_timeout(fake_twilio, settings):
    settings.SMS_TIMEOUT = 3
    backend = channels.sms_backend()
    assert isinstance(backend, TwilioSmsBackend)
    assert backend.timeout == 3


def test_nothing_of_a_text_is_logged(fake_twilio, caplog):
    # When a text is sent and one is refused, with every logger at DEBUG
    fake_twilio.answer("ok", "21211")
    with caplog.at_level(logging.DEBUG):
        TwilioSmsBackend(timeout=2).send(a_text(body="Private words"))
        with pytest.raises(channels.PermanentSendError):
            TwilioSmsBackend(timeout=2).send(a_text(body="Private words"))

    # Then neither the number nor the words are in any log record
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "+12125551234" not in logged
    assert "Private words" not in logged


# --- transient errors: back to the outbox ---------------------------------------------------


@pytest.mark.parametrize(("answer", "code"), [("429", 20429), ("500", 20500), ("503", 20503)])
def test_a_rate_limit_or_a_server_error_goes_back_to_the_outbox_to_try_again(
    due_text, fake_twilio, answer, code
):
    # Given Twilio answers the first try with a transient error
    fake_twilio.answer(answer)
    now = timezone.now()

    # When the text is sent
    assert send_due() == {str(due_text.pk): "retry"}

    # Then it waits in the outbox for a later try, with Twilio's reason
    due_text.refresh_from_db()
    assert due_text.status == "pending"
    assert due_text.attempts == 1
    assert due_text.last_error.startswith(f"Twilio {code}: ")
    assert due_text.due_at > now
    assert due_text.provider_message_id == ""


def test_twilio_not_answering_within_the_timeout_is_transient(due_text, fake_twilio, settings):
    # Given Twilio holds the request longer than the SMS timeout
    settings.SMS_TIMEOUT = 1
    fake_twilio.answer("hang")

    # When the text is sent
    began = time.monotonic()
    assert send_due() == {str(due_text.pk): "retry"}

    # Then the send gave up after the timeout, and the text waits for a later try
    assert time.monotonic() - began < 10
    due_text.refresh_from_db()
    assert (due_text.status, due_text.attempts) == ("pending", 1)
    assert due_text.last_error == "Twilio did not answer within 1 s."


def test_twilio_unreachable_is_transient(due_text, settings):
    # Given nothing listens at the API's address
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{free_port()}"

    # When the text is sent, it waits in the outbox for a later try
    assert send_due() == {str(due_text.pk): "retry"}
    due_text.refresh_from_db()
    assert due_text.last_error == "Twilio unreachable: ConnectionError"


def test_a_transient_error_then_success_sends_the_text_once(due_text, fake_twilio, time_machine):
    # Given Twilio rate-limits the first try
    fake_twilio.answer("429")
    assert send_due() == {str(due_text.pk): "retry"}

    # When the backoff has passed and the outbox tries again
    time_machine.move_to(due_text.due_at + datetime.timedelta(minutes=3), tick=False)
    assert send_due() == {str(due_text.pk): "sent"}

    # Then it is sent, once accepted
    due_text.refresh_from_db()
    assert due_text.status == "sent"
    assert [m["sid"] for m in fake_twilio.messages] == [due_text.provider_message_id]


# --- permanent errors: the reminder fails with Twilio's reason --------------------------------


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("21211", "Twilio 21211: The 'To' number is not a valid phone number."),
        ("21610", "Twilio 21610: Attempt to send to unsubscribed recipient"),
        ("21614", "Twilio 21614: 'To' number is not a valid mobile number"),
    ],
)
def test_a_refused_number_fails_the_reminder_with_twilios_code_and_message(
    due_text, fake_twilio, answer, reason
):
    # Given Twilio refuses the number for good
    fake_twilio.answer(answer)

    # When the text is sent
    assert send_due() == {str(due_text.pk): "failed"}

    # Then the reminder has failed with Twilio's reason, which the front desk sees
    due_text.refresh_from_db()
    assert (due_text.status, due_text.attempts, due_text.last_error) == ("failed", 1, reason)
    assert Reminder.objects.needing_attention().filter(pk=due_text.pk).exists()


def test_a_wrong_auth_token_is_refused_by_twilio_and_fails_the_reminder(
    due_text, fake_twilio, settings
):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    assert send_due() == {str(due_text.pk): "failed"}
    due_text.refresh_from_db()
    assert due_text.last_error == "Twilio 20003: Authenticate"
    assert fake_twilio.messages == []


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"])
def test_an_adapter_missing_its_account_or_sender_fails_without_calling_twilio(
    fake_twilio, settings, missing
):
    setattr(settings, missing, "")
    with pytest.raises(channels.PermanentSendError, match="Twilio is not configured"):
        TwilioSmsBackend(timeout=2).send(a_text())
    assert fake_twilio.requests == []
