"""The portal's "My progress" (issue 16): the patient's own diary windows against their baseline,
and their HIT-6 and MIDAS over time, as charts with their tables. The figures are the chart
page's (treatments/charts.py); the flags and criteria that are the clinician's to discuss are
not shown here."""

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from clinic.access import AuthenticatedHttpRequest, patient_required
from treatments import charts


@patient_required
@require_safe
def portal_progress(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = charts.chart_patients(request.user, clinical=False).first()  # their own only
    if patient is None:
        return render(request, "patients/portal_progress.html", {"patient": None})
    figures = charts.outcome_figures(patient=patient, sessions=list(patient.sessions.all()))
    return render(
        request, "patients/portal_progress.html", {"patient": patient, "figures": figures}
    )
