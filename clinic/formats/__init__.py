"""Dates as people type them at the desk: ISO 8601 (YYYY-MM-DD) everywhere, and the clinic's
own order with slashes, dots or dashes: DD/MM/YYYY in the UK and most of the world, MM/DD/YYYY
in the United States and the few countries that write the month first. The clinic's country is
PHONENUMBER_DEFAULT_REGION, the setting that also reads the local phone numbers typed there.

(The en_GB package beside this file holds Django's format module for the en-gb locale.)
"""

import datetime
import re

from django.conf import settings

from clinic.params import is_plausible_date

# Countries whose usual short date is month first (CLDR's short date patterns, M/d/y).
MONTH_FIRST_REGIONS = frozenset({"US", "AS", "GU", "MP", "PR", "UM", "VI", "FM", "MH", "PW", "PH"})
# Three numbers split by "/", "." or "-" (the same mark twice): a date was meant. The year has
# four digits: a two-digit year of birth cannot be read safely (is 30 1930 or 2030?).
TYPED_DATE = re.compile(r"^(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})$")


class TypedDateError(ValueError):
    """A text that looks like a date but is not one (31/02/1980, 12/13/14)."""


def month_first(region: str | None = None) -> bool:
    return (region or settings.PHONENUMBER_DEFAULT_REGION or "").upper() in MONTH_FIRST_REGIONS


def date_pattern(region: str | None = None) -> str:
    """How the desk types a date, for help texts and messages: "DD/MM/YYYY" or "MM/DD/YYYY"."""
    return "MM/DD/YYYY" if month_first(region) else "DD/MM/YYYY"


def typed_date(text: str, region: str | None = None) -> datetime.date | None:
    """The date `text` names, read as ISO or in `region`'s order (the clinic's by default);
    None when the text is no date at all (a name, an MRN); TypedDateError when it looks like a
    date but is not a real, plausible one, so that the desk is told rather than shown nothing."""
    match = TYPED_DATE.match(text.strip())
    if match is None:
        return None
    first, _, middle, last = match.groups()
    if len(first) == 4:  # year first: ISO's order, whatever the separator
        year, month, day = first, middle, last
    elif len(last) == 4:
        day, month = (middle, first) if month_first(region) else (first, middle)
        year = last
    else:
        raise TypedDateError(f"Type the date as {date_pattern(region)} or YYYY-MM-DD.")
    try:
        date = datetime.date(int(year), int(month), int(day))
    except ValueError as error:
        raise TypedDateError(
            f"“{text.strip()}” is not a date: type it as {date_pattern(region)} or YYYY-MM-DD."
        ) from error
    if not is_plausible_date(date):
        raise TypedDateError(f"“{text.strip()}” is not a plausible date of birth.")
    return date
