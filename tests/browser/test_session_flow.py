import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_registry_flow import log_in
from treatments.models import TreatmentSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clinician_records_a_session_on_the_map_and_signs_it(page, clinician, patient_a):
    console_errors = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

    # Given a clinician on a patient's new session form
    log_in(page, "clinician")
    page.goto(f"/treatments/patients/{patient_a.pk}/sessions/new/")
    total = page.locator("#tally-total")
    expect(total).to_have_text("155 U")

    # When they skip a frontalis site on the map, with a reason
    page.locator('#injection-map [data-site="FRO-L1"]').click()
    page.get_by_label("Skip this site").check()
    page.locator("#site-editor-reason").fill("bruising from last cycle")
    page.get_by_role("button", name="Done").click()
    expect(total).to_have_text("150 U")

    # And add two temporalis follow-the-pain sites
    page.locator('#injection-map [data-site="TEM-L5"]').click()
    page.get_by_role("button", name="Done").click()
    page.locator('#injection-map [data-site="TEM-R5"]').click()
    page.get_by_role("button", name="Done").click()

    # Then the tally reaches 160 U
    expect(total).to_have_text("160 U")
    expect(page.locator("#tally-rules")).to_contain_text("bruising from last cycle")

    # When they answer the safety questions, enter a lot and sign
    page.get_by_label("Signed for this session").check()
    for question in (
        "infection_at_site",
        "hypersensitivity",
        "pregnant_or_breastfeeding",
        "other_toxin_recent",
    ):
        page.locator(f'input[name="{question}"][value="False"]').check()
    page.get_by_label("Lot number").fill("C1234AB")
    page.get_by_label("Product").select_option("botox_200")
    page.get_by_label("Expiry").fill("2099-06-30")
    page.get_by_role("button", name="Save and sign").click()

    # Then they see the signed record (160 U given, 40 U wasted)
    expect(page.get_by_text("Cycle 1 signed.")).to_be_visible()
    expect(page.locator("#total-units")).to_have_text("160 U")
    session = TreatmentSession.objects.get()
    assert session.is_signed
    assert session.units_wasted == 40
    assert session.sites.get(site_code="FRO-L1").skipped_reason == "bruising from last cycle"
    assert set(session.sites.filter(is_ftp=True).values_list("site_code", flat=True)) == {
        "TEM-L5",
        "TEM-R5",
    }

    # And the session on the chart
    page.get_by_role("link", name="Chart").click()
    row = page.locator("#sessions tbody tr").first
    expect(row).to_contain_text("160 U")
    expect(row).to_contain_text("C1234AB")
    expect(row).to_contain_text("Signed")
    expect(page.locator("#site-history")).to_contain_text("TEM-L5, TEM-R5")
    assert console_errors == []


def test_the_tally_blocks_units_above_a_site_or_muscle_maximum(page, clinician, patient_a):
    # Given a clinician on a patient's new session form, with the sites as a table
    log_in(page, "clinician")
    page.goto(f"/treatments/patients/{patient_a.pk}/sessions/new/")
    page.locator("#site-table-details summary").click()
    # When they enter 10 U at the procerus and 15 U at a temporalis site
    page.locator('input[name="units-PRO-M"]').fill("10")
    page.locator('input[name="units-TEM-L1"]').fill("15")
    page.locator('input[name="units-TEM-L1"]').dispatch_event("change")
    # Then the tally blocks both, as R18 does on the server
    rules = page.locator("#tally-rules")
    expect(rules).to_contain_text("Procerus: 10 U is above its 5 U maximum")
    expect(rules).to_contain_text("Above 10 U at one site")


def fill_a_standard_session(page):
    """The safety answers, an early-treatment reason and a lot: a form ready to sign."""
    page.get_by_label("Signed for this session").check()
    for question in (
        "infection_at_site",
        "hypersensitivity",
        "pregnant_or_breastfeeding",
        "other_toxin_recent",
    ):
        page.locator(f'input[name="{question}"][value="False"]').check()
    # A reason to treat early: R6 alone would not stop a second session the same day
    page.get_by_label("Reason for treating before the minimum interval").fill("travelling")
    page.get_by_label("Lot number").fill("C1234AB")
    page.get_by_label("Product").select_option("botox_200")
    page.get_by_label("Expiry").fill("2099-06-30")


def test_signing_then_back_and_signing_again_records_the_session_once(page, clinician, patient_a):
    # Given a clinician who signs a standard session
    log_in(page, "clinician")
    page.goto(f"/treatments/patients/{patient_a.pk}/sessions/new/")
    fill_a_standard_session(page)
    page.get_by_role("button", name="Save and sign").click()
    expect(page.get_by_text("Cycle 1 signed.")).to_be_visible()

    # When they press Back and "Save and sign" again (the browser may or may not keep what
    # was typed, and the form's one-time token with it)
    page.go_back()
    fill_a_standard_session(page)
    page.get_by_role("button", name="Save and sign").click()

    # Then they are told the session is already recorded, and there is exactly one
    expect(
        page.get_by_text(re.compile(r"already recorded|already has a session on .*: cycle 1"))
    ).to_be_visible()
    assert TreatmentSession.objects.count() == 1


def test_an_amendment_asks_for_the_acknowledgement_and_shows_what_changed(
    page, clinician, signed_session
):
    # Given a clinician amending a signed session: she says now that she was breastfeeding
    log_in(page, "clinician")
    page.goto(f"/treatments/sessions/{signed_session.pk}/")
    page.get_by_role("link", name="Amend").click()
    page.locator('input[name="pregnant_or_breastfeeding"][value="True"]').check()
    page.get_by_label("Reason for the amendment").fill("She told us she was breastfeeding")
    page.get_by_role("button", name="Save amendment").click()

    # Then nothing is saved until R13 is acknowledged, as at signing
    expect(page.get_by_text("I have considered these warnings")).to_be_visible()
    assert TreatmentSession.objects.filter(status="signed").count() == 1
    page.get_by_label(re.compile(r"^R13")).check()
    page.get_by_role("button", name="Save amendment").click()

    # And the new version's page lists the change in words, beside the earlier amendment
    expect(page.get_by_text("Amendment recorded as version 3")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Pregnant or breastfeeding"))
    expect(row).to_contain_text("no")
    expect(row).to_contain_text("yes")
    expect(page.get_by_text("Typo in the notes")).to_be_visible()

    # And the version it superseded is still there, read-only
    page.get_by_role("link", name="2", exact=True).last.click()
    expect(page.get_by_text("an amendment superseded it")).to_be_visible()
    expect(page.get_by_role("link", name="Amend")).to_have_count(0)
