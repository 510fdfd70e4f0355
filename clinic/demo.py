"""The demo clinic that `manage.py seed_demo` loads: deterministic, and idempotent (rows are
found by a natural key and left alone when they exist). Later features add their part here."""

import datetime
import random

from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic import mfa
from clinic.models import Location, User
from patients import outcomes
from patients.models import (
    Channel,
    ContactConsent,
    DiagnosisCode,
    DiaryEntry,
    Patient,
    PatientMedication,
    QuestionnaireResponse,
)
from treatments import protocol
from treatments.models import (
    AdverseEvent,
    Appointment,
    Closure,
    InjectorDay,
    OpeningHours,
    PriorAuthorization,
    Reminder,
    TreatmentCourse,
)
from treatments.rules import SiteEntry
from treatments.services import (
    BookingError,
    SessionInput,
    VialInput,
    available_slots,
    book_appointment,
    record_session,
    report_adverse_event,
    set_appointment_status,
    sign_session,
    standard_sites,
)
from treatments.services.authorizations import attach_document, record_authorization
from treatments.services.reminders import in_quiet_hours

DEMO_PASSWORD = "cadence-demo"

LOCATIONS = [
    {
        "name": "Riverside Clinic",
        "address": "120 Riverside Drive\nNew York, NY 10024\nUSA",
        "phone": "+12125550142",
        "time_zone": "America/New_York",
    },
    {
        "name": "Harbour Clinic",
        "address": "14 Quay Street\nBristol BS1 4DB\nUnited Kingdom",
        "phone": "+441174960100",
        "time_zone": "Europe/London",
    },
    {
        # Far east of the others: its daytime covers the hours when both are in their quiet
        # hours (02:00-08:00 UTC in winter), so a first run shows messages at any hour.
        "name": "Bayside Clinic",
        "address": "8 Macquarie Street\nSydney NSW 2000\nAustralia",
        "phone": "+61255500100",
        "time_zone": "Australia/Sydney",
    },
]

# (username, first, last, role, location index for clinicians)
STAFF = [
    ("dr.osei", "Ama", "Osei", User.Role.CLINICIAN, 0),
    ("dr.hughes", "Gareth", "Hughes", User.Role.CLINICIAN, 1),
    ("np.rivera", "Lucia", "Rivera", User.Role.CLINICIAN, 0),
    ("dr.tan", "Mei", "Tan", User.Role.CLINICIAN, 2),
    ("desk.kim", "Min-ji", "Kim", User.Role.FRONT_DESK, None),
    ("desk.brown", "Tom", "Brown", User.Role.FRONT_DESK, None),
    ("admin", "Priya", "Shah", User.Role.CLINIC_ADMIN, None),
]

FIRST_NAMES = [
    "Alice",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Farah",
    "George",
    "Hannah",
    "Isaac",
    "Jade",
    "Kofi",
    "Laura",
    "Mohammed",
    "Nina",
    "Oliver",
    "Priya",
    "Quinn",
    "Rosa",
    "Samuel",
    "Tara",
]
LAST_NAMES = [
    "Morgan",
    "Patel",
    "Nguyen",
    "O'Brien",
    "Schmidt",
    "Kowalski",
    "Haddad",
    "Johnson",
    "Okafor",
    "Garcia",
    "Lindqvist",
    "Murphy",
    "Tanaka",
    "Evans",
    "Rossi",
    "Williams",
]
PATIENT_COUNT = 40  # of the first two locations, alternately
FAR_PATIENTS = 10  # then the far location's (Bayside), after them so the others stay as they were
PORTAL_PATIENTS = 8  # patient01 .. patient08


def seed_demo() -> dict[str, int]:
    """Create the demo clinic; return how many rows of each kind were created."""
    with transaction.atomic():
        created = {"locations": 0, "users": 0, "patients": 0, "sessions": 0, "appointments": 0}
        locations = _seed_locations(created)
        clinicians_at = _seed_staff(created)
        _seed_patients(created, locations, clinicians_at)
        _seed_sessions(created)
        _seed_schedule(created, locations)
        _seed_outcomes()
        _seed_authorizations(created)
    return created


def _seed_locations(created) -> list[Location]:
    locations = []
    for fields in LOCATIONS:
        location, was_created = Location.objects.get_or_create(name=fields["name"], defaults=fields)
        created["locations"] += was_created
        locations.append(location)
    return locations


def _demo_user(created, password_hash, username, first, last, role, email) -> User:
    user, was_created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "role": role,
            "email": email,
            "password": password_hash,
        },
    )
    created["users"] += was_created
    return user


def _seed_staff(created) -> dict[int, list[User]]:
    """Create the staff; return the clinicians by the index of the location they work at."""
    # One hash for every demo account: hashing is deliberately slow, and these share a password.
    password_hash = make_password(DEMO_PASSWORD)
    clinicians_at: dict[int, list[User]] = {}
    for username, first, last, role, location_index in STAFF:
        user = _demo_user(
            created, password_hash, username, first, last, role, f"{username}@cadence.invalid"
        )
        # Demo staff share the published demo TOTP secret (README); real accounts enrol their own.
        mfa.give_demo_device(user=user)
        if role == User.Role.CLINICIAN and location_index is not None:
            clinicians_at.setdefault(location_index, []).append(user)
    return clinicians_at


def _seed_patients(created, locations, clinicians_at) -> None:
    rng = random.Random(2026)  # the same demo clinic every time
    password_hash = make_password(DEMO_PASSWORD)
    for number in range(1, PATIENT_COUNT + FAR_PATIENTS + 1):
        fields = _demo_patient_fields(rng, number, locations, clinicians_at)
        if number <= PORTAL_PATIENTS:
            fields["user"] = _demo_user(
                created,
                password_hash,
                f"patient{number:02d}",
                fields["first_name"],
                fields["last_name"],
                User.Role.PATIENT,
                fields["email"],
            )
        patient, was_created = Patient.objects.get_or_create(
            mrn=f"CAD-{number:04d}", defaults=fields
        )
        if was_created:
            created["patients"] += 1
            for channel in [Channel.EMAIL, Channel.SMS] if number % 3 else [Channel.EMAIL]:
                ContactConsent.objects.create(
                    patient=patient,
                    channel=channel,
                    granted=True,
                    source=ContactConsent.Source.WRITTEN,
                )
            _demo_medications(number, patient, fields["primary_clinician"])


# Preventives tried before Botox, in the order tried, and why each stopped (the demo's notes).
DEMO_PREVENTIVES = [
    ("topiramate", "50 mg twice daily", "not_tolerated"),
    ("propranolol", "80 mg daily", "ineffective"),
    ("amitriptyline", "25 mg at night", "ineffective"),
    ("candesartan", "16 mg daily", "ineffective"),
]


def _demo_medications(number: int, patient: Patient, clinician: User) -> None:
    """Two to four preventives tried and stopped over the past years (so most demo patients
    meet NICE's three), a triptan for attacks, and a CGRP antibody for every fourth patient."""
    today = timezone.localdate()
    tried = DEMO_PREVENTIVES[: 2 + number % 3]
    for index, (drug, dose, reason) in enumerate(tried):
        started = today - datetime.timedelta(days=1500 - 300 * index)
        PatientMedication.objects.create(
            patient=patient,
            drug=drug,
            dose=dose,
            started_on=started,
            stopped_on=started + datetime.timedelta(days=120),
            stop_reason=reason,
            recorded_by=clinician,
        )
    PatientMedication.objects.create(
        patient=patient,
        drug="sumatriptan",
        dose="50 mg as needed",
        started_on=today - datetime.timedelta(days=1600),
        recorded_by=clinician,
    )
    if number % 4 == 0:
        PatientMedication.objects.create(
            patient=patient,
            drug="erenumab",
            dose="140 mg monthly",
            started_on=today - datetime.timedelta(days=45 + number),
            recorded_by=clinician,
        )


def _demo_patient_fields(rng, number, locations, clinicians_at) -> dict:
    first = FIRST_NAMES[(number - 1) % len(FIRST_NAMES)]
    last = LAST_NAMES[(number * 7) % len(LAST_NAMES)]
    index = number % 2 if number <= PATIENT_COUNT else 2
    headache_days = rng.randint(15, 26)
    return {
        "first_name": first,
        "last_name": last,
        "date_of_birth": datetime.date(
            rng.randint(1955, 2002), rng.randint(1, 12), rng.randint(1, 28)
        ),
        "sex": rng.choice(["female", "female", "female", "male"]),  # CM is ~3:1 female
        "email": f"{first}.{last}".lower().replace("'", "") + f"{number}@example.com",
        "phone": [
            f"+1212555{100 + number:04d}",
            f"+4411749601{number:02d}",
            f"+6125550{number:04d}",
        ][index],
        "address": f"{number} Example Street",
        "location": locations[index],
        "primary_clinician": rng.choice(clinicians_at[index]),
        "status": "discharged" if number % 13 == 0 else "active",
        "baseline_headache_days": headache_days,
        "baseline_migraine_days": rng.randint(8, headache_days),
        "preventives_notes": "Topiramate, propranolol, amitriptyline",
        "diagnosis_code": rng.choice(DiagnosisCode.values),
    }


# --- treatment history ----------------------------------------------------------------------

NEW_PATIENTS = {"CAD-0004", "CAD-0018", "CAD-0029"}  # referred, not treated yet
FTP_EXTRAS = ["TEM-L5", "TEM-R5", "OCC-L4", "OCC-R4", "TRA-L4", "TRA-R4", "TRA-L5", "TRA-R5"]


def _seed_sessions(created) -> None:
    """1-6 signed past sessions for most active patients, the last one between 10 and 110
    days ago, so that the schedule has patients recently treated, due and overdue. Mostly the
    standard 155 U; some follow-the-pain up to 195 U; a few adverse events. Made through the
    services, so every rule holds."""
    today = timezone.localdate()
    patients = (
        Patient.objects.filter(status=Patient.Status.ACTIVE)
        .exclude(mrn__in=NEW_PATIENTS)
        .exclude(courses__isnull=False)
        .select_related("location", "primary_clinician")
        .order_by("mrn")
    )
    for patient in patients:
        rng = random.Random(patient.mrn)  # the same history for this patient every time
        cycles = rng.randint(1, 6)
        last = today - datetime.timedelta(days=rng.randint(10, 110))
        dates = [last]
        for _ in range(cycles - 1):
            dates.insert(0, dates[0] - datetime.timedelta(days=84 + rng.randint(0, 10)))
        zone = patient.location.zone
        TreatmentCourse.objects.create(patient=patient, started_on=dates[0], consent_on=dates[0])
        for day in dates:
            when = datetime.datetime.combine(day, datetime.time(rng.randint(9, 15), 0), zone)
            session = record_session(
                patient=patient,
                injector=patient.primary_clinician,
                data=_demo_session(rng, patient, when),
            )
            sign_session(
                session=session,
                user=patient.primary_clinician,
                acknowledged=["R1"] if session.total_units < 155 else [],
            )
            created["sessions"] += 1
            if rng.random() < 0.12:
                _demo_adverse_event(rng, session, day)


def _demo_session(rng, patient, when) -> SessionInput:
    sites = standard_sites()
    if rng.random() < 0.08:  # a skipped site
        sites = [SiteEntry(s.code, None, "bruising") if s.code == "FRO-L2" else s for s in sites]
    if rng.random() < 0.2:  # follow-the-pain, 2 to 8 extra sites (up to 195 U)
        sites += [
            SiteEntry(code, protocol.UNITS_PER_SITE)
            for code in FTP_EXTRAS[: rng.choice([2, 4, 6, 8])]
        ]
    # One lot a quarter, expiring at the end of the next year
    quarter = (when.month - 1) // 3 + 1
    lot = VialInput(
        f"C{when.year % 100:02d}{quarter}{when.year % 7}X",
        "botox_200",
        datetime.date(when.year + 1, 12, 31),
    )
    return SessionInput(
        location=patient.location,
        administered_at=when,
        reconstituted_at=when - datetime.timedelta(minutes=rng.randint(10, 40)),
        sites=sites,
        vials=[lot],
        consent="course",
        infection_at_site=False,
        hypersensitivity=False,
        pregnant_or_breastfeeding=False,
        other_toxin_recent=False,
    )


def _demo_adverse_event(rng, session, day) -> None:
    term, hint = rng.choice(
        [
            (AdverseEvent.Term.NECK_PAIN, "trapezius sites lower"),
            (AdverseEvent.Term.EYELID_PTOSIS, "frontalis sites higher"),
            (AdverseEvent.Term.INJECTION_SITE_PAIN, ""),
        ]
    )
    report_adverse_event(
        session=session,
        recorded_by=session.injector,
        reported_by=AdverseEvent.Reporter.CLINICIAN,
        term=term,
        onset=day + datetime.timedelta(days=rng.randint(1, 5)),
        severity="mild",
        outcome="resolved",
        hint_next_session=hint,
    )


# --- the schedule -------------------------------------------------------------------------------

# (weekday, opens, closes): Monday to Friday, with a lunch break
CLINIC_HOURS = [
    (day, datetime.time(h1), datetime.time(h2))
    for day in range(5)
    for h1, h2 in ((8, 12), (13, 17))
]


def _seed_schedule(created, locations) -> None:
    """Hours, the rota, and a realistic book: most patients due soon are booked, some are not
    (the due list), two missed their last visit (no-shows). Only on the first run."""
    if OpeningHours.objects.exists():
        return
    _seed_hours_and_rota(locations)
    _seed_closures(locations)
    desk = User.objects.get(username="desk.kim")
    courses = (
        TreatmentCourse.objects.active()
        .filter(last_session_on__isnull=False)
        .select_related("patient", "patient__location")
        .order_by("patient__mrn")
    )
    for index, course in enumerate(courses):
        patient = course.patient
        today = timezone.localdate(timezone=patient.location.zone)
        if index % 4 == 3 or course.overdue_from <= today:
            continue  # due or overdue but not booked: the front desk's worklist
        start = max(course.earliest_on, today + datetime.timedelta(days=1))
        slots = available_slots(
            location=patient.location, start_date=start, days=14, per_clinician=1 + index % 5
        )
        if not slots:
            continue
        slot = slots[-1]
        try:
            appointment = book_appointment(
                patient=patient,
                clinician=slot.clinician,
                location=slot.location,
                starts_at=slot.starts_at,
                booked_by=desk,
            )
        except BookingError:
            continue
        created["appointments"] += 1
        if index in (5, 17):  # missed visits, already on the due list
            _missed(appointment, desk)
    _reminders_due_now(locations)


def _seed_hours_and_rota(locations) -> None:
    for location in locations:
        OpeningHours.objects.bulk_create(
            OpeningHours(location=location, weekday=day, opens=opens, closes=closes)
            for day, opens, closes in CLINIC_HOURS
        )
    for username, *_rest, location_index in STAFF:
        if location_index is not None:
            clinician = User.objects.get(username=username)
            InjectorDay.objects.bulk_create(
                InjectorDay(clinician=clinician, location=locations[location_index], weekday=d)
                for d in range(5)
            )


def _seed_closures(locations) -> None:
    """Public holidays at every location (25 and 26 December, 1 January of this year and the
    next), and a day's leave for the first clinician a week from today: the slot search
    offers nothing in them."""
    this_year = timezone.localdate().year
    holidays = [
        (datetime.date(year, month, day), name)
        for year in (this_year, this_year + 1)
        for month, day, name in ((12, 25, "Christmas Day"), (12, 26, "Boxing Day"))
    ] + [(datetime.date(year, 1, 1), "New Year's Day") for year in (this_year + 1, this_year + 2)]
    Closure.objects.bulk_create(
        Closure(location=location, day=day, reason=name)
        for location in locations
        for day, name in holidays
    )
    clinician = User.objects.filter(role=User.Role.CLINICIAN).order_by("username").first()
    if clinician is not None:
        away = timezone.localdate() + datetime.timedelta(days=7)
        Closure.objects.create(clinician=clinician, day=away, reason="Annual leave")


def _reminders_due_now(locations: list[Location]) -> None:
    """Bring a few planned reminders forward to now, so that a first `make run` shows
    messages going out under var/mail/ and var/sms/ within a minute or two: those of a
    location where it is daytime now (out of its quiet hours), so that they go out at once.
    Sydney's daytime covers the hours when New York and London are both quiet (02:00 to 08:00
    UTC in winter, 01:00 to 07:00 in summer); were every location quiet (other QUIET_HOURS
    settings), they would be any location's, and wait until 08:00 there, as they should."""
    now = timezone.now()
    awake = [loc for loc in locations if not in_quiet_hours(now, loc.zone)] or locations
    # where each kind's quiet hours are read: a visit's location, a check-in's session's, else
    # the patient's usual location (reminders._reminder_zone)
    at = (
        Q(appointment__location__in=awake)
        | Q(appointment__isnull=True, session__location__in=awake)
        | Q(appointment__isnull=True, session__isnull=True, patient__location__in=awake)
    )
    pending = (
        Reminder.objects.filter(status=Reminder.Status.PENDING).filter(at).order_by("due_at", "pk")
    )
    texts = list(pending.filter(channel="sms")[:2])
    chosen = [*texts, *pending.filter(channel="email")[: 5 - len(texts)]]  # five, texts first
    Reminder.objects.filter(pk__in=[r.pk for r in chosen]).update(due_at=timezone.now())


def _missed(appointment: Appointment, desk: User) -> None:
    """Turn a booking into the last open day's no-show (the demo's history): yesterday, or
    before it if the clinic was closed or the clinician away (the database refuses a visit
    moved into a closure)."""
    back = 1
    closed = Closure.objects.affecting(appointment.location, [appointment.clinician])
    while closed.filter(day=timezone.localdate() - datetime.timedelta(days=back)).exists():
        back += 1
    yesterday = appointment.starts_at - datetime.timedelta(
        days=(appointment.local_starts_at.date() - timezone.localdate()).days + back
    )
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=yesterday, ends_at=yesterday + (appointment.ends_at - appointment.starts_at)
    )
    set_appointment_status(appointment=appointment, status="noshow", by=desk)


# --- prior authorizations ------------------------------------------------------------------------

PAYERS = ["Aetna", "UnitedHealthcare", "Blue Cross Blue Shield", "Cigna"]


def _seed_authorizations(created) -> None:
    """Prior authorizations in every state, on the first run only (after the book, which they
    would otherwise refuse): for booked patients active, one session left and used up; for
    patients not booked ending soon, expired and future, and one visit a clinician booked past
    the end of one with a reason (the worklist shows it). Most patients have none (self-pay)."""
    if PriorAuthorization.objects.exists():
        return
    created["authorizations"] = 0
    courses = list(
        TreatmentCourse.objects.active()
        .filter(last_session_on__isnull=False)
        .select_related("patient__location", "patient__primary_clinician")
        .order_by("patient__mrn")
    )
    booked = {
        visit.patient_id: visit
        for visit in Appointment.objects.active().filter(kind=Appointment.Kind.INJECTION)
    }
    with_visit = [c for c in courses if c.patient_id in booked]
    without = [c for c in courses if c.patient_id not in booked]
    day = datetime.timedelta(days=1)

    def authorize(course, *, valid_to, sessions_left=3, valid_from=None, units=None) -> None:
        patient = course.patient
        given = course.sessions.signed().count()
        used = given + (1 if patient.pk in booked else 0)
        sessions = max(1, used + sessions_left)
        desk = User.objects.get(username="desk.kim")
        authorization = record_authorization(
            patient=patient,
            by=desk,
            payer=PAYERS[created["authorizations"] % len(PAYERS)],
            reference=f"PA-{patient.mrn[-4:]}-{created['authorizations'] + 1:02d}",
            sessions_approved=sessions,
            units_approved=units or 195 * sessions,
            valid_from=valid_from or course.started_on,
            valid_to=valid_to,
        )
        letter = SimpleUploadedFile(
            f"{authorization.payer} approval {authorization.reference}.pdf",
            _approval_letter(authorization),
            "application/pdf",
        )
        attach_document(
            authorization=authorization, upload=letter, content_type="application/pdf", by=desk
        )
        created["authorizations"] += 1

    if len(with_visit) < 3 or len(without) < 4:
        return  # (a demo with another shape: nothing to show)
    today = timezone.localdate()
    authorize(with_visit[0], valid_to=today + 300 * day)  # active
    authorize(with_visit[1], valid_to=today + 300 * day, sessions_left=1)  # one session left
    authorize(with_visit[2], valid_to=today + 300 * day, sessions_left=0)  # used up
    authorize(without[0], valid_to=today + 14 * day)  # ending soon
    authorize(without[1], valid_to=today - 10 * day)  # expired
    authorize(without[2], valid_from=today + 20 * day, valid_to=today + 385 * day)  # future
    for course in without[3:]:
        # one that ends the day before the visit's search starts, and a visit a clinician
        # books after it, with the reason: the override kept on the visit
        local_today = timezone.localdate(timezone=course.patient.location.zone)
        start = max(course.earliest_on, local_today + day)
        try:
            with transaction.atomic():
                authorize(course, valid_to=start - day)
                _book_past_authorization(course, start)
        except BookingError:
            created["authorizations"] -= 1
            continue
        created["appointments"] += 1
        return


def _approval_letter(authorization: PriorAuthorization) -> bytes:
    """A payer's approval letter, as the front desk would scan it (a made-up one: the demo's)."""
    from treatments.pdf import H1, build, paragraph

    a = authorization
    lines = [
        f"{a.payer}: prior authorization approved (demo letter)",
        f"Authorization number {a.reference}, for {a.patient.full_name}.",
        f"OnabotulinumtoxinA (J0585) with chemodenervation (CPT 64615): {a.sessions_approved} "
        f"sessions, {a.units_approved} units in all, from {a.valid_from:%d %b %Y} to "
        f"{a.valid_to:%d %b %Y}.",
        "Continuation requires documented response (headache days) before the last session.",
    ]
    story = [paragraph(lines[0], H1), *(paragraph(line) for line in lines[1:])]
    return build(story, title=f"{a.payer} approval {a.reference}")


def _book_past_authorization(course: TreatmentCourse, start: datetime.date) -> None:
    """Book the patient's next visit in the fortnight from `start`, by the clinician, who
    overrides the authorization with a reason; BookingError if no slot will do."""
    patient = course.patient
    assert patient.location is not None  # every demo patient has a usual location
    slots = available_slots(location=patient.location, start_date=start, days=14)
    for slot in slots[:3]:
        try:
            book_appointment(
                patient=patient,
                clinician=slot.clinician,
                location=slot.location,
                starts_at=slot.starts_at,
                booked_by=slot.clinician,
                authorization_reason="Renewal sent to the payer; treating on time meanwhile.",
            )
        except BookingError:
            continue
        return
    raise BookingError("No slot for the demo's visit past its authorization.")


# --- outcomes: diaries and questionnaires ----------------------------------------------------

DIARY_DAYS = 182  # about six months
NON_RESPONDERS = 3  # of the diary keepers, this many do not improve


def _seed_outcomes() -> None:
    """Six months of diary for the portal patients and a few treated ones, and a MIDAS and a
    HIT-6 before each session in that time. Most improve after their sessions (headache days
    falling from the intake baseline); a few do not. Only on the first run."""
    if DiaryEntry.objects.exists():
        return
    treated = Patient.objects.filter(sessions__isnull=False, user__isnull=True).distinct()
    keepers = (
        (
            Patient.objects.filter(user__isnull=False)
            | Patient.objects.filter(pk__in=treated.order_by("mrn").values("pk")[:3])
        )
        .prefetch_related("sessions__location")
        .select_related("location")
        .order_by("mrn")
    )
    entries, responses = [], []
    for index, patient in enumerate(keepers):
        rng = random.Random(f"outcomes-{patient.mrn}")
        today = patient.local_today()
        given = sorted(s.session_date for s in patient.sessions.all())
        # Responders lose 40-70 % of their headache days over three cycles.
        response = 0.1 if index % 4 == 1 and index // 4 < NON_RESPONDERS else rng.uniform(0.4, 0.7)
        baseline = (patient.baseline_headache_days or 18) / 28
        for back in range(DIARY_DAYS, -1, -1):
            day = today - datetime.timedelta(days=back)
            if rng.random() < 0.12:  # a missed day
                continue
            cycles = sum(1 for given_on in given if given_on + datetime.timedelta(days=7) <= day)
            chance = baseline * (1 - response * min(cycles, 3) / 3)
            entries.append(_demo_diary_day(rng, patient, day, chance))
        for given_on in given:
            answered_on = given_on - datetime.timedelta(days=rng.randint(1, 10))
            if answered_on < today - datetime.timedelta(days=DIARY_DAYS):
                continue
            cycles = sum(1 for g in given if g < answered_on)
            burden = 1 - response * min(cycles, 3) / 3
            responses += _demo_questionnaires(rng, patient, answered_on, burden)
    DiaryEntry.objects.bulk_create(entries)
    QuestionnaireResponse.objects.bulk_create(responses)


def _demo_diary_day(rng, patient, day, chance) -> DiaryEntry:
    if rng.random() >= chance:
        return DiaryEntry(
            patient=patient,
            date=day,
            headache=False,
            acute_medication="simple_analgesic" if rng.random() < 0.03 else "none",
        )
    severity = rng.choices([1, 2, 3], weights=[3, 4, 2])[0]
    return DiaryEntry(
        patient=patient,
        date=day,
        headache=True,
        hours=rng.choice([1, 2, 3, 4, 6, 8, 12, 24]) if severity > 1 else rng.choice([1, 2]),
        severity=severity,
        migraine=severity > 1 and rng.random() < 0.8,
        acute_medication=(
            rng.choice(["triptan", "triptan", "nsaid", "combination_analgesic", "gepant"])
            if severity > 1 and rng.random() < 0.7
            else "none"
        ),
    )


def _demo_questionnaires(rng, patient, answered_on, burden) -> list[QuestionnaireResponse]:
    midas = [min(92, max(0, round(rng.gauss(9 * burden, 3)))) for _ in outcomes.MIDAS_ITEMS]
    points = [answer[2] for answer in outcomes.HIT6_ANSWERS]
    hit6 = [
        points[min(4, max(0, round(rng.gauss(1 + 3 * burden, 0.8))))] for _ in outcomes.HIT6_ITEMS
    ]
    rows = []
    for kind, answers, (total, band) in (
        ("midas", midas, outcomes.score_midas(midas)),
        ("hit6", hit6, outcomes.score_hit6(hit6)),
    ):
        rows.append(
            QuestionnaireResponse(
                patient=patient,
                kind=kind,
                answers=answers,
                total=total,
                band=band,
                answered_on=answered_on,
            )
        )
    return rows
