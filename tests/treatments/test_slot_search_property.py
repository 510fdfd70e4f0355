"""The slot search, against an oracle written apart from it: over random rotas, opening hours,
closures, leave and bookings, at two locations in two time zones, over weeks that cross both
zones' spring DST change, `available_slots` returns exactly the slots on the location's grid
that are inside its hours, on its rota, outside every closure of the location and every leave
of the clinician, clear of the clinician's active visits (anywhere), and in the future; and
the visits page's query (its zones converted by the database) finds exactly the active visits
from now on that a closure or leave covers.

Every date derives from one fixed anchor, not from today."""

import datetime
import zoneinfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.models import Location, User
from tests.conftest import make_patient, make_user
from treatments.models import Appointment, Closure, InjectorDay, OpeningHours
from treatments.services import available_slots
from treatments.services.closures import visits_in_closures

# Monday 8 March 2027: New York springs forward on the 14th, London on the 28th.
ANCHOR = datetime.date(2027, 3, 8)
DAYS = 24
ZONES = ("Europe/London", "America/New_York")
CLINICIANS = 3
PATIENTS = 12
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def world(db):
    """Two locations and the people; each example sets hours, rota, closures and visits."""
    locations = [
        Location.objects.create(name=f"Clinic {n}", time_zone=zone) for n, zone in enumerate(ZONES)
    ]
    clinicians = [make_user(f"dr{n}", User.Role.CLINICIAN) for n in range(CLINICIANS)]
    patients = [make_patient(700 + n) for n in range(PATIENTS)]
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
    }
)

example = st.fixed_dictionaries(
    {
        "slot_minutes": st.tuples(st.sampled_from([15, 20, 30, 45]), st.sampled_from([15, 30])),
        # per location and weekday, the block boundaries (hours: pairs of them)
        "hours": st.lists(st.lists(hours_of_day, min_size=7, max_size=7), min_size=2, max_size=2),
        # per clinician and weekday: no location, or which one
        "rota": st.lists(
            st.lists(st.none() | st.integers(0, 1), min_size=7, max_size=7),
            min_size=CLINICIANS,
            max_size=CLINICIANS,
        ),
        "closures": st.lists(closure, max_size=8),
        "visits": st.lists(visit, max_size=PATIENTS),
        "now": st.integers(-24 * 60, DAYS * 24 * 60).map(lambda m: m * MINUTE),
    }
)


def blocks(quarters):
    """[(opens, closes)] from sorted quarter-hour boundaries, taken in pairs."""
    times = [datetime.time(q // 4, q % 4 * 15) for q in quarters]
    return list(zip(times[::2], times[1::2], strict=False))


def wall(day, time):
    return datetime.datetime.combine(day, time)


def setup(world, data):
    """Write the example's hours, rota, closures and visits; return what the oracle needs."""
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
    active = []  # (id, location index, clinician index, start, end) of each active visit
    for patient, item in zip(patients, data["visits"], strict=False):
        zone = locations[item["location"]].zone
        day = ANCHOR + datetime.timedelta(days=item["day"])
        starts_at = datetime.datetime.combine(day, item["start"], zone)
        ends_at = starts_at + item["minutes"] * MINUTE
        mine = busy[item["clinician"]]
        if item["active"] and any(s < ends_at and e > starts_at for s, e in mine):
            continue  # the database refuses a double booking: such a world cannot exist
        visit = Appointment.objects.create(
            patient=patient,
            clinician=clinicians[item["clinician"]],
            location=locations[item["location"]],
            starts_at=starts_at,
            ends_at=ends_at,
            kind=Appointment.Kind.REVIEW,
            status="booked" if item["active"] else "cancelled",
            cancel_reason="" if item["active"] else "Changed plans",
            booked_by=desk,
        )
        if item["active"]:
            mine.append((starts_at, ends_at))
            active.append((visit.pk, item["location"], item["clinician"], starts_at, ends_at))
    # closures come after the visits (the database refuses a visit inside one; a new
    # closure keeps the visits it covers)
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
    return hours, rota, closures, busy, active


def oracle(world, n, hours, rota, closures, busy, now):
    """Every slot the location should offer, as (clinician id, start), in wall-clock terms."""
    locations, clinicians, _, _ = world
    location = locations[n]
    zone = zoneinfo.ZoneInfo(location.time_zone)
    step = location.slot_minutes * MINUTE
    expected = set()
    for offset in range(DAYS):
        day = ANCHOR + datetime.timedelta(days=offset)
        for c, person in enumerate(clinicians):
            if rota.get((c, day.weekday())) != n:
                continue
            for opens, closes in hours[n, day.weekday()]:
                start = wall(day, opens)
                while start + step <= wall(day, closes):
                    end = start + step
                    at, until = start.replace(tzinfo=zone), end.replace(tzinfo=zone)
                    clear = not any(s < until and e > at for s, e in busy[c])
                    if at > now and clear and free(start, end, day, n, c, closures):
                        expected.add((person.pk, at))
                    start = end
    return expected


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


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=example)
def test_the_slot_search_offers_exactly_the_free_slots_across_zones_and_dst(world, data):
    now = datetime.datetime.combine(ANCHOR, datetime.time(), datetime.UTC) + data["now"]
    with transaction.atomic():
        hours, rota, closures, busy, active = setup(world, data)
        for n, location in enumerate(world[0]):
            slots = available_slots(location=location, start_date=ANCHOR, days=DAYS, now=now)
            found = [(slot.clinician.pk, slot.starts_at) for slot in slots]
            assert len(found) == len(set(found)), "a slot offered twice"
            assert all(slot.location == location for slot in slots)
            assert set(found) == oracle(world, n, hours, rota, closures, busy, now)
        # the visits page's query (zones converted by the database) finds the covered visits
        zones = [zoneinfo.ZoneInfo(zone) for zone in ZONES]
        covered = {
            pk
            for pk, n, c, start, end in active
            if start >= now
            and not free(
                start.astimezone(zones[n]).replace(tzinfo=None),
                end.astimezone(zones[n]).replace(tzinfo=None),
                start.astimezone(zones[n]).date(),
                n,
                c,
                closures,
            )
        }
        assert set(visits_in_closures(now=now).values_list("pk", flat=True)) == covered
        transaction.set_rollback(True)
