"""The patient registry: clinicians, front desk and clinic admins."""

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, clinician_required, staff_required
from clinic.invitations import InvitationError, invite_patient
from clinic.models import User
from clinic.paging import page_of
from patients.forms import ConsentForm, PatientForm, PatientIntakeForm, PatientSearchForm
from patients.models import MedicationReport, Patient
from patients.services import record_consent
from treatments.models import (
    AuthorizationDocument,
    PriorAuthorization,
    TreatmentSession,
    WaitlistEntry,
)
from treatments.services.authorizations import STATES, authorization_state, with_usage
from treatments.services.history import HISTORY_LENGTH, patient_history
from treatments.views import pk_url

# The search words live in the session, not the query string: names and dates of birth must
# stay out of URLs (and so out of access logs and browser history).
SEARCH_SESSION_KEY = "patient_search"
PAGE_SIZE = 25
# A search is counted and paged up to this many matches (20 pages); past it the list asks for
# another word. The whole registry, without a search, is counted in full.
SEARCH_COUNT_LIMIT = 500
SEARCH_MAX_CHARS = 101  # one more than the form allows: a longer text is an error, not cut
# What a row of the list shows: not the phone number (loading it parses it) nor the address.
LIST_COLUMNS = (
    "mrn",
    "first_name",
    "last_name",
    "date_of_birth",
    "status",
    "location__name",
    "primary_clinician__first_name",
    "primary_clinician__last_name",
    "primary_clinician__username",
)


@staff_required
def patient_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Kept as typed: a date that is no date is shown back with what is wrong with it.
        request.session[SEARCH_SESSION_KEY] = str(request.POST.get("q", ""))[:SEARCH_MAX_CHARS]
        if not request.htmx:
            return redirect("patients:list")
    query = request.session.get(SEARCH_SESSION_KEY, "")
    search = PatientSearchForm({"q": query})
    search_error = "" if search.is_valid() else " ".join(str(error) for error in search.errors["q"])
    found = Patient.objects.none() if search_error else Patient.objects.for_user(request.user)
    patients = (
        found.search(search.cleaned_data.get("q", ""))
        .select_related("location", "primary_clinician")
        .only(*LIST_COLUMNS)
    )
    page = page_of(request, patients, PAGE_SIZE, count_limit=SEARCH_COUNT_LIMIT if query else None)
    detail = pk_url("patients:detail")
    context = {
        "page": page,
        "rows": [_registry_row(patient, detail(patient.pk)) for patient in page],
        "query": query,
        "search_error": search_error,
        "search_form": PatientSearchForm(initial={"q": query}),
    }
    template = "patients/patient_list.html"
    return render(request, f"{template}#results" if request.htmx else template, context)


STATUS_BADGES: dict[str, str] = {
    Patient.Status.ACTIVE.value: '<span class="badge text-bg-success">Active</span>',
    Patient.Status.DISCHARGED.value: '<span class="badge text-bg-secondary">Discharged</span>',
}


def _registry_row(patient: Patient, url: str) -> SafeString:
    """A row's markup, built in Python: the template reversed the row's URL and resolved a
    dozen variables a row. Every text escaped (format_html); the markup the template had."""
    born = patient.date_of_birth
    return format_html(
        "<tr>\n"
        '        <td><a href="{}">{}, {}</a></td>\n'
        "        <td>{}</td>\n"
        "        <td>{}</td>\n"
        "        <td>{}</td>\n"
        "        <td>{}</td>\n"
        "        <td>{}</td>\n"
        "      </tr>",
        url,
        patient.last_name,
        patient.first_name,
        patient.mrn,
        born.isoformat() if born else "",
        patient.location or "—",
        patient.primary_clinician or "—",
        SafeString(STATUS_BADGES.get(patient.status, STATUS_BADGES["discharged"])),
    )


_waiting = WaitlistEntry.objects.waiting()  # at most one a patient (waitlist_one_waiting)


@staff_required
def patient_detail(
    request: AuthenticatedHttpRequest, pk: int, consent_form: ConsentForm | None = None
) -> HttpResponse:
    patients = (
        Patient.objects.for_user(request.user)
        .select_related("location", "primary_clinician", "user")
        .with_consents()
        .prefetch_related(Prefetch("sessions", queryset=TreatmentSession.objects.dates_only()))
        .annotate(
            waitlist_since=Subquery(_waiting.filter(patient=OuterRef("pk")).values("asked_at")),
            has_authorizations=Exists(PriorAuthorization.objects.filter(patient=OuterRef("pk"))),
        )
    )
    clinician = request.user.role == User.Role.CLINICIAN
    if clinician:  # the medication list: clinicians only (front desk sees no medication)
        patients = patients.prefetch_related("medications")
    patient = get_object_or_404(patients, pk=pk)
    context = {
        "patient": patient,
        "open_reports": (
            patient.medication_reports.filter(status=MedicationReport.Status.OPEN).count()
            if clinician
            else 0
        ),
        "next_visit": patient.appointments.active()
        .select_related("location", "clinician")
        .prefetch_related("reminders")
        .first(),
        "course": patient.courses.active().first(),
        "authorizations": _authorizations(patient),
        "consents": patient.current_consents(),
        "consent_history": patient.consents.all(),
        "consent_form": consent_form or ConsentForm(patient=patient),
    }
    # Every visit and call, newest first: the latest few, or all of them (?history=all).
    everything = request.GET.get("history") == "all"
    context["history"], context["history_more"] = patient_history(
        patient, limit=None if everything else HISTORY_LENGTH
    )
    return render(request, "patients/patient_detail.html", context)


def _authorizations(patient: Patient) -> list[tuple[PriorAuthorization, tuple[str, str]]]:
    """The patient's prior authorizations, latest first, each with its state's badge (label,
    colour): two queries (the rows with what they used, and their documents)."""
    if not patient.has_authorizations:  # type: ignore[attr-defined]
        return []  # (no query: most patients pay for themselves)
    today = patient.local_today()
    present = Prefetch("documents", AuthorizationDocument.objects.present())
    rows = with_usage(PriorAuthorization.objects.filter(patient=patient)).prefetch_related(present)
    return [(row, STATES[authorization_state(row, today)]) for row in rows]


def _save_patient(form) -> Patient | None:
    """Save a valid form; a duplicate MRN that slipped past validation (two desks saving the
    same MRN at once) becomes a form error rather than a 500."""
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        form.add_error("mrn", PatientForm.Meta.error_messages["mrn"]["unique"])
        return None


@staff_required
def patient_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PatientForm(request.POST if request.method == "POST" else None)
    if form.is_valid() and (patient := _save_patient(form)):
        messages.success(request, f"{patient.full_name} is registered.")
        return redirect("patients:detail", pk=patient.pk)
    return render(request, "patients/patient_form.html", {"form": form})


@staff_required
def patient_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.for_user(request.user), pk=pk)
    form = PatientForm(request.POST if request.method == "POST" else None, instance=patient)
    if form.is_valid() and _save_patient(form):
        messages.success(request, "Patient details saved.")
        return redirect("patients:detail", pk=patient.pk)
    return render(request, "patients/patient_form.html", {"form": form, "patient": patient})


@clinician_required
def patient_intake(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.for_user(request.user), pk=pk)
    form = PatientIntakeForm(request.POST if request.method == "POST" else None, instance=patient)
    if form.is_valid():
        form.save()
        messages.success(request, "Intake baseline saved.")
        return redirect("patients:detail", pk=patient.pk)
    return render(request, "patients/patient_intake_form.html", {"form": form, "patient": patient})


@staff_required
@require_POST
def patient_consent(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.for_user(request.user), pk=pk)
    form = ConsentForm(request.POST, patient=patient)
    if not form.is_valid():
        return patient_detail(request, pk, consent_form=form)
    consent = record_consent(patient=patient, recorded_by=request.user, **form.cleaned_data)
    messages.success(
        request,
        f"Recorded: {consent.get_channel_display()} consent "
        f"{'granted' if consent.granted else 'revoked'}.",
    )
    return redirect("patients:detail", pk=patient.pk)


@staff_required
@require_POST
def patient_invite(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.for_user(request.user), pk=pk)
    try:
        invite_patient(patient=patient, invited_by=request.user)
    except InvitationError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Invitation sent to {patient.email}. Any earlier link no longer works."
        )
    return redirect("patients:detail", pk=patient.pk)
