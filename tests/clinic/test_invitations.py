import re

import pytest
from django.core import mail
from django.http import HttpRequest
from django.urls import reverse

from clinic.invitations import InvitationError, invite_patient
from clinic.models import User
from tests.conftest import make_patient, make_user

# The invitation email goes out on commit: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "a-long-new-passphrase"


def invitation_link(message) -> str:
    return re.search(r"https?://[^/]+(/welcome/\S+)", message.body).group(1)


def accept(client, link):
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    return client.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )


@pytest.fixture
def new_patient(location):
    return make_patient(5, first_name="Hannah", email="Hannah@Example.com", location=location)


def test_an_invitation_creates_a_patient_account_and_emails_a_link(new_patient, front_desk):
    user = invite_patient(patient=new_patient, invited_by=front_desk)
    new_patient.refresh_from_db()
    assert (new_patient.user, user.role, user.username) == (user, "patient", "hannah@example.com")
    assert not user.has_usable_password()
    [message] = mail.outbox
    assert message.to == ["Hannah@Example.com"]
    assert "/welcome/" in message.body


@pytest.mark.django_db
def test_the_invitation_email_goes_out_only_on_commit(
    new_patient, front_desk, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invite_patient(patient=new_patient, invited_by=front_desk)
        assert mail.outbox == []  # the account is not committed yet: no email
    assert len(callbacks) == 1
    [message] = mail.outbox
    assert message.to == ["Hannah@Example.com"]


def test_the_link_sets_a_password_logs_in_to_the_portal_and_works_once(
    client, new_patient, front_desk
):
    invite_patient(patient=new_patient, invited_by=front_desk)
    link = invitation_link(mail.outbox[0])
    response = accept(client, link)
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert "Hello, Hannah" in response.content.decode()
    client.logout()
    assert client.login(request=HttpRequest(), username="hannah@example.com", password=NEW_PASSWORD)
    client.logout()
    assert "expired or was already used" in client.get(link, follow=True).content.decode()


def test_inviting_again_replaces_the_old_link(client, new_patient, front_desk):
    invite_patient(patient=new_patient, invited_by=front_desk)
    invite_patient(patient=new_patient, invited_by=front_desk)
    old, new = (invitation_link(m) for m in mail.outbox)
    assert "expired or was already used" in client.get(old, follow=True).content.decode()
    assert accept(client, new).redirect_chain[-1][0] == reverse("portal:home")


def test_an_expired_link_is_refused(client, new_patient, front_desk, settings):
    invite_patient(patient=new_patient, invited_by=front_desk)
    settings.PASSWORD_RESET_TIMEOUT = -1  # every token is now older than the timeout
    page = client.get(invitation_link(mail.outbox[0]), follow=True).content.decode()
    assert "expired or was already used" in page


def test_a_staff_account_is_never_made_a_patient_account(location, front_desk):
    make_user("dr.x", User.Role.CLINICIAN).__class__.objects.filter(username="dr.x").update(
        username="staff@example.com"
    )
    patient = make_patient(6, email="staff@example.com", location=location)
    with pytest.raises(InvitationError, match="Another account"):
        invite_patient(patient=patient, invited_by=front_desk)
    assert patient.user is None
    assert mail.outbox == []


def test_the_front_desk_invites_from_the_patient_page(client, front_desk, new_patient):
    client.force_login(front_desk)
    client.post(reverse("patients:invite", args=[new_patient.pk]))
    assert len(mail.outbox) == 1
    no_email = make_patient(7, email="")
    page = client.post(reverse("patients:invite", args=[no_email.pk]), follow=True)
    assert "Add the patient&#x27;s email address first." in page.content.decode()
