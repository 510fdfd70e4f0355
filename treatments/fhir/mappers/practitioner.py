"""Practitioner: the clinicians (name and whether the account is active; nothing else)."""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from clinic.models import User
from treatments.fhir.mappers.resource_type import JSON, ResourceType


def rows() -> QuerySet:
    return User.objects.filter(role=User.Role.CLINICIAN).order_by("pk")


def to_fhir(user: User) -> JSON:
    name: JSON = {"text": str(user)}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    return {
        "resourceType": "Practitioner",
        "id": str(user.pk),
        "active": user.is_active,
        "name": [name],
    }


def resources(users: Iterable[User]) -> Iterator[JSON]:
    for user in users:
        yield to_fhir(user)


TYPE = ResourceType(
    name="Practitioner",
    rows=rows,
    resources=resources,
    patient_path=None,
    location_path=None,
    date_path=None,
    clinical=False,
)
