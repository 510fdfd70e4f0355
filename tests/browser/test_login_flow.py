"""A staff login in a real browser: the password, then the authenticator's code."""

import pytest
from playwright.sync_api import expect

from clinic.mfa import current_code
from clinic.models import User
from tests.conftest import PASSWORD, give_totp_device, make_user, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def enter_password(page, username):
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_staff_are_asked_for_the_code_a_wrong_one_is_refused_the_right_one_admits(
    page, front_desk, settings
):
    give_totp_device(front_desk)
    # A person takes longer than django-otp's one-second back-off after a wrong code; the
    # test types at once (the back-off is tested in tests/clinic/test_mfa.py).
    settings.OTP_TOTP_THROTTLE_FACTOR = 0

    # When the front desk types the right password
    enter_password(page, "frontdesk")

    # Then the code is asked for, and the patient list is still out of reach
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.goto("/patients/")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()

    # When a wrong code is typed, it is refused at the field
    wrong = "000000" if totp_code() != "000000" else "111111"
    page.get_by_label("Code").fill(wrong)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("That code is not right")).to_be_visible()

    # When the authenticator's code is typed, the page asked for opens
    page.get_by_label("Code").fill(totp_code())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/patients/")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()


def test_a_new_staff_account_sets_up_its_authenticator_at_first_login(page, db):
    make_user("newdesk", User.Role.FRONT_DESK)

    # When the new account logs in, it is sent to set up an authenticator
    enter_password(page, "newdesk")
    expect(page.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    expect(page.get_by_role("img", name="QR code of your Cadence secret")).to_be_visible()

    # And when the app (here: the secret on the page) gives its code, it is on
    secret = page.locator("#mfa-secret").inner_text()
    page.get_by_label("Code from your app").fill(current_code(secret))
    page.get_by_role("button", name="Turn on").click()

    # Then the recovery codes are shown, and Continue goes on to the work
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="continue").click()
    page.wait_for_url("**/patients/")
