import datetime
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from patients.services import record_consent
from tests.concurrency import at_once
from tests.conftest import (
    clinic_today,
    fresh_vials,
    local,
    make_patient,
    make_reminders,
    next_weekday,
    session_input,
    signed_link_behind,
    visit_day,
)
from treatments import channels
from treatments.links import site_domain
from treatments.models import Reminder
from treatments.services import (
    book_appointment,
    record_session,
    reschedule_appointment,
    set_appointment_status,
    sign_session,
)
from treatments.services.reminders import (
    dispatch_due_reminders,
    in_quiet_hours,
    out_of_quiet_hours,
    plan_visit_reminders,
    render_message,
    send_reminder,
)
from treatments.tasks import dispatch_reminders_task

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def consenting(booked_appointment):
    """patient_b consents to email and SMS."""
    patient = booked_appointment.patient
    for channel in ("email", "sms"):
        record_consent(
            patient=patient, channel=channel, granted=True, source="written", recorded_by=None
        )
    return patient


def visit_reminders(appointment):
    return {(r.kind, r.channel): r for r in appointment.reminders.all()}


def claim(reminder, token="t" * 32):
    Reminder.objects.filter(pk=reminder.pk).update(status="claimed", claim_token=token)
    return token


def noon_in_new_york(appointment):
    """Noon on the Wednesday before the visit (`booked_appointment` is on a Monday more than a
    week away): after booking, in working hours, before the visit, whatever today is."""
    return local(appointment.local_starts_at.date() - datetime.timedelta(days=5), 12)


# --- planning ------------------------------------------------------------------------------------


def test_booking_plans_a_week_before_by_email_and_the_day_before_by_sms(
    schedule, patient_a, clinician, front_desk
):
    # Given a visit at 10:00 New York time more than a week away
    monday = visit_day()
    visit = book_appointment(
        patient=patient_a,
        clinician=clinician,
        location=schedule,
        starts_at=local(monday, 10),
        booked_by=front_desk,
    )
    reminders = visit_reminders(visit)
    assert set(reminders) == {("visit_week", "email"), ("visit_tomorrow", "sms")}
    week, tomorrow = reminders[("visit_week", "email")], reminders[("visit_tomorrow", "sms")]
    assert week.due_at == local(monday - datetime.timedelta(days=7), 10)
    assert tomorrow.due_at == local(monday - datetime.timedelta(days=1), 10)
    assert {week.status, tomorrow.status} == {"pending"}


def test_without_sms_consent_the_day_before_goes_by_email(booked_appointment):
    record_consent(
        patient=booked_appointment.patient,
        channel="email",
        granted=True,
        source="written",
        recorded_by=None,
    )
    Reminder.objects.all().delete()
    plan_visit_reminders(appointment=booked_appointment)
    assert ("visit_tomorrow", "email") in visit_reminders(booked_appointment)


def test_a_reminder_already_past_when_planned_is_skipped_not_sent_late(
    schedule, patient_a, clinician, front_desk
):
    # Given a visit 3 to 5 days away: "a week before" has already passed
    day = timezone.localdate() + datetime.timedelta(days=3)
    while day.weekday() > 4:
        day += datetime.timedelta(days=1)
    visit = book_appointment(
        patient=patient_a,
        clinician=clinician,
        location=schedule,
        starts_at=local(day, 11),
        booked_by=front_desk,
    )
    week = visit_reminders(visit)[("visit_week", "email")]
    assert (week.status, week.skip_reason) == (
        "skipped",
        "Its time had passed when it was planned.",
    )
    assert visit_reminders(visit)[("visit_tomorrow", "sms")].status == "pending"


def test_planning_twice_makes_no_second_row(booked_appointment):
    before = Reminder.objects.count()
    plan_visit_reminders(appointment=booked_appointment)
    assert Reminder.objects.count() == before
    first = Reminder.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(
            patient=first.patient,
            subject_key=first.subject_key,
            kind=first.kind,
            channel=first.channel,
            due_at=first.due_at,
        )


def test_moving_a_visit_cancels_its_reminders_and_plans_the_new_times(
    consenting, booked_appointment, front_desk
):
    old = set(Reminder.objects.filter(status="pending").values_list("pk", flat=True))
    moved = reschedule_appointment(
        appointment=booked_appointment, starts_at=local(next_weekday(3), 15), by=front_desk
    )
    assert set(Reminder.objects.filter(pk__in=old).values_list("status", flat=True)) <= {
        "cancelled"
    }
    new = moved.reminders.filter(subject_key=f"appointment:{moved.pk}:1")
    assert new.filter(kind="visit_tomorrow").get().due_at.astimezone(NEW_YORK).hour == 15


@pytest.mark.parametrize("status", ["cancelled", "noshow", "arrived"])
def test_cancel_no_show_and_check_in_stop_the_visits_pending_reminders(
    booked_appointment, front_desk, status, time_machine
):
    # On the visit's day, once it has started (a no-show needs that, a check-in the day)
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=15))
    set_appointment_status(
        appointment=booked_appointment, status=status, by=front_desk, reason="unwell"
    )
    visit = booked_appointment.reminders.filter(kind__in=("visit_week", "visit_tomorrow"))
    assert not visit.filter(status__in=("pending", "claimed")).exists()


def test_a_no_show_plans_a_rebook_message_the_next_day_at_ten(
    booked_appointment, front_desk, time_machine
):
    time_machine.move_to(booked_appointment.starts_at + datetime.timedelta(minutes=15))
    set_appointment_status(appointment=booked_appointment, status="noshow", by=front_desk)
    rebook = booked_appointment.reminders.get(kind="rebook_noshow")
    assert rebook.status == "pending"
    assert rebook.due_at.astimezone(NEW_YORK).time() == datetime.time(10)


def test_signing_plans_due_not_booked_on_day_70_and_booking_cancels_it(
    patient_a, clinician, location, schedule, front_desk
):
    # Given a session 77 days ago, signed late: its day-70 message is already a week past
    given_on = clinic_today() - datetime.timedelta(days=77)
    when = local(given_on, 10)
    data = session_input(location, when=when, vials=fresh_vials(when))
    session = record_session(patient=patient_a, injector=clinician, data=data)
    sign_session(session=session, user=clinician, acknowledged=[])
    due = Reminder.objects.get(kind="due_not_booked")
    assert due.due_at == local(given_on + datetime.timedelta(days=70), 10)
    assert due.status == "skipped"
    Reminder.objects.filter(pk=due.pk).update(status="pending")
    book_appointment(
        patient=patient_a,
        clinician=clinician,
        location=schedule,
        starts_at=local(visit_day(), 9),  # day 85 or later: no early-booking override
        booked_by=front_desk,
    )
    due.refresh_from_db()
    assert due.status == "cancelled"


# --- quiet hours and DST ------------------------------------------------------------------------

ZONES = ["America/New_York", "Europe/London", "Australia/Sydney"]


@settings(max_examples=500, deadline=None)
@given(
    moment=st.datetimes(
        datetime.datetime(2020, 1, 1),  # noqa: DTZ001 (hypothesis wants naive bounds)
        datetime.datetime(2035, 12, 31),  # noqa: DTZ001
        timezones=st.just(datetime.UTC),
    ),
    zone=st.sampled_from(ZONES),
)
def test_a_reminder_is_never_due_inside_quiet_hours(moment, zone):
    tz = zoneinfo.ZoneInfo(zone)
    due = out_of_quiet_hours(moment, tz)
    assert not in_quiet_hours(due, tz)
    assert due >= moment
    if in_quiet_hours(moment, tz):
        assert due.astimezone(tz).time() == datetime.time(8)
        # at most the 11 quiet hours, plus the hour a clock gains when it falls back
        assert due - moment <= datetime.timedelta(hours=12)
    else:
        assert due == moment


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(datetime.date(2020, 1, 8), datetime.date(2035, 12, 31)),
    hour=st.integers(8, 20),
    minute=st.sampled_from([0, 30]),
    zone=st.sampled_from(ZONES),
)
def test_visit_reminders_are_due_at_the_visits_local_time_across_dst(day, hour, minute, zone):
    tz = zoneinfo.ZoneInfo(zone)
    visit = datetime.datetime.combine(day, datetime.time(hour, minute), tz)
    for days in (7, 1):
        due = out_of_quiet_hours(visit - datetime.timedelta(days=days), tz)
        assert due.astimezone(tz).time() == datetime.time(hour, minute)
        assert due.astimezone(tz).date() == day - datetime.timedelta(days=days)


# --- dispatching --------------------------------------------------------------------------------


def test_the_dispatcher_claims_due_rows_once_and_queues_each_claim_once_in_small_batches(
    booked_appointment, django_capture_on_commit_callbacks, settings
):
    settings.REMINDER_SEND_BATCH = 3
    Reminder.objects.update(status="pending", due_at=booked_appointment.booked_at)
    rows = Reminder.objects.count()
    assert rows == 4  # the visit's two, the course's "due, not booked", the session's check-in
    with django_capture_on_commit_callbacks() as callbacks:
        assert dispatch_reminders_task() == rows
        assert dispatch_reminders_task() == 0
    batches = [callback.args[0] for callback in callbacks]  # send_reminders_task.delay(claims)
    assert [len(batch) for batch in batches] == [3, 1]
    queued = [tuple(claim) for batch in batches for claim in batch]
    assert sorted(queued) == sorted(Reminder.objects.values_list("pk", "claim_token"))
    assert set(Reminder.objects.values_list("status", flat=True)) == {"claimed"}


def test_an_expired_claim_is_taken_back(booked_appointment):
    Reminder.objects.update(
        status="claimed",
        claim_token="x" * 32,
        claimed_at=booked_appointment.booked_at - datetime.timedelta(hours=1),
        due_at=booked_appointment.booked_at,
    )
    assert dispatch_reminders_task() == Reminder.objects.count()
    assert "x" * 32 not in set(Reminder.objects.values_list("claim_token", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_claim_each_row_exactly_once(schedule, clinician, front_desk):
    patients = [make_patient(200 + n) for n in range(300)]
    make_reminders(patients, due_at=timezone.now(), kind="due_not_booked")

    def run():
        return len(dispatch_due_reminders(batch_size=25))

    counts = at_once([run, run])
    assert sum(counts) == 300
    assert Reminder.objects.filter(status="claimed").count() == 300


# --- sending ----------------------------------------------------------------------------------


def pending_tomorrow(appointment):
    reminder = appointment.reminders.get(kind="visit_tomorrow")
    Reminder.objects.filter(pk=reminder.pk).update(status="pending")
    return reminder


def test_a_sent_email_carries_its_idempotency_key_links_and_no_clinical_detail(
    consenting, booked_appointment
):
    reminder = booked_appointment.reminders.get(kind="visit_week")
    token = claim(reminder)
    assert (
        send_reminder(
            reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
        )
        == "sent"
    )
    [email] = mail.outbox
    assert email.extra_headers["Message-ID"] == f"<reminder-{reminder.pk}@{site_domain()}>"
    assert "/r/confirm/" in email.body
    assert "/r/cancel/" in email.body
    for word in ("Botox", "botulinum", "migraine", "units", "injection", "Patel"):
        assert word.lower() not in (email.subject + email.body).lower()
    reminder.refresh_from_db()
    assert (reminder.status, reminder.provider_message_id) == (
        "sent",
        f"<reminder-{reminder.pk}@{site_domain()}>",
    )


def test_sending_twice_sends_once(consenting, booked_appointment):
    reminder = booked_appointment.reminders.get(kind="visit_week")
    token = claim(reminder)
    send_reminder(
        reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
    )
    assert (
        send_reminder(
            reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
        )
        == "not-mine"
    )
    assert len(mail.outbox) == 1


def test_an_sms_goes_to_the_sms_backend_with_its_key(
    consenting, booked_appointment, settings, tmp_path
):
    settings.SMS_FILE_PATH = tmp_path
    reminder = booked_appointment.reminders.get(kind="visit_tomorrow")
    token = claim(reminder)
    assert (
        send_reminder(
            reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
        )
        == "sent"
    )
    [sms] = list(tmp_path.iterdir())
    text = sms.read_text()
    assert f"Key: reminder-{reminder.pk}" in text
    assert "Stop texts:" in text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("cancel", "The visit is no longer booked."),
        ("revoke", "No consent to SMS messages."),
        ("discharge", "The patient is discharged."),
    ],
)
def test_a_reminder_that_no_longer_applies_is_skipped_with_the_reason(
    consenting, booked_appointment, front_desk, change, reason
):
    reminder = booked_appointment.reminders.get(kind="visit_tomorrow")
    token = claim(reminder)
    if change == "cancel":
        booked_appointment.status, booked_appointment.cancel_reason = "cancelled", "unwell"
        booked_appointment.save()
    elif change == "revoke":
        record_consent(
            patient=consenting, channel="sms", granted=False, source="phone", recorded_by=front_desk
        )
    else:
        consenting.status = "discharged"
        consenting.save()
    assert (
        send_reminder(
            reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
        )
        == "skipped"
    )
    reminder.refresh_from_db()
    assert (reminder.status, reminder.skip_reason) == ("skipped", reason)


def test_the_sms_cap_of_one_a_day_skips_the_second(consenting, booked_appointment):
    first = booked_appointment.reminders.get(kind="visit_tomorrow")
    Reminder.objects.filter(pk=first.pk).update(
        status="sent", sent_at=noon_in_new_york(booked_appointment)
    )
    second = Reminder.objects.create(
        patient=consenting,
        subject_key="test:cap",
        kind="rebook_noshow",
        channel="sms",
        due_at=noon_in_new_york(booked_appointment),
        status="claimed",
        claim_token="c" * 32,
    )
    Reminder.objects.filter(pk=second.pk).update(appointment=None)
    booked_appointment.status, booked_appointment.cancel_reason = "cancelled", "x"
    booked_appointment.save()
    assert (
        send_reminder(
            reminder_id=second.pk,
            claim_token="c" * 32,
            now=noon_in_new_york(booked_appointment) + datetime.timedelta(hours=2),
        )
        == "skipped"
    )
    second.refresh_from_db()
    assert second.skip_reason == "SMS limit reached (1 a day)."


def test_a_send_in_quiet_hours_is_deferred_to_eight_local(consenting, booked_appointment):
    reminder = booked_appointment.reminders.get(kind="visit_week")
    token = claim(reminder)
    wednesday = noon_in_new_york(booked_appointment).date()
    late_evening = local(wednesday, 22)
    assert send_reminder(reminder_id=reminder.pk, claim_token=token, now=late_evening) == "deferred"
    reminder.refresh_from_db()
    assert reminder.status == "pending"
    assert reminder.due_at.astimezone(NEW_YORK) == local(wednesday + datetime.timedelta(days=1), 8)
    assert mail.outbox == []


def test_a_transient_failure_is_retried_then_sent_once(consenting, booked_appointment, monkeypatch):
    reminder = booked_appointment.reminders.get(kind="visit_week")
    real_send = channels.send_email
    failures = iter([channels.TransientSendError("timeout"), None])

    def flaky(message):
        failure = next(failures)
        if failure:
            raise failure
        return real_send(message)

    monkeypatch.setattr(channels, "send_email", flaky)
    token = claim(reminder)
    assert (
        send_reminder(
            reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
        )
        == "retry"
    )
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == ("pending", 1, "timeout")
    assert reminder.due_at == noon_in_new_york(booked_appointment) + datetime.timedelta(minutes=1)
    token = claim(reminder, "u" * 32)
    assert (
        send_reminder(
            reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
        )
        == "sent"
    )
    assert len(mail.outbox) == 1


def test_transient_failures_stop_after_the_bound(
    consenting, booked_appointment, monkeypatch, settings
):
    settings.REMINDER_MAX_ATTEMPTS = 3
    reminder = booked_appointment.reminders.get(kind="visit_week")

    def down(message):
        raise channels.TransientSendError("connection refused")

    monkeypatch.setattr(channels, "send_email", down)
    outcomes = []
    for attempt in range(3):
        token = claim(reminder, str(attempt) * 32)
        outcomes.append(
            send_reminder(
                reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
            )
        )
    assert outcomes == ["retry", "retry", "failed"]
    reminder.refresh_from_db()
    assert reminder.status == "failed"
    assert reminder.last_error.startswith("Gave up after 3 tries")


def test_an_unconfigured_backend_is_a_failure_not_a_success(
    consenting, booked_appointment, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    reminder = booked_appointment.reminders.get(kind="visit_week")
    token = claim(reminder)
    assert (
        send_reminder(
            reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
        )
        == "failed"
    )
    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == ("failed", "No email backend is configured.")


def test_the_message_names_the_clinic_and_the_local_time(consenting, booked_appointment):
    message = render_message(booked_appointment.reminders.get(kind="visit_tomorrow"))
    when = booked_appointment.local_starts_at
    assert message.body.startswith(f"Riverside Clinic: visit {when:%a %-d %b} 10:00\n")
    assert message.to == "+12125550100"


# --- the front desk's view ------------------------------------------------------------------------


def test_failed_and_skipped_reminders_are_listed_and_can_be_sent_again(
    client, front_desk, consenting, booked_appointment
):
    reminder = booked_appointment.reminders.get(kind="visit_week")
    Reminder.objects.filter(pk=reminder.pk).update(status="failed", last_error="refused")
    client.force_login(front_desk)
    page = client.get(reverse("treatments:reminder_list"))
    assert reminder in list(page.context["reminders"])
    # one form for the page; the row's button posts it to the reminder's resend URL
    html = page.content.decode()
    assert html.count("<form") == 2  # the page's and the navbar's sign-out
    resend = reverse("treatments:reminder_resend", args=[reminder.pk])
    assert f'form="resend" formaction="{resend}"' in html
    client.post(resend)
    reminder.refresh_from_db()
    assert (reminder.status, reminder.last_error) == ("pending", "")


def test_the_patient_page_shows_the_visits_reminders(
    client, front_desk, consenting, booked_appointment
):
    client.force_login(front_desk)
    html = client.get(reverse("patients:detail", args=[consenting.pk])).content.decode()
    assert "Visit tomorrow by SMS" in html


def test_a_queued_claim_is_not_taken_back_by_the_lease_but_a_dead_send_is(
    booked_appointment, settings
):
    # Given one claim waiting in the queue for 10 minutes and one send started 10 minutes ago
    settings.REMINDER_LEASE_SECONDS = 300
    settings.REMINDER_QUEUE_TIMEOUT_SECONDS = 1800
    now = timezone.now()
    queued, started = booked_appointment.reminders.all()[:2]
    Reminder.objects.filter(pk=queued.pk).update(
        status="claimed",
        claim_token="q" * 32,
        claimed_at=now - datetime.timedelta(minutes=10),
        due_at=now,
    )
    Reminder.objects.filter(pk=started.pk).update(
        status="claimed",
        claim_token="s" * 32,
        claimed_at=now - datetime.timedelta(minutes=10),
        started_at=now - datetime.timedelta(minutes=10),
        due_at=now,
    )

    # When the dispatcher runs
    dispatch_due_reminders(now=now)

    # Then the queued one keeps its claim (its task will still come); the dead send is retaken
    queued.refresh_from_db()
    started.refresh_from_db()
    assert (queued.status, queued.claim_token) == ("claimed", "q" * 32)
    assert started.status == "claimed"
    assert started.claim_token not in ("", "s" * 32)


def test_the_day_before_message_leads_to_a_call_instead_of_a_cancel_link(
    client, consenting, booked_appointment
):
    # inside the 24-hour cut-off a cancel link would only say "please call": the text's one
    # link opens the confirm page, which gives the clinic's phone and no cancel link
    tomorrow = render_message(booked_appointment.reminders.get(kind="visit_tomorrow"))
    purpose, token = signed_link_behind(client, tomorrow.body, "Confirm or cancel")
    assert purpose == "confirm"
    with time_machine.travel(tomorrow_due_at(booked_appointment), tick=False):
        page = client.get(reverse("links:confirm", args=[token])).content.decode()
    assert "/r/cancel/" not in page
    assert 'call Riverside Clinic on <a href="tel:+12125550142"' in page
    assert "+1 212-555-0142" in page


def tomorrow_due_at(appointment):
    return appointment.reminders.get(kind="visit_tomorrow").due_at


def test_a_duplicate_delivery_during_a_send_finds_nothing_to_start(
    consenting, booked_appointment, monkeypatch
):
    # Given the broker delivers the same task twice, the second while the first is sending
    reminder = booked_appointment.reminders.get(kind="visit_week")
    token = claim(reminder)
    real_send = channels.send_email
    inner = []

    def send_and_meet_the_duplicate(message):
        inner.append(
            send_reminder(
                reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
            )
        )
        return real_send(message)

    monkeypatch.setattr(channels, "send_email", send_and_meet_the_duplicate)

    # When the first runs
    outcome = send_reminder(
        reminder_id=reminder.pk, claim_token=token, now=noon_in_new_york(booked_appointment)
    )

    # Then the duplicate did nothing, and one message went out
    assert (outcome, inner) == ("sent", ["not-mine"])
    assert len(mail.outbox) == 1
    reminder.refresh_from_db()
    assert reminder.started_at is not None
