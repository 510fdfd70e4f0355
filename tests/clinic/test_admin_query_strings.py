"""The admin takes no patient identifiers in its query strings: it neither searches nor
filters by names, dates of birth, emails or phones (the registry searches, by POST)."""

import pytest
from django.contrib import admin
from django.urls import reverse

CHANGELISTS = [
    reverse_args
    for model in admin.site._registry
    for reverse_args in [f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"]
]


@pytest.mark.parametrize("changelist", CHANGELISTS)
def test_no_admin_changelist_takes_a_search(client, clinic_admin, patient_b, changelist):
    client.force_login(clinic_admin)
    assert client.get(reverse(changelist)).status_code == 200
    assert client.get(reverse(changelist), {"q": patient_b.last_name}).status_code == 400


@pytest.mark.parametrize(
    ("changelist", "lookup"),
    [
        ("admin:patients_patient_changelist", {"last_name": "Patel"}),
        ("admin:patients_patient_changelist", {"first_name__startswith": "B"}),
        ("admin:patients_patient_changelist", {"date_of_birth": "1980-01-03"}),
        ("admin:patients_patient_changelist", {"email__icontains": "patient2"}),
        ("admin:patients_patient_changelist", {"phone": "+12125550100"}),
        ("admin:clinic_user_changelist", {"last_name": "Patel"}),
        ("admin:clinic_user_changelist", {"email": "x@example.com"}),
        ("admin:treatments_appointment_changelist", {"patient__last_name": "Patel"}),
        ("admin:patients_contactconsent_changelist", {"patient__date_of_birth": "1980-01-03"}),
    ],
)
def test_no_admin_changelist_filters_by_a_patient_identifier(
    client, clinic_admin, patient_b, changelist, lookup
):
    client.force_login(clinic_admin)
    assert client.get(reverse(changelist), lookup).status_code == 400


def test_the_admin_filters_by_its_list_filters(client, clinic_admin, patient_b):
    client.force_login(clinic_admin)
    response = client.get(reverse("admin:patients_patient_changelist"), {"status": "active"})
    assert response.status_code == 200
    assert patient_b.mrn in response.content.decode()
    assert 'name="q"' not in response.content.decode()
