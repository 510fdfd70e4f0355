"""Clinic reports (clinicians and the clinic admin) and the billing export (the clinic admin):
GET forms of a location and a range of local dates; every figure from
treatments/services/reports.py."""

import csv
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from audit.trail import note_patients
from clinic.access import AuthenticatedHttpRequest, recall_required, role_required
from clinic.db_routers import reading_from_replica
from clinic.models import Location, User
from treatments.forms.reports import ReportRangeForm
from treatments.services import reports

# The roles that may read the clinic's reports: the lot recall's (clinicians, clinic admin).
report_required = recall_required
# Billing is the clinic admin's work: clinicians read the reports, not the claims.
billing_required = role_required(frozenset({User.Role.CLINIC_ADMIN}))


class _Echo:
    """A file-like object whose write returns the line: csv.writer then yields it."""

    def write(self, value: str) -> str:
        return value


def _csv(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def _form(request: AuthenticatedHttpRequest) -> ReportRangeForm:
    return ReportRangeForm(request.GET, locations=list(Location.objects.order_by("name")))


@report_required
@reading_from_replica()
def report_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The clinic report on screen; a form error (400) for a range that is not one."""
    form = _form(request)
    if not form.is_valid():
        return render(request, "treatments/report_clinic.html", {"form": form}, status=400)
    report = reports.clinic_report(rng=form.range, locations=list(form.locations.values()))
    # the range shown (last month when none was asked) is the one in the date inputs too
    shown = {"from": form.range.start.isoformat(), "to": form.range.end.isoformat()}
    form.data = {**request.GET.dict(), **shown}
    context = {
        "form": form,
        "report": report,
        "query": request.GET.urlencode(),
        "overdue_after_days": settings.OVERDUE_AFTER_DAYS,
        "cutoff_hours": settings.CANCELLATION_CUTOFF_HOURS,
    }
    return render(request, "treatments/report_clinic.html", context)


@report_required
@reading_from_replica()
def report_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The clinic report as one CSV with a section column (reports.REPORT_CSV_HEADER)."""
    form = _form(request)
    if not form.is_valid():
        return _bad_range(form)
    rng = form.range
    report = reports.clinic_report(rng=rng, locations=list(form.locations.values()))
    response = HttpResponse(
        "".join(_csv([reports.REPORT_CSV_HEADER, *reports.report_csv_rows(report)])),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="clinic-report-{rng.start:%Y%m%d}-{rng.end:%Y%m%d}.csv"'
    )
    return response


@billing_required
def billing_csv(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    """One line per signed session of the range (reports.BILLING_HEADER), streamed a chunk of
    sessions at a time. Patient data: the sessions' patients are noted for the audit trail
    before the stream starts (the middleware writes its rows when the view returns, and the
    stream reads plain rows, which note nobody)."""
    form = _form(request)
    if not form.is_valid():
        return _bad_range(form)
    rng = form.range
    with reading_from_replica():
        sessions = reports.billing_session_ids(rng=rng)
    note_patients({patient_id for _, patient_id in sessions})
    lines = reports.billing_lines([pk for pk, _ in sessions])
    response = StreamingHttpResponse(
        _csv(_with_header(lines)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="billing-{rng.start:%Y%m%d}-{rng.end:%Y%m%d}.csv"'
    )
    return response


def _with_header(lines: Iterable[list[str]]) -> Iterator[Iterable[object]]:
    yield reports.BILLING_HEADER
    yield from lines


def _bad_range(form: ReportRangeForm) -> HttpResponse:
    """A 400 naming the parameters at fault (not echoing their values)."""
    names = ", ".join(sorted(form.add_prefix(name) for name in form.errors if name != "__all__"))
    problem = f"check {names}" if names else "; ".join(map(str, form.non_field_errors()))
    return HttpResponse(
        f"Not a report range ({problem}): give from and to as YYYY-MM-DD, at most "
        f"{reports.MAX_RANGE_DAYS} days, and a location's id or none.\n",
        status=400,
        content_type="text/plain; charset=utf-8",
    )
