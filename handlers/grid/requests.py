"""Requests enterprises filed themselves (/contact/request), waiting for their staff member to confirm."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from handlers.console.auth import login_required
from handlers.context import current_person, db, op_context
from handlers.grid import bp
from services.errors import DomainError, NotFound, PermissionDenied
from services.grid import public_contact
from services.orders import operations as wo
from services.orders.lifecycle import State


@bp.get("/requests")
@login_required
def requests_pending():
    return render_template("grid/requests.html", orders=public_contact.pending_requests(db(), current_person()))


@bp.post("/requests/<number>/confirm")
@login_required
def request_confirm(number: str):
    try:
        order = wo.get_order(db(), number)
        order = wo.confirm_request(op_context(), order, note=(request.form.get("note") or "").strip()[:500])
    except (PermissionDenied, NotFound):
        raise  # 403 / 404, not a flash on someone else's queue
    except DomainError as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("grid.requests_pending"))
    flash(f"已受理工单 {order.number}，当前状态：{State.LABELS.get(order.state, order.state)}",
          "success")
    return redirect(url_for("console.order_detail", number=order.number))
