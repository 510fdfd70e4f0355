"""How every mapper writes references, instants, dates and our own code systems."""

import datetime
import zoneinfo
from typing import Any

from django.conf import settings

UTC = datetime.UTC


def reference(type_name: str, pk: object, display: str = "") -> dict[str, Any]:
    """A literal relative reference ("Patient/12"), with a display when one is given."""
    ref: dict[str, Any] = {"reference": f"{type_name}/{pk}"}
    if display:
        ref["display"] = display
    return ref


def instant(moment: datetime.datetime, zone: zoneinfo.ZoneInfo | None = None) -> str:
    """An aware datetime as FHIR dateTime/instant with its offset: in `zone` (the location's,
    so a reader sees the local time and the offset of that day) or in UTC ("Z")."""
    if moment.tzinfo is None:
        raise ValueError("FHIR instants need an offset: a naive datetime is a bug")
    if zone is None:
        return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return moment.astimezone(zone).isoformat(timespec="seconds")


def fhir_date(day: datetime.date) -> str:
    return day.isoformat()


def site_base() -> str:
    return settings.SITE_URL.rstrip("/")


def mrn_system() -> str:
    """The identifier system of our MRNs: FHIR_MRN_SYSTEM, else SITE_URL + "/mrn"."""
    return settings.FHIR_MRN_SYSTEM or f"{site_base()}/mrn"


def code_system(name: str) -> str:
    """Our own local code systems (site codes, adverse-event terms...): stable URIs under
    SITE_URL/fhir/CodeSystem/<name>."""
    return f"{site_base()}/fhir/CodeSystem/{name}"
