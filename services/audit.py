"""The audit trail for changes made outside a work order's own timeline (administration, mostly).

A work order records its own immutable events; everything else an administrator changes
(people, rules, deadlines, chat bindings, resent messages) lands here, in the caller's
transaction, so an edit and its audit row commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from models import AuditLog, Person


def actor_label(actor: Person | None) -> str:
    if actor is None:
        return "系统"
    unit = actor.unit_label
    return f"{actor.name}（{unit}）" if unit else actor.name


def _jsonable(value: Any) -> Any:
    """Detail is stored as JSON: dates become ISO strings, containers are walked."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def record(
    session: Session,
    actor: Person | None,
    action: str,
    target_type: str,
    target_id: Any,
    detail: Mapping[str, Any] | None,
    ip: str,
    now: datetime,
) -> AuditLog:
    """Add one audit row (flushed, not committed)."""
    row = AuditLog(
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label(actor)[:128],
        action=action[:64],
        target_type=(target_type or "")[:32],
        target_id=("" if target_id is None else str(target_id))[:64],
        detail=_jsonable(dict(detail or {})),
        ip=(ip or "")[:64],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
