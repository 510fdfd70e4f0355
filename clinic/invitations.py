"""Patient portal accounts by invitation: a single-use, expiring link to set a password.

The token is Django's password-reset token under its own salt: it expires after
PASSWORD_RESET_TIMEOUT, it is spent when the password is set (the hash it covers changes),
and inviting again gives the account a new unusable password, so every older link dies."""

from functools import partial

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse, reverse_lazy
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from clinic.models import User


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "cadence.invitation"


invitation_tokens = InvitationTokenGenerator()


class InvitationError(Exception):
    pass


@transaction.atomic
def invite_patient(*, patient, invited_by: User) -> User:
    """Create (or reuse) the patient's portal account and email a link to set a password.

    1. The account's username is the patient's email address; it must not belong to anyone
       else, and a staff account is never turned into a patient account.
    2. A new unusable password makes every earlier invitation (or reset) link invalid.
    3. The email carries the link; nothing else about the patient. It goes out once the
       account is committed (a rolled-back invitation sends nothing).
    """
    if not patient.email:
        raise InvitationError("Add the patient's email address first.")
    username = patient.email.lower()
    user = patient.user
    clash = User.objects.filter(username=username)
    if user is not None:
        clash = clash.exclude(pk=user.pk)
    if clash.exists():
        raise InvitationError("Another account already uses this email address.")
    if user is None:
        user = User(username=username, role=User.Role.PATIENT)
    elif user.role != User.Role.PATIENT:
        raise InvitationError("That account is not a patient account.")
    user.username, user.email = username, patient.email
    user.first_name, user.last_name = patient.first_name, patient.last_name
    user.set_unusable_password()
    user.save()
    if patient.user_id != user.pk:
        patient.user = user
        patient.save(update_fields=["user", "updated_at"])
    transaction.on_commit(partial(_send_invitation, user=user, patient=patient))
    return user


def _send_invitation(*, user: User, patient) -> None:
    link = settings.SITE_URL + reverse(
        "portal_welcome",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": invitation_tokens.make_token(user),
        },
    )
    location = patient.location.name if patient.location else "your clinic"
    send_mail(
        f"Your {location} patient portal",
        f"{location} invites you to its patient portal, to see and confirm your visits.\n\n"
        f"Choose your password here (the link works once, for "
        f"{settings.PASSWORD_RESET_TIMEOUT // 3600} hours):\n{link}\n\n"
        f"Your username is this email address.\n",
        None,
        [patient.email],
    )


class WelcomeView(PasswordResetConfirmView):
    """The invitation link: choose a password, then straight into the portal."""

    token_generator = invitation_tokens
    template_name = "registration/invitation_confirm.html"
    success_url = reverse_lazy("portal:home")
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.role == User.Role.PATIENT else None


@transaction.atomic
def send_password_link(*, user: User) -> None:
    """Email the account's owner a single-use link to choose a password (Django's password
    reset). Nobody else sets a password: a new staff account starts with an unusable one, and
    a clinic admin can only send this link. Sent once the transaction commits."""
    if not user.email:
        raise InvitationError("Add the account's email address first.")
    transaction.on_commit(partial(_send_password_link, user_pk=user.pk))


def _send_password_link(*, user_pk: int) -> None:
    user = User.objects.get(pk=user_pk)
    link = settings.SITE_URL + reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    send_mail(
        "Your Cadence account: choose a password",
        f"Choose the password of your Cadence account ({user.get_username()}) here (the link "
        f"works once, for {settings.PASSWORD_RESET_TIMEOUT // 3600} hours):\n{link}\n\n"
        "Staff accounts then set up a second factor (an authenticator app) at the first "
        "login.\n",
        None,
        [user.email],
    )
