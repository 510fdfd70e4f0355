import json
import urllib.request

import pytest
from playwright.sync_api import expect

from audit.models import AccessEvent
from tests.browser.test_accessibility import grave_violations
from tests.browser.test_registry_flow import log_in
from treatments.models import ApiClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fhir_get(base: str, path: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our server)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_clinic_admin_makes_a_client_whose_token_lists_a_patients_procedures(
    page, live_server, clinic_admin, signed_session
):
    # Given the clinic admin on the API clients page
    log_in(page, "clinicadmin")
    page.goto("/treatments/api-clients/")
    expect(page.get_by_text("No API clients yet.")).to_be_visible()

    # When she creates a client that may read patients and procedures
    page.get_by_role("link", name="New API client").click()
    page.get_by_label("Name").fill("Hospital EHR")
    page.get_by_label("Patient", exact=True).check()
    page.get_by_label("Procedure", exact=True).check()
    page.get_by_role("button", name="Create and show the token").click()

    # Then she sees its token once
    expect(page.get_by_text("it is shown only this once")).to_be_visible()
    token = page.get_by_label("Bearer token").input_value()
    assert token.startswith("cad_")
    assert grave_violations(page) == []
    assert token not in str(ApiClient.objects.values().get())

    # And a call with it lists the patient's procedures
    status, body = fhir_get(
        live_server.url, f"/fhir/R4/Procedure?patient={signed_session.patient_id}", token
    )
    assert status == 200
    assert body["resourceType"] == "Bundle"
    assert [e["resource"]["resourceType"] for e in body["entry"]] == ["Procedure"]
    assert AccessEvent.objects.filter(
        resource_type="Procedure", patient_id=signed_session.patient_id
    ).exists()

    # And the list shows it was used; the token is not on it
    page.get_by_role("link", name="Done").click()
    expect(page.locator("#api-clients")).to_contain_text("Hospital EHR")
    expect(page.locator("#api-clients")).not_to_contain_text("Never")
    assert token not in page.content()

    # When she revokes it, the token stops working at once
    page.get_by_role("button", name="Revoke Hospital EHR").click()
    expect(page.locator("#api-clients")).to_contain_text("Revoked")
    status, body = fhir_get(live_server.url, "/fhir/R4/Procedure", token)
    assert status == 401
    assert body["resourceType"] == "OperationOutcome"
