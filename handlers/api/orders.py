"""/api/v1/work-orders: list, create, detail and transitions."""

from __future__ import annotations

from flask import request
from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import selectinload

from handlers.api.actions import ACTIONS, allowed_for
from handlers.api.base import (
    BOOLEAN,
    INTEGER,
    OBJECT,
    STRING,
    Field,
    MalformedRequest,
    bp,
    caller,
    json_body,
    ok,
    parse_fields,
)
from handlers.context import db, now, op_context
from models import Department, Enterprise, Person, WorkOrder
from services import inputs
from services.errors import NotFound, ValidationFailed
from services.orders import operations as wo
from services.orders.deadlines import load_calendar
from services.orders.lifecycle import State
from services.orders.serializers import OVERDUE_STATES, order_detail, order_summary
from services.permissions import can_view, visible_orders_clause

PER_PAGE_DEFAULT = 20
PER_PAGE_MAX = 100
Q_MAX = 100

CREATE_FIELDS: tuple[Field, ...] = (
    Field("enterprise_id", INTEGER, "企业 ID", description="与 enterprise_uscc 二选一"),
    Field("enterprise_uscc", STRING, "企业统一社会信用代码", max_length=18, description="与 enterprise_id 二选一"),
    Field("content", STRING, "诉求内容", required=True, min_length=wo.MIN_CONTENT, max_length=wo.MAX_CONTENT,
          description=f"{wo.MIN_CONTENT}–{wo.MAX_CONTENT} 字"),
    Field("title", STRING, "标题", max_length=200, default="", description="缺省取内容首行"),
    Field("domain_id", INTEGER, "诉求领域 ID", description="缺省由系统按内容建议"),
    Field("stage_id", INTEGER, "服务阶段 ID"),
    Field("priority", STRING, "紧急程度", enum=tuple(wo.PRIORITIES), default="normal"),
    Field("is_complex", BOOLEAN, "是否复杂诉求", default=False, description="“2+3”企业的复杂诉求走绿色通道"),
    Field("level", INTEGER, "响应层级", minimum=1, maximum=4, default=1,
          description="与 department_id 都不填时由派单目录决定（无规则命中则为 1 级）"),
    Field("department_id", INTEGER, "部门 ID", description="部门协调办理（2 级）时直接吹哨派单到该部门"),
    Field("contact_name", STRING, "联系人", max_length=64, default=""),
    Field("contact_phone", STRING, "联系电话", max_length=32, default="", description="缺省取企业名录中的联系电话"),
    Field("contact_external_userid", STRING, "企业微信外部联系人 ID", max_length=64, default=""),
    Field("link_to", STRING, "关联的原工单号", max_length=40, default="",
          description="本诉求与该较早工单为同一事项（须为同一企业）：创建后记录关联，由区网格中心合并"),
    Field("fields", OBJECT, "自定义字段", default=None,
          description="诉求领域表单（配置中心 → 表单字段）的取值，键为字段键，如 {\"employees\": 12}；"
                      "必填字段缺失或取值不合规时返回 422，error.fields 以字段键指明，消息含字段名称"),
)

# One state or several, comma-separated (spaces around a comma allowed).
STATES_PATTERN = "^ *({0}) *(, *({0}) *)*$".format("|".join(State.ALL))
# Query parameters of the list, documented in the OpenAPI document from this same table.
LIST_PARAMETERS: tuple[Field, ...] = (
    Field("state", STRING, "状态", pattern=STATES_PATTERN, description="可用英文逗号分隔多个，取值：" + "、".join(State.ALL)),
    Field("level", INTEGER, "响应层级", minimum=1, maximum=4),
    Field("zone_id", INTEGER, "片区 ID"),
    Field("department_id", INTEGER, "承办部门 ID", description="含其下属单位"),
    Field("overdue", BOOLEAN, "是否超期", description="true 仅超期，false 仅未超期"),
    Field("green_channel", BOOLEAN, "是否绿色通道"),
    Field("q", STRING, "关键词", max_length=Q_MAX, description="匹配工单编号、标题或企业名称"),
    Field("page", INTEGER, "页码", minimum=1, default=1),
    Field("per_page", INTEGER, "每页条数", minimum=1, maximum=PER_PAGE_MAX, default=PER_PAGE_DEFAULT),
)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _query_args(args) -> dict:
    """Query strings are text: turn them into the typed values ``parse_fields`` checks."""
    body: dict = {}
    errors: dict[str, str] = {}
    for f in LIST_PARAMETERS:
        raw = args.get(f.name, "").strip()
        if raw == "":
            # Present but empty is only a value where the documented schema takes "" (free text).
            if f.name in args and (f.kind != STRING or f.pattern or f.enum):
                errors[f.name] = "不能为空"
            continue
        if f.kind == INTEGER:
            try:
                body[f.name] = inputs.parse_int(raw)
            except ValueError as reason:
                errors[f.name] = str(reason)
        elif f.kind == BOOLEAN:
            if raw.lower() in _TRUE | _FALSE:
                body[f.name] = raw.lower() in _TRUE
            else:
                errors[f.name] = "须为 true 或 false"
        else:
            body[f.name] = raw
    if errors:
        raise ValidationFailed("查询参数有误：" + "；".join(f"{k} {v}" for k, v in errors.items()), fields=errors)
    values = parse_fields(LIST_PARAMETERS, body)
    states = [s.strip() for s in values["state"].split(",")] if values["state"] else []
    unknown = [s or "（空）" for s in states if s not in State.ALL]
    if unknown:
        raise ValidationFailed(f"未知的状态：{'、'.join(unknown)}", fields={"state": "可选值：" + "、".join(State.ALL)})
    values["state"] = states
    return values


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(person: Person, f: dict, at):
    query = select(WorkOrder).where(visible_orders_clause(person))
    if f["state"]:
        query = query.where(WorkOrder.state.in_(f["state"]))
    if f["level"] is not None:
        query = query.where(WorkOrder.level == f["level"])
    if f["zone_id"] is not None:
        query = query.where(WorkOrder.zone_id == f["zone_id"])
    if f["department_id"] is not None:
        units = select(Department.id).where(Department.parent_id == f["department_id"])
        query = query.where(or_(WorkOrder.assigned_department_id == f["department_id"],
                                WorkOrder.assigned_department_id.in_(units)))
    if f["green_channel"] is not None:
        query = query.where(WorkOrder.green_channel == f["green_channel"])
    if f["overdue"] is not None:
        overdue = and_(WorkOrder.state.in_(OVERDUE_STATES), WorkOrder.due_at.is_not(None), WorkOrder.due_at < at)
        query = query.where(overdue if f["overdue"] else not_(overdue))
    if f["q"]:
        pattern = _like(f["q"].strip())
        names = select(Enterprise.id).where(Enterprise.name.ilike(pattern, escape="\\"))
        query = query.where(or_(
            WorkOrder.number.ilike(pattern, escape="\\"),
            WorkOrder.title.ilike(pattern, escape="\\"),
            WorkOrder.enterprise_id.in_(names),
        ))
    return query


@bp.get("/work-orders")
def list_orders():
    f = _query_args(request.args)
    session, person, at = db(), caller(), now()
    query = _filtered(person, f, at)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page, per_page = f["page"], f["per_page"]
    orders = session.scalars(
        query.options(
            selectinload(WorkOrder.enterprise), selectinload(WorkOrder.zone), selectinload(WorkOrder.domain),
            selectinload(WorkOrder.stage), selectinload(WorkOrder.assigned_department).selectinload(Department.parent),
            selectinload(WorkOrder.assigned_person),
        )
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    pages = (total + per_page - 1) // per_page
    return ok({
        "items": [order_summary(o, at) for o in orders],
        "pagination": {"page": page, "per_page": per_page, "total": total, "pages": pages, "has_next": page < pages},
    })


def _visible_order(number: str) -> WorkOrder:
    """The order if the caller may see it; otherwise "not found", so existence does not leak."""
    order = wo.get_order(db(), number)
    if not can_view(caller(), order):
        raise NotFound(f"未找到工单 {number}")
    return order


def _detail(order: WorkOrder, *, duplicates=None, resolved_from: str | None = None):
    session, person = db(), caller()
    if duplicates is None:
        duplicates = wo.duplicates_of(session, order, person)
    return order_detail(order, now(), allowed_actions=allowed_for(person, order), calendar=load_calendar(session),
                        possible_duplicates=duplicates, resolved_from=resolved_from)


def _enterprise_id(values: dict) -> int | None:
    if values["enterprise_id"] is not None:
        return values["enterprise_id"]
    uscc = (values["enterprise_uscc"] or "").strip().upper()
    if not uscc:
        raise ValidationFailed("请提供企业 ID（enterprise_id）或统一社会信用代码（enterprise_uscc）",
                               fields={"enterprise_id": "必填"})
    enterprise_id = db().scalar(select(Enterprise.id).where(Enterprise.uscc == uscc))
    if enterprise_id is None:
        raise ValidationFailed(f"未找到统一社会信用代码为 {uscc} 的企业", fields={"enterprise_uscc": "未找到"})
    return enterprise_id


def _idempotency_key() -> str:
    """The header, when sent, must hold a key (an empty one is a client bug, not "no key")."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not key.strip():
        raise ValidationFailed("Idempotency-Key 不能为空（不需要幂等时请不要发送该请求头）",
                               fields={"Idempotency-Key": "不能为空"})
    return key or ""


@bp.post("/work-orders")
def create_order():
    body = json_body()
    values = parse_fields(CREATE_FIELDS, body)
    data = wo.NewOrder(
        # Neither named: the 派单目录 decides (level 1 as before when no rule matches).
        auto_dispatch=body.get("level") is None and body.get("department_id") is None,
        submission_key=_idempotency_key(),
        enterprise_id=_enterprise_id(values),
        content=values["content"],
        title=values["title"],
        domain_id=values["domain_id"],
        stage_id=values["stage_id"],
        priority=values["priority"],
        is_complex=values["is_complex"],
        level=values["level"],
        department_id=values["department_id"],
        contact_name=values["contact_name"],
        contact_phone=values["contact_phone"],
        contact_external_userid=values["contact_external_userid"],
        fields=values["fields"] or {},
        link_to=values["link_to"],
    )
    submission = wo.submit_order(op_context("api", actor=caller()), data)
    order = submission.order
    headers = {"Location": f"{bp.url_prefix}/work-orders/{order.number}"}
    if submission.replayed:  # the same Idempotency-Key and body again: the order it created, nothing new
        return ok(_detail(order), 200, {**headers, "Idempotent-Replayed": "true"})
    return ok(_detail(order, duplicates=submission.duplicates), 201, headers)


@bp.get("/work-orders/<number>")
def order_detail_view(number: str):
    order = _visible_order(number)
    carrier = wo.follow_merges(order)  # a merged order's number leads to the order carrying it
    if carrier is not order and can_view(caller(), carrier):
        return ok(_detail(carrier, resolved_from=order.number))
    return ok(_detail(order))


@bp.post("/work-orders/<number>/transitions")
def transition(number: str):
    body = json_body()
    name = body.get("action")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("请指明操作 action", fields={"action": "必填"})
    spec = ACTIONS.get(name.strip())
    if spec is None:
        raise MalformedRequest(
            f"未知的操作：{name}。可用操作：{'、'.join(ACTIONS)}", code="unknown_action", fields={"action": "未知的操作"}
        )
    order = _visible_order(number)
    args = parse_fields(spec.fields, body, ignore=("action",))
    spec.run(op_context("api", actor=caller()), order, args)
    return ok(_detail(wo.get_order(db(), order.id)))
