"""The FHIR R4 HTTP API under /fhir/R4/: the CapabilityStatement, read and search
(docs/fhir-api.md).

Read-only: GET and HEAD; any other method is a 405 OperationOutcome. The views are public to
Django (no login redirect, no CSRF: they never write) and identify the caller themselves
(treatments/fhir/access.py): a bearer token, or a session (staff past the second factor, or a
patient). Every call, refused ones included, leaves audit rows (audit.trail.write_api_call).

Search is strict: a parameter the server does not support is a 400 (FHIR lets a server ignore
it, but a client that filters by `birthdate` and silently gets every patient is worse off).
Paging is by keyset on the primary key (`_page`, an opaque signed cursor), so the thousandth
page costs what the first does.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.db import models
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from audit.trail import write_api_call
from clinic.params import id_param, int_param
from treatments.fhir.access import FhirAccess, access_from_request, bearer_token
from treatments.fhir.mappers import RESOURCE_TYPES, ResourceType, get_by_id

FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT = 50
MAX_COUNT = 500
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
# Includes the server can follow: (type searched, search parameter) -> type included.
INCLUDES = {("Appointment", "patient"): "Patient"}
PAGE_SALT = "treatments.fhir.page"
DATE_PREFIXES = ("eq", "ge", "le", "gt", "lt")
FORMATS = ("json", "application/json", "application/fhir+json")
SAFE_METHODS = ("GET", "HEAD")


class FhirError(Exception):
    def __init__(self, status: int, code: str, diagnostics: str):
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics


@dataclass
class Call:
    """What one call touched, for its audit rows."""

    access: FhirAccess | None = None
    resource_type: str = ""
    record: int | None = None
    touched: dict[int, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, resources: Iterable[dict]) -> None:
        for resource in resources:
            for patient_id in patient_refs(resource):
                self.touched[patient_id].append(f"{resource['resourceType']}/{resource['id']}")


def fhir_response(body: dict, status: int = 200, **headers: str) -> JsonResponse:
    response = JsonResponse(body, status=status, content_type=FHIR_JSON)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def operation_outcome(status: int, code: str, diagnostics: str) -> JsonResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }
    headers = {"WWW_Authenticate": 'Bearer realm="fhir"'} if status == 401 else {}
    response = fhir_response(body, status, **headers)
    if status == 405:
        response["Allow"] = ", ".join(SAFE_METHODS)
    return response


def patient_refs(resource: dict) -> set[int]:
    """The ids of the patients a resource is about: a Patient's own id, else the Patient
    references of its subject / patient / participants."""
    if resource.get("resourceType") == "Patient":
        found = id_param(resource.get("id"))
        return {found} if found is not None else set()
    references = [resource.get(key) for key in ("subject", "patient", "source")]
    references += [p.get("actor") for p in resource.get("participant") or [] if isinstance(p, dict)]
    ids = set()
    for reference in references:
        if isinstance(reference, dict):
            kind, _, pk = str(reference.get("reference") or "").partition("/")
            if kind == "Patient" and (found := id_param(pk)) is not None:
                ids.add(found)
    return ids


def fhir_view(view):
    """Public to Django's login and CSRF machinery; answers only GET and HEAD; turns FhirError
    into an OperationOutcome; writes the call's audit rows, whatever the answer."""

    @login_not_required
    @csrf_exempt
    def wrapped(request: HttpRequest, **kwargs: Any) -> JsonResponse:
        call = Call(resource_type=kwargs.get("type_name", "")[:40])
        try:
            if request.method not in SAFE_METHODS:
                raise FhirError(405, "not-supported", "This API is read-only: GET only.")
            response = view(request, call, **kwargs)
        except FhirError as error:
            response = operation_outcome(error.status, error.code, error.diagnostics)
        access = call.access
        user = access.user if access is not None else None
        write_api_call(
            request,
            user_id=user.pk if user is not None else None,
            role=user.role if user is not None else "",
            api_client_id=access.client.pk if access is not None and access.client else None,
            resource_type=call.resource_type,
            status=response.status_code,
            touched=dict(call.touched),
            record=call.record,
        )
        response["Cache-Control"] = "no-store"
        return response

    return wrapped


def identify(request: HttpRequest, call: Call) -> FhirAccess:
    access = access_from_request(request)
    if access is None:
        raise FhirError(401, "login", "A valid bearer token or a signed-in session is needed.")
    call.access = access
    return access


def resource_type_for(access: FhirAccess, type_name: str) -> ResourceType:
    """The type asked for, if the caller may read it: unknown types are 404; a type outside a
    client's scopes or a staff role is 403; a patient is told nothing more than 404."""
    resource_type = RESOURCE_TYPES.get(type_name)
    if resource_type is None:
        raise FhirError(404, "not-supported", f"Resource type {type_name} is not supported.")
    if not access.may_read(type_name):
        if access.is_patient:
            raise FhirError(404, "not-found", f"No {type_name} resources here.")
        raise FhirError(403, "forbidden", f"Not allowed to read {type_name} resources.")
    return resource_type


# --- metadata -------------------------------------------------------------------------------------


@fhir_view
def metadata(request: HttpRequest, call: Call) -> JsonResponse:
    """The CapabilityStatement. Public: it says what the server can do, nothing about anyone
    (FHIR servers serve it without authentication so clients can discover how to log in)."""
    call.access = access_from_request(request)
    if call.access is None and bearer_token(request) is not None:
        raise FhirError(401, "login", "The bearer token is not valid.")
    return fhir_response(capability_statement(request))


def capability_statement(request: HttpRequest) -> dict:
    resources = []
    for name, resource_type in sorted(RESOURCE_TYPES.items()):
        params = [{"name": "_count", "type": "number"}]
        if resource_type.patient_path and name != "Patient":
            params.append({"name": "patient", "type": "reference"})
        if resource_type.date_path or resource_type.date_of:
            params.append({"name": "date", "type": "date"})
        if resource_type.status_path:
            params.append({"name": "status", "type": "token"})
        resource = {
            "type": name,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": params,
        }
        includes = [f"{t}:{p}" for (t, p) in INCLUDES if t == name]
        if includes:
            resource["searchInclude"] = includes
        resources.append(resource)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "kind": "instance",
        "software": {"name": "Cadence"},
        "implementation": {
            "description": "Cadence FHIR R4 API (read-only)",
            "url": request.build_absolute_uri(base_path()),
        },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "description": "Bearer tokens of API clients created by the clinic "
                    "admin, or a signed-in session.",
                },
                "resource": resources,
            }
        ],
    }


def base_path() -> str:
    return "/fhir/R4/"


# --- read -----------------------------------------------------------------------------------------


@fhir_view
def read(request: HttpRequest, call: Call, type_name: str, resource_id: str) -> JsonResponse:
    access = identify(request, call)
    resource_type = resource_type_for(access, type_name)
    check_format(request.GET)
    unknown = set(request.GET) - {"_format"}
    if unknown:
        raise FhirError(400, "invalid", f"Unknown parameter {sorted(unknown)[0]!r} on a read.")
    call.record = id_param(resource_id)
    resource = None
    if FHIR_ID.match(resource_id):
        resource = get_by_id(type_name, resource_id, access.rows(resource_type))
    if resource is None:
        # Missing, and not yours, look the same.
        raise FhirError(404, "not-found", f"{type_name}/{resource_id} is not known.")
    call.note([resource])
    return fhir_response(resource)


# --- search ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    count: int
    after: int | None
    before: int | None
    total: bool
    include: str | None
    filters: models.Q
    # For a type searched by date on its mapped resources (`date_of`): (prefix, first, last).
    date_ranges: list[tuple[str, datetime.date, datetime.date]]
    canonical: list[tuple[str, str]]  # the query without the page cursor, for the links


@fhir_view
def search(request: HttpRequest, call: Call, type_name: str) -> JsonResponse:
    access = identify(request, call)
    resource_type = resource_type_for(access, type_name)
    query = parse_search(resource_type, request.GET)
    rows = access.rows(resource_type).filter(query.filters)
    total = rows.count() if query.total else None
    if query.before is not None:
        page = list(rows.filter(pk__lt=query.before).order_by("-pk")[: query.count + 1])
        has_previous = len(page) > query.count
        page = page[: query.count][::-1]
        has_next = True
    else:
        if query.after is not None:
            rows = rows.filter(pk__gt=query.after)
        page = list(rows.order_by("pk")[: query.count + 1])
        has_next = len(page) > query.count
        page = page[: query.count]
        has_previous = query.after is not None
    matches = list(resource_type.resources(page))
    if query.date_ranges and resource_type.date_of is not None:
        date_of = resource_type.date_of
        matches = [
            resource
            for resource in matches
            if all(period_matches(date_of(resource), *r) for r in query.date_ranges)
        ]
    call.note(matches)
    included = includes(access, query, matches)
    call.note(included)
    base = request.build_absolute_uri(f"{base_path()}{type_name}")
    links = [{"relation": "self", "url": link(base, query.canonical, request.GET.get("_page"))}]
    if page and has_next:
        next_page = cursor("a", page[-1].pk)
        links.append({"relation": "next", "url": link(base, query.canonical, next_page)})
    if page and has_previous:
        links.append(
            {"relation": "previous", "url": link(base, query.canonical, cursor("b", page[0].pk))}
        )
    root = request.build_absolute_uri(base_path())
    entries = [entry(root, resource, "match") for resource in matches]
    entries += [entry(root, resource, "include") for resource in included]
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "timestamp": timezone.now().isoformat().replace("+00:00", "Z"),
    }
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    bundle["entry"] = entries
    return fhir_response(bundle)


def entry(root: str, resource: dict, mode: str) -> dict:
    return {
        "fullUrl": f"{root}{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "search": {"mode": mode},
    }


def link(base: str, canonical: list[tuple[str, str]], page: str | None) -> str:
    params = [*canonical, *([("_page", page)] if page else [])]
    return f"{base}?{urlencode(params)}" if params else base


def cursor(direction: str, pk: int) -> str:
    return signing.dumps([direction, pk], salt=PAGE_SALT, compress=False)


def read_cursor(value: str) -> tuple[str, int]:
    try:
        direction, pk = signing.loads(value[:200], salt=PAGE_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise FhirError(400, "invalid", "The _page cursor is not valid.") from None
    if direction not in ("a", "b") or not isinstance(pk, int):
        raise FhirError(400, "invalid", "The _page cursor is not valid.")
    return direction, pk


def includes(access: FhirAccess, query: Search, matches: list[dict]) -> list[dict]:
    """The resources `_include` asks for, among those the caller may read (one query)."""
    if query.include is None:
        return []
    target = RESOURCE_TYPES.get(query.include)
    if target is None or not access.may_read(target.name):
        return []  # a client without the Patient scope gets the matches alone
    ids = sorted({pk for resource in matches for pk in patient_refs(resource)})
    if not ids:
        return []
    return list(target.resources(access.rows(target).filter(pk__in=ids).order_by("pk")))


def check_format(params) -> None:
    values = params.getlist("_format")
    if values and (len(values) > 1 or values[0] not in FORMATS):
        raise FhirError(400, "invalid", "Only JSON is served (_format=json).")


def parse_search(resource_type: ResourceType, params) -> Search:
    """The search parameters, checked: anything unknown, repeated or malformed is a 400."""
    check_format(params)
    known = {"_count", "_page", "_total", "_format"}
    if resource_type.patient_path and resource_type.name != "Patient":
        known.add("patient")
    if resource_type.date_path or resource_type.date_of:
        known.add("date")
    if resource_type.status_path:
        known.add("status")
    if any(include_from == resource_type.name for include_from, _ in INCLUDES):
        known.add("_include")
    for name in params:
        if name not in known:
            raise FhirError(400, "invalid", f"Unknown search parameter {name[:40]!r}.")
        if name != "date" and len(params.getlist(name)) > 1:
            raise FhirError(400, "invalid", f"Parameter {name} is given more than once.")
    canonical: list[tuple[str, str]] = []
    filters = models.Q()

    count = DEFAULT_COUNT
    if "_count" in params:
        parsed = int_param(params["_count"], least=0, most=MAX_COUNT)
        if parsed is None:
            raise FhirError(400, "invalid", f"_count must be a whole number 0-{MAX_COUNT}.")
        count = parsed
        canonical.append(("_count", str(count)))

    if "patient" in params:
        value = params["patient"]
        pk = id_param(value.removeprefix("Patient/"))
        if pk is None:
            raise FhirError(400, "invalid", "patient must be Patient/<id> or <id>.")
        patient_path = resource_type.patient_path
        assert patient_path is not None
        filters &= models.Q(**{patient_path: pk})
        canonical.append(("patient", f"Patient/{pk}"))

    date_ranges = []
    if "date" in params:
        for value in params.getlist("date"):
            if resource_type.date_path:
                filters &= date_filter(resource_type, value)
            else:
                date_ranges.append(date_range(value))
            canonical.append(("date", value))

    if "status" in params:
        codes = params["status"].split(",")
        unknown = [code for code in codes if code not in resource_type.status_codes]
        if unknown or not codes:
            raise FhirError(400, "invalid", f"Unknown status {unknown[0][:40]!r}.")
        ours = [resource_type.status_codes[code] for code in codes]
        filters &= models.Q(**{f"{resource_type.status_path}__in": ours})
        canonical.append(("status", ",".join(codes)))

    include = None
    if "_include" in params:
        value = params["_include"]
        source, _, param = value.partition(":")
        include = INCLUDES.get((source, param)) if source == resource_type.name else None
        if include is None:
            raise FhirError(400, "invalid", f"_include {value[:60]!r} is not supported.")
        canonical.append(("_include", value))

    total = False
    if "_total" in params:
        if params["_total"] not in ("none", "estimate", "accurate"):
            raise FhirError(400, "invalid", "_total must be none, estimate or accurate.")
        total = params["_total"] != "none"
        canonical.append(("_total", params["_total"]))

    after = before = None
    if "_page" in params:
        direction, pk = read_cursor(params["_page"])
        after, before = (pk, None) if direction == "a" else (None, pk)
    canonical.sort()
    return Search(count, after, before, total, include, filters, date_ranges, canonical)


def split_prefix(value: str) -> tuple[str, str]:
    if value[:2] in DATE_PREFIXES:
        return value[:2], value[2:]
    return "eq", value


def date_range(value: str) -> tuple[str, datetime.date, datetime.date]:
    """`date=[prefix]value` for a type whose resources carry a period of dates: (prefix, the
    value's first UTC day, its last)."""
    prefix, text = split_prefix(value)
    start, end = parse_fhir_date(text)
    return prefix, start.date(), (end - datetime.timedelta(microseconds=1)).date()


def period_matches(
    period: tuple[datetime.date, datetime.date],
    prefix: str,
    first: datetime.date,
    last: datetime.date,
) -> bool:
    """FHIR's comparison of a period with a value's range: eq, the period is inside it; ge/gt,
    the period reaches on or after / after it; le/lt, it starts on or before / before it."""
    start, end = period
    return {
        "eq": first <= start and end <= last,
        "ge": end >= first,
        "gt": end > last,
        "le": start <= last,
        "lt": start < first,
    }[prefix]


def date_filter(resource_type: ResourceType, value: str) -> models.Q:
    """`date=[prefix]value`: a date (YYYY-MM-DD, a whole UTC day) or an instant with an offset.
    On a date field an instant stands for its UTC day."""
    prefix, text = split_prefix(value)
    path = resource_type.date_path
    assert path is not None
    start, end = parse_fhir_date(text)
    if not resource_type.date_is_datetime:
        first, last = start.date(), (end - datetime.timedelta(microseconds=1)).date()
        lookups = {
            "eq": {f"{path}__gte": first, f"{path}__lte": last},
            "ge": {f"{path}__gte": first},
            "gt": {f"{path}__gt": last}
            if end - start >= datetime.timedelta(days=1)
            else {f"{path}__gte": first},
            "le": {f"{path}__lte": last},
            "lt": {f"{path}__lt": first}
            if end - start >= datetime.timedelta(days=1)
            else {f"{path}__lte": first},
        }
    else:
        lookups = {
            "eq": {f"{path}__gte": start, f"{path}__lt": end},
            "ge": {f"{path}__gte": start},
            "gt": {f"{path}__gte": end},
            "le": {f"{path}__lt": end},
            "lt": {f"{path}__lt": start},
        }
    return models.Q(**lookups[prefix])


def parse_fhir_date(text: str) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) in UTC of a FHIR date (YYYY-MM-DD: the UTC day) or an instant with an
    offset ("Z" or +hh:mm: that moment, as a range of one microsecond)."""
    bad = FhirError(400, "invalid", "date must be YYYY-MM-DD or an instant with an offset.")
    if len(text) == 10:
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise bad from None
        if not 1900 <= day.year <= 2999:
            raise bad
        start = datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
        return start, start + datetime.timedelta(days=1)
    if not 20 <= len(text) <= 35 or text[10:11] != "T":
        raise bad
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise bad from None
    if moment.tzinfo is None or not 1900 <= moment.year <= 2999:
        raise bad
    moment = moment.astimezone(datetime.UTC)
    return moment, moment + datetime.timedelta(microseconds=1)
