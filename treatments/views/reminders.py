"""What the front desk sees of the outbox: failed and skipped reminders, those sent for a visit
cancelled while they were handed over, and resending."""

import datetime
import zoneinfo

from django.contrib import messages
from django.db.models import F
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.paging import page_of
from treatments.models import Reminder
from treatments.services.reminders import resend_reminder
from treatments.views import pk_url

RECENT_DAYS = 30
# A reminder's times are read in its visit's location's zone, else its patient's location's
# (as the sender reads them for quiet hours), else the server's: each row names its zone.
REMINDER_ZONE = Coalesce(F("appointment__location__time_zone"), F("patient__location__time_zone"))
REMINDER_ROW = (
    "kind",
    "channel",
    "due_at",
    "status",
    "skip_reason",
    "last_error",
    "delivery_status",
    "delivery_error",
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
        .annotate(zone_name=REMINDER_ZONE)
        .order_by("-due_at", "-pk")
    )
    page = page_of(request, problems)
    detail, resend = pk_url("patients:detail"), pk_url("treatments:reminder_resend")
    rows = [_row(reminder, detail, resend) for reminder in page.object_list]
    return render(
        request,
        "treatments/reminder_list.html",
        {"reminders": page.object_list, "rows": rows, "page_obj": page, "days": RECENT_DAYS},
    )


STATUS_BADGES: dict[str, str] = {
    Reminder.Status.FAILED.value: '<span class="badge text-bg-danger">Failed</span>',
    Reminder.Status.SENT.value: '<span class="badge text-bg-warning">Sent, visit cancelled</span>',
}
SKIPPED_BADGE = '<span class="badge text-bg-secondary">Skipped</span>'
NOT_DELIVERED_BADGE = '<span class="badge text-bg-danger">Sent · not delivered</span>'


def _status(reminder: Reminder) -> tuple[SafeString, str]:
    """The row's badge and its why: what the send recorded, and for a message handed over
    what the provider says of its delivery ("Sent · delivered", "undelivered: 30003")."""
    why = reminder.skip_reason or reminder.last_error
    if reminder.status != Reminder.Status.SENT:
        return SafeString(STATUS_BADGES.get(reminder.status, SKIPPED_BADGE)), why
    delivery = reminder.delivery_label
    if reminder.delivery_status in (Reminder.Delivery.UNDELIVERED, Reminder.Delivery.FAILED):
        cancelled = f" {why}" if why else ""
        return SafeString(NOT_DELIVERED_BADGE), f"{delivery}.{cancelled}"
    sent = SafeString(STATUS_BADGES[reminder.status])
    return sent, f"{why} Sent · {delivery}." if delivery else why


def _row(reminder: Reminder, detail, resend) -> SafeString:
    """A row's markup, built in Python (the template's dozen variables and filters a row cost
    0.1 ms each, 5 ms a page); every text escaped by format_html, the markup the template had."""
    patient = reminder.patient
    badge, why = _status(reminder)
    if reminder.status == Reminder.Status.SENT:
        again = ""
    else:
        again = format_html(
            '<button type="submit" form="resend" formaction="{}" class="btn btn-sm '
            'btn-outline-primary">Send again<span class="visually-hidden"> to {} {}</span>'
            "</button>",
            resend(reminder.pk),
            patient.first_name,
            patient.last_name,
        )
    return format_html(
        "<tr>\n"
        '      <td><a href="{}">{}, {}</a></td>\n'
        "      <td>{} · {}</td>\n"
        "      <td>{}</td>\n"
        "      <td>{}</td>\n"
        "      <td>{}</td>\n"
        "      <td>{}</td>\n"
        "    </tr>",
        detail(reminder.patient_id),
        patient.last_name,
        patient.first_name,
        reminder.get_kind_display(),
        reminder.get_channel_display(),
        local_time(reminder.due_at, reminder.zone_name),  # type: ignore[attr-defined]
        badge,
        why,
        again,
    )


def local_time(moment: datetime.datetime, zone_name: str | None) -> str:
    """`moment` as the clinic reads it: in the zone named (the server's if none), with the
    zone's abbreviation (GMT, EST), so that no time on a page is of an unnamed zone."""
    zone = zoneinfo.ZoneInfo(zone_name) if zone_name else timezone.get_current_timezone()
    return date_format(moment.astimezone(zone), "j M Y H:i T")


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
