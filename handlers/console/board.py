"""The hubs' dispatch board (调度台): every queue that waits on a decision, in one screen."""

from __future__ import annotations

from flask import render_template

from handlers.console import bp
from handlers.console.auth import roles_required
from handlers.console.common import request_now
from handlers.console.home import BOARD_ROLES
from handlers.context import current_person, db
from services.admin import settings as system_settings
from services.orders import queries as order_queries
from services.orders.lifecycle import Action
from services.permissions import can


@bp.route("/board")
@roles_required(*BOARD_ROLES)
def board():
    session = db()
    person = current_person()
    max_returns = system_settings.max_returns(session)
    data = order_queries.dispatch_board(session, person, request_now(), max_returns=max_returns)
    columns = [
        ("screening", "待甄别", data.screening, "系统提示可能不予受理，需人工确认"),
        ("pending", "待派单", data.pending_dispatch, "绿色通道优先；退回的工单标注退单次数"),
        ("sign", "待签收", data.waiting_sign, "超时未签收的已标红"),
        ("reassign", "需重新指派", data.needs_reassignment, "承办人已离开企业微信或钉钉通讯录，请改派"),
        ("overdue", "超期", data.overdue, "已超过办理或签收时限"),
        ("extension", "延期待审批", data.extensions, "承办部门申请延期，等待审批"),
        ("duplicates", "重复诉求待合并", data.duplicates, "提交人已关联到原工单，请核实后合并或继续办理"),
    ]
    return render_template(
        "console/board.html", columns=columns, max_returns=max_returns,
        departments=order_queries.department_choices(session),
        can_dispatch=lambda order: can(person, Action.DISPATCH, order),
    )
