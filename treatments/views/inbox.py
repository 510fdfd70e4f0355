"""The front desk's inbox of texts patients send to the clinic's number: every text, those
waiting for a person first; marking one handled."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.paging import page_of
from treatments.models import InboundMessage
from treatments.services.sms_replies import mark_inbound_handled
from treatments.views import pk_url


@staff_required
def inbound_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Texts waiting for a person first, then the rest, newest first, a page at a time."""
    page = page_of(request, InboundMessage.objects.for_user(request.user).for_inbox())
    detail, handled = pk_url("patients:detail"), pk_url("treatments:inbound_handled")
    for message in page.object_list:
        message.patient_url = detail(message.patient_id) if message.patient_id else ""
        message.handled_url = handled(message.pk)
    context = {"inbound": page.object_list, "page_obj": page}
    return render(request, "treatments/inbound_list.html", context)


@staff_required
@require_POST
def inbound_handled(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    message = get_object_or_404(InboundMessage.objects.for_user(request.user), pk=pk)
    if mark_inbound_handled(message=message, user=request.user):
        messages.success(request, "Marked handled.")
    else:
        messages.info(request, "Someone had already marked it handled.")
    return redirect("treatments:inbound_list")
