"""The continuation-evidence PDF (issue 16): one click from the chart, for clinicians and clinic
admins (who send it to payers). The figures are the chart page's (treatments/charts.py); the
look at the record is audited as the chart's is (AuditMiddleware notes the patient loaded)."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from clinic.access import AuthenticatedHttpRequest, recall_required
from treatments import charts
from treatments.evidence import continuation_pdf as render_pdf


@recall_required  # clinicians and clinic admins, as lot recall: a patient gets a 404
@require_safe
@never_cache
def continuation_pdf(request: AuthenticatedHttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_object_or_404(charts.chart_patients(request.user), pk=patient_pk)
    sessions = list(patient.sessions.all())
    figures = charts.outcome_figures(
        patient=patient, sessions=sessions, medications=patient.medications.all()
    )
    content = render_pdf(
        patient=patient,
        figures=figures,
        prepared_on=patient.local_today(),
        clinician=request.user.get_full_name() or request.user.get_username(),
    )
    response = HttpResponse(content, content_type="application/pdf")
    # An opaque name: no patient data in file names either (they end up in download folders)
    response["Content-Disposition"] = 'attachment; filename="continuation-evidence.pdf"'
    return response
