"""A list page's rows, a page at a time: one helper and one footer (templates/_pages.html) for
every staff list."""

from collections.abc import Sequence

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50


def page_of(request: HttpRequest, rows: QuerySet | Sequence, per_page: int = PAGE_SIZE) -> Page:
    """The page `?page=` asks for. Whatever it says, never an error: anything but a number is
    the first page, a number past either end the last page (Django's `get_page`)."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))
