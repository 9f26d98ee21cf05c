"""Daily statistics rollups (统计日汇总), maintained from the event log by the jobs process.

Each ``stat_daily`` row holds the *flow* counts of one Beijing day for one combination of the
dimensions a report groups by (zone, attributed department, level, green channel, domain,
channel). Stocks (积压, 超期未办结, 超时未签收) are states at an instant and are always computed live.
Rows are derived data: any day can be recomputed from the orders and the event log
(``services.statistics.rollup``), so a crash or a re-run never leaves them wrong for long.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base

# The flow counts of services.statistics.kpis.Counts kept per day.
FLOW_COLUMNS = (
    "received", "refused", "resolved", "resolved_judged", "resolved_on_time", "resolved_late", "visited",
    "dispatched", "signed_on_time", "signed_late", "returned", "supervised", "visits", "visits_resolved",
    "visits_satisfied",
)
DIMENSIONS = ("zone_id", "department_id", "level", "green_channel", "domain_id", "channel")


class StatDaily(Base):
    __tablename__ = "stat_daily"
    __table_args__ = (Index("ix_stat_daily_day_zone", "day", "zone_id"),
                      Index("ix_stat_daily_day_department", "day", "department_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column()
    zone_id: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(Integer)  # attributed as docs/statistics.md says
    level: Mapped[int | None] = mapped_column(Integer)
    green_channel: Mapped[bool | None] = mapped_column()
    domain_id: Mapped[int | None] = mapped_column(Integer)
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


class StatDailyHandling(Base):
    """Handling-time buckets of the orders resolved on ``day``: per side (start = acceptance, end =
    resolution) and Beijing day number of that instant, how many and the sum of their epoch seconds
    (working time is folded with the calendar in force when a report is read)."""

    __tablename__ = "stat_daily_handling"
    __table_args__ = (Index("ix_stat_daily_handling_day", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column()
    zone_id: Mapped[int | None] = mapped_column(Integer)
    department_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[int | None] = mapped_column(Integer)
    green_channel: Mapped[bool | None] = mapped_column()
    domain_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(16))
    side: Mapped[str] = mapped_column(String(8))  # start | end
    bucket_day: Mapped[int] = mapped_column()
    orders: Mapped[int] = mapped_column()
    epoch_sum: Mapped[float] = mapped_column(Float(precision=53))


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
