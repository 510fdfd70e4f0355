"""Repeated failures lock the account and the source address for a cool-off; the clinic
admin sees it and can unlock."""

import datetime
import logging

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from tests.conftest import PASSWORD, give_totp_device, make_user, totp_code

LOGIN = reverse("login")


def attempt(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def fail_until_locked(client, username, settings, **extra):
    responses = [attempt(client, username, "wrong-guess", **extra) for _ in range(5)]
    assert settings.AXES_FAILURE_LIMIT == 5
    return responses


def test_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(
    client, clinician, settings
):
    responses = fail_until_locked(client, "clinician", settings)
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]

    response = attempt(client, "clinician", PASSWORD)

    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_account_stays_locked_from_another_address(client, clinician, settings):
    fail_until_locked(client, "clinician", settings)

    response = attempt(client, "clinician", PASSWORD, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 429


def test_the_source_address_is_locked_whatever_account_it_tries(client, personas, settings):
    for username in ("a", "b", "c", "d", "e"):
        attempt(client, username, "wrong-guess", REMOTE_ADDR="203.0.113.9")

    assert attempt(client, "frontdesk", PASSWORD, REMOTE_ADDR="203.0.113.9").status_code == 429
    # the account itself is not locked: from elsewhere it logs in
    assert attempt(client, "frontdesk", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302


def test_the_lock_ends_after_the_cool_off(client, clinician, settings, time_machine):
    # every instant from one anchor: a Sunday night, when the lock outlasts midnight
    locked_at = datetime.datetime(2026, 12, 6, 23, 50, tzinfo=datetime.UTC)
    time_machine.move_to(locked_at, tick=False)
    fail_until_locked(client, "clinician", settings)

    time_machine.move_to(locked_at + datetime.timedelta(minutes=settings.AXES_COOLOFF_MINUTES + 1))
    response = attempt(client, "clinician", PASSWORD)

    assert response.status_code == 302


def test_a_patients_login_starts_the_count_again(client, patient_a, settings):
    for _ in range(4):
        attempt(client, "patienta", "wrong-guess")
    assert attempt(client, "patienta", PASSWORD).status_code == 302
    client.post(reverse("logout"))

    for _ in range(4):
        attempt(client, "patienta", "wrong-guess")

    assert attempt(client, "patienta", PASSWORD).status_code == 302


def test_a_staff_login_starts_the_count_again_only_after_the_second_factor(
    client, front_desk, settings
):
    give_totp_device(front_desk)
    for _ in range(4):
        attempt(client, "frontdesk", "wrong-guess")
    assert attempt(client, "frontdesk", PASSWORD).status_code == 302
    assert client.post(reverse("mfa_verify"), {"code": totp_code()}).status_code == 302
    client.post(reverse("logout"))

    for _ in range(4):
        attempt(client, "frontdesk", "wrong-guess")

    assert attempt(client, "frontdesk", PASSWORD).status_code == 302


def test_the_password_again_does_not_buy_fresh_tries_at_the_code(client, front_desk, settings):
    give_totp_device(front_desk)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    wrong = "000000" if totp_code() != "000000" else "111111"
    for tries in (2, 2):
        assert attempt(client, "frontdesk", PASSWORD).status_code == 302
        for _ in range(tries):
            client.post(reverse("mfa_verify"), {"code": wrong})
        client.post(reverse("logout"))

    assert attempt(client, "frontdesk", PASSWORD).status_code == 302
    response = client.post(reverse("mfa_verify"), {"code": wrong})

    assert response.status_code == 429
    assert attempt(client, "frontdesk", PASSWORD).status_code == 429


def test_wrong_second_factor_codes_lock_the_account_too(client, front_desk, settings):
    give_totp_device(front_desk)
    # without django-otp's back-off between tries (a refused-while-waiting try is not counted)
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    attempt(client, "frontdesk", PASSWORD)
    wrong = "000000" if totp_code() != "000000" else "111111"

    statuses = [client.post(reverse("mfa_verify"), {"code": wrong}).status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 200, 429]
    assert "_auth_user_id" not in client.session
    assert attempt(client, "frontdesk", PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 429


def test_the_clinic_admin_sees_the_lockout_and_unlocks_the_account(
    client, clinician, clinic_admin, settings
):
    fail_until_locked(client, "clinician", settings, REMOTE_ADDR="192.0.2.44")
    admin = client.__class__()
    admin.force_login(clinic_admin)

    users = admin.get(reverse("admin:clinic_user_changelist"))
    attempts = admin.get(reverse("admin:axes_accessattempt_changelist"))

    row = users.context["cl"].result_list.get(pk=clinician.pk)
    assert users.context["cl"].model_admin.locked_out(row) is True
    assert "192.0.2.44" in attempts.content.decode()

    response = admin.post(
        reverse("admin:clinic_user_changelist"),
        {"action": "unlock", "_selected_action": [clinician.pk]},
    )

    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert attempt(client, "clinician", PASSWORD, REMOTE_ADDR="192.0.2.44").status_code == 302


def test_unlocking_from_the_failed_logins_list_unlocks_the_account(
    client, clinician, clinic_admin, settings
):
    fail_until_locked(client, "clinician", settings)
    admin = client.__class__()
    admin.force_login(clinic_admin)

    admin.post(
        reverse("admin:axes_accessattempt_changelist"),
        {
            "action": "unlock",
            "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True)),
        },
    )

    assert attempt(client, "clinician", PASSWORD).status_code == 302


@pytest.mark.parametrize("role", ["front_desk", "clinician"])
def test_other_staff_cannot_unlock(client, personas, role):
    client.force_login(personas[role])

    response = client.get(reverse("admin:axes_accessattempt_changelist"))

    assert response.status_code == 302  # to the login: the admin is not theirs


def test_the_lockout_log_does_not_name_the_account(client, db, settings, caplog):
    patient_email = "hannah.lindqvist@example.com"
    make_user(patient_email, "patient")

    with caplog.at_level(logging.DEBUG, logger="axes"):
        fail_until_locked(client, patient_email, settings)

    assert "lock" in caplog.text.lower()
    assert "hannah" not in caplog.text.lower()


def test_an_overlong_username_is_a_form_error_and_no_failed_attempt(client, clinician):
    # Given a login name longer than any account's (the failed-login record holds 255)
    name = "c" * 300

    # When someone tries it
    response = attempt(client, name, "wrong-guess")

    # Then the form says so, and nothing is recorded against an account
    assert response.status_code == 200
    assert "at most 150 characters" in response.content.decode()
    assert not AccessAttempt.objects.exists()
