"""Writes for injection sessions: record a draft, sign it, amend it, report adverse events.
Each checks the rules (treatments/rules.py) first and writes nothing when one blocks."""

import datetime
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.models import Location, User
from patients import medications
from patients.models import Patient, PatientMedication
from treatments import protocol, rules
from treatments.models import (
    AdverseEvent,
    Appointment,
    CheckIn,
    InjectionSite,
    SessionAmendment,
    TreatmentCourse,
    TreatmentSession,
    VialLot,
    VialUse,
)
from treatments.services.reminders import (
    on_session_amended,
    plan_checkin_reminder,
    plan_due_reminder,
)
from treatments.services.schedule import set_appointment_status


class RuleViolation(Exception):
    """A rule blocks the write; `findings` says which and where."""

    def __init__(self, findings: list[rules.Finding]):
        self.findings = findings
        super().__init__("; ".join(f"{f.rule}: {f.message}" for f in findings))


class AlreadyRecorded(Exception):
    """The form that would record this session already recorded it (`session`)."""

    def __init__(self, session: "TreatmentSession"):
        self.session = session
        super().__init__(f"Session {session.pk} is already recorded.")


@dataclass(frozen=True)
class VialInput:
    lot_number: str
    product: str
    expiry: datetime.date
    vials: int = 1


@dataclass
class SessionInput:
    """What a clinician enters for a session (the form's cleaned data)."""

    location: Location
    administered_at: datetime.datetime
    reconstituted_at: datetime.datetime
    sites: list[rules.SiteEntry]
    vials: list[VialInput] = field(default_factory=list)
    diluent_ml: Decimal | float = 4
    consent: str = ""
    infection_at_site: bool | None = None
    hypersensitivity: bool | None = None
    pregnant_or_breastfeeding: bool | None = None
    other_toxin_recent: bool | None = None
    other_toxin_units: int = 0
    early_reason: str = ""
    extra_vial_reason: str = ""
    under_18_reason: str = ""
    notes: str = ""


SCALAR_FIELDS = (
    "location",
    "administered_at",
    "reconstituted_at",
    "diluent_ml",
    "consent",
    "infection_at_site",
    "hypersensitivity",
    "pregnant_or_breastfeeding",
    "other_toxin_recent",
    "other_toxin_units",
    "early_reason",
    "extra_vial_reason",
    "under_18_reason",
    "notes",
)


def standard_sites() -> list[rules.SiteEntry]:
    """The 31 fixed sites at 5 U: what a new session form starts from."""
    return [rules.SiteEntry(site.code, protocol.UNITS_PER_SITE) for site in protocol.FIXED_SITES]


def session_facts(
    *,
    patient: Patient,
    data: SessionInput,
    course: TreatmentCourse | None,
    exclude: TreatmentSession | None = None,
) -> rules.SessionFacts:
    """Gather what the rules need: the entry plus the patient's history."""
    session_date = data.administered_at.astimezone(data.location.zone).date()
    # R6 and R12 look at the signed sessions on both sides of this one: one entered late,
    # dated between two others, is checked against the later one too.
    others = (
        patient.sessions.signed()
        .exclude(pk=exclude.pk if exclude else None)
        .select_related("location")
    )
    previous = others.filter(administered_at__lt=data.administered_at).order_by("-administered_at")
    following = others.filter(administered_at__gte=data.administered_at).order_by("administered_at")
    window = datetime.timedelta(days=91)  # a day more: the window is in local dates
    nearby = others.filter(
        administered_at__gte=data.administered_at - window,
        administered_at__lte=data.administered_at + window,
    )
    previous_session, next_session = previous.first(), following.first()
    # R21: any session not discarded, draft or signed, on the same local day
    same_day = (
        patient.sessions.live()
        .exclude(pk=exclude.pk if exclude else None)
        .filter(given_on=session_date)
        .first()
    )
    interacting, toxins = _medication_facts(patient, session_date)
    return rules.SessionFacts(
        interacting_on_list=interacting,
        toxins_on_list=toxins,
        sites=data.sites,
        administered_at=data.administered_at,
        reconstituted_at=data.reconstituted_at,
        session_date=session_date,
        vials=[
            rules.VialEntry(v.lot_number, VialLot.VIAL_UNITS[v.product], v.expiry, v.vials)
            for v in data.vials
        ],
        consent=data.consent,
        course_consent_on=course.consent_on if course else None,
        infection_at_site=data.infection_at_site,
        hypersensitivity=data.hypersensitivity,
        pregnant_or_breastfeeding=data.pregnant_or_breastfeeding,
        other_toxin_recent=data.other_toxin_recent,
        other_toxin_units=data.other_toxin_units,
        botox_nearby=tuple((other.session_date, other.total_units) for other in nearby),
        previous_session_on=previous_session.session_date if previous_session else None,
        next_session_on=next_session.session_date if next_session else None,
        next_session_early_reason=next_session.early_reason if next_session else "",
        min_interval_days=(
            course.min_interval_days if course else settings.TREATMENT_MIN_INTERVAL_DAYS
        ),
        early_reason=data.early_reason,
        diluent_ml=data.diluent_ml,
        extra_vial_reason=data.extra_vial_reason,
        date_of_birth=patient.date_of_birth,
        under_18_reason=data.under_18_reason,
        now=timezone.now(),
        same_day_session=_describe(same_day) if same_day else "",
    )


TOXIN_LOOKAROUND = datetime.timedelta(days=90)  # R12: "within 3 months"


def _medication_facts(patient: Patient, day: datetime.date):
    """From the medication list: the interacting drugs taken on `day` (R22), and the other
    botulinum toxins taken within 3 months either side of it (R12), as (name, from, to)."""
    nearby = PatientMedication.objects.filter(
        patient=patient, started_on__lte=day + TOXIN_LOOKAROUND
    ).exclude(stopped_on__lt=day - TOXIN_LOOKAROUND)
    interacting, toxins = [], []
    for entry in nearby.order_by("started_on", "pk"):
        drug = medications.DRUGS.get(entry.drug)
        if drug is None:
            continue
        period = (drug.name, entry.started_on, entry.stopped_on)
        if drug.klass.interacts and entry.active_on(day):
            interacting.append(period)
        elif drug.klass.role == medications.TOXIN:
            toxins.append(period)
    return tuple(interacting), tuple(toxins)


def _describe(session: TreatmentSession) -> str:
    return f"cycle {session.cycle_number} ({session.get_status_display().lower()})"


def check_session(session: TreatmentSession) -> list[rules.Finding]:
    """The findings for a saved session, as they stand now."""
    return rules.evaluate(
        session_facts(
            patient=session.patient,
            data=session_input(session),
            course=session.course,
            exclude=session,
        )
    )


def session_input(session: TreatmentSession) -> SessionInput:
    """A saved session as the input that would record it again (for editing and amending)."""
    return SessionInput(
        **{name: getattr(session, name) for name in SCALAR_FIELDS},
        sites=[
            rules.SiteEntry(site.site_code, site.units, site.skipped_reason)
            for site in session.sites.all()
        ],
        vials=[
            VialInput(use.lot.lot_number, use.lot.product, use.lot.expiry, use.vials)
            for use in session.vials.all()
        ],
    )


@transaction.atomic
def record_session(
    *,
    patient: Patient,
    injector: User,
    data: SessionInput,
    session: TreatmentSession | None = None,
    form_token: uuid.UUID | None = None,
) -> TreatmentSession:
    """Save a draft session (new, or an edit of a draft).

    1. Refuse a signed or discarded session: a signed one changes only by `amend_session`.
    2. A new session's form already used (`form_token`: Back, a second tab) raises
       AlreadyRecorded with the session it recorded; nothing is written twice.
    3. Check the rules; any block that is not a sign-off block raises RuleViolation.
    4. Find or start the patient's active course; a new session takes the next cycle number.
    5. Write the session, its sites and its vials, with totals and waste computed here.
    """
    if session is not None and session.status != TreatmentSession.Status.DRAFT:
        raise ValueError("Only a draft is edited; a signed session is changed by an amendment.")
    _lock_history(patient)
    if session is None and form_token is not None:
        recorded = patient.sessions.filter(form_token=form_token).first()
        if recorded is not None:
            raise AlreadyRecorded(recorded)
    course = session.course if session else _active_course(patient, data)
    _refuse_blocks(patient=patient, data=data, course=course, exclude=session)
    if session is None:
        # The patient's checked-in visit, if any: signing the session will fulfil it.
        arrived = (
            patient.appointments.filter(status=Appointment.Status.ARRIVED, session__isnull=True)
            .order_by("-starts_at")
            .first()
        )
        session = TreatmentSession(
            appointment=arrived,
            patient=patient,
            course=course,
            injector=injector,
            cycle_number=_next_cycle(course),
            form_token=form_token,
        )
    _write_once(session, data)
    return session


@transaction.atomic
def sign_session(
    *, session: TreatmentSession, user: User, acknowledged: list[str]
) -> TreatmentSession:
    """Sign a draft: every block (including sign-off blocks) must be clear, and every warning
    that needs it acknowledged. A signed session is locked."""
    _lock_history(session.patient)
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    if session.is_signed:
        return session  # signing twice is harmless
    if session.is_voided:
        raise ValueError("A discarded draft cannot be signed.")
    findings = check_session(session)
    missing_acks = [f for f in findings if f.needs_ack and f.rule not in acknowledged]
    problems = [f for f in findings if f.severity == rules.BLOCK] + missing_acks
    if problems:
        raise RuleViolation(problems)
    session.acknowledged = sorted({f.rule for f in findings if f.needs_ack})
    session.status = TreatmentSession.Status.SIGNED
    session.signed_at = timezone.now()
    session.signed_by = user
    session.save(update_fields=["acknowledged", "status", "signed_at", "signed_by", "updated_at"])
    _move_due_dates(session.course)
    plan_due_reminder(course=session.course)
    plan_checkin_reminder(session=session)
    visit = session.appointment
    if visit is not None and visit.status == Appointment.Status.ARRIVED:
        # A recorded session fulfils its visit: through the state machine (lock, event).
        set_appointment_status(appointment=visit, status=Appointment.Status.FULFILLED, by=user)
    return session


def _move_due_dates(course: TreatmentCourse) -> None:
    """The schedule is anchored on the last session actually given (docs/architecture.md)."""
    last = course.sessions.signed().select_related("location").order_by("-administered_at").first()
    course.last_session_on = last.session_date if last else None
    course.save(update_fields=["last_session_on"])


@transaction.atomic
def amend_session(
    *,
    session: TreatmentSession,
    user: User,
    data: SessionInput,
    reason: str,
    acknowledged: list[str] | tuple[str, ...] = (),
) -> SessionAmendment:
    """Correct a signed session by recording a new version of it.

    1. Only the current signed version is amended, and only with a reason.
    2. The rules run as at signing: any block refuses, and every warning that needs an
       acknowledgement must have one (a later "pregnant: yes" needs R7's like a first one).
    3. The old version is marked superseded, the one change the database lets a signed row
       take (migration 0012); the new version is written as a draft and signed by `user`;
       the visit it fulfilled, its adverse events and its check-in move to it, and a check-in
       message not sent yet is planned again for it. Both versions are kept.
    4. An amended date moves the due dates and re-plans the "due, not booked" reminder; the
       patient's future visits are re-checked by `visits_before_earliest` (shown after).
    """
    if not reason.strip():
        raise RuleViolation(
            [rules.Finding("amend", rules.BLOCK, "Give a reason for the amendment.", "reason")]
        )
    _lock_history(session.patient)
    session = (
        TreatmentSession.objects.select_for_update()
        .select_related("patient", "course", "location")
        .get(pk=session.pk)
    )
    if not session.is_signed:
        raise ValueError(
            "Edit a draft directly; amendments are for the current version of a signed session."
        )
    findings = rules.evaluate(
        session_facts(patient=session.patient, data=data, course=session.course, exclude=session)
    )
    missing_acks = [f for f in findings if f.needs_ack and f.rule not in acknowledged]
    problems = [f for f in findings if f.severity == rules.BLOCK] + missing_acks
    if problems:
        raise RuleViolation(problems)
    before = snapshot(session)
    visit = session.appointment
    TreatmentSession.objects.filter(pk=session.pk).update(
        status=TreatmentSession.Status.SUPERSEDED, appointment=None
    )
    original = session.original or session
    version = TreatmentSession(
        patient=session.patient,
        course=session.course,
        appointment=visit,
        cycle_number=session.cycle_number,
        injector=session.injector,
        original=original,
        version=session.version + 1,
    )
    _write_once(version, data)
    version.acknowledged = sorted({f.rule for f in findings if f.needs_ack})
    version.status = TreatmentSession.Status.SIGNED
    version.signed_at = timezone.now()
    version.signed_by = user
    version.save(update_fields=["acknowledged", "status", "signed_at", "signed_by", "updated_at"])
    AdverseEvent.objects.filter(session=session).update(session=version)
    CheckIn.objects.filter(session=session).update(session=version)
    on_session_amended(previous=session, version=version)
    amendment = SessionAmendment.objects.create(
        session=original,
        previous_version=session,
        new_version=version,
        reason=reason.strip(),
        before=before,
        after=snapshot(version),
        amended_by=user,
    )
    last_given = session.course.last_session_on
    _move_due_dates(session.course)
    if session.course.last_session_on != last_given:
        plan_due_reminder(course=session.course)
    return amendment


def visits_before_earliest(patient: Patient) -> list[Appointment]:
    """The patient's booked injection visits now earlier than the course's minimum interval
    allows (R6) with no reason kept for treating early: what an amended session date (or a
    session entered late) leaves to rebook."""
    course = patient.courses.active().first()
    earliest = course.earliest_on if course else None
    if earliest is None:
        return []
    visits = patient.appointments.active().filter(
        kind=Appointment.Kind.INJECTION, early_override_reason=""
    )
    visits = visits.select_related("location")
    return [visit for visit in visits if visit.local_starts_at.date() < earliest]


@transaction.atomic
def discard_draft(*, session: TreatmentSession, user: User, reason: str) -> TreatmentSession:
    """Void a draft with a reason: it stays in the chart's history as discarded and no longer
    counts for R21, cycle numbers, due dates or billing. A signed session is amended instead.
    It frees the visit it was recorded against, so the next session can fulfil it."""
    if not reason.strip():
        raise ValueError("A discarded draft needs a reason.")
    _lock_history(session.patient)
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    if session.is_voided:
        return session  # discarding twice is harmless
    if session.is_signed:
        raise ValueError("A signed session is corrected by an amendment, not discarded.")
    session.status = TreatmentSession.Status.VOIDED
    session.voided_reason = reason.strip()
    session.voided_at = timezone.now()
    session.voided_by = user
    session.appointment = None
    session.save(
        update_fields=[
            "status",
            "voided_reason",
            "voided_at",
            "voided_by",
            "appointment",
            "updated_at",
        ]
    )
    return session


@transaction.atomic
def report_adverse_event(
    *, session: TreatmentSession, recorded_by: User | None, reported_by: str, **fields
) -> AdverseEvent:
    """Record an adverse event against a session (its patient is the session's)."""
    return AdverseEvent.objects.create(
        session=session,
        patient=session.patient,
        recorded_by=recorded_by,
        reported_by=reported_by,
        **fields,
    )


def snapshot(session: TreatmentSession) -> dict:
    """A version's clinical content as plain JSON: what an amendment's history compares
    (`SessionAmendment.changes`)."""
    session.refresh_from_db()
    return {
        "administered_at": session.administered_at.isoformat(),
        "reconstituted_at": session.reconstituted_at.isoformat(),
        "location": session.location.name,
        "diluent_ml": str(session.diluent_ml),
        "total_units": session.total_units,
        "units_wasted": session.units_wasted,
        "consent": session.consent,
        "infection_at_site": session.infection_at_site,
        "hypersensitivity": session.hypersensitivity,
        "pregnant_or_breastfeeding": session.pregnant_or_breastfeeding,
        "other_toxin_recent": session.other_toxin_recent,
        "other_toxin_units": session.other_toxin_units,
        "early_reason": session.early_reason,
        "extra_vial_reason": session.extra_vial_reason,
        "under_18_reason": session.under_18_reason,
        "acknowledged": session.acknowledged,
        "notes": session.notes,
        "sites": {
            site.site_code: site.units
            if site.units is not None
            else f"skipped: {site.skipped_reason}"
            for site in session.sites.all()
        },
        "vials": [
            f"{use.lot.lot_number} x{use.vials}" for use in session.vials.select_related("lot")
        ],
    }


def _lock_history(patient: Patient) -> None:
    """Lock the patient's row until the transaction ends: two sessions of one patient are not
    checked against each other's neighbours (R6, R12) and signed at the same time."""
    Patient.objects.select_for_update().values_list("pk", flat=True).get(pk=patient.pk)


def _refuse_blocks(*, patient, data, course, exclude) -> None:
    findings = rules.evaluate(
        session_facts(patient=patient, data=data, course=course, exclude=exclude)
    )
    blocks = [f for f in findings if f.blocks_save]
    if blocks:
        raise RuleViolation(blocks)


def _active_course(patient: Patient, data: SessionInput) -> TreatmentCourse:
    course = patient.courses.active().first()
    if course is None:
        course = TreatmentCourse.objects.create(
            patient=patient,
            started_on=data.administered_at.astimezone(data.location.zone).date(),
            interval_days=settings.TREATMENT_INTERVAL_DAYS,
            min_interval_days=settings.TREATMENT_MIN_INTERVAL_DAYS,
        )
    return course


def _next_cycle(course: TreatmentCourse) -> int:
    last = course.sessions.live().order_by("-cycle_number").values_list("cycle_number", flat=True)
    return (last.first() or 0) + 1


def _write_once(session: TreatmentSession, data: SessionInput) -> None:
    """`_write`, with the database's once-a-day constraint as the backstop behind the patient
    lock (a writer that did not take it): its refusal is R21's finding, not an error page."""
    try:
        with transaction.atomic():
            _write(session, data)
    except IntegrityError:
        local_day = data.administered_at.astimezone(data.location.zone).date()
        others = session.patient.sessions.live().exclude(pk=session.pk)
        if not others.filter(given_on=local_day).exists():
            raise
        message = f"This patient already has a session on {local_day:%Y-%m-%d}."
        raise RuleViolation(
            [rules.Finding("R21", rules.BLOCK, message, "administered_at")]
        ) from None


def _write(session: TreatmentSession, data: SessionInput) -> None:
    for name in SCALAR_FIELDS:
        setattr(session, name, getattr(data, name))
    session.total_units = sum(site.units for site in data.sites if site.units is not None)
    session.save()
    _write_sites(session, data.sites)
    _write_vials(session, data.vials)


def _write_sites(session: TreatmentSession, entries: list[rules.SiteEntry]) -> None:
    session.sites.all().delete()
    rows = []
    for entry in entries:
        if entry.units is None and not entry.skipped_reason:
            continue  # a follow-the-pain site not used
        site = protocol.SITES[entry.code]
        rows.append(
            InjectionSite(
                session=session,
                site_code=entry.code,
                muscle=site.muscle,
                side=site.side,
                is_ftp=site.ftp,
                units=entry.units,
                skipped_reason="" if entry.units is not None else entry.skipped_reason,
            )
        )
    InjectionSite.objects.bulk_create(rows)


def _write_vials(session: TreatmentSession, vials: list[VialInput]) -> None:
    """Waste: fill the vials in the order given; whatever is drawn and not given is wasted."""
    session.vials.all().delete()
    remaining = session.total_units
    for vial in vials:
        lot, _ = VialLot.objects.get_or_create(
            product=vial.product, lot_number=vial.lot_number, defaults={"expiry": vial.expiry}
        )
        drawn = vial.vials * lot.vial_units
        administered = min(drawn, remaining)
        remaining -= administered
        VialUse.objects.create(
            session=session,
            lot=lot,
            vials=vial.vials,
            units_drawn=drawn,
            units_administered=administered,
            units_wasted=drawn - administered,
        )
    session.units_wasted = sum(session.vials.values_list("units_wasted", flat=True))
    session.save(update_fields=["units_wasted"])
