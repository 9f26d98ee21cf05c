"""SLA rules: the working-day calendar, deadlines, pause/resume and the alerts a deadline raises.

Pure: no Flask, no database session, no clock. ``now`` is always an argument. Every datetime in and
out is timezone-aware (returned in UTC); calendar arithmetic happens in Shanghai local time.

Working-time model: time flows only during working days, 24 hours per working day (local
00:00-24:00); non-working days are skipped entirely. So Friday 10:00 + 1 working day is the next
working day 10:00, and a start on a holiday counts from 00:00 of the next working day. A deadline
that lands exactly on the end of a working day is returned as that instant (the following local
midnight), even when the next day is not a working day.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from services.orders.lifecycle import State

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SECONDS_PER_WORKDAY = 24 * 3600
# A calendar walk never needs to cross this many consecutive days; beyond it the input is absurd.
_MAX_WALK_DAYS = 3660


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _day_start(day: date) -> datetime:
    """Local midnight that opens ``day``, as an aware datetime in Shanghai time."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


@functools.cache
def statutory_holidays(year: int) -> frozenset[date]:
    """China's statutory days off in ``year`` by rule (the ``holidays`` package)."""
    import holidays

    return frozenset(holidays.country_holidays("CN", years=year))


class WorkCalendar:
    """China's working days (调休 aware) with administrator overrides on top.

    ``overrides`` maps a date to whether it is a working day and always wins. Dates the
    ``chinese_calendar`` package has no data for (a year whose notice it does not carry yet) fall
    back to the statutory holidays the ``holidays`` package computes for China (New Year, Spring
    Festival, Qingming, Labour Day, Dragon Boat, Mid-Autumn, National Day — without the 调休 swaps,
    which only the notice says), then Monday-Friday.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        self._overrides: dict[date, bool] = dict(overrides or {})
        self._cache: dict[date, bool] = {}

    @classmethod
    def from_rows(cls, rows: Iterable[Any]) -> WorkCalendar:
        """Build from HolidayOverride-like objects (``day``, ``is_workday``)."""
        return cls({row.day: bool(row.is_workday) for row in rows})

    def is_workday(self, day: date) -> bool:
        if isinstance(day, datetime):  # a datetime is a date too; only its local day counts
            raise TypeError("is_workday takes a date, not a datetime")
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        if day in self._overrides:
            result = self._overrides[day]
        else:
            try:
                result = bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                result = day.weekday() < 5 and day not in statutory_holidays(day.year)
        self._cache[day] = result
        return result

    def add_workdays(self, start: datetime, days: int | float) -> datetime:
        return self.add_working_seconds(start, days * SECONDS_PER_WORKDAY)

    def add_working_seconds(self, start: datetime, seconds: int | float) -> datetime:
        """The instant ``seconds`` of working time after ``start`` (before it when negative)."""
        _require_aware(start, "start")
        if seconds == 0:
            return _to_utc(start)
        if seconds > 0:
            return self._forward(start.astimezone(LOCAL_TZ), float(seconds))
        return self._backward(start.astimezone(LOCAL_TZ), float(-seconds))

    def _forward(self, cur: datetime, remaining: float) -> datetime:
        day = cur.date()
        for _ in range(_MAX_WALK_DAYS):
            next_start = _day_start(day + timedelta(days=1))
            if self.is_workday(day):
                available = (next_start - cur).total_seconds()
                if remaining <= available:
                    return _to_utc(cur + timedelta(seconds=remaining))
                remaining -= available
            cur = next_start
            day += timedelta(days=1)
        raise ValueError("no working day found within ten years")

    def _backward(self, cur: datetime, remaining: float) -> datetime:
        # Working time just before ``cur`` belongs to the day containing ``cur - ε``.
        day = cur.date()
        if cur == _day_start(day):
            day -= timedelta(days=1)
        for _ in range(_MAX_WALK_DAYS):
            begin = _day_start(day)
            if self.is_workday(day):
                available = (cur - begin).total_seconds()
                if remaining <= available:
                    return _to_utc(cur - timedelta(seconds=remaining))
                remaining -= available
            cur = begin
            day -= timedelta(days=1)
        raise ValueError("no working day found within ten years")

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        _require_aware(a, "a")
        _require_aware(b, "b")
        if b < a:
            return -self.working_seconds_between(b, a)
        lo = a.astimezone(LOCAL_TZ)
        hi = b.astimezone(LOCAL_TZ)
        total = 0.0
        day = lo.date()
        while day <= hi.date():
            if self.is_workday(day):
                begin = max(lo, _day_start(day))
                end = min(hi, _day_start(day + timedelta(days=1)))
                if end > begin:
                    total += (end - begin).total_seconds()
            day += timedelta(days=1)
        return total


# --- Rules ----------------------------------------------------------------------------------------

PRIORITIES = ("normal", "urgent", "emergency")
LEVELS = (1, 2, 3, 4)


@dataclass(frozen=True)
class SlaRule:
    sign_minutes: int | None
    sign_workdays: int | None
    handle_workdays: int | None
    remind_percents: tuple[int, ...] = (50, 80)
    leader_after_workdays: int = 1
    bizenv_after_workdays: int = 2
    return_limit_workdays: int = 1
    return_limit_workdays_complex: int = 2

    @classmethod
    def from_policy(cls, policy: Any) -> SlaRule:
        """Read an SlaPolicy-like object; missing or NULL optional values take the defaults."""

        def get(name: str, default: int) -> int:
            value = getattr(policy, name, None)
            return default if value is None else int(value)

        percents = getattr(policy, "remind_percents", None)
        return cls(
            sign_minutes=policy.sign_minutes,
            sign_workdays=policy.sign_workdays,
            handle_workdays=policy.handle_workdays,
            remind_percents=(50, 80) if percents is None else tuple(sorted({int(p) for p in percents})),
            leader_after_workdays=get("leader_after_workdays", 1),
            bizenv_after_workdays=get("bizenv_after_workdays", 2),
            return_limit_workdays=get("return_limit_workdays", 1),
            return_limit_workdays_complex=get("return_limit_workdays_complex", 2),
        )


# Sign-in: 1 working day; outages of water/power/gas/heating 30 natural minutes; risk to life or
# property 15 natural minutes. Handling: level 1/2/3 in 3/5/10 working days, level 4 follows the city.
_SIGN_LIMITS: dict[str, tuple[int | None, int | None]] = {
    "normal": (None, 1),
    "urgent": (30, None),
    "emergency": (15, None),
}
_HANDLE_WORKDAYS: dict[int, int | None] = {1: 3, 2: 5, 3: 10, 4: None}

DEFAULT_RULES: dict[tuple[str, int], SlaRule] = {
    (priority, level): SlaRule(
        sign_minutes=_SIGN_LIMITS[priority][0],
        sign_workdays=_SIGN_LIMITS[priority][1],
        handle_workdays=_HANDLE_WORKDAYS[level],
    )
    for priority in PRIORITIES
    for level in LEVELS
}


def select_rule(policies: Iterable[Any], domain_id: int | None, priority: str, level: int) -> SlaRule:
    """The most specific policy for the order (its domain over "any domain"), else the default."""
    generic = None
    for policy in policies:
        if policy.priority != priority or policy.level != level:
            continue
        if domain_id is not None and policy.domain_id == domain_id:
            return SlaRule.from_policy(policy)
        if policy.domain_id is None and generic is None:
            generic = policy
    if generic is not None:
        return SlaRule.from_policy(generic)
    try:
        return DEFAULT_RULES[(priority, level)]
    except KeyError:
        raise ValueError(f"no SLA rule for priority {priority!r} and level {level!r}") from None


# --- Deadlines ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    sign_due_at: datetime | None
    due_at: datetime | None


def end_of_local_day(day: date) -> datetime:
    """23:59:59 Shanghai time on ``day``, in UTC."""
    return _to_utc(datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ))


def compute_deadlines(
    rule: SlaRule, calendar: WorkCalendar, start: datetime, *, city_deadline: date | None = None
) -> Deadlines:
    _require_aware(start, "start")
    if rule.sign_minutes is not None:
        sign_due_at = _to_utc(start + timedelta(minutes=rule.sign_minutes))
    elif rule.sign_workdays is not None:
        sign_due_at = calendar.add_workdays(start, rule.sign_workdays)
    else:
        sign_due_at = None
    if rule.handle_workdays is not None:
        due_at = calendar.add_workdays(start, rule.handle_workdays)
    elif city_deadline is not None:
        due_at = end_of_local_day(city_deadline)
    else:
        due_at = None
    return Deadlines(sign_due_at=sign_due_at, due_at=due_at)


def resume_deadline(
    calendar: WorkCalendar, due_at: datetime, suspended_at: datetime, resumed_at: datetime
) -> datetime:
    """Shift ``due_at`` so the working time left at suspension is left again at resumption.

    When the order was already overdue at suspension the overdue amount is kept: the new deadline
    lies that much working time before ``resumed_at``.
    """
    remaining = calendar.working_seconds_between(suspended_at, due_at)
    return calendar.add_working_seconds(resumed_at, remaining)


def extend_deadline(calendar: WorkCalendar, due_at: datetime, days: int | float) -> datetime:
    return calendar.add_workdays(due_at, days)


# --- Alerts ---------------------------------------------------------------------------------------

SIGN_OVERDUE = "sign_overdue"
OVERDUE_SUPERVISE = "overdue_supervise"
OVERDUE_LEADER = "overdue_leader"
OVERDUE_BIZENV = "overdue_bizenv"


def remind_kind(percent: int) -> str:
    return f"remind_{percent}"


ALERT_LABELS: dict[str, str] = {
    SIGN_OVERDUE: "超时未签收",
    "remind_50": "办理时限已过半",
    "remind_80": "办理时限已过80%",
    OVERDUE_SUPERVISE: "超期督办",
    OVERDUE_LEADER: "超期督办（部门领导）",
    OVERDUE_BIZENV: "超期通报区营商环境办",
}


def alert_label(kind: str) -> str:
    """Chinese label of an alert kind, including reminders at percentages without a fixed label."""
    if kind in ALERT_LABELS:
        return ALERT_LABELS[kind]
    percent = kind.removeprefix("remind_")
    if percent != kind and percent.isdigit():
        return f"办理时限已过{percent}%"
    return kind


@dataclass(frozen=True)
class AlertPlan:
    """``fire``: send now, in this order. ``skip``: record as fired without sending."""

    fire: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)


def due_alerts(
    *,
    rule: SlaRule,
    calendar: WorkCalendar,
    state: str,
    clock_started_at: datetime | None,
    due_at: datetime | None,
    sign_due_at: datetime | None,
    signed: bool,
    suspended: bool,
    now: datetime,
    fired: set[str],
) -> AlertPlan:
    """The alerts that are due at ``now`` and not yet in ``fired``.

    Nothing fires while suspended or outside the states in which the clock runs. Handling alerts
    need ``due_at``; the sign-in alert only needs ``sign_due_at``. Once the order is overdue, the
    reminders not yet sent are pointless: they come back in ``skip`` for the caller to mark.
    """
    _require_aware(now, "now")
    if suspended or state not in State.CLOCK_RUNNING:
        return AlertPlan()

    # (instant the alert became due, kind); sorted by instant gives the firing order.
    due: list[tuple[datetime, int, str]] = []
    if not signed and sign_due_at is not None and now > sign_due_at:
        due.append((sign_due_at, 0, SIGN_OVERDUE))

    skip: list[str] = []
    if due_at is not None:
        overdue = now > due_at
        start = clock_started_at
        if start is not None:
            total = calendar.working_seconds_between(start, due_at)
            elapsed = calendar.working_seconds_between(start, now)
            for percent in sorted(set(rule.remind_percents)):
                kind = remind_kind(percent)
                if kind in fired or elapsed < total * percent / 100:
                    continue
                if overdue:
                    skip.append(kind)
                else:
                    at = calendar.add_working_seconds(start, max(total, 0) * percent / 100)
                    due.append((min(at, now), 1, kind))
        if overdue:
            due.append((due_at, 2, OVERDUE_SUPERVISE))
            leader_at = calendar.add_workdays(due_at, rule.leader_after_workdays)
            if now >= leader_at:
                due.append((leader_at, 3, OVERDUE_LEADER))
            bizenv_at = calendar.add_workdays(due_at, rule.bizenv_after_workdays)
            if now >= bizenv_at:
                due.append((bizenv_at, 4, OVERDUE_BIZENV))

    fire = [kind for _, _, kind in sorted(due) if kind not in fired]
    return AlertPlan(fire=fire, skip=skip)


# --- Display --------------------------------------------------------------------------------------


def _span_label(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, SECONDS_PER_WORKDAY)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} 个工作日" + (f" {hours} 小时" if hours else "")
    if hours:
        return f"{hours} 小时" + (f" {minutes} 分钟" if minutes else "")
    return f"{minutes} 分钟"


def time_left_label(calendar: WorkCalendar, due_at: datetime | None, now: datetime) -> str:
    """Working time left (or overdue) in Chinese, e.g. "剩余 2 个工作日 3 小时", "已超期 25 分钟"."""
    if due_at is None:
        return "未设办理时限"
    _require_aware(now, "now")
    if now > due_at:
        overdue = calendar.working_seconds_between(due_at, now)
        return "已超期" if overdue < 60 else f"已超期 {_span_label(overdue)}"
    left = calendar.working_seconds_between(now, due_at)
    return "剩余不足 1 分钟" if left < 60 else f"剩余 {_span_label(left)}"
