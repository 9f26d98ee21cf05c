"""KPI statistics (统计) for every level: per zone, department, ladder level and request domain.

A report covers a period of whole Beijing-time days and is read "as of" the earlier of now and the
period's end (``as_of``): stocks such as 积压数 are the orders' states at that instant, rebuilt from
the immutable event log (each event records ``to_state``) when the period lies in the past.

Definitions (docs/statistics.md says the same in Chinese for the district):

* 受理数 / 不予受理数 — orders submitted in the period (``created_at``), split by whether they were refused
  as out of scope (state ``rejected``); a duplicate merged into an earlier order (state ``merged``) is neither.
* 办结数 — orders whose (latest) resolution falls in the period, whenever they were submitted. A reopened
  order counts by its latest resolution only (``_reopen`` clears ``resolved_at``).
* 按时办结率 — resolved in the period on or before ``due_at`` ÷ (resolved in the period with a deadline
  + orders still in handling at ``as_of`` whose deadline had passed). Orders without a deadline (level 4
  without the city's date) are not judged.
* 响应率 — per dispatch (吹哨: dispatch, transfer, joint meeting, or accept/escalate naming a department) in
  the period: signed without the ``late`` mark ÷ (signed + still unsigned now past ``sign_due_at``).
  A dispatch returned, transferred or escalated before anyone signed is not judged here (returns are
  the 退单率).
* 退单率 — returns in the period ÷ dispatches in the period.
* 解决率 / 满意率 — over the return visits recorded in the period (every round counts): resolved=True,
  resp. 非常满意+满意+基本满意, ÷ visits.
* 回访率 — orders resolved in the period that were visited after that resolution ÷ 办结数.
* 超期数 — resolved late in the period + still in handling at ``as_of`` past ``due_at`` (or waiting for a
  sign-in past ``sign_due_at``). When the period includes today the second part is exactly the console
  list's "超期" filter.
* 积压数 — orders in one of ``State.OPEN`` (still owed something by the government side) at ``as_of``.
* 督办数 — manual 督办 events plus the watchdog's first automatic notice of an overdue cycle
  (超时未签收, 超期督办) in the period; the follow-up notices to the leader and 营商环境办 escalate the
  same 督办 and are not counted again.
* 平均办理时长 — from acceptance (``accepted_at``, else submission) to the latest resolution, in China
  working days (``services.orders.sla.WorkCalendar``: 24 working hours per working day, holidays and
  调休 aware), over the orders resolved in the period; suspensions are not deducted.

Attribution by department: orders (受理, 办结, 按时办结, 超期, 积压, 回访) go to the department currently
assigned (for a resolved order: the one that resolved it); each dispatch and its sign-in go to the
department dispatched to; a return to the department that returned it; a 督办 to the department the
order was with at that moment (the latest dispatch before it, none after a return). Zone, level
(the order's current level; 绿色通道 is a subset row) and domain come from the order.

Every report is a fixed handful of set-based queries (grouped aggregates; one window over the event
log), independent of the number of orders and groups, identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

import calendar as month_calendar
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Float, Integer, and_, case, false, func, literal, or_, select, true, union, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from models import (
    Department,
    HolidayOverride,
    Person,
    ReturnVisit,
    Role,
    Satisfaction,
    WorkOrder,
    WorkOrderEvent,
    Zone,
)
from models.statistics import (
    FLOW_COLUMNS,
    StatDaily,
    StatDirtyDay,
    StatDirtyMonth,
    StatMonthly,
    StatRollupState,
    StatStockCount,
    StatStockDay,
    StatStockMember,
)
from services import inputs
from services.errors import DomainError, PermissionDenied
from services.orders import queries as order_queries
from services.orders import sla
from services.orders.deadlines import load_calendar
from services.orders.ladder import LEVELS
from services.orders.lifecycle import Action, State
from services.permissions import DISTRICT_WIDE, department_and_units
from services.studio import store as studio_store
from services.studio.forms import KEY_PATTERN, choice_fields
from services.xlsx_export import Column, Sheet

LOCAL_TZ = sla.LOCAL_TZ
# Beijing has kept UTC+8 without daylight saving since 1991: SQL can shift timestamps by a constant.
_UTC_OFFSET_SECONDS = 8 * 3600
_DAY = 86400

# Ratios below these (above, for 退单率) are highlighted on the page, the 通报 and in the API
# ("below_threshold"). The district's targets; change them here.
RESPONSE_RATE_MIN = 0.90
ON_TIME_RATE_MIN = 0.90
RESOLUTION_RATE_MIN = 0.90
SATISFACTION_RATE_MIN = 0.90
RETURN_RATE_MAX = 0.10

MAX_SPAN_DAYS = 3 * 366

GROUPS = {"zone": "片区", "department": "部门", "level": "层级", "domain": "类别"}
PRESETS = {
    "this_month": "本月", "last_month": "上月", "this_quarter": "本季度", "this_year": "本年",
    "last_30_days": "近30天",
}
CUSTOM = "custom"
DEFAULT_PRESET = "this_month"
# A single-choice field of the request forms groups too: ``field.<key>`` (rows per option).
FIELD_GROUP_PREFIX = "field."
NO_VALUE = "未填写"


def field_group_key(group: str) -> str | None:
    """The field key of a ``field.<key>`` group, None for any other group."""
    if not group.startswith(FIELD_GROUP_PREFIX):
        return None
    key = group[len(FIELD_GROUP_PREFIX):]
    return key if KEY_PATTERN.match(key) else None


def groups_for(session: Session) -> dict[str, str]:
    """Every grouping offered: the fixed ones, then each choice field of the forms in force."""
    fields = choice_fields(studio_store.runtime(session).forms)
    return {**GROUPS, **{FIELD_GROUP_PREFIX + f.key: f.label for f in fields}}


# Groups a printed 通报 ranks.
RANKED_GROUPS = ("zone", "department")

NO_ZONE = "未划分片区"
NO_DEPARTMENT = "无承办部门（片区办理或待派单）"
NO_DOMAIN = "未分类"
GREEN_CHANNEL = "其中：绿色通道"
TOTAL = "合计"


class InvalidQuery(DomainError):
    """A period or grouping the report cannot use (a bad query string, not a business rule)."""

    code = "invalid_parameter"
    http_status = 400


# --------------------------------------------------------------------------------------------------
# What the report shows
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> float | None:
        value = self.value
        return None if value is None else round(value * 100, 1)

    @property
    def text(self) -> str:
        """"80.0%", or "—" when nothing was there to measure (never a made-up 0 % or 100 %)."""
        percent = self.percent
        return "—" if percent is None else f"{percent:.1f}%"

    @property
    def fraction(self) -> str:
        return f"{self.numerator}/{self.denominator}"


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    definition: str
    kind: str = "count"  # count | ratio | average
    numerator: str = ""
    denominator: str = ""
    threshold: float | None = None
    higher_is_better: bool = True

    def alarming(self, value: Any) -> bool:
        """Whether ``value`` misses the district's target (only ratios with a target can)."""
        if self.threshold is None or not isinstance(value, Ratio) or value.value is None:
            return False
        return value.value < self.threshold if self.higher_is_better else value.value > self.threshold

    @property
    def threshold_text(self) -> str:
        if self.threshold is None:
            return ""
        return f"{'低于' if self.higher_is_better else '高于'} {self.threshold * 100:.0f}% 时标红"


KPIS: tuple[Kpi, ...] = (
    Kpi("received", "受理数", "统计期内提交的诉求件数（按提交时间，北京时间），不含不予受理的。"),
    Kpi("refused", "不予受理数", "统计期内提交、经甄别确认不属于受理范围（涉法涉诉、信访等）而不予受理的件数。"),
    Kpi("resolved", "办结数", "办结时间在统计期内的工单（不论何时提交）；重办的工单以最近一次办结为准。"),
    Kpi("response_rate", "响应率", "统计期内每次派单（吹哨）后按时签收报到的比例。分母为已签收的派单加上至今仍未签收且已过签收时限的派单；"
        "签收前被退回、转办或升级的派单不计入（退回计入退单率）。", "ratio", "按时签收", "应签收派单", RESPONSE_RATE_MIN),
    Kpi("on_time_rate", "按时办结率", "统计期内在办理时限内办结的件数 ÷（统计期内办结且有办理时限的件数 + 截至期末仍在办理且已过时限的件数）。"
        "没有办理时限的工单（如尚未登记市级时限的市级提级工单）不计入。", "ratio", "按时办结", "应办结",
        ON_TIME_RATE_MIN),
    Kpi("resolution_rate", "解决率", "统计期内的回访中，企业认为问题已解决的比例（每轮回访各计一次）。", "ratio", "已解决",
        "回访", RESOLUTION_RATE_MIN),
    Kpi("satisfaction_rate", "满意率", "统计期内的回访评价中，非常满意、满意、基本满意所占比例（好差评五级，每轮回访各计一次）。",
        "ratio", "满意", "评价", SATISFACTION_RATE_MIN),
    Kpi("visit_rate", "回访率", "统计期内办结的工单中，办结后已完成回访的比例。", "ratio", "已回访", "办结"),
    Kpi("return_rate", "退单率", "统计期内的退单次数 ÷ 统计期内的派单次数。", "ratio", "退单", "派单", RETURN_RATE_MAX,
        higher_is_better=False),
    Kpi("overdue", "超期数", "统计期内超过办理时限才办结的件数，加上截至期末仍在办理且已过办理时限（或待签收且已过签收时限）的件数。"),
    Kpi("backlog", "积压数", "截至期末（本期未结束时为当前）政府方仍有事未了的工单：待甄别、待派单、待签收、办理中、已挂起、"
        "已办结待反馈、已反馈待回访（“诉求零积压”）。"),
    Kpi("supervised", "督办数", "统计期内的人工督办次数，加上系统对超时未签收、超期工单发出的督办通知次数（同一轮超期后续通报部门领导、"
        "区营商环境办不重复计算）。"),
    Kpi("avg_handling_workdays", "平均办理时长", "统计期内办结的工单从受理到办结的平均时长，按工作日计（每个工作日 24 小时，"
        "含调休，扣除节假日；挂起时间不扣除）。", "average"),
)
KPI_BY_KEY = {k.key: k for k in KPIS}
ATTRIBUTION_NOTES = (
    "按部门统计时：受理、办结、按时办结、超期、积压、回访按工单当前的承办部门（办结的工单即办结它的部门）归属；"
    "每次派单及其签收归属被派单的部门，退单归属退回的部门，督办归属督办时承办该工单的部门。",
    "下属单位（通信公司、城东供电、燃气公司、水务公司）单列一行；所属部门的人员可看到这些行。",
    "按层级统计以工单当前（最终）层级为准；“其中：绿色通道”是区级会商及以上中走绿色通道的部分，不另计入合计。",
    "统计期按北京时间的整日计算；“期末”为统计期结束与当前时间中较早的一个。",
)


@dataclass
class Counts:
    """The raw numbers of one row; every ratio is built from two of them."""

    received: int = 0
    refused: int = 0
    resolved: int = 0
    resolved_judged: int = 0  # resolved in the period and had a deadline
    resolved_on_time: int = 0
    resolved_late: int = 0
    overdue_handling: int = 0  # in handling at as_of, past due_at
    overdue_sign: int = 0  # waiting for a sign-in at as_of, past sign_due_at (handling deadline not yet passed)
    backlog: int = 0
    visited: int = 0  # resolved in the period and visited after that resolution
    dispatched: int = 0
    signed_on_time: int = 0
    signed_late: int = 0
    unsigned_overdue: int = 0  # dispatched in the period, still unsigned now past sign_due_at
    returned: int = 0
    supervised: int = 0
    visits: int = 0
    visits_resolved: int = 0
    visits_satisfied: int = 0
    handling_seconds: float = 0.0
    handling_count: int = 0

    def add(self, other: Counts) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def response_rate(self) -> Ratio:
        return Ratio(self.signed_on_time, self.signed_on_time + self.signed_late + self.unsigned_overdue)

    @property
    def on_time_rate(self) -> Ratio:
        return Ratio(self.resolved_on_time, self.resolved_judged + self.overdue_handling)

    @property
    def resolution_rate(self) -> Ratio:
        return Ratio(self.visits_resolved, self.visits)

    @property
    def satisfaction_rate(self) -> Ratio:
        return Ratio(self.visits_satisfied, self.visits)

    @property
    def visit_rate(self) -> Ratio:
        return Ratio(self.visited, self.resolved)

    @property
    def return_rate(self) -> Ratio:
        return Ratio(self.returned, self.dispatched)

    @property
    def overdue_open(self) -> int:
        return self.overdue_handling + self.overdue_sign

    @property
    def overdue(self) -> int:
        return self.resolved_late + self.overdue_open

    @property
    def avg_handling_workdays(self) -> float | None:
        if not self.handling_count:
            return None
        return round(self.handling_seconds / sla.SECONDS_PER_WORKDAY / self.handling_count, 1)

    def value(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class Row:
    key: Any
    label: str
    counts: Counts = field(default_factory=Counts)
    kind: str = "group"  # group | total | subset
    # Query arguments of the console order list showing this row's orders; None when the list
    # cannot filter that way ("no department", "no category").
    filters: dict[str, Any] | None = None

    def alarms(self) -> set[str]:
        return {k.key for k in KPIS if k.alarming(self.counts.value(k.key))}


@dataclass(frozen=True)
class Period:
    first_day: date
    last_day: date
    preset: str = CUSTOM

    @property
    def start(self) -> datetime:
        return _local_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """Exclusive: Beijing midnight after the last day."""
        return _local_midnight(self.last_day + timedelta(days=1))

    @property
    def label(self) -> str:
        span = f"{self.first_day.isoformat()} 至 {self.last_day.isoformat()}"
        return f"{PRESETS[self.preset]}（{span}）" if self.preset in PRESETS else span

    def as_of(self, now: datetime) -> datetime:
        return min(now, self.end)

    def query_args(self) -> dict[str, str]:
        if self.preset in PRESETS:
            return {"period": self.preset}
        return {"period": CUSTOM, "from": self.first_day.isoformat(), "to": self.last_day.isoformat()}


@dataclass(frozen=True)
class Scope:
    kind: str  # district | zone | department
    label: str
    zone_id: int | None = None
    department_id: int | None = None  # with its units

    def clause(self, zone_column, department_column):
        if self.kind == "zone":
            return zone_column == self.zone_id
        if self.kind == "department":
            return department_and_units(department_column, self.department_id)
        return true()


@dataclass
class Report:
    group: str
    period: Period
    scope: Scope
    now: datetime
    rows: list[Row]
    total: Row
    subsets: list[Row] = field(default_factory=list)
    label: str = ""  # the group's name when it is a form field (``field.<key>``)

    @property
    def as_of(self) -> datetime:
        return self.period.as_of(self.now)

    @property
    def current(self) -> bool:
        """The period reaches today: "overdue at the period end" is "overdue now", as the order list has it."""
        return self.as_of >= self.now

    @property
    def group_label(self) -> str:
        return GROUPS.get(self.group) or self.label or self.group

    def all_rows(self) -> list[Row]:
        return [*self.rows, self.total, *self.subsets]


# --------------------------------------------------------------------------------------------------
# Period, grouping and scope from a request
# --------------------------------------------------------------------------------------------------
def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LOCAL_TZ).astimezone(UTC)


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()


def _month_end(day: date) -> date:
    return day.replace(day=month_calendar.monthrange(day.year, day.month)[1])


def preset_period(preset: str, now: datetime) -> Period:
    today = local_today(now)
    if preset == "this_month":
        first = today.replace(day=1)
        return Period(first, _month_end(first), preset)
    if preset == "last_month":
        first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        return Period(first, _month_end(first), preset)
    if preset == "this_quarter":
        first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return Period(first, _month_end(date(first.year, first.month + 2, 1)), preset)
    if preset == "this_year":
        return Period(date(today.year, 1, 1), date(today.year, 12, 31), preset)
    if preset == "last_30_days":
        return Period(today - timedelta(days=29), today, preset)
    raise InvalidQuery(_preset_message(), fields={"period": "无效"})


def _preset_message() -> str:
    options = "、".join(f"{key}（{label}）" for key, label in PRESETS.items())
    return f"统计时段 period 可选：{options}，或 {CUSTOM}（自定义，须同时提供 from 和 to）"


def _parse_day(raw: str, name: str, label: str) -> date:
    try:
        return inputs.parse_date(raw)
    except ValueError as reason:
        raise InvalidQuery(f"{label}（{name}）{reason}，例如 2026-03-01", fields={name: str(reason)}) from None


def custom_period(first: date, last: date, now: datetime) -> Period:
    if first > last:
        raise InvalidQuery("开始日期（from）不能晚于结束日期（to）", fields={"from": "晚于结束日期"})
    if first > local_today(now):
        raise InvalidQuery("开始日期（from）不能晚于今天", fields={"from": "晚于今天"})
    if (last - first).days + 1 > MAX_SPAN_DAYS:
        raise InvalidQuery(f"统计时段最长 {MAX_SPAN_DAYS} 天，请缩短时段", fields={"to": "时段过长"})
    return Period(first, last, CUSTOM)


def parse_query(args: Mapping[str, str], now: datetime) -> tuple[str, Period]:
    """``group``, ``period`` (a preset or custom) and ``from``/``to`` (Beijing dates, inclusive)."""
    values = {key: (args.get(key) or "").strip() for key in ("group", "period", "from", "to")}
    group = values["group"] or "zone"
    if group not in GROUPS and field_group_key(group) is None:
        options = "、".join(f"{key}（{label}）" for key, label in GROUPS.items())
        raise InvalidQuery(f"分组 group 可选：{options}", fields={"group": "无效"})
    preset = values["period"]
    if values["from"] or values["to"]:
        if preset and preset != CUSTOM:
            raise InvalidQuery("预设时段 period 与自定义日期 from/to 不能同时使用", fields={"period": "与 from/to 冲突"})
        if not (values["from"] and values["to"]):
            missing = "to" if values["from"] else "from"
            raise InvalidQuery("自定义时段须同时提供开始日期 from 和结束日期 to", fields={missing: "必填"})
        first = _parse_day(values["from"], "from", "开始日期")
        last = _parse_day(values["to"], "to", "结束日期")
        return group, custom_period(first, last, now)
    if preset == CUSTOM:
        raise InvalidQuery("自定义时段须同时提供开始日期 from 和结束日期 to", fields={"from": "必填", "to": "必填"})
    if preset and preset not in PRESETS:
        raise InvalidQuery(_preset_message(), fields={"period": "无效"})
    return group, preset_period(preset or DEFAULT_PRESET, now)


def can_view_statistics(person: Person | None) -> bool:
    """Everyone with a place in the organisation; what they see is their ``scope_for``."""
    if person is None or not person.active:
        return False
    if person.role in DISTRICT_WIDE:
        return True
    if person.role in Role.ZONE_ROLES:
        return person.zone_id is not None
    if person.role in Role.DEPARTMENT_ROLES:
        return person.department_id is not None
    return False


def can_view_bulletin(person: Person | None) -> bool:
    """The 通报 ranks zones and departments against each other: the district-wide roles."""
    return person is not None and person.active and person.role in DISTRICT_WIDE


def scope_for(person: Person | None) -> Scope:
    """The district, the person's zone, or the person's department with its units (``permissions``)."""
    if not can_view_statistics(person):
        raise PermissionDenied("您的账号未关联片区或部门，无权查看统计")
    if person.role in DISTRICT_WIDE:
        return Scope("district", "全区")
    if person.role in Role.ZONE_ROLES:
        return Scope("zone", person.zone.name if person.zone else "本片区", zone_id=person.zone_id)
    department = person.department
    label = department.display_name if department is not None else "本部门"
    if department is not None and department.units:
        label += "（含下属单位）"
    return Scope("department", label, department_id=person.department_id)


# --------------------------------------------------------------------------------------------------
# SQL that differs between SQLite and PostgreSQL
# --------------------------------------------------------------------------------------------------
class _epoch_seconds(FunctionElement):
    """Seconds since 1970-01-01 UTC of a naive-UTC timestamp column (fractional)."""

    type = Float()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(_epoch_seconds)
def _epoch_seconds_sqlite(element, compiler, **kw):
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(_epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element, compiler, **kw):
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})"


class _local_day_number(FunctionElement):
    """Days since 1970-01-01 of the Beijing date of a naive-UTC timestamp column."""

    type = Integer()
    inherit_cache = True
    name = "local_day_number"


@compiles(_local_day_number)
def _local_day_number_sqlite(element, compiler, **kw):
    # Timestamps are after 1970, so truncation is the floor.
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(julianday({arg}) - 2440587.5 + {_UTC_OFFSET_SECONDS / _DAY!r} AS INTEGER)"


@compiles(_local_day_number, "postgresql")
def _local_day_number_postgresql(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR((EXTRACT(EPOCH FROM {arg}) + {_UTC_OFFSET_SECONDS}) / {_DAY}) AS INTEGER)"


def _count_when(condition):
    return case((condition, 1), else_=0)


def _summed(subquery, names: Iterable[str]) -> list:
    return [func.coalesce(func.sum(subquery.c[name]), 0).label(name) for name in names]


# --------------------------------------------------------------------------------------------------
# Group keys
# --------------------------------------------------------------------------------------------------
# The key of the daily rollup (``models.statistics.DIMENSIONS``): every dimension a report groups by.
ROLLUP = "rollup"
ROLLUP_KEYS = ("zone_id", "department_id", "level", "green_channel", "domain_id", "channel")


def _keys(group: str, order, department_column) -> list:
    """The grouping columns (labelled k0, k1) for orders aliased ``order``."""
    if group == ROLLUP:
        return [order.zone_id.label("k0"), department_column.label("k1"), order.level.label("k2"),
                order.green_channel.label("k3"), order.domain_id.label("k4"), order.channel.label("k5")]
    if group == "zone":
        return [order.zone_id.label("k0")]
    if group == "department":
        return [department_column.label("k0")]
    if group == "level":
        return [order.level.label("k0"), order.green_channel.label("k1")]
    key = field_group_key(group)
    if key is not None:
        return [order.custom_fields[key].as_string().label("k0")]
    return [order.domain_id.label("k0")]


def _key_names(group: str) -> list[str]:
    if group == ROLLUP:
        return [f"k{i}" for i in range(len(ROLLUP_KEYS))]
    return ["k0", "k1"] if group == "level" else ["k0"]


def _grouped(session: Session, group: str, inner, names: Iterable[str]) -> dict[tuple, dict[str, Any]]:
    """Sum the per-row flag columns of ``inner`` by its key columns: {key tuple: {name: total}}."""
    sub = inner.subquery()
    keys = [sub.c[k] for k in _key_names(group)]
    names = list(names)
    query = select(*keys, *_summed(sub, names)).group_by(*keys)
    result = {}
    for row in session.execute(query):
        values = row._mapping
        key = tuple(values[k] for k in _key_names(group))
        result[key] = {name: values[name] for name in names}
    return result


# --------------------------------------------------------------------------------------------------
# The queries
# --------------------------------------------------------------------------------------------------
_DISPATCH_ACTIONS = (Action.DISPATCH, Action.TRANSFER, Action.JOINT_MEETING)
_ROUTING_ACTIONS = (Action.ACCEPT, Action.ESCALATE)  # a dispatch when they name a department
_SUPERVISION_ALERTS = (sla.SIGN_OVERDUE, sla.OVERDUE_SUPERVISE)
_EVENT_ACTIONS = (*_DISPATCH_ACTIONS, *_ROUTING_ACTIONS, Action.SIGN, Action.RETURN, Action.SUPERVISE, Action.ALERT)


def _event_department(event):
    return event.data["department_id"].as_integer()


# The parts of a report: "flows" add up over days (the daily rollup keeps them), "stocks" are states
# at an instant (always live), "all" is both in one query.
FLOWS, STOCKS, ALL = "flows", "stocks", "all"
_ORDER_STOCKS = ("overdue_handling", "overdue_sign", "backlog")


def _past_state(as_of: datetime):
    """(query, state, changed_since): the state each order was in at ``as_of`` — its current state,
    unless something happened to it since; then the last event before says (events record to_state)."""
    o, e = WorkOrder, WorkOrderEvent
    changed_since = select(e.work_order_id).where(e.created_at >= as_of)
    last = (
        select(e.work_order_id, func.max(e.id).label("last_id"))
        .where(e.created_at < as_of, e.work_order_id.in_(changed_since))
        .group_by(e.work_order_id)
        .subquery("last_event")
    )
    then = aliased(WorkOrderEvent, name="state_event")
    state = case((last.c.last_id.is_not(None), then.to_state), else_=o.state)
    query = (
        select().select_from(o)
        .outerjoin(last, last.c.work_order_id == o.id)
        .outerjoin(then, then.id == last.c.last_id)
    )
    return query, state, changed_since


def stock_members(as_of: datetime):
    """(order id, state then) of every order open at ``as_of``, by the definition reports use
    (``_past_state``); the rollup keeps them with ``stock_members_since``, its tests compare both."""
    o = WorkOrder
    query, state, changed_since = _past_state(as_of)
    return query.add_columns(o.id, state).where(
        o.created_at < as_of, or_(o.state.in_(State.OPEN), o.id.in_(changed_since)), state.in_(State.OPEN),
    )


def stock_members_since(previous_day: date | None, as_of: datetime):
    """``stock_members(as_of)`` from the members kept at the end of ``previous_day`` (None: before
    any order) and what happened since, without a pass over the whole event log: an order's state at
    ``as_of`` is the ``to_state`` of its last event before it (every event records the state the
    order was left in), or, for an order with no event at all, its current state — as in
    ``_past_state``. The same rows as ``stock_members``; the rollup's tests compare them."""
    o, e = WorkOrder, WorkOrderEvent
    previous_as_of = _local_midnight(previous_day + timedelta(days=1)) if previous_day is not None else None
    window = [e.created_at < as_of] + ([e.created_at >= previous_as_of] if previous_as_of is not None else [])
    last = select(e.work_order_id, func.max(e.id).label("last_id")).where(*window).group_by(e.work_order_id)
    last = last.subquery("last_in_window")
    latest = aliased(WorkOrderEvent, name="latest")
    parts = [
        select(latest.work_order_id.label("id"), latest.to_state.label("state"))
        .join(last, latest.id == last.c.last_id)
        .join(o, o.id == latest.work_order_id)
        .where(latest.to_state.in_(State.OPEN), o.created_at < as_of),
        # Orders without a single event before the instant.
        select(o.id.label("id"), o.state.label("state")).where(
            o.created_at < as_of, *([o.created_at >= previous_as_of] if previous_as_of is not None else []),
            o.state.in_(State.OPEN),
            ~select(e.id).where(e.work_order_id == o.id, e.created_at < as_of).exists(),
        ),
    ]
    if previous_day is not None:
        member = StatStockMember
        moved = select(e.id).where(e.work_order_id == member.work_order_id, *window).exists()
        parts.append(
            select(member.work_order_id.label("id"), member.state.label("state"))
            .where(member.day == previous_day, ~moved)
        )
    return union_all(*parts)


def _order_rows(group: str, scope: Scope, period: Period, now: datetime, part: str = ALL, *,
                snapshot: date | None = None):
    """One row per order that matters to the period, with 0/1 flags for each order-level count.
    ``snapshot``: the stocks come from the orders kept open at the end of that day (``stat_stock_member``)."""
    o = WorkOrder
    start, end = period.start, period.end
    as_of = period.as_of(now)
    changed_since = None
    if snapshot is not None:
        member = StatStockMember
        state = member.state
        query = select().select_from(member).join(o, o.id == member.work_order_id).where(member.day == snapshot)
    elif part == FLOWS or as_of >= now:
        state = o.state
        query = select().select_from(o)
    else:
        query, state, changed_since = _past_state(as_of)

    created_in = and_(o.created_at >= start, o.created_at < end)
    resolved_in = and_(o.resolved_at.is_not(None), o.resolved_at >= start, o.resolved_at < end)
    not_resolved_in = or_(o.resolved_at.is_(None), o.resolved_at < start, o.resolved_at >= end)
    handling_overdue = and_(state.in_(State.CLOCK_RUNNING), o.due_at.is_not(None), o.due_at < as_of, not_resolved_in)
    sign_overdue = and_(
        state == State.DISPATCHED, o.sign_due_at.is_not(None), o.sign_due_at < as_of,
        or_(o.due_at.is_(None), o.due_at >= as_of), not_resolved_in,
    )
    judged = and_(resolved_in, o.due_at.is_not(None))
    flags = {
        # A duplicate merged into an earlier order is that order's request, not one more.
        "received": and_(created_in, o.state.not_in((State.REJECTED, State.MERGED))),
        "refused": and_(created_in, o.state == State.REJECTED),
        "resolved": resolved_in,
        "resolved_judged": judged,
        "resolved_on_time": and_(judged, o.resolved_at <= o.due_at),
        "resolved_late": and_(judged, o.resolved_at > o.due_at),
        "overdue_handling": handling_overdue,
        "overdue_sign": sign_overdue,
        "backlog": state.in_(State.OPEN),
        "visited": and_(resolved_in, o.visited_at.is_not(None), o.visited_at >= o.resolved_at),
    }
    if part == FLOWS:
        flags = {k: v for k, v in flags.items() if k not in _ORDER_STOCKS}
        matters = or_(created_in, resolved_in)
    elif part == STOCKS:
        flags = {k: v for k, v in flags.items() if k in _ORDER_STOCKS}
        matters = state.in_(State.OPEN)
        if changed_since is not None:
            # Exact prefilter the indexes serve: an order neither open now nor changed since the
            # period's end was in its current (closed) state then.
            matters = and_(or_(o.state.in_(State.OPEN), o.id.in_(changed_since)), matters)
    else:
        matters = or_(created_in, resolved_in, state.in_(State.OPEN))
    inner = query.add_columns(
        *_keys(group, o, o.assigned_department_id),
        *(_count_when(condition).label(name) for name, condition in flags.items()),
    ).where(
        o.created_at < end,
        matters,
        scope.clause(o.zone_id, o.assigned_department_id),
    )
    return inner, list(flags)


def _routing(event):
    """(department id, is a dispatch, is an escalation to a hub queue) of an event."""
    department_id = _event_department(event)
    routed = and_(event.action.in_(_ROUTING_ACTIONS), department_id.is_not(None))
    is_dispatch = or_(event.action.in_(_DISPATCH_ACTIONS), routed)
    # An escalation to a hub queue leaves the order with no department; one to the city keeps it tracking.
    to_hub = and_(event.action == Action.ESCALATE, department_id.is_(None),
                  func.coalesce(event.data["level"].as_integer(), 0) != 4)
    return department_id, is_dispatch, to_hub


def _unsigned_overdue_rows(group: str, scope: Scope, period: Period, now: datetime):
    """超时未签收 at ``now`` of the dispatches made in ``period`` — the rows ``_event_rows`` counts as
    ``unsigned_overdue``, from the orders alone: an order waiting for a sign-in past its deadline
    counts for its last marker, which is the dispatch that left it waiting, and that dispatch is
    on the order (``operations._dispatch_to`` sets ``dispatched_at`` to the event's time and the
    department it names). The rollup's tests compare both on random histories."""
    o = WorkOrder
    inner = select(*_keys(group, o, o.assigned_department_id), literal(1).label("unsigned_overdue")).where(
        o.state == State.DISPATCHED, o.sign_due_at.is_not(None), o.sign_due_at < now,
        o.dispatched_at >= period.start, o.dispatched_at < period.end,
        scope.clause(o.zone_id, o.assigned_department_id),
    )
    return inner, ["unsigned_overdue"]


def _event_rows(group: str, scope: Scope, period: Period, now: datetime, part: str = ALL):
    """One row per dispatch, sign-in, return and 督办 that counts for the period, attributed as the
    module docstring says.

    One window over the event stream of each order touched in the period gives every event the
    latest assignment at or before it (``marker_id``): a sign-in answers that dispatch (only a
    dispatch leads to "waiting for sign-in"), a 督办 goes to its department. A dispatch counts in
    the period it was made, and so does its sign-in, even when that came after the period.
    The JSON fields are read in the inner select, once per event.
    """
    e = WorkOrderEvent
    start, end = period.start, period.end
    touched = select(e.work_order_id).where(e.created_at >= start, e.created_at < end, e.action.in_(_EVENT_ACTIONS))
    department_id, is_dispatch, to_hub = _routing(e)
    flagged = (
        select(
            e.id, e.work_order_id, e.action, e.created_at,
            department_id.label("department_id"),
            case((e.action == Action.ALERT, e.data["kind"].as_string()), else_=None).label("alert_kind"),
            _count_when(and_(e.action == Action.SIGN,
                             func.coalesce(e.data["late"].as_boolean(), false()) == true())).label("late"),
            _count_when(is_dispatch).label("is_dispatch"),
            _count_when(or_(is_dispatch, e.action == Action.RETURN, to_hub)).label("is_marker"),
        )
        .where(e.action.in_(_EVENT_ACTIONS), e.work_order_id.in_(touched))
        .subquery("flagged")
    )
    f = flagged.c
    marker_id = case((f.is_marker == 1, f.id), else_=None)
    events = select(
        f.id, f.work_order_id, f.action, f.created_at, f.department_id, f.alert_kind, f.late, f.is_dispatch,
        func.max(marker_id).over(partition_by=f.work_order_id, order_by=f.id, rows=(None, 0)).label("marker_id"),
        func.max(marker_id).over(partition_by=f.work_order_id).label("last_marker_id"),
    ).subquery("stream")
    o = WorkOrder
    marker = aliased(WorkOrderEvent, name="marker")
    # After a dispatch: the department dispatched to; after a return or a hub escalation (no
    # department_id in its data): none.
    marker_department = case((marker.action == Action.RETURN, None), else_=_event_department(marker))
    department = case((events.c.action == Action.RETURN, events.c.department_id), else_=marker_department)
    in_period = and_(events.c.created_at >= start, events.c.created_at < end)
    dispatch = and_(in_period, events.c.is_dispatch == 1)
    signed = and_(events.c.action == Action.SIGN, marker.created_at >= start, marker.created_at < end)
    flags = {
        "dispatched": dispatch,
        "signed_on_time": and_(signed, events.c.late == 0),
        "signed_late": and_(signed, events.c.late == 1),
        # Still waiting for this very dispatch (no later assignment) and past its sign-in deadline.
        "unsigned_overdue": and_(dispatch, events.c.id == events.c.last_marker_id, o.state == State.DISPATCHED,
                                 o.sign_due_at.is_not(None), o.sign_due_at < now),
        "returned": and_(in_period, events.c.action == Action.RETURN),
        "supervised": and_(in_period, or_(events.c.action == Action.SUPERVISE,
                                          events.c.alert_kind.in_(_SUPERVISION_ALERTS))),
    }
    matters = or_(in_period, signed)
    if part == FLOWS:
        del flags["unsigned_overdue"]
    inner = (
        select(*_keys(group, o, department), *(_count_when(c).label(name) for name, c in flags.items()))
        .select_from(events)
        .join(o, o.id == events.c.work_order_id)
        .outerjoin(marker, marker.id == events.c.marker_id)
        .where(matters, scope.clause(o.zone_id, department))
    )
    return inner, list(flags)


def _visit_rows(group: str, scope: Scope, period: Period):
    o = WorkOrder
    v = ReturnVisit
    flags = {
        "visits": true(),
        "visits_resolved": v.resolved.is_(True),
        "visits_satisfied": v.satisfaction.in_(Satisfaction.POSITIVE),
    }
    inner = (
        select(*_keys(group, o, o.assigned_department_id), *(_count_when(c).label(n) for n, c in flags.items()))
        .select_from(v)
        .join(o, o.id == v.work_order_id)
        .where(v.created_at >= period.start, v.created_at < period.end, scope.clause(o.zone_id, o.assigned_department_id))
    )
    return inner, list(flags)


def _handling_buckets(session: Session, group: str, scope: Scope, period: Period) -> list[tuple]:
    """(key, "start"|"end", Beijing day number, orders, Σ epoch seconds) for the orders resolved in the period.

    Working time is additive (W(b) − W(a) with W the working seconds since a fixed origin), so the
    total handling time of a group only needs, per day, how many of its starts and ends fall on it
    and the sum of their timestamps — a GROUP BY, not a row per order.
    """
    o = WorkOrder
    resolved_in = and_(o.resolved_at.is_not(None), o.resolved_at >= period.start, o.resolved_at < period.end)
    result = []
    for side, column in (("start", func.coalesce(o.accepted_at, o.created_at)), ("end", o.resolved_at)):
        inner = (
            select(*_keys(group, o, o.assigned_department_id), _local_day_number(column).label("day"),
                   _epoch_seconds(column).label("epoch"))
            .where(resolved_in, scope.clause(o.zone_id, o.assigned_department_id))
            .subquery()
        )
        keys = [inner.c[k] for k in _key_names(group)]
        query = select(*keys, inner.c.day, func.count(), func.sum(inner.c.epoch)).group_by(*keys, inner.c.day)
        for row in session.execute(query):
            *key, day, count, epoch = row
            result.append((tuple(key), side, int(day), int(count), float(epoch)))
    return result


def _fold_handling(buckets, work_calendar: sla.WorkCalendar) -> dict[tuple, tuple[float, int]]:
    """{key: (working seconds, orders)} from ``_handling_buckets``."""
    if not buckets:
        return {}
    first = min(b[2] for b in buckets)
    last = max(b[2] for b in buckets)
    epoch_day = date(1970, 1, 1)
    working_before: dict[int, int] = {}
    is_working: dict[int, bool] = {}
    seen = 0
    for number in range(first, last + 1):
        working_before[number] = seen
        is_working[number] = work_calendar.is_workday(epoch_day + timedelta(days=number))
        seen += is_working[number]
    totals: dict[tuple, list] = {}
    for key, side, day, count, epoch_sum in buckets:
        # Σ W(t) over the bucket: whole working days before that day, plus the time into it if it is one.
        into_day = epoch_sum + count * (_UTC_OFFSET_SECONDS - day * _DAY)
        working = count * working_before[day] * _DAY + (into_day if is_working[day] else 0.0)
        entry = totals.setdefault(key, [0.0, 0])
        if side == "end":
            entry[0] += working
            entry[1] += count
        else:
            entry[0] -= working
    return {key: (seconds, count) for key, (seconds, count) in totals.items()}


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------
def live_flows(session: Session, group: str, scope: Scope, period: Period, now: datetime):
    """({key: {flow: n}} list, handling buckets) of the flows of ``period``, computed from the orders and events."""
    values = [
        _grouped(session, group, inner, names)
        for inner, names in (
            _order_rows(group, scope, period, now, FLOWS),
            _event_rows(group, scope, period, now, FLOWS),
            _visit_rows(group, scope, period),
        )
    ]
    return values, _handling_buckets(session, group, scope, period)


def build_report(session: Session, scope: Scope, group: str, period: Period, now: datetime, *,
                 use_rollups: bool = True, order_stocks: bool = True) -> Report:
    """The report; closed days come from the daily rollup where it is up to date (``rollup.plan``),
    the rest (today, days changed since the last rollup run) is computed live. ``use_rollups=False``
    computes everything live (the reference the rollup is tested against). ``order_stocks=False``
    leaves 积压 and 超期未办结 at 0 (a trend of flows and rates does not rebuild past states).
    """
    if group not in GROUPS and field_group_key(group) is None:
        raise InvalidQuery(f"未知的分组：{group}", fields={"group": "无效"})
    counts: dict[tuple, Counts] = {}

    def merge(values: dict[tuple, dict[str, Any]]) -> None:
        for key, numbers in values.items():
            target = counts.setdefault(key, Counts())
            for name, number in numbers.items():
                setattr(target, name, getattr(target, name) + int(number or 0))

    plan = None
    if use_rollups and field_group_key(group) is None:
        plan = rollup_plan(session, period, now)
    if plan is None:
        for inner, names in (
            _order_rows(group, scope, period, now, ALL if order_stocks else FLOWS),
            _event_rows(group, scope, period, now),
            _visit_rows(group, scope, period),
        ):
            merge(_grouped(session, group, inner, names))
        buckets = _handling_buckets(session, group, scope, period)
        handling = {}
    else:
        flows, handling = read_rollup(session, group, scope, plan.clean)
        merge(flows)
        buckets = []
        for first, last in plan.live:
            values, live_buckets = live_flows(session, group, scope, Period(first, last), now)
            for value in values:
                merge(value)
            buckets += live_buckets
        stocks = [_unsigned_overdue_rows(group, scope, period, now)]
        if order_stocks:
            snapshot = stock_snapshot(session, period, now)
            if snapshot is not None and snapshot.counted:
                merge(read_stock_counts(session, group, scope, period))
            else:
                stocks.append(_order_rows(group, scope, period, now, STOCKS,
                                          snapshot=snapshot.day if snapshot is not None else None))
        for inner, names in stocks:
            merge(_grouped(session, group, inner, names))
    for part in (handling, _fold_handling(buckets, load_calendar(session))):
        for key, (seconds, count) in part.items():
            target = counts.setdefault(key, Counts())
            target.handling_seconds += seconds
            target.handling_count += count

    rows, subsets = _rows(session, group, scope, counts)
    total = Row(None, TOTAL, kind="total", filters={})
    for row in rows:
        total.counts.add(row.counts)
    return Report(group=group, period=period, scope=scope, now=now, rows=rows, total=total, subsets=subsets,
                  label=groups_for(session).get(group, group) if field_group_key(group) else "")


def _rows(session: Session, group: str, scope: Scope, counts: dict[tuple, Counts]) -> tuple[list[Row], list[Row]]:
    """The rows in the district's order, with labels; every key that has numbers gets a row."""
    if group == "level":
        rows = {level: Row(level, label, filters={"level": level}) for level, label in LEVELS.items()}
        green = Row(True, GREEN_CHANNEL, kind="subset", filters={"green": "1"})
        for (level, is_green), numbers in counts.items():
            row = rows.setdefault(level, Row(level, f"层级 {level}"))
            row.counts.add(numbers)
            if is_green:
                green.counts.add(numbers)
        return [rows[k] for k in sorted(rows)], [green]

    by_key = {key[0]: numbers for key, numbers in counts.items()}
    field_key = field_group_key(group)
    if field_key is not None:
        definition = next((f for f in choice_fields(studio_store.runtime(session).forms) if f.key == field_key), None)
        options = definition.options if definition is not None else ()
        rows = [Row(o, o, filters={group: o}) for o in options]
        missing_label = NO_VALUE
    elif group == "zone":
        zones = session.scalars(select(Zone).order_by(Zone.sort_order, Zone.id)).all()
        if scope.kind == "zone":
            zones = [z for z in zones if z.id == scope.zone_id]
        elif scope.kind == "department":  # a department's breakdown: only the zones its orders came from
            zones = [z for z in zones if z.id in by_key]
        rows = [Row(z.id, z.name, filters={"zone": z.id}) for z in zones if z.active or z.id in by_key]
        missing_label = NO_ZONE
    elif group == "department":
        choices = order_queries.department_choices(session)
        if scope.kind == "department":
            units = set(session.scalars(select(Department.id).where(Department.parent_id == scope.department_id)))
            choices = [d for d in choices if d.id == scope.department_id or d.id in units]
        elif scope.kind == "zone":  # a zone's breakdown: only the departments that handled its orders
            choices = [d for d in choices if d.id in by_key]
        rows = [Row(d.id, d.display_name, filters={"department": d.id}) for d in choices]
        listed = {d.id for d in choices}
        extra = [k for k in by_key if k is not None and k not in listed]
        if extra:  # inactive departments that still have numbers
            for d in session.scalars(select(Department).where(Department.id.in_(extra)).order_by(Department.id)):
                rows.append(Row(d.id, d.display_name, filters={"department": d.id}))
        missing_label = NO_DEPARTMENT
    else:
        rows = [Row(d.id, d.name, filters={"domain": d.id}) for d in order_queries.domain_choices(session)]
        missing_label = NO_DOMAIN
    index = {row.key: row for row in rows}
    for key, numbers in by_key.items():
        row = index.get(key)
        if row is None:
            row = Row(key, missing_label if key is None else str(key))
            index[key] = row
            rows.append(row)
        row.counts.add(numbers)
    return rows, []


# --------------------------------------------------------------------------------------------------
# Reading the daily rollup (kept up to date by services.statistics.rollup)
# --------------------------------------------------------------------------------------------------
# More separate live stretches than this in one period: compute the whole period live instead.
MAX_LIVE_STRETCHES = 8
_EPOCH = date(1970, 1, 1)
_GROUP_COLUMNS = {
    "zone": ("zone_id",),
    "department": ("department_id",),
    "level": ("level", "green_channel"),
    "domain": ("domain_id",),
}


# The monthly sums (``models.statistics.MONTHLY_GROUPINGS``) that hold each grouping's columns.
_MONTHLY_GROUPING = {"zone": "unit", "department": "unit", "level": "level", "domain": "domain"}


@dataclass(frozen=True)
class Plan:
    clean: list[tuple[date, date]]  # read from the rollup
    live: list[tuple[date, date]]  # computed from the orders and events


def _state(session: Session, *, lock: bool = False) -> StatRollupState | None:
    query = select(StatRollupState).where(StatRollupState.id == 1)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def _days(numbers: Iterable[int]) -> set[date]:
    return {_EPOCH + timedelta(days=int(n)) for n in numbers if n is not None}


def _days_of_orders(session: Session, orders) -> set[date]:
    """Every day the orders in the subquery ``orders`` count on (see the module docstring)."""
    o, e, v = WorkOrder, WorkOrderEvent, ReturnVisit
    parts = [
        select(_local_day_number(o.created_at).label("d")).where(o.id.in_(orders)),
        select(_local_day_number(o.resolved_at).label("d")).where(o.id.in_(orders), o.resolved_at.is_not(None)),
        select(_local_day_number(e.created_at).label("d")).where(e.work_order_id.in_(orders)),
        select(_local_day_number(v.created_at).label("d")).where(v.work_order_id.in_(orders)),
    ]
    return _days(session.scalars(union(*parts)))


def _changed_orders(state: StatRollupState, *, overlap: timedelta = timedelta(0)):
    """The orders changed since the watermarks of ``state`` (a subquery of ids)."""
    o, e, v = WorkOrder, WorkOrderEvent, ReturnVisit
    parts = [
        select(e.work_order_id.label("id")).where(e.id > state.last_event_id),
        select(v.work_order_id.label("id")).where(v.id > state.last_visit_id),
    ]
    if state.last_order_update is not None:
        parts.append(select(o.id.label("id")).where(o.updated_at > state.last_order_update - overlap))
    else:
        parts.append(select(o.id.label("id")))
    return union(*parts).subquery("changed")


def calendar_overrides(session: Session) -> dict[str, bool]:
    """The holiday overrides as stored with the rollup state ({ISO day: is workday})."""
    return {h.day.isoformat(): h.is_workday for h in session.scalars(select(HolidayOverride))}


def calendar_changed_since(state: StatRollupState, current: dict[str, bool]) -> date | None:
    """The first day whose working status differs from the calendar the rollup was computed with;
    the handling time of every order resolved on or after it may have changed."""
    if state.calendar is None:
        return None
    previous = json.loads(state.calendar)
    changed = {day for day in previous.keys() | current.keys() if previous.get(day) != current.get(day)}
    return date.fromisoformat(min(changed)) if changed else None


def rollup_plan(session: Session, period: Period, now: datetime) -> Plan | None:
    """Which days of ``period`` the rollup can answer; None when it can answer none (or too few to help)."""
    state = _state(session)
    if state is None or state.rolled_through is None:
        return None
    today = local_today(now)
    last_closed = min(period.last_day, state.rolled_through, today - timedelta(days=1))
    recalculated_from = calendar_changed_since(state, calendar_overrides(session))
    if recalculated_from is not None:  # edited since the last run: those days are not up to date yet
        last_closed = min(last_closed, recalculated_from - timedelta(days=1))
    if last_closed < period.first_day:
        return None
    dirty = set(session.scalars(select(StatDirtyDay.day).where(StatDirtyDay.day >= period.first_day,
                                                              StatDirtyDay.day <= last_closed)))
    changed = _changed_orders(state)
    dirty |= _days_of_orders(session, select(changed.c.id))
    clean: list[tuple[date, date]] = []
    live: list[tuple[date, date]] = []
    previous = None
    day = period.first_day
    while day <= period.last_day:
        stretches = clean if day <= last_closed and day not in dirty else live
        if stretches is previous:
            stretches[-1] = (stretches[-1][0], day)
        else:
            stretches.append((day, day))
        previous = stretches
        day += timedelta(days=1)
    if not clean or len(live) > MAX_LIVE_STRETCHES:
        return None
    return Plan(clean, live)


def _in_stretches(column, stretches: list[tuple[date, date]]):
    return or_(*(and_(column >= first, column <= last) for first, last in stretches))


def whole_months(stretches: list[tuple[date, date]]) -> tuple[list[date], list[tuple[date, date]]]:
    """Split day stretches into the months they cover whole (first days) and the remaining stretches."""
    months: list[date] = []
    rest: list[tuple[date, date]] = []
    for first, last in stretches:
        day = first
        while day <= last:
            end = _month_end(day)
            if day.day == 1 and end <= last:
                months.append(day)
            elif rest and rest[-1][1] == day - timedelta(days=1):
                rest[-1] = (rest[-1][0], min(end, last))
            else:
                rest.append((day, min(end, last)))
            day = min(end, last) + timedelta(days=1)
    return months, rest


_ROLLED_COLUMNS = (*FLOW_COLUMNS, "handling_seconds", "handling_count")


def read_rollup(session: Session, group: str, scope: Scope, stretches: list[tuple[date, date]]):
    """({key: {flow: n}}, {key: (working seconds, orders)}) of the rolled-up days, grouped and scoped
    like a report: whole months from ``stat_monthly`` (unless marked behind their days), the other
    days from ``stat_daily``, in one query."""
    months, days = whole_months(stretches)
    if months:
        behind = set(session.scalars(select(StatDirtyMonth.month).where(StatDirtyMonth.month.in_(months))))
        for month in behind:
            days.append((month, _month_end(month)))
        months = [m for m in months if m not in behind]
    names = _GROUP_COLUMNS[group]
    grouping = _MONTHLY_GROUPING[group]
    parts = []
    for table, where in ((StatMonthly, and_(StatMonthly.month.in_(months), StatMonthly.grouping == grouping)
                          if months else None),
                         (StatDaily, _in_stretches(StatDaily.day, days) if days else None)):
        if where is not None:
            parts.append(
                select(*(getattr(table, n).label(n) for n in names), *(getattr(table, c).label(c) for c in _ROLLED_COLUMNS))
                .where(where, scope.clause(table.zone_id, table.department_id))
            )
    if not parts:
        return {}, {}
    rows = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("rolled")
    keys = [rows.c[n] for n in names]
    query = select(*keys, *(func.coalesce(func.sum(rows.c[c]), 0) for c in _ROLLED_COLUMNS)).group_by(*keys)
    flows, handling = {}, {}
    for row in session.execute(query):
        key = tuple(row[: len(names)])
        numbers = dict(zip(_ROLLED_COLUMNS, row[len(names):], strict=True))
        handling[key] = (float(numbers.pop("handling_seconds")), int(numbers.pop("handling_count")))
        flows[key] = numbers
    return flows, handling


@dataclass(frozen=True)
class StockSnapshot:
    day: date  # a kept month's end: the period's last day
    counted: bool  # its counts are up to date (no member changed since they were made)


def stock_snapshot(session: Session, period: Period, now: datetime) -> StockSnapshot | None:
    """The kept month's end that gives the stocks at the end of a past ``period``, if there is one."""
    if period.as_of(now) >= now:
        return None
    kept = session.get(StatStockDay, period.last_day)
    if kept is None:
        return None
    state = _state(session)
    changed = _changed_orders(state) if state is not None else None
    moved = changed is not None and session.scalar(select(
        select(StatStockMember.work_order_id)
        .where(StatStockMember.day == kept.day, StatStockMember.work_order_id.in_(select(changed.c.id)))
        .exists()))
    return StockSnapshot(kept.day, counted=not kept.counts_behind and not moved)


def read_stock_counts(session: Session, group: str, scope: Scope, period: Period) -> dict[tuple, dict[str, int]]:
    """{key: {stock: n}} at the end of ``period`` from the counts of its kept month's end."""
    c = StatStockCount
    keys = [getattr(c, n) for n in _GROUP_COLUMNS[group]]
    # Resolved within the period (then reopened): not overdue at its end, as _order_rows has it.
    may_be_overdue = or_(c.resolved_day_number.is_(None), c.resolved_day_number < (period.first_day - _EPOCH).days)
    query = (
        select(*keys, func.sum(c.backlog),
               func.sum(case((may_be_overdue, c.overdue_handling), else_=0)),
               func.sum(case((may_be_overdue, c.overdue_sign), else_=0)))
        .where(c.day == period.last_day, c.grouping == _MONTHLY_GROUPING[group], scope.clause(c.zone_id, c.department_id))
        .group_by(*keys)
    )
    return {tuple(row[: len(keys)]): dict(zip(("backlog", "overdue_handling", "overdue_sign"), row[len(keys):], strict=True))
            for row in session.execute(query)}


# --------------------------------------------------------------------------------------------------
# The 通报 (ranking)
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranked:
    rank: int | None  # None: nothing to judge (no 按时办结率 denominator)
    row: Row


def ranking(report: Report) -> list[Ranked]:
    """Rows ranked by 按时办结率, then 满意率 (higher first), then fewer 超期 and 积压; equal keys share a rank.
    Rows with nothing to judge come last, unranked."""

    def key(row: Row):
        c = row.counts
        satisfaction = c.satisfaction_rate.value
        return (-(c.on_time_rate.value or 0.0), satisfaction is None, -(satisfaction or 0.0), c.overdue, c.backlog)

    judged = sorted((r for r in report.rows if r.counts.on_time_rate.denominator), key=key)
    unjudged = [r for r in report.rows if not r.counts.on_time_rate.denominator]
    result: list[Ranked] = []
    previous = None
    for position, row in enumerate(judged, start=1):
        rank = result[-1].rank if previous is not None and key(row) == previous else position
        result.append(Ranked(rank, row))
        previous = key(row)
    return result + [Ranked(None, r) for r in unjudged]


# --------------------------------------------------------------------------------------------------
# Output: JSON-ready dict and the xlsx sheet
# --------------------------------------------------------------------------------------------------
COUNT_KEYS = ("received", "refused", "resolved", "overdue", "overdue_open", "overdue_resolved", "backlog",
              "supervised", "dispatched", "returned", "visits")
RATIO_KEYS = tuple(k.key for k in KPIS if k.kind == "ratio")


def _local_iso(value: datetime) -> str:
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def _kpis_dict(row: Row) -> dict[str, Any]:
    c = row.counts
    counts = {key: c.resolved_late if key == "overdue_resolved" else getattr(c, key) for key in COUNT_KEYS}
    ratios = {}
    for key in RATIO_KEYS:
        ratio = c.value(key)
        ratios[key] = {"numerator": ratio.numerator, "denominator": ratio.denominator, "percent": ratio.percent,
                       "below_threshold": KPI_BY_KEY[key].alarming(ratio)}
    return {**counts, **ratios, "avg_handling_workdays": c.avg_handling_workdays}


def _row_dict(row: Row) -> dict[str, Any]:
    key = row.key if isinstance(row.key, int) and not isinstance(row.key, bool) else None
    return {"key": key, "label": row.label, "kind": row.kind, "kpis": _kpis_dict(row)}


def report_dict(report: Report) -> dict[str, Any]:
    period = report.period
    return {
        "group": report.group,
        "group_label": report.group_label,
        "period": {"preset": period.preset, "label": period.label, "from": period.first_day.isoformat(),
                   "to": period.last_day.isoformat(), "as_of": _local_iso(report.as_of)},
        "scope": {"kind": report.scope.kind, "label": report.scope.label},
        "rows": [_row_dict(r) for r in report.rows],
        "total": _row_dict(report.total),
        "subsets": [_row_dict(r) for r in report.subsets],
        "definitions": [
            {"key": k.key, "label": k.label, "definition": k.definition, "threshold": k.threshold,
             "higher_is_better": k.higher_is_better}
            for k in KPIS
        ],
    }


def sheet_columns(group: str) -> list[Column]:
    columns = [Column(GROUPS[group], 26)]
    for kpi in KPIS:
        if kpi.kind == "ratio":
            columns += [Column(f"{kpi.label}（%）", 11), Column(kpi.numerator, 9), Column(kpi.denominator, 10)]
        elif kpi.key == "overdue":
            columns += [Column(kpi.label, 8), Column("其中超期办结", 11), Column("其中超期未办结", 12)]
        elif kpi.key == "avg_handling_workdays":
            columns.append(Column(f"{kpi.label}（工作日）", 16))
        else:
            columns.append(Column(kpi.label, 9))
    return columns


def sheet_row(row: Row) -> list[Any]:
    c = row.counts
    values: list[Any] = [row.label]
    for kpi in KPIS:
        value = c.value(kpi.key)
        if kpi.kind == "ratio":
            values += ["—" if value.percent is None else value.percent, value.numerator, value.denominator]
        elif kpi.key == "overdue":
            values += [value, c.resolved_late, c.overdue_open]
        elif kpi.key == "avg_handling_workdays":
            values.append("—" if value is None else value)
        else:
            values.append(value)
    return values


def report_sheet(report: Report) -> Sheet:
    return Sheet(
        title=f"按{report.group_label}统计",
        columns=sheet_columns(report.group),
        rows=(sheet_row(r) for r in report.all_rows()),
        preamble=(
            f"北辰区“政企同行·有需必应”工作统计（按{report.group_label}）",
            f"统计时段：{report.period.label}；统计截至 {report.as_of.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M}；"
            f"范围：{report.scope.label}",
        ),
    )
