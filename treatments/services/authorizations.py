"""Prior authorizations (issue 16): recording them, their documents, what they have left, the
booking guard, and the front desk's worklist of those that need renewing.

The booking guard runs inside `book_appointment` and `reschedule_appointment`, under the locks
they take (the clinician's and the patient's rows): the portal books through them too. Why no
trigger holds it as well: see treatments/models/payers.py."""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic.models import Location, User
from patients import outcomes
from patients.models import DiaryEntry, Patient
from treatments import protocol
from treatments.models import (
    Appointment,
    AuthorizationDocument,
    PriorAuthorization,
    TreatmentSession,
)
from treatments.models.payers import AuthorizationQuerySet
from treatments.models.schedule import LocalDate
from treatments.services.local_dates import on_local_dates


class AuthorizationRefused(Exception):
    """The visit is not covered by the patient's prior authorization; `field` names the form
    field to show it at (the schedule's BookingError wraps it)."""

    def __init__(self, message: str, field: str | None = None):
        self.message, self.field = message, field
        super().__init__(message)


# --- what an authorization has used -------------------------------------------------------------


def _subquery_count(rows: QuerySet) -> Coalesce:
    counted = rows.order_by().values("patient_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


_Rows = TypeVar("_Rows", bound=QuerySet)


def with_usage(authorizations: _Rows, *, ignore: Appointment | None = None) -> _Rows:
    """Each authorization with `sessions_given` and `units_given` (signed sessions given in its
    period, by their local date) and `visits_booked` (booked or arrived injection visits of
    the patient on a local date in its period; `ignore`: the visit being moved). Three
    subqueries, however many rows."""
    signed = TreatmentSession.objects.signed().filter(
        patient=OuterRef("patient"),
        given_on__gte=OuterRef("valid_from"),
        given_on__lte=OuterRef("valid_to"),
    )
    units = signed.order_by().values("patient_id").annotate(u=Sum("total_units")).values("u")
    visits = (
        Appointment.objects.active()
        .filter(patient=OuterRef("patient"), kind=Appointment.Kind.INJECTION)
        .alias(day=LocalDate(F("starts_at"), F("location__time_zone")))
        .filter(day__gte=OuterRef("valid_from"), day__lte=OuterRef("valid_to"))
    )
    if ignore is not None:
        visits = visits.exclude(pk=ignore.pk)
    return authorizations.annotate(
        sessions_given=_subquery_count(signed),
        units_given=Coalesce(Subquery(units, output_field=IntegerField()), Value(0)),
        visits_booked=_subquery_count(visits),
    )


def planned_dose(patient: Patient) -> int:
    """The units the next session is expected to need: the patient's last signed session's
    total, or the PREEMPT dose (155 U) before any."""
    last = (
        TreatmentSession.objects.signed()
        .filter(patient=patient)
        .order_by("-administered_at")
        .values_list("total_units", flat=True)
        .first()
    )
    return last or protocol.STANDARD_TOTAL_UNITS


STATES = {
    "future": ("Future", "secondary"),
    "expired": ("Expired", "dark"),
    "used_up": ("Used up", "danger"),
    "one_left": ("One session left", "warning"),
    "ending_soon": ("Ending soon", "warning"),
    "active": ("Active", "success"),
}


def authorization_state(authorization: PriorAuthorization, today: datetime.date) -> str:
    """A key of STATES, for an authorization `with_usage`: sessions count as used once given
    or booked in its period."""
    if authorization.valid_from > today:
        return "future"
    if authorization.valid_to < today:
        return "expired"
    used = authorization.sessions_given + authorization.visits_booked
    left = authorization.sessions_approved - used
    if left <= 0 or authorization.units_given >= authorization.units_approved:
        return "used_up"
    if left == 1:
        return "one_left"
    if authorization.valid_to <= today + datetime.timedelta(days=settings.AUTHORIZATION_RENEW_DAYS):
        return "ending_soon"
    return "active"


# --- the booking guard --------------------------------------------------------------------------


def check_visit_authorized(
    *,
    patient: Patient,
    kind: str,
    starts_at: datetime.datetime,
    location: Location,
    by: User,
    override_reason: str = "",
    ignore: Appointment | None = None,
) -> str | None:
    """Whether the patient's prior authorization covers this visit; called by the booking
    services under their locks. Returns the override reason to keep on the appointment (None
    when none was needed); raises AuthorizationRefused.

    1. Only injection visits of patients with an authorization on file (none: self-pay).
    2. Refused when (a) none covers the visit's local date, (b) its sessions are used up
       (signed sessions in its period + other booked or arrived injection visits in it
       >= sessions approved), or (c) its units would be exceeded (units given in its period
       + the planned dose > units approved).
    3. A clinician may go ahead with a reason; anyone else is refused (a patient in the
       portal is asked to call the clinic).
    """
    if kind != Appointment.Kind.INJECTION:
        return None
    on_file = PriorAuthorization.objects.filter(patient=patient)
    if not on_file.exists():
        return None
    day = starts_at.astimezone(location.zone).date()
    problem = _authorization_problem(on_file, patient, day, ignore)
    if problem is None:
        return None
    if by.role == User.Role.PATIENT:
        raise AuthorizationRefused(PORTAL_CALL_THE_CLINIC, "slot")
    if by.role != User.Role.CLINICIAN:
        raise AuthorizationRefused(f"{problem} Only a clinician can book it anyway.", "slot")
    reason = override_reason.strip()
    if not reason:
        raise AuthorizationRefused(
            f"{problem} To book it anyway, give the reason.", "authorization_reason"
        )
    return reason


def authorized_days(
    patient: Patient, *, ignore: Appointment | None = None
) -> Callable[[datetime.date], bool] | None:
    """Whether the guard would let the patient book an injection on a day, without asking a
    clinician: for the portal, which offers only those days (two queries for any number of
    days). None when no authorization is on file (self-pay: every day)."""
    on_file = list(with_usage(PriorAuthorization.objects.filter(patient=patient), ignore=ignore))
    if not on_file:
        return None
    dose = planned_dose(patient)

    def allowed(day: datetime.date) -> bool:
        covering = [a for a in on_file if a.valid_from <= day <= a.valid_to]
        if not covering:
            return False
        chosen = max(covering, key=lambda a: (a.valid_from, a.pk))  # as `covering` chooses
        used = chosen.sessions_given + chosen.visits_booked
        return (
            used < chosen.sessions_approved and chosen.units_given + dose <= chosen.units_approved
        )

    return allowed


PORTAL_CALL_THE_CLINIC = (
    "Please call the clinic to book this visit: your insurer's authorization needs to be "
    "checked first."
)


def _authorization_problem(
    on_file: AuthorizationQuerySet,
    patient: Patient,
    day: datetime.date,
    ignore: Appointment | None,
) -> str | None:
    covering = with_usage(on_file, ignore=ignore).covering(patient.pk, day)
    if covering is None:
        later = on_file.filter(valid_from__gt=day).order_by("valid_from").first()
        if later is not None:
            return (
                f"{day:%a %d %b %Y} is before the prior authorization {later.reference} "
                f"({later.payer}) starts on {later.valid_from:%d %b %Y}."
            )
        ended = on_file.filter(valid_to__lt=day).order_by("-valid_to").first()
        assert ended is not None  # one is on file, none covers the day, none starts after it
        return (
            f"{day:%a %d %b %Y} is past the end of the prior authorization {ended.reference} "
            f"({ended.payer}), valid to {ended.valid_to:%d %b %Y}."
        )
    used = covering.sessions_given + covering.visits_booked
    if used >= covering.sessions_approved:
        return (
            f"The sessions of the prior authorization {covering.reference} are used up: "
            f"{covering.sessions_approved} approved, {covering.sessions_given} given and "
            f"{covering.visits_booked} booked in its period."
        )
    dose = planned_dose(patient)
    if covering.units_given + dose > covering.units_approved:
        return (
            f"The units of the prior authorization {covering.reference} would be exceeded: "
            f"{covering.units_approved} U approved, {covering.units_given} U given, "
            f"{dose} U planned."
        )
    return None


# --- recording ------------------------------------------------------------------------------------


@transaction.atomic
def record_authorization(
    *,
    patient: Patient,
    by: User,
    payer: str,
    reference: str,
    sessions_approved: int,
    units_approved: int,
    valid_from: datetime.date,
    valid_to: datetime.date,
    notes: str = "",
) -> PriorAuthorization:
    """Record a payer's authorization for the patient."""
    return PriorAuthorization.objects.create(
        patient=patient,
        created_by=by,
        payer=payer.strip(),
        reference=reference.strip(),
        sessions_approved=sessions_approved,
        units_approved=units_approved,
        valid_from=valid_from,
        valid_to=valid_to,
        notes=notes.strip(),
    )


EDITABLE = ("payer", "reference", "sessions_approved", "units_approved", "valid_from", "valid_to")


@transaction.atomic
def update_authorization(
    *, authorization: PriorAuthorization, **changes: object
) -> PriorAuthorization:
    """Correct an authorization's terms (a typo, or the payer extended it)."""
    for name, value in changes.items():
        if name not in (*EDITABLE, "notes"):
            raise TypeError(f"{name} is not a field of an authorization one may edit")
        setattr(authorization, name, value.strip() if isinstance(value, str) else value)
    authorization.save()
    return authorization


@transaction.atomic
def attach_document(
    *, authorization: PriorAuthorization, upload: UploadedFile, content_type: str, by: User
) -> AuthorizationDocument:
    """Keep an uploaded document (already checked by the form: its first bytes and size) under
    MEDIA_ROOT/authorizations/ with a random name."""
    return AuthorizationDocument.objects.create(
        authorization=authorization,
        file=upload,
        original_name=(upload.name or "document")[:200],
        content_type=content_type,
        size=upload.size or 0,
        uploaded_by=by,
    )


class DocumentAlreadyRemoved(Exception):
    pass


@transaction.atomic
def remove_document(*, document: AuthorizationDocument, by: User, reason: str) -> None:
    """Remove a document attached by mistake (another patient's letter, a wrong scan): its file
    is deleted from the disk once this commits; its row stays, saying who removed it, when and
    why. A second removal (two desks at once, the Back button) is refused, changing nothing."""
    removed = AuthorizationDocument.objects.filter(pk=document.pk, removed_at__isnull=True).update(
        removed_at=timezone.now(), removed_by=by, removed_reason=reason.strip()
    )
    if not removed:
        raise DocumentAlreadyRemoved
    name, storage = document.file.name, document.file.storage
    transaction.on_commit(lambda: storage.delete(name))


# --- the worklist -----------------------------------------------------------------------------


def to_renew(
    *, today: datetime.date, today_at: dict[int, datetime.date] | None = None
) -> QuerySet[PriorAuthorization]:
    """The worklist, ending soonest first: each patient's latest-ending authorization when
    it ends within AUTHORIZATION_RENEW_DAYS of today (the patient's location's date), has one
    session left or none (given or booked), or the patient's next booked injection falls
    past its end. An authorization followed by a later one is renewed already."""
    renew_days = datetime.timedelta(days=settings.AUTHORIZATION_RENEW_DAYS)
    later = PriorAuthorization.objects.filter(patient=OuterRef("patient")).filter(
        Q(valid_to__gt=OuterRef("valid_to"))
        | Q(valid_to=OuterRef("valid_to"), pk__gt=OuterRef("pk"))
    )
    past_end = (
        Appointment.objects.active()
        .filter(patient=OuterRef("patient"), kind=Appointment.Kind.INJECTION)
        .alias(day=LocalDate(F("starts_at"), F("location__time_zone")))
        .filter(day__gt=OuterRef("valid_to"))
    )
    rows = with_usage(PriorAuthorization.objects.all()).alias(
        renewed=Exists(later), visit_past_end=Exists(past_end)
    )

    def condition(day: datetime.date) -> Q:
        ending = Q(valid_to__gte=day, valid_to__lte=day + renew_days)
        running = Q(valid_from__lte=day, valid_to__gte=day)
        return ending | (running & Q(sessions_left__lte=1)) | Q(visit_past_end=True)

    rows = rows.alias(
        sessions_left=F("sessions_approved") - F("sessions_given") - F("visits_booked")
    )
    return (
        rows.filter(renewed=False)
        .filter(
            on_local_dates(
                condition, today=today, today_at=today_at, location_field="patient__location_id"
            )
        )
        .order_by("valid_to", "pk")
    )


@dataclass
class RenewalRow:
    """One authorization on the worklist, with the evidence a renewal asks for."""

    authorization: PriorAuthorization
    state: str
    next_visit: Appointment | None
    sessions: list[TreatmentSession] = field(default_factory=list)  # given under it
    baseline: int | None = None
    latest: outcomes.DiarySummary | None = None

    @property
    def visit_past_end(self) -> bool:
        return self.next_visit is not None and (
            self.next_visit.local_starts_at.date() > self.authorization.valid_to
        )

    @property
    def badge(self) -> tuple[str, str]:
        return STATES[self.state]


def renewal_rows(
    authorizations: Iterable[PriorAuthorization], *, today_at: dict[int, datetime.date]
) -> list[RenewalRow]:
    """The rows of one page of `to_renew` (loaded with the patient and their location): four
    queries however many rows (the patients' signed sessions, next visits and diaries)."""
    authorizations = list(authorizations)
    patient_ids = {a.patient_id for a in authorizations}
    sessions: dict[int, list[TreatmentSession]] = {}
    for session in (
        TreatmentSession.objects.signed()
        .filter(patient_id__in=patient_ids)
        .only(
            "patient_id", "course_id", "cycle_number", "given_on", "total_units", "administered_at"
        )
        .order_by("administered_at")
    ):
        sessions.setdefault(session.patient_id, []).append(session)
    visits = {
        visit.patient_id: visit
        for visit in Appointment.objects.active()
        .filter(patient_id__in=patient_ids, kind=Appointment.Kind.INJECTION)
        .select_related("location")
        .only("patient_id", "starts_at", "location__time_zone", "location__name")
    }
    firsts = {pk: _first_cycle_on(rows) for pk, rows in sessions.items()}
    diaries = _diaries(authorizations, firsts, today_at)
    rows = []
    for authorization in authorizations:
        patient = authorization.patient
        today = today_at.get(patient.location_id or 0) or patient.local_today()
        review = outcomes.response_review(
            diaries.get(patient.pk, []),
            today=today,
            count=1,
            intake=patient.baseline_headache_days,
            first_session_on=firsts.get(patient.pk),
        )
        given = [
            s
            for s in sessions.get(patient.pk, [])
            if authorization.valid_from <= s.given_on <= authorization.valid_to
        ]
        rows.append(
            RenewalRow(
                authorization=authorization,
                state=authorization_state(authorization, today),
                next_visit=visits.get(patient.pk),
                sessions=given,
                baseline=review.baseline,
                latest=review.windows[-1] if review.windows else None,
            )
        )
    return rows


def _first_cycle_on(sessions: list[TreatmentSession]) -> datetime.date | None:
    """The local date of cycle 1 of the latest course given (as the chart reads it)."""
    if not sessions:
        return None
    course = sessions[-1].course_id
    return next(
        (s.given_on for s in sessions if s.course_id == course and s.cycle_number == 1), None
    )


def _diaries(
    authorizations: list[PriorAuthorization],
    firsts: dict[int, datetime.date | None],
    today_at: dict[int, datetime.date],
) -> dict[int, list[DiaryEntry]]:
    """The diary days the evidence reads, for every patient of the page in one query: the
    latest window (to the patient's today) and the 28 days before cycle 1."""
    window = datetime.timedelta(days=outcomes.WINDOW_DAYS)
    ranges = Q(pk__in=[])
    for authorization in authorizations:
        patient = authorization.patient
        today = today_at.get(patient.location_id or 0) or patient.local_today()
        ranges |= Q(patient_id=patient.pk, date__gt=today - window - datetime.timedelta(days=1))
        first = firsts.get(patient.pk)
        if first is not None:
            ranges |= Q(patient_id=patient.pk, date__gte=first - window, date__lt=first)
    by_patient: dict[int, list[DiaryEntry]] = {}
    for entry in DiaryEntry.objects.filter(ranges).order_by("date"):
        by_patient.setdefault(entry.patient_id, []).append(entry)
    return by_patient
