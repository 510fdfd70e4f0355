"""The clinic admin's API clients page: create (the token shown once), list, revoke."""

import pytest

from clinic.models import User
from tests.conftest import make_user
from treatments.models import ApiClient
from treatments.services.api_clients import create_api_client


def test_the_admin_creates_a_client_and_sees_its_token_once(client, clinic_admin, location):
    client.force_login(clinic_admin)
    response = client.post(
        "/treatments/api-clients/new/",
        {"name": "  Hospital EHR ", "scopes": ["Patient", "Procedure"], "location": location.pk},
    )
    assert response.status_code == 200
    token = response.context["token"]
    assert token.startswith("cad_")
    assert token in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    stored = ApiClient.objects.get()
    assert (stored.name, stored.scopes, stored.location) == (
        "Hospital EHR",
        ["Patient", "Procedure"],
        location,
    )
    assert stored.created_by == clinic_admin
    listing = client.get("/treatments/api-clients/").content.decode()
    assert "Hospital EHR" in listing
    assert token not in listing
    assert token[:8] in listing  # the hint tells tokens apart


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "scopes": ["Patient"]},
        {"name": "   ", "scopes": ["Patient"]},
        {"name": "X", "scopes": []},
        {"name": "X", "scopes": ["Spaceship"]},
        {"name": "X", "scopes": ["Patient"], "location": "abc"},
        {"name": "X", "scopes": ["Patient"], "location": "99999999999999999999999"},
        {"name": "X" * 121, "scopes": ["Patient"]},
        {"name": "X\x00", "scopes": ["Patient"]},
    ],
)
def test_a_bad_form_is_a_form_error_and_makes_no_client(client, clinic_admin, data):
    client.force_login(clinic_admin)
    response = client.post("/treatments/api-clients/new/", data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not ApiClient.objects.exists()


def test_revoking_is_the_admins_and_happens_once(client, clinic_admin, front_desk):
    api_client, _ = create_api_client(
        name="EHR", scopes=["Patient"], location=None, created_by=clinic_admin
    )
    url = f"/treatments/api-clients/{api_client.pk}/revoke/"
    client.force_login(front_desk)
    assert client.post(url).status_code == 403
    client.force_login(clinic_admin)
    assert client.post(url).status_code == 302
    api_client.refresh_from_db()
    first = api_client.revoked_at
    assert first is not None
    assert api_client.revoked_by == clinic_admin
    client.post(url)
    api_client.refresh_from_db()
    assert api_client.revoked_at == first
    assert client.post("/treatments/api-clients/999999/revoke/").status_code == 404
    assert "Revoked" in client.get("/treatments/api-clients/").content.decode()


@pytest.mark.parametrize("size", [2, 20])
def test_the_list_costs_the_same_queries_whatever_the_clients(
    client, clinic_admin, location, size, django_assert_max_num_queries
):
    for number in range(size):
        creator = make_user(f"admin{number}", User.Role.CLINIC_ADMIN)
        create_api_client(
            name=f"System {number}",
            scopes=["Patient"],
            location=location if number % 2 else None,
            created_by=creator,
        )
    client.force_login(clinic_admin)
    with django_assert_max_num_queries(8):
        response = client.get("/treatments/api-clients/")
    assert response.content.decode().count("Revoke System") == size


def test_the_database_refuses_a_revocation_without_who(clinic_admin):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    api_client, _ = create_api_client(
        name="EHR", scopes=["Patient"], location=None, created_by=clinic_admin
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiClient.objects.filter(pk=api_client.pk).update(revoked_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiClient.objects.filter(pk=api_client.pk).update(token_hash="not-a-hash")
