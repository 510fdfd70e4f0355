"""Short links in text messages (issue 15): /s/<code> opens the signed link it stands for; a
repeat send reuses the code; unknown, expired or hostile codes get a 404 page."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from patients.models import ContactConsent
from tests.conftest import short_link_in, signed_link_behind
from treatments.links import read_link_token
from treatments.models import Reminder, ShortLink
from treatments.services import short_links
from treatments.services.reminders import render_message
from treatments.services.short_links import (
    ALPHABET,
    CODE_LENGTH,
    delete_expired_short_links,
    get_or_make_short_link,
    resolve_short_link,
)
from treatments.tasks import delete_expired_short_links_task

INVALID = "This link has expired or is not valid. Please call the clinic."
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def texted(booked_appointment):
    """patient_b consents to texts: the visit's day-before reminder is an SMS."""
    ContactConsent.objects.create(
        patient=booked_appointment.patient, channel="sms", granted=True, source="written"
    )
    reminder = booked_appointment.reminders.get(kind="visit_tomorrow")
    Reminder.objects.filter(pk=reminder.pk).update(channel="sms")
    return Reminder.objects.for_sending().get(pk=reminder.pk)


def text_of(reminder) -> str:
    return render_message(Reminder.objects.for_sending().get(pk=reminder.pk)).body


def test_a_texts_short_link_opens_the_visits_signed_confirm_link(client, texted):
    body = text_of(texted)
    purpose, token = signed_link_behind(client, body, "Confirm or cancel")
    assert purpose == "confirm"
    assert read_link_token(token, purpose="confirm") == {
        "appointment_id": texted.appointment_id,
        "sequence": texted.appointment.sequence,
    }


def test_a_texts_stop_link_opens_the_signed_stop_link_for_texts(client, texted):
    purpose, token = signed_link_behind(client, text_of(texted), "Stop texts")
    assert purpose == "stop"
    assert read_link_token(token, purpose="stop") == {
        "patient_id": texted.patient_id,
        "channel": "sms",
    }


def test_a_short_link_is_the_site_url_and_a_random_code(settings, texted):
    settings.SITE_URL = "https://cadence.example.org/"
    settings.SMS_LINK_URL = ""
    path = short_link_in(text_of(texted), "Confirm or cancel")
    code = path.removeprefix("/s/")
    assert len(code) == CODE_LENGTH
    assert set(code) <= set(ALPHABET)
    assert f"Confirm or cancel: https://cadence.example.org{path}\n" in text_of(texted)


def test_the_short_links_can_have_their_own_shorter_address(settings, texted):
    settings.SITE_URL = "https://reminders.riverside-neurology.example.org"
    settings.SMS_LINK_URL = "https://rvsd.example"
    assert "Stop texts: https://rvsd.example/s/" in text_of(texted)


def test_rendering_the_same_text_again_reuses_its_codes(texted):
    first = text_of(texted)
    rows = list(ShortLink.objects.values_list("pk", "code", "token"))
    assert text_of(texted) == first
    assert list(ShortLink.objects.values_list("pk", "code", "token")) == rows
    assert sorted(ShortLink.objects.values_list("purpose", flat=True)) == ["confirm", "stop"]


def test_each_reminder_has_its_own_codes(texted, booked_appointment):
    week = booked_appointment.reminders.get(kind="visit_week")
    Reminder.objects.filter(pk=week.pk).update(channel="sms")
    text_of(texted)
    text_of(week)
    assert ShortLink.objects.count() == 4
    assert ShortLink.objects.values("code").distinct().count() == 4


def test_an_email_keeps_its_full_signed_links(booked_appointment):
    body = text_of(booked_appointment.reminders.get(kind="visit_week"))
    assert "/r/confirm/" in body
    assert "/r/cancel/" in body
    assert "/s/" not in body
    assert not ShortLink.objects.exists()


def test_a_short_link_expires_with_its_signed_link(client, settings, texted):
    path = short_link_in(text_of(texted), "Confirm or cancel")
    link = ShortLink.objects.get(purpose="confirm")
    assert link.expires_at == link.created_at + datetime.timedelta(days=settings.LINK_MAX_AGE_DAYS)
    with time_machine.travel(link.expires_at - MINUTE, tick=False):
        assert client.get(path).status_code == 302
    with time_machine.travel(link.expires_at, tick=False):
        page = client.get(path)
    assert page.status_code == 404
    assert INVALID in page.content.decode()


def test_a_text_rendered_after_its_links_expired_gets_new_ones(client, texted):
    path = short_link_in(text_of(texted), "Confirm or cancel")
    expired = ShortLink.objects.get(purpose="confirm")
    with time_machine.travel(expired.expires_at + MINUTE, tick=False):
        renewed = short_link_in(text_of(texted), "Confirm or cancel")
        assert renewed != path
        assert client.get(path).status_code == 404
        assert client.get(renewed).status_code == 302
    assert ShortLink.objects.filter(purpose="confirm").count() == 1


def test_an_unknown_code_gets_the_invalid_link_page_with_404(client, db):
    page = client.get(reverse("short_link", args=["a" * CODE_LENGTH]))
    assert page.status_code == 404
    assert INVALID in page.content.decode()


def test_a_code_typed_in_capitals_still_opens(client, texted):
    path = short_link_in(text_of(texted), "Confirm or cancel")
    assert client.get(path.upper().replace("/S/", "/s/")).status_code == 302


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("", 404),
        ("a" * (CODE_LENGTH - 1), 404),
        ("a" * (CODE_LENGTH + 1), 404),
        ("0" * CODE_LENGTH, 404),  # not in the alphabet
        ("ł" * CODE_LENGTH, 404),
        ("' OR 1=1 --", 404),
        ("x" * 5000, 404),
        ("..%2F..%2Fetc", 404),
        ("a\x00" * (CODE_LENGTH // 2), 400),  # refused before any view (clinic/middleware.py)
        ("%00", 400),
    ],
)
def test_a_hostile_code_gets_404_or_400_and_never_an_error(client, db, code, status):
    assert client.get(f"/s/{code}").status_code == status
    assert resolve_short_link(code) is None


def test_a_short_link_is_only_opened_never_posted_to(client, texted):
    path = short_link_in(text_of(texted), "Confirm or cancel")
    assert client.post(path).status_code == 405
    assert client.head(path).status_code == 302


def test_a_taken_code_is_drawn_again(monkeypatch, texted):
    taken = get_or_make_short_link(
        reminder_id=texted.pk, purpose="stop", patient_id=texted.patient_id, channel="sms"
    )
    draws = iter([taken.code, "b" * CODE_LENGTH])
    monkeypatch.setattr(short_links, "new_code", lambda: next(draws))
    link = get_or_make_short_link(
        reminder_id=texted.pk,
        purpose="confirm",
        appointment_id=texted.appointment_id,
        sequence=texted.appointment.sequence,
    )
    assert link.code == "b" * CODE_LENGTH


def test_a_link_made_meanwhile_by_another_send_is_used(monkeypatch, texted):
    # Given another send makes the same link between this one's look and its insert
    ids = {"patient_id": texted.patient_id, "channel": "sms"}
    real_new_code = short_links.new_code
    made = []

    def another_send_first():
        if not made:
            with monkeypatch.context() as inner:
                inner.setattr(short_links, "new_code", real_new_code)
                made.append(get_or_make_short_link(reminder_id=texted.pk, purpose="stop", **ids))
        return real_new_code()

    monkeypatch.setattr(short_links, "new_code", another_send_first)

    # When this send makes it, then it gets the other send's row: one link, one code
    link = get_or_make_short_link(reminder_id=texted.pk, purpose="stop", **ids)
    assert (link.pk, link.code) == (made[0].pk, made[0].code)
    assert ShortLink.objects.count() == 1


def test_the_database_refuses_a_second_link_per_reminder_and_purpose(texted):
    link = get_or_make_short_link(
        reminder_id=texted.pk, purpose="stop", patient_id=texted.patient_id, channel="sms"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ShortLink.objects.create(
            reminder=texted,
            purpose="stop",
            code="c" * CODE_LENGTH,
            token=link.token,
            created_at=link.created_at,
            expires_at=link.expires_at,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        ShortLink.objects.create(
            reminder=texted,
            purpose="confirm",
            code=link.code,
            token=link.token,
            created_at=link.created_at,
            expires_at=link.expires_at,
        )


def test_expired_short_links_are_deleted_daily_and_twice_deletes_nothing_more(
    settings, texted, booked_appointment
):
    assert "delete-expired-short-links" in settings.CELERY_BEAT_SCHEDULE
    text_of(texted)
    stop = ShortLink.objects.get(purpose="stop")
    ShortLink.objects.filter(purpose="confirm").update(expires_at=stop.expires_at - MINUTE)
    with time_machine.travel(stop.expires_at - MINUTE, tick=False):
        assert delete_expired_short_links_task() == 1
        assert delete_expired_short_links_task() == 0
    assert list(ShortLink.objects.values_list("purpose", flat=True)) == ["stop"]
    with time_machine.travel(stop.expires_at, tick=False):
        out = io.StringIO()
        call_command("delete_expired_short_links", stdout=out)
    assert out.getvalue() == "Deleted 1 expired short link.\n"
    assert not ShortLink.objects.exists()
    assert delete_expired_short_links(now=stop.expires_at) == 0


def test_a_reminders_short_links_go_with_it(texted):
    text_of(texted)
    Reminder.objects.filter(pk=texted.pk).delete()
    assert not ShortLink.objects.exists()


# --- the confirm page behind a visit's one link --------------------------------------------------


def test_the_confirm_page_offers_the_cancel_page_while_the_visit_may_be_cancelled_online(
    client, texted
):
    _, token = signed_link_behind(client, text_of(texted), "Confirm or cancel")
    page = client.get(reverse("links:confirm", args=[token])).content.decode()
    assert "Cannot come? Cancel this visit" in page
    cancel_path = page.split('href="/r/cancel/')[1].split('"')[0]
    cancel_token = cancel_path.removesuffix("/")
    assert read_link_token(cancel_token, purpose="cancel") == {
        "appointment_id": texted.appointment_id,
        "sequence": texted.appointment.sequence,
    }


def test_inside_the_cut_off_the_confirm_page_has_no_cancel_link(client, texted):
    _, token = signed_link_behind(client, text_of(texted), "Confirm or cancel")
    with time_machine.travel(texted.due_at, tick=False):
        page = client.get(reverse("links:confirm", args=[token])).content.decode()
    assert "/r/cancel/" not in page
    assert "Cancel this visit" not in page
    assert "call Riverside Clinic on" in page
