import pytest
from playwright.sync_api import expect

from patients.models import DiaryEntry, QuestionnaireResponse
from tests.browser.test_registry_flow import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_patient_on_a_phone_confirms_fills_the_diary_and_hit6(phone_page, booked_appointment):
    page = phone_page
    patient = booked_appointment.patient

    # Given Ben logs in on his phone
    log_in(page, "patientb")
    expect(page.get_by_role("heading", name="Hello, Ben")).to_be_visible()

    # When he confirms his next visit
    page.get_by_role("button", name="Confirm my visit").click()
    expect(page.get_by_text("Thank you: your visit is confirmed.")).to_be_visible()
    expect(page.get_by_text("Confirmed", exact=True)).to_be_visible()
    booked_appointment.refresh_from_db()
    assert booked_appointment.confirmed_at is not None

    # And enters today's diary
    page.get_by_role("link", name="My headache diary").click()
    page.get_by_role("link", name="Fill in today").click()
    page.locator("fieldset", has_text="Did you have a headache?").get_by_text(
        "Yes", exact=True
    ).click()
    page.get_by_label("How many hours did it last?").fill("3")
    page.locator("fieldset", has_text="How bad was it").get_by_text("Moderate").click()
    page.locator("fieldset", has_text="Did it feel like your migraine?").get_by_text(
        "Yes", exact=True
    ).click()
    page.get_by_label("Medicine taken for a headache").select_option("triptan")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved")).to_be_visible()
    entry = DiaryEntry.objects.get(patient=patient)
    assert (entry.headache, entry.severity, entry.migraine, entry.acute_medication) == (
        True,
        2,
        True,
        "triptan",
    )

    # And fills in HIT-6, and sees his score
    page.goto("/portal/")
    page.locator("#questionnaires-due").get_by_role("link", name="HIT-6").click()
    answers = ["Sometimes", "Sometimes", "Sometimes", "Rarely", "Rarely", "Rarely"]
    for number, answer in enumerate(answers, start=1):
        page.locator("fieldset", has_text=f"{number}. ").get_by_text(answer, exact=True).click()
    page.get_by_role("button", name="Save my answers").click()
    expect(page.get_by_text("Your HIT-6 score is 54")).to_be_visible()
    assert QuestionnaireResponse.objects.get(patient=patient).total == 54

    # Nothing is wider than the phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
