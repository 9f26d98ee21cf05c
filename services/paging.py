"""One page of a list: the order list, the enterprise registry, the grid queues."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(session: Session, query, *, page: int, per_page: int, count_query=None) -> Page:
    """``query`` (in its final order) cut to one page; a page past the end shows the last one.

    ``count_query`` counts the rows; without it ``query`` is counted as a subquery, so give one
    when ``query`` carries loader options or a cheaper count exists.
    """
    if count_query is None:
        count_query = select(func.count()).select_from(query.order_by(None).subquery())
    total = int(session.scalar(count_query) or 0)
    page = min(max(1, page), max(1, math.ceil(total / per_page)))
    items = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page)))
    return Page(items, total, page, per_page)
