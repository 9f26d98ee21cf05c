"""Work-order pages: the list, one order's detail, the new-request form, attachments."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flask import abort, flash, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from handlers.console import bp
from handlers.console.auth import login_required
from handlers.console.common import (
    checkbox,
    form_text,
    optional_int,
    request_now,
    upload_root,
)
from handlers.context import current_person, db, op_context, settings
from models import Attachment, RequestDomain, Role, Satisfaction, ServiceStage
from services import attachments, order_queries
from services import workorders as wo
from services.errors import DomainError, PermissionDenied, ValidationFailed
from services.ladder import CITY_ROUTES, LEVELS
from services.lifecycle import Action, State, allowed_actions
from services.permissions import can, can_create_order, ensure_can_view
from services.screening import CATEGORIES

# Actions offered on the page besides the lifecycle ones (they authorise as a comment).
EXTRA_ACTIONS = ("city_reference",)
VISIT_METHODS = {"phone": "电话回访", "visit": "上门回访", "chat": "线上回访"}


# --------------------------------------------------------------------------------------------
# List
# --------------------------------------------------------------------------------------------
def _filters_from(args) -> order_queries.OrderFilters:
    def number(name):
        raw = (args.get(name) or "").strip()
        return int(raw) if raw.isdigit() else None

    state = args.get("state") or None
    return order_queries.OrderFilters(
        state=state if state in State.LABELS else None,
        level=number("level") if number("level") in LEVELS else None,
        zone_id=number("zone"),
        department_id=number("department"),
        overdue=args.get("overdue") == "1",
        green=args.get("green") == "1",
        mine=args.get("mine") == "1",
        q=(args.get("q") or "").strip()[:100],
        page=number("page") or 1,
    )


@bp.route("/orders")
@login_required
def orders():
    person = current_person()
    filters = _filters_from(request.args)
    page = order_queries.search_orders(db(), person, filters, request_now())
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "console/orders.html", page=page, filters=filters, args=args,
        zones=order_queries.zone_choices(db()), departments=order_queries.department_choices(db()),
        levels=LEVELS, states=State.LABELS,
    )


# --------------------------------------------------------------------------------------------
# Detail
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
    if Action.COMMENT in result and order.level == 4 and order.city_escalations:
        result.append("city_reference")
    return result


def render_detail(order, *, error: DomainError | None = None, form_action: str | None = None,
                  form: MultiDict | None = None, status: int = 200):
    person = current_person()
    session = db()
    actions = visible_actions(person, order)
    _, suggested = wo.classify(session, f"{order.title}\n{order.content}")
    lead = wo.lead_department_for(order)
    departments = order_queries.department_choices(session)
    names = {d.id: d.display_name for d in departments}
    return render_template(
        "console/order_detail.html",
        order=order,
        actions=actions,
        action_labels={**Action.LABELS, "city_reference": "登记市级编号"},
        departments=departments,
        department_names=names,
        suggested=[d for d in suggested if d in names],
        lead_department_id=lead.id if lead is not None else None,
        pending_extension=next((r for r in order.extension_requests if r.status == "pending"), None),
        escalate_levels={k: v for k, v in LEVELS.items() if k > order.level},
        city_routes=CITY_ROUTES,
        satisfactions=Satisfaction.ALL,
        visit_methods=VISIT_METHODS,
        categories=CATEGORIES,
        channel_labels=wo.CHANNEL_LABELS,
        max_returns=int(wo.setting(session, "max_returns", 3)),
        can_designate=person.role in (Role.DISPATCHER, Role.SYSADMIN),
        error=error,
        form_action=form_action,
        form=form or MultiDict(),
        today=(request_now() + timedelta(hours=8)).date().isoformat(),
    ), status


@bp.route("/orders/<number>")
@login_required
def order_detail(number: str):
    order = wo.get_order(db(), number)
    ensure_can_view(current_person(), order)
    return render_detail(order)


@bp.route("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    record = db().get(Attachment, attachment_id)
    if record is None:
        abort(404)
    ensure_can_view(current_person(), record.work_order)
    path = attachments.storage_path(upload_root(), record.storage_key)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=record.content_type, as_attachment=True, download_name=record.filename,
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------------------------
# New request
# --------------------------------------------------------------------------------------------
def _enterprise_json(e) -> dict:
    return {
        "id": e.id, "name": e.name, "uscc": e.identifier, "zone": e.zone.name if e.zone else "",
        "staff": e.service_staff.name if e.service_staff else "", "key_industry": e.is_key_industry,
    }


@bp.route("/enterprises/search")
@login_required
def enterprise_search():
    found = order_queries.search_enterprises(db(), current_person(), request.args.get("q", "")[:100])
    return jsonify({"ok": True, "items": [_enterprise_json(e) for e in found]})


def _new_order_page(form: MultiDict, *, error: DomainError | None = None, status: int = 200):
    session = db()
    person = current_person()
    found = order_queries.search_enterprises(session, person, form.get("eq", ""))
    raw_id = (form.get("enterprise_id") or "").strip()
    selected = order_queries.enterprise_in_scope(session, person, int(raw_id)) if raw_id.isdigit() else None
    if selected is not None and selected not in found:
        found = [selected, *found]
    return render_template(
        "console/order_new.html",
        form=form, error=error, enterprises=found, selected=selected,
        domains=list(session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order))),
        stages=list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order))),
        departments=order_queries.department_choices(session),
        priorities=wo.PRIORITIES, levels=LEVELS,
        accept=attachments.ACCEPT_ATTR, allowed_label=attachments.ALLOWED_LABEL,
        max_mb=settings().upload_max_bytes // (1024 * 1024),
    ), status


@bp.route("/orders/new", methods=["GET", "POST"])
@login_required
def new_order():
    person = current_person()
    if not can_create_order(person):
        raise PermissionDenied("只有为企服务人员、片区管理员或区网格中心可以提交诉求")
    if request.method == "GET":
        return _new_order_page(MultiDict(request.args))

    form = request.form
    if form.get("do") == "search":  # the enterprise search button without JavaScript
        return _new_order_page(MultiDict(form))
    batch = None
    try:
        enterprise_id = optional_int("enterprise_id", "企业")
        if enterprise_id is None or order_queries.enterprise_in_scope(db(), person, enterprise_id) is None:
            raise ValidationFailed("请选择企业（只能选择本片区的企业）", fields={"enterprise_id": "必选"})
        level = optional_int("level", "响应层级") or 1
        data = wo.NewOrder(
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
        files = [attachments.Upload(f.filename or "", f.stream) for f in request.files.getlist("attachments")]
        batch = attachments.store_uploads(files, upload_root(), max_bytes=settings().upload_max_bytes)
        order = wo.create_order(op_context("console"), replace(data, attachments=tuple(batch.records)))
    except DomainError as error:
        if batch is not None:
            batch.discard()
        db().rollback()
        return _new_order_page(MultiDict(form), error=error, status=error.http_status)
    except Exception:
        if batch is not None:  # no order will point at the files: do not leave them behind
            batch.discard()
        raise
    if order.state == State.RECEIVED:
        flash(f"诉求已提交，工单号 {order.number}。系统甄别提示可能不属于受理范围，请确认。", "warning")
    else:
        flash(f"诉求已提交，工单号 {order.number}，当前状态：{State.LABELS.get(order.state)}", "success")
    return redirect(url_for("console.order_detail", number=order.number))
