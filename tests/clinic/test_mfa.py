"""The second factor for staff: enrolment at first login, a TOTP code or a recovery code at
every login, nothing staff-only before it; patients keep password-only logins."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import mfa
from clinic.models import User
from tests.conftest import PASSWORD, TEST_TOTP_SECRET, give_totp_device, make_user, totp_code

VERIFY = reverse("mfa_verify")
SETUP = reverse("mfa_setup")


def log_in_with_password(client, username):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


def enrol(client):
    """Set up an authenticator from the enrolment page; return the recovery codes shown."""
    client.get(SETUP)
    code = mfa.current_code(mfa.base32_secret(client.session["mfa_setup_key"]))
    response = client.post(SETUP, {"code": code}, follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("mfa_recovery_codes"))
    return response.context["codes"]


def test_a_staff_password_alone_opens_no_staff_page(client, front_desk, patient_a):
    give_totp_device(front_desk)
    log_in_with_password(client, "frontdesk")

    for url in (reverse("patients:list"), reverse("patients:detail", args=[patient_a.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{VERIFY}?next={url}"


@pytest.mark.password_only
def test_the_admin_refuses_a_clinic_admin_who_has_not_passed_the_second_factor(
    client, clinic_admin
):
    give_totp_device(clinic_admin)
    client.force_login(clinic_admin)

    response = client.get(reverse("admin:clinic_user_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)


def test_the_admin_login_form_cannot_log_anyone_in(client, clinic_admin):
    response = client.post(
        reverse("admin:login"), {"username": "clinicadmin", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session


def test_a_totp_code_passes_the_second_factor_and_goes_on_to_the_page_asked_for(client, front_desk):
    give_totp_device(front_desk)
    log_in_with_password(client, "frontdesk")
    asked = client.get(reverse("treatments:due_list"))["Location"]

    response = client.post(asked, {"code": totp_code()})

    assert response["Location"] == reverse("treatments:due_list")
    assert client.get(reverse("treatments:due_list")).status_code == 200


def test_a_wrong_code_is_refused_at_the_field(client, front_desk):
    give_totp_device(front_desk)
    log_in_with_password(client, "frontdesk")
    wrong = "000000" if totp_code() != "000000" else "111111"

    response = client.post(VERIFY, {"code": wrong})

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert client.get(reverse("patients:list")).status_code == 302


def test_right_after_a_wrong_code_even_the_right_one_must_wait(client, front_desk):
    give_totp_device(front_desk)
    log_in_with_password(client, "frontdesk")
    wrong = "000000" if totp_code() != "000000" else "111111"
    client.post(VERIFY, {"code": wrong})

    response = client.post(VERIFY, {"code": totp_code()})

    assert "Too many wrong codes: wait 1 s" in response.content.decode()
    assert client.get(reverse("patients:list")).status_code == 302


def test_the_same_totp_code_is_not_accepted_twice(client, front_desk):
    give_totp_device(front_desk)
    log_in_with_password(client, "frontdesk")
    code = totp_code()
    assert client.post(VERIFY, {"code": code}).status_code == 302
    client.post(reverse("logout"))

    log_in_with_password(client, "frontdesk")
    response = client.post(VERIFY, {"code": code})

    assert response.status_code == 200
    assert client.get(reverse("patients:list")).status_code == 302


@pytest.mark.parametrize("code", ["", " ", "x" * 5000, "12345\x00", "' OR 1=1 --", "１２３４５６"])
def test_hostile_codes_are_a_form_error_not_a_crash(client, front_desk, code):
    give_totp_device(front_desk)
    log_in_with_password(client, "frontdesk")

    response = client.post(VERIFY, {"code": code})

    assert response.status_code == 200
    assert client.get(reverse("patients:list")).status_code == 302


def test_the_next_page_must_be_ours(client, front_desk):
    give_totp_device(front_desk)
    log_in_with_password(client, "frontdesk")

    response = client.post(f"{VERIFY}?next=https://evil.example/", {"code": totp_code()})

    assert response["Location"] == reverse("home")


def test_a_new_staff_account_is_sent_to_enrolment_at_first_login(client, clinician):
    log_in_with_password(client, "clinician")

    response = client.get(reverse("home"), follow=True)

    assert response.redirect_chain[-1][0].startswith(SETUP)
    page = response.content.decode()
    assert "data:image/svg+xml;base64," in page  # the QR code, drawn here
    assert mfa.base32_secret(client.session["mfa_setup_key"]) in page


def test_enrolment_with_the_apps_code_turns_on_the_second_factor_and_shows_codes_once(
    client, clinician
):
    log_in_with_password(client, "clinician")

    codes = enrol(client)

    assert len(codes) == 10 == len(set(codes))
    assert TOTPDevice.objects.filter(user=clinician, confirmed=True).count() == 1
    assert sorted(
        StaticToken.objects.filter(device__user=clinician).values_list("token", flat=True)
    ) == sorted(codes)
    # the session has passed the second factor; the codes are not shown again
    assert client.get(reverse("treatments:alert_list")).status_code == 200
    assert client.get(reverse("mfa_recovery_codes"))["Location"] == reverse("home")


def test_enrolment_refuses_a_wrong_code_and_keeps_the_same_secret(client, clinician):
    log_in_with_password(client, "clinician")
    client.get(SETUP)
    key = client.session["mfa_setup_key"]
    right = mfa.current_code(mfa.base32_secret(key))
    wrong = "000000" if right != "000000" else "111111"

    response = client.post(SETUP, {"code": wrong})

    assert "does not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=clinician).exists()
    assert client.session["mfa_setup_key"] == key
    assert client.get(reverse("treatments:alert_list")).status_code == 302


def test_an_account_with_an_authenticator_cannot_enrol_another(client, clinician):
    give_totp_device(clinician)
    log_in_with_password(client, "clinician")

    response = client.get(SETUP)

    assert response["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=clinician).count() == 1


def test_a_recovery_code_passes_the_second_factor_once(client, clinician):
    log_in_with_password(client, "clinician")
    codes = enrol(client)
    client.post(reverse("logout"))

    log_in_with_password(client, "clinician")
    assert client.post(VERIFY, {"code": codes[3].upper()})["Location"] == reverse("home")
    assert client.get(reverse("treatments:alert_list")).status_code == 200
    client.post(reverse("logout"))

    log_in_with_password(client, "clinician")
    response = client.post(VERIFY, {"code": codes[3]})
    assert response.status_code == 200
    assert client.get(reverse("treatments:alert_list")).status_code == 302


def test_after_a_reset_the_user_enrols_again(client, clinician):
    give_totp_device(clinician)
    mfa.reset_second_factor(user=clinician)
    log_in_with_password(client, "clinician")

    assert client.get(VERIFY)["Location"].startswith(SETUP)


def test_patients_log_in_with_a_password_only(client, patient_a):
    log_in_with_password(client, "patienta")

    assert client.get(reverse("portal:home")).status_code == 200
    # and the second factor's pages are not theirs
    assert client.get(VERIFY).status_code == 404
    assert client.get(SETUP).status_code == 404


def test_the_demo_staff_share_the_published_secret_and_real_accounts_do_not(client, db):
    call_command("seed_demo", stdout=None)
    assert not TOTPDevice.objects.filter(user__role=User.Role.PATIENT).exists()
    log_in_with_password_demo = client.post(
        reverse("login"), {"username": "desk.kim", "password": "cadence-demo"}
    )
    assert log_in_with_password_demo.status_code == 302

    response = client.post(VERIFY, {"code": mfa.current_code(mfa.DEMO_TOTP_SECRET)})

    assert response["Location"] == reverse("home")
    newcomer = make_user("newcomer", User.Role.FRONT_DESK)
    assert not TOTPDevice.objects.filter(user=newcomer).exists()
    assert TEST_TOTP_SECRET != mfa.DEMO_TOTP_SECRET


def test_the_demo_code_command_prints_the_code_of_the_demo_secret(capsys):
    call_command("demo_code")

    assert capsys.readouterr().out.strip() == mfa.current_code(mfa.DEMO_TOTP_SECRET)
