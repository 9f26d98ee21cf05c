"""Rollups of the KPI flows (统计汇总) and stocks at months' ends: maintained incrementally, read by every report.

What is rolled up: the *flow* counts of ``kpis.Counts`` (受理, 办结, 派单, 签收, 退单, 督办, 回访 …) and the
working time of the orders resolved, per Beijing day and per combination of zone, attributed
department, level, green channel, domain and channel (``stat_daily``); the days of each month added
up per grouping of reports (``stat_monthly``). Every number is computed by the very queries a live report runs
(``kpis.live_flows`` for a one-day period, grouped by all dimensions), so the definitions cannot
drift apart. Stocks (积压, 超期未办结, 超时未签收) are states at an instant: for every month's last day the
orders open at its end and their state then are kept (``stat_stock_member``) — history does not
change, and a report joins the orders for their current zone, department and deadlines, so those
rows never go stale. Stocks at any other instant are computed live.

Which days an order counts on: its submission day, its (latest) resolution day, the day of each of
its events (a sign-in counts on the day of the dispatch it answers) and the day of each return
visit. Whenever an order changes — a new event, a new visit, any update of its row — every one of
those days is recomputed, since the groups are the order's *current* zone, department, level and
domain. The working time depends on the holiday overrides: when they change, every day from the
first changed one is recomputed.

Maintenance (``refresh``, run by the jobs process every minute):

1. in one transaction: find the orders changed since the watermarks (event id, visit id, order
   ``updated_at`` with a five-minute overlap for transactions that committed late), mark their
   closed days dirty (``stat_dirty_day``) together with every newly closed day, and advance the
   watermarks;
2. recompute each dirty day in its own transaction (delete its rows, insert the new ones, clear its
   mark, mark its month behind: ``stat_dirty_month``);
3. add up each month marked behind in its own transaction (and clear the mark);
4. keep the open orders of each month's end not kept yet (five minutes after it, for late commits)
   and count its stocks by the members' current groups (``stat_stock_count``); recount the months'
   ends whose members changed (step 1 marks them).

A crash between or inside the steps leaves marks behind, never wrong rows that a report would
trust: a report reads the rollup only for closed days that are neither marked dirty nor touched
since the watermarks, a month's sum only when the month is not marked behind, and computes every
other day of its period live (``plan``). Every step is idempotent; ``rebuild`` recomputes any range
of days and months' ends (``flask --app wsgi statistics rebuild``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import case, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from database import session_scope
from models import ReturnVisit, WorkOrder, WorkOrderEvent
from models.statistics import (
    DIMENSIONS,
    FLOW_COLUMNS,
    MONTHLY_GROUPINGS,
    StatDaily,
    StatDirtyDay,
    StatDirtyMonth,
    StatMonthly,
    StatRollupState,
    StatStockCount,
    StatStockDay,
    StatStockMember,
)
from services.orders.deadlines import load_calendar
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
def compute_day(session: Session, day: date, now: datetime) -> int:
    """Replace the rollup rows of ``day`` with freshly computed ones and mark its month behind; the rows."""
    session.execute(delete(StatDaily).where(StatDaily.day == day))
    values, buckets = kpis.live_flows(session, kpis.ROLLUP, _DISTRICT, kpis.Period(day, day), now)
    merged: dict[tuple, dict[str, float]] = {}

    def target(key: tuple) -> dict[str, float]:
        return merged.setdefault(key, dict.fromkeys((*FLOW_COLUMNS, "handling_seconds", "handling_count"), 0))

    for value in values:
        for key, numbers in value.items():
            row = target(key)
            for name, number in numbers.items():
                row[name] += int(number or 0)
    for key, (seconds, count) in kpis._fold_handling(buckets, load_calendar(session)).items():
        row = target(key)
        row["handling_seconds"] += seconds
        row["handling_count"] += count
    rows = [{"day": day, **dict(zip(DIMENSIONS, key, strict=True)), **numbers} for key, numbers in merged.items()]
    if rows:
        session.execute(insert(StatDaily), rows)
    session.execute(delete(StatDirtyDay).where(StatDirtyDay.day == day))
    month = day.replace(day=1)
    if session.get(StatDirtyMonth, month) is None:
        session.add(StatDirtyMonth(month=month, marked_at=now))
    return len(rows)


def compute_month(session: Session, month: date) -> int:
    """Replace the ``stat_monthly`` rows of ``month`` with the sums of its days per grouping; the rows."""
    session.execute(delete(StatMonthly).where(StatMonthly.month == month))
    d = StatDaily
    columns = (*FLOW_COLUMNS, "handling_seconds", "handling_count")
    written = 0
    for grouping, dimensions in MONTHLY_GROUPINGS.items():
        dims = [getattr(d, n) for n in dimensions]
        summed = (
            select(literal(month, d.day.type), literal(grouping), *dims, *(func.sum(getattr(d, c)) for c in columns))
            .where(d.day >= month, d.day <= kpis._month_end(month))
            .group_by(*dims)
        )
        result = session.execute(insert(StatMonthly).from_select(["month", "grouping", *dimensions, *columns], summed))
        written += result.rowcount or 0
    session.execute(delete(StatDirtyMonth).where(StatDirtyMonth.month == month))
    return written


def compute_stocks(session: Session, day: date, now: datetime) -> int:
    """Keep the orders open at the end of ``day`` and their state then; the number kept. From the
    previous month's end when it is kept, else from the whole log (the first month's end)."""
    session.execute(delete(StatStockMember).where(StatStockMember.day == day))
    as_of = kpis._local_midnight(day + timedelta(days=1))
    previous = day.replace(day=1) - timedelta(days=1)
    kept_before = session.get(StatStockDay, previous) is not None
    members = kpis.stock_members_since(previous if kept_before else None, as_of).subquery("open_then")
    kept = select(literal(day, StatStockMember.day.type), *members.c)
    session.execute(insert(StatStockMember).from_select(["day", "work_order_id", "state"], kept))
    count = session.scalar(select(func.count()).select_from(StatStockMember).where(StatStockMember.day == day)) or 0
    row = session.get(StatStockDay, day)
    if row is None:
        row = StatStockDay(day=day, orders=count, computed_at=now)
        session.add(row)
    else:
        row.orders, row.computed_at = count, now
    count_stocks(session, row, now)
    return count


def count_stocks(session: Session, kept: StatStockDay, now: datetime) -> None:
    """Count the stocks of a kept month's end by the members' current groups and deadlines."""
    session.execute(delete(StatStockCount).where(StatStockCount.day == kept.day))
    instant = kpis.Period(kept.day + timedelta(days=1), kept.day)  # empty: nothing is "resolved within" it
    inner, names = kpis._order_rows(kpis.ROLLUP, _DISTRICT, instant, now, kpis.STOCKS, snapshot=kept.day)
    o = WorkOrder
    resolved_before = case((o.resolved_at < instant.end, kpis._local_day_number(o.resolved_at)), else_=None)
    rows = inner.add_columns(resolved_before.label("resolved_day_number")).subquery("members")
    by_name = dict(zip(DIMENSIONS, (rows.c[k] for k in kpis._key_names(kpis.ROLLUP)), strict=True))
    for grouping, dimensions in MONTHLY_GROUPINGS.items():
        keys = [by_name[n] for n in dimensions]
        counted = (
            select(literal(kept.day, StatStockCount.day.type), literal(grouping), *keys, rows.c.resolved_day_number,
                   *(func.sum(rows.c[n]) for n in names))
            .group_by(*keys, rows.c.resolved_day_number)
        )
        session.execute(insert(StatStockCount).from_select(
            ["day", "grouping", *dimensions, "resolved_day_number", *names], counted))
    kept.counts_behind = False


def _months_ends(first: date, last: date) -> list[date]:
    """The last days of the months from ``first``'s to ``last`` inclusive."""
    ends = []
    end = kpis._month_end(first)
    while end <= last:
        ends.append(end)
        end = kpis._month_end(end + timedelta(days=1))
    return ends


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
    months: int = 0
    stocks: int = 0
    recounted: int = 0
    remaining: int = 0

    def describe(self) -> str:
        text = (f"统计汇总：标记 {self.marked} 天，重算 {self.computed} 天、{self.months} 个月，"
                f"月末在办留存 {self.stocks} 个、重新计数 {self.recounted} 个")
        return text + (f"，尚余 {self.remaining} 天待下次" if self.remaining else "")


def _first_day(session: Session) -> date | None:
    first = session.scalar(select(func.min(kpis._local_day_number(WorkOrder.created_at))))
    return _EPOCH + timedelta(days=int(first)) if first is not None else None


def _days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def mark_changes(session: Session, now: datetime) -> int:
    """Step 1: mark the days touched since the watermarks, the newly closed days and, after a change
    of the holiday overrides, every day from the first changed one; advance the watermarks."""
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
    calendar = kpis.calendar_overrides(session)
    days: set[date] = set()
    if state.rolled_through is None:
        start = _first_day(session) or yesterday + timedelta(days=1)
    else:
        changed = _changed_orders(state, overlap=UPDATE_OVERLAP)
        days |= _days_of_orders(session, select(changed.c.id))
        # A changed order kept open at a month's end may count in another group or deadline there now.
        touched = select(StatStockMember.day).where(StatStockMember.work_order_id.in_(select(changed.c.id)))
        session.execute(update(StatStockDay).where(StatStockDay.day.in_(touched)).values(counts_behind=True))
        recalculate_from = kpis.calendar_changed_since(state, calendar)
        if recalculate_from is not None:
            first = _first_day(session) or recalculate_from
            days.update(_days_between(max(recalculate_from, first), state.rolled_through))
        start = state.rolled_through + timedelta(days=1)
    days.update(_days_between(start, yesterday))
    marked = _mark(session, (d for d in days if d <= yesterday), now)
    state.rolled_through = max(yesterday, state.rolled_through or yesterday)
    state.last_event_id = max(state.last_event_id, max_event)
    state.last_visit_id = max(state.last_visit_id, max_visit)
    if max_update is not None:
        state.last_order_update = max(max_update, state.last_order_update or max_update)
    state.calendar = json.dumps(calendar, sort_keys=True)
    state.last_run_at = now
    return marked


def _stock_days_due(session: Session, now: datetime) -> list[date]:
    """Months' ends not kept yet, from the first order's month to the last one over (plus the overlap)."""
    first = _first_day(session)
    if first is None:
        return []
    last = kpis.local_today(now - UPDATE_OVERLAP) - timedelta(days=1)
    kept = set(session.scalars(select(StatStockDay.day)))
    return [end for end in _months_ends(first, last) if end not in kept]


def refresh(factory: sessionmaker[Session], now: datetime, *, max_days: int | None = None) -> RefreshResult:
    """The job: mark, recompute the dirty days (oldest first), add up their months, keep new months'
    ends; one transaction each."""
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
    result.months = _add_up_months(factory)
    with session_scope(factory) as session:
        ends = _stock_days_due(session, now)
    for end in ends:
        with session_scope(factory) as session:
            compute_stocks(session, end, now)
        result.stocks += 1
    with session_scope(factory) as session:
        behind = list(session.scalars(select(StatStockDay.day).where(StatStockDay.counts_behind.is_(True))))
    for day in behind:
        with session_scope(factory) as session:
            count_stocks(session, session.get(StatStockDay, day), now)
        result.recounted += 1
    return result


def _add_up_months(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        behind = list(session.scalars(select(StatDirtyMonth.month).order_by(StatDirtyMonth.month)))
    for month in behind:
        with session_scope(factory) as session:
            compute_month(session, month)
    return len(behind)


def rebuild(factory: sessionmaker[Session], first: date, last: date, now: datetime) -> int:
    """Recompute every closed day from ``first`` to ``last``, their months and the months' ends kept
    among them (idempotent); the number of days."""
    with session_scope(factory) as session:
        mark_changes(session, now)
        state = _state(session)
        last = min(last, state.rolled_through)
        kept = set(session.scalars(select(StatStockDay.day).where(StatStockDay.day >= first, StatStockDay.day <= last)))
    count = 0
    for day in _days_between(first, last) if first <= last else []:
        with session_scope(factory) as session:
            compute_day(session, day, now)
        count += 1
    _add_up_months(factory)
    for end in sorted(kept):
        with session_scope(factory) as session:
            compute_stocks(session, end, now)
    return count
