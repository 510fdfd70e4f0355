"""What the front desk sees of the outbox: failed and skipped reminders, those sent for a visit
cancelled while they were handed over, and resending."""

import datetime

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.paging import page_of
from treatments.models import Reminder
from treatments.services.reminders import resend_reminder
from treatments.views import pk_url

RECENT_DAYS = 30
REMINDER_ROW = (
    "kind",
    "channel",
    "due_at",
    "status",
    "skip_reason",
    "last_error",
    "patient__first_name",
    "patient__last_name",
)


@staff_required
def reminder_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Reminders needing attention (failed, skipped, sent for a visit cancelled during the
    hand-over) of the last RECENT_DAYS, newest first, a page at a time (on the partial index
    reminder_problem_idx)."""
    since = timezone.now() - datetime.timedelta(days=RECENT_DAYS)
    problems = (
        Reminder.objects.for_user(request.user)
        .needing_attention()
        .filter(due_at__gte=since)
        .select_related("patient")
        .only(*REMINDER_ROW)
        .order_by("-due_at", "-pk")
    )
    page = page_of(request, problems)
    detail, resend = pk_url("patients:detail"), pk_url("treatments:reminder_resend")
    for reminder in page.object_list:
        reminder.patient_url, reminder.resend_url = detail(reminder.patient_id), resend(reminder.pk)
    return render(
        request,
        "treatments/reminder_list.html",
        {"reminders": page.object_list, "page_obj": page, "days": RECENT_DAYS},
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
