"""Values read from a query string or a path: plausible dates, bounded numbers and row ids.
Anything else is None, never an exception, so hostile input cannot reach the database or date
arithmetic.

Dates of year 1 or 9999 parse, but a day's or a week's arithmetic on them overflows (an
OverflowError, a server error); no clinic date is outside these years.
"""

import datetime

EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)
MAX_DIGITS = 18  # every such number fits a bigint (a row id)


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


def int_param(value: object, *, least: int, most: int) -> int | None:
    """A whole number from a query string or a form (ASCII digits only) between `least` and
    `most`, else None. `str.isdigit` alone lets "²" through (int() then raises), and int() of
    a 5,000-digit string raises too, so more than MAX_DIGITS digits are refused first."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_DIGITS:
        return None
    number = int(text)
    return number if least <= number <= most else None


def id_param(value: object) -> int | None:
    """A row id from a query string or a form, else None."""
    return int_param(value, least=0, most=10**MAX_DIGITS - 1)
