"""The 86912345 desk's intake screen (``/desk``): one phone call, one screen.

Caller number → who is calling (``/desk/caller``, JSON; the form's 查找 button without JavaScript),
the enterprise picker and the knowledge suggestions of the new-request form, then one of three
outcomes (``services.orders.desk``). After saving, the same screen comes back empty with the
order number, ready for the next call.
"""

from __future__ import annotations

from flask import jsonify, render_template, request, url_for

from handlers.console import bp
from handlers.console.auth import roles_required
from handlers.console.home import DESK_ROLES
from handlers.context import db, op_context
from services import inputs
from services.errors import ValidationFailed
from services.orders import desk
from services.orders import queries as order_queries
from services.orders.lifecycle import State

FIELDS = ("caller_phone", "caller_name", "enterprise_id", "content", "outcome", "answer", "department_id", "eq")


def _page(form: dict, *, errors: dict | None = None, message: str = "", saved=None, status: int = 200):
    session = db()
    match = desk.caller_lookup(session, form.get("caller_phone", "")) if form.get("caller_phone") else None
    found = order_queries.search_enterprises(session, op_context().actor, form["eq"]) if form.get("eq") else []
    return render_template(
        "console/desk.html", form=form, errors=errors or {}, message=message, saved=saved, match=match,
        found=found, outcomes=desk.OUTCOMES, departments=order_queries.department_choices(session),
    ), status


def _form() -> dict:
    return {key: (request.form.get(key) or "").strip()[:5000] for key in FIELDS}


@bp.get("/desk")
@roles_required(*DESK_ROLES)
def desk_page():
    return _page({key: "" for key in FIELDS})


@bp.get("/desk/caller")
@roles_required(*DESK_ROLES)
def desk_caller():
    match = desk.caller_lookup(db(), (request.args.get("phone") or "")[:32])
    return jsonify({"ok": True, "phone": match.phone, "enterprises": [
        {"id": e.id, "name": e.name, "uscc": e.identifier, "zone": e.zone.name if e.zone else "",
         "staff": e.service_staff.name if e.service_staff else ""} for e in match.enterprises
    ], "orders": [
        {"number": o.number, "title": o.title, "state_label": State.LABELS.get(o.state, o.state),
         "enterprise": o.enterprise.name if o.enterprise else "", "url": url_for("console.order_detail", number=o.number)}
        for o in match.orders
    ]})


@bp.post("/desk")
@roles_required(*DESK_ROLES)
def desk_submit():
    form = _form()
    if request.form.get("do") == "lookup":  # 查找 without JavaScript
        return _page(form)
    call = desk.DeskCall(
        caller_phone=form["caller_phone"], caller_name=form["caller_name"],
        enterprise_id=inputs.to_id(form["enterprise_id"]), content=form["content"], outcome=form["outcome"],
        answer=form["answer"], department_id=inputs.to_id(form["department_id"]),
    )
    try:
        order = desk.take_call(op_context("desk"), call)
    except ValidationFailed as error:
        db().rollback()
        return _page(form, errors=error.fields, message=error.message, status=422)
    return _page({key: "" for key in FIELDS}, saved=order)
