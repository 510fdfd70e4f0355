"""The idle warning: before a session ends for inactivity the page says so, "stay logged in"
keeps the session, and a session form in progress is saved as a draft rather than lost."""

import pytest
from django.urls import reverse

from treatments.models import TreatmentSession


def test_every_logged_in_page_carries_the_warning_with_the_session_age(client, clinician, settings):
    settings.SESSION_COOKIE_AGE = 600
    client.force_login(clinician)
    page = client.get(reverse("patients:list")).content.decode()
    assert 'id="idle-warning"' in page
    assert 'data-idle-seconds="600"' in page
    assert "js/idle.js" in page
    client.logout()
    assert 'id="idle-warning"' not in client.get(reverse("login")).content.decode()


def test_keep_alive_refreshes_the_session_and_only_takes_a_post(client, clinician):
    client.force_login(clinician)
    url = reverse("keep_alive")
    assert client.get(url).status_code == 405
    before = client.session.get_expiry_date()
    response = client.post(url)
    assert response.status_code == 204
    assert client.session.get_expiry_date() >= before


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_warning_shows_stays_and_saves_a_session_form_as_a_draft(
    page, clinician, patient_a, settings
):
    from tests.browser.test_registry_flow import log_in

    # A session of 40 s: the warning two minutes before the end shows at once, and the
    # draft is saved half a minute before the end, 10 s after the page opens.
    log_in(page, "clinician")
    settings.SESSION_COOKIE_AGE = 40
    page.goto(f"/treatments/patients/{patient_a.pk}/sessions/new/")
    warning = page.locator("#idle-warning")
    warning.wait_for(state="visible")
    assert "kept as a draft" in warning.inner_text()
    page.get_by_label("Notes").fill("typed before the break")
    page.wait_for_url("**/sessions/*/edit/", timeout=20_000)
    draft = TreatmentSession.objects.get(patient=patient_a)
    assert (draft.status, draft.notes) == ("draft", "typed before the break")
