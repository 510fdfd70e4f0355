"""The front desk renews a prior authorization (issue 16): the worklist, the patient's record,
a new authorization with its PDF, and a booking past its end refused with the message."""

import datetime

import pytest
from playwright.sync_api import expect

from tests.browser.test_registry_flow import log_in
from tests.conftest import PDF_BYTES, clinic_today, make_authorization_records, next_weekday
from treatments.models import Appointment, AuthorizationDocument, PriorAuthorization

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_front_desk_renews_an_authorization_and_a_booking_past_it_is_refused(
    page, front_desk, schedule, signed_session
):
    # Given Ben (one session given) has an authorization that ends in ten days
    ben = signed_session.patient
    today = clinic_today()
    make_authorization_records(ben, front_desk, valid_to=today + datetime.timedelta(days=10))
    new_from = today + datetime.timedelta(days=11)
    new_to = today + datetime.timedelta(days=40)

    # When the front desk opens the worklist and Ben's record from it
    log_in(page, "frontdesk")
    page.get_by_role("link", name="Authorizations").click()
    expect(page.get_by_role("heading", name="Authorizations to renew")).to_be_visible()
    page.locator("#authorizations").get_by_role("link", name="Patel, Ben").click()
    expect(page.get_by_role("heading", name="Prior authorization")).to_be_visible()

    # And adds the renewal, with the payer's letter as a PDF
    page.get_by_role("link", name="Add an authorization").click()
    page.get_by_label("Payer").fill("Aetna")
    page.get_by_label("Authorization number").fill("PA-RENEW-2")
    page.get_by_label("Sessions approved").fill("2")
    page.get_by_label("Units approved").fill("400")
    page.get_by_label("Valid from").fill(new_from.isoformat())
    page.get_by_label("Valid to").fill(new_to.isoformat())
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Prior authorization PA-RENEW-2 recorded.")).to_be_visible()
    page.get_by_label("Document (PDF, PNG or JPEG)").set_input_files(
        files=[{"name": "renewal.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
    )
    page.get_by_role("button", name="Attach").click()
    expect(page.get_by_text("renewal.pdf attached.")).to_be_visible()
    renewal = PriorAuthorization.objects.get(reference="PA-RENEW-2")
    assert AuthorizationDocument.objects.get(authorization=renewal).content_type == (
        "application/pdf"
    )

    # Then booking a visit past the renewal's end is refused with the message
    week = next_weekday(0, after=new_to)
    page.goto(f"/treatments/patients/{ben.pk}/book/?from={week.isoformat()}")
    page.locator("#slots button:not([disabled])").first.click()
    expect(page.get_by_role("alert")).to_contain_text(
        "past the end of the prior authorization PA-RENEW-2"
    )
    assert not Appointment.objects.exists()
