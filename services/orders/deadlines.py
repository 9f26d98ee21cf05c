"""Glue between the pure SLA rules and the stored policies, holidays and orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import HolidayOverride, SlaPolicy, WorkOrder
from services.orders import sla


def load_calendar(session: Session) -> sla.WorkCalendar:
    overrides = {h.day: h.is_workday for h in session.scalars(select(HolidayOverride))}
    return sla.WorkCalendar(overrides)


def rule_for(session: Session, order: WorkOrder) -> sla.SlaRule:
    policies = list(session.scalars(select(SlaPolicy).where(SlaPolicy.level == order.level)))
    return sla.select_rule(policies, order.domain_id, order.priority, order.level)


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
