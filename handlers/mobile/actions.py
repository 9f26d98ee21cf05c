"""Work-order actions from the phone: the console's form → operation table, the mobile pages around it.

The mapping from form fields to ``services.orders.operations`` operations lives once, in
``handlers.console.actions.HANDLERS``; here only the channel (the platform the person signed in
through) and the pages shown before and after differ.
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from handlers.console.actions import HANDLERS
from handlers.console.common import viewable_order
from handlers.context import current_person, db, op_context
from handlers.mobile import bp
from handlers.mobile.auth import mobile_login_required, signed_in_channel
from handlers.mobile.pages import MOBILE_ACTIONS, render_detail, render_survey
from services.errors import DomainError
from services.orders import operations as wo
from services.orders.lifecycle import Action


@bp.post("/orders/<number>/<action>")
@mobile_login_required
def order_action(number: str, action: str):
    handler = HANDLERS.get(action)
    if handler is None or action not in MOBILE_ACTIONS:
        abort(404)
    session = db()
    order = viewable_order(number)
    from_survey = action == Action.VISIT and request.form.get("page") == "survey"
    try:
        message = handler(op_context(signed_in_channel(), actor=current_person()), order)
    except DomainError as error:
        # Undo whatever the operation flushed, then show the page again with what was typed.
        session.rollback()
        order = wo.get_order(session, number)
        if from_survey:
            return render_survey(order, error=error, form=request.form.copy(), status=error.http_status)
        return render_detail(order, error=error, form_action=action, form=request.form.copy(),
                             status=error.http_status)
    flash(message, "success")
    return redirect(url_for("mobile.order_detail", number=order.number))
