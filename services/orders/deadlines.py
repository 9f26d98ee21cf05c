"""Glue between the pure SLA rules and the stored policies, holidays and orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import HolidayOverride, SlaPolicy, WorkOrder
from services.orders import sla
from services.orders.lifecycle import State


def load_calendar(session: Session) -> sla.WorkCalendar:
    overrides = {h.day: h.is_workday for h in session.scalars(select(HolidayOverride))}
    return sla.WorkCalendar(overrides)


def rule_for(session: Session, order: WorkOrder) -> sla.SlaRule:
    policies = list(session.scalars(select(SlaPolicy).where(SlaPolicy.level == order.level)))
    return sla.select_rule(policies, order.domain_id, order.priority, order.level)


@dataclass(frozen=True)
class Clock:
    """What a page says about an order's deadline (剩余时间): a label and a css class."""

    label: str
    css: str = "muted"  # ok | soon | overdue | muted
    overdue: bool = False


def clock(order: WorkOrder, calendar: sla.WorkCalendar, now: datetime) -> Clock:
    if order.state == State.DISPATCHED and order.sign_due_at is not None and now > order.sign_due_at:
        return Clock("超时未签收", "overdue", True)
    if order.state == State.SUSPENDED:
        return Clock("已挂起（计时暂停）")
    # A hub's queue (待派单) runs the deadline set when the order entered it, like any running clock.
    if order.state not in (*State.CLOCK_RUNNING, State.PENDING_DISPATCH):
        return Clock("—")
    if order.due_at is None:
        return Clock("跟踪市级时限" if order.level == 4 else "未设办理时限")
    overdue = now > order.due_at
    soon = not overdue and calendar.working_seconds_between(now, order.due_at) < sla.SECONDS_PER_WORKDAY
    return Clock(sla.time_left_label(calendar, order.due_at, now), "overdue" if overdue else ("soon" if soon else "ok"),
                 overdue)


def city_deadline(order: WorkOrder):
    for record in reversed(order.city_escalations):
        if record.city_deadline is not None:
            return record.city_deadline
    return None


def start_clock(session: Session, order: WorkOrder, now: datetime, *, needs_sign: bool) -> None:
    """Begin a new SLA cycle: fresh deadlines, and reminders may fire again for it."""
    calendar = load_calendar(session)
    deadlines = sla.compute_deadlines(rule_for(session, order), calendar, now, city_deadline=city_deadline(order))
    order.deadline_version += 1
    order.clock_started_at = now
    order.sign_due_at = deadlines.sign_due_at if needs_sign else None
    order.due_at = deadlines.due_at
