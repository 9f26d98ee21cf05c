"""Small helpers the console pages share: form parsing, the working-day clock, upload storage,
and the order pages the mobile pages serve as well (one order, its attachments, the submit form)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date, timedelta

from flask import abort, current_app, g, request, send_file
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from extensions import storage
from handlers import custom_fields
from handlers.console import bp
from handlers.context import current_person, db, now, op_context, settings
from integrations.storage import Storage
from models import Attachment, Enterprise, Person, RequestDomain, Role, Satisfaction, ServiceStage, WorkOrder
from services import inputs
from services.admin import settings as system_settings
from services.errors import DomainError, ValidationFailed
from services.orders import attachments, catalogue, deadlines, sla
from services.orders import operations as wo
from services.orders import queries as order_queries
from services.orders.deadlines import load_calendar
from services.orders.ladder import CITY_ROUTES, LEVELS
from services.orders.lifecycle import Action, State, allowed_actions, primary_action
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


def clock(order: WorkOrder) -> deadlines.Clock:
    """What the page says about an order's deadline (the console and the mobile pages alike)."""
    return deadlines.clock(order, calendar(), request_now())


def upload_root() -> Storage:
    """Where attachments live (``extensions.storage``); tests point ``UPLOAD_ROOT`` at a temporary folder."""
    return storage(current_app)


def send_stored(storage_key: str, *, mimetype: str, filename: str, as_attachment: bool):
    """A stored file as a download, streamed from the storage (a directory or S3)."""
    stream = attachments.open_stored(upload_root(), storage_key)
    response = send_file(stream, mimetype=mimetype, as_attachment=as_attachment, download_name=filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


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
ATTACH = "attach"  # not a lifecycle step: files added to an order by anyone who may comment on it


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
    if Action.COMMENT in result:
        result.append(ATTACH)
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
    # The 派单目录's answer for this order, first in the dispatcher's list and said why.
    rule = catalogue.suggestion(session, order) if Action.DISPATCH in actions else None
    rule_department = catalogue.department_named(session, rule.department) if rule is not None else None
    if rule_department is not None and rule_department.id in names:
        suggested = [rule_department.id, *[d for d in suggested if d != rule_department.id]]
    # 重复诉求: earlier orders this one looks like; 关联 is offered only when there are some.
    candidates = (wo.duplicates_of(session, order, current_person())
                  if Action.LINK in actions or Action.MERGE in actions else [])
    if Action.LINK in actions and (not candidates or order.duplicate_of_id is not None):
        actions = [a for a in actions if a != Action.LINK]
    return {
        "duplicate_candidates": candidates,
        "order": order, "actions": actions, "departments": departments, "department_names": names,
        "suggested": [d for d in suggested if d in names],
        "catalogue_hint": _catalogue_hint(rule),
        "pending_extension": next((r for r in order.extension_requests if r.status == "pending"), None),
        "satisfactions": Satisfaction.ALL, "visit_methods": VISIT_METHODS,
        "max_returns": system_settings.max_returns(session),
        "can_designate": current_person().role in (Role.DISPATCHER, Role.SYSADMIN),
        "error": error, "form_action": form_action, "form": form or MultiDict(),
        "primary_action": primary_action(order.state, actions, self_submitted=not order.screening_category),
        # 升级 and 联席会商 (the console and the phone show the same choices).
        "escalate_levels": {k: v for k, v in LEVELS.items() if k > order.level},
        "city_routes": CITY_ROUTES,
        "lead_department_id": _lead_id(order) if Action.JOINT_MEETING in actions else None,
        "today": (request_now() + timedelta(hours=8)).date().isoformat(),
        "action_labels": ACTION_LABELS,
        "upload_accept": attachments.ACCEPT_ATTR, "upload_allowed": attachments.ALLOWED_LABEL,
    }


ACTION_LABELS = {**Action.LABELS, "city_reference": "登记市级编号", ATTACH: "补充附件"}


def _lead_id(order: WorkOrder) -> int | None:
    lead = wo.lead_department_for(order)
    return lead.id if lead is not None else None


def _catalogue_hint(rule) -> str:
    if rule is None:
        return ""
    why = f"（命中：关键词{'、'.join(rule.matched_keywords)}）" if rule.matched_keywords else "（命中其条件）"
    return f"派单目录建议：{rule.rule_name}{why}" + (f"，交{rule.department}" if rule.department else "")


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
    response = send_stored(record.storage_key, mimetype=record.content_type, filename=record.filename,
                           as_attachment=not record.content_type.startswith(inline_types))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def new_order_page_context(form: MultiDict, *, limit: int = 20, list_without_query: bool = True,
                           error: DomainError | None = None) -> dict:
    """What the submit form shows: the enterprise picker (the one chosen kept first) and the choices.
    ``list_without_query`` False: no enterprises until the person searches (the phone form, where a
    list would push the content field off the screen)."""
    session = db()
    person = current_person()
    query = (form.get("eq") or "").strip()
    found = (order_queries.search_enterprises(session, person, query, limit=limit)
             if query or list_without_query else [])
    enterprise_id = inputs.to_id(form.get("enterprise_id"))
    selected = order_queries.enterprise_in_scope(session, person, enterprise_id) if enterprise_id else None
    if selected is not None and selected not in found:
        found = [selected, *found]
    field_groups = custom_fields.groups(session, form)
    active = custom_fields.active_domain_id(session, form, classify=False)
    refused_fields = set(getattr(error, "fields", None) or {})
    if active is None and refused_fields:
        # Left to the system, the content was classified into a domain whose form refused the
        # values: show that domain (selected) and its fields, so the person completes them.
        classified = custom_fields.active_domain_id(session, form, classify=True)
        if classified is not None and any(refused_fields & {f.key for f in g.fields}
                                          for g in field_groups if g.domain.id == classified):
            form = form.copy()
            form["domain_id"] = str(classified)
            active = classified
    return {
        "field_groups": field_groups, "active_domain_id": active,
        # One key per form: a double click or a resent page is the same submission (kept across a
        # re-render after an error, since nothing was created then).
        "submission_key": (form.get("submission_key") or "")[:80] or secrets.token_urlsafe(18),
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
    # "auto" (the default) or nothing chosen: the 派单目录 decides, level 1 when no rule matches.
    auto = (form.get("level") or "auto") == "auto"
    level = 1 if auto else (optional_int("level", "响应层级") or 1)
    domain_id, stage_id = optional_int("domain_id", "诉求领域"), optional_int("stage_id", "服务阶段")
    values = custom_fields.posted_values(db(), form, domain_id=domain_id, stage_id=stage_id,
                                         content=form.get("content", ""))
    return wo.NewOrder(
        auto_dispatch=auto,
        submission_key=form.get("submission_key", ""),
        enterprise_id=enterprise_id,
        content=form.get("content", ""),
        title=form_text("title"),
        domain_id=domain_id,
        stage_id=stage_id,
        fields=values,
        priority=form.get("priority") or "normal",
        is_complex=checkbox("is_complex"),
        level=level,
        department_id=optional_int("department_id", "承办部门") if level == 2 else None,
        contact_name=form_text("contact_name")[:64],
        contact_phone=form_text("contact_phone")[:32],
        # 重复诉求: first asked when earlier orders look alike; then linked to one, or submitted anyway.
        link_to=form_text("link_to")[:40],
        ask_on_duplicate=not form_text("link_to") and form.get("duplicate_choice") != "new",
        contact_external_userid=form_text("contact_external_userid")[:64],
    )


def create_order_from_form(person: Person, channel: str) -> wo.Submission:
    """The submitted order with its files (or the order this same form created before). A
    ``DomainError`` leaves nothing behind (no files, the request rolled back) and goes up for the
    form to show."""
    batch = None
    try:
        data = new_order_from_form(person)
        files = [attachments.Upload(f.filename or "", f.stream) for f in request.files.getlist("attachments")]
        batch = attachments.store_uploads(files, upload_root(), max_bytes=settings().upload_max_bytes)
        submission = wo.submit_order(op_context(channel), replace(data, attachments=tuple(batch.records)))
        if submission.replayed:
            batch.discard()  # the earlier request's order keeps its own files
        return submission
    except BaseException as error:
        if batch is not None:  # no order will point at the files: do not leave them behind
            batch.discard()
        if isinstance(error, DomainError):
            db().rollback()
        raise


def add_attachments_from_form(ctx: wo.OpContext, order: WorkOrder) -> int:
    """The files of the form (``attachments``) stored and added to ``order``; nothing is left
    behind when the operation refuses them."""
    batch = None
    try:
        files = [attachments.Upload(f.filename or "", f.stream) for f in request.files.getlist("attachments")
                 if f.filename]
        batch = attachments.store_uploads(files, upload_root(), max_bytes=settings().upload_max_bytes)
        wo.add_attachments(ctx, order, records=tuple(batch.records), note=form_text("note"),
                           location=form_text("location"))
        return len(batch.records)
    except BaseException:
        if batch is not None:
            batch.discard()
        raise
@bp.app_template_global("order_timeline")
def _order_timeline(order: WorkOrder) -> list[wo.TimelineEntry]:
    return wo.timeline(order)


@bp.app_template_global("merged_orders")
def _merged_orders(order: WorkOrder) -> list[WorkOrder]:
    return wo.merged_orders(order)


@bp.app_template_global("merged_root")
def _merged_root(order: WorkOrder) -> WorkOrder:
    return wo.follow_merges(order)


@bp.app_template_global("order_clock")
def _order_clock(order: WorkOrder) -> deadlines.Clock:
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
