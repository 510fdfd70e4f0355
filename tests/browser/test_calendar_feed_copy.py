"""The calendar link's copy button, by keyboard, in a real browser (issue 14, part 6)."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_registry_flow import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_patient_copies_the_calendar_link_with_the_keyboard(phone_page, patient_a):
    page = phone_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # Given Alice has a calendar link
    log_in(page, "patienta")
    page.get_by_role("button", name="Get a calendar link").click()
    link = page.get_by_label("Your private calendar link")
    url = link.input_value()
    assert url.startswith(page.url.split("/portal/")[0] + "/feed/")

    # When she tabs from the link to the copy button (shown once its script has run: until
    # then it is hidden, and Tab passes it by) and presses Enter
    copy = page.get_by_role("button", name="Copy the link")
    expect(copy).to_be_visible()
    link.focus()
    page.keyboard.press("Tab")
    expect(copy).to_be_focused()
    page.keyboard.press("Enter")

    # Then the page says "Copied", the clipboard holds the link, and focus stays on the button
    expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url
    expect(copy).to_be_focused()
    # and the Subscribe link is the same address in the webcal scheme
    subscribe = page.get_by_role("link", name="Subscribe in my calendar app")
    assert subscribe.get_attribute("href") == "webcal://" + url.split("://", 1)[1]
