"""Small helpers the console pages share: form parsing, the working-day clock, upload storage."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import current_app, g, request

from handlers.console import bp
from handlers.context import db, now
from handlers.template_helpers import local_dt
from models import WorkOrder
from services import sla
from services.deadlines import load_calendar
from services.errors import ValidationFailed
from services.lifecycle import State
from services.workorders import PRIORITIES


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


def optional_int(name: str, label: str, source=None) -> int | None:
    raw = ((source if source is not None else request.form).get(name) or "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationFailed(f"{label}无效", fields={name: "无效"}) from None


def required_int(name: str, label: str) -> int:
    value = optional_int(name, label)
    if value is None:
        raise ValidationFailed(f"请选择{label}", fields={name: "必填"})
    return value


def int_list(name: str, label: str) -> list[int]:
    values = []
    for raw in request.form.getlist(name):
        try:
            values.append(int(raw))
        except ValueError:
            raise ValidationFailed(f"{label}无效", fields={name: "无效"}) from None
    return values


def optional_date(name: str, label: str) -> date | None:
    raw = form_text(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{label}格式应为 年-月-日", fields={name: "日期无效"}) from None


def required_date(name: str, label: str) -> date:
    value = optional_date(name, label)
    if value is None:
        raise ValidationFailed(f"请填写{label}", fields={name: "必填"})
    return value


def checkbox(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


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
