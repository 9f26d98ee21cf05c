"""A row by the id a person typed or a URL carried: the one way every service looks one up."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from services.errors import NotFound
from services.inputs import to_id

T = TypeVar("T")


def get_or_not_found(session: Session, model: type[T], row_id: Any, message: str, *, lock: bool = False) -> T:
    """``model`` with primary key ``row_id`` ("12", 12); ``NotFound(message)`` when the id is not a
    database id (``services.inputs.to_id``) or no such row exists. ``lock`` reads it FOR UPDATE (fresh
    from the database)."""
    key = to_id(row_id)
    if key is None:
        raise NotFound(message)
    row = session.get(model, key, with_for_update=lock, populate_existing=lock)
    if row is None:
        raise NotFound(message)
    return row
