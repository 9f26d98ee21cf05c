"""驾驶舱 (cockpit) and chart data: what a district leader, the 营商环境办 or a zone / department head
sees first. Every number is a ``kpis`` report (so the definitions are those of docs/statistics.md)
or a plain list of orders in the same scope; the charts are drawn from the tables built here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models import Enterprise, WorkOrder, WorkOrderEvent
from services.orders import sla
from services.orders.lifecycle import Action, State
from services.orders.queries import overdue_clause
from services.statistics import kpis

# The 三率 of the 12345-style assessment, drawn against their targets.
THREE_RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
HEADLINE = ("received", "resolved", "on_time_rate", "response_rate", "satisfaction_rate", "backlog", "overdue")
COCKPIT_PRESETS = ("this_month", "last_month", "this_quarter", "this_year")
TREND_WEEKS = 12
# Backlog by age (days since submission): (label, lower bound in days).
AGE_BUCKETS = (("3 天内", 0), ("4–7 天", 4), ("8–15 天", 8), ("16–30 天", 16), ("30 天以上", 31))
REPEAT_DAYS = 90
REPEAT_MIN = 2
LIST_LIMIT = 5


@dataclass
class Table:
    """One chart's data as the table shown under it: a header and rows of (label, values…)."""

    key: str
    title: str
    chart: str  # line | bar | pie | hbar | stack
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    targets: dict[str, float] = field(default_factory=dict)  # column → target percent (a dashed line)
    unit: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "chart": self.chart, "columns": self.columns,
                "rows": self.rows, "targets": self.targets, "unit": self.unit}


@dataclass
class Headline:
    key: str
    label: str
    current: str
    previous: str
    delta: str  # "+3" / "-1.5 个百分点" / ""
    better: bool | None  # None: no comparison or no change


@dataclass
class Cockpit:
    scope: kpis.Scope
    period: kpis.Period
    previous: kpis.Period
    now: datetime
    headline: list[Headline]
    tables: list[Table]
    oldest_overdue: list[WorkOrder]
    green_in_progress: list[WorkOrder]
    supervised_open: list[WorkOrder]
    supervised_open_count: int
    repeated: list[tuple[Enterprise, int]]


def _previous(period: kpis.Period, now: datetime) -> kpis.Period:
    """The period before: last month for this month, and so on (same length for other presets)."""
    if period.preset == "this_month":
        return kpis.preset_period("last_month", now)
    if period.preset == "last_month":
        first = (period.first_day - timedelta(days=1)).replace(day=1)
        return kpis.Period(first, period.first_day - timedelta(days=1))
    if period.preset == "this_quarter":
        last = period.first_day - timedelta(days=1)
        return kpis.Period(date(last.year, last.month - 2, 1), last)
    if period.preset == "this_year":
        return kpis.Period(date(period.first_day.year - 1, 1, 1), date(period.first_day.year - 1, 12, 31))
    span = period.last_day - period.first_day
    return kpis.Period(period.first_day - span - timedelta(days=1), period.first_day - timedelta(days=1))


def _value(counts: kpis.Counts, key: str) -> tuple[str, float | None]:
    value = counts.value(key)
    if isinstance(value, kpis.Ratio):
        return value.text, value.percent
    return str(value), float(value)


def _headline(current: kpis.Counts, previous: kpis.Counts) -> list[Headline]:
    result = []
    for key in HEADLINE:
        kpi = kpis.KPI_BY_KEY[key]
        text, number = _value(current, key)
        before_text, before = _value(previous, key)
        delta, better = "", None
        if number is not None and before is not None and number != before:
            change = number - before
            ratio = kpi.kind == "ratio"
            delta = f"{change:+.1f} 个百分点" if ratio else f"{change:+.0f}"
            higher_is_better = kpi.higher_is_better if ratio else key in ("received", "resolved")
            better = (change > 0) == higher_is_better if (ratio or key in ("received", "resolved", "backlog",
                                                                          "overdue")) else None
        result.append(Headline(key, kpi.label, text, before_text, delta, better))
    return result


def _percent(ratio: kpis.Ratio) -> float | None:
    return ratio.percent


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def trend_tables(session: Session, scope: kpis.Scope, now: datetime, weeks: int = TREND_WEEKS) -> list[Table]:
    """受理/办结 by week and the 三率 by week against their targets, over the last ``weeks`` ISO weeks."""
    today = kpis.local_today(now)
    first = _week_start(today) - timedelta(weeks=weeks - 1)
    volume = Table("trend", f"近 {weeks} 周受理与办结", "line", ["周", "受理数", "办结数"], unit="件")
    rates = Table("rates", f"近 {weeks} 周“三率”与目标值", "line",
                  ["周", *(kpis.KPI_BY_KEY[k].label for k in THREE_RATES)], unit="%")
    rates.targets = {kpis.KPI_BY_KEY[k].label: kpis.KPI_BY_KEY[k].threshold * 100 for k in THREE_RATES}
    for week in range(weeks):
        start = first + timedelta(weeks=week)
        period = kpis.Period(start, min(start + timedelta(days=6), today))
        total = kpis.build_report(session, scope, "level", period, now, order_stocks=False).total.counts
        label = f"{start:%m-%d}"
        volume.rows.append([label, total.received, total.resolved])
        rates.rows.append([label, *(_percent(total.value(k)) for k in THREE_RATES)])
    return [volume, rates]


def period_tables(session: Session, scope: kpis.Scope, period: kpis.Period, now: datetime) -> list[Table]:
    """Share by domain, ranking bars by zone and by department (按时办结率) for ``period``."""
    tables = []
    by_domain = kpis.build_report(session, scope, "domain", period, now)
    share = Table("domain", "受理诉求按类别占比", "pie", ["类别", "受理数"], unit="件")
    share.rows = [[r.label, r.counts.received] for r in by_domain.rows if r.counts.received]
    tables.append(share)
    for group, title in (("zone", "按片区"), ("department", "按部门")):
        report = kpis.build_report(session, scope, group, period, now)
        ranked = [r for r in kpis.ranking(report) if r.rank is not None]
        table = Table(f"rank_{group}", f"{title}按时办结率排名", "hbar", [kpis.GROUPS[group], "按时办结率", "超期数", "积压数"],
                      unit="%")
        table.targets = {"按时办结率": kpis.ON_TIME_RATE_MIN * 100}
        table.rows = [[r.row.label, r.row.counts.on_time_rate.percent, r.row.counts.overdue, r.row.counts.backlog]
                      for r in ranked]
        tables.append(table)
    return tables


def age_table(session: Session, scope: kpis.Scope, now: datetime) -> Table:
    """Open orders (积压) by age, and how many of them are overdue, as of now."""
    o = WorkOrder
    # The highest bucket whose lower bound the order's age reaches.
    bucket = case(*((o.created_at <= now - timedelta(days=lower), index)
                    for index, (_label, lower) in reversed(list(enumerate(AGE_BUCKETS)))), else_=0)
    overdue = case((overdue_clause(now), 1), else_=0)
    query = (
        select(bucket.label("b"), func.count(o.id), func.coalesce(func.sum(overdue), 0))
        .where(o.state.in_(State.OPEN), scope.clause(o.zone_id, o.assigned_department_id))
        .group_by(bucket)
    )
    found = {int(b): (int(n), int(late)) for b, n, late in session.execute(query)}
    table = Table("age", "积压工单按已历时长（自提交起）", "stack", ["已历时长", "未超期", "已超期"], unit="件")
    for index, (label, _lower) in enumerate(AGE_BUCKETS):
        count, late = found.get(index, (0, 0))
        table.rows.append([label, count - late, late])
    return table


def _orders(session: Session, scope: kpis.Scope, *clauses, order_by, limit: int = LIST_LIMIT) -> list[WorkOrder]:
    o = WorkOrder
    query = (
        select(o).options(selectinload(o.enterprise), selectinload(o.assigned_department), selectinload(o.zone))
        .where(scope.clause(o.zone_id, o.assigned_department_id), *clauses)
        .order_by(*order_by).limit(limit)
    )
    return list(session.scalars(query))


def _supervised():
    e = WorkOrderEvent
    return exists().where(
        e.work_order_id == WorkOrder.id,
        or_(e.action == Action.SUPERVISE,
            and_(e.action == Action.ALERT, e.data["kind"].as_string().in_((sla.SIGN_OVERDUE, sla.OVERDUE_SUPERVISE)))),
    )


def build_cockpit(session: Session, scope: kpis.Scope, period: kpis.Period, now: datetime) -> Cockpit:
    previous = _previous(period, now)
    current_total = kpis.build_report(session, scope, "level", period, now).total.counts
    previous_total = kpis.build_report(session, scope, "level", previous, now).total.counts
    tables = trend_tables(session, scope, now) + period_tables(session, scope, period, now) + [
        age_table(session, scope, now)]
    o = WorkOrder
    live = o.state.in_(State.CLOCK_RUNNING + (State.PENDING_DISPATCH, State.RECEIVED, State.SUSPENDED))
    oldest = _orders(session, scope, overdue_clause(now),
                     order_by=(func.coalesce(o.due_at, o.sign_due_at).asc(), o.id))
    green = _orders(session, scope, o.green_channel.is_(True), o.state.in_(State.OPEN),
                    order_by=(o.created_at.asc(), o.id), limit=10)
    supervised = _orders(session, scope, _supervised(), live, order_by=(o.created_at.asc(), o.id), limit=10)
    supervised_count = session.scalar(
        select(func.count(o.id)).where(scope.clause(o.zone_id, o.assigned_department_id), _supervised(), live)) or 0
    since = now - timedelta(days=REPEAT_DAYS)
    repeats = (
        select(o.enterprise_id, func.count(o.id).label("n"))
        .where(o.enterprise_id.is_not(None), o.created_at >= since, scope.clause(o.zone_id, o.assigned_department_id))
        .group_by(o.enterprise_id)
        .having(func.count(o.id) >= REPEAT_MIN)
        .order_by(func.count(o.id).desc(), o.enterprise_id)
        .limit(10)
    )
    counted = list(session.execute(repeats))
    enterprises = {e.id: e for e in session.scalars(select(Enterprise).where(
        Enterprise.id.in_([row[0] for row in counted])))}
    repeated = [(enterprises[row[0]], int(row[1])) for row in counted if row[0] in enterprises]
    return Cockpit(scope=scope, period=period, previous=previous, now=now,
                   headline=_headline(current_total, previous_total), tables=tables, oldest_overdue=oldest,
                   green_in_progress=green, supervised_open=supervised, supervised_open_count=int(supervised_count),
                   repeated=repeated)
