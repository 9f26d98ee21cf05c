"""Orders from the 12345 / 86912345 platforms, their status for the platform, and the 12345 ledger.

The web handler (``handlers/hotline.py``) checks size and signature before calling anything here;
this module reads the ticket (``parse_ticket``: a missing or invalid field is a ``ValidationFailed``
naming it), takes it in once per (source, ticket id) (``receive``), and answers the platform's
status query (``status``). The order records channel ``hotline``, its ``source`` and the platform's
``external_ticket_id``; the enterprise is matched in the registry by USCC, then by name. A matched
ticket waits, received, for the enterprise's service staff member to confirm it (like an
enterprise's own request); an unmatched one goes to the grid center's dispatchers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from models import Enterprise, Role, WorkOrder
from services import inputs, wording
from services.errors import ValidationFailed
from services.messaging.notify import hub_people
from services.orders import operations as wo
from services.orders.lifecycle import Action, State
from services.registry import uscc as uscc_rules
from services.xlsx_export import Column, Sheet

SOURCES = {"12345": "市 12345 热线", "86912345": "区一号响应企业服务热线（86912345）"}
REQUIRED = ("source", "ticket_id", "received_at", "caller_name", "caller_phone", "enterprise_name", "content")
TICKET_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")
FIELD_LABELS = {"source": "来源", "ticket_id": "平台工单编号", "received_at": "受理时间", "caller_name": "来电人",
                "caller_phone": "来电号码", "enterprise_name": "企业名称", "uscc": "统一社会信用代码",
                "content": "诉求内容", "deadline": "办理时限"}


@dataclass(frozen=True)
class Ticket:
    source: str
    ticket_id: str
    received_at: datetime
    caller_name: str
    caller_phone: str
    enterprise_name: str
    content: str
    uscc: str = ""
    deadline: date | None = None


def _text(body: Mapping[str, Any], key: str, maximum: int, errors: dict[str, str], *, required: bool) -> str:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[key] = f"缺少必填字段 {key}（{FIELD_LABELS[key]}）"
        return ""
    if not isinstance(value, str):
        errors[key] = f"{key}（{FIELD_LABELS[key]}）必须是字符串"
        return ""
    value = value.strip()
    problem = inputs.text_problem(value)
    if problem:
        errors[key] = f"{key}（{FIELD_LABELS[key]}）{problem}"
    elif len(value) > maximum:
        errors[key] = f"{key}（{FIELD_LABELS[key]}）不能超过 {maximum} 个字符"
    return value


def _iso_datetime(raw: str) -> datetime | None:
    if not raw or not raw.isascii() or len(raw) > 40:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:  # the platform's wall clock is Beijing time
        value = value.replace(tzinfo=wo.LOCAL_TZ)
    if not 1900 <= value.year <= 2099:
        return None
    return value.astimezone(UTC)


def parse_ticket(body: Any) -> Ticket:
    """The ticket a JSON body carries; ``ValidationFailed`` (422) naming each missing or bad field."""
    if not isinstance(body, dict):
        raise ValidationFailed("请求体必须是 JSON 对象", fields={"body": "不是 JSON 对象"})
    errors: dict[str, str] = {}
    source = _text(body, "source", 16, errors, required=True)
    if source and "source" not in errors and source not in SOURCES:
        errors["source"] = "source（来源）只能是 12345 或 86912345"
    ticket_id = _text(body, "ticket_id", 64, errors, required=True)
    if ticket_id and "ticket_id" not in errors and not TICKET_ID.fullmatch(ticket_id):
        errors["ticket_id"] = "ticket_id（平台工单编号）只能由字母、数字和 _-.: 组成，最长 64 位"
    received_raw = _text(body, "received_at", 40, errors, required=True)
    received_at = _iso_datetime(received_raw)
    if received_raw and "received_at" not in errors and received_at is None:
        errors["received_at"] = "received_at（受理时间）须为 ISO 8601 时间，如 2026-03-02T09:30:00+08:00"
    caller_name = _text(body, "caller_name", 64, errors, required=True)
    caller_phone = _text(body, "caller_phone", 32, errors, required=True)
    enterprise_name = _text(body, "enterprise_name", 200, errors, required=True)
    content = _text(body, "content", wo.MAX_CONTENT, errors, required=True)
    if content and "content" not in errors and len(content) < wo.MIN_CONTENT:
        errors["content"] = f"content（诉求内容）至少 {wo.MIN_CONTENT} 个字"
    code = _text(body, "uscc", 18, errors, required=False).upper()
    if code and "uscc" not in errors and uscc_rules.problem(code):
        errors["uscc"] = f"uscc（统一社会信用代码）{uscc_rules.problem(code)}"
    deadline_raw = _text(body, "deadline", 10, errors, required=False)
    deadline = None
    if deadline_raw and "deadline" not in errors:
        try:
            deadline = inputs.parse_date(deadline_raw)
        except ValueError:
            errors["deadline"] = "deadline（办理时限）须为日期，如 2026-03-12"
    if errors:
        missing = [key for key in errors if errors[key].startswith("缺少")]
        head = f"缺少必填字段：{'、'.join(missing)}" if missing else "字段取值不正确"
        raise ValidationFailed(f"{head}（{'；'.join(errors.values())}）", fields=errors)
    assert received_at is not None
    return Ticket(source=source, ticket_id=ticket_id, received_at=received_at, caller_name=caller_name,
                  caller_phone=caller_phone, enterprise_name=enterprise_name, content=content, uscc=code,
                  deadline=deadline)


def find_order(session: Session, source: str, ticket_id: str) -> WorkOrder | None:
    return session.scalar(select(WorkOrder).where(WorkOrder.source == source, WorkOrder.external_ticket_id == ticket_id))


def _name_key(name: str) -> str:
    return (name or "").replace("（", "(").replace("）", ")").replace(" ", "").replace("\u3000", "")


def match_enterprise(session: Session, code: str, name: str) -> tuple[Enterprise | None, str]:
    """The registry's enterprise for a ticket: by USCC first, then by its exact name (full- or
    half-width brackets alike). Returns (enterprise or None, how it matched)."""
    if code:
        found = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
        if found is not None:
            return found, "uscc"
    key = _name_key(name)
    if key:
        candidates = session.scalars(select(Enterprise).where(
            Enterprise.name.in_({name, key, key.replace("(", "（").replace(")", "）")})).limit(2)).all()
        if len(candidates) == 1:
            return candidates[0], "name"
    return None, ""


def receive(ctx: wo.OpContext, ticket: Ticket) -> tuple[WorkOrder, bool]:
    """The order for ``ticket``: (order, True) when created now, (the earlier order, False) when
    this (source, ticket id) came before — nothing new is stored then."""
    session = ctx.session
    earlier = find_order(session, ticket.source, ticket.ticket_id)
    if earlier is not None:
        return earlier, False
    enterprise, matched_by = match_enterprise(session, ticket.uscc, ticket.enterprise_name)
    try:
        with session.begin_nested():
            order = _create(ctx, ticket, enterprise, matched_by)
    except IntegrityError:  # the same ticket, concurrently: the other request's order stands
        earlier = find_order(session, ticket.source, ticket.ticket_id)
        if earlier is None:
            raise
        return earlier, False
    return order, True


def _note(ticket: Ticket, matched_by: str) -> str:
    parts = [f"{SOURCES[ticket.source]}转来，平台工单编号 {ticket.ticket_id}",
             f"来电人 {ticket.caller_name}", f"平台受理时间 {wo.local_time(ticket.received_at, '%Y-%m-%d %H:%M')}"]
    if ticket.deadline:
        parts.append(f"市级时限 {ticket.deadline.isoformat()}")
    parts.append({"uscc": "按统一社会信用代码匹配名录企业", "name": "按企业名称匹配名录企业"}.get(
        matched_by, f"名录中未找到企业「{ticket.enterprise_name}」，请调度员核实"))
    return "；".join(parts)


def _create(ctx: wo.OpContext, ticket: Ticket, enterprise: Enterprise | None, matched_by: str) -> WorkOrder:
    data = {"source": ticket.source, "ticket_id": ticket.ticket_id, "received_at": ticket.received_at.isoformat(),
            "deadline": ticket.deadline.isoformat() if ticket.deadline else None, "matched_by": matched_by or None}
    if enterprise is not None:
        order = wo.submit_order(ctx, wo.NewOrder(
            enterprise_id=enterprise.id, content=ticket.content, contact_name=ticket.caller_name,
            contact_phone=ticket.caller_phone, await_confirmation=True, auto_dispatch=True)).order
        order.source = ticket.source
        order.external_ticket_id = ticket.ticket_id
        wo._record(ctx, order, Action.COMMENT, order.state, _note(ticket, matched_by), hotline=data)
        ctx.session.flush()
        return order
    # Not in the registry: the dispatchers find out who it is (the order waits, received).
    order = WorkOrder(
        number=wo.allocate_number(ctx.session, ctx.now), channel=ctx.channel, title=wording.auto_title(ticket.content),
        content=ticket.content, contact_name=ticket.caller_name[:64], contact_phone=ticket.caller_phone[:32],
        state=State.RECEIVED, created_at=ctx.now, source=ticket.source, external_ticket_id=ticket.ticket_id,
    )
    ctx.session.add(order)
    ctx.session.flush()
    wo._record(ctx, order, Action.CREATE, None, wording.shorten(ticket.content, 200))
    event = wo._record(ctx, order, Action.COMMENT, State.RECEIVED, _note(ticket, matched_by), hotline=data)
    ctx.notifier().notify(hub_people(ctx.session, Role.DISPATCHER), order, "order_hotline_unmatched", f"e{event.id}",
                          source=SOURCES[ticket.source], enterprise_name=ticket.enterprise_name,
                          ticket_id=ticket.ticket_id)
    return order


def status(order: WorkOrder) -> dict[str, Any]:
    """What the platform's status query answers."""
    return {"number": order.number, "state": order.state, "state_label": State.LABELS.get(order.state, order.state),
            "result": order.result or "", "updated_at": (order.updated_at or order.created_at).isoformat(timespec="seconds")}


# --- The 12345 ledger (批量交换的台账) ---------------------------------------------------------------
LEDGER_COLUMNS = (
    Column("序号", 6), Column("热线来源", 12), Column("平台工单编号", 20), Column("本区工单编号", 20),
    Column("受理时间", 17), Column("来电人", 10), Column("来电号码", 14), Column("企业名称", 28),
    Column("统一社会信用代码", 20), Column("诉求内容", 50), Column("承办单位", 16), Column("办理状态", 12),
    Column("办理结果", 50), Column("办结时间", 17), Column("满意度", 10), Column("市级编号", 18), Column("市级时限", 12),
)


def ledger_orders(session: Session, start: datetime | None = None, end: datetime | None = None) -> Iterator[WorkOrder]:
    """Orders exchanged with the platform: from it, or escalated to it through 12345."""
    from models import CityEscalation

    escalated = select(CityEscalation.work_order_id).where(CityEscalation.route == "12345")
    query = (select(WorkOrder).where((WorkOrder.source.is_not(None)) | WorkOrder.id.in_(escalated))
             .options(selectinload(WorkOrder.enterprise), selectinload(WorkOrder.assigned_department),
                      selectinload(WorkOrder.visits), selectinload(WorkOrder.city_escalations))
             .order_by(WorkOrder.created_at, WorkOrder.id))
    if start is not None:
        query = query.where(WorkOrder.created_at >= start)
    if end is not None:
        query = query.where(WorkOrder.created_at < end)
    yield from session.scalars(query.execution_options(yield_per=500))


def ledger_sheet(session: Session, start: datetime | None = None, end: datetime | None = None,
                 title: str = "12345 工单交换台账") -> Sheet:
    def rows():
        for index, order in enumerate(ledger_orders(session, start, end), 1):
            enterprise = order.enterprise
            escalation = next((e for e in reversed(order.city_escalations) if e.route == "12345"), None)
            yield (
                index, SOURCES.get(order.source or "", "本区提级至 12345"), order.external_ticket_id or "",
                order.number, order.created_at, order.contact_name, order.contact_phone,
                enterprise.name if enterprise is not None else "", (enterprise.uscc or "") if enterprise else "",
                order.content, order.assigned_department.display_name if order.assigned_department else "",
                State.LABELS.get(order.state, order.state), order.result, order.resolved_at,
                order.visits[-1].satisfaction if order.visits else "",
                escalation.city_reference if escalation else "", escalation.city_deadline if escalation else None,
            )

    return Sheet(title=title, columns=LEDGER_COLUMNS, rows=rows(), preamble=(title,))
