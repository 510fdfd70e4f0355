"""Signed links in messages: confirm or cancel a visit, stop messages, without logging in."""

import datetime
import time

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patients.models import ContactConsent
from tests.conftest import clinic_today, local, next_weekday
from treatments.links import BadLink, link_url, make_link_token, read_link_token
from treatments.models import Appointment, AppointmentEvent
from treatments.services.responses import (
    VisitChanged,
    confirm_appointment,
    patient_cancel_appointment,
    stop_messages,
)
from treatments.services.schedule import (
    BookingError,
    available_slots,
    cancel_appointment,
    reschedule_appointment,
)

INVALID = "This link has expired or is not valid. Please call the clinic."
CALL_RIVERSIDE = "call Riverside Clinic on"
RIVERSIDE_PHONE = "+1 212-555-0142"
DAY = 24 * 60 * 60


@pytest.fixture
def visit(booked_appointment):
    """patient_b's injection at 10:00 New York on a Monday more than a week away: well outside
    the cancellation cut-off whatever day the tests run."""
    return booked_appointment


def move_to_a_monday(visit, *, month: int) -> None:
    """Move the visit to 10:00 New York on the first Monday after the 1st of `month` next year."""
    starts = local(next_weekday(0, after=datetime.date(clinic_today().year + 1, month, 1)), 10)
    Appointment.objects.filter(pk=visit.pk).update(
        starts_at=starts, ends_at=starts + datetime.timedelta(minutes=30)
    )


def url(purpose: str, **ids) -> str:
    """The link's path, as a patient's phone would request it."""
    return link_url(purpose, **ids).removeprefix(django_settings.SITE_URL)


def path_with(purpose: str, token: str) -> str:
    return reverse(f"links:{purpose}", args=[token])


def tampered(token: str) -> str:
    """The token with one character of its payload changed."""
    flipped = "B" if token[5] != "B" else "C"
    return token[:5] + flipped + token[6:]


def signed_days_ago(days: float, **token_args) -> str:
    """A token as it was made `days` ago."""
    then = time.time() - days * DAY
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: then)
        return make_link_token(**token_args)


def cancel_form(reason="unwell", details=""):
    return {"reason": reason, "details": details}


def revocations(patient, channel):
    return ContactConsent.objects.filter(patient=patient, channel=channel, granted=False)


# --- tokens -------------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["confirm", "cancel"])
def test_a_visit_token_reads_back_its_appointment(purpose):
    token = make_link_token(purpose=purpose, appointment_id=42)

    assert read_link_token(token, purpose=purpose) == {"appointment_id": 42, "sequence": 0}
    moved = make_link_token(purpose=purpose, appointment_id=42, sequence=3)
    assert read_link_token(moved, purpose=purpose) == {"appointment_id": 42, "sequence": 3}
    with pytest.raises(ValueError, match="sequence"):
        make_link_token(purpose=purpose, appointment_id=42, sequence=-1)


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_stop_token_reads_back_its_patient_and_channel(channel):
    token = make_link_token(purpose="stop", patient_id=7, channel=channel)

    assert read_link_token(token, purpose="stop") == {"patient_id": 7, "channel": channel}


def test_a_token_of_one_purpose_is_refused_for_another():
    token = make_link_token(purpose="confirm", appointment_id=42)

    with pytest.raises(BadLink):
        read_link_token(token, purpose="cancel")


def test_a_tampered_token_is_refused():
    token = make_link_token(purpose="cancel", appointment_id=42)

    with pytest.raises(BadLink):
        read_link_token(tampered(token), purpose="cancel")


def test_a_token_works_until_link_max_age_days_and_not_after(settings):
    settings.LINK_MAX_AGE_DAYS = 30
    fresh = signed_days_ago(29, purpose="confirm", appointment_id=42)
    stale = signed_days_ago(31, purpose="confirm", appointment_id=42)

    assert read_link_token(fresh, purpose="confirm") == {"appointment_id": 42, "sequence": 0}
    with pytest.raises(BadLink):
        read_link_token(stale, purpose="confirm")


def test_a_token_needs_the_ids_of_its_purpose():
    with pytest.raises(ValueError, match="appointment_id"):
        make_link_token(purpose="cancel", patient_id=7)
    with pytest.raises(ValueError, match="channel"):
        make_link_token(purpose="stop", patient_id=7, channel="pigeon")


def test_links_are_absolute_on_the_site_url(settings):
    settings.SITE_URL = "https://cadence.example.org"

    link = link_url("confirm", appointment_id=5)

    assert link.startswith("https://cadence.example.org/r/confirm/")
    token = link.removeprefix("https://cadence.example.org/r/confirm/").removesuffix("/")
    assert read_link_token(token, purpose="confirm") == {"appointment_id": 5, "sequence": 0}


def test_links_are_short_enough_for_sms():
    assert len(link_url("cancel", appointment_id=123456)) < 120
    assert len(link_url("confirm", appointment_id=123456)) < 120
    assert len(link_url("stop", patient_id=123456, channel="sms")) < 120


# --- refused links --------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["confirm", "cancel"])
def test_a_tampered_visit_link_gets_400_and_changes_nothing(client, visit, purpose):
    token = make_link_token(purpose=purpose, appointment_id=visit.pk)

    response = client.post(path_with(purpose, tampered(token)), cancel_form())

    assert response.status_code == 400
    assert INVALID in response.content.decode()
    visit.refresh_from_db()
    assert (visit.status, visit.confirmed_at) == (Appointment.Status.BOOKED, None)


def test_a_tampered_stop_link_gets_400_and_changes_nothing(client, patient_b):
    token = make_link_token(purpose="stop", patient_id=patient_b.pk, channel="sms")

    response = client.post(path_with("stop", tampered(token)))

    assert response.status_code == 400
    assert not revocations(patient_b, "sms").exists()


def test_an_expired_link_gets_400_and_changes_nothing(client, visit, settings):
    settings.LINK_MAX_AGE_DAYS = 30
    token = signed_days_ago(31, purpose="cancel", appointment_id=visit.pk)

    response = client.post(path_with("cancel", token), cancel_form())

    assert response.status_code == 400
    assert INVALID in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_a_confirm_link_on_the_cancel_url_gets_400_and_cancels_nothing(client, visit):
    token = make_link_token(purpose="confirm", appointment_id=visit.pk)

    response = client.post(path_with("cancel", token), cancel_form())

    assert response.status_code == 400
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_a_link_edited_to_name_another_visit_is_refused(client, visit):
    # Given a genuine link for another appointment id, with the payload edited to this one
    genuine = make_link_token(purpose="cancel", appointment_id=visit.pk + 1)
    forged_payload = make_link_token(purpose="cancel", appointment_id=visit.pk).split(":")[0]
    forged = ":".join([forged_payload, *genuine.split(":")[1:]])

    response = client.post(path_with("cancel", forged), cancel_form())

    assert response.status_code == 400
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_a_link_to_a_deleted_visit_says_so_kindly(client, visit):
    link = url("confirm", appointment_id=visit.pk)
    visit.delete()

    response = client.get(link)

    assert response.status_code == 404
    assert "We cannot find this visit" in response.content.decode()


# --- looking changes nothing ----------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["confirm", "cancel"])
def test_opening_a_visit_link_changes_nothing(client, visit, purpose):
    events = visit.events.count()

    response = client.get(url(purpose, appointment_id=visit.pk))

    assert response.status_code == 200
    visit.refresh_from_db()
    assert (visit.status, visit.confirmed_at) == (Appointment.Status.BOOKED, None)
    assert visit.events.count() == events


def test_opening_a_stop_link_changes_nothing(client, patient_b):
    response = client.get(url("stop", patient_id=patient_b.pk, channel="sms"))

    assert response.status_code == 200
    assert "Stop text messages?" in response.content.decode()
    assert not revocations(patient_b, "sms").exists()


@pytest.mark.parametrize("purpose", ["confirm", "cancel"])
def test_a_visit_link_shows_place_and_local_time_but_no_name_or_clinical_detail(
    client, visit, purpose
):
    move_to_a_monday(visit, month=1)
    visit.refresh_from_db()
    response = client.get(url(purpose, appointment_id=visit.pk))

    page = response.content.decode()
    day = visit.local_starts_at
    assert "Riverside Clinic" in page
    assert f"{day:%A} {day.day} {day:%B %Y}" in page
    assert "10:00 EST" in page  # New York in winter, not the server's UTC
    for private in ("Ben", "Patel", visit.patient.mrn, "Injection", "njection", "Botox", "units"):
        assert private not in page
    assert 'method="post"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_link_pages_are_never_cached_nor_indexed(client, visit):
    response = client.get(url("confirm", appointment_id=visit.pk))

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert '<meta name="robots" content="noindex, nofollow">' in response.content.decode()


def test_a_post_without_the_csrf_token_is_refused(visit):
    browser = Client(enforce_csrf_checks=True)

    response = browser.post(url("confirm", appointment_id=visit.pk))

    assert response.status_code == 403
    visit.refresh_from_db()
    assert visit.confirmed_at is None


# --- confirm ------------------------------------------------------------------------------------


def test_confirming_by_link_sets_confirmed_at_and_logs_an_event_with_no_user(client, visit):
    response = client.post(url("confirm", appointment_id=visit.pk))

    assert response.status_code == 200
    assert "Your visit is confirmed" in response.content.decode()
    visit.refresh_from_db()
    assert visit.confirmed_at is not None
    event = visit.events.get(action="confirmed")
    assert event.by is None


def test_confirming_twice_keeps_the_first_confirmation_and_says_already_confirmed(client, visit):
    link = url("confirm", appointment_id=visit.pk)
    client.post(link)
    visit.refresh_from_db()
    first = visit.confirmed_at

    response = client.post(link)

    assert "already confirmed" in response.content.decode()
    visit.refresh_from_db()
    assert visit.confirmed_at == first
    assert visit.events.filter(action="confirmed").count() == 1


def test_confirm_appointment_twice_changes_nothing_the_second_time(visit):
    first = confirm_appointment(appointment=visit).confirmed_at

    again = confirm_appointment(appointment=visit, now=first + datetime.timedelta(hours=1))

    assert again.confirmed_at == first
    assert visit.events.filter(action="confirmed").count() == 1


def test_a_confirmed_visit_shows_confirmed_on_the_staff_calendar(client, visit, front_desk):
    desk = Client()
    desk.force_login(front_desk)
    day = visit.starts_at.astimezone(visit.zone).date()
    calendar = f"{reverse('treatments:calendar')}?location={visit.location_id}&date={day}"
    assert "Confirmed" not in desk.get(calendar).content.decode()

    client.post(url("confirm", appointment_id=visit.pk))

    assert "Confirmed" in desk.get(calendar).content.decode()


def test_a_cancelled_visit_cannot_be_confirmed_and_the_page_says_it_was_cancelled(
    client, visit, front_desk
):
    cancel_appointment(appointment=visit, reason="Clinic closed", by=front_desk)

    response = client.post(url("confirm", appointment_id=visit.pk))

    page = response.content.decode()
    assert "This visit was cancelled" in page
    assert 'method="post"' not in page
    visit.refresh_from_db()
    assert visit.confirmed_at is None


def test_only_a_booked_future_visit_can_be_confirmed(visit):
    with pytest.raises(BookingError, match="has passed"):
        confirm_appointment(appointment=visit, now=visit.starts_at)

    Appointment.objects.filter(pk=visit.pk).update(status=Appointment.Status.NOSHOW)
    with pytest.raises(BookingError, match="can no longer be confirmed"):
        confirm_appointment(appointment=visit)


# --- cancel -------------------------------------------------------------------------------------


def test_cancelling_by_link_frees_the_slot_and_keeps_the_patients_reason(client, visit):
    day = visit.starts_at.astimezone(visit.zone).date()

    def free_starts():
        found = available_slots(
            location=visit.location, start_date=day, days=1, clinician=visit.clinician
        )
        return [slot.starts_at for slot in found]

    assert visit.starts_at not in free_starts()

    response = client.post(
        url("cancel", appointment_id=visit.pk), cancel_form("other", "Moving away")
    )

    assert response.status_code == 200
    assert "Your visit is cancelled" in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CANCELLED
    assert visit.cancel_reason == "By the patient (link): Another reason. Moving away"
    assert visit.events.get(action="cancelled").by is None
    assert not Appointment.objects.active().filter(pk=visit.pk).exists()
    assert visit.starts_at in free_starts()


def test_cancelling_twice_says_already_cancelled_and_cancels_once(client, visit):
    link = url("cancel", appointment_id=visit.pk)
    client.post(link, cancel_form())

    response = client.post(link, cancel_form())

    page = response.content.decode()
    assert "This visit was cancelled" in page
    assert "already cancelled" in page
    assert AppointmentEvent.objects.filter(appointment=visit, action="cancelled").count() == 1


def test_cancelling_without_a_reason_shows_an_error_and_changes_nothing(client, visit):
    response = client.post(url("cancel", appointment_id=visit.pk), {"reason": "", "details": ""})

    assert response.status_code == 200
    assert "Choose a reason." in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_another_reason_needs_words(client, visit):
    response = client.post(url("cancel", appointment_id=visit.pk), cancel_form("other", "  "))

    assert "Tell us the reason." in response.content.decode()
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_inside_the_cut_off_the_cancel_page_gives_the_clinics_phone_and_no_form(
    client, visit, settings
):
    settings.CANCELLATION_CUTOFF_HOURS = 24
    soon = timezone.now() + datetime.timedelta(hours=3)
    Appointment.objects.filter(pk=visit.pk).update(
        starts_at=soon, ends_at=soon + datetime.timedelta(minutes=30)
    )
    link = url("cancel", appointment_id=visit.pk)

    shown = client.get(link).content.decode()
    response = client.post(link, cancel_form())

    for page in (shown, response.content.decode()):
        assert "too late to cancel online" in page
        assert CALL_RIVERSIDE in page
        assert RIVERSIDE_PHONE in page
        assert 'href="tel:+12125550142"' in page
        assert 'method="post"' not in page
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


def test_the_cut_off_is_counted_back_from_the_start(visit, settings):
    settings.CANCELLATION_CUTOFF_HOURS = 24
    cutoff = visit.starts_at - datetime.timedelta(hours=24)

    with pytest.raises(BookingError) as refused:
        patient_cancel_appointment(appointment=visit, reason="Unwell", now=cutoff)
    assert refused.value.message.endswith(f"Please call Riverside Clinic on {RIVERSIDE_PHONE}.")

    patient_cancel_appointment(
        appointment=visit, reason="Unwell", now=cutoff - datetime.timedelta(seconds=1)
    )
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.CANCELLED


def test_a_visit_the_patient_has_arrived_for_cannot_be_cancelled_by_link(client, visit):
    Appointment.objects.filter(pk=visit.pk).update(status=Appointment.Status.ARRIVED)

    response = client.post(url("cancel", appointment_id=visit.pk), cancel_form())

    page = response.content.decode()
    assert "can no longer be cancelled online" in page
    assert RIVERSIDE_PHONE in page
    visit.refresh_from_db()
    assert visit.status == Appointment.Status.ARRIVED


def test_the_cancel_service_needs_a_reason(visit):
    with pytest.raises(BookingError, match="why"):
        patient_cancel_appointment(appointment=visit, reason="  ")

    visit.refresh_from_db()
    assert visit.status == Appointment.Status.BOOKED


# --- stop ---------------------------------------------------------------------------------------


def test_stopping_texts_by_link_revokes_sms_consent_from_the_stop_link(client, patient_b):
    ContactConsent.objects.create(patient=patient_b, channel="sms", granted=True, source="written")

    response = client.post(url("stop", patient_id=patient_b.pk, channel="sms"))

    page = " ".join(response.content.decode().split())
    assert "You will get no more text messages from Riverside Clinic." in page
    assert "To start again, call Riverside Clinic on" in page
    assert patient_b.current_consents()["sms"].granted is False
    revoked = revocations(patient_b, "sms").get()
    assert (revoked.source, revoked.recorded_by) == (ContactConsent.Source.STOP_LINK, None)
    assert patient_b.current_consents()["email"] is None  # the other channel is untouched


def test_stopping_twice_writes_one_revocation(client, patient_b):
    link = url("stop", patient_id=patient_b.pk, channel="email")
    client.post(link)

    response = client.post(link)

    assert "Emails already stopped" in response.content.decode()
    assert revocations(patient_b, "email").count() == 1


def test_stop_messages_writes_nothing_when_consent_is_already_revoked(patient_b):
    ContactConsent.objects.create(patient=patient_b, channel="sms", granted=False, source="phone")

    assert stop_messages(patient=patient_b, channel="sms") is False
    assert revocations(patient_b, "sms").count() == 1


def test_stop_messages_revokes_after_consent_was_granted_again(patient_b):
    assert stop_messages(patient=patient_b, channel="sms") is True
    ContactConsent.objects.create(patient=patient_b, channel="sms", granted=True, source="phone")

    assert stop_messages(patient=patient_b, channel="sms") is True
    assert revocations(patient_b, "sms").count() == 2


def test_a_stop_link_shows_no_name(client, patient_b):
    response = client.get(url("stop", patient_id=patient_b.pk, channel="email"))

    page = response.content.decode()
    for private in ("Ben", "Patel", patient_b.mrn, patient_b.email):
        assert private not in page


def test_opening_a_link_is_the_same_for_every_role(client, visit, front_desk):
    # Staff who click a patient's link act as the patient would: nothing about their account
    client.force_login(front_desk)

    response = client.post(url("confirm", appointment_id=visit.pk))

    assert response.status_code == 200
    assert visit.events.get(action="confirmed").by is None


def test_the_visit_time_is_shown_in_summer_time_in_summer(client, visit):
    # Given the visit moved to a Monday in July (New York on EDT)
    move_to_a_monday(visit, month=7)

    response = client.get(url("confirm", appointment_id=visit.pk))

    assert "10:00 EDT" in response.content.decode()


# --- a visit that moved after the message -------------------------------------------------------


@pytest.mark.parametrize("purpose", ["confirm", "cancel"])
def test_a_link_from_before_a_move_says_the_visit_changed_and_changes_nothing(
    client, visit, front_desk, purpose
):
    # Given the week-before message's link, then the front desk moves the visit an hour later
    old = url(purpose, appointment_id=visit.pk, sequence=visit.sequence)
    later = visit.starts_at + datetime.timedelta(hours=1)
    moved = reschedule_appointment(appointment=visit, starts_at=later, by=front_desk)
    assert moved.sequence == visit.sequence + 1

    # Then the old link neither confirms nor cancels the new time: it shows the new time
    page = client.get(old)
    assert page.status_code == 409
    assert "Your visit has changed" in page.content.decode()
    assert f"{later.astimezone(visit.zone):%H:%M}" in page.content.decode()
    posted = client.post(old, cancel_form() if purpose == "cancel" else {})
    assert posted.status_code == 409
    moved.refresh_from_db()
    assert (moved.status, moved.confirmed_at) == (Appointment.Status.BOOKED, None)
    assert not moved.events.filter(action__in=["confirmed", "cancelled"]).exists()

    # And the link of the newer message does
    fresh = client.post(
        url(purpose, appointment_id=visit.pk, sequence=moved.sequence),
        cancel_form() if purpose == "cancel" else {},
    )
    assert fresh.status_code == 200
    moved.refresh_from_db()
    assert moved.confirmed_at is not None or moved.status == Appointment.Status.CANCELLED


def test_a_move_between_opening_the_page_and_pressing_is_caught_under_the_lock(visit, front_desk):
    # the service is told which version the link named, and checks it with the row locked
    sequence = visit.sequence
    reschedule_appointment(
        appointment=visit, starts_at=visit.starts_at + datetime.timedelta(hours=1), by=front_desk
    )
    with pytest.raises(VisitChanged):
        confirm_appointment(appointment=visit, sequence=sequence)
    with pytest.raises(VisitChanged):
        patient_cancel_appointment(appointment=visit, reason="unwell", sequence=sequence)
    visit.refresh_from_db()
    assert (visit.status, visit.confirmed_at) == (Appointment.Status.BOOKED, None)


def test_a_reminder_for_a_moved_visit_links_to_its_new_version(visit, front_desk):
    from treatments.models import Reminder
    from treatments.services.reminders import render_message

    moved = reschedule_appointment(
        appointment=visit, starts_at=visit.starts_at + datetime.timedelta(hours=1), by=front_desk
    )
    reminder = Reminder.objects.filter(appointment=moved, status="pending").first()
    assert reminder is not None
    body = render_message(reminder).body
    token = body.split("/r/confirm/")[1].split("/")[0]
    assert read_link_token(token, purpose="confirm")["sequence"] == moved.sequence == 1
