"""Small helpers the console pages share: form parsing, the working-day clock, upload storage,
and the order pages the mobile pages serve as well (one order, its attachments, the submit form)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from flask import abort, current_app, g, request, send_file
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from handlers.console import bp
from handlers.context import current_person, db, now, op_context, settings
from handlers.template_helpers import local_dt
from models import Attachment, Enterprise, Person, RequestDomain, Role, Satisfaction, ServiceStage, WorkOrder
from services import inputs
from services.errors import DomainError, ValidationFailed
from services.orders import attachments, sla
from services.orders import operations as wo
from services.orders import queries as order_queries
from services.orders.deadlines import load_calendar
from services.orders.ladder import LEVELS
from services.orders.lifecycle import Action, State, allowed_actions
from services.orders.operations import PRIORITIES
from services.permissions import can, can_submit_for, can_track_city, ensure_can_view

VISIT_METHODS = {"phone": "电话回访", "visit": "上门回访", "chat": "线上回访"}


def calendar() -> sla.WorkCalendar:
    if "work_calendar" not in g:
        g.work_calendar = load_calendar(db())
    return g.work_calendar


def request_now():
    if "request_now" not in g:
        g.request_now = now()
    return g.request_now


def clock(order: WorkOrder) -> dict:
    """What the page says about an order's deadline: a label and a css class."""
    moment = request_now()
    if order.state == State.DISPATCHED and order.sign_due_at is not None and moment > order.sign_due_at:
        return {"label": "超时未签收", "css": "overdue", "overdue": True}
    if order.state == State.SUSPENDED:
        return {"label": "已挂起（计时暂停）", "css": "muted", "overdue": False}
    if order.state == State.PENDING_DISPATCH and order.due_at is not None:
        # Waiting in a hub queue: the clock only counts once dispatched, so show the date, no verdict.
        return {"label": f"时限 {local_dt(order.due_at, '%m-%d %H:%M')}", "css": "muted", "overdue": False}
    if order.state not in State.CLOCK_RUNNING:
        return {"label": "—", "css": "muted", "overdue": False}
    if order.due_at is None:
        return {"label": "跟踪市级时限" if order.level == 4 else "未设办理时限", "css": "muted", "overdue": False}
    overdue = moment > order.due_at
    label = sla.time_left_label(calendar(), order.due_at, moment)
    soon = not overdue and calendar().working_seconds_between(moment, order.due_at) < sla.SECONDS_PER_WORKDAY
    return {"label": label, "css": "overdue" if overdue else ("soon" if soon else "ok"), "overdue": overdue}


def upload_root() -> Path:
    """Where attachments live; tests point ``UPLOAD_ROOT`` at a temporary folder."""
    configured = current_app.config.get("UPLOAD_ROOT")
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


# --------------------------------------------------------------------------------------------
# Form values
# --------------------------------------------------------------------------------------------
def form_text(name: str) -> str:
    return (request.form.get(name) or "").strip()


def _optional(name: str, convert, invalid: str, field_error: str = "无效", source=None):
    """A form value through ``convert``; None when left empty, ``ValidationFailed`` when unreadable."""
    raw = ((source if source is not None else request.form).get(name) or "").strip()
    if not raw:
        return None
    try:
        return convert(raw)
    except ValueError:
        raise ValidationFailed(invalid, fields={name: field_error}) from None


def _required(value, name: str, message: str):
    if value is None:
        raise ValidationFailed(message, fields={name: "必填"})
    return value


def optional_int(name: str, label: str, source=None) -> int | None:
    return _optional(name, inputs.parse_int, f"{label}无效", source=source)


def required_int(name: str, label: str) -> int:
    return _required(optional_int(name, label), name, f"请选择{label}")


def int_list(name: str, label: str) -> list[int]:
    values = []
    for raw in request.form.getlist(name):
        try:
            values.append(inputs.parse_int(raw))
        except ValueError:
            raise ValidationFailed(f"{label}无效", fields={name: "无效"}) from None
    return values


def optional_date(name: str, label: str) -> date | None:
    return _optional(name, inputs.parse_date, f"{label}格式应为 年-月-日（1900–2099 年）", "日期无效")


def required_date(name: str, label: str) -> date:
    return _required(optional_date(name, label), name, f"请填写{label}")


def checkbox(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


# --------------------------------------------------------------------------------------------
# Order pages (console and mobile)
# --------------------------------------------------------------------------------------------
def visible_actions(person, order) -> list[str]:
    """Exactly what this person may do to the order now (the forms shown on the page)."""
    result = [a for a in allowed_actions(order.state) if can(person, a, order)]
    pending = any(r.status == "pending" for r in order.extension_requests)
    # Forms that could only fail are left out: nothing to decide, or not a level-3 order.
    if not pending:
        result = [a for a in result if a != Action.DECIDE_EXTENSION]
    if order.level != 3:
        result = [a for a in result if a != Action.JOINT_MEETING]
    if order.level >= 4:
        result = [a for a in result if a != Action.ESCALATE]
    if order.state == State.RECEIVED and not order.screening_category and order.channel != "public":
        result = [a for a in result if a != Action.ACCEPT]
    if Action.COMMENT in result and order.level == 4 and order.city_escalations and can_track_city(person, order):
        result.append("city_reference")
    return result


def action_forms_context(order: WorkOrder, actions: list[str], *, suggest: bool = True,
                         error: DomainError | None = None, form_action: str | None = None,
                         form: MultiDict | None = None) -> dict:
    """What an order page's action forms need, in the console and on the phone. ``suggest``:
    whether to work out the departments the screening rules suggest (a text classification)."""
    session = db()
    departments = order_queries.department_choices(session)
    names = {d.id: d.display_name for d in departments}
    suggested = wo.classify(session, f"{order.title}\n{order.content}")[1] if suggest else []
    return {
        "order": order, "actions": actions, "departments": departments, "department_names": names,
        "suggested": [d for d in suggested if d in names],
        "pending_extension": next((r for r in order.extension_requests if r.status == "pending"), None),
        "satisfactions": Satisfaction.ALL, "visit_methods": VISIT_METHODS,
        "max_returns": int(wo.setting(session, "max_returns", 3)),
        "can_designate": current_person().role in (Role.DISPATCHER, Role.SYSADMIN),
        "error": error, "form_action": form_action, "form": form or MultiDict(),
    }


def viewable_order(number: str) -> WorkOrder:
    order = wo.get_order(db(), number)
    ensure_can_view(current_person(), order)
    return order


def send_attachment(attachment_id: int, *, inline_types: tuple[str, ...] = ()):
    """An order's file, to someone who may view the order; ``inline_types`` open in the browser."""
    record = db().get(Attachment, attachment_id)
    if record is None:
        abort(404)
    ensure_can_view(current_person(), record.work_order)
    path = attachments.storage_path(upload_root(), record.storage_key)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=record.content_type, as_attachment=not record.content_type.startswith(inline_types),
                         download_name=record.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def new_order_page_context(form: MultiDict, *, limit: int = 20) -> dict:
    """What the submit form shows: the enterprise picker (the one chosen kept first) and the choices."""
    session = db()
    person = current_person()
    found = order_queries.search_enterprises(session, person, form.get("eq", ""), limit=limit)
    enterprise_id = inputs.to_id(form.get("enterprise_id"))
    selected = order_queries.enterprise_in_scope(session, person, enterprise_id) if enterprise_id else None
    if selected is not None and selected not in found:
        found = [selected, *found]
    return {
        "form": form, "enterprises": found, "selected": selected,
        "domains": list(session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order))),
        "stages": list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order))),
        "departments": order_queries.department_choices(session), "priorities": PRIORITIES, "levels": LEVELS,
        "accept": attachments.ACCEPT_ATTR, "allowed_label": attachments.ALLOWED_LABEL,
        "max_mb": settings().upload_max_bytes // (1024 * 1024),
    }


def new_order_from_form(person: Person) -> wo.NewOrder:
    form = request.form
    enterprise_id = optional_int("enterprise_id", "企业")
    enterprise = db().get(Enterprise, enterprise_id) if enterprise_id is not None else None
    # The picker offers only what the service will accept (the same rule): anything else is a bad field.
    if enterprise is None or not can_submit_for(person, enterprise):
        raise ValidationFailed("请选择企业（只能选择本片区的企业）", fields={"enterprise_id": "必选"})
    level = optional_int("level", "响应层级") or 1
    return wo.NewOrder(
        enterprise_id=enterprise_id,
        content=form.get("content", ""),
        title=form_text("title"),
        domain_id=optional_int("domain_id", "诉求领域"),
        stage_id=optional_int("stage_id", "服务阶段"),
        priority=form.get("priority") or "normal",
        is_complex=checkbox("is_complex"),
        level=level,
        department_id=optional_int("department_id", "承办部门") if level == 2 else None,
        contact_name=form_text("contact_name")[:64],
        contact_phone=form_text("contact_phone")[:32],
    )


def create_order_from_form(person: Person, channel: str) -> WorkOrder:
    """The submitted order with its files. A ``DomainError`` leaves nothing behind (no files, the
    request rolled back) and goes up for the form to show."""
    batch = None
    try:
        data = new_order_from_form(person)
        files = [attachments.Upload(f.filename or "", f.stream) for f in request.files.getlist("attachments")]
        batch = attachments.store_uploads(files, upload_root(), max_bytes=settings().upload_max_bytes)
        return wo.create_order(op_context(channel), replace(data, attachments=tuple(batch.records)))
    except BaseException as error:
        if batch is not None:  # no order will point at the files: do not leave them behind
            batch.discard()
        if isinstance(error, DomainError):
            db().rollback()
        raise


@bp.app_template_global("order_clock")
def _order_clock(order: WorkOrder) -> dict:
    return clock(order)


@bp.app_template_filter("priority_label")
def _priority_label(value: str) -> str:
    return PRIORITIES.get(value, value)


@bp.app_template_filter("filesize")
def _filesize(size: int | None) -> str:
    if not size:
        return "0 B"
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
