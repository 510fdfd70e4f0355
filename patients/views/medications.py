"""The medication list (patients/medications.py): clinicians keep it and confirm what patients
report; the portal shows the patient their current list and takes their reports. Front desk
sees none of it (clinician_required)."""

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, clinician_required, patient_required
from patients.forms import MedicationForm, MedicationReportForm, ReportConfirmForm
from patients.models import MedicationReport, Patient, PatientMedication
from patients.services import (
    MedicationError,
    confirm_medication_report,
    dismiss_medication_report,
    report_medication,
    save_medication,
)

_recorded = PatientMedication.objects.select_related("recorded_by")


def _patient(request: AuthenticatedHttpRequest, pk: int) -> Patient:
    patients = Patient.objects.for_user(request.user).select_related("location")
    patients = patients.prefetch_related(Prefetch("medications", queryset=_recorded))
    return get_object_or_404(patients, pk=pk)


def _saved(request, form: MedicationForm, patient: Patient, entry=None) -> bool:
    """Save a valid form through the service; its refusal becomes a form error."""
    if not form.is_valid():
        return False
    try:
        save_medication(patient=patient, recorded_by=request.user, entry=entry, **form.cleaned_data)
    except MedicationError as error:
        form.add_error(error.field or None, str(error))
        return False
    return True


@clinician_required
def medication_list(
    request: AuthenticatedHttpRequest,
    pk: int,
    confirm_forms: dict[int, ReportConfirmForm] | None = None,
) -> HttpResponse:
    """The whole list, the reports waiting, and a form to add an entry (POST adds it)."""
    patient = _patient(request, pk)
    today = patient.local_today()
    posted = request.method == "POST" and confirm_forms is None
    form = MedicationForm(request.POST if posted else None, today=today)
    if posted and _saved(request, form, patient):
        messages.success(request, "Added to the medication list.")
        return redirect("patients:medications", pk=patient.pk)
    entries = list(patient.medications.all())
    reports = list(patient.medication_reports.filter(status=MedicationReport.Status.OPEN))
    confirm_forms = confirm_forms or {}
    context = {
        "patient": patient,
        "form": form,
        "current": [entry for entry in entries if entry.stopped_on is None],
        "past": [entry for entry in entries if entry.stopped_on is not None],
        "reports": [
            (report, confirm_forms.get(report.pk) or ReportConfirmForm(report=report))
            for report in reports
        ],
        "failed": patient.preventives_failed_count,
    }
    return render(request, "patients/medication_list.html", context)


@clinician_required
def medication_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Change an entry: its dose, dates, or stop it with a reason."""
    entry = get_object_or_404(
        PatientMedication.objects.for_user(request.user).select_related("patient__location"),
        pk=pk,
    )
    patient = entry.patient
    data = request.POST if request.method == "POST" else None
    form = MedicationForm(data, instance=entry, today=patient.local_today())
    if data is not None and _saved(request, form, patient, entry=entry):
        messages.success(request, f"{entry.drug_name}: saved.")
        return redirect("patients:medications", pk=patient.pk)
    return render(
        request, "patients/medication_form.html", {"form": form, "entry": entry, "patient": patient}
    )


def _report(request: AuthenticatedHttpRequest, pk: int) -> MedicationReport:
    reports = MedicationReport.objects.for_user(request.user).select_related("patient__location")
    return get_object_or_404(reports, pk=pk)


@clinician_required
@require_POST
def medication_report_confirm(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    form = ReportConfirmForm(request.POST, report=report)
    if form.is_valid():
        try:
            confirm_medication_report(report=report, by=request.user, **form.cleaned_data)
        except MedicationError as error:
            form.add_error(error.field or None, str(error))
        else:
            messages.success(request, f"{report.drug_name}: the list now shows the report.")
            return redirect("patients:medications", pk=report.patient_id)
    return medication_list(request, report.patient_id, confirm_forms={report.pk: form})


@clinician_required
@require_POST
def medication_report_dismiss(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    dismiss_medication_report(report=report, by=request.user)
    messages.success(request, f"{report.drug_name}: the report is dismissed.")
    return redirect("patients:medications", pk=report.patient_id)


@patient_required
def portal_medications(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The patient's current medicines, and "I started / stopped ..." for a clinician."""
    patient = Patient.objects.for_user(request.user).select_related("location").first()
    if patient is None:
        return render(request, "patients/portal_medications.html", {"patient": None})
    data = request.POST if request.method == "POST" else None
    form = MedicationReportForm(data, today=patient.local_today())
    if form.is_valid():
        try:
            report_medication(patient=patient, **form.cleaned_data)
        except MedicationError as error:
            form.add_error(error.field or None, str(error))
        else:
            messages.success(request, "Thank you: a clinician will check it and update your list.")
            return redirect("portal:medications")
    context = {
        "patient": patient,
        "current": patient.medications.filter(stopped_on__isnull=True).order_by("started_on"),
        "reports": patient.medication_reports.filter(status=MedicationReport.Status.OPEN),
        "form": form,
    }
    return render(request, "patients/portal_medications.html", context)
