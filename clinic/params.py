"""Values read from a query string or a path: plausible dates and row ids. Anything else is
None, never an exception, so hostile input cannot reach the database or date arithmetic.

Dates of year 1 or 9999 parse, but a day's or a week's arithmetic on them overflows (an
OverflowError, a server error); no clinic date is outside these years.
"""

import datetime

EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)


def is_plausible_date(day: datetime.date) -> bool:
    return EARLIEST_DATE <= day <= LATEST_DATE


def date_param(value: str | None) -> datetime.date | None:
    """A date from a query string or a path (YYYY-MM-DD), or None when it is not one or is
    outside EARLIEST_DATE..LATEST_DATE, so that arithmetic on it never overflows."""
    try:
        day = datetime.date.fromisoformat(value or "")
    except ValueError:
        return None
    return day if is_plausible_date(day) else None


def id_param(value: object) -> int | None:
    """A row id from a query string or a form (ASCII digits that fit a bigint), else None:
    `str.isdigit` alone lets "²" and a 5,000-digit number through to the database."""
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
