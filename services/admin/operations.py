"""Administration: the district edits its organisation, people and rules at run time.

Every operation takes an :class:`AdminContext` (session, actor, now, ip) and the raw submitted
values (a mapping of strings, as a form sends them), validates everything before touching a
row, applies the change, writes one audit row and flushes. Nothing here commits and nothing
imports Flask. Invalid input raises ``ValidationFailed`` whose ``fields`` map each form field to
a Chinese message, so a page can mark the field and keep what the user typed.

Secrets (robot keys, signing secrets, passwords) never leave this module in clear: pages get
:func:`mask_secret`, audit rows only say that a secret changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import generate_password_hash

from models import (
    AuditLog,
    ChatGroup,
    ConsoleLogin,
    Department,
    DepartmentKind,
    Enterprise,
    HolidayOverride,
    InboundMessage,
    InboxStatus,
    OutboundMessage,
    OutboxStatus,
    Person,
    RequestDomain,
    Role,
    ScreeningRule,
    ServiceStage,
    SlaPolicy,
    SystemSetting,
    Zone,
)
from services import audit, inputs, labels
from services.admin import sessions, sign_in
from services.admin import settings as system_settings
from services.admin.holiday_notice import ParsedNotice, parse_notice
from services.errors import Conflict, ValidationFailed
from services.lookup import get_or_not_found
from services.messaging import inbox, outbox
from services.messaging.notify import Channels
from services.orders import screening
from services.orders.ladder import LEVELS
from services.orders.sla import PRIORITIES
from services.paging import Page, paginate
from services.studio import store as studio_store

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

PRIORITY_LABELS = {"normal": "一般", "urgent": "紧急（水电气热中断）", "emergency": "特急（危及生命财产安全）"}
PLATFORMS = {"wecom": "企业微信", "dingtalk": "钉钉"}

# The audit page's action names live with every other label (services.labels).
AUDIT_ACTIONS = labels.AUDIT_ACTIONS
audit_action_label = labels.audit_action_label


VERSIONED_AREAS = frozenset({"sla", "screening"})


@dataclass(frozen=True)
class AdminContext:
    session: Session
    actor: Person | None
    now: datetime
    ip: str = ""
    # Where notifications go (the knowledge base tells reviewers about submitted drafts).
    channels: Channels = field(default_factory=Channels)

    def audit(self, action: str, target_type: str, target_id: Any, detail: Mapping[str, Any]) -> AuditLog:
        row = audit.record(self.session, self.actor, action, target_type, target_id, detail, self.ip, self.now)
        if action.split(".")[0] in VERSIONED_AREAS:
            # Deadlines, reminders, 督办 and screening are part of the versioned configuration (配置中心).
            studio_store.snapshot(self.session, self.actor, reason=labels.audit_action_label(action), now=self.now,
                                  ip=self.ip)
        return row

    @property
    def today(self) -> date:
        return self.now.astimezone(LOCAL_TZ).date()


# --------------------------------------------------------------------------------------------
# Parsing helpers: each collects its complaint into ``errors`` instead of raising at once, so
# the page can show every problem in one round trip.
# --------------------------------------------------------------------------------------------
_TRUE = {"1", "on", "true", "yes", "y", "是"}
_LIST_SEPARATORS = re.compile(r"[\s,，、;；]+")


def _raw(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    return str(value).strip()


def _flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name)
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in _TRUE


def _text(data: Mapping[str, Any], name: str, label: str, errors: dict[str, str], *, required: bool = False,
          min_len: int = 1, max_len: int | None = None) -> str:
    value = _raw(data, name)
    if required and len(value) < min_len:
        errors[name] = f"请填写{label}" if min_len <= 1 else f"请填写{label}（至少 {min_len} 个字）"
    elif max_len is not None and len(value) > max_len:
        errors[name] = f"{label}不能超过 {max_len} 个字"
    return value


def _int(data: Mapping[str, Any], name: str, label: str, errors: dict[str, str], *, required: bool = False,
         minimum: int | None = None, maximum: int | None = None) -> int | None:
    raw = _raw(data, name)
    if not raw:
        if required:
            errors[name] = f"请填写{label}"
        return None
    try:
        value = inputs.parse_int(raw)
    except ValueError:
        errors[name] = f"{label}必须是整数"
        return None
    if minimum is not None and value < minimum:
        errors[name] = f"{label}不能小于 {minimum}"
    elif maximum is not None and value > maximum:
        errors[name] = f"{label}不能大于 {maximum}"
    return value


def _check(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed("请修正以下问题：" + "；".join(errors.values()), fields=dict(errors))


def _get(session: Session, model: type, row_id: Any, label: str, *, lock: bool = False) -> Any:
    return get_or_not_found(session, model, row_id, f"未找到该{label}", lock=lock)


def _apply(row: Any, values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set the values that differ; returns ``{field: [old, new]}`` for the audit row."""
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        old = getattr(row, name)
        if old != value:
            setattr(row, name, value)
            changes[name] = [old, value]
    return changes


def _keywords_csv(text: str) -> str:
    """Department keywords: any separator in, comma separated and de-duplicated out."""
    seen: list[str] = []
    for item in _LIST_SEPARATORS.split(text or ""):
        if item and item not in seen:
            seen.append(item)
    return ",".join(seen)


def mask_secret(value: str | None) -> str:
    """What a page may show of a secret: never enough to use it."""
    if not value:
        return ""
    if len(value) < 8:
        return "****"
    return value[:4] + "****"


# --------------------------------------------------------------------------------------------
# Overview
# --------------------------------------------------------------------------------------------
def overview_counts(session: Session, now: datetime) -> dict[str, int]:
    today = now.astimezone(LOCAL_TZ).date()

    def count(query) -> int:
        return int(session.scalar(query) or 0)

    return {
        "zones": count(select(func.count(Zone.id)).where(Zone.active.is_(True))),
        "departments": count(select(func.count(Department.id)).where(
            Department.active.is_(True), Department.kind == DepartmentKind.DEPARTMENT)),
        "units": count(select(func.count(Department.id)).where(
            Department.active.is_(True), Department.kind == DepartmentKind.UNIT)),
        "hubs": count(select(func.count(Department.id)).where(Department.kind == DepartmentKind.HUB)),
        "people": count(select(func.count(Person.id)).where(Person.active.is_(True))),
        "chat_groups": count(select(func.count(ChatGroup.id)).where(ChatGroup.active.is_(True))),
        "sla_policies": count(select(func.count(SlaPolicy.id))),
        "holidays": count(select(func.count(HolidayOverride.id)).where(HolidayOverride.day >= today)),
        "screening_rules": count(select(func.count(ScreeningRule.id)).where(ScreeningRule.active.is_(True))),
        "outbox_dead": count(select(func.count(OutboundMessage.id)).where(
            OutboundMessage.status == OutboxStatus.DEAD)),
        "outbox_pending": count(select(func.count(OutboundMessage.id)).where(
            OutboundMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)))),
        "inbound_failed": count(select(func.count(InboundMessage.id)).where(
            InboundMessage.status == InboxStatus.FAILED)),
        "audit_week": count(select(func.count(AuditLog.id)).where(AuditLog.created_at >= now - timedelta(days=7))),
    }


# --------------------------------------------------------------------------------------------
# Zones
# --------------------------------------------------------------------------------------------
def list_zones(session: Session) -> list[Zone]:
    return list(session.scalars(select(Zone).order_by(Zone.sort_order, Zone.id)))


def update_zone(ac: AdminContext, zone_id: Any, data: Mapping[str, Any]) -> Zone:
    zone: Zone = _get(ac.session, Zone, zone_id, "片区")
    errors: dict[str, str] = {}
    name = _text(data, "name", "片区名称", errors, required=True, min_len=2, max_len=64)
    sort_order = _int(data, "sort_order", "排序", errors, required=True, minimum=0, maximum=9999)
    if "name" not in errors and name != zone.name and ac.session.scalar(
        select(Zone.id).where(Zone.name == name, Zone.id != zone.id)
    ):
        errors["name"] = "已有同名片区"
    _check(errors)
    changes = _apply(zone, {"name": name, "sort_order": sort_order, "active": _flag(data, "active")})
    if changes:
        ac.audit("zone.update", "zone", zone.id, {"name": zone.name, "changes": changes})
    ac.session.flush()
    return zone


# --------------------------------------------------------------------------------------------
# Departments, units and their chat groups
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DepartmentNode:
    department: Department
    units: list[Department]


def department_tree(session: Session) -> tuple[list[DepartmentNode], list[Department]]:
    """Departments with their units underneath, and the hubs apart."""
    rows = list(session.scalars(select(Department).order_by(Department.sort_order, Department.id)))
    units: dict[int, list[Department]] = {}
    for row in rows:
        if row.parent_id is not None:
            units.setdefault(row.parent_id, []).append(row)
    nodes = [
        DepartmentNode(row, units.get(row.id, []))
        for row in rows
        if row.parent_id is None and row.kind != DepartmentKind.HUB
    ]
    hubs = [row for row in rows if row.kind == DepartmentKind.HUB]
    return nodes, hubs


def chat_groups_by_department(session: Session) -> dict[int, dict[str, ChatGroup]]:
    result: dict[int, dict[str, ChatGroup]] = {}
    for group in session.scalars(select(ChatGroup)):
        result.setdefault(group.department_id, {})[group.platform] = group
    return result


def chat_group(session: Session, department_id: int, platform: str) -> ChatGroup | None:
    return session.scalar(
        select(ChatGroup).where(ChatGroup.department_id == department_id, ChatGroup.platform == platform)
    )


def settle_conversation(ac: AdminContext, department_id: Any, platform: str, decision: str) -> ChatGroup:
    """An administrator's answer to a group conversation a robot bound by itself (the first message
    it heard there): ``confirm`` keeps it, ``release`` unbinds it (the next message from that group
    binds it again, pending; bind it by hand on the form to place it elsewhere)."""
    department: Department = _get(ac.session, Department, department_id, "部门")
    group = chat_group(ac.session, department.id, platform) if platform in PLATFORMS else None
    if group is None or not group.conversation_id or not group.conversation_pending:
        raise ValidationFailed("没有待确认的群会话绑定", fields={"decision": "该群聊没有待确认的绑定"})
    if decision not in ("confirm", "release"):
        raise ValidationFailed("操作无效", fields={"decision": "只能确认或解除"})
    conversation_id = group.conversation_id
    group.conversation_pending = False
    if decision == "release":
        group.conversation_id = None
    ac.session.flush()
    ac.audit(f"chat_group.conversation_{'confirmed' if decision == 'confirm' else 'released'}", "chat_group", group.id,
             {"department": department.display_name, "platform": PLATFORMS[platform],
              "conversation_id": conversation_id})
    return group


def pending_conversations(session: Session) -> list[ChatGroup]:
    """Group conversations robots bound by themselves, waiting for an administrator."""
    return list(session.scalars(select(ChatGroup).where(ChatGroup.conversation_pending.is_(True),
                                                        ChatGroup.conversation_id.is_not(None))
                                .order_by(ChatGroup.id)))


def update_department(ac: AdminContext, department_id: Any, data: Mapping[str, Any]) -> Department:
    department: Department = _get(ac.session, Department, department_id, "部门")
    errors: dict[str, str] = {}
    duty = _text(data, "duty", "职责", errors, max_len=2000)
    keywords = _keywords_csv(_text(data, "keywords", "关键词", errors, max_len=4000))
    sort_order = _int(data, "sort_order", "排序", errors, required=True, minimum=0, maximum=9999)
    _check(errors)
    changes = _apply(department, {
        "duty": duty, "keywords": keywords, "sort_order": sort_order, "active": _flag(data, "active"),
    })
    if changes:
        ac.audit("department.update", "department", department.id,
                 {"name": department.display_name, "changes": changes})
    ac.session.flush()
    return department


def _unit_code(session: Session, parent: Department) -> str:
    existing = set(session.scalars(select(Department.code).where(Department.code.like(f"{parent.code}_u%"))))
    n = 1
    while f"{parent.code}_u{n}" in existing:
        n += 1
    return f"{parent.code}_u{n}"


def create_unit(ac: AdminContext, parent_id: Any, data: Mapping[str, Any]) -> Department:
    """A utility or other unit under a department: it gets its own chief helpers and group chat."""
    parent: Department = _get(ac.session, Department, parent_id, "上级部门")
    if parent.kind != DepartmentKind.DEPARTMENT or parent.parent_id is not None:
        raise ValidationFailed("只能在区级部门下新增单位", fields={"parent_id": "上级必须是区级部门"})
    errors: dict[str, str] = {}
    name = _text(data, "name", "单位名称", errors, required=True, min_len=2, max_len=64)
    duty = _text(data, "duty", "职责", errors, max_len=2000)
    keywords = _keywords_csv(_text(data, "keywords", "关键词", errors, max_len=4000))
    if "name" not in errors and ac.session.scalar(select(Department.id).where(Department.name == name)):
        errors["name"] = "已有同名部门或单位"
    _check(errors)
    last = ac.session.scalar(select(func.max(Department.sort_order)).where(Department.parent_id == parent.id))
    unit = Department(
        code=_unit_code(ac.session, parent), name=name, kind=DepartmentKind.UNIT, parent=parent, duty=duty,
        keywords=keywords, sort_order=(last if last is not None else parent.sort_order * 100) + 1, active=True,
    )
    ac.session.add(unit)
    ac.session.flush()
    ac.audit("department.create_unit", "department", unit.id,
             {"name": unit.name, "parent": parent.name, "code": unit.code})
    return unit


def _token_from(value: str, param: str) -> str:
    """People paste the whole webhook URL; keep only the key/access token it carries."""
    if "://" not in value:
        return value
    found = parse_qs(urlparse(value).query).get(param)
    return found[0].strip() if found else value


def save_chat_group(ac: AdminContext, department_id: Any, platform: str, data: Mapping[str, Any]) -> ChatGroup:
    """Bind (or update) a department's group chat; an empty secret field keeps the stored one."""
    department: Department = _get(ac.session, Department, department_id, "部门")
    if platform not in PLATFORMS:
        raise ValidationFailed("平台无效", fields={"platform": "只能是企业微信或钉钉"})
    group = chat_group(ac.session, department.id, platform)
    errors: dict[str, str] = {}
    name = _text(data, "name", "群名称", errors, max_len=128)
    robot_key = _token_from(_text(data, "robot_key", "机器人密钥", errors, max_len=512),
                            "key" if platform == "wecom" else "access_token")
    robot_secret = _text(data, "robot_secret", "加签密钥", errors, max_len=512)
    conversation_id = _text(data, "conversation_id", "群会话 ID", errors, max_len=128) or None
    if group is None and not robot_key:
        errors["robot_key"] = "首次绑定请填写机器人密钥" if platform == "wecom" else "首次绑定请填写机器人令牌"
    if robot_key and not re.fullmatch(r"[A-Za-z0-9_\-]{8,512}", robot_key):
        errors["robot_key"] = "机器人密钥格式不正确（应为字母、数字、下划线或连字符）"
    if platform == "dingtalk" and robot_secret and not robot_secret.startswith("SEC"):
        errors["robot_secret"] = "钉钉加签密钥以 SEC 开头"
    if conversation_id and ac.session.scalar(
        select(ChatGroup.id).where(ChatGroup.conversation_id == conversation_id,
                                   ChatGroup.id != (group.id if group else -1))
    ):
        errors["conversation_id"] = "该群会话 ID 已绑定到其他部门"
    _check(errors)

    # An administrator saving the form has seen the conversation id: a robot's own binding is confirmed.
    values: dict[str, Any] = {"name": name, "conversation_id": conversation_id, "active": _flag(data, "active"),
                              "conversation_pending": False}
    if robot_key:
        values["robot_key"] = robot_key
    if robot_secret:
        values["robot_secret"] = robot_secret
    created = group is None
    if group is None:
        group = ChatGroup(platform=platform, department_id=department.id, created_at=ac.now)
        ac.session.add(group)
    changes = _apply(group, values)
    ac.session.flush()
    for secret in ("robot_key", "robot_secret"):
        if secret in changes:
            changes[secret] = ["****", "已更新"]
    if changes:
        ac.audit("chat_group.create" if created else "chat_group.update", "chat_group", group.id,
                 {"department": department.display_name, "platform": PLATFORMS[platform], "changes": changes})
    return group


# --------------------------------------------------------------------------------------------
# People and console logins
# --------------------------------------------------------------------------------------------
_PHONE = re.compile(r"[0-9+\-() ]{5,20}")
_USERNAME = re.compile(r"[A-Za-z0-9_.@\-]{3,64}")
PASSWORD_MIN = 8


def people_query(*, role: str = "", zone_id: Any = None, department_id: Any = None, active: str = "",
                 q: str = ""):
    """People matching the admin list's filters, in the list's order; ``q`` finds a name, phone, job
    title, platform account or login name. Unknown filter values are ignored, not errors."""
    query = select(Person).options(selectinload(Person.zone), selectinload(Person.department),
                                   selectinload(Person.stages))
    q = " ".join((q or "").split())[:64]
    if q:
        logins = select(ConsoleLogin.person_id).where(ConsoleLogin.username.contains(q, autoescape=True))
        query = query.where(Person.name.contains(q, autoescape=True) | Person.phone.contains(q, autoescape=True)
                            | Person.title.contains(q, autoescape=True)
                            | Person.wecom_userid.contains(q, autoescape=True)
                            | Person.dingtalk_userid.contains(q, autoescape=True) | Person.id.in_(logins))
    if role in Role.ALL:
        query = query.where(Person.role == role)
    if inputs.to_id(zone_id) is not None:
        query = query.where(Person.zone_id == inputs.to_id(zone_id))
    dept_id = inputs.to_id(department_id)
    if dept_id is not None:
        units = select(Department.id).where(Department.parent_id == dept_id)
        query = query.where((Person.department_id == dept_id) | Person.department_id.in_(units))
    if active in ("1", "0"):
        query = query.where(Person.active.is_(active == "1"))
    return query.order_by(Person.role, Person.zone_id, Person.department_id, Person.id)


PEOPLE_PER_PAGE = 50


def list_people(session: Session, *, page: int = 1, per_page: int = PEOPLE_PER_PAGE, **filters: Any) -> Page[Person]:
    """One page of the admin list (filters as :func:`people_query`)."""
    query = people_query(**filters)
    count = select(func.count()).select_from(query.with_only_columns(Person.id).order_by(None).subquery())
    return paginate(session, query, page=page, per_page=per_page, count_query=count)


def all_people(session: Session, **filters: Any) -> list[Person]:
    """Everyone the filters match (the roster export)."""
    return list(session.scalars(people_query(**filters)))


def logins_by_person(session: Session, person_ids: Iterable[int]) -> dict[int, ConsoleLogin]:
    ids = list(person_ids)
    if not ids:
        return {}
    return {row.person_id: row for row in session.scalars(select(ConsoleLogin).where(ConsoleLogin.person_id.in_(ids)))}


def _unique_userid(session: Session, column, value: str | None, person: Person | None) -> bool:
    if not value:
        return True
    query = select(Person.id).where(column == value)
    if person is not None and person.id is not None:
        query = query.where(Person.id != person.id)
    return session.scalar(query) is None


def save_person(ac: AdminContext, person_id: Any, data: Mapping[str, Any]) -> Person:
    """Create (``person_id`` None) or edit a person; the unit they belong to follows from the role."""
    session = ac.session
    person: Person | None = _get(session, Person, person_id, "人员") if person_id else None
    errors: dict[str, str] = {}
    name = _text(data, "name", "姓名", errors, required=True, max_len=64)
    role = _raw(data, "role")
    if role not in Role.ALL:
        errors["role"] = "请选择角色"
    zone_id = _int(data, "zone_id", "片区", errors)
    department_id = _int(data, "department_id", "部门", errors)
    zone = session.get(Zone, zone_id) if zone_id is not None else None
    department = session.get(Department, department_id) if department_id is not None else None
    if zone_id is not None and zone is None:
        errors["zone_id"] = "片区不存在"
    if department_id is not None and department is None:
        errors["department_id"] = "部门不存在"

    if role in Role.ZONE_ROLES:
        if zone is None and "zone_id" not in errors:
            errors["zone_id"] = f"{Role.LABELS[role]}必须选择所属片区"
        if department_id is not None:
            errors["department_id"] = f"{Role.LABELS[role]}属于片区，不能同时选择部门"
    elif role in Role.DEPARTMENT_ROLES:
        if department is None and "department_id" not in errors:
            errors["department_id"] = f"{Role.LABELS[role]}必须选择所属部门或单位"
        elif department is not None and department.kind == DepartmentKind.HUB:
            errors["department_id"] = f"{Role.LABELS[role]}应属于区级部门或其下属单位，不能选择枢纽机构"
        if zone_id is not None:
            errors["zone_id"] = f"{Role.LABELS[role]}属于部门，不能同时选择片区"
    elif role:
        if zone_id is not None:
            errors["zone_id"] = f"{Role.LABELS.get(role, role)}不属于任何片区"
        if department is not None and department.kind != DepartmentKind.HUB:
            errors["department_id"] = f"{Role.LABELS.get(role, role)}只能归属区网格中心、营商环境办等枢纽机构"

    stages: list[ServiceStage] = []
    if role == Role.CHIEF_HELPER:
        raw_stages = data.get("stage_ids") or []
        if isinstance(raw_stages, str):
            raw_stages = [raw_stages]
        for raw in raw_stages:
            stage_id = inputs.to_id(raw)
            stage = session.get(ServiceStage, stage_id) if stage_id is not None else None
            if stage is None:
                errors["stage_ids"] = "服务阶段无效"
                break
            if stage not in stages:
                stages.append(stage)

    phone = _text(data, "phone", "电话", errors, max_len=32)
    if phone and not _PHONE.fullmatch(phone):
        errors["phone"] = "电话号码格式不正确"
    title = _text(data, "title", "职务", errors, max_len=64)
    wecom_userid = _text(data, "wecom_userid", "企业微信 UserID", errors, max_len=64) or None
    dingtalk_userid = _text(data, "dingtalk_userid", "钉钉 UserID", errors, max_len=64) or None
    if not _unique_userid(session, Person.wecom_userid, wecom_userid, person):
        errors["wecom_userid"] = "该企业微信 UserID 已被其他人员使用"
    if not _unique_userid(session, Person.dingtalk_userid, dingtalk_userid, person):
        errors["dingtalk_userid"] = "该钉钉 UserID 已被其他人员使用"
    active = _flag(data, "active") if person is not None else True
    if person is not None and ac.actor is not None and person.id == ac.actor.id:
        # An administrator locking themselves out needs another administrator to undo it.
        if not active:
            errors["active"] = "不能停用自己的账号"
        if role and role != Role.SYSADMIN and person.role == Role.SYSADMIN:
            errors["role"] = "不能取消自己的系统管理员角色"
    _check(errors)

    values = {
        "name": name, "role": role, "zone": zone, "department": department, "phone": phone, "title": title,
        "wecom_userid": wecom_userid, "dingtalk_userid": dingtalk_userid, "active": active,
    }
    created = person is None
    if person is None:
        person = Person(created_at=ac.now, updated_at=ac.now)
        session.add(person)
    changes = _apply(person, values)
    if not created and changes.keys() & {"active", "wecom_userid", "dingtalk_userid"}:
        # Stopped, or the platform account that signs in on the H5 pages is no longer theirs.
        sessions.revoke_all(person)
    for unit in ("zone", "department"):
        if unit in changes:
            changes[unit] = [getattr(row, "name", None) for row in changes[unit]]
    old_stages = sorted(s.name for s in person.stages)
    if old_stages != sorted(s.name for s in stages):
        person.stages = stages
        changes["stages"] = [old_stages, sorted(s.name for s in stages)]
    if changes and not created:
        person.updated_at = ac.now
    session.flush()
    if created or changes:
        ac.audit("person.create" if created else "person.update", "person", person.id,
                 {"name": person.name, "changes": changes})
    return person


def assigned_enterprise_count(session: Session, person: Person) -> int:
    return int(session.scalar(select(func.count(Enterprise.id)).where(Enterprise.service_staff_id == person.id)) or 0)


def deactivate_person(ac: AdminContext, person_id: Any) -> tuple[Person, int]:
    """Stop a person (they keep their history); returns how many enterprises still name them as staff."""
    person: Person = _get(ac.session, Person, person_id, "人员")
    if ac.actor is not None and person.id == ac.actor.id:
        raise ValidationFailed("不能停用自己的账号", fields={"active": "不能停用自己"})
    enterprises = assigned_enterprise_count(ac.session, person)
    if person.active:
        person.active = False
        sessions.revoke_all(person)
        person.updated_at = ac.now
        ac.session.flush()
        ac.audit("person.deactivate", "person", person.id, {"name": person.name, "enterprises": enterprises})
    return person, enterprises


def set_login(ac: AdminContext, person_id: Any, data: Mapping[str, Any]) -> ConsoleLogin:
    """Give a person a console login, rename it, or reset its password (empty password keeps it)."""
    session = ac.session
    person: Person = _get(session, Person, person_id, "人员")
    login = session.scalar(select(ConsoleLogin).where(ConsoleLogin.person_id == person.id))
    errors: dict[str, str] = {}
    username = _raw(data, "username")
    password = str(data.get("password") or "")
    if not _USERNAME.fullmatch(username):
        errors["username"] = "用户名为 3–64 位字母、数字或 _ . @ -"
    elif session.scalar(select(ConsoleLogin.id).where(
        func.lower(ConsoleLogin.username) == username.lower(), ConsoleLogin.person_id != person.id
    )):
        errors["username"] = "该用户名已被使用"
    if login is None and not password:
        errors["password"] = "开通账号时请设置初始密码"
    elif password and len(password) < PASSWORD_MIN:
        errors["password"] = f"密码至少 {PASSWORD_MIN} 位"
    elif password and (password.isdigit() or password.isalpha()):
        errors["password"] = "密码需同时包含字母和数字"
    elif len(password) > 128:
        errors["password"] = "密码过长"
    _check(errors)

    created = login is None
    if login is None:
        login = ConsoleLogin(person_id=person.id, username=username, password_hash="",
                             created_at=ac.now, updated_at=ac.now)
        session.add(login)
    detail: dict[str, Any] = {"name": person.name}
    if login.username != username:
        detail["username"] = [login.username, username]
        login.username = username
    if password:
        login.password_hash = generate_password_hash(password)
        sign_in.forget_failures(session, login.username)
        # Whoever held the old password may hold a session too.
        sessions.revoke_all(person)
        detail["password_reset"] = True
    login.updated_at = ac.now
    session.flush()
    if created or len(detail) > 1:
        detail.setdefault("username", username)
        ac.audit("login.create" if created else "login.update", "person", person.id, detail)
    return login


# --------------------------------------------------------------------------------------------
# SLA policies
# --------------------------------------------------------------------------------------------
def list_sla_policies(session: Session) -> list[SlaPolicy]:
    rows = list(session.scalars(select(SlaPolicy).options(selectinload(SlaPolicy.domain))))
    priority_rank = {p: i for i, p in enumerate(PRIORITIES)}
    return sorted(rows, key=lambda p: (
        p.domain is not None, p.domain.sort_order if p.domain else 0, p.domain_id or 0,
        priority_rank.get(p.priority, 99), p.level,
    ))


def parse_percents(text: str) -> list[int] | None:
    """"50,80" → [50, 80]; None when any item is not an integer from 1 to 99."""
    result: set[int] = set()
    for item in _LIST_SEPARATORS.split((text or "").replace("%", " ")):
        if not item:
            continue
        try:
            result.add(inputs.parse_int(item, minimum=1, maximum=99))
        except ValueError:
            return None
    return sorted(result)


def _sla_values(data: Mapping[str, Any], level: int, errors: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "sign_minutes": _int(data, "sign_minutes", "签收时限（分钟）", errors, minimum=1, maximum=1440),
        "sign_workdays": _int(data, "sign_workdays", "签收时限（工作日）", errors, minimum=1, maximum=30),
        "handle_workdays": _int(data, "handle_workdays", "办理时限（工作日）", errors, required=level != 4,
                                minimum=1, maximum=365),
        "leader_after_workdays": _int(data, "leader_after_workdays", "超期后督办部门领导（工作日）", errors,
                                      required=True, minimum=1, maximum=60),
        "bizenv_after_workdays": _int(data, "bizenv_after_workdays", "超期后通报营商环境办（工作日）", errors,
                                      required=True, minimum=1, maximum=60),
        "return_limit_workdays": _int(data, "return_limit_workdays", "退单时限（工作日）", errors,
                                      required=True, minimum=1, maximum=30),
        "return_limit_workdays_complex": _int(data, "return_limit_workdays_complex", "复杂诉求退单时限（工作日）",
                                              errors, required=True, minimum=1, maximum=30),
    }
    if values["sign_minutes"] is None and values["sign_workdays"] is None:
        if "sign_minutes" not in errors and "sign_workdays" not in errors:
            errors["sign_minutes"] = "请填写签收时限（紧急诉求填分钟，一般诉求填工作日）"
    elif values["sign_minutes"] is not None and values["sign_workdays"] is not None:
        errors["sign_minutes"] = "签收时限只能填写一种：分钟或工作日"
    percents = parse_percents(_raw(data, "remind_percents"))
    if percents is None:
        errors["remind_percents"] = "提醒比例为 1–99 之间的整数，用逗号分隔，如 50,80"
    values["remind_percents"] = percents or []
    leader, bizenv = values["leader_after_workdays"], values["bizenv_after_workdays"]
    if leader is not None and bizenv is not None and bizenv < leader and "bizenv_after_workdays" not in errors:
        errors["bizenv_after_workdays"] = "通报营商环境办不应早于督办部门领导"
    simple, complex_ = values["return_limit_workdays"], values["return_limit_workdays_complex"]
    if simple is not None and complex_ is not None and complex_ < simple:
        errors["return_limit_workdays_complex"] = "复杂诉求的退单时限不应短于一般诉求"
    return values


def _policy_label(policy: SlaPolicy) -> str:
    domain = policy.domain.name if policy.domain else "全部领域"
    return f"{domain}·{PRIORITY_LABELS.get(policy.priority, policy.priority)}·{LEVELS.get(policy.level, policy.level)}"


def save_sla_policy(ac: AdminContext, policy_id: Any, data: Mapping[str, Any]) -> SlaPolicy:
    """Edit a policy's limits, or add one for (domain × priority × level). The key never changes."""
    session = ac.session
    errors: dict[str, str] = {}
    policy: SlaPolicy | None = _get(session, SlaPolicy, policy_id, "时限策略") if policy_id else None
    if policy is None:
        domain_id = _int(data, "domain_id", "诉求领域", errors)
        domain = session.get(RequestDomain, domain_id) if domain_id is not None else None
        if domain_id is not None and domain is None:
            errors["domain_id"] = "诉求领域不存在"
        priority = _raw(data, "priority")
        if priority not in PRIORITIES:
            errors["priority"] = "请选择紧急程度"
        level = _int(data, "level", "响应层级", errors, required=True, minimum=1, maximum=4) or 0
        if not errors and session.scalar(select(SlaPolicy.id).where(
            SlaPolicy.domain_id.is_(None) if domain is None else SlaPolicy.domain_id == domain.id,
            SlaPolicy.priority == priority, SlaPolicy.level == level,
        )):
            errors["domain_id"] = "该领域、紧急程度和层级的策略已存在，请直接修改"
    else:
        level = policy.level
    values = _sla_values(data, level, errors)
    _check(errors)

    if policy is None:
        policy = SlaPolicy(domain_id=domain.id if domain else None, priority=priority, level=level)
        session.add(policy)
        _apply(policy, values)
        session.flush()
        ac.audit("sla.create", "sla_policy", policy.id, {"policy": _policy_label(policy), "values": values})
        return policy
    changes = _apply(policy, values)
    session.flush()
    if changes:
        ac.audit("sla.update", "sla_policy", policy.id, {"policy": _policy_label(policy), "changes": changes})
    return policy


def delete_sla_policy(ac: AdminContext, policy_id: Any) -> None:
    policy: SlaPolicy = _get(ac.session, SlaPolicy, policy_id, "时限策略")
    if policy.domain_id is None:
        raise Conflict("“全部领域”的通用策略不能删除，只能修改")
    label = _policy_label(policy)
    ac.session.delete(policy)
    ac.session.flush()
    ac.audit("sla.delete", "sla_policy", policy_id, {"policy": label})


# --------------------------------------------------------------------------------------------
# Holidays
# --------------------------------------------------------------------------------------------
def calendar_knows_year(year: int) -> bool:
    """Whether the ``chinese_calendar`` package has the State Council's holiday plan for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def builtin_is_workday(day: date) -> bool | None:
    """The package's verdict for ``day``, or None when it has no data for that year."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class YearStatus:
    year: int
    known: bool
    overrides: int


def calendar_status(session: Session, today: date) -> list[YearStatus]:
    """This year and next: does the package know them, and how many dates were entered by hand."""
    result = []
    for year in (today.year, today.year + 1):
        count = session.scalar(select(func.count(HolidayOverride.id)).where(
            HolidayOverride.day >= date(year, 1, 1), HolidayOverride.day <= date(year, 12, 31)))
        result.append(YearStatus(year, calendar_knows_year(year), int(count or 0)))
    return result


def list_holidays(session: Session, today: date, *, include_past: bool = False) -> list[HolidayOverride]:
    query = select(HolidayOverride).order_by(HolidayOverride.day)
    if not include_past:
        query = query.where(HolidayOverride.day >= today)
    return list(session.scalars(query))


HOLIDAY_KINDS = {"off": "休息日", "work": "调休上班"}


def add_holiday(ac: AdminContext, data: Mapping[str, Any]) -> HolidayOverride:
    errors: dict[str, str] = {}
    raw_day = _raw(data, "day")
    day: date | None = None
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        errors["day"] = "请填写日期，格式如 2027-01-01"
    if day is not None and abs((day - ac.today).days) > 3 * 366:
        errors["day"] = "日期应在前后三年之内"
    kind = _raw(data, "kind")
    if kind not in HOLIDAY_KINDS:
        errors["kind"] = "请选择休息日或调休上班"
    note = _text(data, "note", "说明", errors, max_len=128)
    if day is not None and "day" not in errors and ac.session.scalar(
        select(HolidayOverride.id).where(HolidayOverride.day == day)
    ):
        errors["day"] = "该日期已有调整记录，请先删除原记录"
    _check(errors)
    row = HolidayOverride(day=day, is_workday=kind == "work", note=note)
    ac.session.add(row)
    ac.session.flush()
    ac.audit("holiday.add", "holiday", row.id, {"day": day, "kind": HOLIDAY_KINDS[kind], "note": note})
    return row


@dataclass(frozen=True)
class NoticeRow:
    day: date
    is_workday: bool
    note: str
    change: str  # new | changed | same
    current: HolidayOverride | None


def notice_rows(session: Session, notice: ParsedNotice) -> list[NoticeRow]:
    """What saving the parsed notice would do, date by date (for the confirmation page)."""
    days = [d.day for d in notice.days]
    existing = {row.day: row for row in session.scalars(select(HolidayOverride).where(HolidayOverride.day.in_(days)))}
    rows = []
    for item in notice.days:
        current = existing.get(item.day)
        if current is None:
            change = "new"
        elif current.is_workday == item.is_workday and current.note == item.note:
            change = "same"
        else:
            change = "changed"
        rows.append(NoticeRow(item.day, item.is_workday, item.note, change, current))
    return rows


def import_holiday_notice(ac: AdminContext, text: str) -> dict[str, int]:
    """Save the notice's days as overrides (replacing what was entered for the same dates)."""
    notice = parse_notice(text)
    counts = {"new": 0, "changed": 0, "same": 0}
    for row in notice_rows(ac.session, notice):
        counts[row.change] += 1
        if row.current is None:
            ac.session.add(HolidayOverride(day=row.day, is_workday=row.is_workday, note=row.note))
        elif row.change == "changed":
            row.current.is_workday, row.current.note = row.is_workday, row.note
    ac.session.flush()
    ac.audit("holiday.import", "holiday", notice.year, {
        "year": notice.year, "holidays": len(notice.holidays), "workdays": len(notice.workdays),
        "festivals": "、".join(notice.festivals), "new": counts["new"], "changed": counts["changed"]})
    return counts | {"year": notice.year}


def year_configured(session: Session, year: int) -> bool:
    """The package carries the year's notice, or someone entered its days (a notice import adds ~30)."""
    if calendar_knows_year(year):
        return True
    return bool(session.scalar(select(func.count(HolidayOverride.id)).where(
        HolidayOverride.day >= date(year, 1, 1), HolidayOverride.day <= date(year, 12, 31),
        HolidayOverride.is_workday.is_(False))))


WARN_FROM_MONTH = 11


def calendar_warning(session: Session, today: date) -> str | None:
    """From 1 November while next year's holidays are unknown (and any time this year's are):
    the sentence a district administrator sees on the console."""
    for year in (today.year, today.year + 1):
        if year > today.year and today.month < WARN_FROM_MONTH:
            continue
        if not year_configured(session, year):
            return (f"{year} 年的法定节假日与调休安排尚未录入：请在「管理 → 节假日」粘贴国务院办公厅关于{year}年"
                    "部分节假日安排的通知。录入前，时限按法定节日（不含调休）与周一至周五计算。")
    return None


def delete_holiday(ac: AdminContext, holiday_id: Any) -> None:
    row: HolidayOverride = _get(ac.session, HolidayOverride, holiday_id, "节假日调整")
    detail = {"day": row.day, "kind": "调休上班" if row.is_workday else "休息日", "note": row.note}
    ac.session.delete(row)
    ac.session.flush()
    ac.audit("holiday.delete", "holiday", holiday_id, detail)


# --------------------------------------------------------------------------------------------
# Screening rules
# --------------------------------------------------------------------------------------------
def screening_rules_by_category(session: Session) -> list[tuple[str, str, list[ScreeningRule]]]:
    rows = list(session.scalars(select(ScreeningRule).order_by(ScreeningRule.sort_order, ScreeningRule.id)))
    grouped = []
    for code, label in screening.CATEGORIES.items():
        grouped.append((code, label, [r for r in rows if r.category == code]))
    others = [r for r in rows if r.category not in screening.CATEGORIES]
    for code in dict.fromkeys(r.category for r in others):
        grouped.append((code, screening.category_label(code), [r for r in others if r.category == code]))
    return grouped


def _rule_values(data: Mapping[str, Any], category: str, errors: dict[str, str]) -> dict[str, Any]:
    keywords = _text(data, "keywords", "关键词", errors, required=True, max_len=20000)
    reason = _text(data, "reason", "不予受理原因", errors, required=True, min_len=4, max_len=2000)
    proper_channel = _text(data, "proper_channel", "建议渠道", errors, required=True, min_len=2, max_len=2000)
    if keywords and "keywords" not in errors and not screening.RuleSpec.parse(category, keywords, "", "").keywords:
        errors["keywords"] = "至少需要一个有效关键词（“!”开头的是排除词）"
    return {"keywords": keywords, "reason": reason, "proper_channel": proper_channel, "active": _flag(data, "active")}


def save_screening_rule(ac: AdminContext, rule_id: Any, data: Mapping[str, Any]) -> ScreeningRule:
    """Edit a rule's keywords, reason, channel and switch, or add a rule to a category.

    The sort order is not editable: the seed matches its default rules by (category, sort order),
    and ties between categories follow it; a new rule goes right after its category's last one.
    """
    session = ac.session
    errors: dict[str, str] = {}
    rule: ScreeningRule | None = _get(session, ScreeningRule, rule_id, "甄别规则") if rule_id else None
    category = rule.category if rule is not None else _raw(data, "category")
    if rule is None and category not in screening.CATEGORIES:
        errors["category"] = "请选择不予受理类别"
    values = _rule_values(data, category, errors)
    _check(errors)
    if rule is None:
        last = session.scalar(select(func.max(ScreeningRule.sort_order)).where(ScreeningRule.category == category))
        base = (list(screening.CATEGORIES).index(category) + 1) * 10
        rule = ScreeningRule(category=category, sort_order=(last if last is not None else base) + 1, **values)
        session.add(rule)
        session.flush()
        ac.audit("screening.create", "screening_rule", rule.id,
                 {"category": screening.category_label(category), "values": values})
        return rule
    changes = _apply(rule, values)
    session.flush()
    if changes:
        if "keywords" in changes:
            changes["keywords"] = [_keyword_count(changes["keywords"][0]), _keyword_count(changes["keywords"][1])]
        ac.audit("screening.update", "screening_rule", rule.id,
                 {"category": screening.category_label(category), "changes": changes})
    return rule


def _keyword_count(text: str) -> str:
    spec = screening.RuleSpec.parse("", text or "", "", "")
    return f"{len(spec.keywords)} 个关键词，{len(spec.exceptions)} 个排除词"


def try_screening(session: Session, text: str) -> screening.ScreeningSuggestion | None:
    """What screening would suggest for ``text`` with the rules as they are now."""
    from services.orders.operations import screening_rules

    return screening.screen(text or "", screening_rules(session))


# --------------------------------------------------------------------------------------------
# System settings
# --------------------------------------------------------------------------------------------
SETTINGS = system_settings.SETTINGS


def current_settings(session: Session, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values in force (``defaults``: the environment's, ``config.Settings.setting_defaults()``)."""
    return system_settings.current(session, defaults)


def update_settings(ac: AdminContext, data: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
                    ) -> dict[str, Any]:
    """Save the submitted values. A value equal to the one in force while no row exists writes no
    row, so the environment's default keeps applying until an administrator really changes it."""
    errors: dict[str, str] = {}
    parsed = {
        spec.key: _int(data, spec.key, spec.label, errors, required=True, minimum=spec.minimum, maximum=spec.maximum)
        for spec in SETTINGS
    }
    _check(errors)
    in_force = system_settings.current(ac.session, defaults)
    changes: dict[str, list[Any]] = {}
    for key, value in parsed.items():
        row = ac.session.get(SystemSetting, key)
        if row is None:
            if value == in_force[key]:
                continue
            ac.session.add(SystemSetting(key=key, value=value, updated_at=ac.now))
            changes[key] = [in_force[key], value]
        elif row.value != value:
            changes[key] = [row.value, value]
            row.value = value
            row.updated_at = ac.now
    ac.session.flush()
    if changes:
        ac.audit("setting.update", "system_setting", ",".join(changes), {"changes": changes})
    return parsed


# --------------------------------------------------------------------------------------------
# Delivery log, inbound callback log and audit log
# --------------------------------------------------------------------------------------------
def _latest(session: Session, model: type, labels: Mapping[str, str], status: str, limit: int) -> list[Any]:
    """The newest rows of a status-keeping queue table, all or of one known status."""
    query = select(model)
    if status in labels:
        query = query.where(model.status == status)
    return list(session.scalars(query.order_by(model.id.desc()).limit(limit)))


def _status_counts(session: Session, model: type, labels: Mapping[str, str]) -> dict[str, int]:
    rows = session.execute(select(model.status, func.count(model.id)).group_by(model.status))
    counts = {status: 0 for status in labels}
    counts.update({status: int(n) for status, n in rows})
    return counts


def list_outbox(session: Session, *, status: str = "", limit: int = 200) -> list[OutboundMessage]:
    return _latest(session, OutboundMessage, OutboxStatus.LABELS, status, limit)


def outbox_status_counts(session: Session) -> dict[str, int]:
    return _status_counts(session, OutboundMessage, OutboxStatus.LABELS)


def retry_dead_letter(ac: AdminContext, message_id: Any) -> OutboundMessage:
    message: OutboundMessage = _get(ac.session, OutboundMessage, message_id, "消息")
    if message.status != OutboxStatus.DEAD:
        raise Conflict("只有发送失败的消息可以重新发送")
    last_error = message.last_error
    outbox.retry_dead(ac.session, message, now=ac.now)
    ac.session.flush()
    ac.audit("outbox.retry", "outbound_message", message.id,
             {"channel": message.channel, "kind": message.kind, "target": message.target_ref,
              "last_error": last_error[:200]})
    return message


def list_inbound(session: Session, *, status: str = "", limit: int = 200) -> list[InboundMessage]:
    return _latest(session, InboundMessage, InboxStatus.LABELS, status, limit)


def inbound_status_counts(session: Session) -> dict[str, int]:
    return _status_counts(session, InboundMessage, InboxStatus.LABELS)


def retry_failed_inbound(ac: AdminContext, message_id: Any) -> InboundMessage:
    """Put a failed platform callback back in the inbox; the ``process_inbound`` job runs it again.
    Locked, so two administrators clicking at once cannot run a command twice."""
    message: InboundMessage = _get(ac.session, InboundMessage, message_id, "回调消息", lock=True)
    if message.status != InboxStatus.FAILED:
        state = InboxStatus.LABELS.get(message.status, message.status)
        raise Conflict(f"回调消息 {inbox.reference(message)} 当前为“{state}”，只有处理失败的回调消息可以重新处理")
    attempts = message.attempts
    inbox.requeue_failed(message, now=ac.now)
    ac.session.flush()
    ac.audit("inbound.retry", "inbound_message", message.id,
             {"reference": inbox.reference(message), "platform": PLATFORMS.get(message.platform, message.platform),
              "dedupe_key": message.dedupe_key, "attempts": attempts, "error": message.error[:200]})
    return message


AUDIT_PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilter:
    """The audit page's filters; values as typed, unknown ones ignored."""

    action: str = ""
    target_type: str = ""
    actor: str = ""  # part of the actor's name or unit
    since: date | None = None  # Beijing dates, both inclusive
    until: date | None = None
    page: int = 1

    @property
    def active(self) -> bool:
        return bool(self.action or self.target_type or self.actor or self.since or self.until)


def list_audit(session: Session, flt: AuditFilter = AuditFilter(), *, per_page: int = AUDIT_PER_PAGE) -> Page[AuditLog]:
    """The audit trail, newest first, one page at a time."""
    query = select(AuditLog)
    if flt.action:
        query = query.where(AuditLog.action == flt.action)
    if flt.target_type:
        query = query.where(AuditLog.target_type == flt.target_type)
    if flt.actor:
        query = query.where(AuditLog.actor_label.contains(flt.actor.strip()[:64], autoescape=True))
    if flt.since is not None:
        query = query.where(AuditLog.created_at >= _day_start(flt.since))
    if flt.until is not None:
        query = query.where(AuditLog.created_at < _day_start(flt.until + timedelta(days=1)))
    return paginate(session, query.order_by(AuditLog.id.desc()), page=flt.page, per_page=per_page)


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def outbox_targets(session: Session, messages: Iterable[OutboundMessage]) -> dict[int, str]:
    """Who each message went to, by name: the department of a group (the sandbox names it by
    department id, the platforms by their ChatGroup id), the person or people, a DingTalk conversation."""
    messages = list(messages)
    person_ids = set(inputs.ids(p for m in messages if m.target_type in ("person", "people")
                                for p in str(m.target_ref).split(",")))
    group_refs = set(inputs.ids(m.target_ref for m in messages if m.target_type == "group"))
    people = dict(session.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids))).all()) \
        if person_ids else {}
    departments = {d.id: d for d in session.scalars(
        select(Department).options(selectinload(Department.parent)).where(Department.id.in_(group_refs)))} \
        if group_refs else {}
    groups = {g.id: g for g in session.scalars(
        select(ChatGroup).options(selectinload(ChatGroup.department)).where(ChatGroup.id.in_(group_refs)))} \
        if group_refs else {}
    result = {}
    for m in messages:
        if m.target_type == "group" and str(m.target_ref).isdigit():
            ref = int(m.target_ref)
            department = departments.get(ref) if m.channel == "sandbox" else getattr(groups.get(ref), "department",
                                                                                    None)
            result[m.id] = f"{department.display_name}群" if department is not None else "部门群（已删除）"
        elif m.target_type in ("person", "people"):
            ids = inputs.ids(str(m.target_ref).split(","))
            result[m.id] = "、".join(people.get(i, "（已删除人员）") for i in ids) or "—"
        elif m.target_type == "phone":  # an enterprise's mobile, shown masked
            ref = str(m.target_ref)
            result[m.id] = f"企业手机 {ref[:3]}****{ref[-4:]}" if len(ref) == 11 else "企业手机"
        else:
            result[m.id] = labels.MESSAGE_TARGETS.get(m.target_type, "—")
    return result
