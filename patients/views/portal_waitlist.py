"""The portal's "Ask for an earlier slot": the patient joins or leaves the waitlist, and sees
the offers still open to them (each with its claim link, as in the message)."""

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from clinic.access import AuthenticatedHttpRequest, patient_required
from patients.models import Channel, Patient
from treatments.links import make_link_token
from treatments.models import SlotOffer
from treatments.services.waitlist import WaitlistError, join_waitlist, leave_waitlist


@patient_required
def portal_waitlist(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = Patient.objects.for_user(request.user).select_related("location").first()
    if patient is None:
        return redirect("portal:home")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "join":
            try:
                join_waitlist(patient=patient, by=request.user)
                messages.success(request, "You are on the waiting list for an earlier slot.")
            except WaitlistError as refusal:
                messages.error(request, refusal.message)
        elif action == "leave":
            leave_waitlist(patient=patient)
            messages.success(request, "You are no longer on the waiting list.")
        else:
            return HttpResponseBadRequest("Unknown action.")
        return redirect("portal:waitlist")
    entry = patient.waitlist_entries.waiting().first()
    open_offers = (
        SlotOffer.objects.open(timezone.now())
        .filter(entry=entry)
        .select_related("location")
        .order_by("starts_at")
        if entry
        else SlotOffer.objects.none()
    )
    context = {
        "patient": patient,
        "entry": entry,
        "offers": [(offer, _claim_url(offer)) for offer in open_offers],
        "reachable": any(patient.consents_to(channel) for channel in Channel.values),
    }
    return render(request, "patients/portal_waitlist.html", context)


def _claim_url(offer: SlotOffer) -> str:
    """The offer's claim page on this site (the message's link, relative)."""
    return reverse("links:offer", args=[make_link_token(purpose="offer", offer_id=offer.pk)])
