"""Twilio's webhooks (treatments/views/webhooks.py): delivery receipts move a reminder through
queued, sent, delivered, undelivered or failed, only forward; texts from patients stop or start
texts, ask for help, confirm the next visit, or wait in the front desk's inbox. Every request
must carry Twilio's signature; a bad one changes nothing."""

import datetime
from urllib.parse import urlencode

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from patients.models import ContactConsent
from patients.services import record_consent
from tests.conftest import make_patient
from tests.fake_twilio import SITE_URL
from tests.treatments.test_sms_twilio import make_texts, send_due
from treatments.models import InboundMessage, Reminder

STATUS = "/webhooks/twilio/status/"
INBOUND = "/webhooks/twilio/inbound/"


def post(client, fake_twilio, path: str, form: dict, *, signature: str | None = None):
    """POST `form` as Twilio does (form-encoded), signed for SITE_URL + path unless a
    `signature` is given ("" for none)."""
    if signature is None:
        signature = fake_twilio.sign(SITE_URL + path, form)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return client.post(
        path, urlencode(form), content_type="application/x-www-form-urlencoded", headers=headers
    )


@pytest.fixture
def sent_text(db, settings, fake_twilio):
    """A text handed over to the fake Twilio: the reminder, sent, with Twilio's SID."""
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 24, 0
    [reminder] = make_texts(1)
    assert send_due() == {str(reminder.pk): "sent"}
    reminder.refresh_from_db()
    return reminder


def receipt(client, fake_twilio, reminder, status, error_code=""):
    path, form, headers = fake_twilio.receipt(reminder.provider_message_id, status, error_code)
    return client.post(
        path, urlencode(form), content_type="application/x-www-form-urlencoded", headers=headers
    )


# --- delivery receipts ------------------------------------------------------------------------


def test_a_text_reaches_delivered_on_twilios_callbacks(client, fake_twilio, sent_text):
    # When Twilio calls back on the URL the message named: sent, then delivered
    for status in ("queued", "sent", "delivered"):
        assert receipt(client, fake_twilio, sent_text, status).status_code == 204

    # Then the reminder's row says delivered, and when it heard so
    sent_text.refresh_from_db()
    assert (sent_text.status, sent_text.delivery_status) == ("sent", "delivered")
    assert sent_text.delivery_updated_at is not None
    assert sent_text.delivery_label == "delivered"
    assert not Reminder.objects.needing_attention().filter(pk=sent_text.pk).exists()


def test_receipts_out_of_order_never_move_a_text_backwards(client, fake_twilio, sent_text):
    # Given Twilio's "delivered" arrives before its "queued" and "sent"
    for status in ("delivered", "sent", "queued", "undelivered"):
        assert receipt(client, fake_twilio, sent_text, status).status_code == 204

    # Then the later news stays: delivered
    sent_text.refresh_from_db()
    assert sent_text.delivery_status == "delivered"


def test_an_earlier_state_followed_by_a_later_one_moves_forward(client, fake_twilio, sent_text):
    receipt(client, fake_twilio, sent_text, "sent")
    sent_text.refresh_from_db()
    assert sent_text.delivery_status == "sent"
    receipt(client, fake_twilio, sent_text, "queued")
    sent_text.refresh_from_db()
    assert sent_text.delivery_status == "sent"


@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_an_undelivered_text_needs_the_front_desks_attention_with_its_code(
    client, fake_twilio, sent_text, front_desk, status
):
    # When Twilio reports it could not deliver the text (30003: unreachable handset)
    receipt(client, fake_twilio, sent_text, status, "30003")

    # Then the reminder needs attention, and the front desk's list says why
    sent_text.refresh_from_db()
    assert (sent_text.delivery_status, sent_text.delivery_error) == (status, "30003")
    assert Reminder.objects.needing_attention().filter(pk=sent_text.pk).exists()
    client.force_login(front_desk)
    page = client.get(reverse("treatments:reminder_list")).content.decode()
    assert "Sent · not delivered" in page
    assert f"{status}: 30003." in page
    assert "Texted0" in page


def test_a_receipt_with_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    client, fake_twilio, sent_text
):
    path, form, _ = fake_twilio.receipt(sent_text.provider_message_id, "undelivered", "30003")
    # signed with another token; signed for another URL; not signed; a changed form
    forged = fake_twilio.sign(SITE_URL + path, form)[:-4] + "AAA="
    other_url = fake_twilio.sign("https://elsewhere.example.org" + path, form)
    tampered = form | {"MessageStatus": "delivered"}
    for data, signature in (
        (form, forged),
        (form, other_url),
        (form, ""),
        (tampered, fake_twilio.sign(SITE_URL + path, form)),
    ):
        response = post(client, fake_twilio, path, data, signature=signature)
        assert response.status_code == 403
    sent_text.refresh_from_db()
    assert (sent_text.delivery_status, sent_text.delivery_error) == ("", "")


def test_a_receipt_is_refused_without_an_auth_token(client, fake_twilio, sent_text, settings):
    path, form, headers = fake_twilio.receipt(sent_text.provider_message_id, "delivered")
    settings.TWILIO_AUTH_TOKEN = ""
    response = post(client, fake_twilio, path, form, signature=headers["X-Twilio-Signature"])
    assert response.status_code == 403


def test_a_receipt_for_an_unknown_message_is_accepted_and_changes_nothing(
    client, fake_twilio, sent_text
):
    form = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}
    assert post(client, fake_twilio, STATUS, form).status_code == 204
    sent_text.refresh_from_db()
    assert sent_text.delivery_status == ""


@pytest.mark.parametrize(
    "form",
    [
        {"MessageSid": "SM" + "f" * 32, "MessageStatus": "exploded"},
        {"MessageSid": "SM" + "f" * 32},
        {"MessageSid": "'; DROP TABLE--", "MessageStatus": "delivered"},
        {"MessageStatus": "delivered"},
        {"MessageSid": "SM" + "f" * 32, "MessageStatus": "failed", "ErrorCode": "<b>x</b>"},
        {"MessageSid": "SM" + "f" * 32, "MessageStatus": "failed", "ErrorCode": "9" * 300},
    ],
)
def test_a_signed_receipt_with_hostile_values_is_a_bad_request(client, fake_twilio, db, form):
    assert post(client, fake_twilio, STATUS, form).status_code == 400


@pytest.mark.parametrize("path", [STATUS, INBOUND])
def test_the_webhooks_take_only_posts(client, db, path):
    assert client.get(path).status_code == 405


# --- texts from patients ----------------------------------------------------------------------


@pytest.fixture
def texter(db, location, settings, fake_twilio):
    """A patient with their own mobile number, consenting to texts, at the Riverside Clinic."""
    patient = make_patient(40, phone="+12125550140", location=location)
    record_consent(patient=patient, channel="sms", granted=True, source="written", recorded_by=None)
    return patient


SIDS = iter(f"SM{n:032x}" for n in range(1, 10_000))


def text_in(client, fake_twilio, body: str, number="+12125550140", *, sid=None, signature=None):
    form = {
        "MessageSid": sid or next(SIDS),
        "AccountSid": fake_twilio.account_sid,
        "From": number,
        "To": "+12125550199",
        "Body": body,
        "NumMedia": "0",
    }
    return post(client, fake_twilio, INBOUND, form, signature=signature)


def sms_consent(patient) -> ContactConsent:
    return patient.consents.filter(channel="sms").order_by("-recorded_at", "-pk").first()


@pytest.mark.parametrize(
    "word", ["STOP", "stop", "  Stop  ", "STOPALL", "unsubscribe", "CANCEL", "End", "QUIT"]
)
def test_stop_and_the_other_opt_out_words_revoke_sms_consent_at_once(
    client, fake_twilio, texter, word
):
    # When the patient texts an opt-out word
    response = text_in(client, fake_twilio, word)

    # Then SMS consent is revoked, from a text reply, with nothing texted back by us
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert b"<Message>" not in response.content
    consent = sms_consent(texter)
    assert (consent.granted, consent.source) == (False, "sms_reply")
    # and the text is kept, acted on
    message = InboundMessage.objects.get()
    assert (message.patient, message.action, message.body) == (texter, "stop", word)


def test_cancel_also_stays_in_the_inbox_since_it_may_mean_the_visit(client, fake_twilio, texter):
    text_in(client, fake_twilio, "Cancel")
    message = InboundMessage.objects.get()
    assert message.action == "stop"
    assert message.is_open
    assert sms_consent(texter).granted is False


def test_a_stop_text_is_honoured_by_the_very_next_send(client, fake_twilio, settings, db):
    # Given a due text to a patient who consents to texts
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 24, 0
    [reminder] = make_texts(1)

    # When the patient texts STOP before it goes
    text_in(client, fake_twilio, "STOP", number=str(reminder.patient.phone))

    # Then the send skips it for want of consent, and Twilio is never asked
    assert send_due() == {str(reminder.pk): "skipped"}
    reminder.refresh_from_db()
    assert reminder.skip_reason == "No consent to SMS messages."
    assert fake_twilio.requests == []


def test_start_after_stop_grants_texts_again(client, fake_twilio, texter):
    text_in(client, fake_twilio, "STOP")
    response = text_in(client, fake_twilio, "start")
    assert response.status_code == 200
    consent = sms_consent(texter)
    assert (consent.granted, consent.source) == (True, "sms_reply")
    assert list(InboundMessage.objects.order_by("pk").values_list("action", flat=True)) == [
        "stop",
        "start",
    ]


def test_help_answers_with_the_clinics_name_and_phone_and_nothing_of_the_patient(
    client, fake_twilio, texter, location
):
    response = text_in(client, fake_twilio, "help")
    assert response.status_code == 200
    answer = response.content.decode()
    assert "<Response><Message>" in answer
    assert location.name in answer
    assert str(location.phone) in answer
    assert texter.first_name not in answer
    assert texter.last_name not in answer
    assert InboundMessage.objects.get().action == "help"


@pytest.mark.parametrize("word", ["C", "yes", " Yes. "])
def test_c_or_yes_confirms_the_patients_next_booked_visit(
    client, fake_twilio, booked_appointment, settings, word
):
    # Given patient_b has a booked visit and their own number
    patient = booked_appointment.patient
    patient.phone = "+12125550177"
    patient.save(update_fields=["phone"])

    # When they text C or YES
    response = text_in(client, fake_twilio, word, number="+12125550177")

    # Then the visit is confirmed (as the confirm link does), and we say so
    booked_appointment.refresh_from_db()
    assert booked_appointment.confirmed_at is not None
    assert booked_appointment.events.filter(action="confirmed").count() == 1
    assert "is confirmed" in response.content.decode()
    assert InboundMessage.objects.get().action == "confirm"


def test_yes_with_no_booked_visit_goes_to_the_inbox(client, fake_twilio, texter):
    text_in(client, fake_twilio, "YES")
    message = InboundMessage.objects.get()
    assert (message.action, message.note, message.is_open) == (
        "inbox",
        "No booked visit to confirm.",
        True,
    )


def test_any_other_text_waits_in_the_inbox_for_the_front_desk(
    client, fake_twilio, texter, front_desk
):
    # When the patient texts something else
    response = text_in(client, fake_twilio, "Can I come at 11 instead?")

    # Then nothing is texted back, and the text waits in the inbox
    assert b"<Message>" not in response.content
    message = InboundMessage.objects.get()
    assert (message.patient, message.action, message.is_open) == (texter, "inbox", True)
    client.force_login(front_desk)
    page = client.get(reverse("treatments:inbound_list")).content.decode()
    assert "Can I come at 11 instead?" in page
    assert texter.last_name in page

    # When the front desk marks it handled
    response = client.post(reverse("treatments:inbound_handled", args=[message.pk]))

    # Then it is handled, by them
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.handled_by, message.is_open) == (front_desk, False)
    assert client.post(reverse("treatments:inbound_handled", args=[message.pk])).status_code == 302
    message.refresh_from_db()
    assert message.handled_by == front_desk


def test_a_number_several_patients_share_matches_nobody(client, fake_twilio, patient_a, patient_b):
    # Given patient_a and patient_b share a number (the personas' default)
    assert patient_a.phone == patient_b.phone
    for patient in (patient_a, patient_b):
        record_consent(
            patient=patient, channel="sms", granted=True, source="written", recorded_by=None
        )

    # When a text other than STOP comes from it, no patient is guessed
    text_in(client, fake_twilio, "YES", number=str(patient_a.phone))
    message = InboundMessage.objects.get()
    assert (message.patient, message.action) == (None, "inbox")
    assert message.note == "2 patients share this number."

    # and a STOP stops texts to every patient on that number
    text_in(client, fake_twilio, "STOP", number=str(patient_a.phone))
    assert sms_consent(patient_a).granted is False
    assert sms_consent(patient_b).granted is False


def test_a_text_from_an_unknown_number_goes_to_the_inbox(client, fake_twilio, db):
    text_in(client, fake_twilio, "STOP", number="+447700900123")
    message = InboundMessage.objects.get()
    assert (message.patient, message.action, message.note) == (
        None,
        "inbox",
        "No patient has this number.",
    )


def test_a_text_twilio_sends_twice_is_kept_and_acted_on_once(client, fake_twilio, texter):
    sid = "SM" + "a" * 32
    text_in(client, fake_twilio, "STOP", sid=sid)
    text_in(client, fake_twilio, "START", sid=sid)  # a forged repeat: the stored one stands
    assert InboundMessage.objects.count() == 1
    assert texter.consents.filter(source="sms_reply").count() == 1


def test_a_text_with_a_bad_or_missing_signature_is_refused_and_stored_nowhere(
    client, fake_twilio, texter
):
    for signature in ("", "bm90IGEgc2lnbmF0dXJl"):
        response = text_in(client, fake_twilio, "STOP", signature=signature)
        assert response.status_code == 403
    assert InboundMessage.objects.count() == 0
    assert sms_consent(texter).granted is True


@pytest.mark.parametrize(
    "form",
    [
        {"MessageSid": "SM" + "b" * 32, "Body": "hi"},
        {"MessageSid": "nope", "From": "+12125550140", "Body": "hi"},
        {"MessageSid": "SM" + "b" * 32, "From": "+1" * 40, "Body": "hi"},
        {"MessageSid": "SM" + "b" * 32, "From": "+12125550140", "Body": "x" * 1601},
        {"MessageSid": "SM" + "b" * 32, "From": "+12125550140", "Body": "a\x00b"},
    ],
)
def test_a_signed_text_with_hostile_values_is_a_bad_request(client, fake_twilio, db, form):
    assert post(client, fake_twilio, INBOUND, form).status_code == 400
    assert InboundMessage.objects.count() == 0


def test_odd_but_harmless_senders_and_words_are_kept_for_the_front_desk(client, fake_twilio, db):
    for number, body in (("CADENCE", "hello"), ("+1", ""), ("+12125550140", "<script>")):
        assert text_in(client, fake_twilio, body, number=number).status_code == 200
    assert InboundMessage.objects.filter(action="inbox", patient=None).count() == 3


# --- the inbox page ---------------------------------------------------------------------------


@pytest.mark.parametrize("texts", [1, 60])
def test_the_inbox_query_count_does_not_grow_with_texts(
    client, front_desk, location, texts, django_assert_max_num_queries
):
    patients = [make_patient(100 + n, phone=f"+1212555{2000 + n:04d}") for n in range(3)]
    now = timezone.now()
    InboundMessage.objects.bulk_create(
        InboundMessage(
            patient=patients[n % 3] if n % 4 else None,
            from_number=f"+1212555{2000 + n % 3:04d}",
            body=f"Text {n}",
            provider_message_id=f"SM{n:032x}",
            action="inbox",
            received_at=now - datetime.timedelta(minutes=n),
            handled_at=now if n % 5 == 0 else None,
            handled_by=front_desk if n % 5 == 0 else None,
        )
        for n in range(texts)
    )
    client.force_login(front_desk)
    # session, user, the count, a page of texts (patient and handler joined), the audit
    # trail's INSERT, and the session's sliding expiry
    with django_assert_max_num_queries(8):
        response = client.get(reverse("treatments:inbound_list"))
    assert len(response.context["inbound"]) == min(texts, 50)
    # waiting ones first
    opens = [message.is_open for message in response.context["inbound"]]
    assert opens == sorted(opens, reverse=True)


def test_a_patient_cannot_open_the_inbox_or_mark_a_text(client, patient_a, db):
    message = InboundMessage.objects.create(
        from_number="+12125550100",
        body="hi",
        provider_message_id="SM" + "c" * 32,
        action="inbox",
        received_at=timezone.now(),
    )
    client.force_login(patient_a.user)
    assert client.get(reverse("treatments:inbound_list")).status_code == 404
    response = client.post(reverse("treatments:inbound_handled", args=[message.pk]))
    assert response.status_code == 404
    message.refresh_from_db()
    assert message.is_open


def test_the_database_refuses_a_delivery_on_a_reminder_never_sent(db, settings):
    [reminder] = make_texts(1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.filter(pk=reminder.pk).update(delivery_status="delivered")
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.filter(pk=reminder.pk).update(status="sent", delivery_status="lost")
