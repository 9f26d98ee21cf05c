"""Policy uptake: pushed → opened → applied → granted, per policy, item, zone and staff member.

Each function is one grouped SELECT over ``policy_push`` (no per-row Python). "Pushed" counts
pushes whose staff digest was delivered (``status = sent``); opened / applied / granted count the
pushes that reached that step (an enterprise that applied without opening its link still counts
as applied). Zone and staff member are those recorded when the item was pushed.

* ``totals(session, **filters) -> Funnel``
* ``by_policy(session, department_id=None, since=None) -> list[PolicyUptake]``
* ``by_item(session, policy_id) -> list[ItemUptake]``
* ``by_zone(session, policy_id=None, since=None) -> list[GroupUptake]``
* ``by_staff(session, policy_id=None, zone_id=None, since=None) -> list[GroupUptake]``

``since`` limits to pushes created at or after that moment; ``Funnel`` has the counts and
``rate(step)`` percentages relative to ``pushed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from models import Person, Zone
from models.policy import Policy, PolicyItem, PolicyPush, PushStatus


@dataclass(frozen=True)
class Funnel:
    pushed: int = 0
    opened: int = 0
    applied: int = 0
    granted: int = 0
    failed: int = 0
    queued: int = 0

    def rate(self, step: str) -> float:
        """Percentage of ``pushed`` that reached ``step`` (opened | applied | granted)."""
        if not self.pushed:
            return 0.0
        return round(getattr(self, step) * 100.0 / self.pushed, 1)


@dataclass(frozen=True)
class PolicyUptake:
    policy_id: int
    title: str
    funnel: Funnel


@dataclass(frozen=True)
class ItemUptake:
    item_id: int
    title: str
    funnel: Funnel


@dataclass(frozen=True)
class GroupUptake:
    key: int | None  # zone id or staff person id; None: not recorded / unassigned
    label: str
    funnel: Funnel


def _funnel_columns():
    def count_when(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return (
        count_when(PolicyPush.status == PushStatus.SENT),
        count_when(PolicyPush.opened_at.is_not(None)),
        count_when(PolicyPush.applied_at.is_not(None)),
        count_when(PolicyPush.granted_at.is_not(None)),
        count_when(PolicyPush.status == PushStatus.FAILED),
        count_when(PolicyPush.status == PushStatus.QUEUED),
    )


def _funnel(values) -> Funnel:
    return Funnel(*(int(v or 0) for v in values))


def _filtered(query, *, policy_id: int | None = None, department_id: int | None = None, zone_id: int | None = None,
              since: datetime | None = None):
    if policy_id is not None or department_id is not None:
        query = query.join(PolicyItem, PolicyItem.id == PolicyPush.item_id)
        if policy_id is not None:
            query = query.where(PolicyItem.policy_id == policy_id)
        if department_id is not None:
            query = query.join(Policy, Policy.id == PolicyItem.policy_id).where(
                Policy.owner_department_id == department_id)
    if zone_id is not None:
        query = query.where(PolicyPush.zone_id == zone_id)
    if since is not None:
        query = query.where(PolicyPush.created_at >= since)
    return query


def totals(session: Session, *, policy_id: int | None = None, department_id: int | None = None,
           zone_id: int | None = None, since: datetime | None = None) -> Funnel:
    query = _filtered(select(*_funnel_columns()).select_from(PolicyPush), policy_id=policy_id,
                      department_id=department_id, zone_id=zone_id, since=since)
    return _funnel(session.execute(query).one())


def by_policy(session: Session, *, department_id: int | None = None, since: datetime | None = None
              ) -> list[PolicyUptake]:
    query = (select(Policy.id, Policy.title, *_funnel_columns()).select_from(PolicyPush)
             .join(PolicyItem, PolicyItem.id == PolicyPush.item_id).join(Policy, Policy.id == PolicyItem.policy_id)
             .group_by(Policy.id, Policy.title))
    if department_id is not None:
        query = query.where(Policy.owner_department_id == department_id)
    if since is not None:
        query = query.where(PolicyPush.created_at >= since)
    rows = [PolicyUptake(pid, title, _funnel(rest)) for pid, title, *rest in session.execute(query)]
    return sorted(rows, key=lambda r: (-r.funnel.pushed, r.policy_id))


def by_item(session: Session, policy_id: int) -> list[ItemUptake]:
    query = (select(PolicyItem.id, PolicyItem.title, *_funnel_columns()).select_from(PolicyPush)
             .join(PolicyItem, PolicyItem.id == PolicyPush.item_id).where(PolicyItem.policy_id == policy_id)
             .group_by(PolicyItem.id, PolicyItem.title).order_by(PolicyItem.id))
    return [ItemUptake(iid, title, _funnel(rest)) for iid, title, *rest in session.execute(query)]


def by_zone(session: Session, *, policy_id: int | None = None, since: datetime | None = None) -> list[GroupUptake]:
    query = _filtered(select(PolicyPush.zone_id, Zone.name, *_funnel_columns()).select_from(PolicyPush)
                      .outerjoin(Zone, Zone.id == PolicyPush.zone_id), policy_id=policy_id, since=since)
    query = query.group_by(PolicyPush.zone_id, Zone.name, Zone.sort_order).order_by(Zone.sort_order, PolicyPush.zone_id)
    return [GroupUptake(zid, name or "未划分片区", _funnel(rest)) for zid, name, *rest in session.execute(query)]


def by_staff(session: Session, *, policy_id: int | None = None, zone_id: int | None = None,
             since: datetime | None = None) -> list[GroupUptake]:
    query = _filtered(select(PolicyPush.staff_id, Person.name, *_funnel_columns()).select_from(PolicyPush)
                      .outerjoin(Person, Person.id == PolicyPush.staff_id),
                      policy_id=policy_id, zone_id=zone_id, since=since)
    query = query.group_by(PolicyPush.staff_id, Person.name)
    rows = [GroupUptake(sid, name or "未分配服务专员", _funnel(rest)) for sid, name, *rest in session.execute(query)]
    return sorted(rows, key=lambda r: (-r.funnel.pushed, r.key or 0))
