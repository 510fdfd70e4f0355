"""The front desk's side of the waitlist: ask for an earlier slot for a patient (or withdraw
them), and the list of waiting patients and of offers with their outcome."""

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.paging import page_of
from patients.models import Patient
from treatments.models import SlotOffer, WaitlistEntry
from treatments.services.waitlist import WaitlistError, join_waitlist, leave_waitlist

SHOWS = {"waiting": "Waiting", "offers": "Offers"}


@staff_required
@require_POST
def waitlist_patient(request: AuthenticatedHttpRequest, patient_pk: int) -> HttpResponse:
    """Put the patient on the waitlist (action=join) or take them off it (action=leave)."""
    patient = get_object_or_404(Patient.objects.for_user(request.user), pk=patient_pk)
    action = request.POST.get("action")
    if action == "join":
        try:
            join_waitlist(patient=patient, by=request.user)
            messages.success(request, "On the waitlist: freed slots will be offered.")
        except WaitlistError as refusal:
            messages.error(request, refusal.message)
    elif action == "leave":
        leave_waitlist(patient=patient)
        messages.success(request, "Taken off the waitlist.")
    else:
        return HttpResponseBadRequest("Unknown action.")
    return redirect("patients:detail", pk=patient.pk)


@staff_required
def waitlist_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The waiting patients (oldest request first), or the offers with their outcome (newest
    first), a page at a time in two queries or three whatever the rows."""
    show = request.GET.get("show")
    show = show if show in SHOWS else "waiting"
    rows: QuerySet
    if show == "waiting":
        rows = (
            WaitlistEntry.objects.for_user(request.user)
            .waiting()
            .select_related("patient", "location", "asked_by")
            .order_by("asked_at", "pk")
        )
    else:
        rows = SlotOffer.objects.select_related(
            "entry__patient", "location", "clinician", "appointment"
        ).order_by("-offered_at", "-pk")
    page = page_of(request, rows)
    now = timezone.now()
    offers = (
        [(offer, offer.outcome_label(now)) for offer in page.object_list]
        if show == "offers"
        else []
    )
    context = {"show": show, "shows": SHOWS, "page_obj": page, "offers": offers}
    return render(request, "treatments/waitlist_list.html", context)
