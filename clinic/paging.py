"""A list page's rows, a page at a time: one helper and one footer (templates/_pages.html) for
every staff list."""

from collections.abc import Sequence
from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest

PAGE_SIZE = 50


class CappedPaginator(Paginator):
    """Pages of at most the first `limit` rows. Counting a search that matches a large share
    of a big table reads every match (on PostgreSQL the planner then prefers to read the whole
    table); counting at most limit + 1 of them stops early. `capped` says there were more."""

    object_list: QuerySet

    def __init__(self, object_list: QuerySet, per_page: int, *, limit: int):
        super().__init__(object_list, per_page)
        self.limit = limit

    @cached_property
    def _counted(self) -> int:
        return self.object_list.order_by()[: self.limit + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._counted, self.limit)

    @property
    def capped(self) -> bool:
        return self._counted > self.limit


def page_of(
    request: HttpRequest,
    rows: QuerySet | Sequence,
    per_page: int = PAGE_SIZE,
    *,
    count_limit: int | None = None,
    count: int | None = None,
) -> Page:
    """The page `?page=` asks for. Whatever it says, never an error: anything but a number is
    the first page, a number past either end the last page (Django's `get_page`). With
    `count_limit` (a QuerySet), only its first rows are counted and paged (CappedPaginator).
    With `count`, the caller already knows how many rows there are (counted more cheaply
    than a COUNT of `rows` would), and they are not counted again."""
    if count_limit is not None and isinstance(rows, QuerySet):
        paginator: Paginator = CappedPaginator(rows, per_page, limit=count_limit)
    else:
        paginator = Paginator(rows, per_page)
    if count is not None:
        paginator.count = count  # a cached_property: set, it is never computed
    return paginator.get_page(request.GET.get("page"))
