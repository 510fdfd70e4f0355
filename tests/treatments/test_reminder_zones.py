"""Reminder times as the clinic reads them (issue 14, part 6): each row of the reminders list
in its visit's location's zone, else its patient's location's, with the zone named; one query
count however many zones."""

import datetime

import pytest
from django.urls import reverse

from tests.conftest import make_patient
from treatments.models import Appointment, Reminder

# 00:40 on 2 December in London is 19:40 on 1 December in New York.
NOW = datetime.datetime(2026, 12, 2, 0, 40, tzinfo=datetime.UTC)
DUE = datetime.datetime(2026, 12, 1, 23, 0, tzinfo=datetime.UTC)


@pytest.fixture
def pinned(time_machine):
    time_machine.move_to(NOW, tick=False)


def failed(patient, key: str, **fields) -> Reminder:
    return Reminder.objects.create(
        patient=patient, subject_key=key, kind="rebook_noshow", channel="email", due_at=DUE,
        status="failed", last_error=f"row {key}", **fields,
    )  # fmt: skip


def row_of(html: str, key: str) -> str:
    return html.split(f"row {key}")[0].rsplit("<tr>", 1)[1]


def test_each_reminder_shows_its_time_in_its_locations_zone_named(
    pinned, client, front_desk, clinician, location, thames
):
    # Given failed reminders of a New York patient, a London patient, a New York patient's
    # visit in London, and a patient with no location, all due at 23:00 UTC on 1 December
    new_yorker = make_patient(1, location=location)
    londoner = make_patient(2, location=thames)
    starts = NOW + datetime.timedelta(days=9)
    visit = Appointment.objects.create(
        patient=new_yorker, location=thames, clinician=clinician, booked_by=front_desk,
        starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30),
    )  # fmt: skip
    failed(new_yorker, "ny")
    failed(londoner, "london")
    failed(new_yorker, "visit", appointment=visit)
    failed(make_patient(3), "nowhere")
    client.force_login(front_desk)

    # When the front desk opens the reminders list
    html = client.get(reverse("treatments:reminder_list")).content.decode()

    # Then each time is the location's wall-clock time, with its zone
    assert "1 Dec 2026 18:00 EST" in row_of(html, "ny")
    assert "1 Dec 2026 23:00 GMT" in row_of(html, "london")
    assert "1 Dec 2026 23:00 GMT" in row_of(html, "visit")  # the visit's place, not the home's
    assert "1 Dec 2026 23:00 UTC" in row_of(html, "nowhere")  # the server's zone, named


@pytest.mark.parametrize("rows", [2, 20])
def test_the_reminders_list_reads_every_rows_zone_in_the_same_queries(
    pinned, client, front_desk, location, thames, rows, django_assert_max_num_queries
):
    for n in range(rows):
        failed(make_patient(n, location=(location, thames)[n % 2]), f"r{n}")
    client.force_login(front_desk)

    with django_assert_max_num_queries(8):  # as tests/treatments/test_due_list.py pins it
        response = client.get(reverse("treatments:reminder_list"))

    html = response.content.decode()
    assert html.count(" EST</td>") == html.count(" GMT</td>") == rows // 2
