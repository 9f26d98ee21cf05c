"""The SLA watchdog: reminders before a deadline, 督办 after it, each exactly once per cycle.

``services.orders.sla.due_alerts`` decides what is due (pure); this module finds the orders whose clock
runs, records each alert as a ``WorkOrderAlert`` row — the unique (order, kind, deadline
version) key makes two watchdogs racing each other fire it once — plus an immutable event on
the order's timeline, and writes the notices to the outbox. A new cycle (new dispatch, approved
extension, reopen) bumps ``deadline_version``, so its alerts fire again.

Escalation of an overdue order, in the order the rules give:
  remind_NN          → the assignee (or the department's chief helpers before anyone signed)
  sign_overdue       → the chief helpers and the grid center's dispatchers
  overdue_supervise  → the assignee, and a 督办 line in the department group
  overdue_leader     → the department's leaders (the zone admins for an order a zone handles)
  overdue_bizenv     → the business-environment office
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Person, Role, WorkOrder, WorkOrderAlert, WorkOrderEvent
from services.messaging.notify import (
    Channels,
    Notifier,
    chief_helpers,
    department_leaders,
    hub_people,
    local_time,
)
from services.orders import sla
from services.orders.deadlines import load_calendar, rule_for
from services.orders.lifecycle import Action, State

log = logging.getLogger(__name__)

SYSTEM_LABEL = "系统"


def _candidates(session: Session) -> list[WorkOrder]:
    return list(
        session.scalars(
            select(WorkOrder)
            .where(
                WorkOrder.state.in_(State.CLOCK_RUNNING),
                WorkOrder.suspended_at.is_(None),
                or_(WorkOrder.due_at.is_not(None), WorkOrder.sign_due_at.is_not(None)),
            )
            .order_by(WorkOrder.id)
        )
    )


def _fired(session: Session, orders: list[WorkOrder]) -> dict[int, set[str]]:
    """Kinds already fired in each order's current cycle."""
    fired: dict[int, set[str]] = defaultdict(set)
    ids = [o.id for o in orders]
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(WorkOrderAlert.work_order_id, WorkOrderAlert.kind)
            .join(WorkOrder, and_(WorkOrder.id == WorkOrderAlert.work_order_id,
                                  WorkOrder.deadline_version == WorkOrderAlert.deadline_version))
            .where(WorkOrderAlert.work_order_id.in_(ids[start : start + 500]))
        )
        for order_id, kind in rows:
            fired[order_id].add(kind)
    return fired


def _claim(session: Session, order: WorkOrder, kind: str, now: datetime) -> bool:
    """Record the alert; False when another watchdog already did (the unique key says so)."""
    try:
        with session.begin_nested():
            session.add(
                WorkOrderAlert(work_order_id=order.id, kind=kind, deadline_version=order.deadline_version, fired_at=now)
            )
            session.flush()
    except IntegrityError:
        return False
    return True


def run_sla_watchdog(session: Session, now: datetime, channels: Channels) -> int:
    """Fire every alert due at ``now``; returns how many fired (skipped reminders not counted)."""
    orders = _candidates(session)
    if not orders:
        return 0
    calendar = load_calendar(session)
    fired = _fired(session, orders)
    notifier = Notifier(session, channels, now)
    count = 0
    for order in orders:
        plan = sla.due_alerts(
            rule=rule_for(session, order),
            calendar=calendar,
            state=order.state,
            clock_started_at=order.clock_started_at,
            due_at=order.due_at,
            sign_due_at=order.sign_due_at,
            signed=order.signed_at is not None,
            suspended=order.suspended_at is not None,
            now=now,
            fired=fired.get(order.id, set()),
        )
        for kind in plan.skip:
            # Already overdue: a "half-way" reminder now would only confuse; mark it done silently.
            _claim(session, order, kind, now)
        for kind in plan.fire:
            if not _claim(session, order, kind, now):
                continue
            _record(session, order, kind, now)
            _notify(session, notifier, order, kind, calendar, now)
            count += 1
            log.info("SLA alert %s for %s (cycle %s)", kind, order.number, order.deadline_version)
    return count


def _record(session: Session, order: WorkOrder, kind: str, now: datetime) -> None:
    session.add(
        WorkOrderEvent(
            work_order_id=order.id, action=Action.ALERT, actor_id=None, actor_label=SYSTEM_LABEL, channel="system",
            from_state=order.state, to_state=order.state, note=sla.alert_label(kind),
            data={"kind": kind, "deadline_version": order.deadline_version}, created_at=now,
        )
    )
    session.flush()


def _assignees(session: Session, order: WorkOrder) -> list[Person]:
    if order.assigned_person is not None:
        return [order.assigned_person]
    if order.assigned_department_id is not None:
        return chief_helpers(session, order.assigned_department_id, order.stage_id)
    return []


def _leaders(session: Session, order: WorkOrder) -> list[Person]:
    if order.assigned_department_id is not None:
        return department_leaders(session, order.assigned_department_id)
    if order.zone_id is None:
        return []
    # A level-1 order handled in the zone: the zone's admins stand in for a department leader.
    return list(
        session.scalars(
            select(Person).where(
                and_(Person.zone_id == order.zone_id, Person.role == Role.ZONE_ADMIN, Person.active.is_(True))
            )
        )
    )


def _notify(
    session: Session, notifier: Notifier, order: WorkOrder, kind: str, calendar: sla.WorkCalendar, now: datetime
) -> None:
    key = f"alert:{order.id}:{order.deadline_version}:{kind}"
    label = sla.alert_label(kind)
    left = sla.time_left_label(calendar, order.due_at, now)
    due = f"办理时限 {local_time(order.due_at)}（{left}）"
    department = order.assigned_department
    where = f"承办单位：{department.display_name}。" if department is not None else ""

    values = {"label": label, "title": order.title, "due": due, "where": where}
    if kind.startswith("remind_"):
        notifier.notify(_assignees(session, order), order, "alert_remind", key, kind="reminder", **values)
    elif kind == sla.SIGN_OVERDUE:
        helpers = chief_helpers(session, department.id, order.stage_id) if department is not None else []
        notifier.notify([*helpers, *hub_people(session, Role.DISPATCHER)], order, "alert_sign_overdue", key,
                        kind="supervise", sign_due=local_time(order.sign_due_at), **values)
    elif kind == sla.OVERDUE_SUPERVISE:
        notifier.notify(_assignees(session, order), order, "alert_overdue", key, kind="supervise", **values)
        notifier.status(order, department, "alert_overdue_group", key, **values)
    elif kind == sla.OVERDUE_LEADER:
        handler = order.assigned_person.name if order.assigned_person is not None else "尚无人报到"
        notifier.notify(_leaders(session, order), order, "alert_overdue_leader", key, kind="supervise",
                        handler=handler, **values)
    elif kind == sla.OVERDUE_BIZENV:
        notifier.notify(hub_people(session, Role.BIZENV_OFFICE), order, "alert_overdue_bizenv", key, kind="supervise",
                        **values)
    else:
        log.warning("SLA alert kind %r has no recipients configured (%s)", kind, order.number)
