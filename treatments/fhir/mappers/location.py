"""Location: name, address, phone, and the time zone as an extension."""

from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from clinic.models import Location
from treatments.fhir.mappers.resource_type import JSON, ResourceType

# The IANA zone of the place (FHIR R5 core extension, usable in R4: "timezone").
TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"


def rows() -> QuerySet:
    return Location.objects.order_by("pk")


def to_fhir(location: Location) -> JSON:
    resource: JSON = {
        "resourceType": "Location",
        "id": str(location.pk),
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": location.time_zone}],
        "status": "active",
        "name": location.name,
        "mode": "instance",
    }
    if location.phone:
        resource["telecom"] = [{"system": "phone", "value": location.phone.as_e164, "use": "work"}]
    if location.address.strip():
        resource["address"] = {"use": "work", "text": location.address.strip()}
    return resource


def resources(locations: Iterable[Location]) -> Iterator[JSON]:
    for location in locations:
        yield to_fhir(location)


TYPE = ResourceType(
    name="Location",
    rows=rows,
    resources=resources,
    patient_path=None,
    location_path="pk",
    date_path=None,
    clinical=False,
)
