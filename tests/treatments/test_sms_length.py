"""Every text message fits one GSM-7 segment (issue 15, item 4): every kind of reminder, with
and without the cancel cut-off passed, rendered with the longest clinic name, phone number and
short-link base the settings and the models allow."""

import datetime

import pytest
from django.core.checks import run_checks
from django.db import DataError, IntegrityError, transaction

from clinic.models import SMS_NAME_SEPTETS, SMS_PHONE_CHARACTERS, Location, validate_sms_name
from clinic.sms import gsm_septets, is_gsm7, sms_segments, to_gsm
from tests.conftest import make_offer
from treatments.checks import SMS_LINK_URL_MAX_LENGTH
from treatments.models import Reminder, TreatmentSession
from treatments.services.reminders import render_message

Kind = Reminder.Kind
# The longest short-link base the system check lets through without a warning.
LONGEST_BASE = "https://" + "c" * (SMS_LINK_URL_MAX_LENGTH - len("https://.org")) + ".org"
# A name as long as the model allows, with letters GSM-7 lacks (Ł, ó, the dash, an emoji).
LONGEST_NAME = ("Łódź – Przychodnia Neurologiczna “Zdrój” 😀 " * 5)[:120]
LONGEST_PHONE = "+" + "9" * (SMS_PHONE_CHARACTERS - 1)


# --- the segment count -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),  # 153 + 153
        ("a" * 307, 3),
        ("€" * 80, 1),  # the extension table: two septets each
        ("€" * 81, 2),
        ("a" * 159 + "€", 2),
        ("ł" * 70, 1),  # one character beyond GSM-7: UCS-2, 70 to a segment
        ("ł" * 71, 2),
        ("ł" * 134, 2),  # 67 + 67
        ("ł" * 135, 3),
        ("😀" * 35, 1),  # beyond the BMP: two UCS-2 units each
        ("😀" * 36, 2),
        ("Ça coûte 5 €", 1),
    ],
)
def test_sms_segments_counts_gsm7_septets_and_ucs2_units(text, segments):
    assert sms_segments(text) == segments


def test_gsm_letters_are_kept_and_others_made_plain():
    assert to_gsm("Zürich Ærø Clinic") == "Zürich Ærø Clinic"
    assert to_gsm("Łódź – “Zdrój”  Klinika 😀") == 'Lodz - "Zdroj" Klinika'
    assert is_gsm7(to_gsm(LONGEST_NAME))


# --- the clinic's name in texts --------------------------------------------------------------


def test_a_long_name_is_cut_at_a_word_in_gsm7_when_there_is_no_sms_name(location):
    location.name = "Riverside Neurology & Headache Clinic"
    assert location.sms_label == "Riverside Neurology"
    location.name = LONGEST_NAME
    assert gsm_septets(location.sms_label) <= SMS_NAME_SEPTETS
    assert location.sms_label == "Lodz - Przychodnia"


def test_the_sms_name_is_used_when_set(location):
    location.sms_name = "Riverside"
    assert location.sms_label == "Riverside"


@pytest.mark.parametrize(
    "name", ["Łódź Clinic", "Clinic 😀", "x" * (SMS_NAME_SEPTETS + 1), "€" * 11, "[Clinic]" * 3]
)
def test_an_sms_name_outside_gsm7_or_too_long_is_refused(location, name):
    location.sms_name = name
    with pytest.raises(Exception, match="sms_name"):
        location.full_clean()


@pytest.mark.parametrize("name", ["Zürich Ærø", "x" * SMS_NAME_SEPTETS, "€" * 10, "[Clinic] 1"])
def test_an_sms_name_in_gsm7_of_twenty_septets_is_accepted(name):
    validate_sms_name(name)


def test_the_database_refuses_an_sms_name_longer_than_the_limit(location):
    # PostgreSQL's varchar(20) refuses it first (DataError), SQLite's check constraint
    with pytest.raises((IntegrityError, DataError)), transaction.atomic():
        Location.objects.filter(pk=location.pk).update(sms_name="x" * (SMS_NAME_SEPTETS + 1))
    Location.objects.filter(pk=location.pk).update(sms_name="x" * SMS_NAME_SEPTETS)


def test_a_phone_number_written_longer_than_the_limit_is_given_in_e164(location):
    location.phone = "+12125550142"
    assert location.sms_phone == "+1 212-555-0142"
    location.phone = "+4930123456789012"  # written with spaces, longer than E.164
    assert len(location.sms_phone) <= SMS_PHONE_CHARACTERS


# --- every kind at the limits ----------------------------------------------------------------


def visit_reminder(kind, appointment, *, cancel_allowed):
    """The visit's reminder of this kind by SMS, due well before the cut-off or inside it."""
    hours = 72 if cancel_allowed else 2
    return Reminder(
        patient=appointment.patient,
        appointment=appointment,
        kind=kind,
        subject_key=f"test:{kind}",
        due_at=appointment.starts_at - datetime.timedelta(hours=hours),
    )


def offer_reminder(kind, appointment, *, cancel_allowed):
    offer = make_offer(appointment, to=appointment.patient, by=appointment.booked_by)
    return Reminder(
        patient=appointment.patient,
        offer=offer,
        kind=kind,
        subject_key=f"test:{kind}",
        due_at=offer.starts_at - datetime.timedelta(hours=3),
    )


def patient_reminder(kind, appointment, *, cancel_allowed):
    """ "Due, not booked" or "please rebook": about the patient (and a missed visit)."""
    return Reminder(
        patient=appointment.patient,
        appointment=appointment if kind == Kind.REBOOK_NOSHOW else None,
        kind=kind,
        subject_key=f"test:{kind}",
        due_at=appointment.starts_at + datetime.timedelta(days=1),
    )


def checkin_reminder(kind, appointment, *, cancel_allowed):
    """The check-in after the patient's signed session (the appointment's fixture signs one)."""
    session = TreatmentSession.objects.filter(patient=appointment.patient).latest("pk")
    return Reminder(
        patient=appointment.patient,
        session=session,
        kind=kind,
        subject_key=f"test:{kind}",
        due_at=session.administered_at + datetime.timedelta(days=10),
    )


# Every kind must be here: a new kind without a one-segment text fails
# test_every_kind_of_text_fits_one_segment_at_the_limits until it is added.
BUILDERS = {
    Kind.VISIT_WEEK: visit_reminder,
    Kind.VISIT_TOMORROW: visit_reminder,
    Kind.DUE_NOT_BOOKED: patient_reminder,
    Kind.REBOOK_NOSHOW: patient_reminder,
    Kind.SLOT_OFFER: offer_reminder,
    Kind.CHECKIN: checkin_reminder,
}


@pytest.fixture
def at_the_limits(settings, monkeypatch, booked_appointment):
    """The visit's clinic at the longest name and phone, the visit on a two-digit day of the
    month, the links on the longest base without a warning."""
    settings.SITE_URL = LONGEST_BASE
    settings.SMS_LINK_URL = ""
    monkeypatch.setattr(Location, "sms_phone", property(lambda self: LONGEST_PHONE))
    Location.objects.filter(pk=booked_appointment.location_id).update(name=LONGEST_NAME)
    starts = booked_appointment.starts_at
    while starts.astimezone(booked_appointment.zone).day < 10:
        starts += datetime.timedelta(days=7)
    booked_appointment.starts_at = starts
    booked_appointment.ends_at = starts + datetime.timedelta(minutes=30)
    booked_appointment.save(update_fields=["starts_at", "ends_at"])
    booked_appointment.refresh_from_db()
    patient = booked_appointment.patient
    patient.location = booked_appointment.location
    patient.save(update_fields=["location"])
    return booked_appointment


@pytest.mark.parametrize("cancel_allowed", [True, False], ids=["cancel-link", "inside-cut-off"])
@pytest.mark.parametrize("sms_name", ["", "W" * SMS_NAME_SEPTETS, "€" * (SMS_NAME_SEPTETS // 2)])
@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_of_text_fits_one_segment_at_the_limits(
    at_the_limits, kind, sms_name, cancel_allowed
):
    # Given the clinic's SMS name as long as allowed (or none: the long name shortened)
    assert kind in BUILDERS, f"No one-segment test for the {kind} text: add it to BUILDERS."
    Location.objects.filter(pk=at_the_limits.location_id).update(sms_name=sms_name)
    reminder = BUILDERS[kind](kind, at_the_limits, cancel_allowed=cancel_allowed)
    reminder.channel = Reminder.Channel.SMS
    reminder.save()

    # When its text is rendered
    body = render_message(Reminder.objects.for_sending().get(pk=reminder.pk)).body

    # Then it is GSM-7 in one segment, and carries the clinic's name and a stop link
    assert is_gsm7(body), body
    assert gsm_septets(body) <= 160, (gsm_septets(body), body)
    assert sms_segments(body) == 1
    assert body.startswith(Location.objects.get(pk=at_the_limits.location_id).sms_label)
    assert f"Stop texts: {LONGEST_BASE}/s/" in body


def test_the_check_warns_about_a_link_base_too_long_for_one_segment(settings):
    settings.SMS_LINK_URL = ""
    settings.SITE_URL = LONGEST_BASE
    assert not [m for m in run_checks() if m.id == "treatments.W004"]
    settings.SITE_URL = LONGEST_BASE + "x"
    assert [m.id for m in run_checks() if m.id == "treatments.W004"] == ["treatments.W004"]
    settings.SMS_LINK_URL = "https://cdnc.example"  # a short address of the same site
    assert not [m for m in run_checks() if m.id == "treatments.W004"]
    settings.SMS_LINK_URL = "https://łódź.example"
    assert [m.id for m in run_checks() if m.id == "treatments.W004"] == ["treatments.W004"]
