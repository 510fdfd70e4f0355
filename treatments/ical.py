"""Appointments as iCalendar (RFC 5545; docs/architecture.md, "The 12-week schedule").

One VEVENT per appointment. The UID is the appointment's id at SITE_URL's host, so a moved or
cancelled visit replaces the copy already in the patient's calendar, and SEQUENCE (raised by
the services on every move and cancellation) tells the calendar which copy is newer. The
summary is generic: a calendar on a phone's lock screen must not say what the visit is for or
whose it is."""

import datetime
from collections.abc import Iterable

import icalendar

from treatments.links import site_domain
from treatments.models import Appointment

PRODID = "-//Cadence//Cadence//EN"
SUMMARY = "Clinic appointment"
STATUS: dict[str, str] = {
    Appointment.Status.BOOKED: "CONFIRMED",
    Appointment.Status.ARRIVED: "CONFIRMED",
    Appointment.Status.FULFILLED: "CONFIRMED",
    Appointment.Status.CANCELLED: "CANCELLED",
    Appointment.Status.NOSHOW: "CANCELLED",
}
# The VTIMEZONE rules cover the events with a year to spare on either side: enough for any
# client, and a few observances rather than the zone's whole history.
TIME_ZONE_MARGIN = datetime.timedelta(days=366)


def appointments_calendar(appointments: Iterable[Appointment]) -> bytes:
    """A VCALENDAR (METHOD:PUBLISH) holding `appointments`, as the bytes of an .ics file.

    Pass appointments with their location loaded (`select_related("location")`)."""
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("method", "PUBLISH")
    stamp = datetime.datetime.now(datetime.UTC)
    domain = site_domain()
    days = []
    for appointment in appointments:
        calendar.add_component(_event(appointment, stamp, domain))
        days += [appointment.starts_at.date(), appointment.ends_at.date()]
    if days:
        calendar.add_missing_timezones(
            first_date=min(days) - TIME_ZONE_MARGIN, last_date=max(days) + TIME_ZONE_MARGIN
        )
    return calendar.to_ical()


def _event(appointment: Appointment, stamp: datetime.datetime, domain: str) -> icalendar.Event:
    zone = appointment.location.zone
    event = icalendar.Event()
    event.add("uid", f"appointment-{appointment.pk}@{domain}")
    event.add("dtstamp", stamp)
    # Wall-clock times with a TZID (and its VTIMEZONE) rather than UTC, so the event stays at
    # 10:00 in the clinic's zone whatever the reader's own zone or DST rules.
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("sequence", appointment.sequence)
    event.add("status", STATUS[appointment.status])
    event.add("summary", SUMMARY)
    event.add("location", _one_line(appointment.location))
    return event


def _one_line(location) -> str:
    address = ", ".join(line.strip() for line in location.address.splitlines() if line.strip())
    return f"{location.name}, {address}" if address else location.name
