"""The second factor for staff (django-otp): an authenticator app's TOTP code, or a recovery
code when the phone is not at hand.

Every staff role needs it; patients log in with a password only. A staff account without a
confirmed TOTP device is sent to enrolment at its first login (clinic/middleware.py); one with
a device is asked for a code. Wrong codes are throttled by django-otp (exponential back-off
per device) and counted by django-axes like wrong passwords (clinic/lockout.py)."""

import base64
import binascii
import io
import math
import re

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from clinic.models import User

# The demo's staff share one published TOTP secret (README, `make run`), so that a newcomer can
# try the app; seed_demo gives it to the demo staff only. Base32, as authenticator apps read it.
DEMO_TOTP_SECRET = "CADENCEDEMOSTAFFTOTPSECRETONLY23"


def needs_second_factor(user) -> bool:
    return bool(user.is_authenticated and user.role in User.STAFF_ROLES)


def is_verified(request: HttpRequest) -> bool:
    """This session has passed the second factor: the verify or enrolment page put the device's
    id in it (django-otp's session key). Django's login() empties the session when another
    user logs in, and logout() always does, so the mark belongs to this user's login.

    Read from the session alone, without django-otp's per-request device query, so that no
    page costs a query more. A reset second factor therefore takes effect at the next login
    (sessions end after SESSION_COOKIE_AGE idle; deactivating an account ends them at once)."""
    return bool(request.user.is_authenticated and request.session.get(DEVICE_ID_SESSION_KEY))


def has_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def new_key() -> str:
    """A new TOTP secret (hex, as django-otp stores it)."""
    return default_key()


def base32_secret(hex_key: str) -> str:
    """The secret as an authenticator app takes it when typed."""
    return base64.b32encode(binascii.unhexlify(hex_key)).decode()


def hex_key_from_base32(secret: str) -> str:
    return binascii.hexlify(base64.b32decode(secret)).decode()


def provisioning_uri(*, user: User, hex_key: str) -> str:
    """The otpauth:// URI an authenticator app scans."""
    return TOTPDevice(user=user, key=hex_key, name="authenticator").config_url


def qr_code_data_uri(text: str) -> str:
    """The text as a QR code, an SVG data: URI (the Content-Security-Policy allows data:
    images; nothing is fetched)."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def code_matches_key(*, hex_key: str, code: str) -> bool:
    """A code from the app the user is enrolling (one step of clock drift either way)."""
    if not re.fullmatch(r"\d{6}", code):
        return False
    totp = TOTP(binascii.unhexlify(hex_key))
    return bool(totp.verify(int(code), tolerance=1))


@transaction.atomic
def enrol_totp(*, user: User, hex_key: str) -> tuple[TOTPDevice, list[str]]:
    """Give the user a confirmed authenticator device and fresh recovery codes.

    1. Any earlier devices go (a re-enrolment replaces the phone and the codes).
    2. The TOTP device holds the secret the user's app now has.
    3. MFA_RECOVERY_CODES single-use recovery codes, returned to show once.
    """
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, key=hex_key, name="authenticator")
    codes = replace_recovery_codes(user=user)
    return device, codes


@transaction.atomic
def replace_recovery_codes(*, user: User) -> list[str]:
    """New single-use recovery codes for the user; the old ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="recovery codes")
    codes = [StaticToken.random_token() for _ in range(settings.MFA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in codes)
    return codes


def verify_code(*, user: User, code: str) -> tuple[object | None, int]:
    """Check a code: an authenticator code (6 digits) or an unused recovery code, which is
    then spent. Returns the device that accepted it, or None and how many seconds the user
    must wait first (django-otp throttles each device after a failure: 1, 2, 4 ... seconds;
    0 when the code was simply wrong)."""
    code = re.sub(r"\s+", "", code).lower()
    if not code or len(code) > 16:
        return None, 0
    devices: list = (
        list(TOTPDevice.objects.filter(user=user, confirmed=True))
        if re.fullmatch(r"\d{6}", code)
        else list(StaticDevice.objects.filter(user=user, confirmed=True))
    )
    wait = 0
    with transaction.atomic():
        for device in devices:
            allowed, details = device.verify_is_allowed()
            if not allowed:
                remaining = (details["locked_until"] - timezone.now()).total_seconds()
                wait = max(wait, math.ceil(remaining))
                continue
            if device.verify_token(code):
                return device, 0
    return None, wait


def mark_verified(request: HttpRequest, device) -> None:
    """This session has passed the second factor (django-otp keeps the device's id in it)."""
    if device.user_id == request.user.pk:
        request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id


@transaction.atomic
def reset_second_factor(*, user: User) -> None:
    """Forget the user's authenticator and recovery codes: they enrol again at next login."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


@transaction.atomic
def give_demo_device(*, user: User) -> bool:
    """The published demo secret for a demo staff account (seed_demo only); True if added."""
    if TOTPDevice.objects.filter(user=user).exists():
        return False
    TOTPDevice.objects.create(
        user=user, key=hex_key_from_base32(DEMO_TOTP_SECRET), name="demo authenticator"
    )
    return True


def current_code(secret: str) -> str:
    """The code an authenticator app set up with this base32 secret shows now."""
    totp = TOTP(binascii.unhexlify(hex_key_from_base32(secret)))
    return f"{totp.token():06d}"
