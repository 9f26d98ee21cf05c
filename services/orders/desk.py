"""The 86912345 一号响应企业服务 desk: a phone call taken by a desk operator (坐席) in one screen.

``caller_lookup`` finds who is calling from the number (enterprises whose registry contact or
earlier orders carry it, and those earlier orders); ``take_call`` records the call as an order
with one of three outcomes:

* ``answered`` — answered on the spot: a level-1 order handled by the operator, resolved at once
  with the answer given and fed back (the caller heard it), so the survey follows as usual;
* ``staff`` — sent to the enterprise's service staff member, who confirms and handles it;
* ``department`` — dispatched straight to a department (level 2, 吹哨), or ``district`` — to the
  district level (level 3, the business-environment office's queue).

In every case the caller gets the order number by text (the acceptance SMS, sent at once).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from integrations.sms import normalise_mobile
from models import Enterprise, WorkOrder
from services.errors import ValidationFailed
from services.messaging import enterprise as enterprise_messages
from services.orders import operations as wo

OUTCOMES = {
    "answered": "当场解答（即时办理）",
    "staff": "转企业的为企服务人员",
    "department": "派至区级部门（部门协调办理）",
    "district": "提交区级会商（区级会商办理）",
}


@dataclass(frozen=True)
class CallerMatch:
    phone: str
    enterprises: list[Enterprise]
    orders: list[WorkOrder]


@dataclass(frozen=True)
class DeskCall:
    caller_phone: str
    caller_name: str
    enterprise_id: int | None
    content: str
    outcome: str
    answer: str = ""
    department_id: int | None = None


def caller_lookup(session: Session, phone: str, *, limit: int = 10) -> CallerMatch:
    """Who calls from ``phone``: enterprises with it as their registry contact or on earlier orders."""
    mobile = normalise_mobile(phone) or (phone or "").strip()[:32]
    if len(mobile) < 7:
        return CallerMatch(mobile, [], [])
    orders = list(session.scalars(
        select(WorkOrder).options(selectinload(WorkOrder.enterprise))
        .where(WorkOrder.contact_phone == mobile).order_by(WorkOrder.created_at.desc()).limit(limit)))
    from_orders = {o.enterprise_id for o in orders if o.enterprise_id is not None}
    enterprises = list(session.scalars(
        select(Enterprise).options(selectinload(Enterprise.service_staff), selectinload(Enterprise.zone))
        .where(or_(Enterprise.contact_phone == mobile, Enterprise.id.in_(from_orders) if from_orders else False))
        .order_by(Enterprise.name).limit(limit)))
    return CallerMatch(mobile, enterprises, orders)


def take_call(ctx: wo.OpContext, call: DeskCall) -> WorkOrder:
    """The order for one call, routed by its outcome (see the module docstring)."""
    errors: dict[str, str] = {}
    if call.outcome not in OUTCOMES:
        errors["outcome"] = "请选择处理方式"
    if not normalise_mobile(call.caller_phone):
        errors["caller_phone"] = "请填写来电人的 11 位手机号（用于发送工单号短信）"
    if call.enterprise_id is None:
        errors["enterprise_id"] = "请选择来电企业"
    answer = (call.answer or "").strip()
    if call.outcome == "answered" and len(answer) < 4:
        errors["answer"] = "请填写当场给出的答复（至少 4 个字）"
    if call.outcome == "department" and call.department_id is None:
        errors["department_id"] = "请选择承办部门"
    if errors:
        raise ValidationFailed("请补全来电登记：" + "；".join(errors.values()), fields=errors)
    assert call.enterprise_id is not None
    level = {"answered": 1, "staff": 1, "department": 2, "district": 3}[call.outcome]
    order = wo.submit_order(ctx, wo.NewOrder(
        enterprise_id=call.enterprise_id, content=call.content, contact_name=call.caller_name.strip(),
        contact_phone=normalise_mobile(call.caller_phone), level=level,
        department_id=call.department_id if call.outcome == "department" else None,
        await_confirmation=call.outcome == "staff",
    )).order
    if call.outcome == "answered" and order.state == wo.State.PROCESSING:
        wo.resolve(ctx, order, result=answer)
        wo.feedback(ctx, order, note="坐席已在电话中答复来电人")
    # The caller hears the number on the phone and gets it by text at once, whatever the route.
    enterprise_messages.tell(ctx.notifier(), order, "accepted", f"accepted:{order.id}", base_url=ctx.base_url,
                             urgent=True)
    return order
