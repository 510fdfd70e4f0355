"""The front desk's call outcome (issue 14, part 6): the outcome is a set of radios with none
checked, and a call saved without an outcome is a form error, not a default."""

import re

from django.urls import reverse

from tests.conftest import make_patient
from treatments.models import CallOutcome

RADIO = re.compile(r'<input\b[^>]*\bname="outcome"[^>]*>')


def test_the_call_outcome_page_offers_every_outcome_with_none_checked(client, front_desk):
    patient = make_patient(1)
    client.force_login(front_desk)

    html = client.get(reverse("treatments:call_outcome", args=[patient.pk])).content.decode()

    radios = RADIO.findall(html)
    values = [re.search(r'value="([^"]*)"', radio).group(1) for radio in radios]
    assert values == [value for value, _ in CallOutcome.Outcome.choices]
    assert all('type="radio"' in radio for radio in radios)
    assert not any("checked" in radio for radio in radios)
    assert "<select" not in html


def test_a_call_saved_without_an_outcome_is_a_form_error_and_nothing_is_recorded(
    client, front_desk
):
    patient = make_patient(1)
    client.force_login(front_desk)
    url = reverse("treatments:call_outcome", args=[patient.pk])

    missing = client.post(url, {"note": "rang twice"})
    blank = client.post(url, {"outcome": "", "note": "rang twice"})
    unknown = client.post(url, {"outcome": "maybe"})

    for response in (missing, blank, unknown):
        assert response.status_code == 200
        assert response.context["form"].errors["outcome"]
    assert "Choose the outcome of the call." in missing.content.decode()
    assert not CallOutcome.objects.exists()


def test_a_declined_call_still_needs_its_reason(client, front_desk):
    patient = make_patient(1)
    client.force_login(front_desk)
    url = reverse("treatments:call_outcome", args=[patient.pk])

    refused = client.post(url, {"outcome": "declined"})
    saved = client.post(url, {"outcome": "declined", "note": "Moving abroad"})

    assert "Say why the patient declined." in refused.content.decode()
    assert saved.status_code == 302
    assert CallOutcome.objects.get(patient=patient).note == "Moving abroad"
