"""The post-injection check-in (docs/clinical-rules.md): planned when a session is signed, sent
with a signed link, answered by the link or in the portal, its answers draft adverse events
with the side-effect report's alarms, confirmed or dismissed by a clinician."""

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from audit.models import AccessEvent
from patients.services import record_consent
from tests.concurrency import at_once
from tests.conftest import fresh_vials, session_input, short_link_in, signed_link_behind
from treatments.links import make_link_token
from treatments.models import AdverseEvent, Alert, CheckIn, Reminder
from treatments.services import amend_session, record_session, sign_session
from treatments.services.checkins import answer_checkin
from treatments.services.reminders import render_message, send_reminder

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# The clock is pinned here: Monday 1 March 2027, 10:00 in New York; the session was given two
# days before, so its check-in (ten days after, at 10:00 local) is still ahead: Tuesday 9 March.
NOW = datetime.datetime(2027, 3, 1, 15, 0, tzinfo=datetime.UTC)
GIVEN = NOW - datetime.timedelta(days=2)
CHECKIN_AT = datetime.datetime(2027, 3, 9, 10, 0, tzinfo=NEW_YORK)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def give(patient, clinician, location, when=GIVEN):
    session = record_session(
        patient=patient,
        injector=clinician,
        data=session_input(location, when=when, vials=fresh_vials(when)),
    )
    return sign_session(session=session, user=clinician, acknowledged=[])


def consent(patient, *channels):
    for channel in channels:
        record_consent(
            patient=patient, channel=channel, granted=True, source="written", recorded_by=None
        )


@pytest.fixture
def given(now, patient_b, clinician, location):
    """patient_b consents to SMS and was injected two days ago; the session is signed."""
    consent(patient_b, "sms")
    return give(patient_b, clinician, location)


def link(session) -> str:
    return reverse(
        "links:checkin", args=[make_link_token(purpose="checkin", session_id=session.pk)]
    )


def drafts(session):
    return {e.term: e for e in AdverseEvent.objects.filter(session=session)}


# --- planning -------------------------------------------------------------------------------


def test_signing_a_session_plans_its_checkin_ten_days_later_at_ten_local_by_sms(given):
    # Then one check-in row, by SMS (the patient's consent), due on day 10 at 10:00 New York
    row = Reminder.objects.get(kind="checkin")
    assert (row.subject_key, row.channel, row.status) == (f"checkin:{given.pk}", "sms", "pending")
    assert row.session_id == given.pk
    assert row.due_at == CHECKIN_AT


def test_without_sms_consent_the_checkin_goes_by_email(now, patient_b, clinician, location):
    consent(patient_b, "email")
    session = give(patient_b, clinician, location)
    assert Reminder.objects.get(session=session, kind="checkin").channel == "email"


def test_the_checkin_day_follows_the_setting(now, patient_b, clinician, location, settings):
    settings.CHECKIN_AFTER_DAYS = 14
    session = give(patient_b, clinician, location)
    due = Reminder.objects.get(session=session, kind="checkin").due_at
    assert due == CHECKIN_AT + datetime.timedelta(days=4)


def test_an_amendment_cancels_the_unsent_checkin_and_plans_the_new_versions(
    given, clinician, location
):
    # When the session's time is corrected a day earlier
    earlier = GIVEN - datetime.timedelta(days=1)
    amendment = amend_session(
        session=given,
        user=clinician,
        data=session_input(location, when=earlier, vials=fresh_vials(earlier)),
        reason="Entered on the wrong day",
    )

    # Then the old version's check-in is cancelled, the new version's is a day earlier
    old = Reminder.objects.get(session=given, kind="checkin")
    assert (old.status, old.skip_reason) == ("cancelled", "The session was amended.")
    new = Reminder.objects.get(session=amendment.new_version, kind="checkin")
    assert (new.status, new.due_at) == ("pending", CHECKIN_AT - datetime.timedelta(days=1))


def test_an_amendment_after_the_checkin_went_out_sends_no_second_one(given, clinician, location):
    Reminder.objects.filter(kind="checkin").update(status="sent", sent_at=NOW)
    amendment = amend_session(
        session=given,
        user=clinician,
        data=session_input(location, when=GIVEN, vials=fresh_vials(GIVEN), notes="Typo"),
        reason="Typo in the notes",
    )
    assert not Reminder.objects.filter(session=amendment.new_version).exists()


# --- the message ----------------------------------------------------------------------------


def test_the_checkin_message_has_its_link_and_no_clinical_detail(given, client):
    message = render_message(Reminder.objects.get(kind="checkin"))
    assert signed_link_behind(client, message.body, "Answer")[0] == "checkin"
    words = message.body.lower()
    for clinical in ("botox", "toxin", "inject", "eyelid", "swallow", "breath", "neck", "ben"):
        assert clinical not in words
    # short: one clinic name, the question, the check-in link and the stop link
    assert len(message.body.split("http")[0]) <= 100


def test_the_checkin_is_sent_on_its_day_by_sms(given, settings, tmp_path, time_machine):
    settings.SMS_FILE_PATH = tmp_path
    row = Reminder.objects.get(kind="checkin")
    Reminder.objects.filter(pk=row.pk).update(status="claimed", claim_token="t" * 32)
    time_machine.move_to(CHECKIN_AT, tick=False)
    assert send_reminder(reminder_id=row.pk, claim_token="t" * 32) == "sent"
    [sms] = list(tmp_path.iterdir())
    assert "Answer: http" in sms.read_text()
    assert short_link_in(sms.read_text(), "Answer").startswith("/s/")


def test_a_checkin_already_answered_in_the_portal_is_not_sent(given, time_machine):
    answer_checkin(session=given, answers={"eyelids": False}, user=None, via="portal")
    row = Reminder.objects.get(kind="checkin")
    Reminder.objects.filter(pk=row.pk).update(status="claimed", claim_token="t" * 32)
    time_machine.move_to(CHECKIN_AT, tick=False)
    assert send_reminder(reminder_id=row.pk, claim_token="t" * 32) == "skipped"
    row.refresh_from_db()
    assert row.skip_reason == "The check-in was already answered."


# --- answering ------------------------------------------------------------------------------


def test_the_link_shows_the_four_questions_without_a_login(client, given):
    response = client.get(link(given))
    assert response.status_code == 200
    for question in ("eyelids", "neck", "swallowing, breathing or speaking", "Anything else"):
        assert question in response.content.decode()
    assert "Patel" not in response.content.decode()  # a forwarded link names nobody


def test_answers_by_the_link_become_draft_adverse_events_on_the_session(client, given):
    # When the patient answers: drooping eyelids, a painful neck, and something else
    response = client.post(
        link(given), {"eyelids": "yes", "neck": ["neck_pain"], "other": "Tired for two days"}
    )

    # Then the answers are thanked for, and each is a draft event on the session
    assert response.status_code == 200
    assert "your answers have gone to your clinician" in response.content.decode()
    events = drafts(given)
    assert set(events) == {"eyelid_ptosis", "neck_pain", "other"}
    assert all(e.awaits_review and e.reported_by == "patient" for e in events.values())
    assert all(e.recorded_by is None for e in events.values())
    assert events["other"].description == "Tired for two days"
    # And a boxed-warning sign raises a prompt alert; a local effect none
    assert dict(Alert.objects.values_list("event__term", "urgency")) == {"eyelid_ptosis": "prompt"}
    checkin = CheckIn.objects.get(session=given)
    assert (checkin.via, checkin.eyelids, checkin.neck_pain) == ("link", True, True)


def test_a_danger_answer_shows_the_emergency_message_and_raises_an_urgent_alert(
    client, given, settings, django_capture_on_commit_callbacks
):
    settings.CLINICAL_ALERT_EMAIL = "alerts@riverside.example"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(link(given), {"eyelids": "no", "trouble": ["breathing"]})
    page = response.content.decode()
    assert "Get emergency care now" in page
    assert "Call 911" in page
    assert "+12125550142" in page
    assert Alert.objects.get().urgency == "danger"
    assert set(drafts(given)) == {"dyspnoea"}
    # the clinicians' email says only that a report needs review
    [email] = mail.outbox
    assert "breath" not in (email.subject + email.body).lower()


def test_answering_the_same_link_again_records_nothing_more(client, given):
    client.post(link(given), {"eyelids": "yes", "trouble": ["speaking"]})
    again = client.post(link(given), {"eyelids": "yes", "trouble": ["speaking", "breathing"]})
    assert again.status_code == 200
    assert "already been answered" in again.content.decode()
    assert "Get emergency care now" in again.content.decode()  # the advice still stands
    assert AdverseEvent.objects.filter(session=given).count() == 2
    assert CheckIn.objects.count() == 1
    assert Alert.objects.count() == 2


def test_a_link_to_an_amended_session_answers_for_its_current_version(
    client, given, clinician, location
):
    amendment = amend_session(
        session=given,
        user=clinician,
        data=session_input(location, when=GIVEN, vials=fresh_vials(GIVEN), notes="Typo"),
        reason="Typo in the notes",
    )
    client.post(link(given), {"eyelids": "yes"})
    assert CheckIn.objects.get().session == amendment.new_version
    assert set(drafts(amendment.new_version)) == {"eyelid_ptosis"}


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        make_link_token(purpose="offer", offer_id=1),  # another purpose
    ],
    # ids of their own: the signed token carries the time it was made, which differs between
    # xdist's workers, and each worker must collect the same test ids
    ids=["not-a-token", "another-purpose"],
)
def test_a_bad_link_gets_the_invalid_link_page(client, given, token):
    response = client.post(reverse("links:checkin", args=[token]), {"eyelids": "yes"})
    assert response.status_code == 400
    assert not CheckIn.objects.exists()


def test_a_tampered_link_gets_the_invalid_link_page(client, given):
    token = make_link_token(purpose="checkin", session_id=given.pk)
    response = client.get(reverse("links:checkin", args=[token[:-2] + "xx"]))
    assert response.status_code == 400


def test_an_expired_link_gets_the_invalid_link_page(client, given, settings, time_machine):
    url = link(given)
    time_machine.move_to(NOW + datetime.timedelta(days=settings.LINK_MAX_AGE_DAYS + 1), tick=False)
    assert client.post(url, {"eyelids": "yes"}).status_code == 400
    assert not CheckIn.objects.exists()


def test_a_link_to_a_session_that_does_not_exist_is_gone(client, given):
    token = make_link_token(purpose="checkin", session_id=given.pk + 1000)
    assert client.get(reverse("links:checkin", args=[token])).status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"eyelids": "maybe"},
        {"eyelids": "yes", "neck": ["shoulder"]},
        {"eyelids": "no", "trouble": ["x" * 500]},
        {"eyelids": "no", "other": "x" * 201},
        {"eyelids": "no", "other": "nul\x00byte"},
    ],
)
def test_hostile_answers_get_form_errors_and_record_nothing(client, given, data):
    response = client.post(link(given), data)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not CheckIn.objects.exists()
    assert not AdverseEvent.objects.filter(session=given).exists()


def test_the_portal_asks_the_same_questions_of_the_patients_own_session(client, given, patient_b):
    client.force_login(patient_b.user)
    treatment = client.get(reverse("portal:treatment"))
    url = reverse("portal:checkin", args=[given.pk])
    assert url in treatment.content.decode()
    response = client.post(url, {"eyelids": "no", "neck": ["neck_weakness"]})
    assert response.status_code == 200
    checkin = CheckIn.objects.get()
    assert (checkin.via, checkin.answered_by) == ("portal", patient_b.user)
    assert drafts(given)["weakness"].recorded_by == patient_b.user
    assert url not in client.get(reverse("portal:treatment")).content.decode()


def test_another_patients_checkin_is_not_found_in_the_portal(client, given, patient_a):
    client.force_login(patient_a.user)
    assert client.get(reverse("portal:checkin", args=[given.pk])).status_code == 404


# --- the clinician's review -----------------------------------------------------------------


@pytest.fixture
def answered(client, given):
    client.post(link(given), {"eyelids": "yes", "neck": ["neck_pain"]})
    return drafts(given)


def test_the_session_page_shows_the_drafts_to_confirm_or_dismiss(
    client, given, answered, clinician
):
    client.force_login(clinician)
    page = client.get(reverse("treatments:session_detail", args=[given.pk])).content.decode()
    for event in answered.values():
        assert reverse("treatments:adverse_event_review", args=[event.pk]) in page
        assert reverse("treatments:adverse_event_dismiss", args=[event.pk]) in page


def test_a_clinician_confirms_a_draft_as_an_adverse_event(client, given, answered, clinician):
    event = answered["eyelid_ptosis"]
    client.force_login(clinician)
    response = client.post(
        reverse("treatments:adverse_event_review", args=[event.pk]),
        {
            "term": "eyelid_ptosis",
            "onset": NOW.astimezone(NEW_YORK).date().isoformat(),
            "severity": "mild",
            "outcome": "ongoing",
        },
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.confirmed_by, event.severity, event.awaits_review) == (clinician, "mild", False)


def test_a_clinician_dismisses_a_draft_and_the_look_is_audited(client, given, answered, clinician):
    event = answered["neck_pain"]
    client.force_login(clinician)
    url = reverse("treatments:adverse_event_dismiss", args=[event.pk])
    assert client.post(url).status_code == 302
    event.refresh_from_db()
    assert (event.dismissed_by, event.awaits_review) == (clinician, False)
    assert AccessEvent.objects.filter(
        view="treatments:adverse_event_dismiss", user=clinician, patient_id=given.patient_id
    ).exists()
    # dismissing again changes nothing
    client.post(url)
    assert AdverseEvent.objects.get(pk=event.pk).dismissed_at == event.dismissed_at


def test_the_front_desk_cannot_dismiss_a_draft(client, answered, front_desk):
    event = answered["neck_pain"]
    client.force_login(front_desk)
    response = client.post(reverse("treatments:adverse_event_dismiss", args=[event.pk]))
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.dismissed_at is None


@pytest.mark.django_db(transaction=True)
def test_two_submissions_of_one_link_at_once_record_one_checkin(
    time_machine, patient_b, clinician, location
):
    # Given a signed session (the clock pinned, as `given` pins it)
    time_machine.move_to(NOW, tick=False)
    session = give(patient_b, clinician, location)
    url = link(session)

    # When the same answers are sent twice at the same instant (a double tap, two tabs)
    statuses = at_once(
        [
            lambda: Client().post(url, {"eyelids": "yes", "trouble": ["breathing"]}).status_code
            for _ in range(2)
        ]
    )

    # Then both are answered, and the check-in and its events are recorded once
    assert statuses == [200, 200]
    assert CheckIn.objects.count() == 1
    assert set(drafts(session)) == {"eyelid_ptosis", "dyspnoea"}
    assert AdverseEvent.objects.filter(session=session).count() == 2
    assert Alert.objects.count() == 2
