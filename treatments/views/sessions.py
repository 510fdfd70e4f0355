"""Injection sessions, the patient chart and lot recall: clinicians (recall: clinic admins too)."""

import uuid
from typing import Any

from django.contrib import messages
from django.db.models import (
    CharField,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, clinician_required, recall_required
from clinic.db_routers import reading_from_replica
from clinic.models import Location
from clinic.paging import PAGE_SIZE, page_of
from patients.models import Patient
from treatments import charts, protocol, rules, timeline
from treatments.forms import (
    AdverseEventForm,
    AmendmentReasonForm,
    DiscardForm,
    SessionEntry,
    location_zone,
)
from treatments.models import AdverseEvent, TreatmentSession, VialLot, VialUse
from treatments.services import (
    AlreadyRecorded,
    RuleViolation,
    amend_session,
    available_slots,
    check_session,
    discard_draft,
    record_session,
    report_adverse_event,
    sign_session,
    standard_sites,
    visits_before_earliest,
)
from treatments.views import lot_options, pk_url


def _sessions(user):
    return (
        TreatmentSession.objects.for_user(user)
        .select_related(
            "patient", "patient__location", "location", "injector", "signed_by", "course"
        )
        .prefetch_related("sites", "vials__lot", "adverse_events")
    )


@clinician_required
def session_create(request: AuthenticatedHttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_object_or_404(
        Patient.objects.for_user(request.user).select_related("location"), pk=patient_pk
    )
    draft = patient.sessions.filter(status=TreatmentSession.Status.DRAFT).first()
    if draft:
        if request.method == "POST" and request.POST.get("form_token") == str(draft.form_token):
            return _already_recorded(request, draft)
        messages.info(request, "This patient has a draft session: continue it here.")
        return redirect("treatments:session_update", pk=draft.pk)
    return _session_page(request, patient=patient, session=None)


ALREADY_RECORDED = "This session is already recorded."


def _already_recorded(request, session):
    """A resubmitted new-session form (Back, a second tab): show what it recorded (R21)."""
    messages.info(request, ALREADY_RECORDED)
    if session.is_signed:
        return redirect("treatments:session_detail", pk=session.pk)
    return redirect("treatments:session_update", pk=session.pk)


@clinician_required
def session_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(_sessions(request.user), pk=pk)
    if session.is_signed:
        return redirect("treatments:session_amend", pk=session.pk)
    if session.is_voided or session.is_superseded:
        return redirect("treatments:session_detail", pk=session.pk)
    return _session_page(request, patient=session.patient, session=session)


@clinician_required
def session_amend(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(_sessions(request.user), pk=pk)
    if session.is_superseded:
        messages.info(request, SUPERSEDED)
        return redirect("treatments:session_detail", pk=session.pk)
    if not session.is_signed:
        return redirect("treatments:session_update", pk=session.pk)
    return _session_page(request, patient=session.patient, session=session, amending=True)


SUPERSEDED = "This version has been amended since: amend the current version."


def _session_page(request, *, patient, session, amending=False):
    """The session form: new, draft, or amendment. Times are in the location's zone."""
    default_location = (
        session.location if session else (patient.location or Location.objects.first())
    )
    data = request.POST if request.method == "POST" else None
    with timezone.override(location_zone(data, default_location)):
        entry = SessionEntry(
            data,
            session=session,
            initial_sites=standard_sites(),
            initial=None if session else _new_session_initial(default_location),
            initial_lot=None if session else _last_lot(default_location),
        )
        reason = AmendmentReasonForm(data) if amending else None
        refused: list[rules.Finding] = []
        if data is not None and entry.is_valid() and (reason is None or reason.is_valid()):
            try:
                if amending:
                    session = amend_session(
                        session=session,
                        user=request.user,
                        data=entry.to_input(),
                        reason=reason.cleaned_data["reason"],
                        acknowledged=entry.form.cleaned_data["acknowledged"],
                    ).new_version
                else:
                    session = record_session(
                        patient=patient,
                        injector=request.user,
                        data=entry.to_input(),
                        session=session,
                        form_token=None if session else entry.form.cleaned_data["form_token"],
                    )
            except AlreadyRecorded as recorded:
                return _already_recorded(request, recorded.session)
            except RuleViolation as violation:
                entry.add_findings(violation.findings)
                refused = violation.findings
            except ValueError:  # amended meanwhile (another tab): this version is superseded
                messages.error(request, SUPERSEDED)
                return redirect("treatments:session_detail", pk=session.pk)
            else:
                return _after_save(request, session, entry, amending)
        return render(
            request,
            "treatments/session_form.html",
            _session_context(patient, session, entry, reason, refused),
        )


def _new_session_initial(location):
    now = timezone.localtime().replace(second=0, microsecond=0)
    return {
        "location": location,
        "administered_at": now,
        "reconstituted_at": now,
        "form_token": uuid.uuid4(),
    }


def _last_lot(location) -> VialLot | None:
    """The lot most recently used at this location, if it has not expired: usually the box
    on the shelf."""
    use = (
        VialUse.objects.filter(session__location=location, lot__expiry__gte=timezone.localdate())
        .select_related("lot")
        .order_by("-session__administered_at")
        .first()
    )
    return use.lot if use else None


def _after_save(request, session, entry, amending):
    if amending:
        messages.success(
            request, f"Amendment recorded as version {session.version}; every version is kept."
        )
        _warn_visits_before_earliest(request, session.patient)
        return redirect("treatments:session_detail", pk=session.pk)
    if request.POST.get("action") != "sign":
        messages.success(request, "Draft saved.")
        return redirect("treatments:session_update", pk=session.pk)
    try:
        sign_session(
            session=session, user=request.user, acknowledged=entry.form.cleaned_data["acknowledged"]
        )
    except RuleViolation as violation:
        messages.warning(
            request,
            "Saved as a draft. Before it can be signed: "
            + " ".join(f"{f.rule}: {f.message}" for f in violation.findings),
        )
        return redirect("treatments:session_update", pk=session.pk)
    messages.success(request, f"Cycle {session.cycle_number} signed.")
    return redirect("treatments:session_detail", pk=session.pk)


def _warn_visits_before_earliest(request, patient):
    for visit in visits_before_earliest(patient):
        messages.warning(
            request,
            f"The visit booked for {visit.local_starts_at:%a %d %b %Y %H:%M} is now earlier than "
            "the minimum interval allows: rebook it, or record a reason for treating early.",
        )


def _session_context(patient, session, entry, reason, refused=()):
    findings = check_session(session) if session else []
    last_signed = (
        patient.sessions.signed()
        .exclude(pk=getattr(session, "pk", None))
        .order_by("-administered_at")
        .first()
    )
    return {
        "patient": patient,
        "session": session,
        "entry": entry,
        "reason_form": reason,
        "findings": findings,
        # the saved record's warnings, and those of the entry the rules just refused
        "ack_rules": {f.rule for f in [*findings, *refused] if f.needs_ack},
        "alerts": (AdverseEvent.objects.filter(session=last_signed) if last_signed else []),
        "known_lots": lot_options(
            VialLot.objects.filter(expiry__gte=timezone.localdate()).order_by("-expiry")[:50]
        ),
        "protocol_data": _protocol_data(),
        "discard_form": DiscardForm() if session and session.status == "draft" else None,
    }


def _protocol_data():
    """The numbers the map's tally needs, from the one catalogue."""
    return {
        "units_per_site": protocol.UNITS_PER_SITE,
        "standard_total": protocol.STANDARD_TOTAL_UNITS,
        "max_total": protocol.MAX_TOTAL_UNITS,
        "max_site_units": protocol.MAX_SITE_UNITS,
        "muscles": {
            code: {
                "name": m.name,
                "fixed_sites": m.fixed_sites,
                "fixed_units": m.fixed_units,
                "ftp_max_units": m.ftp_max_units,
                "ftp_max_sites": m.ftp_max_sites,
            }
            for code, m in protocol.MUSCLES.items()
        },
    }


@clinician_required
def session_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(_sessions(request.user), pk=pk)
    next_visit = session.patient.appointments.active().first()
    original = session.original or session
    context = {
        "session": session,
        "patient": session.patient,
        "history": [
            (amendment, amendment.changes(session.location.zone))
            for amendment in original.amendments.select_related(
                "amended_by", "previous_version", "new_version"
            )
        ],
        "current": (
            original.later_versions.filter(status=TreatmentSession.Status.SIGNED).first()
            if session.is_superseded
            else None
        ),
        "visits_to_rebook": visits_before_earliest(session.patient) if session.is_signed else [],
        "next_visit": next_visit,
        "next_slots": [] if next_visit or not session.is_signed else _next_slots(session),
        "findings": [] if session.status != session.Status.DRAFT else check_session(session),
        "acknowledged": [(rule, rules.ACKNOWLEDGEABLE[rule]) for rule in session.acknowledged],
    }
    with timezone.override(session.local_administered_at.tzinfo):
        return render(request, "treatments/session_detail.html", context)


@clinician_required
@require_POST
def session_discard(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Discard a draft with a reason; it stays in the chart's history, marked discarded."""
    session = get_object_or_404(_sessions(request.user), pk=pk)
    if session.status != session.Status.DRAFT:
        messages.error(request, "Only a draft can be discarded; a signed session is amended.")
        return redirect("treatments:session_detail", pk=session.pk)
    form = DiscardForm(request.POST)
    if not form.is_valid():
        context = {"session": session, "patient": session.patient, "form": form}
        return render(request, "treatments/session_discard_form.html", context)
    discard_draft(session=session, user=request.user, reason=form.cleaned_data["reason"])
    messages.success(request, f"Draft of cycle {session.cycle_number} discarded.")
    return redirect("treatments:chart", patient_pk=session.patient_id)


def _next_slots(session):
    """After sign-off: the first free slots from the earliest date for the next session."""
    course = session.course
    start = max(course.earliest_on or timezone.localdate(), timezone.localdate())
    return available_slots(location=session.location, start_date=start, days=21, per_clinician=3)


@clinician_required
def adverse_event_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(_sessions(request.user), pk=pk)
    form = AdverseEventForm(request.POST if request.method == "POST" else None, session=session)
    if form.is_valid():
        report_adverse_event(
            session=session,
            recorded_by=request.user,
            reported_by=AdverseEvent.Reporter.CLINICIAN,
            **form.cleaned_data,
        )
        messages.success(request, "Adverse event recorded.")
        return redirect("treatments:session_detail", pk=session.pk)
    return render(
        request,
        "treatments/adverse_event_form.html",
        {"form": form, "session": session, "patient": session.patient},
    )


@clinician_required
def chart(request: AuthenticatedHttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_object_or_404(charts.chart_patients(request.user), pk=patient_pk)
    sessions = list(patient.sessions.all())
    entries = list(patient.medications.all())
    figures = charts.outcome_figures(patient=patient, sessions=sessions, medications=entries)
    context = {
        "patient": patient,
        "sessions": sessions,
        "site_history": _site_history(sessions),
        "ftp_limits": {code: m.ftp_max_units for code, m in protocol.MUSCLES.items()},
        "diary_windows": figures.windows[::-1],
        "review": figures.review,
        "figures": figures,
        "outcome_flags": figures.flags,
        "overuse_flag": figures.overuse_flag,
        # sessions, diary windows and medicines on one axis (issue 18), oldest first
        "timeline": timeline.build_timeline(
            sessions=figures.signed[::-1],
            windows=figures.windows,
            entries=entries,
            today=patient.local_today(),
        ),
        "medications": sorted(entries, key=lambda e: (e.started_on, e.pk)),
        "outcome_timeline": figures.outcome_timeline,
    }
    return render(request, "treatments/chart.html", context)


def _site_history(sessions):
    """Rows of (muscle, [units in each session]) plus a follow-the-pain row."""
    rows = []
    for code, muscle in protocol.MUSCLES.items():
        rows.append(
            (
                muscle.name,
                [
                    sum(s.units or 0 for s in session.sites.all() if s.muscle == code)
                    for session in sessions
                ],
            )
        )
    rows.append(
        (
            "Follow-the-pain sites",
            [
                ", ".join(s.site_code for s in session.sites.all() if s.is_ftp) or "—"
                for session in sessions
            ],
        )
    )
    return rows


@recall_required
@reading_from_replica()  # a report: seconds behind is fine (docs/scaling.md)
def lot_recall(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every patient and session that used a lot, a page at a time in the order the sessions
    were recorded: lot numbers are not patient data, so the search is a plain GET. A lot in
    wide use is tens of thousands of sessions at a network: they are counted and paged on
    the index vialuse_recall_idx (lot, session) alone, and only the page's rows are read."""
    lot_number = request.GET.get("lot", "").strip().upper()
    context: dict = {"lot_number": lot_number, "uses": []}
    if lot_number:
        # The lot's ids first (a number may be two products' lots): the index then gives the
        # uses already in order, where a join to the lots would sort all of them. With them,
        # each lot's uses and superseded uses, counted on the index alone: a COUNT that
        # leaves the superseded out row by row costs twice as much for a lot in wide use.
        uses_of_lot = VialUse.objects.filter(lot=OuterRef("pk")).order_by().values("lot")
        lots = VialLot.objects.filter(lot_number=lot_number).annotate(
            used=_counted(uses_of_lot),
            superseded=_counted(uses_of_lot.filter(session__status=SUPERSEDED)),
        )
        counted = {lot.pk: lot.used - lot.superseded for lot in lots}
        superseded = TreatmentSession.objects.filter(status=SUPERSEDED)
        used = (
            VialUse.objects.filter(lot__in=list(counted))
            .exclude(session__in=superseded.values("pk"))  # amended away
            .order_by("lot_id", "session_id")
        )
        page = page_of(
            request,
            used.values_list("session", flat=True),
            RECALL_PAGE_SIZE,
            count=sum(counted.values()),
        )
        context["page_obj"] = page
        # The page's rows: the session (so the audit trail notes its patient, docs/audit.md)
        # and the few fields a row shows, the phone as stored (E.164: what a recall dials).
        uses: list[Any] = list(  # rows that carry their links too
            VialUse.objects.filter(lot__in=list(counted), session__in=page.object_list)
            .select_related("session")
            .only(*RECALL_ROW)
            .annotate(
                first_name=F("session__patient__first_name"),
                last_name=F("session__patient__last_name"),
                mrn=F("session__patient__mrn"),
                phone=ExpressionWrapper(F("session__patient__phone"), output_field=CharField()),
                location_name=F("session__location__name"),
            )
            .order_by("lot_id", "session_id")
        )
        patient_url, session_url = pk_url("patients:detail"), pk_url("treatments:session_detail")
        for use in uses:  # each link made once a row, not reversed in the template
            use.patient_url = patient_url(use.session.patient_id)
            use.session_url = session_url(use.session_id)
        context["uses"] = uses
    context["lots"] = lot_options(VialLot.objects.order_by("-expiry")[:200])
    return render(request, "treatments/lot_recall.html", context)


RECALL_PAGE_SIZE = PAGE_SIZE  # 50 rows: each costs about 0.15 ms of Python to build and render
SUPERSEDED = TreatmentSession.Status.SUPERSEDED


def _counted(rows: QuerySet) -> Coalesce:
    """How many `rows` (grouped by one value), as a column of the outer query (0 if none)."""
    counted = Subquery(rows.annotate(n=Count("*")).values("n"))
    return Coalesce(counted, 0, output_field=IntegerField())


RECALL_ROW = (  # the row's own fields; the patient's and the location's are annotated
    "vials",
    "units_administered",
    "session__patient",
    "session__given_on",
    "session__cycle_number",
)
