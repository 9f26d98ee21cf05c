"""Which enterprises a policy item fits: set-based in SQL over the whole registry, explained per row.

Conditions (``PolicyItem.conditions``, JSON; every key optional, an absent or empty key means "no
restriction"; all present keys must hold — AND between keys, OR inside a list):

==================  ===============================================================================
key                 meaning
==================  ===============================================================================
``industries``      GB/T 4754-2017 codes or prefixes: a section letter ``"C"``, a division ``"C33"``,
                    a group ``"C331"`` or a class ``"C3311"``; digits alone get their section
                    (``"33"`` → ``"C33"``). Matches ``enterprise.industry_code`` by prefix.
``size_bands``      subset of ``["大", "中", "小", "微"]`` (``enterprise.size_band``).
``stage_ids``       ``service_stage.id`` values (``enterprise.stage_id``).
``chain_positions`` subset of ``["链主", "核心配套", "一般配套"]`` (``enterprise.chain_position``).
``key_industry``    ``true``: "2+3" members only; ``false``: non-members only; absent/``null``: both.
``qualifications``  list of names (高新技术企业, 专精特新 …); the enterprise needs ANY of them
                    (``enterprise.qualifications`` JSON list).
``zone_ids``        ``zone.id`` values (``enterprise.zone_id``).
``age_min_years``   registered at least N whole years before the reference date (成立满 N 年).
``age_max_years``   registered at most N years before the reference date (成立不超过 N 年).
                    Either age bound excludes enterprises without ``established_on``.
``entity_types``    subset of ``["enterprise", "individual", "cooperative"]`` (models.EntityType).
``active_only``     default ``true``: registration status is operating (存续/在业/开业/在营/迁入).
``exclude_abnormal`` ``true``: not on the 经营异常名录 (``enterprise.status_flags``).
==================  ===============================================================================

API
---
* ``parse_conditions(raw) -> Conditions`` — validate and normalise (``ValidationFailed`` with a
  Chinese message per key in ``fields``); ``Conditions.to_json()`` is what is stored.
* ``match_clause(conditions, on, dialect)`` — the WHERE clause over ``Enterprise`` (no loop).
* ``match_select(conditions, on, dialect, *columns)`` — ``SELECT enterprise.id, zone_id,
  service_staff_id … WHERE …``; wrap it with ``.cte()`` / ``.subquery()`` for counts.
* ``count_matches(session, conditions, on)``.
* ``preview(session, conditions, on, *, item_id=None, sample_size=20) -> MatchPreview`` — total,
  counts per zone and per staff member, how many were already told the item (``item_id``), and a
  sample with an explanation per enterprise.
* ``explain(conditions, enterprise, on, labels=None) -> list[Reason]`` — per condition: label,
  matched or not, the enterprise's value and what was required (for displayed rows only).
* ``matches(conditions, enterprise, on) -> bool`` — the same rule in Python for ONE enterprise
  (the enterprise's own policy page); the SQL and this function are tested to agree.
* ``describe(conditions, labels) -> list[str]`` — the conditions in Chinese, one line per key.
* ``load_labels(session) -> Labels`` — zone and stage names for ``explain``/``describe``.
* ``items_for_enterprise(session, enterprise, on) -> list[(PolicyItem, list[Reason])]`` —
  published items whose conditions the enterprise meets and whose window is not closed.

``on`` is the reference date (Beijing) for the registration-age bounds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, cast, false, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import String

from models import Enterprise, EntityType, Person, RegistrationStatus, ServiceStage, StatusFlag, Zone
from models.policy import ItemStatus, Policy, PolicyItem, PolicyStatus
from services.errors import ValidationFailed
from services.inputs import parse_int, to_id
from services.registry.size_band import parse_industry_code

SIZE_BANDS = ("大", "中", "小", "微")
SIZE_LABELS = {"大": "大型", "中": "中型", "小": "小型", "微": "微型"}
CHAIN_POSITIONS = ("链主", "核心配套", "一般配套")
MAX_LIST = 200
MAX_YEARS = 100

CONDITION_LABELS = {
    "industries": "行业",
    "size_bands": "企业规模",
    "stage_ids": "发展阶段",
    "chain_positions": "产业链位置",
    "key_industry": "“2+3”产业体系",
    "qualifications": "资质",
    "zone_ids": "所在片区",
    "age_min_years": "成立年限（下限）",
    "age_max_years": "成立年限（上限）",
    "entity_types": "主体类型",
    "active_only": "登记状态",
    "exclude_abnormal": "经营异常名录",
}
CONDITION_KEYS = tuple(CONDITION_LABELS)


# --------------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Conditions:
    industries: tuple[str, ...] = ()
    size_bands: tuple[str, ...] = ()
    stage_ids: tuple[int, ...] = ()
    chain_positions: tuple[str, ...] = ()
    key_industry: bool | None = None
    qualifications: tuple[str, ...] = ()
    zone_ids: tuple[int, ...] = ()
    age_min_years: int | None = None
    age_max_years: int | None = None
    entity_types: tuple[str, ...] = ()
    active_only: bool = True
    exclude_abnormal: bool = False

    def to_json(self) -> dict[str, Any]:
        """Only the keys that restrict anything (``active_only`` always, it defaults to true)."""
        data: dict[str, Any] = {}
        for key in CONDITION_KEYS:
            value = getattr(self, key)
            if key == "active_only":
                data[key] = value
            elif key == "exclude_abnormal":
                if value:
                    data[key] = True
            elif isinstance(value, tuple):
                if value:
                    data[key] = list(value)
            elif value is not None:
                data[key] = value
        return data

    @property
    def restricts(self) -> list[str]:
        """The keys that narrow the match (for the explanation)."""
        return [k for k in CONDITION_KEYS if k in self.to_json() and not (k == "active_only" and not self.active_only)]


_LIST_SPLIT = re.compile(r"[,，、;；\s]+")


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [p for p in _LIST_SPLIT.split(value) if p]
    if isinstance(value, list | tuple | set):
        return list(value)
    return [value]


def _as_bool(value: Any, default: bool | None) -> bool | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是", "on"):
        return True
    if text in ("0", "false", "no", "n", "否", "off"):
        return False
    raise ValueError(text)


def _ids(values: list[Any], key: str, errors: dict[str, str]) -> tuple[int, ...]:
    result = []
    for value in values:
        number = to_id(value)
        if number is None:
            errors[key] = f"{CONDITION_LABELS[key]}编号无效：{str(value)[:20]}"
            continue
        result.append(number)
    return tuple(sorted(set(result)))


def parse_conditions(raw: Mapping[str, Any] | Conditions | None) -> Conditions:
    """Validate and normalise stored or submitted conditions; unknown keys are refused."""
    if isinstance(raw, Conditions):
        return raw
    raw = dict(raw or {})
    errors: dict[str, str] = {}
    unknown = [k for k in raw if k not in CONDITION_LABELS]
    if unknown:
        errors["conditions"] = "未知的条件：" + "、".join(map(str, unknown))

    industries = []
    for value in _as_list(raw.get("industries")):
        code, rest = parse_industry_code(str(value))
        if not code or rest:
            errors["industries"] = f"行业代码应为 GB/T 4754 门类或代码，如 C、C33、C3311：{value}"
            continue
        industries.append(code)

    def choice(key: str, allowed: Iterable[str]) -> tuple[str, ...]:
        allowed = tuple(allowed)
        values = [str(v).strip() for v in _as_list(raw.get(key))]
        bad = [v for v in values if v not in allowed]
        if bad:
            errors[key] = f"{CONDITION_LABELS[key]}只能是 {'、'.join(allowed)}：{'、'.join(bad)}"
        return tuple(v for v in allowed if v in values)  # canonical order

    size_bands = choice("size_bands", SIZE_BANDS)
    chains = choice("chain_positions", CHAIN_POSITIONS)
    entity_types = choice("entity_types", tuple(EntityType.LABELS))

    quals = []
    for value in _as_list(raw.get("qualifications")):
        name = " ".join(str(value).split())
        if not name or len(name) > 32:
            errors["qualifications"] = "资质名称每项 1–32 字"
            continue
        quals.append(name)

    def flag(key: str, default: bool | None) -> bool | None:
        try:
            return _as_bool(raw.get(key), default)
        except ValueError:
            errors[key] = f"{CONDITION_LABELS[key]}应填“是”或“否”"
            return default

    def years(key: str) -> int | None:
        value = raw.get(key)
        if value is None or value == "":
            return None
        try:
            number = parse_int(value)
        except ValueError:
            errors[key] = f"{CONDITION_LABELS[key]}应为整数年"
            return None
        if not 0 <= number <= MAX_YEARS:
            errors[key] = f"{CONDITION_LABELS[key]}应在 0–{MAX_YEARS} 年之间"
            return None
        return number

    stage_ids = _ids(_as_list(raw.get("stage_ids")), "stage_ids", errors)
    zone_ids = _ids(_as_list(raw.get("zone_ids")), "zone_ids", errors)
    key_industry = flag("key_industry", None)
    active_only = bool(flag("active_only", True))
    exclude_abnormal = bool(flag("exclude_abnormal", False))
    age_min, age_max = years("age_min_years"), years("age_max_years")
    if age_min is not None and age_max is not None and age_min > age_max:
        errors["age_max_years"] = "成立年限上限不能小于下限"
    for key, values in (("industries", industries), ("qualifications", quals)):
        if len(values) > MAX_LIST:
            errors[key] = f"{CONDITION_LABELS[key]}最多 {MAX_LIST} 项"
    if errors:
        raise ValidationFailed("申报条件填写有误：" + "；".join(errors.values()), fields=errors)
    return Conditions(
        industries=tuple(dict.fromkeys(industries)),
        size_bands=size_bands,
        stage_ids=stage_ids,
        chain_positions=chains,
        key_industry=key_industry,
        qualifications=tuple(dict.fromkeys(quals)),
        zone_ids=zone_ids,
        age_min_years=age_min,
        age_max_years=age_max,
        entity_types=entity_types,
        active_only=active_only,
        exclude_abnormal=exclude_abnormal,
    )


def years_before(on: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 Feb → 28 Feb in a common year)."""
    try:
        return on.replace(year=on.year - years)
    except ValueError:
        return on.replace(year=on.year - years, day=28)


def age_bounds(conditions: Conditions, on: date) -> tuple[date | None, date | None]:
    """(established on or before, established on or after) implied by the age bounds."""
    latest = years_before(on, conditions.age_min_years) if conditions.age_min_years is not None else None
    earliest = years_before(on, conditions.age_max_years) if conditions.age_max_years is not None else None
    return latest, earliest


# --------------------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------------------
def _dialect_of(session_or_name: Session | str) -> str:
    if isinstance(session_or_name, str):
        return session_or_name
    return session_or_name.get_bind().dialect.name


def _has_any(column, values: tuple[str, ...], dialect: str) -> ColumnElement[bool]:
    """The JSON list ``column`` contains any of ``values``."""
    if dialect == "postgresql":
        return cast(column, JSONB).has_any(cast(list(values), ARRAY(String)))
    each = func.json_each(column).table_valued("value")
    return select(literal(1)).select_from(each).where(each.c.value.in_(list(values))).exists()


def match_clause(conditions: Conditions, on: date, dialect: str) -> ColumnElement[bool]:
    """The WHERE clause over ``enterprise`` for ``conditions`` (``dialect``: 'sqlite'/'postgresql')."""
    c = conditions
    clauses: list[ColumnElement[bool]] = []
    if c.active_only:
        clauses.append(Enterprise.status.in_(RegistrationStatus.OPERATING))
    if c.industries:
        # Codes are validated ([A-T] and digits), so a plain prefix LIKE needs no escaping.
        clauses.append(or_(*[Enterprise.industry_code.like(f"{code}%") for code in c.industries]))
    if c.size_bands:
        clauses.append(Enterprise.size_band.in_(c.size_bands))
    if c.stage_ids:
        clauses.append(Enterprise.stage_id.in_(c.stage_ids))
    if c.chain_positions:
        clauses.append(Enterprise.chain_position.in_(c.chain_positions))
    if c.key_industry is not None:
        clauses.append(Enterprise.is_key_industry.is_(true() if c.key_industry else false()))
    if c.zone_ids:
        clauses.append(Enterprise.zone_id.in_(c.zone_ids))
    if c.entity_types:
        clauses.append(Enterprise.entity_type.in_(c.entity_types))
    latest, earliest = age_bounds(c, on)
    if latest is not None:
        clauses.append(Enterprise.established_on <= latest)
    if earliest is not None:
        clauses.append(Enterprise.established_on >= earliest)
    if c.qualifications:
        clauses.append(_has_any(Enterprise.qualifications, c.qualifications, dialect))
    if c.exclude_abnormal:
        clauses.append(~_has_any(Enterprise.status_flags, (StatusFlag.ABNORMAL,), dialect))
    return and_(true(), *clauses)


def match_select(conditions: Conditions, on: date, dialect: str | Session, *columns):
    """``SELECT <columns or id, zone_id, service_staff_id> FROM enterprise WHERE <match>``."""
    cols = columns or (Enterprise.id, Enterprise.zone_id, Enterprise.service_staff_id)
    return select(*cols).where(match_clause(conditions, on, _dialect_of(dialect)))


def count_matches(session: Session, conditions: Conditions, on: date) -> int:
    return int(session.scalar(match_select(conditions, on, session, func.count(Enterprise.id))) or 0)


# --------------------------------------------------------------------------------------------------
# Explanation (Python, for the rows on screen)
# --------------------------------------------------------------------------------------------------
@dataclass
class Labels:
    zones: dict[int, str] = field(default_factory=dict)
    stages: dict[int, str] = field(default_factory=dict)


def load_labels(session: Session) -> Labels:
    return Labels(
        zones={zid: name for zid, name in session.execute(select(Zone.id, Zone.name))},
        stages={sid: name for sid, name in session.execute(select(ServiceStage.id, ServiceStage.name))},
    )


@dataclass(frozen=True)
class Reason:
    key: str
    label: str  # the condition, e.g. "企业规模"
    matched: bool
    value: str  # the enterprise's value, e.g. "小型"
    required: str  # what the item asks, e.g. "中型、小型"

    @property
    def text(self) -> str:
        mark = "✓" if self.matched else "✗"
        return f"{mark} {self.label}：{self.value or '未填写'}（要求：{self.required}）"


def _get(enterprise: Any, name: str) -> Any:
    if isinstance(enterprise, Mapping):
        return enterprise.get(name)
    return getattr(enterprise, name, None)


def _names(ids: Iterable[int], names: Mapping[int, str]) -> str:
    return "、".join(names.get(i, f"#{i}") for i in ids)


def _years_text(established: date | None, on: date) -> str:
    if established is None:
        return ""
    years = on.year - established.year - ((on.month, on.day) < (established.month, established.day))
    return f"{established.isoformat()} 成立（满 {max(years, 0)} 年）"


def explain(conditions: Conditions, enterprise: Any, on: date, labels: Labels | None = None) -> list[Reason]:
    """Per restricting condition: did this enterprise meet it, with its own value (a model or a row
    mapping with the enterprise's column names)."""
    c = conditions
    labels = labels or Labels()
    reasons: list[Reason] = []

    def add(key: str, matched: bool, value: str, required: str) -> None:
        reasons.append(Reason(key, CONDITION_LABELS[key], bool(matched), value, required))

    status = _get(enterprise, "status") or ""
    if c.active_only:
        add("active_only", status in RegistrationStatus.OPERATING, status, "存续/在业/开业/在营/迁入")
    code = _get(enterprise, "industry_code") or ""
    if c.industries:
        name = _get(enterprise, "industry_name") or ""
        add("industries", any(code.startswith(p) for p in c.industries), f"{code} {name}".strip(),
            "、".join(c.industries))
    band = _get(enterprise, "size_band") or ""
    if c.size_bands:
        add("size_bands", band in c.size_bands, SIZE_LABELS.get(band, band),
            "、".join(SIZE_LABELS[b] for b in c.size_bands))
    stage_id = _get(enterprise, "stage_id")
    if c.stage_ids:
        add("stage_ids", stage_id in c.stage_ids, labels.stages.get(stage_id, "") if stage_id else "",
            _names(c.stage_ids, labels.stages))
    chain = _get(enterprise, "chain_position") or ""
    if c.chain_positions:
        add("chain_positions", chain in c.chain_positions, chain, "、".join(c.chain_positions))
    key = bool(_get(enterprise, "is_key_industry"))
    if c.key_industry is not None:
        add("key_industry", key == c.key_industry, "是" if key else "否", "是" if c.key_industry else "否")
    quals = [str(q) for q in (_get(enterprise, "qualifications") or [])]
    if c.qualifications:
        hit = [q for q in c.qualifications if q in quals]
        add("qualifications", bool(hit), "、".join(hit or quals), "任一：" + "、".join(c.qualifications))
    zone_id = _get(enterprise, "zone_id")
    if c.zone_ids:
        add("zone_ids", zone_id in c.zone_ids, labels.zones.get(zone_id, "") if zone_id else "",
            _names(c.zone_ids, labels.zones))
    established = _get(enterprise, "established_on")
    latest, earliest = age_bounds(c, on)
    if latest is not None:
        add("age_min_years", established is not None and established <= latest, _years_text(established, on),
            f"成立满 {c.age_min_years} 年（{latest.isoformat()} 及以前成立）")
    if earliest is not None:
        add("age_max_years", established is not None and established >= earliest, _years_text(established, on),
            f"成立不超过 {c.age_max_years} 年（{earliest.isoformat()} 及以后成立）")
    entity_type = _get(enterprise, "entity_type") or ""
    if c.entity_types:
        add("entity_types", entity_type in c.entity_types, EntityType.LABELS.get(entity_type, entity_type),
            "、".join(EntityType.LABELS[t] for t in c.entity_types))
    flags = _get(enterprise, "status_flags") or []
    if c.exclude_abnormal:
        abnormal = StatusFlag.ABNORMAL in flags
        add("exclude_abnormal", not abnormal, "已列入" if abnormal else "未列入", "未列入")
    return reasons


def matches(conditions: Conditions, enterprise: Any, on: date) -> bool:
    return all(r.matched for r in explain(conditions, enterprise, on))


def describe(conditions: Conditions, labels: Labels | None = None) -> list[str]:
    """The item's conditions in Chinese, one line per restricting key; [] means everyone."""
    c = conditions
    labels = labels or Labels()
    lines = []
    if c.industries:
        lines.append("行业：" + "、".join(c.industries))
    if c.size_bands:
        lines.append("企业规模：" + "、".join(SIZE_LABELS[b] for b in c.size_bands))
    if c.stage_ids:
        lines.append("发展阶段：" + _names(c.stage_ids, labels.stages))
    if c.chain_positions:
        lines.append("产业链位置：" + "、".join(c.chain_positions))
    if c.key_industry is not None:
        lines.append("“2+3”产业体系企业" if c.key_industry else "非“2+3”产业体系企业")
    if c.qualifications:
        lines.append("具备资质之一：" + "、".join(c.qualifications))
    if c.zone_ids:
        lines.append("所在片区：" + _names(c.zone_ids, labels.zones))
    if c.age_min_years is not None:
        lines.append(f"成立满 {c.age_min_years} 年")
    if c.age_max_years is not None:
        lines.append(f"成立不超过 {c.age_max_years} 年")
    if c.entity_types:
        lines.append("主体类型：" + "、".join(EntityType.LABELS[t] for t in c.entity_types))
    if c.active_only:
        lines.append("登记状态为存续（在业）")
    if c.exclude_abnormal:
        lines.append("未列入经营异常名录")
    return lines


# --------------------------------------------------------------------------------------------------
# Preview
# --------------------------------------------------------------------------------------------------
@dataclass
class ZoneCount:
    zone_id: int | None
    zone_name: str
    count: int


@dataclass
class StaffCount:
    staff_id: int | None
    staff_name: str
    zone_name: str
    count: int


@dataclass
class SampleRow:
    enterprise: Enterprise
    reasons: list[Reason]
    already_pushed: bool = False


@dataclass
class MatchPreview:
    total: int
    by_zone: list[ZoneCount]
    by_staff: list[StaffCount]  # staff_id None: enterprises without a service staff member
    sample: list[SampleRow]
    already_pushed: int = 0  # of total: told this item before (not pushed again)
    conditions: list[str] = field(default_factory=list)  # describe()

    @property
    def unassigned(self) -> int:
        return sum(s.count for s in self.by_staff if s.staff_id is None)

    @property
    def to_push(self) -> int:
        return self.total - self.already_pushed


def preview(session: Session, conditions: Conditions | Mapping[str, Any], on: date, *, item_id: int | None = None,
            sample_size: int = 20) -> MatchPreview:
    """Counts per zone and per staff member (one grouped scan) and a sample with explanations."""
    from models.policy import PolicyPush

    conditions = parse_conditions(conditions)
    matched = match_select(conditions, on, session).cte("matched")
    # One scan grouped by (zone, staff member); the per-zone and per-staff totals are sums of it.
    groups = session.execute(
        select(matched.c.zone_id, matched.c.service_staff_id, func.count())
        .group_by(matched.c.zone_id, matched.c.service_staff_id)
    ).all()
    total = sum(int(n) for _, _, n in groups)
    zone_counts: dict[int | None, int] = {}
    staff_counts: dict[int | None, int] = {}
    for zone_id, staff_id, n in groups:
        zone_counts[zone_id] = zone_counts.get(zone_id, 0) + int(n)
        staff_counts[staff_id] = staff_counts.get(staff_id, 0) + int(n)
    zones = {z.id: z for z in session.scalars(select(Zone))}
    staff_ids = [s for s in staff_counts if s is not None]
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(staff_ids)))} if staff_ids else {}
    zone_rows = sorted(zone_counts.items(), key=lambda kv: (
        zones[kv[0]].sort_order if kv[0] in zones else 10**6, kv[0] or 0))
    staff_rows = sorted(staff_counts.items(), key=lambda kv: (-kv[1], kv[0] or 0))
    already = 0
    pushed_ids: set[int] = set()
    if item_id is not None:
        already = int(session.scalar(
            select(func.count()).select_from(matched)
            .join(PolicyPush, and_(PolicyPush.enterprise_id == matched.c.id, PolicyPush.item_id == item_id))
        ) or 0)
    sample_ids = list(session.scalars(select(matched.c.id).order_by(matched.c.id).limit(sample_size)))
    enterprises = {e.id: e for e in session.scalars(select(Enterprise).where(Enterprise.id.in_(sample_ids)))}
    if item_id is not None and sample_ids:
        pushed_ids = set(session.scalars(select(PolicyPush.enterprise_id).where(
            PolicyPush.item_id == item_id, PolicyPush.enterprise_id.in_(sample_ids))))
    labels = load_labels(session)
    sample = [SampleRow(enterprises[i], explain(conditions, enterprises[i], on, labels), i in pushed_ids)
              for i in sample_ids if i in enterprises]

    def staff_count(staff_id: int | None, n: int) -> StaffCount:
        person = people.get(staff_id) if staff_id is not None else None
        if person is None:
            return StaffCount(staff_id, "未分配服务人员" if staff_id is None else f"#{staff_id}", "", n)
        zone = zones.get(person.zone_id)
        return StaffCount(staff_id, person.name, zone.name if zone else "", n)

    return MatchPreview(
        total=total,
        by_zone=[ZoneCount(z, zones[z].name if z in zones else "未划分片区", n) for z, n in zone_rows],
        by_staff=[staff_count(s, n) for s, n in staff_rows],
        sample=sample,
        already_pushed=already,
        conditions=describe(conditions, labels),
    )


def item_open(item: PolicyItem, on: date) -> bool:
    """The item can still be applied for (or is 免申即享) on ``on``."""
    if item.apply_until is not None and on > item.apply_until and not item.no_application:
        return False
    policy = item.policy
    return not (policy is not None and policy.valid_until is not None and on > policy.valid_until)


def items_for_enterprise(session: Session, enterprise: Enterprise, on: date) -> list[tuple[PolicyItem, list[Reason]]]:
    """Published items of published policies that this one enterprise meets, still open on ``on``,
    with the reasons (nearest deadline first). One enterprise, a few hundred items: evaluated here."""
    items = session.scalars(
        select(PolicyItem).join(Policy, Policy.id == PolicyItem.policy_id)
        .where(PolicyItem.status == ItemStatus.PUBLISHED, Policy.status == PolicyStatus.PUBLISHED)
    ).all()
    labels = load_labels(session)
    result = []
    for item in items:
        if not item_open(item, on):
            continue
        conditions = parse_conditions(item.conditions)
        reasons = explain(conditions, enterprise, on, labels)
        if all(r.matched for r in reasons):
            result.append((item, reasons))
    result.sort(key=lambda pair: (pair[0].apply_until or date.max, pair[0].id))
    return result
