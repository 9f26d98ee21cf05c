"""Work orders as plain JSON-ready dicts, for the API and anything else that speaks JSON.

Times are ISO 8601 in Beijing time with the offset (``2026-03-02T10:00:00+08:00``), dates are
``YYYY-MM-DD``. Every coded value travels with its Chinese label so clients need no tables of
their own. The shapes are documented in ``handlers/api/openapi.py``; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from models import (
    Attachment,
    CityEscalation,
    Department,
    Enterprise,
    ExtensionRequest,
    JointMeeting,
    Person,
    ReturnVisit,
    WorkOrder,
    WorkOrderEvent,
)
from services.orders import duplicates, ladder, screening, sla
from services.orders.lifecycle import Action, State
from services.orders.operations import CHANNEL_LABELS, PRIORITIES, merged_orders

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# States in which a passed ``due_at`` means the government side is late (a suspended order's
# clock is paused; resolved orders are done with handling).
OVERDUE_STATES = (State.PENDING_DISPATCH, State.DISPATCHED, State.PROCESSING)
VISIT_METHODS = {"phone": "电话回访", "visit": "上门回访", "survey": "问卷评价", "chat": "在线回访"}
EXTENSION_STATUS = {"pending": "待审批", "approved": "已批准", "denied": "未批准"}
SCREENING_DECISIONS = {"": "待确认", "confirmed": "确认不予受理", "overridden": "推翻建议继续受理"}


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds")
    return value.isoformat()


def is_overdue(order: WorkOrder, now: datetime) -> bool:
    return order.state in OVERDUE_STATES and order.due_at is not None and now > order.due_at


def is_sign_overdue(order: WorkOrder, now: datetime) -> bool:
    return order.state == State.DISPATCHED and order.sign_due_at is not None and now > order.sign_due_at


def ref(obj, *, name: str | None = None) -> dict | None:
    """``{"id", "name"}`` of a zone, stage, domain or department (units named with their parent)."""
    if obj is None:
        return None
    if name is None:
        name = obj.display_name if isinstance(obj, Department) else obj.name
    return {"id": obj.id, "name": name}


def person_ref(person: Person | None) -> dict | None:
    if person is None:
        return None
    return {"id": person.id, "name": person.name, "role": person.role, "role_label": person.role_label,
            "unit": person.unit_label}


def enterprise_ref(enterprise: Enterprise | None) -> dict | None:
    if enterprise is None:
        return None
    return {"id": enterprise.id, "name": enterprise.name, "uscc": enterprise.uscc, "reg_no": enterprise.reg_no}


def order_summary(order: WorkOrder, now: datetime) -> dict:
    """The fields a list needs."""
    return {
        "id": order.id,
        "number": order.number,
        "title": order.title,
        "state": order.state,
        "state_label": State.LABELS.get(order.state, order.state),
        "level": order.level,
        "level_label": ladder.level_label(order.level),
        "priority": order.priority,
        "priority_label": PRIORITIES.get(order.priority, order.priority),
        "is_complex": order.is_complex,
        "green_channel": order.green_channel,
        "channel": order.channel,
        "channel_label": CHANNEL_LABELS.get(order.channel, order.channel),
        "enterprise": enterprise_ref(order.enterprise),
        "zone": ref(order.zone),
        "domain": ref(order.domain),
        "stage": ref(order.stage),
        "assigned_department": ref(order.assigned_department),
        "department_name": order.assigned_department.display_name if order.assigned_department else None,
        "dispatch_rule": order.dispatch_rule or None,
        "assigned_person": person_ref(order.assigned_person),
        "designated": order.designated,
        "return_count": order.return_count,
        "reopen_count": order.reopen_count,
        "created_at": iso(order.created_at),
        "sign_due_at": iso(order.sign_due_at),
        "due_at": iso(order.due_at),
        "overdue": is_overdue(order, now),
    }


def event_dict(event: WorkOrderEvent) -> dict:
    return {
        "id": event.id,
        "action": event.action,
        "action_label": Action.LABELS.get(event.action, event.action),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "channel": event.channel,
        "channel_label": CHANNEL_LABELS.get(event.channel, event.channel),
        "from_state": event.from_state,
        "from_state_label": State.LABELS.get(event.from_state) if event.from_state else None,
        "to_state": event.to_state,
        "to_state_label": State.LABELS.get(event.to_state) if event.to_state else None,
        "note": event.note,
        "data": dict(event.data or {}),
        "created_at": iso(event.created_at),
    }


def visit_dict(visit: ReturnVisit) -> dict:
    return {
        "round": visit.round,
        "satisfaction": visit.satisfaction,
        "resolved": visit.resolved,
        "comment": visit.comment,
        "method": visit.method,
        "method_label": VISIT_METHODS.get(visit.method, visit.method),
        "recorded_by_id": visit.recorded_by_id,
        "created_at": iso(visit.created_at),
    }


def extension_dict(request: ExtensionRequest) -> dict:
    return {
        "id": request.id,
        "days": request.days,
        "reason": request.reason,
        "status": request.status,
        "status_label": EXTENSION_STATUS.get(request.status, request.status),
        "requested_by": person_ref(request.requested_by),
        "decided_by_id": request.decided_by_id,
        "decided_at": iso(request.decided_at),
        "decision_note": request.decision_note,
        "created_at": iso(request.created_at),
    }


def city_escalation_dict(record: CityEscalation) -> dict:
    return {
        "route": record.route,
        "route_label": ladder.CITY_ROUTES.get(record.route, record.route),
        "city_department": record.city_department,
        "city_reference": record.city_reference,
        "city_deadline": iso(record.city_deadline),
        "note": record.note,
        "escalated_by_id": record.escalated_by_id,
        "created_at": iso(record.created_at),
    }


def joint_meeting_dict(meeting: JointMeeting) -> dict:
    return {
        "id": meeting.id,
        "held_on": iso(meeting.held_on),
        "decisions": meeting.decisions,
        "departments": [ref(d) for d in meeting.departments],
        "convened_by_id": meeting.convened_by_id,
        "created_at": iso(meeting.created_at),
    }


def attachment_dict(attachment: Attachment) -> dict:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "created_at": iso(attachment.created_at),
    }


def screening_dict(order: WorkOrder) -> dict | None:
    if not order.screening_category:
        return None
    return {
        "category": order.screening_category,
        "category_label": screening.category_label(order.screening_category),
        "reason": order.screening_reason,
        "proper_channel": order.screening_channel,
        "decision": order.screening_decision,
        "decision_label": SCREENING_DECISIONS.get(order.screening_decision, order.screening_decision),
        "override_reason": order.screening_override_reason,
    }


def deadlines_dict(order: WorkOrder, now: datetime, calendar: sla.WorkCalendar | None = None) -> dict:
    city = next((r.city_deadline for r in reversed(order.city_escalations) if r.city_deadline), None)
    running = order.state in OVERDUE_STATES and order.due_at is not None
    return {
        "clock_started_at": iso(order.clock_started_at),
        "sign_due_at": iso(order.sign_due_at),
        "due_at": iso(order.due_at),
        "city_deadline": iso(city),
        "overdue": is_overdue(order, now),
        "sign_overdue": is_sign_overdue(order, now),
        "time_left": sla.time_left_label(calendar, order.due_at, now) if calendar and running else None,
        "suspended_at": iso(order.suspended_at),
        "suspend_reason": order.suspend_reason or None,
        "deadline_version": order.deadline_version,
    }


def duplicate_dict(match: duplicates.Match) -> dict:
    earlier = match.earlier
    return {
        "number": earlier.number,
        "title": earlier.title,
        "state": earlier.state,
        "state_label": State.LABELS.get(earlier.state, earlier.state),
        "created_at": iso(earlier.created_at),
        "similarity": match.percent,
    }


def order_detail(
    order: WorkOrder,
    now: datetime,
    *,
    allowed_actions: Iterable[str] = (),
    calendar: sla.WorkCalendar | None = None,
    possible_duplicates: Iterable[duplicates.Match] = (),
    resolved_from: str | None = None,
) -> dict:
    """Everything about one order: the summary plus its content, timeline and records."""
    data = order_summary(order, now)
    data.update(
        content=order.content,
        contact_name=order.contact_name,
        contact_phone=order.contact_phone,
        contact_external_userid=order.contact_external_userid or None,
        source=order.source,
        external_ticket_id=order.external_ticket_id,
        fields=dict(order.custom_fields or {}),
        submitter=person_ref(order.submitter),
        screening=screening_dict(order),
        reject_reason=order.reject_reason or None,
        reject_channel=order.reject_channel or None,
        result=order.result or None,
        feedback_note=order.feedback_note or None,
        accepted_at=iso(order.accepted_at),
        dispatched_at=iso(order.dispatched_at),
        signed_at=iso(order.signed_at),
        resolved_at=iso(order.resolved_at),
        feedback_at=iso(order.feedback_at),
        visited_at=iso(order.visited_at),
        archived_at=iso(order.archived_at),
        updated_at=iso(order.updated_at),
        deadlines=deadlines_dict(order, now, calendar),
        events=[event_dict(e) for e in order.events],
        visits=[visit_dict(v) for v in order.visits],
        extension_requests=[extension_dict(r) for r in order.extension_requests],
        city_escalations=[city_escalation_dict(r) for r in order.city_escalations],
        joint_meetings=[joint_meeting_dict(m) for m in order.joint_meetings],
        attachments=[attachment_dict(a) for a in order.attachments],
        allowed_actions=[{"action": a, "label": Action.LABELS.get(a, a)} for a in allowed_actions],
        duplicate_of=order.duplicate_of.number if order.duplicate_of is not None else None,
        merged_into=order.merged_into.number if order.merged_into is not None else None,
        merged_orders=[o.number for o in merged_orders(order)],
        possible_duplicates=[duplicate_dict(m) for m in possible_duplicates],
        resolved_from=resolved_from,
    )
    return data
