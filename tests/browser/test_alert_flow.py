import datetime

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import grave_violations
from tests.browser.test_registry_flow import log_in
from treatments.models import Alert

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_patient_reports_trouble_swallowing_and_a_clinician_acknowledges_the_alert(
    browser, live_server, signed_session, clinician
):
    onset = signed_session.session_date + datetime.timedelta(days=1)

    # Given Ben on his phone reports trouble swallowing, severe
    phone = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = phone.new_page()
    log_in(page, "patientb")
    page.get_by_role("link", name="My treatment").first.click()
    page.get_by_label("Trouble swallowing").check()
    page.get_by_label("When did it start?").fill(onset.isoformat())
    page.locator("fieldset", has_text="How bad is it?").get_by_text("Severe").click()
    page.get_by_role("button", name="Send to my clinician").click()

    # Then he is told at once to get emergency care, with his clinic's phone
    emergency = page.get_by_role("alert").filter(has_text="Get emergency care now")
    expect(emergency).to_be_visible()
    expect(emergency).to_contain_text("Call 911")
    expect(emergency.get_by_role("link", name="(212) 555-0142")).to_have_attribute(
        "href", "tel:+12125550142"
    )
    assert grave_violations(page) == []
    phone.close()

    # When a clinician logs in, she sees one open alert in the navbar and on her home page
    desk = browser.new_context(base_url=live_server.url)
    page = desk.new_page()
    log_in(page, "clinician")
    expect(page.locator("#open-alert-count")).to_have_text("1 open, 1 urgent")
    expect(page.locator("#alerts-banner")).to_contain_text("1 open alert")

    # And opens the inbox, then the alert, and acknowledges it, first without a note
    page.get_by_role("link", name="Open the alerts inbox").click()
    expect(page.get_by_text("Trouble swallowing · severe")).to_be_visible()
    page.get_by_role("link", name="Review and acknowledge the alert for Ben Patel").click()
    expect(page.get_by_text("Trouble swallowing · severe")).to_be_visible()
    assert grave_violations(page) == []
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    page.get_by_label("What was done").fill("Phoned Ben: he is in the ED.")
    page.get_by_role("button", name="Acknowledge").click()

    # Then the alert is closed with her note, and the count is gone
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(page.locator("#open-alert-count")).to_have_count(0)
    alert = Alert.objects.get()
    assert (alert.acknowledged_by, alert.note) == (clinician, "Phoned Ben: he is in the ED.")
    desk.close()
