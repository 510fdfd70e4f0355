"""Who may read what through the FHIR API (docs/fhir-api.md).

Three kinds of caller:

- staff with a session that passed the second factor: every resource type, except that the
  front desk reads no clinical type (`ResourceType.clinical`), as in the pages;
- a patient with a portal session: only their own resources, and Location / Practitioner;
- an API client (`Authorization: Bearer <token>`): the types in its scopes, and, when it has a
  location limit, only that location's patients and their records.

`access_from_request` answers None when the caller cannot be identified (no session, a
session without the second factor, an unknown or revoked token): the API answers 401.
A row outside `rows()` is answered as missing (404), never as forbidden.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic import mfa
from clinic.models import User
from treatments.models import ApiClient

if TYPE_CHECKING:
    from treatments.fhir.mappers import ResourceType

# Types that belong to no patient and that a patient's session may read.
PATIENT_READABLE_SHARED = frozenset({"Location", "Practitioner"})
# last_used_at is written at most once a minute per client: a busy client costs no UPDATE per call.
LAST_USED_GRANULARITY = datetime.timedelta(minutes=1)


class InvalidToken(Exception):
    """An Authorization header was sent, but names no live client (answered 401)."""


@dataclass(frozen=True)
class FhirAccess:
    user: User | None
    client: ApiClient | None

    @property
    def is_patient(self) -> bool:
        return self.client is None and self.user is not None and self.user.role == User.Role.PATIENT

    def may_read(self, type_name: str) -> bool:
        """Whether this caller may read resources of this type at all (False: 403 for a client,
        404 for a patient, 403 for staff)."""
        from treatments.fhir.mappers import RESOURCE_TYPES

        resource_type = RESOURCE_TYPES.get(type_name)
        if resource_type is None:
            return False
        if self.client is not None:
            return self.client.may_read(type_name)
        if self.user is None:
            return False
        role = self.user.role
        if role == User.Role.PATIENT:
            return resource_type.patient_path is not None or type_name in PATIENT_READABLE_SHARED
        if role == User.Role.FRONT_DESK:
            return not resource_type.clinical
        return role in User.STAFF_ROLES

    def rows(self, resource_type: ResourceType) -> QuerySet[Any]:
        """`resource_type.rows()` narrowed to what this caller may see. Call may_read first:
        a type the caller may not read gives no rows."""
        rows = resource_type.rows()
        if not self.may_read(resource_type.name):
            return rows.none()
        patient_path = _patient_path(resource_type)
        if self.is_patient:
            assert self.user is not None
            if patient_path is None:
                return rows  # Location, Practitioner
            return rows.filter(**{_join(patient_path, "user"): self.user})
        if self.client is not None and self.client.location_id is not None:
            location_path = resource_type.location_path
            if location_path is None and patient_path is not None:
                location_path = _join(patient_path, "location")
            if location_path is not None:
                return rows.filter(**{location_path: self.client.location_id})
        return rows

    @property
    def patient_user_id(self) -> int | None:
        return self.user.pk if self.is_patient and self.user is not None else None


def _patient_path(resource_type: ResourceType) -> str | None:
    """The ORM path to the Patient: "pk" when the rows are patients (Patient, Observation)."""
    return resource_type.patient_path


def _join(path: str, field: str) -> str:
    """ "patient" + "user" -> "patient__user"; rows that are patients ("pk") -> "user"."""
    return field if path in ("", "pk") else f"{path}__{field}"


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer ...` header; "" for any other Authorization
    header (answered 401); None when there is none."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return token.strip()


def access_from_request(request: HttpRequest) -> FhirAccess | None:
    """The caller of this request, or None (401). A bearer token wins over a session: a call
    that sends a token is judged by its token alone."""
    token = bearer_token(request)
    if token is not None:
        client = ApiClient.objects.by_token(token) if token else None
        if client is None:
            return None
        _touch(client)
        return FhirAccess(user=None, client=client)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.role in User.STAFF_ROLES:
        if mfa.needs_second_factor(user) and not mfa.is_verified(request):
            return None
        return FhirAccess(user=user, client=None)
    if user.role == User.Role.PATIENT:
        return FhirAccess(user=user, client=None)
    return None


def _touch(client: ApiClient) -> None:
    now = timezone.now()
    if client.last_used_at is None or now - client.last_used_at >= LAST_USED_GRANULARITY:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
