import datetime

import pytest
from playwright.sync_api import expect

from patients.models import DiaryEntry, QuestionnaireResponse
from tests.browser.test_registry_flow import log_in
from tests.conftest import clinic_today
from treatments.models import Appointment, TreatmentCourse

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


def test_a_patient_on_a_phone_books_then_moves_their_own_visit(phone_page, patient_a, schedule):
    page = phone_page
    page.set_viewport_size({"width": 375, "height": 812})
    # Given Alice was last treated 80 days ago: she may book from day 84 to day 97
    course = TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=clinic_today() - datetime.timedelta(days=200),
        last_session_on=clinic_today() - datetime.timedelta(days=80),
    )

    # When she logs in on her phone and books her visit: a day, then a time
    log_in(page, "patienta")
    page.get_by_role("link", name="Book my visit").click()
    expect(page.locator("#window")).to_contain_text(
        f"{course.earliest_on:%A} {course.earliest_on.day}"
    )
    page.locator("#days a").first.click()
    page.get_by_role("button", name="14:00").click()

    # Then her home page shows it
    expect(page.get_by_text("Booked: your visit is on")).to_be_visible()
    visit = Appointment.objects.get(patient=patient_a)
    assert visit.booked_by == patient_a.user
    assert visit.local_starts_at.strftime("%H:%M") == "14:00"
    assert course.earliest_on <= visit.local_starts_at.date() < course.overdue_from
    expect(page.locator("#next-visit")).to_contain_text("14:00")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # When she moves it to another day at 09:30
    page.get_by_role("link", name="Move my visit").click()
    expect(page.locator("#current-visit")).to_contain_text("14:00")
    page.locator("#days a").nth(1).click()
    page.get_by_role("button", name="09:30").click()

    # Then the same visit is at the new time, on her home page too
    expect(page.get_by_text("Moved: your visit is on")).to_be_visible()
    moved = Appointment.objects.get(patient=patient_a)
    assert moved.pk == visit.pk
    assert moved.local_starts_at.strftime("%H:%M") == "09:30"
    assert moved.local_starts_at.date() != visit.local_starts_at.date()
    expect(page.locator("#next-visit")).to_contain_text(f"{moved.local_starts_at:%A}")
    expect(page.locator("#next-visit")).to_contain_text("09:30")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
