"""The waitlist end to end in a browser: the desk cancels a visit, the freed slot is offered to
a waiting patient by email, and the patient claims it through the link, on a phone."""

import datetime
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from patients.models import ContactConsent
from tests.browser.test_registry_flow import log_in
from tests.conftest import clinic_today, local, make_patient, next_weekday
from treatments.models import Appointment, SlotOffer, TreatmentCourse
from treatments.services import book_appointment
from treatments.services.reminders import dispatch_due_reminders, send_reminders
from treatments.services.waitlist import join_waitlist
from treatments.tasks import offer_freed_slot_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_cancelled_slot_is_offered_and_claimed_through_the_link(
    page, phone_page, schedule, clinician, front_desk, patient_a, monkeypatch, settings
):
    # Given Alice, past her minimum interval on the day, waiting for an earlier slot (by email)
    day = next_weekday(2, after=clinic_today() + datetime.timedelta(days=7))
    TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=datetime.date(2025, 1, 1),
        last_session_on=day - datetime.timedelta(days=90),
    )
    ContactConsent.objects.create(
        patient=patient_a, channel="email", granted=True, source="written"
    )
    join_waitlist(patient=patient_a, by=patient_a.user)
    # and someone else's visit on that day at 14:00; the worker is this test (the hook's task
    # is run as the worker would run it)
    other = book_appointment(
        patient=make_patient(9, location=schedule),
        clinician=clinician,
        location=schedule,
        starts_at=local(day, 14),
        booked_by=front_desk,
    )
    ran = []
    monkeypatch.setattr(
        "treatments.services.freed_slots._enqueue",
        lambda args: ran.append(offer_freed_slot_task(*args)),
    )
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 24, 0  # the send goes out at once

    # When the front desk cancels that visit
    log_in(page, "frontdesk")
    page.goto(f"/treatments/appointments/{other.pk}/cancel/")
    page.get_by_label("Reason for cancelling").fill("Patient unwell")
    page.get_by_role("button", name="Cancel the appointment").click()
    expect(page.get_by_text("Appointment cancelled; the slot is free again.")).to_be_visible()

    # Then the slot is offered to Alice by email, with a claim link, through the outbox
    assert ran == [1]
    send_reminders(dispatch_due_reminders())
    [message] = [m for m in mail.outbox if "/r/offer/" in m.body]
    assert message.to == [patient_a.email]
    link = re.search(r"https?://\S+(/r/offer/\S+/)", message.body).group(1)

    # When Alice opens the link on her phone and claims the slot
    phone_page.goto(link)
    expect(phone_page.get_by_role("heading", name="An earlier appointment")).to_be_visible()
    expect(phone_page.locator("dl")).to_contain_text("14:00")
    phone_page.get_by_role("button", name="Claim this appointment").click()

    # Then it is hers, and the desk sees the offer claimed
    expect(phone_page.get_by_role("heading", name="The appointment is yours")).to_be_visible()
    visit = Appointment.objects.active().get(patient=patient_a)
    assert visit.starts_at == other.starts_at
    assert SlotOffer.objects.get().status == "claimed"
    page.get_by_role("button", name="More").click()  # the nav's menu of weekly pages
    page.get_by_role("link", name="Waitlist").click()
    page.get_by_role("link", name="Offers").click()
    expect(page.locator("#offers")).to_contain_text("Claimed")
