"""The type every mapper module declares (see the package's docstring for the interface)."""

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

JSON = dict[str, Any]


def pk_lookup(id_str: str) -> Q | None:
    """The rows whose pk is `id_str` (None for anything that is not a positive integer)."""
    if not id_str.isascii() or not id_str.isdigit() or len(id_str) > 18:
        return None
    pk = int(id_str)
    return Q(pk=pk) if pk > 0 else None


@dataclass(frozen=True)
class ResourceType:
    name: str
    rows: Callable[[], QuerySet]
    resources: Callable[[Iterable[Any]], Iterator[JSON]]
    patient_path: str | None
    location_path: str | None
    date_path: str | None
    status_path: str | None = None
    status_codes: dict[str, str] = field(default_factory=dict)
    clinical: bool = True
    # The rows that may hold the resource with FHIR id `id_str` (None: no such id can exist).
    id_lookup: Callable[[str], Q | None] = pk_lookup
    date_is_datetime: bool = True
    # A type whose ids are not rows (Observation's diary windows) reads by id itself.
    read: Callable[[QuerySet, str], JSON | None] | None = None
    # For a type without `date_path`: the (start, end) dates of a mapped resource.
    date_of: Callable[[JSON], tuple[datetime.date, datetime.date]] | None = None

    def narrow_to_id(self, rows: QuerySet, id_str: str) -> QuerySet | None:
        lookup = self.id_lookup(id_str)
        return None if lookup is None else rows.filter(lookup)
