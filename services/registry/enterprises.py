"""The enterprise registry as the console sees it: the list, the census (底数), the profile and its edits.

Data scope follows the role: system administrators and the grid center see every zone (and
the 未分配 queue), a zone admin only their own zone. Profile edits go through ``update_profile``:
one ``edited`` event in the enterprise's history and one audit row, in the caller's transaction.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models import (
    Enterprise,
    EnterpriseEvent,
    EnterpriseEventKind,
    EntityType,
    ImportJob,
    Person,
    RegistrationStatus,
    Role,
    ServiceStage,
    StatusFlag,
    WorkOrder,
    Zone,
)
from services import inputs, labels
from services.admin.operations import AdminContext
from services.errors import NotFound, PermissionDenied, ValidationFailed
from services.paging import Page, paginate
from services.registry import industry_codes, size_band

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
VIEW_ROLES = (Role.SYSADMIN, Role.ZONE_ADMIN, Role.DISPATCHER)
# The census (底数) is exactly the district leader's view: counts of the whole district, read only.
CENSUS_ROLES = (*VIEW_ROLES, Role.DISTRICT_LEADER)
IMPORT_ROLES = (Role.SYSADMIN,)
# Import results hold rows of every zone: the district-wide roles only.
IMPORT_VIEW_ROLES = (Role.SYSADMIN, Role.DISPATCHER)
ALL_ZONE_ROLES = (Role.SYSADMIN, Role.DISPATCHER, Role.DISTRICT_LEADER)
CHAIN_POSITIONS = ("链主", "核心配套", "一般配套")
QUALIFICATION_SUGGESTIONS = ("高新技术企业", "专精特新", "专精特新“小巨人”", "科技型中小企业", "雏鹰企业", "瞪羚企业",
                             "制造业单项冠军")
PER_PAGE = 50
CENSUS_MOVES = ("迁入", "迁出", "注销")
UNASSIGNED = "none"
_SPLIT = re.compile(r"[\s,，、;；]+")


# --------------------------------------------------------------------------------------------------
# Scope
# --------------------------------------------------------------------------------------------------
def ensure_viewer(person: Person | None, roles: tuple[str, ...] = VIEW_ROLES) -> Person:
    if person is None or person.role not in roles:
        raise PermissionDenied("您的角色无权查看企业库")
    return person


def can_open_list(person: Person | None) -> bool:
    """The enterprise list and profiles (the census links its numbers to them)."""
    return person is not None and person.role in VIEW_ROLES


def sees_all_zones(person: Person) -> bool:
    return person.role in ALL_ZONE_ROLES


def scope_clause(person: Person):
    if sees_all_zones(person):
        return None
    return Enterprise.zone_id == person.zone_id if person.zone_id else Enterprise.id.is_(None)


def can_edit(person: Person | None, enterprise: Enterprise) -> bool:
    if person is None:
        return False
    if person.role == Role.SYSADMIN:
        return True
    return person.role == Role.ZONE_ADMIN and enterprise.zone_id is not None and enterprise.zone_id == person.zone_id


def load_enterprise(session: Session, person: Person, enterprise_id: int) -> Enterprise:
    ensure_viewer(person)
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound("未找到该企业")
    if not sees_all_zones(person) and enterprise.zone_id != person.zone_id:
        raise PermissionDenied("该企业不在您负责的片区")
    return enterprise


def visible_zones(session: Session, person: Person) -> list[Zone]:
    query = select(Zone).order_by(Zone.sort_order, Zone.id)
    if not sees_all_zones(person):
        query = query.where(Zone.id == (person.zone_id or -1))
    return list(session.scalars(query))


# --------------------------------------------------------------------------------------------------
# The list
# --------------------------------------------------------------------------------------------------
def flag_clause(flag: str):
    """Entities carrying ``flag`` in their JSON list (the text as the JSON serializer writes it)."""
    needle = json.dumps(flag).replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return cast(Enterprise.status_flags, String).like(f"%{needle}%", escape="!")


def month_start(now: datetime) -> datetime:
    local = now.astimezone(LOCAL_TZ)
    return datetime.combine(local.date().replace(day=1), time(0), tzinfo=LOCAL_TZ)


@dataclass
class Filters:
    q: str = ""
    zone: str = ""  # a zone id, or "none" for the 未分配 queue
    entity_type: str = ""
    status: str = ""
    group: str = ""  # a RegistrationStatus.GROUPS key
    flag: str = ""  # abnormal | missing
    size: str = ""
    key_industry: bool = False
    no_staff: bool = False
    changed: str = ""  # month: new or changed this month

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> Filters:
        def text(name: str, limit: int = 32) -> str:
            return str(args.get(name) or "").strip()[:limit]

        return cls(
            q=text("q", 100), zone=text("zone"), entity_type=text("entity_type"), status=text("status", 16),
            group=text("group"), flag=text("flag"), size=text("size", 4), key_industry=args.get("key_industry") == "1",
            no_staff=args.get("no_staff") == "1", changed=text("changed"),
        )

    def args(self) -> dict[str, str]:
        values = {"q": self.q, "zone": self.zone, "entity_type": self.entity_type, "status": self.status,
                  "group": self.group, "flag": self.flag, "size": self.size,
                  "key_industry": "1" if self.key_industry else "", "no_staff": "1" if self.no_staff else "",
                  "changed": self.changed}
        return {k: v for k, v in values.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.args())


def enterprise_query(person: Person, filters: Filters, now: datetime):
    query = select(Enterprise)
    clauses = []
    scope = scope_clause(person)
    if scope is not None:
        clauses.append(scope)
    if filters.zone == UNASSIGNED:
        clauses.append(Enterprise.zone_id.is_(None))
    elif inputs.to_id(filters.zone) is not None:
        clauses.append(Enterprise.zone_id == inputs.to_id(filters.zone))
    if filters.entity_type in EntityType.LABELS:
        clauses.append(Enterprise.entity_type == filters.entity_type)
    if filters.status:
        clauses.append(Enterprise.status == filters.status)
    if filters.group in RegistrationStatus.GROUPS:
        if filters.group == "other":
            known = [s for key, (_label, statuses) in RegistrationStatus.GROUPS.items() if key != "other"
                     for s in statuses]
            clauses.append(Enterprise.status.not_in(known))
        else:
            clauses.append(Enterprise.status.in_(RegistrationStatus.GROUPS[filters.group][1]))
    if filters.flag == "abnormal":
        clauses.append(flag_clause(StatusFlag.ABNORMAL))
    elif filters.flag == "missing":
        clauses.append(Enterprise.missing_from_full_export.is_(True))
    if filters.size in size_band.BANDS:
        clauses.append(Enterprise.size_band == filters.size)
    if filters.key_industry:
        clauses.append(Enterprise.is_key_industry.is_(True))
    if filters.no_staff:
        clauses.append(Enterprise.service_staff_id.is_(None))
    if filters.changed == "month":
        since = month_start(now)
        changed_ids = select(EnterpriseEvent.enterprise_id).where(EnterpriseEvent.created_at >= since)
        clauses.append(or_(Enterprise.created_at >= since, Enterprise.id.in_(changed_ids)))
    if filters.q:
        needle = filters.q.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        clauses.append(or_(
            Enterprise.name.like(f"%{needle}%", escape="!"),
            Enterprise.uscc == filters.q.upper(),
            Enterprise.reg_no == filters.q.upper(),
            Enterprise.legal_representative == filters.q,
        ))
    return query.where(and_(*clauses)) if clauses else query


def list_enterprises(session: Session, person: Person, filters: Filters, now: datetime, *, page: int = 1,
                     per_page: int = PER_PAGE) -> Page:
    ensure_viewer(person)
    query = enterprise_query(person, filters, now)
    return paginate(
        session,
        query.options(selectinload(Enterprise.zone), selectinload(Enterprise.service_staff))
        .order_by(Enterprise.name, Enterprise.id),
        page=page, per_page=per_page,
        count_query=select(func.count()).select_from(query.with_only_columns(Enterprise.id).subquery()),
    )


# --------------------------------------------------------------------------------------------------
# The census (底数)
# --------------------------------------------------------------------------------------------------
@dataclass
class CensusRow:
    zone_id: int | None
    name: str
    total: int = 0
    types: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    groups: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    abnormal: int = 0
    missing: int = 0
    no_staff: int = 0
    new_this_month: int = 0
    changes_this_month: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def zone_arg(self) -> str:
        return UNASSIGNED if self.zone_id is None else str(self.zone_id)

    def moves(self, status: str) -> int:
        return self.changes_this_month.get(status, 0)

    @property
    def other_changes(self) -> int:
        """Changes this month other than 迁入/迁出/注销 (other statuses, field changes, missing flags)."""
        return sum(n for key, n in self.changes_this_month.items() if key not in CENSUS_MOVES)


@dataclass
class Census:
    rows: list[CensusRow]
    total: CensusRow
    since: datetime
    last_import: ImportJob | None

    @property
    def unassigned(self) -> int:
        return next((r.total for r in self.rows if r.zone_id is None), 0)


def _group_of(status: str) -> str:
    for key, (_label, statuses) in RegistrationStatus.GROUPS.items():
        if status in statuses:
            return key
    return "other"


def census(session: Session, person: Person, now: datetime) -> Census:
    ensure_viewer(person, CENSUS_ROLES)
    zones = visible_zones(session, person)
    rows: dict[int | None, CensusRow] = {z.id: CensusRow(z.id, z.name) for z in zones}
    if sees_all_zones(person):
        rows[None] = CensusRow(None, "未分配")
    scope = scope_clause(person)

    def scoped(query):
        return query.where(scope) if scope is not None else query

    for zone_id, entity_type, status, count in session.execute(scoped(
        select(Enterprise.zone_id, Enterprise.entity_type, Enterprise.status, func.count())
        .group_by(Enterprise.zone_id, Enterprise.entity_type, Enterprise.status)
    )):
        row = rows.get(zone_id)
        if row is None:
            continue
        row.total += count
        row.types[entity_type] += count
        row.groups[_group_of(status)] += count

    def per_zone(condition, attr: str) -> None:
        for zone_id, count in session.execute(scoped(
            select(Enterprise.zone_id, func.count()).where(condition).group_by(Enterprise.zone_id)
        )):
            if zone_id in rows:
                setattr(rows[zone_id], attr, count)

    since = month_start(now)
    per_zone(flag_clause(StatusFlag.ABNORMAL), "abnormal")
    per_zone(Enterprise.missing_from_full_export.is_(True), "missing")
    per_zone(Enterprise.service_staff_id.is_(None), "no_staff")
    per_zone(Enterprise.created_at >= since, "new_this_month")
    for zone_id, kind, to_status, count in session.execute(scoped(
        select(Enterprise.zone_id, EnterpriseEvent.kind, EnterpriseEvent.to_status, func.count())
        .join(Enterprise, Enterprise.id == EnterpriseEvent.enterprise_id)
        .where(EnterpriseEvent.created_at >= since,
               EnterpriseEvent.kind.in_([EnterpriseEventKind.STATUS, EnterpriseEventKind.FIELDS,
                                         EnterpriseEventKind.MISSING]))
        .group_by(Enterprise.zone_id, EnterpriseEvent.kind, EnterpriseEvent.to_status)
    )):
        row = rows.get(zone_id)
        if row is None:
            continue
        key = to_status if kind == EnterpriseEventKind.STATUS else kind
        row.changes_this_month[key] += count

    ordered = [rows[z.id] for z in zones] + ([rows[None]] if None in rows else [])
    total = CensusRow(None, "合计")
    for row in ordered:
        total.total += row.total
        for key, value in row.types.items():
            total.types[key] += value
        for key, value in row.groups.items():
            total.groups[key] += value
        for key, value in row.changes_this_month.items():
            total.changes_this_month[key] += value
        total.abnormal += row.abnormal
        total.missing += row.missing
        total.no_staff += row.no_staff
        total.new_this_month += row.new_this_month
    last_import = session.scalar(
        select(ImportJob).where(ImportJob.kind == "enterprises", ImportJob.dry_run.is_(False),
                                ImportJob.status == "done").order_by(ImportJob.finished_at.desc()).limit(1)
    )
    return Census(ordered, total, since, last_import)


# --------------------------------------------------------------------------------------------------
# The profile
# --------------------------------------------------------------------------------------------------
def history(session: Session, enterprise_id: int, *, limit: int = 200) -> list[EnterpriseEvent]:
    return list(session.scalars(
        select(EnterpriseEvent).where(EnterpriseEvent.enterprise_id == enterprise_id)
        .order_by(EnterpriseEvent.created_at.desc(), EnterpriseEvent.id.desc()).limit(limit)
    ))


def orders_of(session: Session, enterprise_id: int, *, limit: int = 50) -> list[WorkOrder]:
    return list(session.scalars(
        select(WorkOrder).where(WorkOrder.enterprise_id == enterprise_id)
        .order_by(WorkOrder.created_at.desc()).limit(limit)
    ))


def order_count(session: Session, enterprise_id: int) -> int:
    return session.scalar(select(func.count(WorkOrder.id)).where(WorkOrder.enterprise_id == enterprise_id)) or 0


# Field name → label, for the history's diffs (the audit page uses the same labels).
FIELD_LABELS = labels.ENTERPRISE_FIELDS

EDITABLE = ("contact_name", "contact_phone", "employees", "revenue", "assets", "industry_code", "stage_id",
            "chain_position", "is_key_industry", "qualifications", "abnormal")


def _money(text: str, label: str, errors: dict[str, str], name: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text.replace(",", "")) if text.isascii() else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():  # NaN and Infinity are words Decimal reads, not amounts
        errors[name] = f"{label}应为数字（万元）"
        return None
    if value < 0 or value >= Decimal("1e16"):
        errors[name] = f"{label}超出范围"
        return None
    return value.quantize(Decimal("0.01"))


def parse_profile_form(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """The editable tags from a form; raises ValidationFailed listing every problem."""
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        return " ".join(str(data.get(name) or "").split())

    values: dict[str, Any] = {
        "contact_name": text("contact_name")[:64],
        "contact_phone": text("contact_phone")[:32],
    }
    employees = text("employees")
    if employees:
        try:
            values["employees"] = inputs.parse_int(employees, minimum=0, maximum=9_999_999)
        except ValueError:
            errors["employees"] = "从业人数应为非负整数"
    else:
        values["employees"] = None
    values["revenue"] = _money(text("revenue"), "营业收入", errors, "revenue")
    values["assets"] = _money(text("assets"), "资产总额", errors, "assets")
    code_text = text("industry_code")
    if code_text:
        code, _name, problem = industry_codes.check(code_text)
        if problem or not code:
            errors["industry_code"] = problem or "行业代码应为 GB/T 4754-2017 代码，如 C3311"
        values["industry_code"] = code
    else:
        values["industry_code"] = ""
    stage = text("stage_id")
    if stage:
        stage_id = inputs.to_id(stage)
        if stage_id is None or session.get(ServiceStage, stage_id) is None:
            errors["stage_id"] = "服务阶段无效"
        else:
            values["stage_id"] = stage_id
    else:
        values["stage_id"] = None
    chain = text("chain_position")
    if chain and chain not in CHAIN_POSITIONS:
        errors["chain_position"] = "产业链位置无效"
    values["chain_position"] = chain if chain in CHAIN_POSITIONS else ""
    values["is_key_industry"] = str(data.get("is_key_industry") or "") in ("1", "on", "true")
    quals = [q for q in _SPLIT.split(str(data.get("qualifications") or "")) if q]
    if any(len(q) > 32 for q in quals) or len(quals) > 20:
        errors["qualifications"] = "资质每项不超过 32 字，最多 20 项"
    values["qualifications"] = list(dict.fromkeys(quals))
    values["abnormal"] = str(data.get("abnormal") or "") in ("1", "on", "true")
    if errors:
        raise ValidationFailed("请检查标出的项目", fields=errors)
    return values


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def update_profile(ac: AdminContext, enterprise: Enterprise, data: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Apply the profile form: returns the diff (empty when nothing changed, and then nothing is written)."""
    if not can_edit(ac.actor, enterprise):
        raise PermissionDenied("只有系统管理员或企业所在片区的管理员可以编辑企业信息")
    values = parse_profile_form(ac.session, data)
    abnormal = values.pop("abnormal")
    flags = [f for f in (enterprise.status_flags or []) if f != StatusFlag.ABNORMAL]
    if abnormal:
        flags.append(StatusFlag.ABNORMAL)
    values["status_flags"] = flags
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        old = getattr(enterprise, name)
        same = (old is not None and value is not None and Decimal(old) == value) if name in ("revenue", "assets") \
            else old == value
        if name in ("revenue", "assets") and old is None and value is None:
            same = True
        if not same:
            changes[name] = [_jsonable(old), _jsonable(value)]
            setattr(enterprise, name, value)
    band = size_band.classify(enterprise.industry_code, enterprise.employees, enterprise.revenue, enterprise.assets)
    if band and band != enterprise.size_band:
        changes["size_band"] = [enterprise.size_band, band]
        enterprise.size_band = band
    if not changes:
        return changes
    enterprise.updated_at = ac.now
    ac.session.add(EnterpriseEvent(
        enterprise_id=enterprise.id, kind=EnterpriseEventKind.EDITED, changes=changes, actor_id=ac.actor.id,
        actor_label=ac.actor.name, created_at=ac.now,
    ))
    ac.audit("registry.enterprise.update", "enterprise", enterprise.id, {"name": enterprise.name, "changes": changes})
    ac.session.flush()
    return changes
