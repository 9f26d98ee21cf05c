"""The enterprise's progress page (``/track``): an order number and the last four digits of the
contact mobile open a plain-Chinese view of one order.

Shown: the state in words an enterprise reads, a timeline of public milestones (never a note typed
inside the desk, never a name but the enterprise's own service staff member), the result once it
was fed back, and the survey link while the rating is due. Anything wrong — no such order, a
wrong code, an order without a contact mobile — gives the same nothing (``None``). Rate limiting
per client is the handler's (``services.ratelimit``), before this is called.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import WorkOrder
from services.messaging.enterprise import track_code
from services.orders.lifecycle import Action, State
from services.orders.surveys import survey_path

PUBLIC_STATES = {
    State.RECEIVED: "已收到，正在核实",
    State.REJECTED: "不予受理",
    State.PENDING_DISPATCH: "已受理，正在安排承办单位",
    State.DISPATCHED: "已受理，已交承办单位",
    State.PROCESSING: "办理中",
    State.SUSPENDED: "暂停办理，等待企业补充材料",
    State.RESOLVED: "已办结，即将向您反馈",
    State.FED_BACK: "已办结，请评价",
    State.VISITED: "已办结，已评价",
    State.ARCHIVED: "已办结",
}

# Public milestones: the event actions an enterprise sees, in words of its own.
MILESTONES = {
    Action.CREATE: "诉求已提交",
    Action.ACCEPT: "诉求已受理",
    Action.DISPATCH: "已交承办单位办理",
    Action.TRANSFER: "已转交其他承办单位办理",
    Action.SIGN: "承办单位已签收，正在办理",
    Action.SUSPEND: "暂停办理，等待企业补充材料",
    Action.RESUME: "恢复办理",
    Action.ESCALATE: "已提级协调办理",
    Action.RESOLVE: "已办结",
    Action.FEEDBACK: "已向企业反馈办理结果",
    Action.VISIT: "已完成满意度评价",
    Action.REOPEN: "重新办理",
    Action.REJECT: "不予受理",
    Action.ARCHIVE: "已归档",
}


@dataclass(frozen=True)
class Milestone:
    at: datetime
    text: str


@dataclass(frozen=True)
class TrackView:
    number: str
    enterprise: str
    title: str
    state: str
    state_label: str
    submitted_at: datetime
    staff_name: str
    staff_phone: str
    timeline: list[Milestone] = field(default_factory=list)
    result: str = ""
    reject_reason: str = ""
    survey_path: str = ""
    merged_from: str = ""  # the number the enterprise asked about, when it was merged into this order


def public_state(order: WorkOrder) -> str:
    return PUBLIC_STATES.get(order.state, "办理中")


def code_matches(order: WorkOrder, code: str) -> bool:
    expected = track_code(order.contact_phone)
    given = (code or "").strip()
    return bool(expected) and len(given) == 4 and hmac.compare_digest(expected.encode(), given.encode("utf-8"))


def find(session: Session, number: str, code: str) -> TrackView | None:
    """The view of order ``number`` when ``code`` is right; None for anything else."""
    number = (number or "").strip().upper()
    if not number or len(number) > 20 or not number.isascii():
        return None
    order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
    if order is None or not code_matches(order, code):
        return None
    # A duplicate merged into an earlier order shows that order's progress: one request, one answer.
    carrier, seen = order, {order.id}
    while carrier.merged_into is not None and carrier.merged_into.id not in seen:
        carrier = carrier.merged_into
        seen.add(carrier.id)
    if carrier is order:
        return view(order)
    return replace(view(carrier), merged_from=order.number)


def view(order: WorkOrder) -> TrackView:
    timeline: list[Milestone] = []
    for event in order.events:
        text = MILESTONES.get(event.action)
        if text is None:
            continue
        if timeline and timeline[-1].text == text:
            continue
        timeline.append(Milestone(event.created_at, text))
    staff = order.enterprise.service_staff if order.enterprise is not None else None
    shows_result = order.state in (State.FED_BACK, State.VISITED, State.ARCHIVED) and bool(order.result)
    return TrackView(
        number=order.number,
        enterprise=order.enterprise.name if order.enterprise is not None else "",
        title=order.title,
        state=order.state,
        state_label=public_state(order),
        submitted_at=order.created_at,
        staff_name=staff.name if staff is not None and staff.active else "",
        staff_phone=(staff.phone or "") if staff is not None and staff.active else "",
        timeline=timeline,
        result=order.result if shows_result else "",
        reject_reason=order.reject_reason if order.state == State.REJECTED else "",
        survey_path=survey_path(order) if order.state == State.FED_BACK and order.survey_token else "",
    )
