"""What the front desk sees of the outbox: failed and skipped reminders, and resending."""

import datetime

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, staff_required
from treatments.models import Reminder
from treatments.services.reminders import resend_reminder

RECENT_DAYS = 30


@staff_required
def reminder_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    since = timezone.now() - datetime.timedelta(days=RECENT_DAYS)
    problems = (
        Reminder.objects.for_user(request.user)
        .filter(status__in=(Reminder.Status.FAILED, Reminder.Status.SKIPPED), due_at__gte=since)
        .select_related("patient", "appointment", "appointment__location")
        .order_by("-due_at")[:500]
    )
    return render(
        request, "treatments/reminder_list.html", {"reminders": problems, "days": RECENT_DAYS}
    )


@staff_required
@require_POST
def reminder_resend(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    reminder = get_object_or_404(Reminder.objects.for_user(request.user), pk=pk)
    try:
        resend_reminder(reminder=reminder)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            "Queued again: it goes out within a minute if it still "
            "applies (booking, consent, quiet hours and limits are "
            "checked again).",
        )
    return redirect("treatments:reminder_list")
