"""The patient portal: what a patient sees of their own care."""

from django.shortcuts import render

from clinic.access import patient_required
from patients.models import Patient


@patient_required
def portal_home(request):
    patient = Patient.objects.for_user(request.user).select_related("location").first()
    return render(request, "patients/portal_home.html", {"patient": patient})
