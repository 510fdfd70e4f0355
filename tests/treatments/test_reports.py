"""Issue 16, items 4 and 5: the clinic report and the billing export, on a fixture clinic whose
every figure is computed by hand in the comments below.

The fixture clinic (every date fixed, in 2026, before every instant CI runs the suite at; the
report's range is May 2026 unless a test says otherwise):

Riverside (New York, UTC-4 in May) and Thames (London, UTC+1 in May); one injector, Ama Osei.

| patient | at        | sessions (local dates)                             | May's session   |
|---------|-----------|----------------------------------------------------|-----------------|
| P1      | Riverside | c1 02-09; c2 05-04 (84 days: on time), amended:    | on time         |
|         |           | v1 lot LOTA1 (1 x 200 U), v2 lot LOTB2 (2 x 100 U) |                 |
| P2      | Riverside | c1 01-26; c2 05-11 (105 days: late)                | late            |
| P3      | Riverside | c1 03-02; c2 05-18 (77 days: early, with a reason) | early           |
| P4      | Thames    | c1 05-06, 100 U from one 100 U vial (LOTC3): JZ    | first           |
| P5      | Riverside | c1 05-31 23:30 New York (06-01 03:30 UTC)          | first (edge in) |
| P6      | Thames    | c1 05-01 00:30 London (04-30 23:30 UTC)            | first (edge in) |
| P7      | Riverside | c1 04-30 23:30 New York (05-01 03:30 UTC)          | none (edge out) |
| P8      | Riverside | a draft on 05-20, never signed                     | none (a draft)  |

Every session but P4's is 155 U from 200 U drawn (45 U wasted); P4's is 100 U of 100 (JZ).
"""

import csv
import datetime
import io
import zoneinfo
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessEvent
from clinic.models import Location
from patients.models import DiaryEntry
from tests.conftest import make_patient, session_input
from treatments import protocol, rules
from treatments.models import (
    Appointment,
    AppointmentEvent,
    Reminder,
    TreatmentCourse,
    TreatmentSession,
)
from treatments.services import (
    VialInput,
    amend_session,
    check_session,
    record_session,
    sign_session,
)
from treatments.services.reports import (
    BILLING_HEADER,
    REPORTED_REMINDERS,
    ReportRange,
    _in_local_range,
    attendance,
    authorizations_expiring,
    authorizations_for_sessions,
    billing_lines,
    billing_session_ids,
    billing_sessions,
    clinic_report,
    csv_safe,
    last_full_month,
    reminder_outcomes,
    responder_rates,
    session_timing,
    signed_sessions_in,
    units_by_lot,
)

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
LONDON = zoneinfo.ZoneInfo("Europe/London")
MAY = (datetime.date(2026, 5, 1), datetime.date(2026, 5, 31))
EXPIRY = datetime.date(2027, 6, 30)


def at(day: str, hour: int, minute: int = 0, zone=NEW_YORK) -> datetime.datetime:
    return datetime.datetime.combine(
        datetime.date.fromisoformat(day), datetime.time(hour, minute), zone
    )


def vial(lot: str, product: str = "botox_200", count: int = 1) -> list[VialInput]:
    return [VialInput(lot, product, EXPIRY, count)]


def hundred_units() -> list[rules.SiteEntry]:
    """100 U: the fixed sites but trapezius, cervical paraspinal and procerus (11 sites,
    55 U), skipped with a reason."""
    skipped = ("TRA", "CPS", "PRO")
    return [
        rules.SiteEntry(site.code, None, "patient declined")
        if site.code.startswith(skipped)
        else rules.SiteEntry(site.code, protocol.UNITS_PER_SITE)
        for site in protocol.FIXED_SITES
    ]


def give(patient, clinician, location, when, **fields) -> TreatmentSession:
    """A signed session, every warning acknowledged (an early one gives its reason)."""
    data = session_input(location, when=when, **({"vials": vial("LOTA1")} | fields))
    session = record_session(patient=patient, injector=clinician, data=data)
    warnings = [f.rule for f in check_session(session) if f.needs_ack]
    return sign_session(session=session, user=clinician, acknowledged=warnings)


def visit(patient, clinician, location, starts_at, status, **fields) -> Appointment:
    return Appointment.objects.create(
        patient=patient,
        clinician=clinician,
        location=location,
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        status=status,
        booked_by=clinician,
        **fields,
    )


def cancelled(patient, clinician, location, starts_at, *, cancelled_at) -> Appointment:
    appointment = visit(
        patient, clinician, location, starts_at, "cancelled", cancel_reason="Cannot come"
    )
    event = AppointmentEvent.objects.create(appointment=appointment, action="cancelled")
    AppointmentEvent.objects.filter(pk=event.pk).update(at=cancelled_at)
    return appointment


def reminder(patient, key, kind, channel, due_at, status, **fields) -> Reminder:
    return Reminder.objects.create(
        patient=patient,
        subject_key=key,
        kind=kind,
        channel=channel,
        due_at=due_at,
        status=status,
        sent_at=due_at if status == "sent" else None,
        **fields,
    )


def diary(patient, last_day: datetime.date, *, entries: int, headache_days: int) -> None:
    """`entries` daily entries ending on `last_day`, the first `headache_days` with a
    headache."""
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            patient=patient,
            date=last_day - datetime.timedelta(days=n),
            headache=n < headache_days,
            severity=2 if n < headache_days else 0,
        )
        for n in range(entries)
    )


@pytest.fixture
def riverside(location):
    return location


@pytest.fixture
def clinic(riverside, thames, clinician):
    """The fixture clinic of the module's docstring; returns its patients by name."""
    p = {
        "P1": make_patient(11, location=riverside, baseline_headache_days=20),
        "P2": make_patient(12, location=riverside, baseline_headache_days=20),
        "P3": make_patient(13, location=riverside),
        "P4": make_patient(14, location=thames),
        "P5": make_patient(15, location=riverside, last_name="=HYPERLINK(1)"),
        "P6": make_patient(16, location=thames),
        "P7": make_patient(17, location=riverside),
        "P8": make_patient(18, location=riverside),
    }
    sessions = {
        "P1c1": give(p["P1"], clinician, riverside, at("2026-02-09", 10)),
        "P2c1": give(p["P2"], clinician, riverside, at("2026-01-26", 10)),
        "P3c1": give(p["P3"], clinician, riverside, at("2026-03-02", 10)),
    }
    sessions["P1c2"] = give(p["P1"], clinician, riverside, at("2026-05-04", 10))
    sessions["P1c2v2"] = amend_session(
        session=sessions["P1c2"],
        user=clinician,
        data=session_input(
            riverside, when=at("2026-05-04", 10), vials=vial("LOTB2", "botox_100", 2)
        ),
        reason="Wrong lot entered",
    ).new_version
    sessions["P2c2"] = give(p["P2"], clinician, riverside, at("2026-05-11", 10))
    sessions["P3c2"] = give(
        p["P3"], clinician, riverside, at("2026-05-18", 10), early_reason="Travelling"
    )
    sessions["P4c1"] = give(
        p["P4"],
        clinician,
        thames,
        at("2026-05-06", 10, zone=LONDON),
        sites=hundred_units(),
        vials=vial("LOTC3", "botox_100"),
    )
    sessions["P5c1"] = give(p["P5"], clinician, riverside, at("2026-05-31", 23, 30))
    sessions["P6c1"] = give(p["P6"], clinician, thames, at("2026-05-01", 0, 30, zone=LONDON))
    sessions["P7c1"] = give(p["P7"], clinician, riverside, at("2026-04-30", 23, 30))
    sessions["P8draft"] = record_session(
        patient=p["P8"],
        injector=clinician,
        data=session_input(riverside, when=at("2026-05-20", 10), vials=vial("LOTA1")),
    )
    # Signing planned reminders of its own (due, check-in): the reminders below are the only
    # ones the report counts.
    Reminder.objects.all().delete()

    # Visits. May at Riverside: V1 fulfilled, V2 no-show, V3 cancelled 16 h before (late),
    # V4 cancelled 4 days before (not late), V6 at 23:00 on 05-31 (06-01 03:00 UTC: in May
    # there). At Thames: V5 fulfilled; V7 a no-show at 00:30 on 06-01 London (05-31 23:30
    # UTC: June there, out of the range).
    v = {
        "V1": visit(p["P1"], clinician, riverside, at("2026-05-04", 10), "fulfilled"),
        "V2": visit(p["P2"], clinician, riverside, at("2026-05-07", 10), "noshow"),
        "V3": cancelled(
            p["P3"],
            clinician,
            riverside,
            at("2026-05-12", 10),
            cancelled_at=at("2026-05-11", 18),
        ),
        "V4": cancelled(
            p["P2"],
            clinician,
            riverside,
            at("2026-05-14", 10),
            cancelled_at=at("2026-05-10", 9),
        ),
        "V5": visit(p["P4"], clinician, thames, at("2026-05-06", 10, zone=LONDON), "fulfilled"),
        "V6": visit(p["P5"], clinician, riverside, at("2026-05-31", 23), "fulfilled"),
        "V7": visit(p["P6"], clinician, thames, at("2026-06-01", 0, 30, zone=LONDON), "noshow"),
    }

    # Reminders. R1, R2: visit tomorrow by SMS, sent (delivered; undelivered); R3: visit in a
    # week by email, due 04-27 (April: out); R4: visit in a week by email, sent, no receipt;
    # R5: due-not-booked email at 00:30 on 05-01 New York, failed; R6: rebook SMS of P6 (no
    # visit: their location, Thames) at 00:10 on 05-01 London (04-30 23:10 UTC), skipped;
    # R7: rebook SMS of P7 at 23:30 on 04-30 New York (05-01 03:30 UTC), skipped but April
    # there; R8 pending and R9 cancelled are not outcomes.
    reminder(
        p["P1"], "a:1", "visit_tomorrow", "sms", at("2026-05-03", 10), "sent",
        appointment=v["V1"], delivery_status="delivered",
    )  # fmt: skip
    reminder(
        p["P2"], "a:2", "visit_tomorrow", "sms", at("2026-05-06", 10), "sent",
        appointment=v["V2"], delivery_status="undelivered",
    )  # fmt: skip
    reminder(
        p["P1"], "a:3", "visit_week", "email", at("2026-04-27", 10), "sent", appointment=v["V1"]
    )
    reminder(
        p["P2"], "a:4", "visit_week", "email", at("2026-05-07", 10), "sent", appointment=v["V4"]
    )
    reminder(p["P2"], "c:5", "due_not_booked", "email", at("2026-05-01", 0, 30), "failed")
    reminder(
        p["P6"], "n:6", "rebook_noshow", "sms", at("2026-05-01", 0, 10, zone=LONDON), "skipped"
    )
    reminder(p["P7"], "n:7", "rebook_noshow", "sms", at("2026-04-30", 23, 30), "skipped")
    reminder(
        p["P5"], "a:8", "visit_tomorrow", "sms", at("2026-05-30", 23), "pending",
        appointment=v["V6"],
    )  # fmt: skip
    reminder(
        p["P3"], "a:9", "visit_week", "email", at("2026-05-05", 10), "cancelled",
        appointment=v["V3"],
    )  # fmt: skip
    return {**p, **sessions, **v}


def may(location: Location | None = None) -> ReportRange:
    return ReportRange(*MAY, location)


# --- sessions on time, early, late, first -----------------------------------------------------


def test_sessions_of_may_are_counted_by_the_days_since_the_courses_previous_one(
    clinic, riverside, thames
):
    # All: P1 on time (84 days), P2 late (105), P3 early (77), P4, P5, P6 first; P7 is on
    # 04-30 in New York, P8 a draft, P1's first version superseded: 6 sessions.
    timing = session_timing(rng=may())
    assert (timing.total, timing.first, timing.early, timing.on_time, timing.late) == (
        6, 3, 1, 1, 1,
    )  # fmt: skip
    # Riverside: P1, P2, P3, P5. Thames: P4, P6.
    timing = session_timing(rng=may(riverside))
    assert (timing.total, timing.first, timing.early, timing.on_time, timing.late) == (
        4, 1, 1, 1, 1,
    )  # fmt: skip
    timing = session_timing(rng=may(thames))
    assert (timing.total, timing.first, timing.early, timing.on_time, timing.late) == (
        2, 2, 0, 0, 0,
    )  # fmt: skip


def test_day_98_is_on_time_and_day_99_is_late(riverside, clinician):
    # Given two patients whose cycle 2 came 98 and 99 days after cycle 1
    on_98 = make_patient(31, location=riverside)
    on_99 = make_patient(32, location=riverside)
    for patient, days in ((on_98, 98), (on_99, 99)):
        give(patient, clinician, riverside, at("2026-02-02", 10))
        give(patient, clinician, riverside, at("2026-02-02", 10) + datetime.timedelta(days=days))
    # When May is counted (05-11 and 05-12)
    timing = session_timing(rng=may())
    # Then 98 days is on time, 99 late
    assert (timing.total, timing.on_time, timing.late) == (2, 1, 1)


# --- responders after cycle 2 -----------------------------------------------------------------


def test_responders_are_judged_on_the_review_window_as_the_chart_judges_them(clinic):
    # Reviews: P1 (c2 05-04) on 07-27, P2 (c2 05-11) on 08-03, P3 (c2 05-18) on 08-10.
    # P1: intake baseline 20, 8 headache days in the 28 days to 07-27: (20-8)/20 = 60 %.
    diary(clinic["P1"], datetime.date(2026, 7, 27), entries=28, headache_days=8)
    # P2: intake baseline 20, 12 headache days in the 28 days to 08-03: 40 %.
    diary(clinic["P2"], datetime.date(2026, 8, 3), entries=28, headache_days=12)
    # P3: no intake baseline, and 10 entries in the 28 days before cycle 1 (under 20): no
    # baseline, so insufficient data, however good its review window.
    diary(clinic["P3"], datetime.date(2026, 3, 1), entries=10, headache_days=10)
    diary(clinic["P3"], datetime.date(2026, 8, 10), entries=28, headache_days=1)
    # When July to August is counted
    rates = responder_rates(rng=ReportRange(datetime.date(2026, 7, 1), datetime.date(2026, 8, 31)))
    # Then 3 reviewed, 1 without enough data; of the 2 judged, 2 at >= 30 %, 1 at >= 50 %
    assert (rates.reviewed, rates.insufficient, rates.responders_30, rates.responders_50) == (
        3, 1, 2, 1,
    )  # fmt: skip
    assert (rates.rate_30, rates.rate_50) == (Decimal("100.0"), Decimal("50.0"))
    # And the chart says the same of P1 and P2 (its review: the same code, the same window)
    for name, change in (("P1", 60), ("P2", 40)):
        patient = clinic[name]
        review = patient.response_review(
            1,
            first_session_on=clinic[f"{name}c1"].given_on,
            second_session_on=clinic[f"{name}c2"].given_on,
        ).review
        assert review.percent_change == change


def test_a_review_outside_the_range_is_not_counted(clinic):
    diary(clinic["P1"], datetime.date(2026, 7, 27), entries=28, headache_days=8)
    # P1's review is on 07-27: the range to 07-26 has no one, the range from 07-27 has P1
    before = ReportRange(datetime.date(2026, 7, 1), datetime.date(2026, 7, 26))
    assert responder_rates(rng=before).reviewed == 0
    assert responder_rates(rng=ReportRange(datetime.date(2026, 7, 27), MAY[1])).reviewed == 0
    on = ReportRange(datetime.date(2026, 7, 27), datetime.date(2026, 7, 27))
    assert (responder_rates(rng=on).reviewed, responder_rates(rng=on).responders_50) == (1, 1)


# --- visits -------------------------------------------------------------------------------------


def test_no_shows_and_late_cancellations_over_the_visits_of_may(clinic, riverside, thames):
    locations = [riverside, thames]
    # All: V1-V6 (V7 is on 06-01 in London): 6 visits, 1 no-show (V2), 2 cancelled (V3, V4),
    # 1 late (V3, 16 h before; V4 was 4 days before): 1/6 = 16.7 % each.
    counts = attendance(rng=may(), locations=locations)
    assert (counts.visits, counts.no_shows, counts.cancelled, counts.late_cancellations) == (
        6, 1, 2, 1,
    )  # fmt: skip
    assert counts.no_show_rate == counts.late_cancellation_rate == Decimal("16.7")
    # Riverside: V1, V2, V3, V4, V6: 1/5 = 20 %. Thames: V5 alone.
    counts = attendance(rng=may(riverside), locations=locations)
    assert (counts.visits, counts.no_shows, counts.late_cancellations) == (5, 1, 1)
    assert counts.no_show_rate == Decimal("20.0")
    counts = attendance(rng=may(thames), locations=locations)
    assert (counts.visits, counts.no_shows, counts.late_cancellations) == (1, 0, 0)
    assert counts.no_show_rate == Decimal("0.0")


def test_a_cancellation_exactly_at_the_cut_off_is_not_late(riverside, clinician, settings):
    settings.CANCELLATION_CUTOFF_HOURS = 24
    patient = make_patient(41, location=riverside)
    cancelled(
        patient, clinician, riverside, at("2026-05-12", 10), cancelled_at=at("2026-05-11", 10)
    )
    cancelled(
        patient, clinician, riverside, at("2026-05-13", 10), cancelled_at=at("2026-05-12", 10, 1)
    )
    counts = attendance(rng=may(), locations=[riverside])
    assert (counts.cancelled, counts.late_cancellations) == (2, 1)


# --- units by lot and month ---------------------------------------------------------------------


def test_units_by_lot_count_the_amended_version_only(clinic, riverside):
    # LOTA1 (200 U): P2, P3, P5, P6 (P1's first version used it, but it was amended away):
    # 4 vials, 4 x 155 = 620 U given, 4 x 45 = 180 wasted. LOTB2 (100 U): P1's version 2,
    # 2 vials, 155 and 45. LOTC3 (100 U): P4, 100 and 0.
    rows = [
        (u.month, u.product, u.lot_number, u.vials, u.administered, u.wasted)
        for u in units_by_lot(rng=may())
    ]
    first = datetime.date(2026, 5, 1)
    assert rows == [
        (first, "botox_100", "LOTB2", 2, 155, 45),
        (first, "botox_100", "LOTC3", 1, 100, 0),
        (first, "botox_200", "LOTA1", 4, 620, 180),
    ]
    # Riverside: no LOTC3 (P4 is at Thames); LOTA1 for P2, P3, P5
    rows = [(u.lot_number, u.vials, u.administered) for u in units_by_lot(rng=may(riverside))]
    assert rows == [("LOTB2", 2, 155), ("LOTA1", 3, 465)]


def test_units_are_grouped_by_the_month_of_the_sessions_local_date(clinic):
    # February to May: P2 c1 (01-26) is out; P1 c1 02-09, P3 c1 03-02, P7 04-30 (New York)
    rows = [
        (u.month.month, u.lot_number, u.vials)
        for u in units_by_lot(rng=ReportRange(datetime.date(2026, 2, 1), MAY[1]))
    ]
    assert rows == [
        (2, "LOTA1", 1),
        (3, "LOTA1", 1),
        (4, "LOTA1", 1),
        (5, "LOTB2", 2),
        (5, "LOTC3", 1),
        (5, "LOTA1", 4),
    ]


# --- reminders ----------------------------------------------------------------------------------


def test_reminders_of_may_by_kind_and_channel(clinic, riverside, thames):
    locations = [riverside, thames]

    def table(location=None):
        return [
            (m.kind, m.channel, m.sent, m.delivered, m.undelivered, m.failed, m.skipped)
            for m in reminder_outcomes(rng=may(location), locations=locations)
        ]

    # All: R5 failed; R6 skipped (05-01 in London); R1, R2 sent (one delivered, one not);
    # R4 sent. R3 and R7 are April's; R8 pending and R9 cancelled are not outcomes.
    assert table() == [
        ("due_not_booked", "email", 0, 0, 0, 1, 0),
        ("rebook_noshow", "sms", 0, 0, 0, 0, 1),
        ("visit_tomorrow", "sms", 2, 1, 1, 0, 0),
        ("visit_week", "email", 1, 0, 0, 0, 0),
    ]
    assert table(riverside) == [
        ("due_not_booked", "email", 0, 0, 0, 1, 0),
        ("visit_tomorrow", "sms", 2, 1, 1, 0, 0),
        ("visit_week", "email", 1, 0, 0, 0, 0),
    ]
    assert table(thames) == [("rebook_noshow", "sms", 0, 0, 0, 0, 1)]


# --- the due list today ---------------------------------------------------------------------------


def test_overdue_and_lost_are_todays_due_list(clinic, riverside, thames):
    # Today (at any instant the suite runs at) every signed patient's last session is 98 or
    # more days ago and none is lost (84 + 365 days): P1, P2, P3, P4, P5, P7 are overdue;
    # P6 missed a visit since (a no-show, not "overdue"); P8 has only a draft.
    # P9 (last session 100 days ago) is overdue too; P10 (next due 400 days ago) is lost.
    today = timezone.localdate(timezone=NEW_YORK)
    for number, days in ((19, 100), (20, 84 + 400)):
        patient = make_patient(number, location=riverside)
        TreatmentCourse.objects.create(
            patient=patient,
            started_on=today - datetime.timedelta(days=days),
            last_session_on=today - datetime.timedelta(days=days),
        )
    report = clinic_report(rng=may(), locations=[riverside, thames])
    assert (report.due.overdue, report.due.lost) == (7, 1)
    report = clinic_report(rng=may(riverside), locations=[riverside, thames])
    assert (report.due.overdue, report.due.lost) == (6, 1)
    report = clinic_report(rng=may(thames), locations=[riverside, thames])
    assert (report.due.overdue, report.due.lost) == (1, 0)


# --- the billing export ---------------------------------------------------------------------------


def billing(rng: ReportRange) -> list[list[str]]:
    ids = [pk for pk, _ in billing_session_ids(rng=rng)]
    # chunks of 2 sessions: the seams between chunks are crossed
    return [list(BILLING_HEADER), *billing_lines(ids, chunk=2)]


def test_billing_has_one_line_per_signed_session_of_may_cell_by_cell(clinic):
    rows = billing(may())
    assert rows[0] == list(BILLING_HEADER)
    common = ["Ama Osei"]
    assert rows[1:] == [
        # P6 at 00:30 on 05-01 in London (04-30 in UTC): in May
        ["2026-05-01", "MRN-0016", "Family16, Given16", *common, "Thames Clinic"]
        + ["64615", "1", "J0585", "155", "J0585-JW", "45", "LOTA1", "", ""],
        # P1: the amended version only (lot LOTB2, not LOTA1)
        ["2026-05-04", "MRN-0011", "Family11, Given11", *common, "Riverside Clinic"]
        + ["64615", "1", "J0585", "155", "J0585-JW", "45", "LOTB2", "", ""],
        # P4: nothing wasted, JZ
        ["2026-05-06", "MRN-0014", "Family14, Given14", *common, "Thames Clinic"]
        + ["64615", "1", "J0585", "100", "JZ", "", "LOTC3", "", ""],
        ["2026-05-11", "MRN-0012", "Family12, Given12", *common, "Riverside Clinic"]
        + ["64615", "1", "J0585", "155", "J0585-JW", "45", "LOTA1", "", ""],
        ["2026-05-18", "MRN-0013", "Family13, Given13", *common, "Riverside Clinic"]
        + ["64615", "1", "J0585", "155", "J0585-JW", "45", "LOTA1", "", ""],
        # P5 at 23:30 on 05-31 in New York (06-01 in UTC): in May; a name that is a formula
        ["2026-05-31", "MRN-0015", "'=HYPERLINK(1), Given15", *common, "Riverside Clinic"]
        + ["64615", "1", "J0585", "155", "J0585-JW", "45", "LOTA1", "", ""],
    ]
    # P7 (04-30 in New York) and P8's draft are not billed
    assert not {"MRN-0017", "MRN-0018"} & {row[1] for row in rows}


def test_billing_at_one_location_and_a_day_range(clinic, thames):
    # Thames on 05-01 alone: P6
    rows = billing(ReportRange(MAY[0], MAY[0], thames))
    assert [row[1] for row in rows[1:]] == ["MRN-0016"]
    # April 30 everywhere: P7 (23:30 New York)
    day = datetime.date(2026, 4, 30)
    assert [row[1] for row in billing(ReportRange(day, day))[1:]] == ["MRN-0017"]


def test_each_session_bills_the_authorization_covering_its_day_the_renewal_where_two_do(
    clinic, clinician
):
    from treatments.models import PriorAuthorization

    def authorize(patient, payer, reference, valid_from, valid_to):
        PriorAuthorization.objects.create(
            patient=patient,
            payer=payer,
            reference=reference,
            sessions_approved=2,
            units_approved=400,
            valid_from=valid_from,
            valid_to=valid_to,
            created_by=clinician,
        )

    # P6 (given 2026-05-01 at Thames): an old authorization to 05-10 and its renewal from 04-20
    # overlap that day: the renewal is billed. P7 (given 04-30 in New York): one that ended the
    # day before. The others have none.
    authorize(
        clinic["P6"],
        "Old payer",
        "PA-OLD",
        datetime.date(2026, 1, 1),
        MAY[0] + datetime.timedelta(days=9),
    )
    authorize(
        clinic["P6"],
        "Aetna",
        "PA-NEW",
        datetime.date(2026, 4, 20),
        MAY[0] + datetime.timedelta(days=200),
    )
    authorize(clinic["P7"], "Cigna", "PA-7", datetime.date(2026, 1, 1), datetime.date(2026, 4, 29))
    sessions = billing_sessions([pk for pk, _ in billing_session_ids(rng=may())])
    assert len(sessions) == 6
    with CaptureQueriesContext(connection) as queries:
        found = authorizations_for_sessions(sessions)
    assert len(queries) == 1
    p6 = [s.id for s in sessions if s.patient_id == clinic["P6"].pk]
    assert found == dict.fromkeys(p6, ("Aetna", "PA-NEW"))
    day = datetime.date(2026, 4, 30)
    rows = billing(ReportRange(day, day))
    assert [(row[1], row[-2], row[-1]) for row in rows[1:]] == [("MRN-0017", "", "")]


def test_authorizations_ending_in_the_range_are_counted_by_payer_with_those_renewed(
    clinic, clinician, thames
):
    from treatments.models import PriorAuthorization

    def authorize(patient, payer, valid_from, valid_to):
        PriorAuthorization.objects.create(
            patient=patient,
            payer=payer,
            reference="PA",
            sessions_approved=2,
            units_approved=400,
            valid_from=valid_from,
            valid_to=valid_to,
            created_by=clinician,
        )

    day = datetime.date
    authorize(clinic["P6"], "Aetna", day(2026, 1, 1), day(2026, 5, 10))  # Thames: ends in May,
    authorize(clinic["P6"], "Aetna", day(2026, 5, 1), day(2026, 11, 30))  # renewed (ends later)
    authorize(clinic["P1"], "Aetna", day(2026, 1, 1), day(2026, 5, 31))  # Riverside: last day
    authorize(clinic["P2"], "Cigna", day(2026, 1, 1), day(2026, 5, 1))  # Riverside: first day
    authorize(clinic["P7"], "Cigna", day(2026, 1, 1), day(2026, 4, 30))  # ends before May
    authorize(clinic["P8"], "Cigna", day(2026, 1, 1), day(2026, 6, 1))  # ends after May
    # May everywhere: Aetna P6's first and P1's (2, 1 renewed), Cigna P2's (1, none renewed)
    assert [(e.payer, e.expiring, e.renewed) for e in authorizations_expiring(rng=may())] == [
        ("Aetna", 2, 1),
        ("Cigna", 1, 0),
    ]
    assert [(e.payer, e.expiring, e.renewed) for e in authorizations_expiring(rng=may(thames))] == [
        ("Aetna", 1, 1)
    ]


def test_the_billing_export_fills_payer_and_authorization_from_that_function(clinic, monkeypatch):
    from treatments.services import reports

    def fake(sessions):
        return {s.id: ("=Payer", f"AUTH-{s.patient_id}") for s in sessions}

    monkeypatch.setattr(reports, "authorizations_for_sessions", fake)
    rows = billing(may())
    assert [row[-2:] for row in rows[1:2]] == [["'=Payer", f"AUTH-{clinic['P6'].pk}"]]


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+44 20", "'+44 20"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("O'Brien", "O'Brien"),
        ("a=b", "a=b"),
        (155, "155"),
        (None, ""),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_is_quoted(cell, safe):
    assert csv_safe(cell) == safe


# --- the pages ----------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(body.decode())))


def test_the_billing_csv_streams_the_lines_and_audits_each_patient(client, clinic_admin, clinic):
    client.force_login(clinic_admin)
    response = client.get(reverse("treatments:billing_csv") + "?from=2026-05-01&to=2026-05-31")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows == billing(may())
    audited = set(
        AccessEvent.objects.filter(view="treatments:billing_csv", user=clinic_admin).values_list(
            "patient_id", flat=True
        )
    )
    assert audited == {clinic[name].pk for name in ("P1", "P2", "P3", "P4", "P5", "P6")}


def test_a_clinician_reads_reports_but_not_the_billing_export(client, clinician, clinic):
    client.force_login(clinician)
    page = client.get(reverse("treatments:reports") + "?from=2026-05-01&to=2026-05-31")
    assert page.status_code == 200
    assert b'id="billing-csv"' not in page.content
    assert client.get(reverse("treatments:billing_csv")).status_code == 403


def test_the_report_page_shows_the_figures_and_its_csv_says_the_same(
    client, clinic_admin, clinic, riverside, thames
):
    client.force_login(clinic_admin)
    query = f"?location={riverside.pk}&from=2026-05-01&to=2026-05-31"
    page = client.get(reverse("treatments:reports") + query)
    assert page.status_code == 200
    report = page.context["report"]
    assert report == clinic_report(rng=may(riverside), locations=[riverside, thames])
    html = page.content.decode()
    assert "<td>4</td><td>1</td><td>1</td><td>1</td><td>1</td>" in html  # the sessions
    assert 'id="billing-csv"' in html
    rows = read_csv(client.get(reverse("treatments:report_csv") + query))
    assert rows[0] == ["section", "group", "measure", "value"]
    figures = {(section, group, measure): value for section, group, measure, value in rows[1:]}
    assert figures[("sessions", "", "total")] == "4"
    assert figures[("sessions", "", "on_time")] == "1"
    assert figures[("visits", "", "no_show_rate_percent")] == "20.0"
    assert figures[("units", "2026-05 botox_200 LOTA1", "wasted")] == "135"
    assert figures[("reminders", "visit_tomorrow sms", "delivered")] == "1"


def test_the_default_range_is_the_last_full_month_in_the_clinics_zone(
    client, clinician, time_machine
):
    # the view and the test read one pinned clock (a month may end between two reads)
    time_machine.move_to(timezone.now(), tick=False)
    assert last_full_month(datetime.date(2026, 3, 1)) == (
        datetime.date(2026, 2, 1),
        datetime.date(2026, 2, 28),
    )
    assert last_full_month(datetime.date(2027, 1, 31)) == (
        datetime.date(2026, 12, 1),
        datetime.date(2026, 12, 31),
    )
    client.force_login(clinician)
    response = client.get(reverse("treatments:reports"))
    report = response.context["report"]
    today = timezone.localdate()  # TIME_ZONE: the clinic's for all locations
    assert (report.range.start, report.range.end) == last_full_month(today)
    # and the date inputs show that range, not empty boxes
    page = response.content.decode()
    assert f'name="from" value="{report.range.start.isoformat()}"' in page
    assert f'name="to" value="{report.range.end.isoformat()}"' in page


@pytest.mark.parametrize(
    "query",
    [
        "?from=2026-05-31&to=2026-05-01",  # backwards
        "?from=2026-05-01",  # one date alone
        "?from=2025-01-01&to=2026-05-01",  # more than a year
        "?from=9999-12-31&to=9999-12-31",
        "?from=0001-01-01&to=0001-01-02",
        "?from=2026-02-30&to=2026-03-01",
        "?location=99999999999999999999999",
        "?location=x%00y",
        "?from=%00&to=",
    ],
)
def test_a_range_that_is_not_one_is_a_400_never_a_500(client, clinic_admin, location, query):
    client.force_login(clinic_admin)
    page = client.get(reverse("treatments:reports") + query)
    assert page.status_code == 400
    assert "report" not in page.context
    for name in ("report_csv", "billing_csv"):
        assert client.get(reverse(f"treatments:{name}") + query).status_code == 400


def test_the_nav_links_the_reports_for_clinicians_and_the_clinic_admin_only(
    client, clinician, clinic_admin, front_desk
):
    for user, shown in ((clinician, True), (clinic_admin, True), (front_desk, False)):
        client.force_login(user)
        home = client.get(reverse("treatments:due_list"))
        assert (b'id="nav-reports"' in home.content) is shown, user.role


# --- query counts -------------------------------------------------------------------------------

SIZES = [2, 12]
# the login's session and user, the locations; the report: sessions 1, the due list 2,
# responders 2 (cycle-2 sessions, their diaries), visits 1, units 1, reminders 1,
# authorizations ending 1; the session's sliding expiry (3)
REPORT_QUERIES = 15
# the login's session and user, the locations, the sessions' ids, the audit's INSERT, the
# sliding expiry (3); then per chunk of 500 sessions: their rows, their lots and the
# authorizations covering them
BILLING_QUERIES = 11


def more_of_may(count: int, riverside, clinician) -> None:
    """`count` more patients with everything the report reads: a signed cycle 2 in May
    after a cycle 1 in February, a no-show visit, a sent reminder and a diary for the
    review of 07-27..."""
    for n in range(count):
        patient = make_patient(100 + n, location=riverside, baseline_headache_days=20)
        give(patient, clinician, riverside, at("2026-02-09", 11) + datetime.timedelta(days=n))
        second = give(
            patient, clinician, riverside, at("2026-05-04", 11) + datetime.timedelta(days=n)
        )
        seen = visit(patient, clinician, riverside, second.administered_at, "noshow")
        reminder(
            patient, f"s:{n}", "visit_tomorrow", "sms", second.administered_at, "sent",
            appointment=seen,
        )  # fmt: skip
        diary(patient, second.given_on + datetime.timedelta(days=84), entries=28, headache_days=5)


@pytest.mark.parametrize("extra", SIZES)
def test_the_report_needs_as_many_queries_for_12_more_patients_as_for_2(
    client, clinic_admin, clinic, riverside, clinician, extra, django_assert_max_num_queries
):
    more_of_may(extra, riverside, clinician)
    client.force_login(clinic_admin)
    july = "?from=2026-05-01&to=2026-08-31"
    with django_assert_max_num_queries(REPORT_QUERIES):
        page = client.get(reverse("treatments:reports") + july)
    report = page.context["report"]
    assert report.sessions.total == 6 + extra  # P7 is 04-30: out
    assert report.responders.reviewed == 3 + extra


@pytest.mark.parametrize("extra", SIZES)
def test_the_billing_export_needs_as_many_queries_for_12_more_sessions_as_for_2(
    client, clinic_admin, clinic, riverside, clinician, extra, django_assert_max_num_queries
):
    more_of_may(extra, riverside, clinician)
    client.force_login(clinic_admin)
    with django_assert_max_num_queries(BILLING_QUERIES):
        response = client.get(reverse("treatments:billing_csv") + "?from=2026-05-01&to=2026-05-31")
        rows = read_csv(response)  # the stream's queries are counted too
    assert len(rows) == 1 + 6 + extra


# --- the indexes (PostgreSQL's plans) -----------------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="EXPLAIN plans and the indexes are PostgreSQL's"
)


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.fixture
def big_clinic(riverside, thames, clinician):
    """2,000 patients with ten signed sessions each (no sites: a plan reads none), 91 days
    apart from 2024 to 2026 (20,000 sessions, about 650 in May 2026), and a visit and a
    reminder on each session's day (20,000 each)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO patients_patient (mrn, first_name, last_name, date_of_birth, sex, email,
                phone, address, status, location_id, primary_clinician_id, baseline_headache_days,
                baseline_migraine_days, preventives_failed, preventives_notes, diagnosis_code,
                created_at, updated_at)
            SELECT 'B-' || n, 'Given', 'Family' || n, DATE '1980-01-01', 'female', '', '', '',
                'active', CASE WHEN n %% 2 = 0 THEN %s ELSE %s END, %s, 20, NULL, NULL, '', '',
                now(), now()
            FROM generate_series(1, 2000) AS n
            """,
            [riverside.pk, thames.pk, clinician.pk],
        )
        cursor.execute(
            """
            INSERT INTO treatments_treatmentcourse (patient_id, started_on, interval_days,
                min_interval_days, status, status_reason, last_session_on, created_at)
            SELECT id, DATE '2024-01-01', 84, 84, 'active', '', NULL, now()
            FROM patients_patient WHERE mrn LIKE 'B-%%'
            """
        )
        cursor.execute(
            """
            INSERT INTO treatments_treatmentsession (patient_id, course_id, cycle_number,
                location_id, injector_id, administered_at, given_on, reconstituted_at,
                diluent_ml, total_units, units_wasted, consent, other_toxin_units,
                early_reason, extra_vial_reason, under_18_reason, acknowledged, notes, status,
                voided_reason, version, created_at, updated_at)
            SELECT c.patient_id, c.id, k, p.location_id, %s, day + TIME '15:00', day,
                day + TIME '14:40', 4.0, 0, 0, 'course', 0, '', '', '', '[]'::jsonb, '',
                'draft', '', 1, now(), now()
            FROM treatments_treatmentcourse c
            JOIN patients_patient p ON p.id = c.patient_id, generate_series(1, 10) AS k,
                LATERAL (SELECT DATE '2024-01-03' + (k * 91 + c.id::int %% 60) AS day) AS d
            """,
            [clinician.pk],
        )
        # signed as the app signs: a draft first (the database's guard)
        cursor.execute(
            "UPDATE treatments_treatmentsession SET status = 'signed', signed_at = now(), "
            "signed_by_id = %s",
            [clinician.pk],
        )
        cursor.execute(
            """
            INSERT INTO treatments_appointment (patient_id, location_id, clinician_id,
                starts_at, ends_at, kind, status, booked_by_id, booked_at,
                early_override_reason, cancel_reason, change_request, sequence)
            SELECT s.patient_id, s.location_id, %s, s.administered_at + s.id * INTERVAL '1 s',
                s.administered_at + s.id * INTERVAL '1 s' + INTERVAL '1 minute', 'injection',
                'fulfilled', %s, now(), '', '', '', 0
            FROM treatments_treatmentsession s
            """,
            [clinician.pk, clinician.pk],
        )
        cursor.execute(
            """
            INSERT INTO treatments_reminder (patient_id, appointment_id, subject_key, kind,
                channel, due_at, status, attempts, claim_token, last_error, skip_reason,
                sent_at, provider_message_id, delivery_status, delivery_error, created_at)
            SELECT a.patient_id, a.id, 'big:' || a.id, 'visit_tomorrow', 'sms',
                a.starts_at - INTERVAL '1 day', 'sent', 1, '', '', '',
                a.starts_at - INTERVAL '1 day', '', 'delivered', '', now()
            FROM treatments_appointment a
            """
        )
        cursor.execute("ANALYZE")


@postgresql_only
def test_the_reports_read_a_month_of_a_big_clinic_through_indexes(big_clinic, riverside, thames):
    # Given 20,000 sessions, visits and reminders over five years
    locations = [riverside, thames]
    for rng in (may(), may(riverside)):
        # When a month's sessions are read (the timing, the units, the billing export)
        sessions = plan(signed_sessions_in(rng))
        # Then the partial index of signed sessions by local date serves them
        assert "session_signed_day_idx" in sessions, sessions
        assert "Seq Scan on treatments_treatmentsession" not in sessions, sessions
        # And the month's visits are read on an index of their start: each location's
        # (location, starts_at), or the month of (starts_at, id) when all are asked for
        visits = plan(
            Appointment.objects.filter(_in_local_range("starts_at", "location", rng, locations))
        )
        assert "appt_location_start_idx" in visits or "appt_order_idx" in visits, visits
        assert "Seq Scan on treatments_appointment" not in visits, visits
        # And the month's reminders on (status, due_at)
        reminders = plan(
            Reminder.objects.filter(
                status__in=REPORTED_REMINDERS,
                due_at__gte=at("2026-05-01", 0, zone=LONDON),
                due_at__lt=at("2026-06-01", 0),
            )
        )
        assert "reminder_dispatch_idx" in reminders, reminders
        assert "Seq Scan on treatments_reminder" not in reminders, reminders
