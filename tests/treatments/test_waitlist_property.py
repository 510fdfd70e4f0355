"""The waitlist's offers, against an oracle written apart from them: over random rotas, opening
hours, closures, leave, visits and waiting patients, at two locations in two time zones, over
weeks that cross both zones' spring DST change, `offer_freed_slot` offers a freed slot only if
it is still free on the clinician's rota (on the location's grid, inside its hours, outside
every closure of the location and leave of the clinician, clear of the clinician's active
visits, at least the notice ahead), and then to exactly the first WAITLIST_OFFERS_PER_SLOT
waiting patients at that location who are active, on an active course past their earliest
date on the slot's local day, free then, without an injection visit booked at or before it,
and consented on a channel: most overdue first (no session yet last), then who asked first.

Every date derives from one fixed anchor, not from today; the offering's clock is passed in."""

import datetime
import zoneinfo

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clinic.models import Location, User
from patients.models import ContactConsent, Patient
from tests.conftest import make_patient, make_user
from treatments.models import (
    Appointment,
    Closure,
    InjectorDay,
    OpeningHours,
    Reminder,
    SlotOffer,
    TreatmentCourse,
    WaitlistEntry,
)
from treatments.services.waitlist import offer_freed_slot

# Monday 8 March 2027: New York springs forward on the 14th, London on the 28th.
ANCHOR = datetime.date(2027, 3, 8)
DAYS = 24
ZONES = ("Europe/London", "America/New_York")
CLINICIANS = 3
WAITING = 12  # patients who may be on the list
OTHERS = 4  # patients whose visits only keep clinicians busy
NOTICE = datetime.timedelta(minutes=60)  # WAITLIST_MIN_NOTICE_MINUTES
MINUTE = datetime.timedelta(minutes=1)
CHANNELS = ("email", "sms")


@pytest.fixture
def world(db):
    """Two locations and the people; each example sets hours, rota, closures, visits, the
    waiting list and the freed slot."""
    locations = [
        Location.objects.create(name=f"Clinic {n}", time_zone=zone) for n, zone in enumerate(ZONES)
    ]
    clinicians = [make_user(f"dr{n}", User.Role.CLINICIAN) for n in range(CLINICIANS)]
    # the waiting, the others, the freed visit's patient, the one keeping its clinician busy;
    # and a clinician off the rota, who sees a waiting patient at the slot's time
    patients = [make_patient(800 + n) for n in range(WAITING + OTHERS + 2)]
    clinicians.append(make_user("visiting", User.Role.CLINICIAN))
    return locations, clinicians, patients, make_user("desk", User.Role.FRONT_DESK)


hours_of_day = st.lists(st.integers(6 * 4, 20 * 4), min_size=2, max_size=4, unique=True).map(
    sorted
)  # quarter hours: pairs of them make non-overlapping blocks
time_of_day = st.integers(0, 24 * 4 - 1).map(lambda q: datetime.time(q // 4, q % 4 * 15))

closure = st.fixed_dictionaries(
    {
        "owner": st.tuples(st.sampled_from(["location", "clinician"]), st.integers(0, 2)),
        "day": st.integers(-1, DAYS),
        "from_time": st.none() | time_of_day,
        "to_time": st.none() | time_of_day,
    }
).filter(lambda c: not (c["from_time"] and c["to_time"]) or c["from_time"] < c["to_time"])

visit = st.fixed_dictionaries(
    {
        "clinician": st.integers(0, CLINICIANS - 1),
        "location": st.integers(0, 1),
        "day": st.integers(-1, DAYS),
        "start": st.integers(6 * 12, 20 * 12).map(lambda f: datetime.time(f // 12, f % 12 * 5)),
        "minutes": st.sampled_from([10, 15, 30, 45, 60, 90]),
        "active": st.booleans(),
        "kind": st.sampled_from(["injection", "review"]),
    }
)

# a waiting patient's visit, around the freed slot (days from its day, quarter hours from its
# time), with the clinician who is on no rota
near_visit = st.fixed_dictionaries(
    {
        "days": st.sampled_from([-3, -1, 0, 0, 0, 0, 0, 1]),
        "quarters": st.integers(-6, 6),
        "minutes": st.sampled_from([15, 30, 60]),
        "active": st.sampled_from([True, True, False]),
        "kind": st.sampled_from(["injection", "review", "review"]),
    }
)

waiting_patient = st.fixed_dictionaries(
    {
        "at_slot": st.sampled_from([True, True, False]),  # waiting where the slot is, or not
        "entry": st.sampled_from(["waiting"] * 6 + ["withdrawn", None]),
        "discharged": st.sampled_from([False] * 9 + [True]),
        "course": st.sampled_from(["active"] * 9 + ["paused"]),
        # the earliest date, in days from the slot's local day (None: no session yet)
        "earliest": st.none() | st.integers(-3, 2),
        "min_interval": st.sampled_from([84, 90]),
        "interval": st.sampled_from([84, 91]),
        # per channel, the consent records in order (the latest is the current one)
        "consents": st.tuples(
            *[st.lists(st.sampled_from([True, True, False]), max_size=2) for _ in CHANNELS]
        ),
        "visit": st.none() | near_visit | near_visit,
    }
)

example = st.fixed_dictionaries(
    {
        "slot_minutes": st.tuples(st.sampled_from([15, 20, 30, 45]), st.sampled_from([15, 30])),
        "hours": st.lists(st.lists(hours_of_day, min_size=7, max_size=7), min_size=2, max_size=2),
        # per clinician and weekday: no location (one day in seven), or which one
        "rota": st.lists(
            st.lists(st.sampled_from([None, 0, 1, 0, 1, 0, 1]), min_size=7, max_size=7),
            min_size=CLINICIANS,
            max_size=CLINICIANS,
        ),
        "closures": st.lists(closure, max_size=6),
        "waiting": st.lists(waiting_patient, min_size=WAITING, max_size=WAITING),
        "others": st.lists(visit, max_size=OTHERS),
        # the freed visit: its clinician and day, and its slot in an opening block (or a few
        # minutes off the grid); whose it was (a waiting patient's, or another's)
        "freed": st.fixed_dictionaries(
            {
                "clinician": st.integers(0, CLINICIANS - 1),
                "day": st.integers(0, DAYS - 1),
                "location": st.integers(0, 1),
                "block": st.integers(0, 1),
                "k": st.integers(0, 60),
                "off_grid": st.sampled_from([0] * 7 + [5]),
                "by": st.none() | st.integers(0, WAITING - 1),
                # or on the day of the first closure, or of the first other visit (with its
                # clinician): so that closures, leave and visits often meet the slot
                "near": st.sampled_from([None, None, None, "closure", "visit"]),
                # around the slot, in quarter hours from its start: a closure of its location
                # or leave of its clinician, a visit of its clinician, a waiting patient's visit
                "closure": st.none()
                | st.none()
                | st.none()
                | st.fixed_dictionaries(
                    {
                        "owner": st.sampled_from(["location", "clinician"]),
                        "from": st.none() | st.integers(-8, 4),
                        "to": st.none() | st.integers(-4, 8),
                    }
                ),
                "busy": st.none()
                | st.none()
                | st.none()
                | st.tuples(st.integers(-6, 4), st.sampled_from([15, 30, 60])),
            }
        ),
        # from the day before the freed slots' first day to its fifth day
        "now": st.integers(-24 * 60, 4 * 24 * 60).map(lambda m: m * MINUTE),
        "per_slot": st.sampled_from([1, 2, 3, 5, 5]),
        # whether the waiting patient first in line (by their attributes) sees another
        # clinician across the slot's start
        "patient_busy": st.booleans(),
    }
)


def blocks(quarters):
    """[(opens, closes)] from sorted quarter-hour boundaries, taken in pairs."""
    times = [datetime.time(q // 4, q % 4 * 15) for q in quarters]
    return list(zip(times[::2], times[1::2], strict=False))


def wall(day, time):
    return datetime.datetime.combine(day, time)


def setup(world, data):
    """Write the example's world; return what the oracle needs."""
    locations, clinicians, patients, desk = world
    for location, minutes in zip(locations, data["slot_minutes"], strict=True):
        location.slot_minutes = minutes
        location.save()
    hours = {}
    for n, location in enumerate(locations):
        for weekday, quarters in enumerate(data["hours"][n]):
            hours[n, weekday] = blocks(quarters)
            OpeningHours.objects.bulk_create(
                OpeningHours(location=location, weekday=weekday, opens=o, closes=c)
                for o, c in hours[n, weekday]
            )
    rota = {}
    for c, days in enumerate(data["rota"]):
        for weekday, at in enumerate(days):
            if at is not None:
                rota[c, weekday] = at
                InjectorDay.objects.create(
                    clinician=clinicians[c], location=locations[at], weekday=weekday
                )
    busy = {c: [] for c in range(CLINICIANS)}  # (start, end) instants of active visits
    visits = {}  # patient index: (kind, start, end) of their active visit
    for i, item in enumerate(data["others"], start=WAITING):
        zone = locations[item["location"]].zone
        starts_at = datetime.datetime.combine(
            ANCHOR + datetime.timedelta(days=item["day"]), item["start"], zone
        )
        ends_at = starts_at + item["minutes"] * MINUTE
        mine = busy[item["clinician"]]
        if item["active"] and any(s < ends_at and e > starts_at for s, e in mine):
            continue  # the database refuses a double booking: such a world cannot exist
        Appointment.objects.create(
            patient=patients[i],
            clinician=clinicians[item["clinician"]],  # (the others' visits)
            location=locations[item["location"]],
            starts_at=starts_at,
            ends_at=ends_at,
            kind=item["kind"],
            status="booked" if item["active"] else "cancelled",
            cancel_reason="" if item["active"] else "Changed plans",
            booked_by=desk,
        )
        if item["active"]:
            mine.append((starts_at, ends_at))
    # the waiting list, in order of asking: most of it where the slot will be freed, their
    # visits around it
    _, day, n, start = freed_slot(data)
    visiting = []  # the active visits of the clinician on no rota
    across = {"days": 0, "quarters": -1, "minutes": 30, "active": True, "kind": "review"}
    busy_one = first_in_line(data, day) if data["patient_busy"] else None
    for i, item in enumerate(data["waiting"]):
        near = across if i == busy_one else item["visit"]
        if near is None:
            continue
        starts_at = (
            start + datetime.timedelta(days=near["days"]) + near["quarters"] * 15 * MINUTE
        ).replace(tzinfo=locations[n].zone)
        ends_at = starts_at + near["minutes"] * MINUTE
        if near["active"] and any(s < ends_at and e > starts_at for s, e in visiting):
            continue  # the database refuses a double booking
        Appointment.objects.create(
            patient=patients[i],
            clinician=clinicians[-1],
            location=locations[n],
            starts_at=starts_at,
            ends_at=ends_at,
            kind=near["kind"],
            status="booked" if near["active"] else "cancelled",
            cancel_reason="" if near["active"] else "Changed plans",
            booked_by=desk,
        )
        if near["active"]:
            visiting.append((starts_at, ends_at))
            visits[i] = (near["kind"], starts_at, ends_at)
    entries = {}  # patient index: entry
    for i, item in enumerate(data["waiting"]):
        patient = patients[i]
        if item["discharged"]:
            Patient.objects.filter(pk=patient.pk).update(status=Patient.Status.DISCHARGED)
        last = last_session(item, day)
        TreatmentCourse.objects.create(
            patient=patient,
            started_on=datetime.date(2025, 1, 1),
            status=item["course"],
            status_reason="" if item["course"] == "active" else "Pregnancy",
            last_session_on=last,
            min_interval_days=item["min_interval"],
            interval_days=item["interval"],
        )
        for channel, records in zip(CHANNELS, item["consents"], strict=True):
            for granted in records:
                ContactConsent.objects.create(
                    patient=patient, channel=channel, granted=granted, source="written"
                )
        if item["entry"]:
            entries[i] = WaitlistEntry.objects.create(
                patient=patient,
                location=locations[n if item["at_slot"] else 1 - n],
                asked_by=desk,
                status=item["entry"],
            )
    # closures come after the visits (the database refuses a visit inside one)
    closures = []
    for item in data["closures"]:
        kind, index = item["owner"]
        owner = (
            {"location": locations[index % 2]}
            if kind == "location"
            else {"clinician": clinicians[index]}
        )
        day = ANCHOR + datetime.timedelta(days=item["day"])
        times = {"from_time": item["from_time"], "to_time": item["to_time"]}
        Closure.objects.create(day=day, reason="Closed", **owner, **times)
        closures.append((kind, index % 2 if kind == "location" else index, day, times))
    return hours, rota, closures, busy, visits, entries


def first_in_line(data, day: datetime.date) -> int | None:
    """The waiting patient whom nothing but a visit would keep from the slot's first offer
    (waiting where it is, active, on an active course, past their earliest date, consented,
    most overdue), if there is one: the one the example may make busy then."""
    by = data["freed"]["by"]
    line = [
        (item["earliest"] is None, last_session(item, day), item["interval"], i)
        for i, item in enumerate(data["waiting"])
        if item["entry"] == "waiting"
        and item["at_slot"]
        and not item["discharged"]
        and item["course"] == "active"
        and (item["earliest"] is None or item["earliest"] <= 0)
        and any(records and records[-1] for records in item["consents"])
        and i != by
    ]
    if not line:
        return None
    return min(line, key=lambda row: (row[0], row[0] or row[1] + datetime.timedelta(row[2])))[3]


def last_session(item, day: datetime.date) -> datetime.date | None:
    """A waiting patient's last session: their earliest date falls `earliest` days from `day`."""
    if item["earliest"] is None:
        return None
    return day + datetime.timedelta(days=item["earliest"] - item["min_interval"])


def freed_slot(data) -> tuple[int, datetime.date, int, datetime.datetime]:
    """The freed visit's clinician, day, location (index) and local start: on its clinician's
    location on the rota that day (else the example's), in an opening block of that day if
    one holds a slot (else at 10:00), a few minutes off the grid now and then."""
    item = data["freed"]
    c, offset = item["clinician"], item["day"]
    if item["near"] == "closure" and data["closures"]:
        kind, index = data["closures"][0]["owner"]
        c, offset = index if kind == "clinician" else c, data["closures"][0]["day"]
    elif item["near"] == "visit" and data["others"]:
        c, offset = data["others"][0]["clinician"], data["others"][0]["day"]
    day = ANCHOR + datetime.timedelta(days=min(max(offset, 0), DAYS - 1))
    on_rota = data["rota"][c][day.weekday()]
    n = item["location"] if on_rota is None else on_rota
    step = data["slot_minutes"][n] * MINUTE
    start = wall(day, datetime.time(10))
    day_blocks = blocks(data["hours"][n][day.weekday()])
    if day_blocks:
        opens, closes = day_blocks[item["block"] % len(day_blocks)]
        fits = (wall(day, closes) - wall(day, opens)) // step
        if fits:
            start = wall(day, opens) + (item["k"] % fits) * step
    return c, day, n, start + item["off_grid"] * MINUTE


def freed_visit(world, data, closures, busy, visits):
    """The cancelled visit whose slot is offered: on its clinician's rota location that day (or
    the example's), in an opening block if there is one; and what the example puts around it
    (added to `closures`, `busy` and `visits`)."""
    locations, clinicians, patients, desk = world
    item = data["freed"]
    c, day, n, start = freed_slot(data)
    step = locations[n].slot_minutes * MINUTE
    starts_at = start.replace(tzinfo=locations[n].zone)
    by = item["by"] if item["by"] is not None else WAITING + OTHERS
    visit = Appointment.objects.create(
        patient=patients[by],
        clinician=clinicians[c],
        location=locations[n],
        starts_at=starts_at,
        ends_at=starts_at + step,
        kind="injection",
        status="cancelled",
        cancel_reason="Unwell",
        booked_by=desk,
    )
    quarter, zone = 15 * MINUTE, locations[n].zone
    if item["busy"] is not None:  # a visit of the slot's clinician near it
        offset, minutes = item["busy"]
        at = starts_at + offset * quarter
        if not any(s < at + minutes * MINUTE and e > at for s, e in busy[c]) and _visit(
            patients[WAITING + OTHERS + 1], clinicians[c], locations[n], at, minutes, desk
        ):
            busy[c].append((at, at + minutes * MINUTE))
    if item["closure"] is not None:  # created last: a new closure keeps the visits it covers
        owner, first, last = (
            item["closure"]["owner"],
            item["closure"]["from"],
            item["closure"]["to"],
        )
        local = starts_at.astimezone(zone).replace(tzinfo=None)
        bounds = [None if q is None else local + q * quarter for q in (first, last)]
        times = {
            name: bound.time() if bound is not None and bound.date() == day else None
            for name, bound in zip(("from_time", "to_time"), bounds, strict=True)
        }
        if not (times["from_time"] and times["to_time"]) or times["from_time"] < times["to_time"]:
            who = (
                {"location": locations[n]} if owner == "location" else {"clinician": clinicians[c]}
            )
            Closure.objects.create(day=day, reason="Closed", **who, **times)
            closures.append((owner, n if owner == "location" else c, day, times))
    return visit, n, c, by


def _visit(patient, clinician, location, starts_at, minutes, desk) -> bool:
    """An active review visit, unless the database refuses it (inside a closure)."""
    try:
        with transaction.atomic():
            Appointment.objects.create(
                patient=patient,
                clinician=clinician,
                location=location,
                starts_at=starts_at,
                ends_at=starts_at + minutes * MINUTE,
                kind="review",
                booked_by=desk,
            )
    except IntegrityError:
        return False
    return True


def free(start, end, day, n, c, closures):
    """No closure of location `n` and no leave of clinician `c` meets [start, end) (local)."""
    for kind, index, closed_on, times in closures:
        if (kind, index) not in (("location", n), ("clinician", c)) or closed_on != day:
            continue
        closed_from = wall(day, times["from_time"] or datetime.time())
        closed_to = (
            wall(day, times["to_time"])
            if times["to_time"]
            else wall(day, datetime.time()) + 1440 * MINUTE
        )
        if closed_from < end and closed_to > start:
            return False
    return True


def slot_is_offerable(world, n, c, starts_at, hours, rota, closures, busy, now):
    """The oracle's "still free on the rota": the slot starts on the location's grid inside
    an opening block of its local day, the clinician is on the rota there that day, clear of
    their visits, outside closures and leave, and at least the notice ahead."""
    location = world[0][n]
    zone = zoneinfo.ZoneInfo(location.time_zone)
    local = starts_at.astimezone(zone).replace(tzinfo=None)
    day, step = local.date(), location.slot_minutes * MINUTE
    end = local + step
    on_grid = any(
        (local - wall(day, opens)) % step == datetime.timedelta(0)
        and wall(day, opens) <= local
        and end <= wall(day, closes)
        for opens, closes in hours[n, day.weekday()]
    )
    until = end.replace(tzinfo=zone)
    return (
        on_grid
        and rota.get((c, day.weekday())) == n
        and not any(s < until and e > starts_at for s, e in busy[c])
        and free(local, end, day, n, c, closures)
        and starts_at - now >= NOTICE
    )


def oracle(world, data, n, starts_at, ends_at, visits, entries, by):
    """The entries the slot goes to, in order: the first `per_slot` eligible ones."""
    zone = zoneinfo.ZoneInfo(world[0][n].time_zone)
    day = starts_at.astimezone(zone).date()
    eligible = []
    for i, entry in entries.items():
        item = data["waiting"][i]
        if entry.status != "waiting" or not item["at_slot"] or i == by:
            continue
        if item["discharged"] or item["course"] != "active":
            continue
        last = last_session(item, day)
        if last is not None and last + datetime.timedelta(days=item["min_interval"]) > day:
            continue  # not yet past the minimum interval on the slot's date
        if not any(records and records[-1] for records in item["consents"]):
            continue
        if i in visits:
            kind, s, e = visits[i]
            if s < ends_at and e > starts_at:
                continue  # busy then
            if kind == "injection" and s <= starts_at:
                continue  # their next injection is already as early
        due = last + datetime.timedelta(days=item["interval"]) if last else None
        eligible.append(((due is None, due or day, entry.pk), entry))
    return [entry for _, entry in sorted(eligible, key=lambda pair: pair[0])][: data["per_slot"]]


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=example)
def test_a_freed_slot_is_offered_only_where_and_to_whom_it_may_be(world, data):
    now = datetime.datetime.combine(ANCHOR, datetime.time(), datetime.UTC) + data["now"]
    with transaction.atomic(), override_settings(WAITLIST_OFFERS_PER_SLOT=data["per_slot"]):
        hours, rota, closures, busy, visits, entries = setup(world, data)
        visit, n, c, by = freed_visit(world, data, closures, busy, visits)

        offers = offer_freed_slot(
            appointment_id=visit.pk,
            clinician_id=visit.clinician_id,
            starts_at=visit.starts_at,
            location_id=visit.location_id,
            now=now,
        )

        offerable = slot_is_offerable(
            world, n, c, visit.starts_at, hours, rota, closures, busy, now
        )
        event(f"slot offerable: {offerable}, offers made: {len(offers)}")
        if not offerable:
            assert offers == [], "a slot offered that is not free on the rota"
        else:
            expected = oracle(world, data, n, visit.starts_at, visit.ends_at, visits, entries, by)
            c_id = world[1][c].pk
            assert [offer.entry_id for offer in offers] == [entry.pk for entry in expected]
            for offer in offers:
                assert (offer.clinician_id, offer.location_id) == (c_id, world[0][n].pk)
                assert (offer.starts_at, offer.ends_at) == (visit.starts_at, visit.ends_at)
                consented = {
                    channel
                    for channel, records in zip(
                        CHANNELS, data["waiting"][_index(entries, offer)]["consents"], strict=True
                    )
                    if records and records[-1]
                }
                sent = set(Reminder.objects.filter(offer=offer).values_list("channel", flat=True))
                assert sent == consented
        assert SlotOffer.objects.count() == len(offers)
        transaction.set_rollback(True)


def _index(entries, offer) -> int:
    """The waiting patient's index of an offer's entry."""
    return next(i for i, entry in entries.items() if entry.pk == offer.entry_id)
