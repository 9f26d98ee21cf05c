"""Work-order pages: the list, one order's detail, the new-request form, attachments."""

from __future__ import annotations

import re

from flask import flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from handlers.boundary import arg_id, arg_page
from handlers.console import bp
from handlers.console.auth import login_required
from handlers.console.common import (
    action_forms_context,
    create_order_from_form,
    new_order_page_context,
    request_now,
    send_attachment,
    viewable_order,
    visible_actions,
)
from handlers.context import current_person, db
from models import WorkOrder
from services.errors import DomainError, NotFound, PermissionDenied
from services.orders import operations as wo
from services.orders import queries as order_queries
from services.orders.ladder import LEVELS
from services.orders.lifecycle import State
from services.orders.screening import CATEGORIES
from services.permissions import can_create_order, can_view
from services.studio import store
from services.studio.forms import KEY_PATTERN, OPTION_MAX, choice_fields

ORDER_NUMBER = re.compile(r"BC-\d{8}-\d{4,}")
# Actions offered on the page besides the lifecycle ones (they authorise as a comment).
EXTRA_ACTIONS = ("city_reference",)


# --------------------------------------------------------------------------------------------
# List
# --------------------------------------------------------------------------------------------
def _filters_from(args) -> order_queries.OrderFilters:
    def number(name):
        return arg_id(name, args)

    state = args.get("state") or None
    return order_queries.OrderFilters(
        state=state if state in State.LABELS else None,
        level=number("level") if number("level") in LEVELS else None,
        zone_id=number("zone"),
        department_id=number("department"),
        domain_id=number("domain"),
        overdue=args.get("overdue") == "1",
        green=args.get("green") == "1",
        mine=args.get("mine") == "1",
        q=(args.get("q") or "").strip()[:100],
        page=arg_page("page", args),
        fields=tuple((name[len("field."):], value.strip()[:OPTION_MAX]) for name, value in args.items()
                     if name.startswith("field.") and KEY_PATTERN.match(name[len("field."):]) and value.strip())[:10],
    )


def _merged_number(q: str) -> WorkOrder | None:
    """The merged order a search for its full number names, when the searcher may see where it went."""
    if not ORDER_NUMBER.fullmatch(q.strip().upper()):
        return None
    try:
        order = wo.get_order(db(), q)
    except NotFound:
        return None
    if order.merged_into_id is None or not can_view(current_person(), wo.follow_merges(order)):
        return None
    return order


@bp.route("/orders")
@login_required
def orders():
    person = current_person()
    filters = _filters_from(request.args)
    merged = _merged_number(filters.q)
    if merged is not None:  # a merged order's number leads to the order that carries it now
        flash(f"工单 {merged.number} 已并入 {wo.follow_merges(merged).number} 一并办理。", "info")
        return redirect(url_for("console.order_detail", number=wo.follow_merges(merged).number))
    page = order_queries.search_orders(db(), person, filters, request_now())
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "console/orders.html", page=page, filters=filters, args=args,
        zones=order_queries.zone_choices(db()), departments=order_queries.department_choices(db()),
        domains=order_queries.domain_choices(db()),
        choice_fields=choice_fields(store.runtime(db()).forms), field_filters=dict(filters.fields),
        levels=LEVELS, states=State.LABELS,
    )


# --------------------------------------------------------------------------------------------
# Detail
# --------------------------------------------------------------------------------------------
def render_detail(order, *, error: DomainError | None = None, form_action: str | None = None,
                  form: MultiDict | None = None, status: int = 200):
    return render_template(
        "console/order_detail.html",
        **action_forms_context(order, visible_actions(current_person(), order), error=error,
                               form_action=form_action, form=form),
        categories=CATEGORIES,
        channel_labels=wo.CHANNEL_LABELS,
    ), status


@bp.route("/orders/<number>")
@login_required
def order_detail(number: str):
    return render_detail(viewable_order(number))


@bp.route("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    return send_attachment(attachment_id)


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
    return render_template("console/order_new.html", error=error,
                           **new_order_page_context(form, error=error)), status


@bp.route("/orders/new", methods=["GET", "POST"])
@login_required
def new_order():
    person = current_person()
    if not can_create_order(person):
        raise PermissionDenied("只有为企服务人员、片区管理员或区网格中心可以提交诉求")
    if request.method == "GET":
        return _new_order_page(MultiDict(request.args))
    if request.form.get("do") == "search":  # the enterprise search button without JavaScript
        return _new_order_page(MultiDict(request.form))
    try:
        submission = create_order_from_form(person, "console")
    except DomainError as error:
        return _new_order_page(MultiDict(request.form), error=error, status=error.http_status)
    order = submission.order
    if submission.replayed:
        flash(f"该诉求已提交过（工单号 {order.number}），未重复创建。", "info")
    elif order.duplicate_of is not None:
        flash(f"诉求已提交，工单号 {order.number}，已关联到原诉求 {order.duplicate_of.number}，由区网格中心合并办理。", "info")
    elif order.state == State.RECEIVED:
        flash(f"诉求已提交，工单号 {order.number}。系统甄别提示可能不属于受理范围，请确认。", "warning")
    else:
        flash(f"诉求已提交，工单号 {order.number}，当前状态：{State.LABELS.get(order.state)}", "success")
    return redirect(url_for("console.order_detail", number=order.number))
