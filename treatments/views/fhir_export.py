"""FHIR Bulk Data export over HTTP (treatments/fhir/export.py does the work).

- `GET /fhir/R4/$export` with `Prefer: respond-async`: 202 and a `Content-Location` naming the
  status URL (an opaque random id).
- `GET` on the status URL: 202 with `X-Progress` while it runs; 200 and the manifest when done;
  500 and an OperationOutcome when it failed. `DELETE`: cancel, delete the files; 202.
- `GET .../<Type>.ndjson`: one file, to the API client (or the user) that asked; anyone else
  gets 404.

Callers: API clients by bearer token (the types in their scopes), clinic admins by session.
No CSRF token: a client sends none, and nothing here is reachable by a cross-site form (the
kick-off needs a `Prefer` header, DELETE a method no form sends; CORS is never allowed).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from clinic.models import User
from treatments.fhir.access import FhirAccess, access_from_request
from treatments.fhir.export import (
    NDJSON,
    ExportRequestError,
    cancel_export,
    export_types,
    may_export,
    start_export,
)
from treatments.models import ExportJob
from treatments.tasks import run_export_task

FHIR_JSON = "application/fhir+json"
OUTPUT_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
KICK_OFF_PARAMETERS = {"_type", "_outputFormat", "_since"}
RETRY_AFTER_SECONDS = "2"


def outcome(status: int, code: str, diagnostics: str, **headers: str) -> JsonResponse:
    """An OperationOutcome response (error severity)."""
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }
    response = JsonResponse(body, status=status, content_type=FHIR_JSON)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unauthorized() -> JsonResponse:
    return outcome(401, "login", "Authentication required.", WWW_Authenticate='Bearer realm="fhir"')


def _not_found() -> JsonResponse:
    return outcome(404, "not-found", "No such export.")


def _exporter(request: HttpRequest) -> tuple[FhirAccess | None, JsonResponse | None]:
    """The caller if they may export, else the answer: 401 unknown, 404 a patient (told
    nothing exists, as on every staff page), 403 other staff."""
    access = access_from_request(request)
    if access is None:
        return None, _unauthorized()
    if may_export(access):
        return access, None
    if access.user is not None and access.user.role == User.Role.PATIENT:
        return None, outcome(404, "not-found", "Unknown operation.")
    return None, outcome(403, "forbidden", "Only API clients and clinic admins may export.")


def _prefers_async(request: HttpRequest) -> bool:
    preferences = request.headers.get("Prefer", "").lower().split(",")
    return "respond-async" in {preference.strip() for preference in preferences}


@login_not_required
@csrf_exempt
@require_safe
def export_kick_off(request: HttpRequest) -> HttpResponse:
    """System-level `$export`. `_since` is refused (400): our rows keep no reliable last-change
    time for every type (derived diary windows have none), and a partial answer to "what
    changed since" would silently miss data."""
    access, refusal = _exporter(request)
    if refusal is not None:
        return refusal
    assert access is not None
    if not _prefers_async(request):
        return outcome(400, "invalid", "$export needs the header Prefer: respond-async.")
    unknown = sorted(set(request.GET) - KICK_OFF_PARAMETERS)
    if unknown:
        shown = ", ".join(name[:40] for name in unknown[:5])
        return outcome(400, "not-supported", f"Unsupported parameter: {shown}.")
    if "_since" in request.GET:
        return outcome(400, "not-supported", "_since is not supported: export everything.")
    output_format = request.GET.get("_outputFormat")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        return outcome(400, "invalid", "_outputFormat must be application/fhir+ndjson.")
    requested = request.GET.getlist("_type")
    try:
        types = export_types(access, ",".join(requested) if requested else None)
    except ExportRequestError as error:
        return outcome(error.status, error.code, error.message)
    job = start_export(
        access=access, types=types, request_url=request.build_absolute_uri(), now=timezone.now()
    )
    run_export_task.delay_on_commit(job.pk)
    response = HttpResponse(status=202)
    response["Content-Location"] = request.build_absolute_uri(
        reverse("fhir_export:status", args=[job.token])
    )
    return response


def _my_job(request: HttpRequest, access: FhirAccess, token: str) -> ExportJob | None:
    return (
        ExportJob.objects.requested_by(user=access.user, client=access.client)
        .filter(token=token[:43], expires_at__gt=timezone.now())
        .first()
    )


@login_not_required
@csrf_exempt
@require_http_methods(["GET", "HEAD", "DELETE"])
def export_status(request: HttpRequest, token: str) -> HttpResponse:
    access, refusal = _exporter(request)
    if refusal is not None:
        return refusal
    assert access is not None
    job = _my_job(request, access, token)
    if job is None:
        return _not_found()
    if request.method == "DELETE":
        cancel_export(job=job)
        return HttpResponse(status=202)
    if job.status in (ExportJob.Status.PENDING, ExportJob.Status.RUNNING):
        response = HttpResponse(status=202)
        response["X-Progress"] = job.progress or job.get_status_display()
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if job.status == ExportJob.Status.FAILED:
        return outcome(500, "exception", job.error or "The export failed.")
    manifest = {
        "transactionTime": (job.started_at or job.created_at).isoformat().replace("+00:00", "Z"),
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": [
            {
                "type": item["type"],
                "url": request.build_absolute_uri(
                    reverse("fhir_export:file", args=[job.token, item["type"]])
                ),
                "count": item["count"],
            }
            for item in job.output
        ],
        "error": [],
    }
    response = JsonResponse(manifest)
    response["Expires"] = job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


@login_not_required
@csrf_exempt
@require_safe
def export_file(request: HttpRequest, token: str, resource_type: str) -> HttpResponse:
    access, refusal = _exporter(request)
    if refusal is not None:
        return refusal
    assert access is not None
    job = _my_job(request, access, token)
    if job is None or job.status != ExportJob.Status.DONE:
        return _not_found()
    if resource_type not in {item["type"] for item in job.output}:
        return _not_found()
    try:
        handle = job.file_path(resource_type).open("rb")
    except FileNotFoundError:
        return _not_found()
    return FileResponse(
        handle, as_attachment=True, filename=f"{resource_type}.ndjson", content_type=NDJSON
    )
