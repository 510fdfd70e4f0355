"""How a reminder leaves Cadence: email through Django's email backends, SMS through a small
backend interface chosen by the SMS_BACKEND setting. A send that returns has really been
handed over; anything else raises, transient or permanent.

Each worker process keeps one email connection open (opened on first use, reused for every
message, dropped after any error and reopened on the next send, closed when the process ends:
treatments/tasks.py). Every channel gives up after its timeout (EMAIL_TIMEOUT, SMS_TIMEOUT),
which the system check in treatments/checks.py keeps well inside the reminder lease."""

import contextlib
import datetime
import functools
import random
import re
import smtplib
import sys
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import sanitize_address
from django.utils.module_loading import import_string

from treatments.links import site_domain


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
    html: str = ""  # email: the same words as an HTML alternative
    unsubscribe: str = ""  # email: the stop link, for List-Unsubscribe (RFC 2369, RFC 8058)


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
    email = build_email(message)
    message_id = email.extra_headers["Message-ID"]
    try:
        connection, reused = email_connection()
        try:
            accepted = _hand_over(connection, email)
        except smtplib.SMTPServerDisconnected:
            if not reused:
                raise
            # The relay closed the idle connection (before this message): one fresh try.
            close_email_connection()
            connection, _ = email_connection()
            accepted = _hand_over(connection, email)
    except smtplib.SMTPRecipientsRefused as error:
        close_email_connection()
        raise PermanentSendError(f"Address refused: {error.recipients}") from error
    except TRANSIENT_SMTP as error:
        close_email_connection()
        raise TransientSendError(str(error) or type(error).__name__) from error
    except BaseException:
        close_email_connection()
        raise
    if accepted != 1:
        close_email_connection()
        raise TransientSendError("The email backend accepted nothing.")
    return message_id


def build_email(message: Message) -> EmailMessage:
    """The email for a message: its text, and its HTML as an alternative when it has one.

    A deterministic Message-ID at SITE_URL's host: a repeat after a crash carries the same one.
    With a stop link, List-Unsubscribe names it and List-Unsubscribe-Post offers the one-click
    POST (RFC 8058) that the stop page accepts. Auto-Submitted (RFC 3834) keeps auto-replies
    (out of office) from answering a machine."""
    headers = {"Message-ID": f"<{message.key}@{site_domain()}>"}
    if message.unsubscribe:
        headers["List-Unsubscribe"] = f"<{message.unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["Auto-Submitted"] = "auto-generated"
    email = EmailMultiAlternatives(message.subject, message.body, to=[message.to], headers=headers)
    if message.html:
        email.attach_alternative(message.html, "text/html")
    return email


def _hand_over(connection, email: EmailMessage) -> int:
    """The backend's send, or on an open SMTP connection the same bytes built directly when
    the message is plain (`plain_bytes`): the email package's MIME building and address
    parsing were a third of a send's CPU."""
    built = plain_bytes(email) if type(connection) is SmtpBackend else None
    if built is None or connection.connection is None:
        return connection.send_messages([email])
    sender, recipients, data = built
    connection.connection.sendmail(sender, recipients, data)
    return 1


# An address the email package leaves as it is; anything else goes through it.
PLAIN_ADDRESS = re.compile(r"[\w%+-]+(\.[\w%+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\Z", re.ASCII)
PLAIN_HEADER = re.compile(r"[ -~]+\Z")  # printable ASCII: no line break, nothing to encode
# A value the email package cannot fold (no space, comma or semicolon): too long for one line,
# it goes whole onto a continuation line (a long List-Unsubscribe link).
UNFOLDABLE = re.compile(r"[!-+\--:<-~]+\Z")
# Extra headers built here (others go through the email package); Message-ID always.
DIRECT_HEADERS = {"Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted"}
MAX_HEADER_LINE = 78  # the email package's folding width (compat32)
MAX_BODY_LINE = 998  # RFC 5322; a longer line makes Django encode the part quoted-printable
# The email package's multipart boundary: fifteen "=", a random 19-digit number, "=="
# (email.generator.Generator._make_boundary; the same random call, so a seeded test matches).
BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


@functools.lru_cache(maxsize=16)
def _sanitized(address: str, encoding: str) -> str:
    return sanitize_address(address, encoding)


def _header_line(name: str, value: str) -> str | None:
    """A header as the email package writes it, or None when it would encode or fold it in a
    way not copied here."""
    if not PLAIN_HEADER.match(value) or value != " ".join(value.split()):
        return None
    line = f"{name}: {value}"
    if len(line) <= MAX_HEADER_LINE:
        return line
    return f"{name}: \r\n {value}" if UNFOLDABLE.match(value) else None


def _plain_part(text: str) -> bool:
    """A part Django sends as is (7bit): ASCII, no carriage return, no line over 998."""
    return (
        text.isascii()
        and "\r" not in text
        and all(len(line) <= MAX_BODY_LINE for line in text.split("\n"))
    )


def _part(subtype: str, text: str) -> str:
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "MIME-Version: 1.0\r\n"
        "Content-Transfer-Encoding: 7bit\r\n\r\n" + text.replace("\n", "\r\n")
    )


def plain_bytes(email: EmailMessage) -> tuple[str, list[str], bytes] | None:
    """(envelope sender, recipients, the message's bytes) exactly as Django's SMTP backend
    would send them, for a plain message: UTF-8, text/plain with at most one text/html
    alternative, one plain ASCII recipient, header lines that need no encoding and no folding
    but the email package's simplest, ASCII parts without long lines (7bit). None for anything
    else, which Django then builds itself.

    A multipart message's boundary is random, as Django's is: drawn with the same call, so
    `random.seed` makes the two equal (the test does)."""
    encoding = email.encoding or settings.DEFAULT_CHARSET
    alternatives = getattr(email, "alternatives", [])
    html = [text for text, mimetype in alternatives if mimetype == "text/html"]
    if (
        encoding.lower() != "utf-8"
        or email.content_subtype != "plain"
        or email.attachments
        or email.cc
        or email.bcc
        or email.reply_to
        or len(email.to) != 1
        or not PLAIN_ADDRESS.match(email.to[0])
        or "Message-ID" not in email.extra_headers
        or not set(email.extra_headers) <= DIRECT_HEADERS
        or not isinstance(email.body, str)
        or not email.body
        or not _plain_part(email.body)
        or len(alternatives) > 1
        or len(html) != len(alternatives)
        or not all(isinstance(text, str) and _plain_part(text) for text in html)
    ):
        return None
    sender = _sanitized(email.from_email, encoding)
    headers = [
        ("Subject", email.subject),
        ("From", sender),
        ("To", email.to[0]),
        ("Date", formatdate(localtime=settings.EMAIL_USE_LOCALTIME)),
        *email.extra_headers.items(),
    ]
    lines = [line for name, value in headers if (line := _header_line(name, value)) is not None]
    if len(lines) != len(headers):
        return None
    if not html:
        head = ['Content-Type: text/plain; charset="utf-8"', "MIME-Version: 1.0"]
        head += ["Content-Transfer-Encoding: 7bit", *lines]
        data = "\r\n".join(head) + "\r\n\r\n" + email.body.replace("\n", "\r\n")
        return sender, [email.to[0]], data.encode("ascii")
    parts = [_part("plain", email.body), _part("html", html[0])]
    boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{BOUNDARY_DIGITS}d}" + "=="
    if any(boundary in part for part in parts):
        return None  # the email package would pick another
    head = [
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
        "MIME-Version: 1.0",
        *lines,
    ]
    data = (
        "\r\n".join(head)
        + f"\r\n\r\n--{boundary}\r\n"
        + f"\r\n--{boundary}\r\n".join(parts)
        + f"\r\n--{boundary}--\r\n"
    )
    return sender, [email.to[0]], data.encode("ascii")


# This process's open email connection and the settings it was opened with (a test that
# changes the email settings gets a new one).
_email: dict[str, Any] = {"connection": None, "settings": None}


def _email_settings() -> tuple:
    return (
        settings.EMAIL_BACKEND,
        settings.EMAIL_HOST,
        settings.EMAIL_PORT,
        settings.EMAIL_HOST_USER,
        settings.EMAIL_USE_TLS,
        settings.EMAIL_TIMEOUT,
        str(getattr(settings, "EMAIL_FILE_PATH", "")),
    )


def email_connection() -> tuple[Any, bool]:
    """This process's email connection, opened on first use; and whether it was open before."""
    current = _email_settings()
    if _email["connection"] is not None and _email["settings"] == current:
        return _email["connection"], True
    close_email_connection()
    connection = get_connection()
    connection.open()
    _email["connection"], _email["settings"] = connection, current
    return connection, False


def close_email_connection() -> None:
    """Close and forget this process's email connection (after an error, or at exit)."""
    connection, _email["connection"] = _email["connection"], None
    if connection is not None:
        with contextlib.suppress(Exception):  # a broken connection may fail to close
            connection.close()


def sms_backend():
    if not settings.SMS_BACKEND:
        raise PermanentSendError("No SMS backend is configured.")
    return import_string(settings.SMS_BACKEND)(timeout=settings.SMS_TIMEOUT)


class SmsBackend:
    """The interface of an SMS provider: constructed with the timeout in seconds that every
    call to the provider must respect (SMS_TIMEOUT, shorter than the reminder lease); `send`
    returns the provider's message id or raises a SendError."""

    def __init__(self, *, timeout: float):
        self.timeout = timeout

    def send(self, message: Message) -> str:
        raise NotImplementedError


class FileSmsBackend(SmsBackend):
    """Writes each hand-over to its own file under SMS_FILE_PATH (the embedded default and
    tests). A repeat is a second file with the same key, so repeats can be counted."""

    def send(self, message: Message) -> str:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S%f")
        path = folder / f"{stamp}-{message.key}-{uuid.uuid4().hex[:6]}.txt"
        path.write_text(f"To: {message.to}\nKey: {message.key}\n\n{message.body}\n")
        return f"file:{path.name}"
