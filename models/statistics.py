"""Statistics rollups (统计汇总), maintained from the event log by the jobs process.

Each ``stat_daily`` row holds the *flow* counts of one Beijing day for one combination of the
dimensions a report groups by (zone, attributed department, level, green channel, domain,
channel), with the working time of the orders resolved that day; ``stat_monthly`` adds the days of
a month up. Stocks (积压, 超期未办结, 超时未签收) are states at an instant: for every month's end the
orders open at that instant are kept (``stat_stock_member``), other instants are computed live.
Rows are derived data: any day, month or month's end can be recomputed from the orders and the
event log (``services.statistics.rollup``), so a crash or a re-run never leaves them wrong for long.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

# The flow counts of services.statistics.kpis.Counts kept per day and per month.
FLOW_COLUMNS = (
    "received", "refused", "resolved", "resolved_judged", "resolved_on_time", "resolved_late", "visited",
    "dispatched", "signed_on_time", "signed_late", "returned", "supervised", "visits", "visits_resolved",
    "visits_satisfied",
)
DIMENSIONS = ("zone_id", "department_id", "level", "green_channel", "domain_id", "channel")


class _Groups:
    """The groups of a report a rollup row counts in."""

    id: Mapped[int] = mapped_column(primary_key=True)
    zone_id: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(Integer)  # attributed as docs/statistics.md says
    level: Mapped[int | None] = mapped_column(Integer)
    green_channel: Mapped[bool | None] = mapped_column()
    domain_id: Mapped[int | None] = mapped_column(Integer)


class _RollupRow(_Groups):
    """The dimensions, flows and handling time shared by the daily and the monthly rollup."""

    channel: Mapped[str | None] = mapped_column(String(16))
    received: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    resolved: Mapped[int] = mapped_column(default=0)
    resolved_judged: Mapped[int] = mapped_column(default=0)
    resolved_on_time: Mapped[int] = mapped_column(default=0)
    resolved_late: Mapped[int] = mapped_column(default=0)
    visited: Mapped[int] = mapped_column(default=0)
    dispatched: Mapped[int] = mapped_column(default=0)
    signed_on_time: Mapped[int] = mapped_column(default=0)
    signed_late: Mapped[int] = mapped_column(default=0)
    returned: Mapped[int] = mapped_column(default=0)
    supervised: Mapped[int] = mapped_column(default=0)
    visits: Mapped[int] = mapped_column(default=0)
    visits_resolved: Mapped[int] = mapped_column(default=0)
    visits_satisfied: Mapped[int] = mapped_column(default=0)
    # Working seconds from acceptance to resolution of the orders resolved in the day or month, with
    # the work calendar in force when the row was computed (a calendar change re-marks the days).
    handling_seconds: Mapped[float] = mapped_column(Float(precision=53), default=0.0)
    handling_count: Mapped[int] = mapped_column(default=0)


class StatDaily(_RollupRow, Base):
    __tablename__ = "stat_daily"
    __table_args__ = (Index("ix_stat_daily_day_zone", "day", "zone_id"),
                      Index("ix_stat_daily_day_department", "day", "department_id"))

    day: Mapped[date] = mapped_column()


# The monthly sums are kept per grouping of reports, each with only the columns it needs (the
# others null): zone and department (every report by zone or department, in any scope), plus level
# and green channel, plus domain. A year is then a few thousand rows whatever the number of orders.
MONTHLY_GROUPINGS = {
    "unit": ("zone_id", "department_id"),
    "level": ("zone_id", "department_id", "level", "green_channel"),
    "domain": ("zone_id", "department_id", "domain_id"),
}


class StatMonthly(_RollupRow, Base):
    """The sums of a month's ``stat_daily`` rows per grouping (``month`` is its first day)."""

    __tablename__ = "stat_monthly"
    __table_args__ = (Index("ix_stat_monthly_month_grouping", "month", "grouping"),)

    month: Mapped[date] = mapped_column()
    grouping: Mapped[str] = mapped_column(String(8))  # a key of MONTHLY_GROUPINGS


class StatDirtyMonth(Base):
    """A month whose ``stat_monthly`` rows are behind its days; set in the transaction that changes a
    day, removed in the one that re-adds the month."""

    __tablename__ = "stat_dirty_month"

    month: Mapped[date] = mapped_column(primary_key=True)
    marked_at: Mapped[datetime] = mapped_column()


class StatStockDay(Base):
    """A month's last day whose open orders at midnight (the end of that day) are kept."""

    __tablename__ = "stat_stock_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    orders: Mapped[int] = mapped_column()
    computed_at: Mapped[datetime] = mapped_column()
    counts_behind: Mapped[bool] = mapped_column(default=False)  # a member changed: recount


class StatStockCount(_Groups, Base):
    """The stocks at the end of a kept ``day`` by the members' *current* zone, department, level,
    green channel and domain, per grouping of reports like ``stat_monthly`` (MONTHLY_GROUPINGS):
    recounted whenever one of the members changes. ``resolved_day_number``: the Beijing day (days since 1970-01-01) of the member's latest
    resolution when it came before that instant (resolved, then reopened) — a period containing that
    day does not count it overdue."""

    __tablename__ = "stat_stock_count"
    __table_args__ = (Index("ix_stat_stock_count_day_grouping", "day", "grouping"),)

    day: Mapped[date] = mapped_column()
    grouping: Mapped[str] = mapped_column(String(8))  # a key of MONTHLY_GROUPINGS
    resolved_day_number: Mapped[int | None] = mapped_column(Integer)
    backlog: Mapped[int] = mapped_column(default=0)
    overdue_handling: Mapped[int] = mapped_column(default=0)
    overdue_sign: Mapped[int] = mapped_column(default=0)


class StatStockMember(Base):
    """An order open at the end of ``day`` and the state it was in then. History does not change, so
    a member never goes stale; a report joins the order for its current zone, department, deadlines."""

    __tablename__ = "stat_stock_member"

    day: Mapped[date] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(24))


class StatDirtyDay(Base):
    """A day whose rollup must be recomputed; removed in the same transaction that recomputes it."""

    __tablename__ = "stat_dirty_day"

    day: Mapped[date] = mapped_column(primary_key=True)
    marked_at: Mapped[datetime] = mapped_column()


class StatRollupState(Base):
    """Where the incremental maintenance stands (one row, id 1)."""

    __tablename__ = "stat_rollup_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    rolled_through: Mapped[date | None] = mapped_column()  # every day up to this one has been rolled up once
    last_event_id: Mapped[int] = mapped_column(default=0)
    last_visit_id: Mapped[int] = mapped_column(default=0)
    last_order_update: Mapped[datetime | None] = mapped_column()
    last_run_at: Mapped[datetime | None] = mapped_column()
    # The holiday overrides the handling time was computed with (JSON {day: is_workday}).
    calendar: Mapped[str | None] = mapped_column(Text)
