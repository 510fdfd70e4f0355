"""The SMS caps (at most SMS_MAX_PER_DAY a day and SMS_MAX_PER_WEEK a week per patient) hold
when two sends to one patient run at the same instant: each counts under the patient's lock,
held until its message is recorded sent (treatments/services/reminders.py, `_send_capped`)."""

import datetime
import threading

import pytest

from patients.services import record_consent
from tests.concurrency import at_once
from tests.conftest import make_patient
from treatments import channels
from treatments.models import Reminder
from treatments.services import reminders as reminder_service
from treatments.services.reminders import send_reminder

# Pinned: Wednesday 3 March 2027, noon in New York (out of quiet hours).
NOON = datetime.datetime(2027, 3, 3, 17, 0, tzinfo=datetime.UTC)


@pytest.fixture
def racing_channel(monkeypatch):
    """An SMS channel that holds each message until two sends have counted the patient's caps
    (or two seconds have passed): without a lock both would count before either is recorded,
    and both would go out. Returns the list of numbers it sent to."""
    counted, sent = [], []
    turn = threading.Condition()
    count = reminder_service._sms_cap_reason

    def counting(patient, now):
        reason = count(patient, now)
        with turn:
            counted.append(patient.pk)
            turn.notify_all()
        return reason

    def send(channel, message):
        with turn:
            turn.wait_for(lambda: len(counted) >= 2, timeout=2)
        sent.append(message.to)
        return f"sms-{len(sent)}"

    monkeypatch.setattr(reminder_service, "_sms_cap_reason", counting)
    monkeypatch.setattr(channels, "send", send)
    return sent


def claimed_sms(patient, n: int) -> Reminder:
    return Reminder.objects.create(
        patient=patient,
        subject_key=f"noshow:cap-{n}",
        kind="rebook_noshow",
        channel="sms",
        due_at=NOON,
        status="claimed",
        claim_token=f"{n}" * 32,
        claimed_at=NOON,
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("per_day", "per_week", "sent_this_week", "reason"),
    [
        (1, 3, 0, "SMS limit reached (1 a day)."),
        (5, 3, 2, "SMS limit reached (3 a week)."),
    ],
)
def test_two_sends_at_once_to_one_patient_at_the_cap_send_exactly_one(
    location, racing_channel, settings, time_machine, per_day, per_week, sent_this_week, reason
):
    # Given a patient one message below a cap, and two of their texts claimed at once
    time_machine.move_to(NOON, tick=False)
    settings.SMS_MAX_PER_DAY, settings.SMS_MAX_PER_WEEK = per_day, per_week
    patient = make_patient(90, location=location)
    record_consent(patient=patient, channel="sms", granted=True, source="written", recorded_by=None)
    for n in range(sent_this_week):
        Reminder.objects.create(
            patient=patient,
            subject_key=f"noshow:earlier-{n}",
            kind="rebook_noshow",
            channel="sms",
            due_at=NOON - datetime.timedelta(days=2 + n),
            status="sent",
            sent_at=NOON - datetime.timedelta(days=2 + n),
        )
    first, second = claimed_sms(patient, 1), claimed_sms(patient, 2)

    # When both are sent at the same instant
    outcomes = at_once(
        [
            lambda: send_reminder(reminder_id=first.pk, claim_token="1" * 32),
            lambda: send_reminder(reminder_id=second.pk, claim_token="2" * 32),
        ]
    )

    # Then exactly one goes out; the other is skipped with the cap's reason
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(racing_channel) == 1
    rows = Reminder.objects.filter(pk__in=[first.pk, second.pk])
    assert sorted(rows.values_list("status", "skip_reason")) == [
        ("sent", ""),
        ("skipped", reason),
    ]


@pytest.mark.django_db(transaction=True)
def test_sends_at_once_to_two_patients_under_the_cap_both_go_out(
    location, racing_channel, settings, time_machine
):
    # Given two patients, each with one text claimed, under a cap of one a day
    time_machine.move_to(NOON, tick=False)
    settings.SMS_MAX_PER_DAY = 1
    rows = []
    for n in (1, 2):
        patient = make_patient(90 + n, location=location)
        record_consent(
            patient=patient, channel="sms", granted=True, source="written", recorded_by=None
        )
        rows.append(claimed_sms(patient, n))

    # When both are sent at once, then both go out
    outcomes = at_once(
        [
            lambda: send_reminder(reminder_id=rows[0].pk, claim_token="1" * 32),
            lambda: send_reminder(reminder_id=rows[1].pk, claim_token="2" * 32),
        ]
    )
    assert outcomes == ["sent", "sent"]
