import re

from django.core import mail
from django.http import HttpRequest
from django.urls import reverse

from tests.conftest import PASSWORD


def test_a_wrong_password_is_refused_with_a_message(client, front_desk):
    response = client.post(reverse("login"), {"username": "frontdesk", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_logging_out_ends_the_session(client, front_desk):
    client.force_login(front_desk)
    response = client.post(reverse("logout"))
    assert response["Location"] == reverse("login")
    assert client.get(reverse("patients:list")).status_code == 302


def test_a_password_can_be_reset_by_email(client, front_desk):
    # Given a user asks for a reset
    client.post(reverse("password_reset"), {"email": front_desk.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)

    # When they follow the link and choose a new password
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    new_password = "a-brand-new-passphrase"
    client.post(form_url, {"new_password1": new_password, "new_password2": new_password})

    # Then the new password works, the old does not, and the link is spent
    assert client.login(request=HttpRequest(), username="frontdesk", password=new_password)
    assert not client.login(request=HttpRequest(), username="frontdesk", password=PASSWORD)
    client.logout()
    assert "invalid" in client.get(link, follow=True).content.decode()


def test_a_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_a_password_change_enforces_the_validators(client, front_desk):
    client.force_login(front_desk)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"},
    )
    assert "This password is too short" in response.content.decode()
    front_desk.refresh_from_db()
    assert front_desk.check_password(PASSWORD)


def test_the_session_expires_after_inactivity_and_each_request_extends_it(
    client, front_desk, settings
):
    client.force_login(front_desk)
    client.get(reverse("patients:list"))
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 30 * 60
