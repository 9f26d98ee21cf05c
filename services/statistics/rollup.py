"""Daily rollups of the KPI flows (统计日汇总): maintained incrementally, read by every report.

What is rolled up: the *flow* counts of ``kpis.Counts`` (受理, 办结, 派单, 签收, 退单, 督办, 回访 …) and the
handling-time buckets, per Beijing day and per combination of zone, attributed department, level,
green channel, domain and channel (``models.statistics``). Every number is computed by the very
queries a live report runs (``kpis.live_flows`` for a one-day period, grouped by all dimensions),
so the definitions cannot drift apart. Stocks (积压, 超期未办结, 超时未签收) are states at an instant and
are always computed live.

Which days an order counts on: its submission day, its (latest) resolution day, the day of each of
its events (a sign-in counts on the day of the dispatch it answers) and the day of each return
visit. Whenever an order changes — a new event, a new visit, any update of its row — every one of
those days is recomputed, since the groups are the order's *current* zone, department, level and
domain.

Maintenance (``refresh``, run by the jobs process every minute):

1. in one transaction: find the orders changed since the watermarks (event id, visit id, order
   ``updated_at`` with a five-minute overlap for transactions that committed late), mark their
   closed days dirty (``stat_dirty_day``) together with every newly closed day, and advance the
   watermarks;
2. recompute each dirty day in its own transaction (delete its rows, insert the new ones, clear its
   mark).

A crash between or inside the steps leaves dirty marks behind, never wrong rows that a report would
trust: a report reads the rollup only for closed days that are neither marked dirty nor touched
since the watermarks, and computes every other day of its period live (``plan``). Recomputing a day
is idempotent; ``rebuild`` recomputes any range of days (``flask --app wsgi statistics rebuild``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from database import session_scope
from models import ReturnVisit, WorkOrder, WorkOrderEvent
from models.statistics import (
    DIMENSIONS,
    FLOW_COLUMNS,
    StatDaily,
    StatDailyHandling,
    StatDirtyDay,
    StatRollupState,
)
from services.statistics import kpis
from services.statistics.kpis import _EPOCH, _changed_orders, _days_of_orders, _state

# The reading side lives beside the report (kpis imports nothing from here).
plan = kpis.rollup_plan
read = kpis.read_rollup

# Orders updated this long before the last run are looked at again (a transaction that took its
# timestamp earlier but committed after the run).
UPDATE_OVERLAP = timedelta(minutes=5)
_DISTRICT = kpis.Scope("district", "全区")

# --------------------------------------------------------------------------------------------------
# Maintenance
# --------------------------------------------------------------------------------------------------
def compute_day(session: Session, day: date, now: datetime) -> tuple[int, int]:
    """Replace the rollup rows of ``day`` with freshly computed ones; (flow rows, handling rows)."""
    session.execute(delete(StatDaily).where(StatDaily.day == day))
    session.execute(delete(StatDailyHandling).where(StatDailyHandling.day == day))
    values, buckets = kpis.live_flows(session, kpis.ROLLUP, _DISTRICT, kpis.Period(day, day), now)
    merged: dict[tuple, dict[str, int]] = {}
    for value in values:
        for key, numbers in value.items():
            target = merged.setdefault(key, dict.fromkeys(FLOW_COLUMNS, 0))
            for name, number in numbers.items():
                target[name] += int(number or 0)
    rows = [{"day": day, **dict(zip(DIMENSIONS, key, strict=True)), **numbers} for key, numbers in merged.items()]
    if rows:
        session.execute(insert(StatDaily), rows)
    handling = [
        {"day": day, **dict(zip(DIMENSIONS, key, strict=True)), "side": side, "bucket_day": bucket_day,
         "orders": count, "epoch_sum": epoch}
        for key, side, bucket_day, count, epoch in buckets
    ]
    if handling:
        session.execute(insert(StatDailyHandling), handling)
    session.execute(delete(StatDirtyDay).where(StatDirtyDay.day == day))
    return len(rows), len(handling)


def _mark(session: Session, days: Iterable[date], now: datetime) -> int:
    days = set(days)
    if not days:
        return 0
    present = set(session.scalars(select(StatDirtyDay.day).where(StatDirtyDay.day.in_(days))))
    new = sorted(days - present)
    for chunk in range(0, len(new), 1000):
        session.execute(insert(StatDirtyDay), [{"day": d, "marked_at": now} for d in new[chunk:chunk + 1000]])
    return len(new)


@dataclass
class RefreshResult:
    marked: int = 0
    computed: int = 0
    remaining: int = 0

    def describe(self) -> str:
        text = f"统计日汇总：标记 {self.marked} 天，重算 {self.computed} 天"
        return text + (f"，尚余 {self.remaining} 天待下次" if self.remaining else "")


def mark_changes(session: Session, now: datetime) -> int:
    """Step 1: mark the days touched since the watermarks and the newly closed days; advance the watermarks."""
    state = _state(session, lock=True)
    if state is None:
        state = StatRollupState(id=1, last_event_id=0, last_visit_id=0)
        session.add(state)
        session.flush()
        state = _state(session, lock=True)
    yesterday = kpis.local_today(now) - timedelta(days=1)
    max_event = session.scalar(select(func.max(WorkOrderEvent.id))) or 0
    max_visit = session.scalar(select(func.max(ReturnVisit.id))) or 0
    max_update = session.scalar(select(func.max(WorkOrder.updated_at)))
    days: set[date] = set()
    if state.rolled_through is None:
        first = session.scalar(select(func.min(kpis._local_day_number(WorkOrder.created_at))))
        start = _EPOCH + timedelta(days=int(first)) if first is not None else yesterday + timedelta(days=1)
    else:
        changed = _changed_orders(state, overlap=UPDATE_OVERLAP)
        days |= _days_of_orders(session, select(changed.c.id))
        start = state.rolled_through + timedelta(days=1)
    day = start
    while day <= yesterday:
        days.add(day)
        day += timedelta(days=1)
    marked = _mark(session, (d for d in days if d <= yesterday), now)
    state.rolled_through = max(yesterday, state.rolled_through or yesterday)
    state.last_event_id = max(state.last_event_id, max_event)
    state.last_visit_id = max(state.last_visit_id, max_visit)
    if max_update is not None:
        state.last_order_update = max(max_update, state.last_order_update or max_update)
    state.last_run_at = now
    return marked


def refresh(factory: sessionmaker[Session], now: datetime, *, max_days: int | None = None) -> RefreshResult:
    """The job: mark, then recompute the dirty days, one transaction each (oldest first)."""
    result = RefreshResult()
    with session_scope(factory) as session:
        result.marked = mark_changes(session, now)
        dirty = list(session.scalars(select(StatDirtyDay.day).order_by(StatDirtyDay.day)))
    todo = dirty if max_days is None else dirty[:max_days]
    for day in todo:
        with session_scope(factory) as session:
            compute_day(session, day, now)
        result.computed += 1
    result.remaining = len(dirty) - len(todo)
    return result


def rebuild(factory: sessionmaker[Session], first: date, last: date, now: datetime) -> int:
    """Recompute every closed day from ``first`` to ``last`` (idempotent); the number of days."""
    with session_scope(factory) as session:
        mark_changes(session, now)
        state = _state(session)
        last = min(last, state.rolled_through)
    count = 0
    day = first
    while day <= last:
        with session_scope(factory) as session:
            compute_day(session, day, now)
        count += 1
        day += timedelta(days=1)
    return count
