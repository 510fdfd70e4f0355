import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from clinic.models import User
from tests.conftest import PASSWORD, give_totp_device, make_user, totp_code


def test_the_four_role_groups_exist_with_their_permissions(db):
    groups = {
        g.name: set(g.permissions.values_list("codename", flat=True)) for g in Group.objects.all()
    }
    assert set(groups) == {"clinician", "front_desk", "patient", "clinic_admin"}
    assert groups["patient"] == set()
    assert {"view_patient", "change_patient", "add_contactconsent"} <= groups["front_desk"]
    assert "change_user" in groups["clinic_admin"]
    # Records are kept: the only deletes are the clinic admin's hours, rota and closures
    # settings, and failed-login records (deleting them unlocks an account)
    deletes = {code for codes in groups.values() for code in codes if code.startswith("delete_")}
    settings = {"delete_openinghours", "delete_injectorday", "delete_closure"}
    assert deletes == settings | {"delete_accessattempt"}
    assert settings <= groups["clinic_admin"]
    assert {"view_accessattempt", "delete_accessattempt"} <= groups["clinic_admin"]


def test_a_users_only_group_follows_their_role(db):
    user = make_user("someone", User.Role.FRONT_DESK)
    assert list(user.groups.values_list("name", flat=True)) == ["front_desk"]
    user.role = User.Role.CLINICIAN
    user.save()
    assert list(user.groups.values_list("name", flat=True)) == ["clinician"]
    assert user.has_perm("patients.change_patient")


def test_createsuperuser_makes_a_clinic_admin(db):
    user = User.objects.create_superuser("root", "root@example.com", PASSWORD)
    assert user.role == User.Role.CLINIC_ADMIN


@pytest.mark.parametrize(
    ("role", "home", "query"),
    [
        ("patient", "portal:home", ""),
        ("front_desk", "patients:list", ""),
        # a clinician starts on today's calendar, filtered to themself
        ("clinician", "treatments:calendar", "?clinician={pk}"),
        ("clinic_admin", "patients:list", ""),
    ],
)
def test_each_role_lands_on_its_own_home_after_login(client, personas, role, home, query):
    user = personas[role]
    staff = user.role in User.STAFF_ROLES
    if staff:
        give_totp_device(user)
    response = client.post(
        reverse("login"),
        {"username": user.username, "password": PASSWORD},
        follow=True,
    )
    if staff:
        # staff then pass the second factor, and go on to the page they were headed for
        assert response.redirect_chain[-1][0].startswith(reverse("mfa_verify") + "?next=")
        response = client.post(response.redirect_chain[-1][0], {"code": totp_code()}, follow=True)
    assert response.redirect_chain[-1][0] == reverse(home) + query.format(pk=personas[role].pk)
    assert response.status_code == 200


def test_only_clinic_admins_enter_the_admin(client, personas):
    for role in ("patient", "front_desk", "clinician"):
        client.force_login(personas[role])
        assert client.get(reverse("admin:index")).status_code == 302
    client.force_login(personas["clinic_admin"])
    assert client.get(reverse("admin:index")).status_code == 200
