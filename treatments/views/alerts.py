"""The clinicians' alerts inbox, and the follow-up of a side effect: turn a patient's report
into a structured adverse event, mark an event resolved."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, clinician_required
from treatments.forms import AdverseEventForm, AdverseEventResolveForm, AlertAcknowledgeForm
from treatments.models import AdverseEvent, Alert
from treatments.services import acknowledge_alert, confirm_adverse_event, resolve_adverse_event

INBOX_ACKNOWLEDGED_SHOWN = 20  # the latest acknowledged alerts, below the open ones


def _inbox(request, *, bound: tuple[int, AlertAcknowledgeForm] | None = None) -> HttpResponse:
    alerts = Alert.objects.for_user(request.user).for_inbox()
    shown = list(alerts.open()) + list(
        alerts.filter(acknowledged_at__isnull=False)[:INBOX_ACKNOWLEDGED_SHOWN]
    )
    forms = dict([bound] if bound else [])
    rows = [
        (alert, forms.get(alert.pk) or AlertAcknowledgeForm(auto_id=f"id_%s_{alert.pk}"))
        for alert in shown
    ]
    return render(request, "treatments/alert_list.html", {"alerts": shown, "rows": rows})


@clinician_required
def alert_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _inbox(request)


@clinician_required
@require_POST
def alert_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.for_user(request.user), pk=pk)
    form = AlertAcknowledgeForm(request.POST, auto_id=f"id_%s_{alert.pk}")
    if not form.is_valid():
        return _inbox(request, bound=(alert.pk, form))
    if acknowledge_alert(alert=alert, user=request.user, note=form.cleaned_data["note"]):
        messages.success(request, "Alert acknowledged.")
    else:
        messages.info(request, "Another clinician had already acknowledged this alert.")
    return redirect("treatments:alert_list")


def _event(request, pk: int) -> AdverseEvent:
    return get_object_or_404(
        AdverseEvent.objects.for_user(request.user).select_related("session", "patient"), pk=pk
    )


@clinician_required
def adverse_event_review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A patient's report becomes a structured adverse event: the clinician's term, onset,
    severity, seriousness and outcome."""
    event = _event(request, pk)
    data = request.POST if request.method == "POST" else None
    form = AdverseEventForm(data, instance=event, session=event.session)
    if form.is_valid():
        confirm_adverse_event(event=event, user=request.user, **form.cleaned_data)
        messages.success(request, "Adverse event recorded from the patient's report.")
        return redirect("treatments:session_detail", pk=event.session_id)
    context = {"form": form, "session": event.session, "patient": event.patient, "event": event}
    return render(request, "treatments/adverse_event_form.html", context)


@clinician_required
@require_POST
def adverse_event_resolve(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    form = AdverseEventResolveForm(request.POST, event=event)
    if form.is_valid():
        resolve_adverse_event(event=event, **form.cleaned_data)
        messages.success(request, "Adverse event marked resolved.")
    else:
        errors = " ".join(str(e) for errs in form.errors.values() for e in errs)
        messages.error(request, f"Not resolved: {errors}")
    return redirect("treatments:session_detail", pk=event.session_id)
