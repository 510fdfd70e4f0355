"""What a clinic admin cannot do in the admin: clinical fields, portal links and other
people's passwords stay out of reach."""

import re

from django.core import mail
from django.http import HttpRequest
from django.urls import reverse

from clinic.models import User
from patients.models import Patient
from tests.conftest import PASSWORD, give_totp_device


def admin_client(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


def change_patient(client, patient, **changes):
    """POST the admin's change form for the patient as it is, with these changes."""
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data |= {
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
        **changes,
    }
    return client.post(url, data)


def test_the_clinical_intake_is_read_only_in_the_admin(client, clinic_admin, patient_a):
    Patient.objects.filter(pk=patient_a.pk).update(
        diagnosis_code="G43.709", baseline_headache_days=20, baseline_migraine_days=12
    )
    admin_client(client, clinic_admin)

    response = change_patient(
        client,
        patient_a,
        diagnosis_code="G43.E09",
        baseline_headache_days="2",
        baseline_migraine_days="1",
        preventives_failed="9",
        preventives_notes="made up",
        address="1 New Street",
    )

    assert response.status_code == 302
    patient_a.refresh_from_db()
    assert (patient_a.diagnosis_code, patient_a.baseline_headache_days) == ("G43.709", 20)
    assert (patient_a.baseline_migraine_days, patient_a.preventives_notes) == (12, "")
    assert patient_a.address == "1 New Street"  # demographics still change here


def test_a_portal_account_cannot_be_relinked_in_the_admin(
    client, clinic_admin, patient_a, patient_b
):
    admin_client(client, clinic_admin)

    response = change_patient(client, patient_b, user=str(patient_a.user_id))

    assert response.status_code == 302
    patient_b.refresh_from_db()
    assert patient_b.user.username == "patientb"
    assert Patient.objects.get(user=patient_a.user) == patient_a


def test_there_is_no_admin_page_that_sets_someone_elses_password(client, clinic_admin, clinician):
    admin_client(client, clinic_admin)
    url = f"/admin/clinic/user/{clinician.pk}/password/"

    response = client.post(url, {"password1": "taken-over-9", "password2": "taken-over-9"})
    page = client.get(reverse("admin:clinic_user_change", args=[clinician.pk])).content.decode()

    assert response.status_code in (302, 404)
    clinician.refresh_from_db()
    assert clinician.check_password(PASSWORD)
    assert "../password/" not in page
    assert "Only the account's owner sets a password" in page


def test_a_user_change_cannot_set_the_password_or_the_email(client, clinic_admin, clinician):
    admin_client(client, clinic_admin)
    url = reverse("admin:clinic_user_change", args=[clinician.pk])

    response = client.post(
        url,
        {
            "username": "clinician",
            "role": "clinician",
            "first_name": "Ama",
            "last_name": "Osei",
            "email": "admin-owned@example.com",
            "password": "pbkdf2_sha256$1$x$y",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    clinician.refresh_from_db()
    assert clinician.check_password(PASSWORD)
    assert clinician.email == "clinician@example.com"


def test_a_new_account_has_no_password_and_its_owner_is_emailed_a_link(
    client, clinic_admin, django_capture_on_commit_callbacks
):
    admin_client(client, clinic_admin)
    form = client.get(reverse("admin:clinic_user_add")).content.decode()
    assert 'name="password1"' not in form

    with django_capture_on_commit_callbacks(execute=True):
        with_link = client.post(
            reverse("admin:clinic_user_add"),
            {
                "username": "dr.new",
                "role": "clinician",
                "first_name": "Noor",
                "last_name": "Haddad",
                "email": "noor@example.com",
            },
        )

    assert with_link.status_code == 302
    user = User.objects.get(username="dr.new")
    assert not user.has_usable_password()
    assert [m.to for m in mail.outbox] == [["noor@example.com"]]
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    client.logout()
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(form_url, {"new_password1": "noor-chooses-1", "new_password2": "noor-chooses-1"})
    assert client.login(request=HttpRequest(), username="dr.new", password="noor-chooses-1")


def test_a_patient_account_is_not_made_in_the_admin(client, clinic_admin):
    admin_client(client, clinic_admin)

    response = client.post(
        reverse("admin:clinic_user_add"),
        {"username": "pat", "role": "patient", "email": "pat@example.com"},
    )

    assert response.status_code == 200
    assert "Invite the patient from their page instead" in response.content.decode()
    assert not User.objects.filter(username="pat").exists()


def test_the_clinic_admin_resets_a_lost_second_factor(client, clinic_admin, clinician):
    give_totp_device(clinician)
    admin_client(client, clinic_admin)

    client.post(
        reverse("admin:clinic_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [clinician.pk]},
    )

    client.logout()
    client.post(reverse("login"), {"username": "clinician", "password": PASSWORD})
    assert client.get(reverse("home"))["Location"].startswith(reverse("mfa_setup"))


def test_the_admin_hides_the_second_factors_secrets(client, clinic_admin):
    admin_client(client, clinic_admin)

    index = client.get(reverse("admin:index")).content.decode()

    assert "TOTP" not in index
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404


def test_the_clinic_admin_can_only_email_the_owner_a_link(
    client, clinic_admin, clinician, django_capture_on_commit_callbacks
):
    admin_client(client, clinic_admin)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:clinic_user_changelist"),
            {"action": "email_password_link", "_selected_action": [clinician.pk]},
        )

    assert [m.to for m in mail.outbox] == [["clinician@example.com"]]
    assert "/accounts/reset/" in mail.outbox[0].body
    clinician.refresh_from_db()
    assert clinician.check_password(PASSWORD)
