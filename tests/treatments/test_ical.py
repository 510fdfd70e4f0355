import datetime
import zoneinfo

import icalendar
import pytest
from django.utils import timezone

from clinic.models import Location
from tests.conftest import local, next_weekday, visit_day
from treatments.ical import appointments_calendar
from treatments.models import Appointment
from treatments.services import cancel_appointment, reschedule_appointment

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def parse(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def only_event(calendar: icalendar.Calendar) -> icalendar.Event:
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def unfolded(data: bytes) -> str:
    """The text with folded lines joined again (a fold may split any word)."""
    return data.decode().replace("\r\n ", "").replace("\r\n\t", "")


def test_the_calendar_has_version_prodid_and_method_publish(booked_appointment):
    calendar = parse(appointments_calendar([booked_appointment]))
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"] == "-//Cadence//Cadence//EN"
    assert calendar["METHOD"] == "PUBLISH"


def test_an_appointment_is_one_event_with_every_property(booked_appointment, settings):
    # Given patient_b's 10:00 New York visit on visit_day(), at a clinic's own site
    settings.SITE_URL = "https://cadence.riverside.example:8443/"
    before = timezone.now().replace(microsecond=0)

    # When it becomes a calendar
    event = only_event(parse(appointments_calendar([booked_appointment])))

    # Then the event holds the visit, generically
    monday = visit_day()
    assert event["UID"] == f"appointment-{booked_appointment.pk}@cadence.riverside.example"
    assert event.decoded("DTSTART") == local(monday, 10)
    assert event.decoded("DTSTART").tzinfo.key == "America/New_York"
    assert event.decoded("DTEND") == local(monday, 10, 30)
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    assert event["SUMMARY"] == "Clinic appointment"
    assert event["LOCATION"] == "Riverside Clinic, 120 Riverside Drive, New York"
    stamp = event.decoded("DTSTAMP")
    assert stamp.utcoffset() == datetime.timedelta(0)
    assert before <= stamp <= timezone.now()


def test_dtstart_carries_the_tzid_and_the_calendar_holds_its_vtimezone(booked_appointment):
    data = appointments_calendar([booked_appointment])
    text = unfolded(data)
    assert "\r\nDTSTART;TZID=America/New_York:" in text
    assert "\r\nDTEND;TZID=America/New_York:" in text
    zones = parse(data).walk("VTIMEZONE")
    assert [zone["TZID"] for zone in zones] == ["America/New_York"]
    # the VTIMEZONE gives the right offset on the visit's day
    monday = visit_day()
    expected = local(monday, 10).utcoffset()
    assert zones[0].to_tz().utcoffset(datetime.datetime.combine(monday, datetime.time(10))) == (
        expected
    )


def test_rescheduling_keeps_the_uid_and_raises_the_sequence(booked_appointment, front_desk):
    # Given the calendar as first sent
    first = only_event(parse(appointments_calendar([booked_appointment])))

    # When the visit moves to 11:00
    moved = reschedule_appointment(
        appointment=booked_appointment, starts_at=local(next_weekday(0), 11), by=front_desk
    )
    second = only_event(parse(appointments_calendar([moved])))

    # Then it is the same event, newer, at the new time
    assert second["UID"] == first["UID"]
    assert second["SEQUENCE"] > first["SEQUENCE"]
    assert second.decoded("DTSTART") == local(next_weekday(0), 11)


def test_a_cancelled_appointment_is_cancelled_in_the_calendar(booked_appointment, front_desk):
    first = only_event(parse(appointments_calendar([booked_appointment])))
    cancelled = cancel_appointment(
        appointment=booked_appointment, reason="Patient unwell", by=front_desk
    )
    event = only_event(parse(appointments_calendar([cancelled])))
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == first["UID"]
    assert event["SEQUENCE"] > first["SEQUENCE"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("booked", "CONFIRMED"),
        ("arrived", "CONFIRMED"),
        ("fulfilled", "CONFIRMED"),
        ("cancelled", "CANCELLED"),
        ("noshow", "CANCELLED"),
    ],
)
def test_each_fhir_status_maps_to_an_icalendar_status(booked_appointment, status, expected):
    booked_appointment.status = status
    assert only_event(parse(appointments_calendar([booked_appointment])))["STATUS"] == expected


def test_lines_end_in_crlf_and_none_is_longer_than_75_octets(booked_appointment):
    # Given a location whose one-line address is long and not plain ASCII
    location = booked_appointment.location
    location.name = "Clinique des Céphalées de Zürich-Oerlikon et de la Rive Droite"
    location.address = "Überlandstraße 1234, Gebäude Süd, 3. Stock\n8050 Zürich, Schweiz"
    location.save()

    # When the calendar is written
    data = appointments_calendar([booked_appointment])

    # Then every line ends in CRLF, is at most 75 octets, and the folds lose nothing
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # something was folded
    assert only_event(parse(data))["LOCATION"] == (
        "Clinique des Céphalées de Zürich-Oerlikon et de la Rive Droite, "
        "Überlandstraße 1234, Gebäude Süd, 3. Stock, 8050 Zürich, Schweiz"
    )


def test_the_calendar_never_names_the_patient_the_drug_or_the_condition(booked_appointment):
    booked_appointment.early_override_reason = "Botox early: migraine worse"
    booked_appointment.cancel_reason = "Ben's migraine"
    patient = booked_appointment.patient
    text = unfolded(appointments_calendar([booked_appointment])).lower()
    for secret in (
        patient.first_name,
        patient.last_name,
        patient.mrn,
        patient.email,
        "botox",
        "migraine",
        "onabotulinumtoxin",
        "injection",
    ):
        assert secret.lower() not in text


def test_several_appointments_make_one_event_each_and_one_vtimezone_per_zone(
    booked_appointment, patient_a, clinician, settings
):
    settings.SITE_URL = "https://cadence.example.org"
    # Given a second visit at a London clinic
    london = Location.objects.create(
        name="Harbour Clinic",
        address="1 Harbour Street, London",
        phone="+442079460000",
        time_zone="Europe/London",
    )
    starts = local(next_weekday(2), 9, zone="Europe/London")
    second = Appointment.objects.create(
        patient=patient_a,
        clinician=clinician,
        location=london,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(minutes=30),
        booked_by=clinician,
    )

    # When both go into one calendar (the portal's feed)
    calendar = parse(appointments_calendar([booked_appointment, second]))

    # Then there are two events, each in its own zone, with both zones described
    events = calendar.walk("VEVENT")
    assert [event["UID"] for event in events] == [
        f"appointment-{booked_appointment.pk}@cadence.example.org",
        f"appointment-{second.pk}@cadence.example.org",
    ]
    assert [event.decoded("DTSTART").tzinfo.key for event in events] == [
        "America/New_York",
        "Europe/London",
    ]
    assert sorted(zone["TZID"] for zone in calendar.walk("VTIMEZONE")) == [
        "America/New_York",
        "Europe/London",
    ]
    assert calendar.get_missing_tzids() == set()


def test_an_empty_calendar_is_still_valid():
    calendar = parse(appointments_calendar([]))
    assert calendar["VERSION"] == "2.0"
    assert calendar.walk("VEVENT") == []


def test_a_visit_after_a_dst_change_keeps_its_wall_clock_time(booked_appointment):
    # Given a visit moved (in the database) to the first Monday of New York summer time
    starts = datetime.datetime(2027, 3, 15, 10, tzinfo=NEW_YORK)
    booked_appointment.starts_at = starts
    booked_appointment.ends_at = starts + datetime.timedelta(minutes=30)

    # When it becomes a calendar, and a reader in another zone converts it
    event = only_event(parse(appointments_calendar([booked_appointment])))
    in_utc = event.decoded("DTSTART").astimezone(datetime.UTC)

    # Then it is 10:00 EDT, that is 14:00 UTC
    assert "DTSTART;TZID=America/New_York:20270315T100000" in unfolded(
        appointments_calendar([booked_appointment])
    )
    assert in_utc.hour == 14
