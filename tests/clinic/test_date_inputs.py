"""Dates in <input type="date"> are ISO 8601 (YYYY-MM-DD): the only value such an input takes.
A pre-filled value in the locale's dd/mm/yyyy shows as a blank field, and the clinician retypes
it (issue "Records a clinician can trust", item 12)."""

import datetime
import re

from django.urls import reverse

from tests.conftest import SESSION_TIME

DATE_INPUT = re.compile(r"<input\b[^>]*\btype=\"date\"[^>]*>")
VALUE = re.compile(r"\bvalue=\"([^\"]*)\"")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def date_values(html: str) -> list[str]:
    """The value of every date input on the page (those with one)."""
    return [
        match.group(1)
        for tag in DATE_INPUT.findall(html)
        if (match := VALUE.search(tag)) is not None
    ]


def assert_iso(html: str) -> list[str]:
    values = date_values(html)
    assert all(ISO_DATE.match(value) for value in values), values
    return values


def test_the_new_session_form_prefills_a_known_lots_expiry_as_an_iso_date(
    client, clinician, signed_session, patient_a, time_machine
):
    # Given the lot C1234AB (expiring 2027-06-30) used at the location twelve weeks ago
    time_machine.move_to(SESSION_TIME + datetime.timedelta(weeks=12))
    client.force_login(clinician)

    # When the clinician opens a new session for another patient
    html = client.get(reverse("treatments:session_create", args=[patient_a.pk])).content.decode()

    # Then the expiry is in the date input as ISO, which the browser can show
    assert 'value="2027-06-30"' in html
    assert "30/06/2027" not in html
    assert "2027-06-30" in assert_iso(html)


def test_every_date_input_in_the_session_pages_is_iso(client, clinician, signed_session):
    client.force_login(clinician)
    pages = [
        reverse("treatments:session_amend", args=[signed_session.pk]),
        reverse("treatments:adverse_event_create", args=[signed_session.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_iso(response.content.decode())
    amend = client.get(pages[0]).content.decode()
    assert "2027-06-30" in date_values(amend)


def test_every_date_input_in_the_registry_forms_is_iso(client, front_desk, patient_a):
    client.force_login(front_desk)
    html = client.get(reverse("patients:update", args=[patient_a.pk])).content.decode()
    assert date_values(html) == [patient_a.date_of_birth.isoformat()]
    for url in (reverse("patients:create"), reverse("treatments:due_list")):
        assert_iso(client.get(url).content.decode())


def test_every_date_input_in_the_diary_is_iso(client, patient_a):
    client.force_login(patient_a.user)
    today = patient_a.local_today()
    for url in (
        reverse("portal:diary"),
        reverse("portal:diary_day", args=[today.isoformat()]),
        reverse("portal:home"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_iso(response.content.decode())


def test_the_booking_pages_date_picker_is_iso(client, front_desk, patient_a, schedule):
    client.force_login(front_desk)
    html = client.get(reverse("treatments:book", args=[patient_a.pk])).content.decode()
    assert len(assert_iso(html)) == 1
