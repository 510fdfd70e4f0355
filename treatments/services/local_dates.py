"""Each location's own "today": the due list, the reports and the authorizations' worklist
count a patient's days from the date at their usual location."""

import datetime
from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from clinic.models import Location

# Each location's own date (its zone's), by location id: the due list counts a patient's days
# from the date at their usual location (a patient with none: the page's `today`), so that a
# New York row at 00:40 UTC is still on New York's yesterday, as its front desk's wall is.
LocalDates = dict[int, datetime.date]


def local_dates(locations: Iterable[Location]) -> LocalDates:
    """Today at each of `locations`."""
    return {location.pk: timezone.localdate(timezone=location.zone) for location in locations}


def on_local_dates(
    condition,
    *,
    today: datetime.date,
    today_at: LocalDates | None,
    location_field: str = "location_id",
) -> Q:
    """`condition(day)` for each location's own date (`today_at`), and `condition(today)` for
    the rows of any other location or of none (`location_field`: the path to the location of
    the patient the row is about). When every location is on `today` (most of the day), this
    is `condition(today)` alone: the query is the one it always was."""
    elsewhere: dict[datetime.date, list[int]] = {}
    for location_id, day in (today_at or {}).items():
        if day != today:
            elsewhere.setdefault(day, []).append(location_id)
    if not elsewhere:
        return condition(today)
    moved = [pk for ids in elsewhere.values() for pk in ids]
    combined = ~Q(**{f"{location_field}__in": moved}) & condition(today)
    for day, ids in elsewhere.items():
        combined |= Q(**{f"{location_field}__in": ids}) & condition(day)
    return combined
