"""Re-planning every booked visit's reminders at once gives the rows that booking the visits one
at a time gives (treatments/services/reminder_planning.py)."""

import datetime
import io
import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import Location
from patients.models import ContactConsent
from tests.conftest import fresh_vials, make_patient, make_user, session_input
from treatments.models import Appointment, Reminder, TreatmentCourse
from treatments.services import record_session, reminder_planning, sign_session
from treatments.services.reminder_planning import (
    PlanningFailed,
    _latest_consents,
    replan_all_checkin_reminders,
    replan_all_due_reminders,
    replan_all_visit_reminders,
)
from treatments.services.reminders import plan_due_reminder, plan_visit_reminders

# The clock is pinned here: Monday 1 March 2027, 10:00 in New York. The fixed dates below are
# chosen around it: US daylight saving time starts on 14 March 2027, the UK's on 28 March,
# and Sydney's ends on 4 April.
NOW = datetime.datetime(2027, 3, 1, 15, 0, tzinfo=datetime.UTC)
ZONES = {
    "New York": "America/New_York",
    "London": "Europe/London",
    "Sydney": "Australia/Sydney",
    "Kolkata": "Asia/Kolkata",  # no daylight saving time
}
# Which channels each patient consents to, cycled over the visits. "sms revoked": granted
# SMS, then revoked it (the latest record counts).
CONSENTS = [
    {"email": True, "sms": True},
    {"email": True},
    {"sms": True},
    {},
    {"email": True, "sms": False},
]


def record_consent_at(patient, channel: str, granted: bool, *, days_ago: int) -> None:
    ContactConsent.objects.create(
        patient=patient,
        channel=channel,
        granted=granted,
        source="written",
        recorded_at=NOW - datetime.timedelta(days=days_ago),
    )


def give_consents(patient, n: int) -> None:
    """The n-th of CONSENTS (cycled), recorded 10 days before NOW; a revoked channel was
    granted 30 days before NOW, so the latest record is the one that must count."""
    for channel, granted in CONSENTS[n % len(CONSENTS)].items():
        if granted is False:
            record_consent_at(patient, channel, True, days_ago=30)
        record_consent_at(patient, channel, granted, days_ago=10)


# (location, local start, sequence, status): booked visits ahead, and others that get nothing.
VISITS = [
    ("New York", (2027, 3, 22, 10, 0), 0, "booked"),  # both reminders ahead
    ("New York", (2027, 3, 21, 10, 0), 0, "booked"),  # a week before: the day DST starts
    ("New York", (2027, 3, 15, 2, 30), 0, "booked"),  # the day before at 02:30: no such time
    ("New York", (2027, 3, 16, 7, 0), 0, "booked"),  # both in quiet hours: moved to 08:00
    ("New York", (2027, 3, 16, 22, 0), 0, "booked"),  # late evening: the next morning
    ("New York", (2027, 3, 5, 11, 0), 0, "booked"),  # the week reminder is late
    ("New York", (2027, 3, 2, 10, 0), 0, "booked"),  # the day before is exactly now: late
    ("New York", (2027, 3, 1, 10, 30), 0, "booked"),  # today, both late
    ("New York", (2027, 3, 23, 11, 0), 2, "booked"),  # moved twice
    ("New York", (2027, 3, 24, 9, 0), 0, "cancelled"),
    ("New York", (2027, 2, 26, 9, 0), 0, "noshow"),
    ("New York", (2027, 2, 25, 9, 0), 0, "fulfilled"),
    ("New York", (2027, 3, 1, 9, 0), 0, "arrived"),
    ("New York", (2027, 2, 24, 9, 0), 0, "booked"),  # in the past: nothing
    ("New York", (2027, 3, 1, 9, 30), 0, "booked"),  # started half an hour ago: nothing
    ("London", (2027, 4, 4, 9, 0), 1, "booked"),  # a week before: the day BST starts
    ("London", (2027, 3, 29, 1, 30), 0, "booked"),  # the day before at 01:30 GMT: quiet
    ("London", (2027, 3, 8, 16, 30), 0, "booked"),
    ("Sydney", (2027, 4, 5, 2, 30), 0, "booked"),  # the day before at 02:30: twice that night
    ("Sydney", (2027, 4, 11, 14, 0), 3, "booked"),
    ("Kolkata", (2027, 3, 10, 9, 30), 0, "booked"),
    ("Kolkata", (2027, 3, 3, 20, 45), 0, "booked"),  # the day before is late, the week too
]


@pytest.fixture
def visits(db, time_machine):
    """The visits above, each for its own patient (consents cycled), one clinician per
    location, written directly (no reminders planned)."""
    time_machine.move_to(NOW, tick=False)
    desk = make_user("desk", "front_desk")
    places = {}
    for n, (name, zone) in enumerate(ZONES.items()):
        places[name] = (
            Location.objects.create(
                name=name, address=f"{n} High Street", phone="+12125550142", time_zone=zone
            ),
            make_user(f"clinician-{n}", "clinician"),
        )
    made = []
    for n, (place, (y, mo, d, h, mi), sequence, status) in enumerate(VISITS):
        location, clinician = places[place]
        patient = make_patient(100 + n)
        give_consents(patient, n)
        starts_at = datetime.datetime(y, mo, d, h, mi, tzinfo=zoneinfo.ZoneInfo(location.time_zone))
        made.append(
            Appointment.objects.create(
                patient=patient,
                location=location,
                clinician=clinician,
                booked_by=desk,
                starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(minutes=30),
                sequence=sequence,
                status=status,
                cancel_reason="The patient asked." if status == "cancelled" else "",
            )
        )
    return made


def snapshot() -> set[tuple]:
    return set(
        Reminder.objects.values_list(
            "subject_key",
            "kind",
            "channel",
            "due_at",
            "status",
            "skip_reason",
            "patient_id",
            "appointment_id",
            "course_id",
        )
    )


def plan_one_at_a_time(visits) -> None:
    for visit in visits:
        if visit.status == "booked" and visit.starts_at > NOW:
            with transaction.atomic():
                plan_visit_reminders(appointment=Appointment.objects.get(pk=visit.pk), now=NOW)


def test_planning_in_bulk_writes_the_rows_booking_one_visit_at_a_time_writes(visits):
    # Given the reminders planned one visit at a time, then thrown away
    plan_one_at_a_time(visits)
    one_at_a_time = snapshot()
    Reminder.objects.all().delete()

    # When every visit is planned in bulk, three visits per batch
    result = replan_all_visit_reminders(now=NOW, batch_size=3)

    # Then the rows are the same, two for each booked visit still ahead
    ahead = [v for v in visits if v.status == "booked" and v.starts_at > NOW]
    assert snapshot() == one_at_a_time
    assert len(one_at_a_time) == 2 * len(ahead) == result.inserted == result.rows
    assert result.appointments == len(ahead)
    assert result.batches == -(-len(ahead) // 3)


def test_without_quiet_hours_bulk_and_booking_agree_on_hours_the_clock_skips_or_repeats(
    visits, settings
):
    # Given no quiet hours, so that a reminder may fall at 02:30 on the night New York's clocks
    # skip that hour, and on the night Sydney's clocks pass 02:30 twice (the first pass counts)
    settings.QUIET_HOURS_START, settings.QUIET_HOURS_END = 24, 0
    plan_one_at_a_time(visits)
    one_at_a_time = snapshot()
    Reminder.objects.all().delete()

    # When every visit is planned in bulk
    replan_all_visit_reminders(now=NOW)

    # Then the rows are booking's, those two included
    assert snapshot() == one_at_a_time
    sydney = visits[18]
    repeated = Reminder.objects.get(appointment=sydney, kind="visit_tomorrow").due_at
    assert repeated == datetime.datetime(2027, 4, 3, 15, 30, tzinfo=datetime.UTC)  # 02:30 +11


def test_planning_in_bulk_leaves_cancelled_missed_finished_and_past_visits_alone(visits):
    replan_all_visit_reminders(now=NOW)

    planned = set(Reminder.objects.values_list("appointment_id", flat=True))
    for visit in visits:
        expected = visit.status == "booked" and visit.starts_at > NOW
        assert (visit.pk in planned) is expected, (visit.status, visit.starts_at)


def test_planning_in_bulk_moves_times_out_of_quiet_hours_and_skips_late_ones(visits):
    replan_all_visit_reminders(now=NOW)

    def rows(index):
        visit = visits[index]
        return {
            r.kind: r
            for r in Reminder.objects.filter(subject_key=f"appointment:{visit.pk}:{visit.sequence}")
        }

    new_york = zoneinfo.ZoneInfo("America/New_York")
    # 02:30 on the night the clocks go forward is in quiet hours: 08:00 (EDT) that morning
    assert rows(2)["visit_tomorrow"].due_at == datetime.datetime(2027, 3, 14, 8, tzinfo=new_york)
    # A week before a 10:00 visit is 10:00 local, across the change of offset
    assert rows(1)["visit_week"].due_at == datetime.datetime(2027, 3, 14, 10, tzinfo=new_york)
    # 22:00 the day before: the visit day's 08:00
    assert rows(4)["visit_tomorrow"].due_at == datetime.datetime(2027, 3, 16, 8, tzinfo=new_york)
    # The week reminder of a visit four days ahead is skipped, the day-before one pending
    assert rows(5)["visit_week"].status == "skipped"
    assert rows(5)["visit_week"].skip_reason == "Its time had passed when it was planned."
    assert rows(5)["visit_tomorrow"].status == "pending"
    # Due exactly now counts as passed
    assert rows(6)["visit_tomorrow"].due_at == NOW
    assert rows(6)["visit_tomorrow"].status == "skipped"
    # A moved visit's rows carry its sequence
    assert set(rows(8)) == {"visit_week", "visit_tomorrow"}


def test_the_day_before_goes_by_sms_with_sms_consent_else_by_email(visits):
    replan_all_visit_reminders(now=NOW)

    channel = dict(
        Reminder.objects.filter(kind="visit_tomorrow").values_list("appointment_id", "channel")
    )
    # Visits 0-4 cycle through: both, email only, SMS only, none, SMS revoked
    assert [channel[visits[n].pk] for n in range(5)] == ["sms", "email", "sms", "sms", "email"]
    assert set(Reminder.objects.filter(kind="visit_week").values_list("channel", flat=True)) == {
        "email"
    }


def test_planning_in_bulk_twice_changes_nothing(visits):
    replan_all_visit_reminders(now=NOW)
    first = list(Reminder.objects.order_by("pk").values())

    again = replan_all_visit_reminders(now=NOW, batch_size=2)

    assert again.inserted == 0
    assert again.rows == len(first)
    assert list(Reminder.objects.order_by("pk").values()) == first


def test_a_reminder_already_there_is_left_as_it_is(visits):
    # Given one visit's day-before reminder already sent, and its week one cancelled
    visit = visits[0]
    plan_visit_reminders(appointment=visit, now=NOW)
    sent_at = NOW - datetime.timedelta(hours=1)
    Reminder.objects.filter(appointment=visit, kind="visit_tomorrow").update(
        status="sent", sent_at=sent_at, attempts=1, provider_message_id="reminder-x"
    )
    Reminder.objects.filter(appointment=visit, kind="visit_week").update(
        status="cancelled", skip_reason="Stopped by hand."
    )
    before = list(Reminder.objects.filter(appointment=visit).order_by("pk").values())

    # When everything is planned in bulk
    result = replan_all_visit_reminders(now=NOW)

    # Then those rows are unchanged and not doubled; the other visits got theirs
    assert list(Reminder.objects.filter(appointment=visit).order_by("pk").values()) == before
    assert result.inserted == result.rows - 2
    assert Reminder.objects.count() == result.rows


def test_the_queries_per_batch_do_not_grow_with_the_visits(visits):
    ahead = [v for v in visits if v.status == "booked" and v.starts_at > NOW]

    with CaptureQueriesContext(connection) as few:
        replan_all_visit_reminders(now=NOW + datetime.timedelta(days=20), batch_size=1000)
    Reminder.objects.all().delete()
    with CaptureQueriesContext(connection) as many:
        replan_all_visit_reminders(now=NOW, batch_size=1000)

    assert Reminder.objects.count() == 2 * len(ahead)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(many.captured_queries) <= 10


def test_the_command_plans_and_prints_its_counts(visits):
    out = io.StringIO()

    call_command("plan_reminders", "--batch-size", "4", stdout=out)

    ahead = sum(1 for v in visits if v.status == "booked" and v.starts_at > NOW)
    assert Reminder.objects.count() == 2 * ahead
    assert f"Planned {ahead} booked visits" in out.getvalue()
    assert f"{2 * ahead} new reminders, 0 already there" in out.getvalue()


def test_inside_a_transaction_planning_stays_on_its_own_connection(visits):
    # Given the caller's transaction (this test's), whose rows no other connection can see
    plan_one_at_a_time(visits)
    one_at_a_time = snapshot()
    Reminder.objects.all().delete()

    # When planning is asked to use two connections
    result = replan_all_visit_reminders(now=NOW, batch_size=2, connections=2)

    # Then it plans every visit on this one
    assert result.connections == 1
    assert snapshot() == one_at_a_time


@pytest.mark.django_db(transaction=True)
def test_planning_on_two_connections_writes_the_rows_booking_one_visit_at_a_time_writes(visits):
    # Given the reminders planned one visit at a time, then thrown away; no transaction around
    plan_one_at_a_time(visits)
    one_at_a_time = snapshot()
    Reminder.objects.all().delete()

    # When every visit is planned in bulk on two connections, two visits per batch
    result = replan_all_visit_reminders(now=NOW, batch_size=2, connections=2)

    # Then the rows are the same, each once (on SQLite, one connection plans them all)
    ahead = [v for v in visits if v.status == "booked" and v.starts_at > NOW]
    assert result.connections == (2 if connection.vendor == "postgresql" else 1)
    assert snapshot() == one_at_a_time
    assert Reminder.objects.count() == 2 * len(ahead) == result.inserted == result.rows
    assert (result.appointments, result.batches) == (len(ahead), -(-len(ahead) // 2))

    # And planning again on two connections writes nothing
    again = replan_all_visit_reminders(now=NOW, batch_size=2, connections=2)
    assert (again.inserted, again.rows) == (0, 2 * len(ahead))
    assert snapshot() == one_at_a_time


def fail_the_batch_of(visit, monkeypatch) -> None:
    """Make planning the batch that holds `visit` fail, as a lost connection would."""
    plan = reminder_planning._plan_visits

    def failing(after, last, **kwargs):
        if after < visit.pk <= last:
            raise DatabaseError("the connection was lost")
        return plan(after, last, **kwargs)

    monkeypatch.setattr(reminder_planning, "_plan_visits", failing)


@pytest.mark.parametrize("connections", [1, 2])
@pytest.mark.django_db(transaction=True)
def test_a_failing_batch_is_rolled_back_alone_and_reported(visits, monkeypatch, connections):
    # Given the planning of the second batch of three visits fails
    ahead = sorted(
        (v for v in visits if v.status == "booked" and v.starts_at > NOW), key=lambda v: v.pk
    )
    fail_the_batch_of(ahead[4], monkeypatch)

    # When every visit is planned in bulk
    with pytest.raises(PlanningFailed) as raised:
        replan_all_visit_reminders(now=NOW, batch_size=3, connections=connections)

    # Then the failure names that batch's ids and the last id handed out
    result = raised.value.result
    assert result.failed == [(ahead[2].pk, ahead[5].pk, "DatabaseError: the connection was lost")]
    assert result.stopped_after is not None
    assert result.stopped_after >= ahead[5].pk
    assert f"({ahead[2].pk}, {ahead[5].pk}]" in str(raised.value)
    # And its visits have no rows; every other visit handed out has both, and the counts
    # say so; no visit after the last one handed out was tried
    planned = set(Reminder.objects.values_list("appointment_id", flat=True))
    done = {v.pk for v in ahead[:3] + ahead[6:] if v.pk <= result.stopped_after}
    assert planned == done
    assert (result.appointments, result.inserted) == (len(done), 2 * len(done))

    # And planning again once the fault is gone plans the rest, as booking would
    monkeypatch.undo()
    replan_all_visit_reminders(now=NOW, batch_size=3, connections=connections)
    bulk = snapshot()
    Reminder.objects.all().delete()
    plan_one_at_a_time(visits)
    assert bulk == snapshot()


def test_the_command_reports_a_failing_batch_and_fails(visits, monkeypatch):
    ahead = sorted(
        (v for v in visits if v.status == "booked" and v.starts_at > NOW), key=lambda v: v.pk
    )
    fail_the_batch_of(ahead[0], monkeypatch)
    out, err = io.StringIO(), io.StringIO()

    with pytest.raises(CommandError, match="run the command again"):
        call_command("plan_reminders", "--batch-size", "4", stdout=out, stderr=err)

    assert "Planned 0 booked visits in 0 batches" in out.getvalue()
    assert f"Visits with ids in (0, {ahead[3].pk}] not planned: DatabaseError" in err.getvalue()


@pytest.mark.parametrize("option", ["--batch-size", "--connections"])
def test_the_command_refuses_fewer_than_one(db, option):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("plan_reminders", option, "0")


class _Undo(Exception):
    pass


CONSENT_HISTORY = st.lists(
    st.tuples(
        st.sampled_from(["email", "sms"]),
        st.booleans(),
        st.integers(min_value=0, max_value=3),  # days ago: ties on the time are likely
    ),
    max_size=6,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=CONSENT_HISTORY)
def test_the_latest_consent_is_read_as_the_patient_reads_it(patient_a, history):
    try:
        with transaction.atomic():
            for channel, granted, days in history:
                record_consent_at(patient_a, channel, granted, days_ago=days)
            latest = _latest_consents({patient_a.pk})
            patient = type(patient_a).objects.get(pk=patient_a.pk)
            for channel in ("email", "sms"):
                assert latest.get((patient_a.pk, channel)) == patient.consents_to(channel)
            raise _Undo
    except _Undo:
        pass


def test_new_settings_move_unsent_reminders_only_when_asked(visits, settings):
    # Given every visit planned, and one visit's day-before reminder already sent
    replan_all_visit_reminders(now=NOW)
    sent = Reminder.objects.filter(appointment=visits[0], kind="visit_tomorrow")
    sent.update(status="sent", sent_at=NOW)
    before = snapshot()

    # When the week reminder becomes a three-day one, a plain re-plan moves nothing
    settings.REMINDER_VISIT_EMAIL_DAYS = 3
    assert replan_all_visit_reminders(now=NOW).inserted == 0
    assert snapshot() == before

    # Then replacing the unsent ones (pending, or skipped as late) plans them as a booking
    # under the new setting would, and the sent one stays as it was
    result = replan_all_visit_reminders(now=NOW, replace_pending=True)
    replanned = snapshot()
    kept = Reminder.objects.get(appointment=visits[0], kind="visit_tomorrow")
    assert (kept.status, kept.sent_at) == ("sent", NOW)
    unsent = sum(1 for row in before if row[4] in ("pending", "skipped"))
    assert result.replaced == unsent > 0
    Reminder.objects.exclude(pk=kept.pk).delete()
    plan_one_at_a_time(visits)
    assert snapshot() == replanned
    week = Reminder.objects.get(appointment=visits[0], kind="visit_week")
    assert week.due_at == visits[0].starts_at - datetime.timedelta(days=3)


# (usual location or None, last session given, course status): the courses' "due, not booked"
# reminders, due at 10:00 local on day 70 after the last session.
COURSES = [
    ("New York", datetime.date(2027, 1, 3), "active"),  # due on the day DST starts
    ("London", datetime.date(2027, 2, 10), "active"),
    ("Sydney", datetime.date(2027, 1, 25), "active"),  # due the day Sydney's DST ends
    ("Kolkata", datetime.date(2026, 11, 1), "active"),  # due in January: late, skipped
    (None, datetime.date(2027, 2, 1), "active"),  # no usual location: the server's zone
    ("New York", datetime.date(2027, 2, 1), "paused"),  # paused: nothing
    ("London", None, "active"),  # no session given yet: nothing
]


@pytest.fixture
def courses(db, time_machine):
    """The courses above, each for its own patient (consents cycled), written directly (no
    reminders planned)."""
    time_machine.move_to(NOW, tick=False)
    places = {
        name: Location.objects.create(
            name=name, address=f"{n} High Street", phone="+12125550142", time_zone=zone
        )
        for n, (name, zone) in enumerate(ZONES.items())
    }
    made = []
    for n, (place, last_session_on, status) in enumerate(COURSES):
        patient = make_patient(300 + n, location=places[place] if place else None)
        give_consents(patient, n)
        course = TreatmentCourse.objects.create(
            patient=patient,
            started_on=datetime.date(2026, 6, 1),
            status=status,
            status_reason="" if status == "active" else "The patient asked for a break.",
        )
        TreatmentCourse.objects.filter(pk=course.pk).update(last_session_on=last_session_on)
        course.refresh_from_db()
        made.append(course)
    return made


def test_planning_due_reminders_in_bulk_writes_the_rows_signing_writes(courses):
    # Given each active course's reminder planned as signing its last session plans it
    for course in courses:
        if course.status == "active":
            with transaction.atomic():
                plan_due_reminder(course=course, now=NOW)
    one_at_a_time = snapshot()
    Reminder.objects.all().delete()

    # When every course is planned in bulk, two courses per batch
    result = replan_all_due_reminders(now=NOW, batch_size=2)

    # Then the rows are the same: one per active course with a session given
    assert snapshot() == one_at_a_time
    planned = [c for c in courses if c.status == "active" and c.last_session_on]
    assert len(one_at_a_time) == len(planned) == result.inserted == result.courses == 5
    statuses = dict(Reminder.objects.values_list("course_id", "status"))
    assert statuses[courses[3].pk] == "skipped"
    assert statuses[courses[0].pk] == "pending"


def test_planning_due_reminders_in_bulk_keeps_rows_there_and_cancels_older_open_ones(courses):
    # Given a course whose earlier session's reminder is still pending, and another whose
    # current reminder was already sent
    moved, done = courses[0], courses[1]
    earlier = Reminder.objects.create(
        patient=moved.patient,
        course=moved,
        subject_key=f"course:{moved.pk}:2026-10-01",
        kind="due_not_booked",
        channel="email",
        due_at=NOW + datetime.timedelta(days=1),
    )
    plan_due_reminder(course=done, now=NOW)
    Reminder.objects.filter(course=done).update(status="sent", sent_at=NOW)
    sent = list(Reminder.objects.filter(course=done).values())

    # When every course is planned in bulk, twice
    first = replan_all_due_reminders(now=NOW)
    again = replan_all_due_reminders(now=NOW)

    # Then the earlier session's reminder is cancelled, the sent one is as it was
    earlier.refresh_from_db()
    assert (earlier.status, earlier.skip_reason) == ("cancelled", "A newer session was given.")
    assert list(Reminder.objects.filter(course=done).values()) == sent
    assert Reminder.objects.filter(course=moved, status="pending").count() == 1
    assert (first.inserted, first.rows) == (4, 5)
    assert (again.inserted, again.rows) == (0, 5)


def test_planning_a_due_reminder_twice_keeps_it(courses):
    # Given a course whose last session's reminder is planned
    course = courses[0]
    first = plan_due_reminder(course=course, now=NOW)

    # When it is planned again (a second sign-off path, a retry)
    again = plan_due_reminder(course=course, now=NOW)

    # Then it is the same row, still pending
    assert again is not None
    assert first is not None
    assert again.pk == first.pk
    assert Reminder.objects.get(pk=first.pk).status == "pending"
    assert Reminder.objects.filter(course=course).count() == 1


# (location, days before NOW the session was given): the post-injection check-ins, due at 10:00
# local ten days after, in the session's zone.
SESSIONS = [
    ("New York", 2),  # due on 9 March, before US daylight saving time starts
    ("London", 5),
    ("Sydney", 0),  # given on 2 March, local (02:00): due on 12 March
    ("Kolkata", 10),  # due today at 10:00 Kolkata, 20:30 there now: late, skipped
    ("New York", 30),  # long past: signing records it skipped; planning in bulk leaves it out
]


@pytest.fixture
def signed(db, time_machine):
    """The sessions above, each for its own patient (consents cycled), signed."""
    time_machine.move_to(NOW, tick=False)
    clinician = make_user("checkin-clinician", "clinician")
    made = []
    for n, (name, days) in enumerate(SESSIONS):
        place = Location.objects.create(
            name=f"{name} {n}", address="1 High Street", phone="+12125550142", time_zone=ZONES[name]
        )
        patient = make_patient(400 + n, location=place)
        give_consents(patient, n)
        when = NOW - datetime.timedelta(days=days)
        data = session_input(place, when=when, vials=fresh_vials(when))
        session = record_session(patient=patient, injector=clinician, data=data)
        made.append(sign_session(session=session, user=clinician, acknowledged=[]))
    return made


def checkins() -> set[tuple]:
    return set(
        Reminder.objects.filter(kind="checkin").values_list(
            "subject_key", "channel", "due_at", "status", "skip_reason", "patient_id", "session_id"
        )
    )


def test_planning_checkins_in_bulk_writes_the_rows_signing_writes(signed):
    # Given each session's check-in as signing it planned it
    one_at_a_time = checkins()
    old = signed[-1]
    Reminder.objects.filter(kind="checkin").delete()

    # When every recent session's check-in is planned in bulk, two sessions per batch, twice
    result = replan_all_checkin_reminders(now=NOW, batch_size=2)
    again = replan_all_checkin_reminders(now=NOW, batch_size=2)

    # Then the rows are signing's, but the long-past session's (signing skipped it as late)
    assert checkins() == {row for row in one_at_a_time if row[-1] != old.pk}
    assert (result.sessions, result.inserted, again.inserted) == (4, 4, 0)
    statuses = dict(Reminder.objects.filter(kind="checkin").values_list("session_id", "status"))
    assert statuses == {
        signed[0].pk: "pending",
        signed[1].pk: "pending",
        signed[2].pk: "pending",
        signed[3].pk: "skipped",
    }
    by_session = {r.session_id: r for r in Reminder.objects.filter(kind="checkin")}
    assert by_session[signed[0].pk].due_at == datetime.datetime(
        2027, 3, 9, 10, tzinfo=zoneinfo.ZoneInfo("America/New_York")
    )
    assert by_session[signed[2].pk].due_at == datetime.datetime(
        2027, 3, 12, 10, tzinfo=zoneinfo.ZoneInfo("Australia/Sydney")
    )


def test_the_command_plans_the_checkins_too(signed):
    Reminder.objects.filter(kind="checkin").delete()
    out = io.StringIO()
    call_command("plan_reminders", stdout=out)
    assert "Planned 4 recent signed sessions' check-ins: 4 new" in out.getvalue()


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="EXPLAIN plans and the indexes are PostgreSQL's"
)


@postgresql_only
def test_queries_by_patient_and_by_course_read_the_indexes_that_replaced_theirs(db):
    # Given 100,000 sent reminders for 20 patients, one in a thousand with a course
    patients = [make_patient(n) for n in range(20)]
    courses = [
        TreatmentCourse.objects.create(patient=p, started_on=datetime.date(2026, 6, 1))
        for p in patients
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO treatments_reminder (patient_id, course_id, subject_key, kind, "
            "channel, due_at, status, attempts, claim_token, last_error, skip_reason, "
            "provider_message_id, created_at) "
            "SELECT (%s::bigint[])[1 + n %% 20], "
            "CASE WHEN n %% 1000 = 0 THEN (%s::bigint[])[1 + n %% 20] END, "
            "'subject:' || n, 'visit_week', 'email', now() + n * interval '1 minute', "
            "'sent', 1, '', '', '', '', now() FROM generate_series(1, 100000) AS n",
            [[p.pk for p in patients], [c.pk for c in courses]],
        )
        cursor.execute("ANALYZE treatments_reminder")

    def plan(queryset) -> str:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())

    # When a course's "due" rows and a patient's sent SMS are looked up, then each reads its
    # index: the partial one on course (only rows with a course), the SMS cap's on patient
    by_course = plan(Reminder.objects.filter(course=courses[3], kind="due_not_booked"))
    assert "reminder_course_idx" in by_course
    sms = plan(
        Reminder.objects.filter(patient=patients[3], channel="sms", status="sent").order_by()
    )
    assert "reminder_sms_cap_idx" in sms
    assert "Seq Scan on treatments_reminder" not in by_course + sms
