import pytest
from playwright.sync_api import expect

from clinic.models import User
from patients.models import Patient
from tests.conftest import PASSWORD, enter_second_factor, give_totp_device, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, username):
    """Log in through the form; staff then type their authenticator's code."""
    user = User.objects.get(username=username)
    if user.role in User.STAFF_ROLES:
        give_totp_device(user)
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if user.role in User.STAFF_ROLES:
        page.wait_for_url("**/accounts/two-factor/**")
        enter_second_factor(page, user)
        page.wait_for_url(lambda url: "/accounts/" not in url)


def test_front_desk_registers_a_patient_and_finds_them_by_search(page, front_desk, location):
    # Given other patients in the registry
    for number in range(3):
        make_patient(number)

    # When the front desk logs in and registers a patient
    log_in(page, "frontdesk")
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("MRN").fill("rs-30001")
    page.get_by_label("First name").fill("Hannah")
    page.get_by_label("Last name").fill("Lindqvist")
    page.get_by_label("Date of birth").fill("1979-11-02")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Email").fill("hannah@example.com")
    page.get_by_label("Phone").fill("(212) 555-0133")
    page.get_by_label("Usual location").select_option(label="Riverside Clinic")
    page.get_by_role("button", name="Register").click()

    # Then they see the new record, with the phone number in E.164 terms
    expect(page.get_by_text("Hannah Lindqvist is registered.")).to_be_visible()
    expect(page.get_by_role("heading", name="Hannah Lindqvist")).to_be_visible()
    assert Patient.objects.get(mrn="RS-30001").phone.as_e164 == "+12125550133"

    # And the list finds them by name as they type, and by date of birth
    page.get_by_role("link", name="Patients").click()
    search = page.get_by_label("Search patients")
    search.fill("lindq")
    results = page.locator("#results")
    expect(results.get_by_role("link", name="Lindqvist, Hannah")).to_be_visible()
    expect(results.get_by_role("row")).to_have_count(2)  # the header and Hannah
    search.fill("1979-11-02")
    search.press("Enter")
    expect(results.get_by_role("link", name="Lindqvist, Hannah")).to_be_visible()
    expect(results.get_by_role("row")).to_have_count(2)
    assert "1979" not in page.url
    assert "lindq" not in page.url


def test_a_bad_date_of_birth_shows_a_message_at_the_field(page, front_desk):
    log_in(page, "frontdesk")
    page.goto("/patients/new/")
    page.get_by_label("MRN").fill("RS-30002")
    page.get_by_label("First name").fill("Isaac")
    page.get_by_label("Last name").fill("Okafor")
    page.get_by_label("Date of birth").fill("2099-01-01")
    page.get_by_label("Sex").select_option("male")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("The date of birth cannot be in the future.")).to_be_visible()
    assert not Patient.objects.exists()


def test_the_patient_list_works_at_phone_width(phone_page, front_desk):
    make_patient(1, first_name="Alice", last_name="Morgan")
    log_in(phone_page, "frontdesk")
    expect(phone_page.get_by_role("link", name="Morgan, Alice")).to_be_visible()
    # The navigation collapses behind a labelled toggle
    phone_page.get_by_role("button", name="Toggle navigation").click()
    expect(phone_page.get_by_role("button", name="Log out")).to_be_visible()
    # Nothing is wider than the screen but the table, which scrolls in its own box
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
