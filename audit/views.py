"""The audit trail's pages: the clinic admin's per-patient trail with its CSV export, and the
portal's accounting of access (which staff roles opened my record, and when)."""

from __future__ import annotations

import csv
import datetime
import zoneinfo

from django.apps import apps
from django.conf import settings
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from audit.models import AccessEvent, ChangeEvent
from clinic.access import AuthenticatedHttpRequest, patient_required, role_required
from clinic.db_routers import reading_from_replica
from clinic.models import User
from clinic.paging import page_of
from patients.models import Patient

clinic_admin_required = role_required(frozenset({User.Role.CLINIC_ADMIN}))
SHOWN = 200  # changes on the admin's page, looks on the patient's; the CSV has them all
ROLE_NAMES = dict(User.Role.choices)


def _zone(patient: Patient) -> zoneinfo.ZoneInfo:
    if patient.location is not None:
        return patient.location.zone
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _local(at: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    return timezone.localtime(at, zone)


def _trail(request: AuthenticatedHttpRequest, pk: int):
    patient = get_object_or_404(
        Patient.objects.for_user(request.user).select_related("location"), pk=pk
    )
    accesses = AccessEvent.objects.for_patient(patient.pk).select_related("user")
    changes = ChangeEvent.objects.for_patient(patient.pk).select_related("actor")
    return patient, accesses, changes


def _who(user: User | None, role: str, client: str | None = None) -> str:
    if client is not None:
        return f"API client: {client}"
    if user is None:
        return "a signed link (no login)" if role == "" else ROLE_NAMES.get(role, role)
    return user.get_full_name() or user.get_username()


def _client_names(events) -> dict[int, str]:
    """The names of the FHIR API clients among `events` (one query; the trail keeps their id
    without a foreign key, so a client's row is never needed to read the trail)."""
    ids = {e.api_client_id for e in events if e.api_client_id is not None}
    if not ids:
        return {}
    client_model = apps.get_model("treatments", "ApiClient")
    names = dict(client_model.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {pk: names.get(pk, f"#{pk}") for pk in ids}


@clinic_admin_required
def patient_audit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    patient, accesses, changes = _trail(request, pk)
    zone = _zone(patient)
    # Every look a page at a time (a record opened daily gathers thousands of them)
    page = page_of(request, accesses)
    clients = _client_names(page.object_list)
    context = {
        "patient": patient,
        "zone": zone,
        "page_obj": page,
        "accesses": [
            (
                _local(a.at, zone),
                _who(a.user, a.role, clients.get(a.api_client_id)),
                ROLE_NAMES.get(a.role, "none"),
                a,
            )
            for a in page.object_list
        ],
        "changes": [
            (_local(c.at, zone), _who(c.actor, c.actor_role) if c.actor else "outside the app", c)
            for c in changes[:SHOWN]
        ],
        "shown": SHOWN,
    }
    return render(request, "audit/patient_audit.html", context)


@clinic_admin_required
@reading_from_replica()  # an export: seconds behind is fine (docs/scaling.md)
def patient_audit_csv(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    patient, accesses, changes = _trail(request, pk)
    zone = _zone(patient)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-patient-{patient.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["kind", "at (UTC)", f"at ({zone.key})", "user id", "who", "role", "what", "record id"]
        + ["method", "address", "changes"]
    )
    client_model = apps.get_model("treatments", "ApiClient")
    clients = dict(client_model.objects.values_list("pk", "name"))
    for a in accesses.iterator(chunk_size=2000):
        client = clients.get(a.api_client_id, f"#{a.api_client_id}") if a.api_client_id else None
        writer.writerow(
            ["opened", a.at.isoformat(), _local(a.at, zone).isoformat(), a.user_id or ""]
            + [_safe(_who(a.user, a.role, client)), a.role, a.view, a.record_id or "", a.method]
            + [a.address or "", ""]
        )
    for c in changes.iterator(chunk_size=2000):
        described = "; ".join(f"{name}: {old} -> {new}" for name, old, new in c.described())
        writer.writerow(
            [c.get_operation_display().lower(), c.at.isoformat(), _local(c.at, zone).isoformat()]
            + [c.actor_id or "", _safe(_who(c.actor, c.actor_role) if c.actor else "outside")]
            + [c.actor_role, c.record_label, c.record_id, "", "", _safe(described)]
        )
    return response


def _safe(text: str) -> str:
    """No spreadsheet formulas from a cell (CSV injection): a leading = + - @ is quoted."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@patient_required
def portal_access(request: AuthenticatedHttpRequest) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.for_user(request.user).select_related("location"))
    zone = _zone(patient)
    staff = [role.value for role in User.STAFF_ROLES]
    # Staff looks, and other systems' reads through the FHIR API (named: the clinic chose to
    # share the record with them); not the patient's own looks.
    events = list(
        AccessEvent.objects.for_patient(patient.pk).filter(
            Q(role__in=staff) | Q(api_client_id__isnull=False)
        )[:SHOWN]
    )
    clients = _client_names(events)
    context = {
        "patient": patient,
        "zone": zone,
        "events": [
            (
                _local(e.at, zone),
                f"Another system ({clients[e.api_client_id]})"
                if e.api_client_id is not None
                else ROLE_NAMES[e.role],
                e.view_label,
            )
            for e in events
        ],
    }
    return render(request, "audit/portal_access.html", context)
