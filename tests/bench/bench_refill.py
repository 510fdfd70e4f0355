"""How many cancelled slots the waitlist refills, and how fast (issue 14, part 4; see
tests/bench/README.md, "Refilling cancelled slots"). Not part of `make test`:

    .venv/bin/python tests/bench/bench_refill.py                 # SQLite, the default
    POSTGRES_HOST=127.0.0.1 POSTGRES_USER=postgres .venv/bin/python tests/bench/bench_refill.py

1. A throwaway database (tests/bench/database.py), migrated. One clinic in New York, open
   Monday to Friday 09:00-17:00 in 30-minute slots, --clinicians clinicians injecting there
   every weekday; --patients patients, each with an active course whose next session falls
   evenly over the 84 days from two weeks before the month, and consent to email and/or SMS.
2. Before the month starts, every patient due by the end of the booking horizon is booked at
   the first free slot on or after their due date plus a preference delay (0-21 days);
   --unbooked of the overdue patients are not booked (they are on the due list). A share
   (--waitlisted) of all patients is on the waitlist.
3. A simulated clock (time-machine) runs through a 28-day month from Monday 1 March 2027 (the
   US change to summer time falls inside it). --cancel (8 %) of the month's visits are
   cancelled, half of them within 72 hours of the visit and half earlier, at any hour.
4. The REAL services run at each simulated instant: `cancel_appointment` (whose commit hook
   calls `offer_freed_slot`, as the task would), the dispatcher and the send path (email to
   memory, SMS to files; quiet hours and the SMS cap apply), and `claim_offer`. Each offered
   patient, once their first message is sent, claims with probability --claim after a
   log-normal delay (median --claim-minutes). A claim that moves the patient's booked visit
   frees that slot in turn; it is offered too (a chain) and counted apart.
5. It prints the share of cancelled slots refilled, the median (and 90th centile) time from
   cancellation to claim, and what became of every offer and message.
"""

import argparse
import datetime
import heapq
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import zoneinfo
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
ZONE = zoneinfo.ZoneInfo("America/New_York")
MONTH_START = datetime.date(2027, 3, 1)  # a Monday; summer time starts on 14 March
MONTH_DAYS = 28
BOOKING_HORIZON_DAYS = 56  # visits booked up to 8 weeks from the month's start


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), ZONE)


def seed(args, rng: random.Random):
    """The clinic, its rota, the patients, their courses, consents, visits and waitlist."""
    from clinic.models import Location, User
    from patients.models import ContactConsent, Patient
    from treatments.models import (
        Appointment,
        InjectorDay,
        OpeningHours,
        TreatmentCourse,
        WaitlistEntry,
    )

    location = Location.objects.create(
        name="Riverside Clinic",
        address="120 Riverside Drive, New York",
        phone="+12125550142",
        time_zone="America/New_York",
        slot_minutes=30,
    )
    desk = User.objects.create_user(username="desk", password="x", role=User.Role.FRONT_DESK)
    clinicians = [
        User.objects.create_user(username=f"dr{n}", password="x", role=User.Role.CLINICIAN)
        for n in range(args.clinicians)
    ]
    OpeningHours.objects.bulk_create(
        OpeningHours(location=location, weekday=d, opens=datetime.time(9), closes=datetime.time(17))
        for d in range(5)
    )
    InjectorDay.objects.bulk_create(
        InjectorDay(clinician=c, location=location, weekday=d) for c in clinicians for d in range(5)
    )
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"B{n:06d}",
            first_name=f"Given{n}",
            last_name=f"Family{n}",
            date_of_birth=datetime.date(1970, 1, 1) + datetime.timedelta(days=n),
            sex="female",
            email=f"patient{n}@example.com",
            phone=f"+1212555{n % 10000:04d}",
            location=location,
        )
        for n in range(args.patients)
    )
    # next due dates spread evenly over 84 days from two weeks before the month
    first_due = MONTH_START - datetime.timedelta(days=14)
    due = {
        p.pk: first_due + datetime.timedelta(days=(84 * i) // args.patients)
        for i, p in enumerate(patients)
    }
    TreatmentCourse.objects.bulk_create(
        TreatmentCourse(
            patient=p,
            started_on=datetime.date(2025, 1, 1),
            last_session_on=due[p.pk] - datetime.timedelta(days=84),
        )
        for p in patients
    )
    consents = []
    for p in patients:
        email, sms = rng.random() < args.email_share, rng.random() < args.sms_share
        if not (email or sms):
            email = True  # a waitlist without a channel is pointless: everyone has one
        consents += [
            ContactConsent(patient=p, channel=ch, granted=True, source="written")
            for ch, ok in (("email", email), ("sms", sms))
            if ok
        ]
    ContactConsent.objects.bulk_create(consents)

    # the rota's slots from the month's start to the horizon, then first-fit bookings
    free: list[tuple[datetime.datetime, int]] = []
    for offset in range(BOOKING_HORIZON_DAYS):
        day = MONTH_START + datetime.timedelta(days=offset)
        if day.weekday() < 5:
            for k in range(16):
                start = local(day, 9) + datetime.timedelta(minutes=30 * k)
                free += [(start, c.pk) for c in clinicians]
    free.sort()
    taken: set[int] = set()
    horizon = MONTH_START + datetime.timedelta(days=BOOKING_HORIZON_DAYS)
    visits = []
    for p in sorted(patients, key=lambda p: due[p.pk]):
        if due[p.pk] < MONTH_START and rng.random() < args.unbooked:
            continue  # overdue and not booked: on the due list
        wanted = max(due[p.pk], MONTH_START) + datetime.timedelta(days=rng.choice(DELAYS))
        if wanted >= horizon:
            continue
        index = next(
            (
                i
                for i, (start, _) in enumerate(free)
                if i not in taken and start.astimezone(ZONE).date() >= wanted
            ),
            None,
        )
        if index is None:
            continue
        taken.add(index)
        start, clinician_id = free[index]
        visits.append(
            Appointment(
                patient=p,
                location=location,
                clinician_id=clinician_id,
                starts_at=start,
                ends_at=start + datetime.timedelta(minutes=30),
                booked_by=desk,
                cycle_number=2,
            )
        )
    Appointment.objects.bulk_create(visits)
    waitlisted = rng.sample(patients, round(args.waitlisted * len(patients)))
    WaitlistEntry.objects.bulk_create(
        WaitlistEntry(patient=p, location=location, asked_by=desk) for p in waitlisted
    )
    month_end = local(MONTH_START + datetime.timedelta(days=MONTH_DAYS), 0)
    in_month = [v for v in visits if v.starts_at < month_end]
    return desk, in_month, len(visits), len(waitlisted)


# the patient's preferred delay after the due date (days): most book soon, some wait weeks
DELAYS = [0] * 6 + [1, 2, 3, 4, 5, 7, 7, 10, 14, 14, 21]


def cancellation_times(visits, args, rng: random.Random, start: datetime.datetime):
    """--cancel of the visits, each with its cancellation time: half within 72 hours of the
    visit, half earlier (at any hour, but after the simulation starts)."""
    chosen = rng.sample(visits, round(args.cancel * len(visits)))
    plans = []
    for n, visit in enumerate(chosen):
        late = n % 2 == 0
        lo = visit.starts_at - datetime.timedelta(hours=72)
        hi = visit.starts_at
        if not late:
            lo, hi = max(start, visit.starts_at - datetime.timedelta(days=28)), lo
            if hi <= lo:  # the visit is within 72 hours of the start: a late one after all
                lo, hi, late = start, visit.starts_at, True
        lo = max(lo, start)
        at = lo + (hi - lo) * rng.random()
        plans.append((at, visit.pk, late))
    return plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--clinicians", type=int, default=4)
    parser.add_argument("--cancel", type=float, default=0.08, help="share of visits cancelled")
    parser.add_argument("--waitlisted", type=float, default=0.25, help="share on the waitlist")
    parser.add_argument("--unbooked", type=float, default=0.10, help="overdue, not booked")
    parser.add_argument("--email-share", type=float, default=0.8)
    parser.add_argument("--sms-share", type=float, default=0.6)
    parser.add_argument("--claim", type=float, default=0.5, help="chance an offer is claimed")
    parser.add_argument("--claim-minutes", type=float, default=30, help="median claim delay")
    parser.add_argument("--offers", type=int, default=None, help="WAITLIST_OFFERS_PER_SLOT")
    parser.add_argument("--offer-minutes", type=int, default=None, help="WAITLIST_OFFER_MINUTES")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()

    sys.path.insert(0, str(BASE_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "clinic.settings"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-any-deployment-0123456789")
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    if args.offers is not None:
        os.environ["WAITLIST_OFFERS_PER_SLOT"] = str(args.offers)
    if args.offer_minutes is not None:
        os.environ["WAITLIST_OFFER_MINUTES"] = str(args.offer_minutes)
    from tests.bench.database import use_private_database

    tmp = Path(tempfile.mkdtemp(prefix="cadence-bench-"))
    drop_database = lambda: None  # noqa: E731
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        drop_database = use_private_database(tmp)
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        log(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
        call_command("migrate", verbosity=0)
        return simulate(args)
    finally:
        drop_database()


def simulate(args) -> int:
    import time_machine
    from django.conf import settings

    from treatments.models import Appointment, Reminder, SlotOffer
    from treatments.services import cancel_appointment, freed_slots
    from treatments.services import waitlist as waitlist_service
    from treatments.services.reminders import dispatch_due_reminders, send_reminders

    rng = random.Random(args.seed)
    start = local(MONTH_START, 0) - datetime.timedelta(hours=12)  # Sunday noon
    end = local(MONTH_START + datetime.timedelta(days=MONTH_DAYS), 0)
    with time_machine.travel(start - datetime.timedelta(days=1), tick=False) as clock:
        t0 = time.monotonic()
        desk, visits, booked, waitlisted = seed(args, rng)
        log(f"seeded in {time.monotonic() - t0:.1f} s")

        events: list = []  # (when, order, kind, data)
        order = iter(range(10**9))

        def push(when, kind, data=None):
            heapq.heappush(events, (when, next(order), kind, data))

        plans = cancellation_times(visits, args, rng, start)
        for at, visit_id, late in plans:
            push(at, "cancel", (visit_id, late))

        # by (visit id, ISO start): what became of each freed slot
        freed: dict[tuple[int, str], dict] = {}
        offer_of_source: dict[int, tuple[int, str]] = {}  # offer id -> its freed slot
        decided: set[int] = set()  # offers whose patient has seen a message
        timings = {"offer": [], "claim": []}
        claim_states: Counter = Counter()
        send_outcomes: Counter = Counter()
        dispatch_at: set[datetime.datetime] = set()
        simulated = {"now": start - datetime.timedelta(days=1)}  # the instant being run

        def offered(offers, source_id):
            for offer in offers:
                offer_of_source[offer.pk] = source_id
            if offers:
                freed[source_id]["offers"] += len(offers)
                when = simulated["now"] + datetime.timedelta(seconds=60)  # the next beat
                if when not in dispatch_at:
                    dispatch_at.add(when)
                    push(when, "dispatch")

        def run_offer(args_list):
            """What the task does (offer_freed_slot), run here at the simulated instant."""
            source_id = (args_list[0], args_list[2])
            started = time.perf_counter()
            offers = waitlist_service.offer_freed_slot(
                appointment_id=args_list[0],
                clinician_id=args_list[1],
                starts_at=datetime.datetime.fromisoformat(args_list[2]),
                location_id=args_list[3],
            )
            timings["offer"].append(time.perf_counter() - started)
            freed.setdefault(
                source_id, {"at": simulated["now"], "chain": True, "offers": 0, "claimed": None}
            )
            if not offers:
                freed[source_id].setdefault("why", "none eligible or too late")
            offered(offers, source_id)

        freed_slots._enqueue = run_offer  # the commit hook's task, run in-process

        while events:
            when, _, kind, data = heapq.heappop(events)
            if when >= end:
                break
            clock.move_to(when)
            simulated["now"] = when
            if kind == "cancel":
                visit_id, late = data
                visit = Appointment.objects.select_related("location").get(pk=visit_id)
                if visit.status != "booked" or visit.starts_at <= when:
                    continue
                # recorded before the commit hook runs, so the hook finds it an original
                freed[(visit_id, visit.starts_at.isoformat())] = {
                    "at": when,
                    "chain": False,
                    "late": late,
                    "offers": 0,
                    "claimed": None,
                }
                cancel_appointment(appointment=visit, reason="Simulated", by=desk)
            elif kind == "dispatch":
                claims = dispatch_due_reminders(now=when)
                results = send_reminders(claims)
                offer_rows = dict(
                    Reminder.objects.filter(
                        pk__in=[int(k) for k in results], offer__isnull=False
                    ).values_list("pk", "offer_id")
                )
                send_outcomes.update(v for k, v in results.items() if int(k) in offer_rows)
                sent = {
                    offer_rows[int(k)]
                    for k, v in results.items()
                    if v == "sent" and int(k) in offer_rows
                }
                for offer_id in sent - decided:
                    decided.add(offer_id)
                    if rng.random() < args.claim:
                        delay = rng.lognormvariate(0, 1) * args.claim_minutes
                        push(when + datetime.timedelta(minutes=delay), "claim", offer_id)
                later = (
                    Reminder.objects.filter(status="pending", offer__isnull=False)
                    .order_by("due_at")
                    .values_list("due_at", flat=True)
                    .first()
                )
                if later is not None:
                    next_beat = max(later, when + datetime.timedelta(seconds=60))
                    if next_beat not in dispatch_at:
                        dispatch_at.add(next_beat)
                        push(next_beat, "dispatch")
            elif kind == "claim":
                started = time.perf_counter()
                result = waitlist_service.claim_offer(offer_id=data)
                timings["claim"].append(time.perf_counter() - started)
                claim_states[result.state] += 1
                if result.state == "claimed":
                    source = freed[offer_of_source[data]]
                    source["claimed"] = when

        report(args, visits, booked, waitlisted, freed, claim_states, send_outcomes, timings)
        offers = Counter(
            offer.outcome(end) for offer in SlotOffer.objects.only("status", "expires_at")
        )
        skipped = Counter(
            Reminder.objects.filter(offer__isnull=False, status="skipped").values_list(
                "skip_reason", flat=True
            )
        )
        print(f"{'offer messages skipped, why':44} {dict(skipped)}")
        print(f"{'offers by outcome at the end':44} {dict(offers)}")
        print(
            f"{'WAITLIST_OFFERS_PER_SLOT / _OFFER_MINUTES':44} "
            f"{settings.WAITLIST_OFFERS_PER_SLOT} / {settings.WAITLIST_OFFER_MINUTES}"
        )
    return 0


def report(args, visits, booked, waitlisted, freed, claim_states, send_outcomes, timings):
    originals = {k: v for k, v in freed.items() if not v["chain"]}
    chains = {k: v for k, v in freed.items() if v["chain"]}
    refilled = [v for v in originals.values() if v["claimed"]]
    waits = sorted((v["claimed"] - v["at"]).total_seconds() / 60 for v in refilled)
    late = [v for v in originals.values() if v["late"]]
    late_refilled = [v for v in late if v["claimed"]]
    offered = [v for v in originals.values() if v["offers"]]
    rows = [
        ("patients / clinicians", f"{args.patients:,} / {args.clinicians}"),
        ("visits booked (in the month)", f"{booked:,} ({len(visits):,})"),
        ("patients on the waitlist", f"{waitlisted:,}"),
        ("visits cancelled (within 72 h)", f"{len(originals)} ({len(late)})"),
        ("cancelled slots offered", f"{len(offered)} ({share(len(offered), len(originals))})"),
        (
            "CANCELLED SLOTS REFILLED",
            f"{len(refilled)} of {len(originals)} ({share(len(refilled), len(originals))})",
        ),
        (
            "  of those cancelled within 72 h",
            f"{len(late_refilled)} of {len(late)} ({share(len(late_refilled), len(late))})",
        ),
        (
            "MEDIAN TIME TO REFILL",
            f"{statistics.median(waits):.0f} min" if waits else "-",
        ),
        (
            "  90th centile",
            f"{waits[int(0.9 * (len(waits) - 1))]:.0f} min" if waits else "-",
        ),
        (
            "slots freed by moves into a refilled slot",
            f"{len(chains)}, refilled {sum(1 for v in chains.values() if v['claimed'])}",
        ),
        ("claims by outcome", dict(claim_states)),
        ("offer messages by outcome", dict(send_outcomes)),
        ("offer_freed_slot: runs, mean ms", mean_ms(timings["offer"])),
        ("claim_offer: runs, mean ms", mean_ms(timings["claim"])),
    ]
    for label, value in rows:
        print(f"{label:44} {value}")


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "-"


def mean_ms(values: list[float]) -> str:
    return f"{len(values)}, {1000 * statistics.fmean(values):.1f}" if values else "0"


if __name__ == "__main__":
    sys.exit(main())
