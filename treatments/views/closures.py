"""The booked visits that a closure or a leave now covers, for the front desk to move."""

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.paging import page_of
from treatments.models import Appointment
from treatments.services.closures import visits_in_closures


@staff_required
def closure_visit_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Booked visits from now on inside a closure or leave, soonest first, a page at a time,
    each with a link to move it."""
    visits = visits_in_closures(
        now=timezone.now(), visits=Appointment.objects.for_user(request.user)
    )
    page = page_of(request, visits)
    return render(
        request,
        "treatments/closure_visit_list.html",
        {"visits": page.object_list, "page_obj": page},
    )
