"""How a reminder leaves Cadence: email through Django's email backends, SMS through a small
backend interface chosen by the SMS_BACKEND setting. A send that returns has really been
handed over; anything else raises, transient or permanent."""

import datetime
import smtplib
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string


class SendError(Exception):
    pass


class TransientSendError(SendError):
    """Worth another try later (a network blip, a provider timeout)."""


class PermanentSendError(SendError):
    """Will not work however often it is tried (no backend configured, a refused address)."""


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    body: str
    key: str  # the reminder's idempotency key


TRANSIENT_SMTP = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
)
UNCONFIGURED_EMAIL = {"django.core.mail.backends.dummy.EmailBackend", ""}


def send(channel: str, message: Message) -> str:
    """Hand the message over; return the provider's message id."""
    if channel == "email":
        return send_email(message)
    if channel == "sms":
        return sms_backend().send(message)
    raise PermanentSendError(f"Unknown channel {channel!r}.")


def send_email(message: Message) -> str:
    if settings.EMAIL_BACKEND in UNCONFIGURED_EMAIL:
        raise PermanentSendError("No email backend is configured.")
    # A deterministic Message-ID: a repeat after a crash carries the same one.
    message_id = f"<{message.key}@cadence>"
    email = EmailMessage(
        message.subject, message.body, to=[message.to], headers={"Message-ID": message_id}
    )
    try:
        accepted = email.send()
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentSendError(f"Address refused: {error.recipients}") from error
    except TRANSIENT_SMTP as error:
        raise TransientSendError(str(error) or type(error).__name__) from error
    if accepted != 1:
        raise TransientSendError("The email backend accepted nothing.")
    return message_id


def sms_backend():
    if not settings.SMS_BACKEND:
        raise PermanentSendError("No SMS backend is configured.")
    return import_string(settings.SMS_BACKEND)()


class FileSmsBackend:
    """Writes each hand-over to its own file under SMS_FILE_PATH (the embedded default and
    tests). A repeat is a second file with the same key, so repeats can be counted."""

    def send(self, message: Message) -> str:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = folder / f"{stamp}-{message.key}-{uuid.uuid4().hex[:6]}.txt"
        path.write_text(f"To: {message.to}\nKey: {message.key}\n\n{message.body}\n")
        return f"file:{path.name}"
