"""One endpoint for every work-order action: form → operation → flash → back to the order.

A domain error rolls the request back and shows the order again with the message and the
values the person typed, so nothing is lost and nothing has changed.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, request, url_for

from handlers.console import bp
from handlers.console.auth import login_required
from handlers.console.common import (
    ATTACH,
    add_attachments_from_form,
    checkbox,
    form_text,
    int_list,
    optional_date,
    optional_int,
    required_date,
    required_int,
    viewable_order,
)
from handlers.console.orders import render_detail
from handlers.context import db, op_context
from handlers.redirects import safe_next
from models import WorkOrder
from services.errors import DomainError, ValidationFailed
from services.orders import operations as wo
from services.orders.ladder import CITY_ROUTES
from services.orders.lifecycle import Action, State
from services.orders.operations import CityInfo, OpContext

Handler = Callable[[OpContext, WorkOrder], str]


def _one_text(operation: Callable[..., object], field: str, done: str) -> Handler:
    """An operation that takes one text field of the form, answered with ``done``."""

    def handler(ctx, order):
        operation(ctx, order, **{field: form_text(field)})
        return done

    return handler


def _accept(ctx, order):
    if not order.screening_category:  # an enterprise's own request waiting for its staff member
        order = wo.confirm_request(ctx, order, note=form_text("note"))
        return f"已确认受理，当前状态：{State.LABELS[order.state]}"
    wo.confirm_screening(ctx, order, decision="override", reason=form_text("reason"))
    return f"已推翻甄别建议并受理，当前状态：{State.LABELS[order.state]}"


def _reject(ctx, order):
    category = form_text("category") or order.screening_category
    wo.reject(ctx, order, category=category, reason=form_text("reason"), proper_channel=form_text("proper_channel"))
    return "已确认不予受理，并告知提交人"


def _dispatch(ctx, order):
    order = wo.dispatch(ctx, order, department_id=optional_int("department_id", "承办部门"), note=form_text("note"),
                        designate=checkbox("designate"))
    return f"已派单至 {order.assigned_department.display_name}，已向首席帮办吹哨"


def _sign(ctx, order):
    order = wo.sign(ctx, order)
    return f"已签收报到，办理时限 {wo.local_time(order.due_at)}"


def _transfer(ctx, order):
    order = wo.transfer(ctx, order, department_id=optional_int("department_id", "转办部门"), reason=form_text("reason"))
    return f"已转办至 {order.assigned_department.display_name}"


def _request_extension(ctx, order):
    days = required_int("days", "延期天数")
    wo.request_extension(ctx, order, days=days, reason=form_text("reason"))
    return f"已提交延期 {days} 个工作日的申请，等待区网格中心审批"


def _decide_extension(ctx, order):
    decision = form_text("decision")
    if decision not in ("approve", "deny"):
        raise ValidationFailed("请选择同意或不同意", fields={"decision": "必选"})
    wo.decide_extension(ctx, order, approve=decision == "approve", note=form_text("note"))
    return "已同意延期" if decision == "approve" else "已驳回延期申请"


def _visit(ctx, order):
    order = wo.visit(ctx, order, satisfaction=form_text("satisfaction"), resolved=form_text("resolved") != "no",
                     comment=form_text("comment"), method=form_text("method") or "phone")
    if order.state == State.ARCHIVED:
        return "回访已登记，工单已归档"
    return f"回访已登记，当前状态：{State.LABELS[order.state]}"


def _escalate(ctx, order):
    level = optional_int("level", "升级层级")
    city = None
    if level == 4:
        route = form_text("route")
        if route not in CITY_ROUTES:
            raise ValidationFailed("市级提级须选择渠道：市12345企业服务专席或市级部门", fields={"route": "必选"})
        city = CityInfo(
            route=route, city_department=form_text("city_department"), city_reference=form_text("city_reference"),
            city_deadline=optional_date("city_deadline", "市级办理时限"), note=form_text("city_note"),
        )
    department_id = optional_int("department_id", "承办部门") if level == 2 else None
    order = wo.escalate(ctx, order, reason=form_text("reason"), level=level, department_id=department_id, city=city)
    return f"已升级为{wo.ladder.level_label(order.level)}"


def _joint_meeting(ctx, order):
    order = wo.joint_meeting(
        ctx, order, held_on=required_date("held_on", "会商日期"),
        department_ids=int_list("department_ids", "参会部门"), decisions=form_text("decisions"),
        lead_department_id=optional_int("lead_department_id", "牵头部门"),
    )
    return f"联席会商已记录，由 {order.assigned_department.display_name} 牵头办理"


def _city_reference(ctx, order):
    wo.record_city_reference(
        ctx, order, city_reference=form_text("city_reference"),
        city_deadline=optional_date("city_deadline", "市级办理时限"), note=form_text("note"),
    )
    return "市级编号已登记"


def _attach(ctx, order):
    count = add_attachments_from_form(ctx, order)
    return f"已补充 {count} 个附件"
def _link(ctx, order):
    order = wo.link_duplicate(ctx, order, earlier=form_text("earlier"), note=form_text("note"))
    return f"已关联到 {order.duplicate_of.number}，等待区网格中心合并"


def _merge(ctx, order):
    order = wo.merge(ctx, order, into=form_text("into"), reason=form_text("reason"))
    return f"已将 {order.number} 并入 {order.merged_into.number}，已通知提交人"


def _split(ctx, order):
    order = wo.split(ctx, order, reason=form_text("reason"))
    return f"已拆分，{order.number} 恢复独立办理（{State.LABELS[order.state]}）"


HANDLERS: dict[str, Handler] = {
    Action.ACCEPT: _accept,
    Action.REJECT: _reject,
    Action.DISPATCH: _dispatch,
    Action.SIGN: _sign,
    Action.RETURN: _one_text(wo.return_order, "reason", "已退回区级调度"),
    Action.TRANSFER: _transfer,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.DECIDE_EXTENSION: _decide_extension,
    Action.SUSPEND: _one_text(wo.suspend, "reason", "工单已挂起，办理计时暂停"),
    Action.RESUME: _one_text(wo.resume, "note", "已恢复办理，计时继续"),
    Action.REPLY: _one_text(wo.reply, "text", "办理进展已记录并告知为企服务人员"),
    Action.RESOLVE: _one_text(wo.resolve, "result", "已办结，已通知为企服务人员反馈企业"),
    Action.FEEDBACK: _one_text(wo.feedback, "note", "已登记反馈企业"),
    Action.VISIT: _visit,
    Action.REOPEN: _one_text(wo.reopen, "reason", "工单已重办"),
    Action.ESCALATE: _escalate,
    Action.JOINT_MEETING: _joint_meeting,
    Action.SUPERVISE: _one_text(wo.supervise, "note", "督办通知已发出"),
    Action.ARCHIVE: _one_text(wo.archive, "note", "工单已归档"),
    Action.COMMENT: _one_text(wo.comment, "text", "备注已添加"),
    Action.INSTRUCT: _one_text(wo.instruct, "note", "批示已记录并推送承办部门"),
    Action.LINK: _link,
    Action.MERGE: _merge,
    Action.SPLIT: _split,
    "city_reference": _city_reference,
    ATTACH: _attach,
}


@bp.route("/orders/<number>/actions/<action>", methods=["POST"])
@login_required
def order_action(number: str, action: str):
    handler = HANDLERS.get(action)
    if handler is None:
        abort(404)
    session = db()
    order = viewable_order(number)
    try:
        message = handler(op_context("console"), order)
    except DomainError as error:
        # Undo whatever the operation flushed before it failed, then show the order as it is.
        session.rollback()
        order = wo.get_order(session, number)
        return render_detail(order, error=error, form_action=action, form=request.form.copy(),
                             status=error.http_status)
    flash(message, "success")
    return redirect(safe_next(request.form.get("next"), url_for("console.order_detail", number=order.number)))
