"""Signed links in messages, so a patient can confirm or cancel a visit, or stop messages on a
channel, without logging in (docs/architecture.md, "The reminder path", step 6).

A token is Django's signing (HMAC with SECRET_KEY, SECRET_KEY_FALLBACKS honoured) with a salt
per purpose, so a confirm link never works as a cancel link, and a timestamp, so it expires
after LINK_MAX_AGE_DAYS. The payload is ids only, under one-letter keys to keep SMS short; it is
readable (base64), not secret, and carries no patient data.

A visit's link carries the visit's `sequence` as the message knew it (left out while it is 0):
a visit moved (or cancelled and restored) since raises its sequence, and the old message's
link then says that the visit has changed instead of confirming or cancelling the new time.
"""

import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.urls import reverse

from patients.models import Channel

PURPOSES = ("confirm", "cancel", "stop", "offer", "checkin")
# Channels by one letter in the token: SMS length again.
CHANNEL_CODES: dict[str, str] = {Channel.EMAIL: "e", Channel.SMS: "s"}
CHANNELS_BY_CODE = {code: str(channel) for channel, code in CHANNEL_CODES.items()}


class BadLink(Exception):
    """The token was tampered with, has expired, or belongs to another purpose."""


def _salt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown link purpose: {purpose!r}")
    return f"cadence.link.{purpose}"


def _is_id(value) -> bool:
    return type(value) is int and value > 0


def make_link_token(
    *,
    purpose: str,
    appointment_id: int | None = None,
    sequence: int = 0,
    patient_id: int | None = None,
    channel: str | None = None,
    offer_id: int | None = None,
    session_id: int | None = None,
) -> str:
    """A signed, timestamped token for one purpose: "confirm" and "cancel" take
    `appointment_id` and the visit's `sequence`; "stop" takes `patient_id` and `channel`
    ("email" or "sms"); "offer" takes `offer_id` (a waitlist offer to claim); "checkin" takes
    `session_id` (the signed session the post-injection check-in asks about)."""
    salt = _salt(purpose)
    payload: dict[str, str | int | None]
    if purpose == "checkin":
        if not _is_id(session_id) or offer_id is not None or appointment_id is not None:
            raise ValueError("A check-in link takes a session_id.")
        if patient_id is not None or channel is not None:
            raise ValueError("A check-in link takes a session_id.")
        return signing.dumps({"t": session_id}, salt=salt, compress=True)
    if session_id is not None:
        raise ValueError(f"A {purpose} link takes no session_id.")
    if purpose == "offer":
        if not _is_id(offer_id) or appointment_id is not None or patient_id is not None:
            raise ValueError("An offer link takes an offer_id.")
        payload = {"o": offer_id}
    elif offer_id is not None:
        raise ValueError(f"A {purpose} link takes no offer_id.")
    elif purpose == "stop":
        if not _is_id(patient_id) or channel not in CHANNEL_CODES or appointment_id is not None:
            raise ValueError("A stop link takes a patient_id and a channel (email or sms).")
        payload = {"p": patient_id, "c": CHANNEL_CODES[channel]}
    else:
        if not _is_id(appointment_id) or patient_id is not None or channel is not None:
            raise ValueError(f"A {purpose} link takes an appointment_id (and its sequence).")
        if type(sequence) is not int or sequence < 0:
            raise ValueError("A visit's sequence is a whole number, 0 or more.")
        payload = {"a": appointment_id}
        if sequence:
            payload["s"] = sequence
    # dumps() signs with a TimestampSigner; compress=True compresses only when that is shorter.
    return signing.dumps(payload, salt=salt, compress=True)


def read_link_token(token: str, *, purpose: str) -> dict:
    """The payload of a valid token of this purpose, by long name: `appointment_id` and
    `sequence`, `patient_id` and `channel`, `offer_id`, or `session_id`. BadLink if it is
    tampered with, expired (older than LINK_MAX_AGE_DAYS) or of another purpose; it never says
    which."""
    salt = _salt(purpose)
    try:
        payload = signing.loads(
            token, salt=salt, max_age=datetime.timedelta(days=settings.LINK_MAX_AGE_DAYS)
        )
    except signing.BadSignature as error:  # SignatureExpired is a BadSignature too
        raise BadLink from error
    # Signed by us, so well-formed; checked anyway so that a bug cannot become a 500.
    if purpose == "checkin":
        if isinstance(payload, dict) and payload.keys() == {"t"} and _is_id(payload["t"]):
            return {"session_id": payload["t"]}
    elif purpose == "offer":
        if isinstance(payload, dict) and payload.keys() == {"o"} and _is_id(payload["o"]):
            return {"offer_id": payload["o"]}
    elif purpose == "stop":
        if (
            isinstance(payload, dict)
            and payload.keys() == {"p", "c"}
            and _is_id(payload["p"])
            and payload["c"] in CHANNELS_BY_CODE
        ):
            return {"patient_id": payload["p"], "channel": CHANNELS_BY_CODE[payload["c"]]}
    elif (
        isinstance(payload, dict)
        and payload.keys() in ({"a"}, {"a", "s"})
        and _is_id(payload["a"])
        and (_is_id(payload.get("s", 1)))
    ):
        return {"appointment_id": payload["a"], "sequence": payload.get("s", 0)}
    raise BadLink


def link_url(purpose: str, **ids) -> str:
    """The absolute URL of a signed link, for a message: SITE_URL + /r/<purpose>/<token>/."""
    token = make_link_token(purpose=purpose, **ids)
    return settings.SITE_URL.rstrip("/") + reverse(f"links:{purpose}", args=[token])


def site_domain() -> str:
    """SITE_URL's host, the domain part of what Cadence names for the world: the Message-ID of
    each email (`<reminder-N@host>`) and the UID of each calendar event, so that two
    installations never name theirs alike."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"[{host}]" if ":" in host else host  # an IPv6 address as a domain literal
