"""The eligibility-aware waitlist (issue 14, part 4): who a freed slot is offered to, the
offer's message, and the claim (the first one wins, atomically)."""

import datetime
import re
from functools import partial

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from clinic.models import User
from patients.models import ContactConsent
from tests.concurrency import LiveSession, at_once
from tests.conftest import (
    clinic_today,
    local,
    london,
    make_patient,
    make_user,
    next_weekday,
    signed_link_behind,
    wait_until,
)
from treatments.links import make_link_token, read_link_token
from treatments.models import Appointment, Reminder, SlotOffer, TreatmentCourse, WaitlistEntry
from treatments.services import book_appointment, cancel_appointment, reschedule_appointment
from treatments.services.freed_slots import slot_freed
from treatments.services.reminders import dispatch_due_reminders, render_message, send_reminder
from treatments.services.waitlist import (
    claim_offer,
    eligible_entries,
    join_waitlist,
    leave_waitlist,
    offer_freed_slot,
)


def slot_day() -> datetime.date:
    """A Wednesday more than a week ahead: far enough for every reminder rule."""
    return next_weekday(2, after=clinic_today() + datetime.timedelta(days=7))


def waiting(
    number: int,
    location,
    by,
    *,
    last_session_on: datetime.date | None,
    consent: str | None = "email",
    **fields,
) -> WaitlistEntry:
    """A patient with an active course (last session given on `last_session_on`), consent on
    `consent`, on the waitlist at `location`."""
    patient = make_patient(number, location=location, **fields)
    TreatmentCourse.objects.create(
        patient=patient, started_on=datetime.date(2025, 1, 1), last_session_on=last_session_on
    )
    if consent:
        ContactConsent.objects.create(
            patient=patient, channel=consent, granted=True, source="written"
        )
    return join_waitlist(patient=patient, by=by)


def eligible_on(day: datetime.date, extra_days: int = 0) -> datetime.date:
    """A last session after which the 84-day minimum interval ends `extra_days` before `day`."""
    return day - datetime.timedelta(days=84 + extra_days)


@pytest.fixture
def freed(schedule, clinician, front_desk):
    """A visit of another patient at 10:00 on `slot_day()`, which the tests cancel or move."""
    patient = make_patient(90, location=schedule)
    return book_appointment(
        patient=patient,
        clinician=clinician,
        location=schedule,
        starts_at=local(slot_day(), 10),
        booked_by=front_desk,
    )


def cancel_and_offer(visit, by, now=None):
    cancel_appointment(appointment=visit, reason="Unwell", by=by)
    return offer_freed_slot(
        appointment_id=visit.pk, clinician_id=visit.clinician_id, starts_at=visit.starts_at, now=now
    )


# --- asking --------------------------------------------------------------------------------------


def test_asking_twice_keeps_one_waiting_entry(schedule, front_desk):
    first = waiting(1, schedule, front_desk, last_session_on=None)

    again = join_waitlist(patient=first.patient, by=front_desk)

    assert again == first
    assert WaitlistEntry.objects.count() == 1


def test_the_database_holds_one_waiting_entry_per_patient(schedule, front_desk):
    entry = waiting(1, schedule, front_desk, last_session_on=None)

    with pytest.raises(IntegrityError), transaction.atomic():
        WaitlistEntry.objects.create(patient=entry.patient, location=schedule, asked_by=front_desk)


def test_a_withdrawn_patient_is_offered_nothing(schedule, front_desk, freed):
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    assert leave_waitlist(patient=entry.patient)

    assert cancel_and_offer(freed, front_desk) == []


# --- who is offered the slot ---------------------------------------------------------------------


def test_a_slot_is_offered_only_to_patients_past_their_minimum_interval_on_its_date(
    schedule, front_desk, freed
):
    day = slot_day()
    on_the_day = waiting(1, schedule, front_desk, last_session_on=eligible_on(day))
    waiting(2, schedule, front_desk, last_session_on=eligible_on(day, -1))  # one day short

    offers = cancel_and_offer(freed, front_desk)

    assert [offer.entry for offer in offers] == [on_the_day]


def test_a_slot_is_offered_only_to_patients_with_consent_on_a_channel(schedule, front_desk, freed):
    day = slot_day()
    by_sms = waiting(1, schedule, front_desk, last_session_on=eligible_on(day), consent="sms")
    waiting(2, schedule, front_desk, last_session_on=eligible_on(day), consent=None)
    revoked = waiting(3, schedule, front_desk, last_session_on=eligible_on(day))
    ContactConsent.objects.create(
        patient=revoked.patient, channel="email", granted=False, source="portal"
    )

    offers = cancel_and_offer(freed, front_desk)

    assert [offer.entry for offer in offers] == [by_sms]


def test_a_slot_is_not_offered_to_a_patient_busy_then_or_booked_earlier(
    schedule, clinician, front_desk, freed
):
    day = slot_day()
    busy = waiting(1, schedule, front_desk, last_session_on=eligible_on(day))
    earlier = waiting(2, schedule, front_desk, last_session_on=eligible_on(day, 10))
    book_appointment(
        patient=earlier.patient,
        clinician=clinician,
        location=schedule,
        starts_at=local(day, 9),
        booked_by=front_desk,
    )
    later = waiting(3, schedule, front_desk, last_session_on=eligible_on(day, 5))
    book_appointment(
        patient=later.patient,
        clinician=clinician,
        location=schedule,
        starts_at=local(day + datetime.timedelta(days=14), 9),
        booked_by=front_desk,
    )

    # the busy patient's clash: a review with another clinician overlapping the slot
    Appointment.objects.create(
        patient=busy.patient,
        clinician=make_user("other", User.Role.CLINICIAN),
        location=schedule,
        starts_at=local(day, 10, 15),
        ends_at=local(day, 10, 45),
        kind=Appointment.Kind.REVIEW,
        booked_by=front_desk,
    )
    entries = eligible_entries(
        location=schedule, starts_at=local(day, 10), ends_at=local(day, 10, 30)
    )

    assert list(entries) == [later]


def test_the_most_overdue_are_offered_first_and_at_most_n(schedule, front_desk, freed, settings):
    settings.WAITLIST_OFFERS_PER_SLOT = 2
    day = slot_day()
    least = waiting(1, schedule, front_desk, last_session_on=eligible_on(day, 1))
    most = waiting(2, schedule, front_desk, last_session_on=eligible_on(day, 30))
    middle = waiting(3, schedule, front_desk, last_session_on=eligible_on(day, 10))

    offers = cancel_and_offer(freed, front_desk)

    assert [offer.entry for offer in offers] == [most, middle]
    assert least.offers.count() == 0


def test_offering_the_same_slot_twice_makes_no_second_offer(schedule, front_desk, freed):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    cancel_and_offer(freed, front_desk)

    again = offer_freed_slot(
        appointment_id=freed.pk, clinician_id=freed.clinician_id, starts_at=freed.starts_at
    )

    assert again == []
    assert SlotOffer.objects.count() == 1
    assert Reminder.objects.filter(kind=Reminder.Kind.SLOT_OFFER).count() == 1


def test_a_slot_less_than_the_notice_away_is_not_offered(schedule, front_desk, freed):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)

    offers = offer_freed_slot(
        appointment_id=freed.pk,
        clinician_id=freed.clinician_id,
        starts_at=freed.starts_at,
        now=freed.starts_at - datetime.timedelta(minutes=59),
    )

    assert offers == []


def test_a_slot_no_longer_free_on_the_rota_is_not_offered(schedule, clinician, front_desk, freed):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)
    book_appointment(  # the desk gave the slot to someone else meanwhile
        patient=make_patient(91, location=schedule),
        clinician=clinician,
        location=schedule,
        starts_at=freed.starts_at,
        booked_by=front_desk,
    )

    offers = offer_freed_slot(
        appointment_id=freed.pk, clinician_id=freed.clinician_id, starts_at=freed.starts_at
    )

    assert offers == []


# --- the hooks -----------------------------------------------------------------------------------


def test_cancelling_a_visit_asks_for_its_slot_to_be_offered_after_commit(
    schedule, front_desk, freed, monkeypatch, django_capture_on_commit_callbacks
):
    asked = []
    monkeypatch.setattr("treatments.services.freed_slots._enqueue", asked.append)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)

    [[appointment_id, clinician_id, starts_at, location_id]] = asked
    assert (appointment_id, clinician_id, location_id) == (
        freed.pk,
        freed.clinician_id,
        schedule.pk,
    )
    assert datetime.datetime.fromisoformat(starts_at) == freed.starts_at


def test_moving_a_visit_asks_for_its_old_slot_to_be_offered_after_commit(
    schedule, front_desk, freed, monkeypatch, django_capture_on_commit_callbacks
):
    asked = []
    monkeypatch.setattr("treatments.services.freed_slots._enqueue", asked.append)
    old = freed.starts_at

    with django_capture_on_commit_callbacks(execute=True):
        reschedule_appointment(appointment=freed, starts_at=local(slot_day(), 14), by=front_desk)

    [[appointment_id, clinician_id, starts_at, location_id]] = asked
    assert (appointment_id, clinician_id, location_id) == (
        freed.pk,
        freed.clinician_id,
        schedule.pk,
    )
    assert datetime.datetime.fromisoformat(starts_at) == old


def test_a_visit_moved_to_another_location_frees_its_slot_where_it_was(
    schedule, front_desk, freed, harbour, monkeypatch, django_capture_on_commit_callbacks
):
    from treatments.tasks import offer_freed_slot_task

    # Given a patient waiting at the visit's first location, and the visit moved to Harbour
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    asked = []
    monkeypatch.setattr("treatments.services.freed_slots._enqueue", asked.append)
    old = freed.starts_at
    with django_capture_on_commit_callbacks(execute=True):
        reschedule_appointment(
            appointment=freed,
            starts_at=london(slot_day(), 15, 30),
            clinician=harbour.injector,
            location=harbour,
            by=front_desk,
        )

    # When the task runs with what the hook gave it
    [args] = asked
    assert offer_freed_slot_task(*args) == 1

    # Then the freed slot is offered where it was, not where the visit went
    offer = SlotOffer.objects.get()
    assert (offer.entry, offer.location, offer.starts_at) == (entry, schedule, old)


def test_a_review_visit_frees_no_slot_for_the_waitlist(
    schedule, clinician, front_desk, monkeypatch, django_capture_on_commit_callbacks
):
    asked = []
    monkeypatch.setattr("treatments.services.freed_slots._enqueue", asked.append)
    review = book_appointment(
        patient=make_patient(5, location=schedule),
        clinician=clinician,
        location=schedule,
        starts_at=local(slot_day(), 11),
        booked_by=front_desk,
        kind=Appointment.Kind.REVIEW,
    )

    with django_capture_on_commit_callbacks(execute=True):
        slot_freed(review)

    assert asked == []


def test_the_task_offers_the_slot_of_a_moved_visit(schedule, front_desk, freed):
    from treatments.tasks import offer_freed_slot_task

    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    old = freed.starts_at
    reschedule_appointment(appointment=freed, starts_at=local(slot_day(), 14), by=front_desk)

    made = offer_freed_slot_task(freed.pk, freed.clinician_id, old.isoformat())
    again = offer_freed_slot_task(freed.pk, freed.clinician_id, old.isoformat())

    assert (made, again) == (1, 0)
    offer = SlotOffer.objects.get()
    assert (offer.entry, offer.starts_at, offer.freed_by) == (entry, old, freed)


# --- the message ---------------------------------------------------------------------------------


def test_an_offer_is_a_message_in_the_outbox_with_a_claim_link(client, schedule, front_desk, freed):
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    ContactConsent.objects.create(
        patient=entry.patient, channel="sms", granted=True, source="written"
    )
    [offer] = cancel_and_offer(freed, front_desk)

    rows = Reminder.objects.filter(offer=offer).order_by("channel")
    assert [(r.kind, r.channel, r.status) for r in rows] == [
        ("slot_offer", "email", "pending"),
        ("slot_offer", "sms", "pending"),
    ]
    sms = render_message(rows[1])
    purpose, link = signed_link_behind(client, sms.body, f"Claim by {offer_expiry(offer)}")
    assert purpose == "offer"
    assert read_link_token(link, purpose="offer") == {"offer_id": offer.pk}
    assert entry.patient.first_name not in sms.body
    assert entry.patient.last_name not in sms.body
    assert "Botox" not in sms.body


def offer_expiry(offer) -> str:
    return f"{offer.expires_at.astimezone(offer.location.zone):%H:%M}"


def test_the_offer_message_is_sent_by_the_dispatcher(schedule, front_desk, freed, mailoutbox):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    noon = local(slot_day() - datetime.timedelta(days=2), 12)  # out of the quiet hours
    cancel_and_offer(freed, front_desk, now=noon)
    a_minute_later = noon + datetime.timedelta(minutes=1)

    [(reminder_id, token)] = dispatch_due_reminders(now=a_minute_later)
    outcome = send_reminder(reminder_id=reminder_id, claim_token=token, now=a_minute_later)

    assert outcome == "sent"
    assert "/r/offer/" in mailoutbox[0].body


def test_an_expired_offer_message_is_skipped(schedule, front_desk, freed):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    [offer] = cancel_and_offer(freed, front_desk)
    later = offer.expires_at + datetime.timedelta(minutes=1)

    [(reminder_id, token)] = dispatch_due_reminders(now=later)
    outcome = send_reminder(reminder_id=reminder_id, claim_token=token, now=later)

    assert outcome == "skipped"
    assert Reminder.objects.get(pk=reminder_id).skip_reason == "The offer has expired."


def test_an_offer_is_open_while_offered_and_before_its_time_in_sql_as_in_python(
    schedule, front_desk, freed
):
    day = slot_day()
    waiting(1, schedule, front_desk, last_session_on=eligible_on(day, 2))
    waiting(2, schedule, front_desk, last_session_on=eligible_on(day, 1))
    open_one, taken = cancel_and_offer(freed, front_desk)
    SlotOffer.objects.filter(pk=taken.pk).update(status=SlotOffer.Status.TAKEN)
    taken.refresh_from_db()
    second = datetime.timedelta(seconds=1)

    for now, expected in (
        (open_one.expires_at - second, [open_one]),
        (open_one.expires_at, []),  # its last moment is past
    ):
        assert list(SlotOffer.objects.open(now)) == expected
        assert [o for o in (open_one, taken) if o.is_open(now)] == expected
    assert open_one.state(open_one.expires_at - second) == "open"
    assert open_one.state(open_one.expires_at) == "expired"


# --- claiming ------------------------------------------------------------------------------------


def test_the_first_claim_books_the_slot_and_the_others_are_taken(schedule, front_desk, freed):
    day = slot_day()
    first = waiting(1, schedule, front_desk, last_session_on=eligible_on(day, 3))
    second = waiting(2, schedule, front_desk, last_session_on=eligible_on(day, 2))
    a, b = cancel_and_offer(freed, front_desk)

    won = claim_offer(offer_id=a.pk)
    lost = claim_offer(offer_id=b.pk)

    assert won.state == "claimed"
    assert won.appointment.starts_at == freed.starts_at
    assert won.appointment.patient == first.patient
    assert lost.state == "taken"
    first.refresh_from_db(), second.refresh_from_db()
    assert (first.status, second.status) == ("booked", "waiting")
    b.refresh_from_db()
    assert b.status == "taken"


def test_a_claim_moves_the_patients_booked_visit_instead_of_booking_a_second(
    schedule, clinician, front_desk, freed
):
    day = slot_day()
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(day))
    later = book_appointment(
        patient=entry.patient,
        clinician=clinician,
        location=schedule,
        starts_at=local(day + datetime.timedelta(days=21), 9),
        booked_by=front_desk,
    )
    [offer] = cancel_and_offer(freed, front_desk)

    result = claim_offer(offer_id=offer.pk)

    assert result.state == "claimed"
    assert result.appointment.pk == later.pk
    [visit] = Appointment.objects.active().filter(patient=entry.patient)
    assert (visit.starts_at, visit.sequence) == (freed.starts_at, 1)


def test_an_expired_offer_cannot_be_claimed_and_the_patient_keeps_waiting(
    schedule, front_desk, freed
):
    entry = waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    [offer] = cancel_and_offer(freed, front_desk)

    result = claim_offer(offer_id=offer.pk, now=offer.expires_at)

    assert result.state == "expired"
    offer.refresh_from_db(), entry.refresh_from_db()
    assert (offer.status, entry.status) == ("expired", "waiting")
    assert not Appointment.objects.active().filter(patient=entry.patient).exists()


def test_the_database_holds_one_claim_per_slot(schedule, front_desk, freed):
    day = slot_day()
    waiting(1, schedule, front_desk, last_session_on=eligible_on(day))
    waiting(2, schedule, front_desk, last_session_on=eligible_on(day))
    a, b = cancel_and_offer(freed, front_desk)
    SlotOffer.objects.filter(pk=a.pk).update(status="claimed", claimed_at=a.offered_at)

    with pytest.raises(IntegrityError), transaction.atomic():
        SlotOffer.objects.filter(pk=b.pk).update(status="claimed", claimed_at=b.offered_at)


def test_the_link_page_shows_the_offer_and_a_claim_books_it(schedule, front_desk, freed, client):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    [offer] = cancel_and_offer(freed, front_desk)
    url = reverse("links:offer", args=[make_link_token(purpose="offer", offer_id=offer.pk)])

    shown = client.get(url)
    claimed = client.post(url)
    again = client.post(url)

    assert shown.status_code == 200
    assert b"Claim this appointment" in shown.content
    assert b"Riverside Clinic" in shown.content
    assert claimed.status_code == 200
    assert b"The appointment is yours" in claimed.content
    assert again.status_code == 200  # a second tap replays harmlessly
    assert Appointment.objects.active().filter(starts_at=freed.starts_at).count() == 1


def test_a_bad_offer_link_is_a_400(client):
    bad = client.get(reverse("links:offer", args=["not-a-token"]))
    wrong_purpose = client.get(
        reverse("links:offer", args=[make_link_token(purpose="confirm", appointment_id=1)])
    )

    assert (bad.status_code, wrong_purpose.status_code) == (400, 400)


# --- twenty claims at once -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_claims_at_once_of_one_slot_book_it_once(
    schedule, front_desk, freed, live_server, settings
):
    # Given one freed slot offered to twenty waiting patients
    settings.WAITLIST_OFFERS_PER_SLOT = 20
    entries = [
        waiting(n, schedule, front_desk, last_session_on=eligible_on(slot_day(), n))
        for n in range(1, 21)
    ]
    offers = cancel_and_offer(freed, front_desk)
    assert len(offers) == 20
    links = [
        reverse("links:offer", args=[make_link_token(purpose="offer", offer_id=offer.pk)])
        for offer in offers
    ]
    browsers = [LiveSession(live_server) for _ in links]  # each page open in its own browser
    for browser, link in zip(browsers, links, strict=True):
        assert browser.get(link)[0] == 200

    # When all twenty claim it at the same moment, through the web server
    def claim(browser, link):
        status, _, body = browser.post(link)
        return status, body

    results = at_once([partial(claim, *pair) for pair in zip(browsers, links, strict=True)])

    # Then one booking; nineteen are told "already taken" (200) and stay on the list
    assert [status for status, _ in results] == [200] * 20, [s for s, _ in results]
    won = [body for _, body in results if "The appointment is yours" in body]
    taken = [body for _, body in results if "Sorry, already taken" in body]
    assert (len(won), len(taken)) == (1, 19)
    [booked] = Appointment.objects.active().filter(starts_at=freed.starts_at)
    assert SlotOffer.objects.filter(status="claimed").count() == 1
    assert SlotOffer.objects.filter(status="taken").count() == 19
    statuses = sorted(WaitlistEntry.objects.values_list("status", flat=True))
    assert statuses == ["booked"] + ["waiting"] * 19
    assert booked.patient_id in {entry.patient_id for entry in entries}


# --- the pages -----------------------------------------------------------------------------------


def test_a_patient_asks_for_an_earlier_slot_in_the_portal_and_withdraws(patient_a, client):
    client.force_login(patient_a.user)
    url = reverse("portal:waitlist")

    joined = client.post(url, {"action": "join"}, follow=True)
    entry = WaitlistEntry.objects.get(patient=patient_a)
    left = client.post(url, {"action": "leave"}, follow=True)

    assert b"You are on the waiting list" in joined.content
    assert (entry.status, entry.asked_by) == ("waiting", patient_a.user)
    assert b"You are no longer on the waiting list" in left.content
    entry.refresh_from_db()
    assert entry.status == "withdrawn"


def test_the_portal_page_lists_the_patients_open_offers_with_their_links(
    schedule, patient_a, front_desk, freed, client
):
    TreatmentCourse.objects.create(
        patient=patient_a, started_on=datetime.date(2025, 1, 1), last_session_on=None
    )
    ContactConsent.objects.create(patient=patient_a, channel="sms", granted=True, source="portal")
    join_waitlist(patient=patient_a, by=patient_a.user)
    [offer] = cancel_and_offer(freed, front_desk)
    client.force_login(patient_a.user)

    page = client.get(reverse("portal:waitlist"))

    assert b"Offers open to you now" in page.content
    token = re.search(rb"/r/offer/([^/]+)/", page.content).group(1).decode()
    assert read_link_token(token, purpose="offer") == {"offer_id": offer.pk}


@pytest.mark.parametrize("action", ["", "JOIN", "drop table", "join\x00"])
def test_an_unknown_waitlist_action_is_a_400(patient_a, front_desk, client, action):
    client.force_login(patient_a.user)
    portal = client.post(reverse("portal:waitlist"), {"action": action})
    client.force_login(front_desk)
    desk = client.post(
        reverse("treatments:waitlist_patient", args=[patient_a.pk]), {"action": action}
    )

    assert (portal.status_code, desk.status_code) == (400, 400)
    assert not WaitlistEntry.objects.exists()


def test_the_front_desk_puts_a_patient_on_the_waitlist_from_the_patient_page(
    patient_a, front_desk, client
):
    client.force_login(front_desk)
    detail = reverse("patients:detail", args=[patient_a.pk])

    before = client.get(detail)
    client.post(reverse("treatments:waitlist_patient", args=[patient_a.pk]), {"action": "join"})
    after = client.get(detail)

    assert b"Ask for an earlier slot" in before.content
    assert b"On the waitlist for an earlier slot since" in after.content
    assert WaitlistEntry.objects.get().asked_by == front_desk


def test_the_waitlist_page_shows_each_offer_and_its_outcome(schedule, front_desk, freed, client):
    day = slot_day()
    waiting(1, schedule, front_desk, last_session_on=eligible_on(day, 2))
    waiting(2, schedule, front_desk, last_session_on=eligible_on(day, 1))
    a, b = cancel_and_offer(freed, front_desk)
    claim_offer(offer_id=a.pk)
    client.force_login(front_desk)

    page = client.get(reverse("treatments:waitlist"), {"show": "offers"})

    assert page.status_code == 200
    rows = re.findall(r'<span class="badge[^"]*">([^<]+)</span>', page.content.decode())
    assert rows == ["Claimed", "Taken by another"] or rows == ["Taken by another", "Claimed"]


@pytest.mark.parametrize("show", ["waiting", "offers"])
def test_the_waitlist_page_reads_a_constant_number_of_queries(
    schedule, clinician, front_desk, client, django_assert_max_num_queries, show
):
    client.force_login(front_desk)
    url = reverse("treatments:waitlist")
    day = slot_day()

    def add(start: int, count: int) -> None:
        for n in range(start, start + count):
            entry = waiting(n, schedule, front_desk, last_session_on=eligible_on(day))
            SlotOffer.objects.create(
                entry=entry,
                clinician=clinician,
                location=schedule,
                starts_at=local(day, 9),
                ends_at=local(day, 9, 30),
                slot_key=f"test|{n}",
                expires_at=local(day, 9),
            )

    add(1, 2)
    client.get(url, {"show": show})  # warm the session and the caches
    with django_assert_max_num_queries(12) as few:
        client.get(url, {"show": show})
    add(10, 20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(url, {"show": show})

    assert page.content.count(b"Family") >= 22


@pytest.mark.parametrize("show", ["", "x" * 5000, "<script>", "-1"])
def test_a_hostile_show_parameter_is_the_default_list(front_desk, client, show):
    client.force_login(front_desk)

    page = client.get(reverse("treatments:waitlist"), {"show": show, "page": show})

    assert page.status_code == 200
    assert b'id="waitlist"' in page.content


def test_a_nul_in_the_query_is_refused_with_a_400(front_desk, client):
    client.force_login(front_desk)

    page = client.get(reverse("treatments:waitlist"), {"show": "offers\x00"})

    assert page.status_code == 400


# --- expiry, the broker, a real worker -----------------------------------------------------------


def test_an_offer_made_in_the_quiet_hours_is_open_from_their_end(schedule, front_desk, freed):
    waiting(1, schedule, front_desk, last_session_on=eligible_on(slot_day()))
    night = local(slot_day() - datetime.timedelta(days=2), 23)

    [offer] = cancel_and_offer(freed, front_desk, now=night)

    morning = local(slot_day() - datetime.timedelta(days=1), 8)
    assert offer.expires_at == morning + datetime.timedelta(minutes=120)


def test_a_broker_refusing_the_offer_task_does_not_undo_the_cancellation(
    schedule, front_desk, freed, monkeypatch, django_capture_on_commit_callbacks
):
    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr("celery.current_app.send_task", refuse)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(appointment=freed, reason="Unwell", by=front_desk)

    freed.refresh_from_db()
    assert freed.status == "cancelled"


def test_a_cancellation_becomes_an_offer_through_a_real_worker(
    celery_worker_process, clinician, front_desk, location, settings
):
    # Given a waiting patient, and a visit on the rota, with a worker on the broker
    from treatments.models import InjectorDay, OpeningHours

    for weekday in range(5):
        OpeningHours.objects.create(
            location=location, weekday=weekday, opens=datetime.time(9), closes=datetime.time(17)
        )
        InjectorDay.objects.create(clinician=clinician, location=location, weekday=weekday)
    settings.CELERY_REMINDERS_QUEUE = celery_worker_process.queue
    entry = waiting(1, location, front_desk, last_session_on=eligible_on(slot_day()))
    visit = book_appointment(
        patient=make_patient(90, location=location),
        clinician=clinician,
        location=location,
        starts_at=local(slot_day(), 10),
        booked_by=front_desk,
    )
    celery_worker_process.wait_ready()

    # When the visit is cancelled (and the transaction commits)
    cancel_appointment(appointment=visit, reason="Unwell", by=front_desk)

    # Then the worker offers its slot to the waiting patient, with a message in the outbox
    offer = wait_until(lambda: SlotOffer.objects.filter(entry=entry).first(), timeout=60)
    assert (offer.starts_at, offer.freed_by_id) == (visit.starts_at, visit.pk)
    assert Reminder.objects.filter(offer=offer, kind="slot_offer").exists()
