"""The clinicians' alerts inbox, and the follow-up of a side effect: turn a patient's report
into a structured adverse event, mark an event resolved."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, clinician_required
from clinic.paging import page_of
from treatments.forms import AdverseEventForm, AdverseEventResolveForm, AlertAcknowledgeForm
from treatments.models import AdverseEvent, Alert
from treatments.services import acknowledge_alert, confirm_adverse_event, resolve_adverse_event
from treatments.services.checkins import dismiss_adverse_event
from treatments.views import pk_url


@clinician_required
def alert_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every alert, open ones first (urgent before prompt), a page at a time; each row links to
    the alert's page, where it is acknowledged (no form per row)."""
    page = page_of(request, Alert.objects.for_user(request.user).for_inbox())
    chart, session, detail = (
        pk_url("treatments:chart"),
        pk_url("treatments:session_detail"),
        pk_url("treatments:alert_detail"),
    )
    for alert in page.object_list:
        alert.chart_url, alert.detail_url = chart(alert.patient_id), detail(alert.pk)
        alert.session_url = session(alert.event.session_id)
    return render(
        request, "treatments/alert_list.html", {"alerts": page.object_list, "page_obj": page}
    )


@clinician_required
def alert_detail(
    request: AuthenticatedHttpRequest, pk: int, form: AlertAcknowledgeForm | None = None
) -> HttpResponse:
    """One alert, and while it is open the form that acknowledges it."""
    alert = get_object_or_404(Alert.objects.for_user(request.user).for_inbox(), pk=pk)
    context = {"alert": alert, "form": form or AlertAcknowledgeForm()}
    return render(request, "treatments/alert_detail.html", context)


@clinician_required
@require_POST
def alert_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    alert = get_object_or_404(Alert.objects.for_user(request.user), pk=pk)
    form = AlertAcknowledgeForm(request.POST)
    if not form.is_valid():
        return alert_detail(request, pk, form=form)
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


@clinician_required
@require_POST
def adverse_event_dismiss(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A patient's draft report (a check-in answer, a portal report) is not an adverse event
    after all: kept on the session, marked dismissed by this clinician."""
    event = _event(request, pk)
    if dismiss_adverse_event(event=event, user=request.user):
        messages.success(request, "Patient report dismissed.")
    else:
        messages.info(request, "This report had already been confirmed or dismissed.")
    return redirect("treatments:session_detail", pk=event.session_id)
