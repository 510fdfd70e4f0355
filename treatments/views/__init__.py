from collections.abc import Callable

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

_MARKER = 2147483647  # an id no row has, reversed once and replaced


def pk_url(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for every row of a list page, resolved once: each row's link
    is then a string substitution, not a walk of the URL patterns."""
    head, _, tail = reverse(name, args=[_MARKER]).rpartition(str(_MARKER))
    return lambda pk: f"{head}{pk}{tail}"


def lot_options(lots: QuerySet) -> SafeString:
    """A datalist's <option> per lot (its number, and str(lot) as the label), written once
    here rather than by a template loop: the lot recall lists 200 lots on every request."""
    return format_html_join(
        "",
        '<option value="{}">{}</option>',
        ((lot.lot_number, lot) for lot in lots.only("lot_number", "product", "expiry")),
    )
