"""FHIR Bulk Data export over HTTP (treatments/fhir/export.py does the work).

- `GET /fhir/R4/$export` with `Prefer: respond-async`: 202 and a `Content-Location` naming the
  status URL (an opaque random id).
- `GET` on the status URL: 202 with `X-Progress` while it runs; 200 and the manifest when done;
  500 and an OperationOutcome when it failed. `DELETE`: cancel, delete the files; 202.
- `GET .../<Type>.ndjson`: one file, to the API client (or the user) that asked; anyone else
  gets 404.

Callers: API clients by bearer token (the types in their scopes), clinic admins by session.
Every call, refused ones included, leaves an audit row naming the caller (as the API's calls
do, audit.trail.write_api_call); the export itself notes each patient it wrote
(treatments/fhir/export.py).
No CSRF token: a client sends none, and nothing here is reachable by a cross-site form (the
kick-off needs a `Prefer` header, DELETE a method no form sends; CORS is never allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from audit.trail import write_api_call
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
from treatments.fhir.views import fhir_response, operation_outcome
from treatments.models import ExportJob
from treatments.tasks import run_export_task

OUTPUT_FORMATS = {"application/fhir+ndjson", "application/ndjson", "ndjson"}
KICK_OFF_PARAMETERS = {"_type", "_outputFormat", "_since"}
RETRY_AFTER_SECONDS = "2"


class Refused(Exception):
    def __init__(self, status: int, code: str, diagnostics: str):
        super().__init__(diagnostics)
        self.status, self.code, self.diagnostics = status, code, diagnostics


@dataclass
class ExportCall:
    """One call, for its audit row: who (once known), which type, which job."""

    access: FhirAccess | None = None
    resource_type: str = ""
    job_id: int | None = None


def export_view(methods: tuple[str, ...]) -> Callable:
    """Public to Django's login and CSRF machinery (the caller is identified here); answers
    only `methods`; turns a refusal into an OperationOutcome; audits every call."""

    def decorator(view):
        @login_not_required
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, **kwargs) -> HttpResponseBase:
            call = ExportCall()
            try:
                if request.method not in methods:
                    raise Refused(405, "not-supported", f"Allowed: {', '.join(methods)}.")
                response = view(request, call, **kwargs)
            except Refused as refusal:
                response = operation_outcome(refusal.status, refusal.code, refusal.diagnostics)
                if refusal.status == 405:
                    response["Allow"] = ", ".join(methods)
            access = call.access
            user = access.user if access is not None else None
            client = access.client if access is not None else None
            write_api_call(
                request,
                user_id=user.pk if user is not None else None,
                role=user.role if user is not None else "",
                api_client_id=client.pk if client is not None else None,
                resource_type=call.resource_type,
                status=response.status_code,
                touched={},
                record=call.job_id,
            )
            response["Cache-Control"] = "no-store"
            return response

        return wrapped

    return decorator


def _exporter(request: HttpRequest, call: ExportCall) -> FhirAccess:
    """The caller if they may export: else 401 unknown, 404 a patient (told nothing exists,
    as on every staff page), 403 other staff."""
    access = access_from_request(request)
    if access is None:
        raise Refused(401, "login", "A valid bearer token or a signed-in session is needed.")
    call.access = access
    if may_export(access):
        return access
    if access.user is not None and access.user.role == User.Role.PATIENT:
        raise Refused(404, "not-found", "Unknown operation.")
    raise Refused(403, "forbidden", "Only API clients and clinic admins may export.")


def _prefers_async(request: HttpRequest) -> bool:
    preferences = request.headers.get("Prefer", "").lower().split(",")
    return "respond-async" in {preference.strip() for preference in preferences}


@export_view(("GET", "HEAD"))
def export_kick_off(request: HttpRequest, call: ExportCall) -> HttpResponse:
    """System-level `$export`. `_since` is refused (400): our rows keep no reliable last-change
    time for every type (derived diary windows have none), and a partial answer to "what
    changed since" would silently miss data."""
    access = _exporter(request, call)
    if not _prefers_async(request):
        raise Refused(400, "invalid", "$export needs the header Prefer: respond-async.")
    unknown = sorted(set(request.GET) - KICK_OFF_PARAMETERS)
    if unknown:
        shown = ", ".join(name[:40] for name in unknown[:5])
        raise Refused(400, "not-supported", f"Unsupported parameter: {shown}.")
    if "_since" in request.GET:
        raise Refused(400, "not-supported", "_since is not supported: export everything.")
    output_format = request.GET.get("_outputFormat")
    if output_format is not None and output_format not in OUTPUT_FORMATS:
        raise Refused(400, "invalid", "_outputFormat must be application/fhir+ndjson.")
    requested = request.GET.getlist("_type")
    try:
        types = export_types(access, ",".join(requested) if requested else None)
    except ExportRequestError as error:
        raise Refused(error.status, error.code, error.message) from None
    job = start_export(
        access=access, types=types, request_url=request.build_absolute_uri(), now=timezone.now()
    )
    call.job_id = job.pk
    run_export_task.delay_on_commit(job.pk)
    response = HttpResponse(status=202)
    response["Content-Location"] = request.build_absolute_uri(
        reverse("fhir_export:status", args=[job.token])
    )
    return response


def _my_job(request: HttpRequest, call: ExportCall, token: str) -> ExportJob:
    """The caller's own live job by its token; anyone else's, or none, is a 404."""
    access = _exporter(request, call)
    job = (
        ExportJob.objects.requested_by(user=access.user, client=access.client)
        .filter(token=token[:43], expires_at__gt=timezone.now())
        .first()
    )
    if job is None:
        raise Refused(404, "not-found", "No such export.")
    call.job_id = job.pk
    return job


@export_view(("GET", "HEAD", "DELETE"))
def export_status(request: HttpRequest, call: ExportCall, token: str) -> HttpResponse:
    job = _my_job(request, call, token)
    if request.method == "DELETE":
        cancel_export(job=job)
        return HttpResponse(status=202)
    if job.status in (ExportJob.Status.PENDING, ExportJob.Status.RUNNING):
        response = HttpResponse(status=202)
        response["X-Progress"] = job.progress or job.get_status_display()
        response["Retry-After"] = RETRY_AFTER_SECONDS
        return response
    if job.status == ExportJob.Status.FAILED:
        # the Bulk Data IG: a failed export is a 5XX with an OperationOutcome
        raise Refused(500, "exception", job.error or "The export failed.")
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
    response = fhir_response(manifest)
    response["Content-Type"] = "application/json"  # the manifest is not a FHIR resource
    response["Expires"] = job.expires_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


@export_view(("GET", "HEAD"))
def export_file(
    request: HttpRequest, call: ExportCall, token: str, resource_type: str
) -> HttpResponseBase:
    job = _my_job(request, call, token)
    call.resource_type = resource_type[:40]
    if job.status != ExportJob.Status.DONE:
        raise Refused(404, "not-found", "No such file.")
    if resource_type not in {item["type"] for item in job.output}:
        raise Refused(404, "not-found", "No such file.")
    try:
        handle = job.file_path(resource_type).open("rb")
    except FileNotFoundError:
        raise Refused(404, "not-found", "No such file.") from None
    return FileResponse(
        handle, as_attachment=True, filename=f"{resource_type}.ndjson", content_type=NDJSON
    )
