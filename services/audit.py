"""The audit trail for changes made outside a work order's own timeline (administration, mostly).

A work order records its own immutable events; everything else an administrator changes
(people, rules, deadlines, chat bindings, resent messages) lands here, in the caller's
transaction, so an edit and its audit row commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from models import (
    AuditLog,
    Department,
    Enterprise,
    KnowledgeEntry,
    Person,
    Policy,
    PolicyItem,
    RequestDomain,
    ServiceStage,
    TrainingRegistration,
    Zone,
)
from services import inputs, labels


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


# --------------------------------------------------------------------------------------------------
# Reading the trail: every row as Chinese lines, ids turned into names
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditLine:
    label: str
    text: str


@dataclass(frozen=True)
class AuditView:
    row: AuditLog
    action: str
    target: str
    lines: list[AuditLine]


# Detail keys that hold ids, and what they name.
_ID_KEYS: dict[str, str] = {
    "department_id": "department", "owner_department_id": "department", "zone_id": "zone",
    "stage_id": "stage", "stage_ids": "stage", "domain_id": "domain", "policy_id": "policy", "item_id": "item",
    "items": "item", "enterprise_id": "enterprise", "enterprise_ids": "enterprise", "entry_id": "entry",
    "person_id": "person", "inactive_person": "person", "attended": "registration",
}
# Changed fields that hold a row's id (``changes`` entries of these keys).
_ID_FIELDS = {"department_id", "owner_department_id", "zone_id", "stage_id", "domain_id", "policy_id"}


def _ids_in(detail: Mapping[str, Any], found: dict[str, set[int]]) -> None:
    def add(key: str, value: Any) -> None:
        kind = _ID_KEYS.get(key)
        if kind is None:
            return
        for one in value if isinstance(value, list | tuple) else [value]:
            if isinstance(one, int) and not isinstance(one, bool):
                found.setdefault(kind, set()).add(one)

    for key, value in detail.items():
        if key in ("changes", "values") and isinstance(value, Mapping):
            for field_name, pair in value.items():
                for one in pair if isinstance(pair, list | tuple) else [pair]:
                    add(field_name, one)
                    if field_name == "conditions" and isinstance(one, Mapping):
                        _condition_ids(one, found)
        elif key == "conditions" and isinstance(value, Mapping):
            _condition_ids(value, found)
        elif key == "to" and isinstance(value, Mapping):  # grid.reassign: {person id: enterprises}
            found.setdefault("person", set()).update(inputs.ids(value))
        else:
            add(key, value)


def _condition_ids(conditions: Mapping[str, Any], found: dict[str, set[int]]) -> None:
    for key, kind in (("stage_ids", "stage"), ("zone_ids", "zone")):
        found.setdefault(kind, set()).update(i for i in conditions.get(key) or [] if isinstance(i, int))


def _names(session: Session, found: dict[str, set[int]]) -> dict[str, dict[int, str]]:
    columns = {
        "zone": (Zone.id, Zone.name), "stage": (ServiceStage.id, ServiceStage.name),
        "domain": (RequestDomain.id, RequestDomain.name), "policy": (Policy.id, Policy.title),
        "item": (PolicyItem.id, PolicyItem.title), "enterprise": (Enterprise.id, Enterprise.name),
        "entry": (KnowledgeEntry.id, KnowledgeEntry.title), "person": (Person.id, Person.name),
    }
    names: dict[str, dict[int, str]] = {}
    for kind, ids in found.items():
        if not ids:
            continue
        if kind == "department":
            rows = session.scalars(select(Department).options(selectinload(Department.parent))
                                   .where(Department.id.in_(ids)))
            names[kind] = {d.id: d.display_name for d in rows}
        elif kind == "registration":
            names[kind] = dict(session.execute(
                select(TrainingRegistration.id, Enterprise.name)
                .join(Enterprise, Enterprise.id == TrainingRegistration.enterprise_id)
                .where(TrainingRegistration.id.in_(ids))).all())
        else:
            key, label = columns[kind]
            names[kind] = dict(session.execute(select(key, label).where(key.in_(ids))).all())
    return names


def _conditions_text(conditions: Mapping[str, Any], names: Mapping[str, Mapping[int, str]]) -> str:
    from services.policies.matching import Labels, describe, parse_conditions

    try:
        lines = describe(parse_conditions(conditions),
                         Labels(zones=dict(names.get("zone", {})), stages=dict(names.get("stage", {}))))
    except Exception:  # an old row the parser no longer reads: show it as stored
        return labels.value_text("conditions", dict(conditions))
    return "；".join(lines) or "不限（所有企业）"


def _value(key: str, value: Any, target_type: str, names: Mapping[str, Mapping[int, str]]) -> str:
    if key == "conditions" and isinstance(value, Mapping):
        return _conditions_text(value, names)
    kind = _ID_KEYS.get(key)
    return labels.value_text(key, value, target_type=target_type, names=names.get(kind) if kind else None)


def _lines(row: AuditLog, names: Mapping[str, Mapping[int, str]]) -> list[AuditLine]:
    detail = row.detail if isinstance(row.detail, Mapping) else {"note": row.detail}
    lines = []
    for key, value in detail.items():
        if key in ("changes", "values") and isinstance(value, Mapping):
            for field_name, pair in value.items():
                if key == "changes" and isinstance(pair, list | tuple) and len(pair) == 2:
                    old, new = (_value(field_name, v, row.target_type, names) for v in pair)
                    text = f"{old} → {new}"
                else:
                    text = _value(field_name, pair, row.target_type, names)
                lines.append(AuditLine(labels.audit_field_label(field_name), text))
        elif key == "to" and isinstance(value, Mapping):
            people = names.get("person", {})
            text = "；".join(f"{people.get(inputs.to_id(k), k)} {n} 家" for k, n in value.items())
            lines.append(AuditLine("移交给", text or labels.EMPTY))
        elif value not in (None, "", [], {}):  # an empty note or date says nothing
            lines.append(AuditLine(labels.audit_field_label(key), _value(key, value, row.target_type, names)))
    return lines


def _target(row: AuditLog) -> str:
    label = labels.audit_target_label(row.target_type)
    if row.target_type == "system_setting":
        return f"{label}：" + "、".join(labels.audit_field_label(k) for k in row.target_id.split(",") if k)
    if row.target_type in ("wecom_callback", "dingtalk_robot"):
        return f"{label}：{labels.REJECTIONS.get(row.target_id, row.target_id)}"
    return f"{label} {row.target_id}".strip()


def describe(session: Session, rows: list[AuditLog]) -> list[AuditView]:
    """The rows as the audit page shows them: Chinese labels, names instead of ids (one query per
    kind of id for the whole page)."""
    found: dict[str, set[int]] = {}
    for row in rows:
        if isinstance(row.detail, Mapping):
            _ids_in(row.detail, found)
    names = _names(session, found)
    return [AuditView(row, labels.audit_action_label(row.action), _target(row), _lines(row, names)) for row in rows]
