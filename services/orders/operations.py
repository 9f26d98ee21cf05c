"""Work-order operations: every step of the 有需必应 loop.

Each operation takes an ``OpContext`` (session, actor, now, channel, delivery channels),
checks the transition table and the actor's rights, changes the order, records one immutable
event, writes its messages to the outbox and flushes. It never commits: the caller's
request or job boundary does.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from models import (
    Attachment,
    CityEscalation,
    DailySequence,
    Department,
    DepartmentKind,
    Enterprise,
    ExtensionRequest,
    JointMeeting,
    Person,
    RequestDomain,
    ReturnVisit,
    Role,
    Satisfaction,
    ScreeningRule,
    ServiceStage,
    WorkOrder,
    WorkOrderEvent,
)
from services import audit, wording
from services.admin import settings as system_settings
from services.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.inputs import to_id
from services.messaging import enterprise as enterprise_messages
from services.messaging.notify import (
    Channels,
    Notifier,
    chief_helpers,
    hub_department,
    hub_people,
    local_time,
)
from services.orders import catalogue, hotline_callbacks, ladder, screening, sla
from services.orders import duplicates as dup
from services.orders.deadlines import load_calendar, rule_for, start_clock
from services.orders.lifecycle import TRANSITIONS, Action, State, check_transition
from services.permissions import authorize, can_create_order, can_submit_for, can_track_city, can_view
from services.studio import store as studio_store
from services.studio.forms import FieldDef, clean_values, display_value

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
PRIORITIES = {"normal": "一般", "urgent": "紧急（水电气热中断）", "emergency": "特急（危及生命财产安全）"}
CHANNEL_LABELS = {
    "console": "网页工作台", "mobile": "移动端", "sandbox": "沙箱聊天", "wecom": "企业微信", "dingtalk": "钉钉",
    "api": "接口", "public": "企业自助", "system": "系统", "desk": "86912345 坐席", "hotline": "12345 热线",
}
MIN_CONTENT = 5
MAX_CONTENT = 5000


@dataclass
class OpContext:
    session: Session
    actor: Person | None
    now: datetime
    channel: str = "console"
    channels: Channels = field(default_factory=Channels)
    # The site's address, when the caller knows it: links in chat answers are then absolute.
    base_url: str = ""

    @property
    def actor_label(self) -> str:
        if self.actor is None:
            return "系统"
        unit = self.actor.unit_label
        return f"{self.actor.name}（{unit}）" if unit else self.actor.name

    def notifier(self) -> Notifier:
        return Notifier(self.session, self.channels, self.now)


@dataclass(frozen=True)
class NewOrder:
    enterprise_id: int
    content: str
    title: str = ""
    domain_id: int | None = None
    stage_id: int | None = None
    priority: str = "normal"
    is_complex: bool = False
    level: int = 1
    department_id: int | None = None
    contact_name: str = ""
    contact_phone: str = ""
    # The contact's WeCom external userid (客户联系), when they are an external contact of their staff member.
    contact_external_userid: str = ""
    attachments: tuple[dict, ...] = ()
    # An enterprise's own request (public form): it waits, received, for its service staff member
    # to confirm (``confirm_request``) instead of being accepted at once.
    await_confirmation: bool = False
    # The form's one-time key or the API's Idempotency-Key: sent twice (a double click, a retry
    # after a timeout), it is still one order.
    submission_key: str = ""
    # The submitter chose neither a level nor a department (由派单目录决定): the 派单目录 decides;
    # when no rule matches, ``level`` (and the rest) stand as given.
    auto_dispatch: bool = False
    # Values of the domain form's custom fields (``services.studio.forms``), keyed by field key;
    # validated against the form of the order's final domain (chosen or classified).
    fields: dict = field(default_factory=dict)
    # The public self-service form asks only the fields marked public.
    public_fields_only: bool = False
    # 重复诉求: the number of an earlier order the submitter says this one repeats (linked at once),
    # and whether a form wants to be asked first (``PossibleDuplicate``) when earlier orders look alike.
    link_to: str = ""
    ask_on_duplicate: bool = False


@dataclass(frozen=True)
class Submission:
    order: WorkOrder
    replayed: bool = False  # the same submission arrived before: this is that order, nothing new
    # Earlier orders of the same enterprise (or caller) that look alike and the submitter may see
    # (all of them for a submitter without an account), most similar first.
    duplicates: tuple[dup.Match, ...] = ()


class PossibleDuplicate(Conflict):
    """Earlier orders look alike: the form shows them and asks to link or to submit anyway.
    Raised before anything is written."""

    code = "possible_duplicate"

    def __init__(self, matches: list[dup.Match], window_days: int):
        numbers = "、".join(m.earlier.number for m in matches)
        super().__init__(f"该企业 {window_days} 天内已有相似诉求（{numbers}），请确认是否为同一事项")
        self.matches = matches
        self.window_days = window_days


SUBMISSION_KEY_MAX = 80


def clean_submission_key(raw: str | None) -> str:
    """A usable key, or "" for none; a malformed one is refused rather than ignored (a client that
    sends a key relies on it)."""
    key = (raw or "").strip()
    if not key:
        return ""
    if len(key) > SUBMISSION_KEY_MAX or not all(33 <= ord(c) < 127 for c in key):
        raise ValidationFailed(f"提交编号（Idempotency-Key）须为 1–{SUBMISSION_KEY_MAX} 个可见 ASCII 字符",
                               fields={"submission_key": "格式不正确"})
    return key


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
def allocate_number(session: Session, now: datetime) -> str:
    """BC-YYYYMMDD-NNNN, day in Beijing time; atomic on SQLite and PostgreSQL."""
    day = now.astimezone(LOCAL_TZ).strftime("%Y%m%d")
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DailySequence)
        .values(day=day, last_value=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last_value": DailySequence.last_value + 1})
        .returning(DailySequence.last_value)
    )
    value = session.execute(stmt).scalar_one()
    return f"BC-{day}-{value:04d}"


def get_order(session: Session, number_or_id: str | int, *, lock: bool = False) -> WorkOrder:
    query = select(WorkOrder)
    if isinstance(number_or_id, int) or str(number_or_id).strip().isdigit():
        # An id; digits that are no database id (too long, not ASCII) match no order.
        query = query.where(WorkOrder.id == (to_id(number_or_id) or 0))
    else:
        query = query.where(WorkOrder.number == str(number_or_id).strip().upper())
    if lock:
        # populate_existing: what we read under the lock must replace any stale copy in the session.
        query = query.with_for_update().execution_options(populate_existing=True)
    order = session.scalar(query)
    if order is None:
        raise NotFound(f"未找到工单 {number_or_id}")
    return order


def _lock(ctx: OpContext, order: WorkOrder) -> WorkOrder:
    """Re-read the order under a row lock so concurrent operations see each other's result."""
    return get_order(ctx.session, order.id, lock=True)


def _record(
    ctx: OpContext, order: WorkOrder, action: str, from_state: str | None, note: str = "", **data
) -> WorkOrderEvent:
    event = WorkOrderEvent(
        work_order=order,
        action=action,
        actor_id=ctx.actor.id if ctx.actor else None,
        actor_label=ctx.actor_label,
        channel=ctx.channel,
        from_state=from_state,
        to_state=order.state,
        note=note,
        data={k: v for k, v in data.items() if v is not None},
        created_at=ctx.now,
    )
    ctx.session.add(event)
    ctx.session.flush()
    return event


def _require_text(value: str | None, field_name: str, label: str, minimum: int = 2) -> str:
    text = (value or "").strip()
    if len(text) < minimum:
        raise ValidationFailed(f"请填写{label}（至少 {minimum} 个字）", fields={field_name: "必填"})
    return text


def _department(session: Session, department_id: int | None, *, label="承办部门",
                field: str = "department_id") -> Department:
    if department_id is None:
        raise ValidationFailed(f"请选择{label}", fields={field: "必填"})
    department = session.get(Department, department_id)
    if department is None or not department.active or department.kind == DepartmentKind.HUB:
        raise ValidationFailed(f"{label}无效", fields={field: "无效"})
    return department


def _transition(ctx: OpContext, order: WorkOrder, action: str, target: str | None = None) -> str:
    new_state = check_transition(action, order.state, target)
    authorize(ctx.actor, action, order)
    return new_state


def _owner_people(order: WorkOrder) -> list[Person]:
    people = [order.submitter]
    if order.enterprise is not None and order.enterprise.service_staff is not None:
        people.append(order.enterprise.service_staff)
    return [p for p in people if p is not None]


def _hub_group(ctx: OpContext, level: int) -> Department | None:
    return hub_department(ctx.session, ladder.hub_for_level(level))


def _hub_staff(ctx: OpContext, level: int) -> list[Person]:
    return hub_people(ctx.session, Role.BIZENV_OFFICE if level == 3 else Role.DISPATCHER)


def _announce_queue(ctx: OpContext, order: WorkOrder, event: WorkOrderEvent, why: str) -> None:
    """An order waiting in a hub's queue: tell the hub's people."""
    hub = _hub_group(ctx, order.level)
    ctx.notifier().status(order, hub, "group_queued", f"e{event.id}", why=why)


def _dispatch_to(ctx: OpContext, order: WorkOrder, department: Department, event_key: str) -> None:
    """Assign to a department, start its clock and blow the whistle."""
    order.assigned_department_id = department.id
    order.assigned_department = department
    order.assigned_person_id = None
    order.dispatched_at = ctx.now
    order.signed_at = None
    start_clock(ctx.session, order, ctx.now, needs_sign=True)
    helpers = chief_helpers(ctx.session, department.id, order.stage_id)
    ctx.notifier().whistle(order, department, helpers, event_key)


# --------------------------------------------------------------------------------------------
# Intake: create, screen, accept or refuse
# --------------------------------------------------------------------------------------------
def classify(session: Session, text: str) -> tuple[int | None, list[int]]:
    """Suggest a request domain and candidate departments from the text (the dispatcher decides)."""
    domains = [(d.id, d.keywords) for d in session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order))]
    departments = [
        (d.id, d.keywords)
        for d in session.scalars(
            select(Department).where(Department.active.is_(True), Department.kind != DepartmentKind.HUB)
            .order_by(Department.sort_order)
        )
    ]
    domain_rank = ladder.rank_by_keywords(text, domains)
    department_rank = ladder.rank_by_keywords(text, departments)
    return (domain_rank[0][0] if domain_rank else None), [d for d, _ in department_rank[:3]]


def screening_rules(session: Session) -> list[screening.RuleSpec]:
    rows = session.scalars(
        select(ScreeningRule).where(ScreeningRule.active.is_(True)).order_by(ScreeningRule.sort_order, ScreeningRule.id)
    )
    return [screening.RuleSpec.from_model(r) for r in rows]


def create_order(ctx: OpContext, data: NewOrder) -> WorkOrder:
    return submit_order(ctx, data).order


def _earlier_submission(ctx: OpContext, key: str, data: NewOrder, content: str) -> Submission | None:
    if not key or ctx.actor is None:
        return None
    earlier = ctx.session.scalar(select(WorkOrder).where(WorkOrder.submitter_id == ctx.actor.id,
                                                         WorkOrder.submission_key == key))
    if earlier is None:
        return None
    if earlier.enterprise_id != data.enterprise_id or earlier.content != content:
        raise Conflict(f"该提交编号已用于另一项诉求（工单 {earlier.number}），请刷新页面后重新提交")
    return Submission(earlier, replayed=True)


def order_form(session: Session, domain_id: int | None, stage_id: int | None = None, *, content: str = "",
               public_only: bool = False) -> tuple[RequestDomain | None, list[FieldDef]]:
    """The domain an order will have (chosen, or classified from ``content``) and its form's fields."""
    if domain_id is None and content.strip():
        domain_id, _ = classify(session, content.strip())
    domain = session.get(RequestDomain, domain_id) if domain_id is not None else None
    stage = session.get(ServiceStage, stage_id) if stage_id is not None else None
    if domain is None:
        return None, []
    fields = studio_store.runtime(session).form_fields(domain.name, stage.name if stage else None,
                                                       public_only=public_only)
    return domain, fields


def clean_form_values(session: Session, domain_id: int | None, stage_id: int | None, raw: dict, *,
                      public_only: bool = False) -> dict:
    """The custom-field values, validated against the domain's form; ``ValidationFailed`` naming the
    field's label (``fields`` keyed by field key) otherwise."""
    domain, definitions = order_form(session, domain_id, stage_id, public_only=public_only)
    if not isinstance(raw, dict):
        raise ValidationFailed("自定义字段应为“字段 → 值”的对象", fields={"fields": "格式不正确"})
    values, errors = clean_values(definitions, raw,
                                  enterprise_exists=lambda i: session.get(Enterprise, i) is not None)
    if errors:
        where = f"（{domain.name}）" if domain is not None else ""
        raise ValidationFailed(f"诉求表单{where}填写有误：" + "；".join(errors.values()), fields=errors)
    return values


def field_values(session: Session, order: WorkOrder) -> list[tuple[str, str, str]]:
    """(key, label, value as read) of the order's custom fields: in the current form's order, then
    any field removed since (labelled with its key, so its value stays readable)."""
    stored = dict(order.custom_fields or {})
    if not stored:
        return []
    forms = studio_store.runtime(session).forms
    domain = order.domain.name if order.domain is not None else None
    definitions: dict[str, FieldDef] = {}
    for name in [domain, *forms]:
        for raw in forms.get(name) or () if name else ():
            definition = FieldDef.from_dict(raw)
            definitions.setdefault(definition.key, definition)
    rows = []
    for key in [*definitions, *stored]:
        if key in stored and key not in {r[0] for r in rows}:
            definition = definitions.get(key)
            rows.append((key, definition.label if definition else key, display_value(definition, stored[key])))
    return rows


def order_contact(enterprise: Enterprise | None, data: NewOrder) -> dict[str, str]:
    """The enterprise contact an order keeps: what the submitter gave (the enterprise itself on the
    public form or a hotline call, the staff member's note otherwise), else the registry's contact."""
    name = (data.contact_name or "").strip()
    phone = (data.contact_phone or "").strip()
    if enterprise is not None and not phone:
        phone = (enterprise.contact_phone or "").strip()
        name = name or (enterprise.contact_name or "").strip()
    return {"contact_name": name[:64], "contact_phone": phone[:32],
            "contact_external_userid": (data.contact_external_userid or "").strip()[:64]}


def submit_order(ctx: OpContext, data: NewOrder) -> Submission:
    """Create an order, or find the one this same submission created before (``replayed``)."""
    session = ctx.session
    key = clean_submission_key(data.submission_key)
    earlier = _earlier_submission(ctx, key, data, (data.content or "").strip())
    if earlier is not None:
        return earlier
    if not can_create_order(ctx.actor):
        raise PermissionDenied("只有为企服务人员、片区管理员或区网格中心可以提交诉求")
    errors = {}
    content = (data.content or "").strip()
    if len(content) < MIN_CONTENT:
        errors["content"] = f"诉求内容至少 {MIN_CONTENT} 个字"
    elif len(content) > MAX_CONTENT:
        errors["content"] = f"诉求内容不能超过 {MAX_CONTENT} 字"
    enterprise = session.get(Enterprise, data.enterprise_id) if data.enterprise_id else None
    if enterprise is None:
        errors["enterprise_id"] = "请选择企业"
    if data.priority not in PRIORITIES:
        errors["priority"] = "紧急程度无效"
    if data.level not in ladder.LEVELS:
        errors["level"] = "响应层级无效"
    if data.domain_id is not None and session.get(RequestDomain, data.domain_id) is None:
        errors["domain_id"] = "诉求领域无效"
    if data.stage_id is not None and session.get(ServiceStage, data.stage_id) is None:
        errors["stage_id"] = "服务阶段无效"
    if errors:
        raise ValidationFailed("提交的信息不完整：" + "；".join(errors.values()), fields=errors)
    if data.level == 2 and data.department_id is not None:
        _department(session, data.department_id)
    if not can_submit_for(ctx.actor, enterprise):
        raise PermissionDenied("该企业不在您的片区，请联系企业所在片区的为企服务人员")

    domain_id, _ = classify(session, content) if data.domain_id is None else (data.domain_id, [])
    custom_values = clean_form_values(session, domain_id, data.stage_id, data.fields or {},
                                      public_only=data.public_fields_only)
    title = wording.shorten(data.title, 200) or wording.auto_title(content)
    party = party_of(enterprise, data.contact_phone)
    link_target = _duplicate_target(ctx, data.link_to, party, None) if (data.link_to or "").strip() else None
    matches = [] if link_target is not None else find_duplicates(session, party, content, ctx.now)
    shown = [m for m in matches if ctx.actor is None or can_view(ctx.actor, _order_of(session, m))]
    if shown and data.ask_on_duplicate:
        raise PossibleDuplicate(shown[:dup.MAX_SHOWN], duplicate_rule(session).window_days)
    zone_id = enterprise.zone_id or (ctx.actor.zone_id if ctx.actor else None)
    decision = None
    if data.auto_dispatch and data.department_id is None:
        decision = catalogue.decide_for(session, catalogue.facts(
            session, title=title, content=content, domain_id=domain_id, stage_id=data.stage_id, zone_id=zone_id,
            enterprise=enterprise, channel=ctx.channel))
        if decision is not None:
            data = _apply_decision(session, data, decision)
    order = WorkOrder(
        number=allocate_number(session, ctx.now),
        enterprise=enterprise,
        enterprise_id=enterprise.id,
        submitter_id=ctx.actor.id if ctx.actor else None,
        submitter=ctx.actor,
        zone_id=zone_id,
        channel=ctx.channel,
        domain_id=domain_id,
        stage_id=data.stage_id,
        title=title,
        content=content,
        **order_contact(enterprise, data),
        level=data.level,
        is_complex=data.is_complex,
        priority=data.priority,
        state=State.RECEIVED,
        created_at=ctx.now,
        submission_key=key if key and ctx.actor is not None else None,
        dispatch_rule=decision.rule_name[:60] if decision is not None else "",
        custom_fields=custom_values,
    )
    try:
        with session.begin_nested():
            session.add(order)
            session.flush()
    except IntegrityError:
        # The same submission, concurrently: the other request's order stands (its commit made
        # this insert fail), and this request answers with it.
        earlier = _earlier_submission(ctx, key, data, content) if key else None
        if earlier is None:
            raise
        return earlier
    if decision is not None:
        catalogue.count_hit(session, order.dispatch_rule, ctx.now)
    order = _complete_new_order(ctx, order, data, enterprise, title, content, decision)
    if link_target is not None:
        _link(ctx, order, link_target, "提交时由提交人关联")
    elif matches:
        listed = "、".join(f"{m.earlier.number}（相似度 {m.percent}%）" for m in matches[:dup.MAX_SHOWN])
        _record(ctx, order, Action.COMMENT, order.state, f"系统提示可能与 {listed} 重复，提交人选择作为新诉求提交",
                possible_duplicates=[m.earlier.number for m in matches[:dup.MAX_SHOWN]])
    return Submission(order, duplicates=tuple(shown[:dup.MAX_SHOWN]))


def _apply_decision(session: Session, data: NewOrder, decision: catalogue.Decision) -> NewOrder:
    """The submission as the catalogue's rule would have it filled in."""
    department = catalogue.department_named(session, decision.department)
    level = decision.level or (2 if department is not None else data.level)
    # A hub named as the department (区网格中心) means its dispatch queue, not a hand-over to it.
    target = department if level == 2 and department is not None and department.kind != DepartmentKind.HUB \
        else None
    return replace(data, level=level, department_id=target.id if target is not None else None,
                   priority=decision.priority or data.priority)


def _record_decision(ctx: OpContext, order: WorkOrder, data: NewOrder, decision: catalogue.Decision) -> None:
    lead = catalogue.department_named(ctx.session, decision.lead_department) if order.level == 3 else None
    parts = [decision.explain()]
    if data.department_id is not None:
        parts.append(f"承办部门：{decision.department}")
    if lead is not None:
        parts.append(f"牵头部门：{lead.name}")
    if decision.note:
        parts.append(f"备注：{decision.note}")
    _record(ctx, order, Action.COMMENT, order.state, "；".join(parts), dispatch_rule=decision.rule_name,
            dispatch_department_id=data.department_id, green_channel=True if decision.green_channel else None,
            lead_department_id=lead.id if lead is not None else None)


def _catalogue_value(order: WorkOrder, key: str) -> Any:
    """What the catalogue decided at intake (kept on its event for an order accepted later)."""
    if not order.dispatch_rule:
        return None
    for event in reversed(order.events):
        if event.action == Action.COMMENT and (event.data or {}).get("dispatch_rule") == order.dispatch_rule:
            return event.data.get(key)
    return None


def _complete_new_order(ctx: OpContext, order: WorkOrder, data: NewOrder, enterprise: Enterprise, title: str,
                        content: str, decision: catalogue.Decision | None = None) -> WorkOrder:
    session = ctx.session
    for item in data.attachments:
        order.attachments.append(
            Attachment(work_order_id=order.id, uploaded_by_id=order.submitter_id, created_at=ctx.now, **item)
        )
    note = wording.shorten(content, 200)
    shown = field_values(session, order)
    if shown:
        note += "\n" + "；".join(f"{label}：{value}" for _key, label, value in shown)
    _record(ctx, order, Action.CREATE, None, note, level=data.level, department_id=data.department_id)
    if decision is not None:
        _record_decision(ctx, order, data, decision)

    suggestion = screening.screen(f"{title}\n{content}", screening_rules(session))
    if suggestion is not None:
        order.screening_category = suggestion.category
        order.screening_reason = suggestion.reason
        order.screening_channel = suggestion.proper_channel
        event = _record(
            ctx, order, Action.COMMENT, State.RECEIVED,
            f"甄别建议：{suggestion.category_label}（命中：{'、'.join(suggestion.matched)}），请确认是否不予受理",
            screening=suggestion.category,
        )
        ctx.notifier().notify(
            [ctx.actor] if ctx.actor else hub_people(session, Role.DISPATCHER), order, "order_screening",
            f"e{event.id}", category=suggestion.category_label,
        )
        return order
    if data.await_confirmation:
        event = _record(ctx, order, Action.COMMENT, State.RECEIVED, "企业自助提交，待为企服务人员核实受理")
        staff = enterprise.service_staff
        recipients = [staff] if staff is not None and staff.active else hub_people(session, Role.DISPATCHER)
        ctx.notifier().notify(recipients, order, "order_self_submitted", f"e{event.id}",
                              enterprise=enterprise.name, title=wording.sentence_body(title))
        return order
    _accept(ctx, order, department_id=data.department_id)
    return order


def _accept(ctx: OpContext, order: WorkOrder, *, department_id: int | None, note: str = "") -> None:
    if department_id is None and order.level == 2:
        department_id = _catalogue_value(order, "dispatch_department_id")
    route = ladder.initial_route(
        requested_level=order.level,
        is_complex=order.is_complex,
        key_industry=bool(order.enterprise and order.enterprise.is_key_industry),
        department_id=department_id,
    )
    from_state = order.state
    order.state = check_transition(Action.ACCEPT, from_state, route.state)
    order.level = route.level
    order.green_channel = route.green_channel or bool(_catalogue_value(order, "green_channel"))
    order.accepted_at = ctx.now
    if route.handled_by_submitter:
        order.assigned_person_id = ctx.actor.id if ctx.actor else order.submitter_id
        start_clock(ctx.session, order, ctx.now, needs_sign=False)
    event = _record(
        ctx, order, Action.ACCEPT, from_state, note or ladder.level_label(route.level),
        level=route.level, green_channel=order.green_channel or None, department_id=route.department_id,
    )
    # The enterprise hears it was accepted, with its order number and the progress link.
    enterprise_messages.tell(ctx.notifier(), order, "accepted", f"accepted:{order.id}", base_url=ctx.base_url,
                             urgent=True)
    if route.department_id is not None:
        _dispatch_to(ctx, order, _department(ctx.session, route.department_id), f"e{event.id}")
    elif route.hub is not None:
        start_clock(ctx.session, order, ctx.now, needs_sign=False)
        _announce_queue(ctx, order, event, "绿色通道直达区级会商" if route.green_channel else
                        (f"派单目录「{order.dispatch_rule}」" if order.dispatch_rule else ""))


def confirm_screening(ctx: OpContext, order: WorkOrder, *, decision: str, reason: str = "") -> WorkOrder:
    """A person decides on the screening suggestion: refuse the order, or override and accept it."""
    order = _lock(ctx, order)
    if order.state != State.RECEIVED:
        raise Conflict(f"工单 {order.number} 已完成甄别")
    if decision == "reject":
        return reject(ctx, order, category=order.screening_category, reason=order.screening_reason or reason,
                      proper_channel=order.screening_channel)
    if decision != "override":
        raise ValidationFailed("甄别结论只能是 不予受理 或 推翻建议继续受理")
    authorize(ctx.actor, Action.ACCEPT, order)
    reason = screening.require_override_reason(reason)
    order.screening_decision = "overridden"
    order.screening_override_reason = reason
    _accept(ctx, order, department_id=None, note=f"推翻甄别建议继续受理：{reason}")
    return order


def confirm_request(ctx: OpContext, order: WorkOrder, *, note: str = "") -> WorkOrder:
    """The service staff member confirms an enterprise's own request: accepted and routed as usual."""
    order = _lock(ctx, order)
    if order.state != State.RECEIVED:
        raise Conflict(f"工单 {order.number} 已受理或已处理")
    if order.screening_category:
        raise Conflict(f"工单 {order.number} 有甄别提示，请在工单页面确认甄别结论")
    authorize(ctx.actor, Action.ACCEPT, order)
    _accept(ctx, order, department_id=None, note=note.strip() or "已与企业核实，确认受理")
    return order


def reject(
    ctx: OpContext, order: WorkOrder, *, category: str | None, reason: str, proper_channel: str = ""
) -> WorkOrder:
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.REJECT)
    if category not in screening.CATEGORIES:
        raise ValidationFailed("请选择不予受理的类别", fields={"category": "必选"})
    reason = _require_text(reason, "reason", "不予受理的理由")
    order.state = new_state
    rule = next((r for r in screening_rules(ctx.session) if r.category == category), None)
    channel_text = (proper_channel or (rule.proper_channel if rule else "")).strip()
    order.screening_category = category
    order.screening_decision = "confirmed"
    order.reject_reason = reason
    order.reject_channel = channel_text
    message = screening.rejection_message(category, reason, channel_text)
    event = _record(ctx, order, Action.REJECT, from_state, message, category=category)
    ctx.notifier().notify(_owner_people(order), order, "order_rejected", f"e{event.id}", message=message)
    return order


# --------------------------------------------------------------------------------------------
# Dispatch, sign, return, transfer
# --------------------------------------------------------------------------------------------
def dispatch(
    ctx: OpContext, order: WorkOrder, *, department_id: int | None, note: str = "", designate: bool = False
) -> WorkOrder:
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.DISPATCH)
    department = _department(ctx.session, department_id)
    max_returns = system_settings.max_returns(ctx.session)
    if order.return_count >= max_returns:
        if ctx.actor is not None and ctx.actor.role not in (Role.DISPATCHER, Role.SYSADMIN):
            raise PermissionDenied(f"该工单已被退回 {order.return_count} 次，须由区网格中心指定承办")
        designate = True
    order.state = new_state
    order.designated = designate
    if order.level == 1:
        order.level = 2  # a department now handles it: 部门协调办理
    event = _record(
        ctx, order, Action.DISPATCH, from_state, note.strip(),
        department_id=department.id, department=department.display_name, designated=designate or None,
    )
    _dispatch_to(ctx, order, department, f"e{event.id}")
    ctx.notifier().notify(_owner_people(order), order, "order_dispatched", f"e{event.id}",
                          department=department.display_name, designated=bool(designate))
    return order


def sign(ctx: OpContext, order: WorkOrder) -> WorkOrder:
    """报到: the first chief helper to report takes the order; everyone else is told who did."""
    order = _lock(ctx, order)
    if order.state != State.DISPATCHED and order.signed_at is not None and order.assigned_person is not None:
        taker = order.assigned_person
        raise Conflict(
            f"工单 {order.number} 已由 {taker.name} 于 {local_time(order.signed_at)} 报到",
            code="already_signed",
        )
    from_state = order.state
    order.state = _transition(ctx, order, Action.SIGN)
    order.assigned_person_id = ctx.actor.id if ctx.actor else None
    order.assigned_person = ctx.actor
    order.signed_at = ctx.now
    late = order.sign_due_at is not None and ctx.now > order.sign_due_at
    event = _record(ctx, order, Action.SIGN, from_state, "超时报到" if late else "", late=late or None)
    department = order.assigned_department
    notifier = ctx.notifier()
    key = f"e{event.id}"
    helpers = chief_helpers(ctx.session, department.id, order.stage_id)
    notifier.close_cards(order, notifier.render("card_closed_signed", order, person=ctx.actor.name if ctx.actor else "系统"),
                         key, department, helpers)
    notifier.status(order, department, "group_signed", key, actor=ctx.actor_label, due=local_time(order.due_at))
    notifier.notify(_owner_people(order), order, "order_signed", key, actor=ctx.actor_label,
                    due=local_time(order.due_at))
    return order


def return_order(ctx: OpContext, order: WorkOrder, *, reason: str) -> WorkOrder:
    """退单: a wrongly assigned order goes back to the hub, always with a reason, within the window."""
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.RETURN)
    reason = _require_text(reason, "reason", "退回理由", 4)
    if order.designated:
        raise ValidationFailed("该工单由区网格中心指定承办，不能退回；如有困难请申请延期或升级")
    rule = rule_for(ctx.session, order)
    window = rule.return_limit_workdays_complex if order.is_complex else rule.return_limit_workdays
    if order.dispatched_at is not None:
        limit = load_calendar(ctx.session).add_workdays(order.dispatched_at, window)
        if ctx.now > limit:
            raise ValidationFailed(f"已超过退单时限（派单后 {window} 个工作日内），请办理或申请转办、延期")
    department = order.assigned_department
    order.state = new_state
    order.return_count += 1
    order.assigned_department_id = None
    order.assigned_department = None
    order.assigned_person_id = None
    order.assigned_person = None
    order.sign_due_at = None
    max_returns = system_settings.max_returns(ctx.session)
    event = _record(
        ctx, order, Action.RETURN, from_state, reason,
        department_id=department.id if department else None, return_count=order.return_count,
    )
    key = f"e{event.id}"
    if department is not None:
        helpers = chief_helpers(ctx.session, department.id, order.stage_id)
        label = ctx.notifier().render("card_closed_returned", order, person=ctx.actor.name if ctx.actor else "系统")
        ctx.notifier().close_cards(order, label, key, department, helpers)
        ctx.notifier().status(order, department, "group_returned", key, actor=ctx.actor_label, reason=reason)
    must_designate = order.return_count >= max_returns
    _announce_queue(
        ctx, order, event,
        f"被 {department.display_name if department else ''} 退回（第 {order.return_count} 次）：{reason}"
        + ("。已达退单上限，请区网格中心指定承办" if must_designate else ""),
    )
    return order


def transfer(ctx: OpContext, order: WorkOrder, *, department_id: int | None, reason: str) -> WorkOrder:
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.TRANSFER)
    reason = _require_text(reason, "reason", "转办理由", 2)
    target = _department(ctx.session, department_id, label="转办部门")
    previous = order.assigned_department
    if previous is not None and previous.id == target.id:
        raise ValidationFailed("不能转办给当前承办部门")
    order.state = new_state
    if order.level == 1:
        order.level = 2
    event = _record(
        ctx, order, Action.TRANSFER, from_state, reason,
        department_id=target.id, department=target.display_name,
        from_department_id=previous.id if previous else None,
    )
    key = f"e{event.id}"
    if previous is not None:
        helpers = chief_helpers(ctx.session, previous.id, order.stage_id)
        label = ctx.notifier().render("card_closed_transferred", order, department=target.name)
        ctx.notifier().close_cards(order, label, key, previous, helpers)
        ctx.notifier().status(order, previous, "group_transferred", key, department=target.display_name, reason=reason)
    _dispatch_to(ctx, order, target, key)
    return order


# --------------------------------------------------------------------------------------------
# Handling: reply, suspend/resume, extension, resolve
# --------------------------------------------------------------------------------------------
def reply(ctx: OpContext, order: WorkOrder, *, text: str) -> WorkOrder:
    order = _lock(ctx, order)
    _transition(ctx, order, Action.REPLY)
    text = _require_text(text, "text", "答复内容")
    event = _record(ctx, order, Action.REPLY, order.state, text)
    ctx.notifier().notify(_owner_people(order), order, "order_progress", f"e{event.id}", actor=ctx.actor_label, text=text)
    return order


def suspend(ctx: OpContext, order: WorkOrder, *, reason: str) -> WorkOrder:
    """挂起: waiting on the enterprise; the clock stops until resumed."""
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.SUSPEND)
    order.suspend_reason = _require_text(reason, "reason", "挂起原因", 4)
    order.state = new_state
    order.suspended_at = ctx.now
    event = _record(ctx, order, Action.SUSPEND, from_state, order.suspend_reason)
    ctx.notifier().notify(_owner_people(order), order, "order_suspended", f"e{event.id}", reason=order.suspend_reason)
    return order


def resume(ctx: OpContext, order: WorkOrder, *, note: str = "") -> WorkOrder:
    order = _lock(ctx, order)
    from_state = order.state
    order.state = _transition(ctx, order, Action.RESUME)
    calendar = load_calendar(ctx.session)
    paused = order.suspended_at
    if order.due_at is not None and paused is not None:
        order.due_at = sla.resume_deadline(calendar, order.due_at, paused, ctx.now)
        if order.clock_started_at is not None:
            # Shift the start as well: the 50 %/80 % reminders count handling time, not the pause.
            order.clock_started_at = sla.resume_deadline(calendar, order.clock_started_at, paused, ctx.now)
    order.suspended_at = None
    order.suspend_reason = ""
    _record(ctx, order, Action.RESUME, from_state, note.strip(), paused_since=paused.isoformat() if paused else None)
    return order


def request_extension(ctx: OpContext, order: WorkOrder, *, days: int, reason: str) -> ExtensionRequest:
    order = _lock(ctx, order)
    _transition(ctx, order, Action.REQUEST_EXTENSION)
    if not isinstance(days, int) or not 1 <= days <= 30:
        raise ValidationFailed("延期天数须为 1–30 个工作日", fields={"days": "1–30"})
    reason = _require_text(reason, "reason", "延期理由", 4)
    if order.due_at is not None and ctx.now >= order.due_at:
        raise ValidationFailed("工单已超期，不能再申请延期；请尽快办理或申请升级")
    if any(r.status == "pending" for r in order.extension_requests):
        raise Conflict("已有待审批的延期申请")
    request = ExtensionRequest(
        work_order_id=order.id, requested_by_id=ctx.actor.id if ctx.actor else None,
        days=days, reason=reason, created_at=ctx.now,
    )
    ctx.session.add(request)
    order.extension_requests.append(request)
    event = _record(ctx, order, Action.REQUEST_EXTENSION, order.state, reason, days=days)
    ctx.notifier().notify(hub_people(ctx.session, Role.DISPATCHER), order, "order_extension_requested", f"e{event.id}",
                          actor=ctx.actor_label, days=days, reason=reason)
    return request


def decide_extension(ctx: OpContext, order: WorkOrder, *, approve: bool, note: str = "") -> WorkOrder:
    order = _lock(ctx, order)
    _transition(ctx, order, Action.DECIDE_EXTENSION)
    request = next((r for r in order.extension_requests if r.status == "pending"), None)
    if request is None:
        raise NotFound("没有待审批的延期申请")
    if not approve:
        note = _require_text(note, "note", "不同意延期的理由", 2)
    request.status = "approved" if approve else "denied"
    request.decided_by_id = ctx.actor.id if ctx.actor else None
    request.decided_at = ctx.now
    request.decision_note = note.strip()
    if approve and order.due_at is not None:
        order.due_at = sla.extend_deadline(load_calendar(ctx.session), order.due_at, request.days)
        order.deadline_version += 1  # reminders count again against the new deadline
    event = _record(
        ctx, order, Action.DECIDE_EXTENSION, order.state, note.strip(),
        approved=approve, days=request.days, due_at=order.due_at.isoformat() if order.due_at else None,
    )
    ctx.notifier().notify([request.requested_by], order, "order_extension_decided", f"e{event.id}",
                          days=request.days, approved=bool(approve), due=local_time(order.due_at), note=note)
    return order


def resolve(ctx: OpContext, order: WorkOrder, *, result: str) -> WorkOrder:
    """办结: the handler records the result; the service staff member then tells the enterprise."""
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.RESOLVE)
    order.result = _require_text(result, "result", "办理结果", 4)
    order.state = new_state
    order.resolved_at = ctx.now
    overdue = order.due_at is not None and ctx.now > order.due_at
    event = _record(ctx, order, Action.RESOLVE, from_state, order.result, overdue=overdue or None)
    key = f"e{event.id}"
    ctx.notifier().notify(_owner_people(order), order, "order_resolved", key, result=order.result)
    ctx.notifier().status(order, order.assigned_department, "group_resolved", key, result=order.result)
    hotline_callbacks.resolved(ctx.session, ctx.channels, order, key, ctx.now)
    return order


# --------------------------------------------------------------------------------------------
# Feedback, return visit, reopen, archive
# --------------------------------------------------------------------------------------------
def feedback(ctx: OpContext, order: WorkOrder, *, note: str = "") -> WorkOrder:
    order = _lock(ctx, order)
    from_state = order.state
    order.state = _transition(ctx, order, Action.FEEDBACK)
    order.feedback_note = note.strip()
    order.feedback_at = ctx.now
    order.survey_token = order.survey_token or secrets.token_urlsafe(24)
    event = _record(ctx, order, Action.FEEDBACK, from_state, order.feedback_note or "已将办理结果反馈企业")
    notifier = ctx.notifier()
    enterprise_messages.tell(notifier, order, "result", f"e{event.id}", base_url=ctx.base_url)
    # Duplicates merged into this order are answered with it, once per contact number.
    told = {enterprise_messages.normalise_mobile(order.contact_phone)}
    for merged in merged_orders(order):
        mobile = enterprise_messages.normalise_mobile(merged.contact_phone)
        if mobile and mobile not in told:
            told.add(mobile)
            enterprise_messages.tell(notifier, merged, "result", f"e{event.id}:merged{merged.id}",
                                     base_url=ctx.base_url, result=wording.shorten(order.result or "", 200))
    return order


def visit(
    ctx: OpContext, order: WorkOrder, *, satisfaction: str, resolved: bool = True, comment: str = "",
    method: str = "phone",
) -> WorkOrder:
    """回访: record the enterprise's rating; a rating below 基本满意 reopens the order once."""
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.VISIT)
    if satisfaction not in Satisfaction.ALL:
        raise ValidationFailed("请选择满意度", fields={"satisfaction": "必选"})
    positive = satisfaction in Satisfaction.POSITIVE
    comment = comment.strip()
    if not positive and len(comment) < 2:
        raise ValidationFailed("评价为不满意时必须填写意见", fields={"comment": "必填"})
    order.state = new_state
    round_no = len(order.visits) + 1
    order.visits.append(
        ReturnVisit(
            work_order_id=order.id, round=round_no, satisfaction=satisfaction, resolved=resolved and positive,
            comment=comment, method=method, recorded_by_id=ctx.actor.id if ctx.actor else None, created_at=ctx.now,
        )
    )
    order.visited_at = ctx.now
    event = _record(ctx, order, Action.VISIT, from_state, comment, satisfaction=satisfaction, round=round_no,
                    method=method)
    if positive:
        _archive(ctx, order, "回访满意，归档")
    elif order.reopen_count == 0:
        _reopen(ctx, order, f"回访{satisfaction}：{comment}", f"e{event.id}")
    else:
        ctx.notifier().notify(hub_people(ctx.session, Role.DISPATCHER), order, "order_revisit_unsatisfied",
                              f"e{event.id}", satisfaction=satisfaction, comment=wording.sentence(comment))
    return order


def _reopen(ctx: OpContext, order: WorkOrder, note: str, key: str) -> None:
    from_state = order.state
    order.reopen_count += 1
    order.result = ""
    order.resolved_at = None
    order.feedback_at = None
    order.survey_sent_at = None
    order.survey_reminded_at = None
    # The token stays: the enterprise's link says its rating was received and the order is being
    # handled again, and once the order is fed back again the same link takes the next rating.
    order.state = check_transition(Action.REOPEN, from_state, State.PROCESSING)
    start_clock(ctx.session, order, ctx.now, needs_sign=False)
    event = _record(ctx, order, Action.REOPEN, from_state, note)
    handlers = [order.assigned_person] if order.assigned_person else []
    ctx.notifier().notify(handlers, order, "order_reopened", f"e{event.id}", note=note, due=local_time(order.due_at))
    ctx.notifier().status(order, order.assigned_department, "group_reopened", f"e{event.id}", note=note)
    del key


def reopen(ctx: OpContext, order: WorkOrder, *, reason: str) -> WorkOrder:
    order = _lock(ctx, order)
    _transition(ctx, order, Action.REOPEN, State.PROCESSING)
    _reopen(ctx, order, _require_text(reason, "reason", "重办理由"), "manual")
    return order


def _archive(ctx: OpContext, order: WorkOrder, note: str) -> None:
    from_state = order.state
    order.state = check_transition(Action.ARCHIVE, from_state)
    order.archived_at = ctx.now
    _record(ctx, order, Action.ARCHIVE, from_state, note)


def archive(ctx: OpContext, order: WorkOrder, *, note: str = "") -> WorkOrder:
    order = _lock(ctx, order)
    _transition(ctx, order, Action.ARCHIVE)
    if order.state == State.FED_BACK:
        note = _require_text(note, "note", "未回访即归档的说明（如：多次回访无应答）")
    _archive(ctx, order, note.strip() or "归档")
    return order


# --------------------------------------------------------------------------------------------
# The ladder: escalate, level-3 consultation, city escalation, supervision
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CityInfo:
    route: str  # 12345 | city_department
    city_department: str = ""
    city_reference: str = ""
    city_deadline: date | None = None
    note: str = ""


def escalate(
    ctx: OpContext, order: WorkOrder, *, reason: str, level: int | None = None,
    department_id: int | None = None, city: CityInfo | None = None,
) -> WorkOrder:
    order = _lock(ctx, order)
    from_state = order.state
    _transition(ctx, order, Action.ESCALATE, State.PENDING_DISPATCH)
    reason = _require_text(reason, "reason", "升级理由", 4)
    target = ladder.escalation_target(order.level, level)
    if target == 4:
        if city is None or city.route not in ladder.CITY_ROUTES:
            raise ValidationFailed("市级提级须选择渠道：市12345企业服务专席或市级部门", fields={"route": "必选"})
        if city.route == "city_department" and not city.city_department.strip():
            raise ValidationFailed("请填写市级部门名称", fields={"city_department": "必填"})
    target_department = (
        _department(ctx.session, department_id) if target == 2 and department_id is not None else None
    )
    previous = order.assigned_department
    order.level = target
    order.assigned_person_id = None
    order.assigned_person = None
    if target == 4:
        order.city_escalations.append(
            CityEscalation(
                work_order_id=order.id, route=city.route, city_department=city.city_department.strip(),
                city_reference=city.city_reference.strip(), city_deadline=city.city_deadline,
                note=city.note.strip(), escalated_by_id=ctx.actor.id if ctx.actor else None, created_at=ctx.now,
            )
        )
        # The zone or department that escalated keeps tracking the city's handling to the end.
        order.state = check_transition(Action.ESCALATE, from_state, State.PROCESSING)
        if previous is None:
            order.assigned_person_id = ctx.actor.id if ctx.actor else order.submitter_id
        start_clock(ctx.session, order, ctx.now, needs_sign=False)
        event = _record(
            ctx, order, Action.ESCALATE, from_state, reason, level=4, route=city.route,
            city_reference=city.city_reference or None, city_department=city.city_department or None,
        )
        ctx.notifier().notify(_owner_people(order), order, "order_escalated_city", f"e{event.id}",
                              route=ladder.CITY_ROUTES[city.route], city_department=city.city_department or "",
                              city_reference=city.city_reference or "")
        hotline_callbacks.escalated(ctx.session, ctx.channels, order, order.city_escalations[-1], reason,
                                    f"e{event.id}", ctx.now)
        return order
    if previous is not None:
        order.assigned_department_id = None
        order.assigned_department = None
    if target_department is not None:
        order.state = check_transition(Action.ESCALATE, from_state, State.DISPATCHED)
        event = _record(ctx, order, Action.ESCALATE, from_state, reason, level=2, department_id=department_id)
        _dispatch_to(ctx, order, target_department, f"e{event.id}")
        return order
    order.state = check_transition(Action.ESCALATE, from_state, State.PENDING_DISPATCH)
    order.sign_due_at = None
    event = _record(
        ctx, order, Action.ESCALATE, from_state, reason, level=target,
        from_department_id=previous.id if previous else None,
    )
    start_clock(ctx.session, order, ctx.now, needs_sign=False)
    _announce_queue(ctx, order, event, f"升级：{reason}")
    return order


def record_city_reference(
    ctx: OpContext, order: WorkOrder, *, city_reference: str, city_deadline: date | None = None, note: str = ""
) -> WorkOrder:
    """The 12345 number (and deadline) often arrive after the escalation; keep tracking against them."""
    order = _lock(ctx, order)
    _transition(ctx, order, Action.COMMENT)
    if not can_track_city(ctx.actor, order):
        raise PermissionDenied(f"您无权登记工单 {order.number} 的市级编号与时限（仅区网格中心、营商环境办及工单的承办、提交方可登记）")
    if order.level != 4 or not order.city_escalations:
        raise ValidationFailed("只有市级提级办理的工单可以登记市级编号")
    record = order.city_escalations[-1]
    record.city_reference = _require_text(city_reference, "city_reference", "市级工单编号", 3)
    if city_deadline is not None:
        record.city_deadline = city_deadline
        start_clock(ctx.session, order, ctx.now, needs_sign=False)
    _record(ctx, order, Action.COMMENT, order.state, note.strip() or f"登记市级编号 {record.city_reference}",
            city_reference=record.city_reference)
    return order


def lead_department_for(order: WorkOrder) -> Department | None:
    """Level 3 default lead: the one the 派单目录 named at intake, else the department that leads
    the order's service stage."""
    lead_id = _catalogue_value(order, "lead_department_id")
    if lead_id is not None:
        lead = object_session(order).get(Department, lead_id)
        if lead is not None:
            return lead
    return order.stage.lead_department if order.stage is not None else None


def joint_meeting(
    ctx: OpContext, order: WorkOrder, *, held_on: date, department_ids: list[int], decisions: str,
    lead_department_id: int | None,
) -> WorkOrder:
    """联席会议: record who met and what was decided, and hand the order to the lead department."""
    order = _lock(ctx, order)
    from_state = order.state
    _transition(ctx, order, Action.JOINT_MEETING, State.DISPATCHED)
    if order.level != 3:
        raise ValidationFailed("联席会商只适用于区级会商办理的工单")
    decisions = _require_text(decisions, "decisions", "会商意见", 4)
    departments = [_department(ctx.session, d, label="参会部门", field="department_ids")
                   for d in dict.fromkeys(department_ids)]
    if len(departments) < 2:
        raise ValidationFailed("联席会商至少需要两个参会部门", fields={"department_ids": "至少两个"})
    lead = _department(ctx.session, lead_department_id, label="牵头部门", field="lead_department_id")
    meeting = JointMeeting(
        work_order_id=order.id, held_on=held_on, convened_by_id=ctx.actor.id if ctx.actor else None,
        decisions=decisions, created_at=ctx.now, departments=departments,
    )
    order.joint_meetings.append(meeting)
    order.state = check_transition(Action.JOINT_MEETING, from_state, State.DISPATCHED)
    event = _record(
        ctx, order, Action.JOINT_MEETING, from_state, decisions, department_id=lead.id,
        departments=[d.id for d in departments], held_on=held_on.isoformat(),
    )
    key = f"e{event.id}"
    _dispatch_to(ctx, order, lead, key)
    for department in departments:
        if department.id != lead.id:
            ctx.notifier().status(order, department, "group_joint", key, lead=lead.display_name, decisions=decisions)
    return order


def supervise(ctx: OpContext, order: WorkOrder, *, note: str) -> WorkOrder:
    """督办 by a person (the SLA job sends its own automatic notices)."""
    return _tell_whoever_handles(ctx, order, Action.SUPERVISE, note, "督办意见", "group_supervised",
                                 "order_supervised", kind="supervise")


def instruct(ctx: OpContext, order: WorkOrder, *, note: str) -> WorkOrder:
    """领导批示: a district leader's instruction, kept on the order and pushed to whoever handles it."""
    return _tell_whoever_handles(ctx, order, Action.INSTRUCT, note, "批示内容", "group_instructed",
                                 "order_instructed")


def _tell_whoever_handles(ctx: OpContext, order: WorkOrder, action: str, note: str, label: str, group_template: str,
                          notice_template: str, *, kind: str = "notice") -> WorkOrder:
    """Record ``note`` as ``action`` and push it to whoever handles the order: the department's group,
    its chief helpers and the person handling it, else the hub whose queue it waits in."""
    order = _lock(ctx, order)
    _transition(ctx, order, action)
    note = _require_text(note, "note", label)
    event = _record(ctx, order, action, order.state, note)
    key = f"e{event.id}"
    targets = [order.assigned_person] if order.assigned_person else []
    if order.assigned_department is not None:
        targets += chief_helpers(ctx.session, order.assigned_department.id, order.stage_id)
        ctx.notifier().status(order, order.assigned_department, group_template, key, actor=ctx.actor_label,
                              note=note)
    elif order.state == State.PENDING_DISPATCH:
        targets += _hub_staff(ctx, order.level)
    ctx.notifier().notify(targets, order, notice_template, key, kind=kind, actor=ctx.actor_label, note=note)
    return order


def instructions(order: WorkOrder) -> list[WorkOrderEvent]:
    """The order's 批示, oldest first (shown above the timeline)."""
    return [e for e in order.events if e.action == Action.INSTRUCT]


MAX_ADDED_ATTACHMENTS = 10


_LOCATION = re.compile(r"^-?\d{1,2}\.\d{1,8},-?\d{1,3}\.\d{1,8}$")


def add_attachments(ctx: OpContext, order: WorkOrder, *, records: tuple[dict, ...], note: str = "",
                    location: str = "") -> WorkOrder:
    """Files (photos on site, a scanned reply…) added to an order by anyone who may comment on it,
    kept on the timeline as a 备注 naming them; ``location`` ("纬度,经度", from the phone's
    positioning inside the WeCom or DingTalk client) says where they were taken."""
    location = (location or "").strip()
    if location and not _LOCATION.match(location):
        raise ValidationFailed("定位信息格式不正确，请重新定位或不附定位", fields={"location": "格式不正确"})
    order = _lock(ctx, order)
    _transition(ctx, order, Action.COMMENT)
    if not records:
        raise ValidationFailed("请选择要上传的文件或照片", fields={"attachments": "必选"})
    if len(records) > MAX_ADDED_ATTACHMENTS:
        raise ValidationFailed(f"一次最多上传 {MAX_ADDED_ATTACHMENTS} 个文件", fields={"attachments": "过多"})
    for item in records:
        order.attachments.append(Attachment(work_order_id=order.id, uploaded_by_id=ctx.actor.id if ctx.actor else None,
                                            created_at=ctx.now, **item))
    names = "、".join(str(item.get("filename") or "") for item in records)
    text = f"补充附件 {len(records)} 个：{names}" + (f"\n{note.strip()}" if note and note.strip() else "")
    if location:
        text += f"\n拍摄位置（纬度,经度）：{location}"
    _record(ctx, order, Action.COMMENT, order.state, wording.shorten(text, 500), attachments=len(records),
            location=location or None)
    return order


def comment(ctx: OpContext, order: WorkOrder, *, text: str) -> WorkOrder:
    order = _lock(ctx, order)
    _transition(ctx, order, Action.COMMENT)
    _record(ctx, order, Action.COMMENT, order.state, _require_text(text, "text", "备注"))
    return order


# --------------------------------------------------------------------------------------------
# Duplicates (重复诉求): find, link, merge, split; a merged order's number leads to the earlier one
# --------------------------------------------------------------------------------------------
MAX_CANDIDATES = 200  # earlier orders of one party read for the similarity check
MAX_MERGE_DEPTH = 10
# The states in which an order may be linked to or merged into an earlier one (the transition table's).
MERGEABLE = tuple(sorted(TRANSITIONS[Action.MERGE].sources))


def duplicate_rule(session: Session) -> dup.DuplicateRule:
    threshold, window = system_settings.duplicate_rule(session)
    return dup.DuplicateRule(threshold_percent=threshold, window_days=window)


def party_of(enterprise: Enterprise | None, phone: str = "") -> dup.Party:
    if enterprise is None:
        return dup.Party(phone=phone or "")
    return dup.Party(enterprise_id=enterprise.id, uscc=enterprise.uscc or "", name=enterprise.name,
                     phone=phone or "")


def _earlier_of(order: WorkOrder) -> dup.Earlier:
    return dup.Earlier(id=order.id, number=order.number, party=party_of(order.enterprise, order.contact_phone),
                       text=f"{order.title}\n{order.content}", created_at=order.created_at, title=order.title,
                       state=order.state)


def _order_of(session: Session, match: dup.Match) -> WorkOrder:
    return session.get(WorkOrder, match.earlier.id)


def find_duplicates(session: Session, party: dup.Party, content: str, now: datetime, *,
                    exclude_id: int | None = None) -> list[dup.Match]:
    """Earlier orders (not refused, not merged) of the same party within the configured window whose
    content is as similar as configured, most similar first."""
    rule = duplicate_rule(session)
    clauses = []
    if party.enterprise_id is not None:
        clauses.append(WorkOrder.enterprise_id == party.enterprise_id)
    uscc = dup.normalise_uscc(party.uscc)
    if uscc:
        clauses.append(WorkOrder.enterprise_id.in_(select(Enterprise.id).where(Enterprise.uscc == uscc)))
    if party.name.strip():
        clauses.append(WorkOrder.enterprise_id.in_(select(Enterprise.id).where(Enterprise.name == party.name.strip())))
    phone = dup.normalise_phone(party.phone)
    if phone:
        clauses.append(WorkOrder.contact_phone.contains(phone[-4:]))
    if not clauses:
        return []
    query = (select(WorkOrder).where(or_(*clauses), WorkOrder.created_at >= rule.since(now),
                                     WorkOrder.state.not_in((State.REJECTED, State.MERGED)))
             .order_by(WorkOrder.created_at.desc()).limit(MAX_CANDIDATES))
    if exclude_id is not None:
        query = query.where(WorkOrder.id != exclude_id)
    earlier = [_earlier_of(o) for o in session.scalars(query)]
    return dup.find_duplicates(party, content, earlier, now=now, rule=rule)


def duplicates_of(session: Session, order: WorkOrder, viewer: Person | None) -> list[dup.Match]:
    """Earlier orders an existing order looks like (for the dispatcher's merge form)."""
    if order.state not in MERGEABLE:
        return []
    matches = find_duplicates(session, party_of(order.enterprise, order.contact_phone),
                              f"{order.title}\n{order.content}", order.created_at, exclude_id=order.id)
    return [m for m in matches if viewer is None or can_view(viewer, _order_of(session, m))][:dup.MAX_SHOWN]


def follow_merges(order: WorkOrder) -> WorkOrder:
    """The order that carries ``order`` now: itself, or the one it was merged into (transitively)."""
    seen = {order.id}
    while order.merged_into is not None and len(seen) <= MAX_MERGE_DEPTH:
        order = order.merged_into
        if order.id in seen:
            break
        seen.add(order.id)
    return order


def resolve_number(session: Session, number_or_id: str | int) -> WorkOrder:
    """Look an order up by number (or id) the way people do: a merged order's number leads to the
    order it was merged into."""
    return follow_merges(get_order(session, number_or_id))


def merged_orders(order: WorkOrder) -> list[WorkOrder]:
    """The orders merged into ``order`` (and into those), oldest first."""
    session = object_session(order)
    found: list[WorkOrder] = []
    frontier = [order.id]
    while frontier and len(found) < 100:
        rows = list(session.scalars(select(WorkOrder).where(WorkOrder.merged_into_id.in_(frontier))
                                    .order_by(WorkOrder.id)))
        found += rows
        frontier = [r.id for r in rows]
    return sorted(found, key=lambda o: (o.created_at, o.id))


@dataclass(frozen=True)
class TimelineEntry:
    event: WorkOrderEvent
    number: str  # the order the event belongs to
    merged: bool  # an event of an order merged into this one


def timeline(order: WorkOrder) -> list[TimelineEntry]:
    """The order's events with those of the orders merged into it, oldest first."""
    entries = [TimelineEntry(e, order.number, False) for e in order.events]
    for other in merged_orders(order):
        entries += [TimelineEntry(e, other.number, True) for e in other.events]
    return sorted(entries, key=lambda t: (t.event.created_at, t.event.id))


def _duplicate_target(ctx: OpContext, ref: str | WorkOrder, party: dup.Party, order: WorkOrder | None) -> WorkOrder:
    """The earlier order ``ref`` names (a merged one: the order carrying it), checked: visible to the
    actor, of the same enterprise or caller, older than ``order``, neither refused nor ``order`` itself."""
    if isinstance(ref, WorkOrder):
        target = follow_merges(ref)
    else:
        text = (ref or "").strip()
        try:
            target = resolve_number(ctx.session, text)
        except NotFound:
            raise ValidationFailed(f"未找到工单 {text}", fields={"link_to": "未找到"}) from None
        if ctx.actor is not None and not can_view(ctx.actor, target):
            raise ValidationFailed(f"未找到工单 {text}", fields={"link_to": "未找到"})
    if order is not None and (target.id == order.id or follow_merges(target).id == order.id):
        raise ValidationFailed("不能关联或合并到本工单自身", fields={"link_to": "无效"})
    if order is not None and (target.created_at, target.id) > (order.created_at, order.id):
        raise ValidationFailed(f"工单 {target.number} 晚于本工单提交，请在 {target.number} 上操作，将其并入本工单",
                               fields={"link_to": "须为更早的工单"})
    if target.state in (State.REJECTED, State.MERGED):
        raise ValidationFailed(f"工单 {target.number} {State.LABELS[target.state]}，不能作为原诉求",
                               fields={"link_to": "无效"})
    if not dup.same_party(party, party_of(target.enterprise, target.contact_phone)):
        raise ValidationFailed(f"工单 {target.number} 不是同一企业（或同一来电号码）的诉求", fields={"link_to": "企业不同"})
    return target


def _link(ctx: OpContext, order: WorkOrder, earlier: WorkOrder, note: str) -> None:
    order.duplicate_of_id = earlier.id
    order.duplicate_of = earlier
    score = dup.similarity(f"{order.title}\n{order.content}", f"{earlier.title}\n{earlier.content}")
    text = f"与 {earlier.number} 为同一事项" + (f"：{note.strip()}" if note.strip() else "")
    _record(ctx, order, Action.LINK, order.state, text, duplicate_of=earlier.number, similarity=round(score * 100))
    _record(ctx, earlier, Action.LINK, earlier.state, f"{order.number} 关联为本单的重复诉求，待区网格中心合并",
            duplicate=order.number)


def link_duplicate(ctx: OpContext, order: WorkOrder, *, earlier: str, note: str = "") -> WorkOrder:
    """The submitter (or the grid center) says ``order`` repeats an earlier order: a relation the
    grid center then acts on (merge), the order itself goes on as it was."""
    order = _lock(ctx, order)
    _transition(ctx, order, Action.LINK)
    target = _duplicate_target(ctx, earlier, party_of(order.enterprise, order.contact_phone), order)
    if order.duplicate_of_id == target.id:
        raise Conflict(f"工单 {order.number} 已关联到 {target.number}")
    _link(ctx, order, target, note)
    return order


def merge(ctx: OpContext, order: WorkOrder, *, into: str | WorkOrder, reason: str = "") -> WorkOrder:
    """合并: ``order`` (the later duplicate) becomes part of the earlier order's history. It is closed
    as merged (its clock stops), its number leads to the earlier order, its events show on the
    earlier order's timeline, and its submitter and the enterprise's staff member are told once."""
    order = _lock(ctx, order)
    from_state = order.state
    new_state = _transition(ctx, order, Action.MERGE)
    target = _duplicate_target(ctx, into, party_of(order.enterprise, order.contact_phone), order)
    if target.state not in State.OPEN:
        raise ValidationFailed(
            f"工单 {target.number} {State.LABELS.get(target.state, target.state)}，不能再并入新的诉求；"
            "请按新诉求办理，或重办原工单", fields={"into": "原工单已办结归档"})
    target = _lock(ctx, target)
    reason = reason.strip()
    paused = order.suspended_at is None and order.due_at is not None
    if paused:
        order.suspended_at = ctx.now
    order.merged_into_id = target.id
    order.merged_into = target
    order.state = new_state
    event = _record(ctx, order, Action.MERGE, from_state, f"并入 {target.number}" + (f"：{reason}" if reason else ""),
                    into=target.number, into_id=target.id, prior_state=from_state, paused=paused or None)
    _record(ctx, target, Action.MERGE, target.state, f"{order.number} 并入本单" + (f"：{reason}" if reason else ""),
            merged=order.number, merged_id=order.id)
    key = f"merge{order.id}-e{event.id}"
    ctx.notifier().notify(_owner_people(order), target, "order_merged", key, merged_number=order.number,
                          reason=reason)
    ctx.notifier().status(order, order.assigned_department, "group_merged", key, into=target.number)
    audit.record(ctx.session, ctx.actor, "order.merge", "work_order", order.number,
                 {"into": target.number, "from": from_state, "reason": reason}, "", ctx.now)
    return order


def split(ctx: OpContext, order: WorkOrder, *, reason: str) -> WorkOrder:
    """拆分: undo a merge; the order returns to the state it had and handling continues where it
    stopped (the time spent merged does not count against its deadline)."""
    order = _lock(ctx, order)
    if order.state != State.MERGED or order.merged_into is None:
        raise InvalidTransition(f"工单 {order.number} 当前状态为「{State.LABELS.get(order.state, order.state)}」，"
                                "不是合并的工单，不能拆分")
    merged_at = next((e for e in reversed(order.events) if e.action == Action.MERGE
                      and (e.data or {}).get("into_id") == order.merged_into_id), None)
    prior = (merged_at.data or {}).get("prior_state") if merged_at is not None else None
    if prior not in MERGEABLE:
        prior = State.PENDING_DISPATCH
    new_state = _transition(ctx, order, Action.SPLIT, prior)
    reason = _require_text(reason, "reason", "拆分理由", 4)
    earlier = order.merged_into
    if merged_at is not None and (merged_at.data or {}).get("paused") and order.suspended_at is not None:
        paused = order.suspended_at
        calendar = load_calendar(ctx.session)
        if order.due_at is not None:
            order.due_at = sla.resume_deadline(calendar, order.due_at, paused, ctx.now)
        if order.clock_started_at is not None:
            order.clock_started_at = sla.resume_deadline(calendar, order.clock_started_at, paused, ctx.now)
        order.suspended_at = None
    order.merged_into_id = None
    order.merged_into = None
    order.state = new_state
    event = _record(ctx, order, Action.SPLIT, State.MERGED, f"从 {earlier.number} 拆分：{reason}",
                    out_of=earlier.number)
    _record(ctx, earlier, Action.SPLIT, earlier.state, f"{order.number} 从本单拆分，恢复独立办理：{reason}",
            split=order.number)
    ctx.notifier().notify(_owner_people(order), order, "order_split", f"split{order.id}-e{event.id}",
                          earlier_number=earlier.number, reason=reason)
    audit.record(ctx.session, ctx.actor, "order.split", "work_order", order.number,
                 {"out_of": earlier.number, "to": new_state, "reason": reason}, "", ctx.now)
    return order

