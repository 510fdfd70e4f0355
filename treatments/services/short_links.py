"""Short links for text messages (issue 15): `<SMS_LINK_URL>/s/<code>` stands for one signed
link, `/r/<purpose>/<token>/`, which a text could not carry and still fit one segment.

The code is the only secret in a short link, so it must not be guessable: CODE_LENGTH
characters drawn by `secrets` from an alphabet of 31 that cannot be misread (no 0/o, 1/l/i),
31**10 = 8.2e14 codes (49.5 bits). With 400,000 codes alive at once (100,000 patients, a month
of messages with two links each), a guess finds one with a chance of 1 in 2 billion: at 100
requests a second, about 8 months of guessing per hit, and a hit shows a visit's place and time
(the /r/ pages' content) or a stop button, nothing more. A rate limit in front of `/s/` (the
proxy's) makes that years. The signed token behind a code keeps its own signature and expiry.

One short link per reminder and purpose (a unique key), so a send repeated after a retry or a
crash texts the same code; a code is unique too (a collision, one in billions, is drawn again).
A short link lives as long as its token (LINK_MAX_AGE_DAYS); `delete_expired_short_links`
removes the dead ones (a daily beat job, and the command of the same name).
"""

import datetime
import re
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from treatments.links import make_link_token
from treatments.models import ShortLink

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 10
CODE = re.compile(f"[{ALPHABET}]{{{CODE_LENGTH}}}")
ATTEMPTS = 5  # draws of a fresh code before giving up (each collides with odds below 1e-9)


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def sms_link_base() -> str:
    """Where the short links in texts point: SMS_LINK_URL, else SITE_URL (no trailing slash)."""
    return (settings.SMS_LINK_URL or settings.SITE_URL).rstrip("/")


def short_link_url(*, reminder_id: int, purpose: str, **ids) -> str:
    """The short URL for a reminder's signed link of this purpose (`ids` as
    `make_link_token` takes them): SMS_LINK_URL + /s/<code>. Made at the first render and
    reused by every later one while it lives."""
    link = get_or_make_short_link(reminder_id=reminder_id, purpose=purpose, **ids)
    return sms_link_base() + reverse("short_link", args=[link.code])


def get_or_make_short_link(*, reminder_id: int, purpose: str, **ids) -> ShortLink:
    """The reminder's live short link of this purpose, else a new one (a dead one is renewed
    in place: a new token, code and expiry).

    1. A live row for (reminder, purpose): reuse it, token and code.
    2. Else sign a token now and insert (or renew) the row with a fresh random code.
    3. A unique key refuses the write: another send made this link at the same moment (use
       its row), or the code was taken (draw another).
    """
    now = timezone.now()
    rows = ShortLink.objects.filter(reminder_id=reminder_id, purpose=purpose)
    existing = rows.first()
    if existing is not None and existing.expires_at > now:
        return existing
    token = make_link_token(purpose=purpose, **ids)
    fields = {
        "token": token,
        "created_at": now,
        "expires_at": now + datetime.timedelta(days=settings.LINK_MAX_AGE_DAYS),
    }
    for _ in range(ATTEMPTS):
        code = new_code()
        try:
            with transaction.atomic():
                if existing is None:
                    return ShortLink.objects.create(
                        reminder_id=reminder_id, purpose=purpose, code=code, **fields
                    )
                # renewed only if nobody renewed it meanwhile
                if rows.filter(expires_at=existing.expires_at).update(code=code, **fields):
                    return rows.get()
        except IntegrityError:
            pass
        existing = rows.first()
        if existing is not None and existing.expires_at > now:
            return existing  # made by a concurrent send
    raise RuntimeError("Could not draw an unused short link code.")


def resolve_short_link(code: str, *, now: datetime.datetime | None = None) -> ShortLink | None:
    """The live short link a code names, or None (unknown, expired, or not a code at all:
    anything else a browser sends is refused before the database is asked)."""
    code = code.lower()
    if not CODE.fullmatch(code):
        return None
    return ShortLink.objects.live(now or timezone.now()).filter(code=code).first()


def delete_expired_short_links(*, now: datetime.datetime | None = None) -> int:
    """Delete the short links past their expiry (their tokens have expired too); safe to run
    twice. Returns how many went."""
    deleted, _ = ShortLink.objects.expired(now or timezone.now()).delete()
    return deleted
