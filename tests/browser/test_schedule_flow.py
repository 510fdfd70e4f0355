import datetime
import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_registry_flow import log_in
from tests.conftest import clinic_today, next_weekday, visit_day
from treatments.models import Appointment, TreatmentCourse
from treatments.services import Slot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_front_desk_books_a_due_patient_and_handles_a_no_show(
    page, front_desk, patient_a, booked_appointment, time_machine
):
    # Given Alice is due in 4 days with nothing booked, and Ben is booked on visit_day()
    TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=clinic_today(),
        last_session_on=clinic_today() - datetime.timedelta(days=80),
    )

    # When the front desk opens the due list and books Alice's first suggested slot
    log_in(page, "frontdesk")
    page.get_by_role("link", name="Due list").click()
    row = page.locator("#due-list tbody tr", has_text="Morgan, Alice")
    expect(row).to_contain_text("Due")
    expect(page.locator("#due-list")).not_to_contain_text("Patel, Ben")
    row.get_by_role("link", name="Book").click()
    bookable = page.locator("#slots button:not([disabled])")
    if not bookable.count():  # her earliest date is on the week's weekend: the next week
        page.get_by_role("link", name="Next week").click()
    first_slot = bookable.first
    first_slot_value = first_slot.get_attribute("value")
    first_slot.click()

    # Then the booking is on the calendar, and Alice leaves the due list
    expect(page.get_by_text("Booked:")).to_be_visible()
    expect(page.locator("#calendar")).to_contain_text("Alice Morgan")
    alice_visit = Appointment.objects.get(patient=patient_a)
    assert Slot.parse_value(first_slot_value) == (alice_visit.clinician_id, alice_visit.starts_at)
    assert alice_visit.local_starts_at.date() >= clinic_today() + datetime.timedelta(days=4)
    page.get_by_role("link", name="Due list").click()
    expect(page.locator("#due-list")).not_to_contain_text("Morgan, Alice")

    # When Ben does not come: a quarter of an hour into his visit (the idle session has
    # expired by then), the desk marks him as a no-show on the calendar and confirms
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=15))
    log_in(page, "frontdesk")
    day = booked_appointment.local_starts_at.date().isoformat()
    page.goto(f"/treatments/calendar/?location={booked_appointment.location_id}&date={day}")
    page.locator("#calendar").get_by_role("button", name="No-show Ben Patel").click()
    expect(page.get_by_role("heading", name="Mark the visit as a no-show?")).to_be_visible()
    page.get_by_role("button", name="Yes").click()
    expect(page.get_by_text("Marked as a no-show")).to_be_visible()

    # Then Ben is on the due list at once, as a no-show
    page.get_by_role("link", name="Due list").click()
    ben_row = page.locator("#due-list tbody tr", has_text="Patel, Ben")
    expect(ben_row).to_contain_text("No-show")
    booked_appointment.refresh_from_db()
    assert booked_appointment.status == "noshow"


def test_a_second_click_while_a_booking_is_on_its_way_sends_nothing(
    page, front_desk, patient_a, schedule
):
    # Given Alice's booking page, and bookings answered "204 No Content" by the test (the
    # browser then stays on the page as it was when the first click went out)
    log_in(page, "frontdesk")
    page.goto(f"/treatments/patients/{patient_a.pk}/book/?from={visit_day().isoformat()}")
    sent = []

    def stop_bookings(route):
        sent.append(route.request.post_data)
        route.fulfill(status=204)

    page.route(
        re.compile(r"/book/"),  # with its query string (the week shown)
        lambda route: stop_bookings(route) if route.request.method == "POST" else route.continue_(),
    )
    slot = page.locator("#slots button").nth(3)

    # When the front desk clicks a slot, and again
    slot.click(no_wait_after=True)
    expect(page.locator("#slots button").first).to_be_disabled()
    slot.dispatch_event("click")
    page.get_by_role("button", name="Show slots").count()  # a round trip to the page

    # Then every slot button says the page is busy and one booking went out, with its slot
    expect(slot).to_be_disabled()
    assert len(sent) == 1
    assert "slot=" in sent[0]
    assert not Appointment.objects.filter(patient=patient_a).exists()


def test_front_desk_books_a_1530_slot_in_two_clicks_from_the_due_list(
    page, front_desk, patient_a, schedule
):
    # Given Alice's earliest date is a Wednesday ahead, with nothing booked
    wednesday = next_weekday(2)
    TreatmentCourse.objects.create(
        patient=patient_a,
        started_on=wednesday - datetime.timedelta(days=200),
        last_session_on=wednesday - datetime.timedelta(days=84),
    )
    log_in(page, "frontdesk")
    page.goto("/treatments/due/")

    # When the desk clicks Book on her row, then Wednesday's 15:30 with Ama Osei
    page.locator("#due-list tbody tr", has_text="Morgan, Alice").get_by_role(
        "link", name="Book"
    ).click()
    slot = page.get_by_role(
        "button", name=f"{wednesday:%A} {wednesday.day} {wednesday:%B} 15:30, with Ama Osei"
    )
    slot.click()

    # Then she is booked then, and the calendar says so
    expect(page.get_by_text("Booked:")).to_contain_text("15:30")
    expect(page.locator("#calendar")).to_contain_text("Alice Morgan")
    visit = Appointment.objects.get(patient=patient_a)
    assert visit.local_starts_at.strftime("%Y-%m-%d %H:%M") == f"{wednesday} 15:30"
