"""Recording who looks at patient data, per request (docs/audit.md).

1. `AuditMiddleware` opens a `Look` for each request and makes it current.
2. Loading a Patient, or any row that belongs to a patient, during the request notes that
   patient (a `post_init` receiver on those models): however a view reaches the data, list
   pages and admin pages included, the look is noted; nothing depends on a view remembering.
   The one exception: a page that reads plain rows (`.values()`, for speed) loads no model,
   and says whom it showed with `note_patients`.
3. After the response is rendered, the middleware writes one AccessEvent per patient noted, in
   one INSERT (`bulk_create`), so a list page's query count stays constant.
4. The same `Look` names the actor of the database's history triggers: on PostgreSQL a session
   setting written just before a write statement, on SQLite two SQL functions that read it.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_ipv46_address
from django.db import connection
from django.db.models.signals import post_init
from django.http import HttpRequest
from django.utils import timezone

from clinic.params import id_param

log = logging.getLogger(__name__)

WRITES = ("INSERT", "UPDATE", "DELETE", "WITH")


@dataclass
class Look:
    request: HttpRequest
    patients: set[int] = field(default_factory=set)
    _actor: tuple[int | None, str] | None = None

    def actor(self) -> tuple[int | None, str]:
        """(user id, role) of the request; (None, "") before login or without one."""
        if self._actor is None:
            user = getattr(self.request, "user", None)
            if user is not None and user.is_authenticated:
                self._actor = (user.pk, user.role)
            else:
                self._actor = (None, "")
        return self._actor


_current: contextvars.ContextVar[Look | None] = contextvars.ContextVar("audit_look", default=None)


def current_actor() -> tuple[int | None, str]:
    look = _current.get()
    return look.actor() if look is not None else (None, "")


# --- 2. noting the patients a request loads ----------------------------------------------------


def _note_patient(sender, instance, **kwargs):
    look = _current.get()
    if look is not None and instance.pk is not None:
        look.patients.add(instance.pk)


def _note_owner(sender, instance, **kwargs):
    look = _current.get()
    if look is not None and instance.pk is not None:
        patient_id = instance.__dict__.get("patient_id")
        if patient_id is not None:
            look.patients.add(patient_id)


def note_patients(patient_ids) -> None:
    """Note patients a view shows from plain rows (`.values()`), which load no model and so
    send no `post_init`: a busy page reads rows, the trail still names everyone shown."""
    look = _current.get()
    if look is not None:
        look.patients.update(patient_id for patient_id in patient_ids if patient_id is not None)


def watch_patient_models() -> None:
    """Note the patient of every Patient row, and of every row with a `patient` foreign key,
    loaded while a request is being answered."""
    patient_model = apps.get_model("patients", "Patient")
    post_init.connect(_note_patient, sender=patient_model, dispatch_uid="audit_patient")
    for model in apps.get_models():
        try:
            field_ = model._meta.get_field("patient")
        except FieldDoesNotExist:
            continue
        if getattr(field_, "related_model", None) is patient_model and field_.concrete:
            post_init.connect(_note_owner, sender=model, dispatch_uid=f"audit_{model._meta}")


# --- 3. writing the rows -------------------------------------------------------------------------


def client_address(request) -> str | None:
    """REMOTE_ADDR; the last X-Forwarded-For hop only when AUDIT_TRUSTED_PROXY says a proxy we
    run sets it (anyone can send the header)."""
    address = request.META.get("REMOTE_ADDR") or None
    if settings.AUDIT_TRUSTED_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            address = hops[-1]
    return address


def record_id(kwargs: dict) -> int | None:
    for name in ("pk", "patient_pk", "object_id"):
        if (value := id_param(kwargs.get(name))) is not None:
            return value
    return None


def write_access(look: Look) -> None:
    from audit.models import AccessEvent

    request = look.request
    match = getattr(request, "resolver_match", None)
    user_id, role = look.actor()
    address = client_address(request)
    try:
        validate_ipv46_address(address or "")
    except ValidationError:
        address = None  # a malformed address is recorded as unknown
    now = timezone.now()
    view = (match.view_name if match else request.path_info)[:100]
    record = record_id(match.kwargs) if match else None
    method = (request.method or "")[:10]
    patient_ids = sorted(look.patients)
    if connection.vendor == "postgresql":
        # One statement and no model per row, however many patients: a busy calendar week
        # shows thousands, and building the rows cost more than the page.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AccessEvent._meta.db_table} "
                "(at, patient_id, user_id, role, view, record_id, method, address) "
                "SELECT %s, unnest(%s::bigint[]), %s, %s, %s, %s, %s, %s::inet",
                [now, patient_ids, user_id, role, view, record, method, address],
            )
        return
    AccessEvent.objects.bulk_create(
        AccessEvent(
            at=now,
            patient_id=patient_id,
            user_id=user_id,
            role=role,
            view=view,
            record_id=record,
            method=method,
            address=address,
        )
        for patient_id in patient_ids
    )


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        look = Look(request)
        token = _current.set(look)
        try:
            response = self.get_response(request)
        except BaseException:
            _current.reset(token)
            if look.patients:
                try:
                    write_access(look)
                except Exception:
                    log.exception("audit: could not record the access of a failed request")
            raise
        _current.reset(token)
        if look.patients:
            write_access(look)
        return response


# --- 4. the actor of the history triggers ---------------------------------------------------------


def on_connection_created(sender, connection, **kwargs):
    """Give every new connection the means to name the actor of a write."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "cadence_actor_id", 0, lambda: current_actor()[0], deterministic=False
        )
        connection.connection.create_function(
            "cadence_actor_role", 0, lambda: current_actor()[1], deterministic=False
        )
    if _name_the_actor not in connection.execute_wrappers:
        connection.execute_wrappers.append(_name_the_actor)


def _name_the_actor(execute, sql, params, many, context):
    """Before a write, settle who the actor is (SQLite's functions then only read it: they run
    inside the statement, where no query may run) and, on PostgreSQL, make the connection's
    cadence.actor_* settings name them. Outside a transaction the setting outlives the
    statement, so it is remembered and written again only when the actor changes; inside one, a
    rollback would undo it unseen, so it is written before every write statement."""
    if sql.lstrip()[:6].upper().startswith(WRITES):
        connection = context["connection"]
        actor = current_actor()
        if connection.vendor != "postgresql":
            return execute(sql, params, many, context)
        raw = connection.connection
        remembered = getattr(connection, "_audit_actor", None)
        if connection.in_atomic_block or remembered != (id(raw), actor):
            with raw.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('cadence.actor_id', %s, false), "
                    "set_config('cadence.actor_role', %s, false)",
                    ["" if actor[0] is None else str(actor[0]), actor[1]],
                )
            connection._audit_actor = None if connection.in_atomic_block else (id(raw), actor)
    return execute(sql, params, many, context)


# --- 5. FHIR API calls ----------------------------------------------------------------------------


def write_api_call(
    request,
    *,
    user_id: int | None,
    role: str,
    api_client_id: int | None,
    resource_type: str,
    status: int,
    touched: dict[int, list[str]],
    record: int | None = None,
) -> None:
    """Record one FHIR API call (treatments/fhir/views.py): one row per patient whose resources
    the answer held, with those resources' ids, or one row without a patient when it held none
    (metadata, a Location, a refused call). One INSERT however many patients.

    The API names its patients exactly, from the resources it returned, so the request's `Look`
    (which notes every row loaded, the page's look-ahead row included) is emptied."""
    from audit.models import AccessEvent

    look = _current.get()
    if look is not None:
        look.patients.clear()
    address = client_address(request)
    try:
        validate_ipv46_address(address or "")
    except ValidationError:
        address = None
    match = getattr(request, "resolver_match", None)
    common = {
        "at": timezone.now(),
        "user_id": user_id,
        "role": role,
        "api_client_id": api_client_id,
        "view": (match.view_name if match else request.path_info)[:100],
        "record_id": record,
        "method": (request.method or "")[:10],
        "address": address,
        "resource_type": resource_type[:40],
        "status": status,
    }
    rows = [
        AccessEvent(patient_id=patient_id, resource_ids=ids, **common)
        for patient_id, ids in sorted(touched.items())
    ] or [AccessEvent(patient_id=None, resource_ids=[], **common)]
    AccessEvent.objects.bulk_create(rows)
