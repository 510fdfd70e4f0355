"""Download my record (issue 17): the patient's own record as a FHIR Bundle (JSON) and as a
readable PDF. Only their own (the patient is found through `Patient.objects.for_user`); each
download loads the patient's rows, so the audit trail notes the look like any portal page."""

import json

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from clinic.access import AuthenticatedHttpRequest, patient_required
from patients.models import Patient
from treatments.fhir.bundle import patient_bundle
from treatments.record_pdf import record_pdf, record_summary


def _me(request: AuthenticatedHttpRequest) -> Patient | None:
    return Patient.objects.for_user(request.user).select_related("location").first()


def _attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # a health record: never kept by a shared cache
    return response


@patient_required
@require_safe
def portal_record(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "patients/portal_record.html", {"patient": _me(request)})


@patient_required
@require_safe
def portal_record_fhir(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every resource of the patient, as a FHIR R4 Bundle of type collection."""
    patient = _me(request)
    if patient is None:
        raise Http404
    bundle = patient_bundle(
        patient=patient, base_url=request.build_absolute_uri("/fhir/R4/"), now=timezone.now()
    )
    content = json.dumps(bundle, ensure_ascii=False, indent=1).encode()
    return _attachment(content, "application/fhir+json", "my-record.fhir.json")


@patient_required
@require_safe
def portal_record_pdf(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The record as a readable summary (treatments/record_pdf.py)."""
    patient = _me(request)
    if patient is None:
        raise Http404
    content = record_pdf(record_summary(patient, patient.local_today()))
    return _attachment(content, "application/pdf", "my-record.pdf")
