"""Sending in bulk (docs/architecture.md, "The reminder path"): batches of claims, one email
connection per process, timeouts inside the lease, and what a send records when its visit is
cancelled or its claim taken back while the relay holds the message."""

import datetime
import logging
import random
import socket

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.checks import run_checks
from django.core.mail import BadHeaderError, EmailMessage
from django.core.mail.message import sanitize_address
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from hypothesis import event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from patients.services import record_consent
from tests.conftest import local
from tests.treatments.test_reminder_workers import make_visits
from treatments import channels
from treatments.links import site_domain
from treatments.models import Reminder
from treatments.services import set_appointment_status
from treatments.services.reminders import (
    CANCELLED_WHILE_SENDING,
    dispatch_due_reminders,
    render_message,
    send_reminder,
    send_reminders,
)
from treatments.tasks import send_reminders_task


@pytest.fixture
def visit(booked_appointment, time_machine, settings, tmp_path):
    """The booked visit, its patient consenting to email and SMS, and the clock at noon in New
    York five days before it (working hours, both reminders still to come)."""
    settings.SMS_FILE_PATH = tmp_path / "sms"
    for channel in ("email", "sms"):
        record_consent(
            patient=booked_appointment.patient,
            channel=channel,
            granted=True,
            source="written",
            recorded_by=None,
        )
    noon = local(booked_appointment.local_starts_at.date() - datetime.timedelta(days=5), 12)
    time_machine.move_to(noon, tick=False)
    return booked_appointment


@pytest.fixture
def before_send(monkeypatch):
    """`before_send(act)`: from then on channels.send calls `act()` before it hands a message
    over (with `reminder`, only before that reminder's message); what act raises, the send
    raises instead of sending. `monkeypatch.undo()` puts the real send back."""
    real_send = channels.send

    def patch(act, *, reminder=None):
        def send(channel, message):
            if reminder is None or message.key == reminder.idempotency_key:
                act()
            return real_send(channel, message)

        monkeypatch.setattr(channels, "send", send)

    return patch


@pytest.fixture(autouse=True)
def fresh_email_connection():
    channels.close_email_connection()
    yield
    channels.close_email_connection()


def reminders_of(visit) -> tuple[Reminder, Reminder]:
    return (
        visit.reminders.get(kind="visit_week"),
        visit.reminders.get(kind="visit_tomorrow"),
    )


def claim(reminder, token="t" * 32) -> str:
    Reminder.objects.filter(pk=reminder.pk).update(
        status="claimed", claim_token=token, claimed_at=timezone.now(), started_at=None
    )
    return token


def message_ids() -> list[str]:
    return [m.extra_headers["Message-ID"] for m in mail.outbox]


def message_id(reminder: Reminder) -> str:
    """A reminder's Message-ID: its idempotency key at SITE_URL's host."""
    return f"<{reminder.idempotency_key}@{site_domain()}>"


# --- batches ------------------------------------------------------------------------------------


def test_a_batch_sends_each_claim_on_its_own_and_a_bad_one_stops_nothing(
    visit, before_send, monkeypatch, caplog
):
    # Given two claimed reminders; the second one's send breaks unexpectedly; and in the
    # batch also a wrong token and an id with no row
    week, tomorrow = reminders_of(visit)
    token = claim(week)
    claim(tomorrow, "u" * 32)

    def break_down():
        raise RuntimeError("a bug in one send")

    before_send(break_down, reminder=tomorrow)
    batch = [[tomorrow.pk, "u" * 32], [week.pk, "w" * 32], [999_999, token], [week.pk, token]]

    # When the batch task runs (its claims as they come out of JSON: lists)
    with caplog.at_level(logging.ERROR, logger="treatments.services.reminders"):
        results = send_reminders_task.run(batch)

    # Then the broken one did not stop the ones after it, and each has its own outcome
    assert results == {str(tomorrow.pk): "error", str(week.pk): "sent", "999999": "not-mine"}
    assert message_ids() == [message_id(week)]
    week.refresh_from_db()
    tomorrow.refresh_from_db()
    assert week.status == "sent"
    # the broken send stays claimed and started: the lease gives it back
    assert (tomorrow.status, tomorrow.started_at is not None) == ("claimed", True)
    assert f"Sending reminder {tomorrow.pk} failed unexpectedly" in caplog.text

    # And the same batch delivered again (a redelivery after a crash) sends nothing more
    monkeypatch.undo()
    assert set(send_reminders(batch).values()) == {"not-mine"}
    assert len(mail.outbox) == 1


def test_each_row_of_a_batch_starts_its_lease_when_its_turn_comes(visit, before_send, time_machine):
    # Given two claims in one batch and a relay that takes 90 s per message
    week, tomorrow = reminders_of(visit)
    token = claim(week)
    claim(tomorrow, token)
    before_send(lambda: time_machine.shift(datetime.timedelta(seconds=90)))

    # When the batch runs
    assert list(send_reminders([(week.pk, token), (tomorrow.pk, token)]).values()) == [
        "sent",
        "sent",
    ]

    # Then the second row started when its turn came, not when the batch did
    week.refresh_from_db()
    tomorrow.refresh_from_db()
    assert tomorrow.started_at - week.started_at == datetime.timedelta(seconds=90)


# --- cancelled during the hand-over -------------------------------------------------------------


def test_a_visit_cancelled_while_its_email_is_handed_over_is_recorded_sent_with_a_note(
    visit, front_desk, before_send
):
    # Given a send in progress, and the front desk cancelling the visit during the hand-over
    week, _ = reminders_of(visit)
    token = claim(week)

    def cancel():
        set_appointment_status(appointment=visit, status="cancelled", by=front_desk, reason="Ill")

    before_send(cancel)

    # When the send finishes
    outcome = send_reminder(reminder_id=week.pk, claim_token=token)

    # Then the message that went out is recorded as sent, with a note saying what happened
    assert outcome == "sent"
    assert message_ids() == [message_id(week)]
    week.refresh_from_db()
    assert week.status == "sent"
    assert week.sent_at is not None
    assert week.skip_reason.endswith(CANCELLED_WHILE_SENDING)
    # and the visit's other reminder, not started, is cancelled
    tomorrow = visit.reminders.get(kind="visit_tomorrow")
    assert (tomorrow.status, tomorrow.skip_reason) == ("cancelled", "The visit is cancelled.")


def test_the_reminders_page_shows_a_message_sent_for_a_visit_cancelled_during_its_hand_over(
    visit, front_desk, before_send, client
):
    # Given a message handed over while the front desk cancelled its visit
    week, tomorrow = reminders_of(visit)
    token = claim(week)

    def cancel():
        set_appointment_status(appointment=visit, status="cancelled", by=front_desk, reason="Ill")

    before_send(cancel)
    assert send_reminder(reminder_id=week.pk, claim_token=token) == "sent"
    # and a message sent as usual, whatever its note says
    Reminder.objects.filter(pk=tomorrow.pk).update(status="sent", sent_at=timezone.now())

    # When the front desk opens the reminders needing attention
    client.force_login(front_desk)
    response = client.get(reverse("treatments:reminder_list"))

    # Then the message sent for nothing is listed, with the note kept in skip_reason, and
    # cannot be sent again; the one sent as usual is not listed
    week.refresh_from_db()
    assert week.skip_reason.endswith(CANCELLED_WHILE_SENDING)
    assert [r.pk for r in response.context["reminders"]] == [week.pk]
    row = response.content.decode().split('id="reminders"')[1].split("</table>")[0]
    assert "Sent, visit cancelled" in row
    assert escape(week.skip_reason) in row
    assert reverse("treatments:reminder_resend", args=[week.pk]) not in row


def test_a_cancel_before_the_send_starts_cancels_and_the_queued_task_does_nothing(
    visit, front_desk
):
    week, _ = reminders_of(visit)
    token = claim(week)
    set_appointment_status(appointment=visit, status="cancelled", by=front_desk, reason="Ill")
    week.refresh_from_db()
    assert (week.status, week.claim_token) == ("cancelled", "")
    assert send_reminder(reminder_id=week.pk, claim_token=token) == "not-mine"
    assert mail.outbox == []


def test_a_started_send_cancelled_before_its_hand_over_is_skipped(visit, front_desk, monkeypatch):
    # Given the cancel lands after the send started, before it read the row
    week, _ = reminders_of(visit)
    token = claim(week)
    Reminder.objects.filter(pk=week.pk).update(started_at=timezone.now())
    set_appointment_status(appointment=visit, status="cancelled", by=front_desk, reason="Ill")
    Reminder.objects.filter(pk=week.pk).update(started_at=None)  # as if _start ran just before
    visit.refresh_from_db()
    # (the visit's own status would also skip it: undo that to see the note alone at work)
    type(visit).objects.filter(pk=visit.pk).update(status="booked")

    assert send_reminder(reminder_id=week.pk, claim_token=token) == "skipped"
    week.refresh_from_db()
    assert week.status == "skipped"
    assert week.skip_reason.endswith(CANCELLED_WHILE_SENDING)
    assert mail.outbox == []


def test_a_cancelled_send_that_fails_transiently_ends_cancelled_not_pending(
    visit, front_desk, before_send
):
    week, _ = reminders_of(visit)
    token = claim(week)

    def cancel_then_time_out():
        set_appointment_status(appointment=visit, status="cancelled", by=front_desk, reason="Ill")
        raise channels.TransientSendError("timed out")

    before_send(cancel_then_time_out)
    assert send_reminder(reminder_id=week.pk, claim_token=token) == "retry"
    week.refresh_from_db()
    assert (week.status, week.claim_token, week.started_at) == ("cancelled", "", None)
    assert dispatch_due_reminders(now=timezone.now() + datetime.timedelta(hours=1)) == []


# --- a send that outlives its claim -------------------------------------------------------------


def test_a_send_whose_claim_was_taken_back_never_reports_sent(visit, settings, before_send):
    # Given a relay slower than the lease: while it holds the message, the dispatcher takes
    # the claim back and another worker starts the same row
    settings.REMINDER_LEASE_SECONDS = 60
    week, _ = reminders_of(visit)
    token = claim(week)
    other = {}

    def slow_relay():
        later = timezone.now() + datetime.timedelta(seconds=61)
        [(pk, other["token"])] = [c for c in dispatch_due_reminders(now=later) if c[0] == week.pk]
        Reminder.objects.filter(pk=pk).update(started_at=later)  # the other send started

    before_send(slow_relay)
    Reminder.objects.filter(pk=week.pk).update(due_at=timezone.now())

    # When the slow send's hand-over returns
    outcome = send_reminder(reminder_id=week.pk, claim_token=token)

    # Then it says so, and writes nothing over the other send's row
    assert outcome == "claim-lost"
    week.refresh_from_db()
    assert (week.status, week.claim_token, week.sent_at) == ("claimed", other["token"], None)


def test_a_late_hand_over_is_recorded_sent_when_nobody_else_is_sending(
    visit, settings, before_send
):
    # Given the claim was taken back (pending again) while the relay held the message
    settings.REMINDER_LEASE_SECONDS = 60
    week, _ = reminders_of(visit)
    token = claim(week)

    def slow_relay():
        later = timezone.now() + datetime.timedelta(seconds=61)
        Reminder.objects.filter(pk=week.pk).update(due_at=later + datetime.timedelta(hours=1))
        dispatch_due_reminders(now=later)  # takes the claim back; not yet due again

    before_send(slow_relay)
    outcome = send_reminder(reminder_id=week.pk, claim_token=token)

    # Then the message handed over is recorded as sent, and the task says what happened
    assert outcome == "claim-lost-recorded"
    week.refresh_from_db()
    assert (week.status, week.provider_message_id) == ("sent", message_id(week))
    assert dispatch_due_reminders(now=timezone.now() + datetime.timedelta(days=1)) == []


# --- timeouts inside the lease ------------------------------------------------------------------


def test_the_defaults_keep_every_channel_timeout_inside_the_lease():
    from django.conf import settings

    assert settings.EMAIL_TIMEOUT
    assert settings.SMS_TIMEOUT
    assert not [e for e in run_checks() if e.id.startswith("treatments.")]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"EMAIL_TIMEOUT": None}, "treatments.E001"),
        ({"SMS_TIMEOUT": 0}, "treatments.E001"),
        ({"EMAIL_TIMEOUT": 250}, "treatments.E002"),  # 250 + 60 >= 300
        ({"REMINDER_LEASE_SECONDS": 60}, "treatments.E002"),  # 30 + 60 >= 60
    ],
)
def test_a_channel_timeout_that_could_outlive_the_lease_is_refused(settings, overrides, expected):
    settings.EMAIL_TIMEOUT, settings.SMS_TIMEOUT = 30, 30
    settings.REMINDER_LEASE_SECONDS, settings.REMINDER_SEND_MARGIN_SECONDS = 300, 60
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert expected in {e.id for e in run_checks()}


def test_a_queue_timeout_that_would_leave_a_lost_claim_over_five_minutes_is_flagged(settings):
    settings.REMINDER_QUEUE_TIMEOUT_SECONDS = 1800  # the old default
    assert "treatments.W003" in {e.id for e in run_checks()}
    settings.REMINDER_QUEUE_TIMEOUT_SECONDS = 180
    assert "treatments.W003" not in {e.id for e in run_checks()}


def test_the_sms_backend_is_given_its_timeout(settings, tmp_path):
    settings.SMS_TIMEOUT = 7
    settings.SMS_FILE_PATH = tmp_path
    assert channels.sms_backend().timeout == 7


def test_the_email_connection_carries_the_timeout(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = 12
    connection = channels.get_connection()
    assert connection.timeout == 12


# --- one connection per process -----------------------------------------------------------------


class Sink:
    """An SMTP server that accepts everything and notes which connection brought it."""

    def __init__(self):
        self.peers: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.peers.append(session.peer)
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
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS, settings.EMAIL_HOST_USER = False, ""
    yield sink
    channels.close_email_connection()
    controller.stop()


def message(n: int) -> channels.Message:
    return channels.Message(to=f"p{n}@example.com", subject="Hello", body="Hi", key=f"test-{n}")


def test_messages_of_one_process_share_one_smtp_connection(smtp_sink):
    for n in range(5):
        channels.send_email(message(n))
    assert len(smtp_sink.peers) == 5
    assert len(set(smtp_sink.peers)) == 1


def test_a_connection_the_relay_dropped_is_reopened(smtp_sink):
    channels.send_email(message(1))
    connection, reused = channels.email_connection()
    assert reused
    connection.connection.sock.shutdown(socket.SHUT_RDWR)  # as a relay dropping an idle one

    channels.send_email(message(2))

    assert len(smtp_sink.peers) == 2
    assert len(set(smtp_sink.peers)) == 2


def test_after_an_error_the_next_message_opens_a_new_connection(smtp_sink, monkeypatch):
    import smtplib

    channels.send_email(message(1))

    def time_out(self, *args, **kwargs):
        raise TimeoutError("timed out")

    # the relay times out during the hand-over (under either way of building the message)
    monkeypatch.setattr(smtplib.SMTP, "sendmail", time_out)
    with pytest.raises(channels.TransientSendError):
        channels.send_email(message(2))
    monkeypatch.undo()

    channels.send_email(message(3))
    assert len(smtp_sink.peers) == 2
    assert len(set(smtp_sink.peers)) == 2


# --- what a batch reads at each row's turn, and where it stops ----------------------------------


@pytest.fixture
def three_claimed(db, settings):
    """Three due email reminders (three patients consenting to email), claimed in one batch,
    outside any quiet hours."""
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 24, 0
    reminders = make_visits(3)
    claims = dispatch_due_reminders()
    assert [pk for pk, _ in claims] == [r.pk for r in reminders]
    return reminders, claims


def test_a_consent_revoked_while_the_batch_runs_is_seen_at_that_rows_turn(
    three_claimed, before_send
):
    # Given a batch of three, and the second patient revoking email consent while the first
    # message is being handed over (after the batch began, before the second row's turn)
    (first, second, third), claims = three_claimed

    def revoke_meanwhile():
        record_consent(
            patient=second.patient,
            channel="email",
            granted=False,
            source="stop_link",
            recorded_by=None,
        )

    before_send(revoke_meanwhile, reminder=first)

    # When the batch runs
    results = send_reminders(claims)

    # Then the second row is skipped for the consent it had at its turn; the others go
    assert results == {str(first.pk): "sent", str(second.pk): "skipped", str(third.pk): "sent"}
    assert message_ids() == [
        message_id(first),
        message_id(third),
    ]
    second.refresh_from_db()
    assert (second.status, second.skip_reason) == ("skipped", "No consent to Email messages.")


def test_a_consent_granted_again_after_a_revocation_is_the_one_that_counts(three_claimed):
    # Given the first patient revoked email consent and then granted it again
    (first, _, _), claims = three_claimed
    for granted in (False, True):
        record_consent(
            patient=first.patient,
            channel="email",
            granted=granted,
            source="phone",
            recorded_by=None,
        )

    # When the batch runs, the latest record decides
    assert set(send_reminders(claims).values()) == {"sent"}


def test_a_relay_that_fails_on_one_row_retries_that_row_and_sends_the_rest(
    three_claimed, before_send
):
    # Given a relay that times out on the second message of the batch
    (first, second, third), claims = three_claimed

    def time_out():
        raise channels.TransientSendError("timed out")

    before_send(time_out, reminder=second)

    # When the batch runs
    results = send_reminders(claims)

    # Then the rows before and after it are recorded sent, and it is back in the outbox later
    assert results == {str(first.pk): "sent", str(second.pk): "retry", str(third.pk): "sent"}
    rows = {r.pk: r for r in Reminder.objects.filter(pk__in=[first.pk, second.pk, third.pk])}
    assert (rows[first.pk].status, rows[third.pk].status) == ("sent", "sent")
    assert (rows[second.pk].status, rows[second.pk].claim_token) == ("pending", "")
    assert rows[second.pk].due_at > timezone.now()
    later = dispatch_due_reminders(now=timezone.now() + datetime.timedelta(minutes=2))
    assert [pk for pk, _ in later] == [second.pk]


class WorkerKilled(BaseException):
    """What a worker's death looks like from inside the batch: nothing after it runs."""


def test_a_batch_that_dies_on_a_row_leaves_the_sent_recorded_and_the_rest_retryable(
    three_claimed, before_send, monkeypatch, settings
):
    # Given the worker dies while handing over the second message of the batch
    (first, second, third), claims = three_claimed

    def die():
        raise WorkerKilled

    before_send(die, reminder=second)
    with pytest.raises(WorkerKilled):
        send_reminders(claims)

    # Then the first is recorded sent; the second is started (its lease guards it) and the
    # third still only claimed (the queue timeout guards it)
    rows = {r.pk: r for r in Reminder.objects.filter(pk__in=[first.pk, second.pk, third.pk])}
    assert rows[first.pk].status == "sent"
    assert (rows[second.pk].status, rows[second.pk].started_at is not None) == ("claimed", True)
    assert (rows[third.pk].status, rows[third.pk].started_at) == ("claimed", None)

    # And once both have run out, the dispatcher claims those two again, never the sent one
    monkeypatch.undo()
    wait = max(settings.REMINDER_LEASE_SECONDS, settings.REMINDER_QUEUE_TIMEOUT_SECONDS) + 1
    later = dispatch_due_reminders(now=timezone.now() + datetime.timedelta(seconds=wait))
    assert sorted(pk for pk, _ in later) == [second.pk, third.pk]
    assert set(send_reminders(later).values()) == {"sent"}
    assert message_ids() == [message_id(r) for r in (first, second, third)]


# --- the message's bytes --------------------------------------------------------------------------

HEADER_TEXT = st.text(alphabet=st.sampled_from("Ab z09:,.-'()"), max_size=90) | st.text(
    alphabet=st.sampled_from("Ab z09:,.-'()\t\né"), max_size=90
)
ADDRESS = st.from_regex(r"[a-z0-9._%+-]{1,12}@[a-z0-9.-]{1,12}", fullmatch=True) | st.from_regex(
    r"[a-z0-9._%+é-]{1,12}@[a-z0-9.é-]{1,12}", fullmatch=True
)
AN_INSTANT = datetime.datetime(2026, 12, 7, 3, 30, tzinfo=datetime.UTC)


@given(subject=HEADER_TEXT, body=HEADER_TEXT, to=ADDRESS, line=st.integers(0, 1100))
@hypothesis_settings(max_examples=300, deadline=None)
def test_a_plain_message_is_sent_as_the_very_bytes_django_would_build(subject, body, to, line):
    # Given any message (a long body line sometimes), at one instant (the Date header)
    body += "x" * line + "\n"
    email = EmailMessage(subject, body, to=[to], headers={"Message-ID": "<reminder-1@cadence>"})
    with time_machine.travel(AN_INSTANT, tick=False):
        built = channels.plain_bytes(email)
        try:
            django_bytes = email.message().as_bytes(linesep="\r\n")
            recipients = [sanitize_address(to, settings.DEFAULT_CHARSET)]
        except (BadHeaderError, ValueError):  # a line break, an invalid address: refused
            assert built is None
            return

    event("direct build" if built is not None else "Django builds it")
    # Then the direct build gives up (Django builds it), or gives exactly Django's bytes
    if built is not None:
        sender = sanitize_address(email.from_email, settings.DEFAULT_CHARSET)
        assert built == (sender, recipients, django_bytes)


HTML_TEXT = HEADER_TEXT | st.text(alphabet=st.sampled_from('<>&"=/ab \n-'), max_size=200)
LINK = st.from_regex(r"https?://[a-z0-9.:-]{1,30}/r/stop/[A-Za-z0-9_:=-]{0,120}/", fullmatch=True)


@given(
    subject=HEADER_TEXT,
    body=HEADER_TEXT,
    html=HTML_TEXT,
    to=ADDRESS,
    lines=st.tuples(st.integers(0, 1100), st.integers(0, 1100)),
    link=LINK | HEADER_TEXT | st.just(""),
    seed=st.integers(0, 2**32),
)
@hypothesis_settings(max_examples=300, deadline=None)
def test_a_message_with_its_html_part_and_list_headers_is_sent_as_the_very_bytes_django_would_build(
    subject, body, html, to, lines, link, seed
):
    # Given any reminder email (its HTML alternative, List-Unsubscribe link and Auto-Submitted;
    # long lines sometimes), at one instant (the Date header) and with one multipart boundary
    # (the random draw Django's email package makes, seeded alike for both builds)
    body += "x" * lines[0] + "\n"
    html += "y" * lines[1]
    message = channels.Message(
        to=to, subject=subject, body=body, key="reminder-1", html=html, unsubscribe=link
    )
    email = channels.build_email(message)
    with time_machine.travel(AN_INSTANT, tick=False):
        random.seed(seed)
        built = channels.plain_bytes(email)
        random.seed(seed)
        try:
            django_bytes = email.message().as_bytes(linesep="\r\n")
            recipients = [sanitize_address(to, settings.DEFAULT_CHARSET)]
        except (BadHeaderError, ValueError):  # a line break, an invalid address: refused
            assert built is None
            return

    how = "direct build" if built is not None else "Django builds it"
    event(f"{how}, {'multipart' if html else 'text only'}")
    # Then the direct build gives up (Django builds it), or gives exactly Django's bytes
    if built is not None:
        sender = sanitize_address(email.from_email, settings.DEFAULT_CHARSET)
        assert built == (sender, recipients, django_bytes)


def test_a_reminders_email_takes_the_direct_build(visit):
    week, _ = reminders_of(visit)
    message = render_message(Reminder.objects.filter(pk=week.pk).for_sending().get())
    headers = {"Message-ID": "<reminder-1@cadence>"}
    email = EmailMessage(message.subject, message.body, to=[message.to], headers=headers)
    assert channels.plain_bytes(email) is not None
