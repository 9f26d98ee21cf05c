"""配置中心 → 表单字段: the custom fields of each request domain's form.

A plain form (one row per field, an order number to reorder, a box to remove, blank rows to add);
saving writes one revision of the whole ``forms`` section, so every problem is shown at once and
nothing changes until all are fixed.
"""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.console.auth import roles_required
from handlers.context import current_person, db, now
from handlers.studio import bp
from handlers.studio.home import EDITORS
from models import RequestDomain, ServiceStage
from services import inputs
from services.errors import ValidationFailed
from services.studio import store
from services.studio.forms import FIELD_TYPES

BLANK_ROWS = 3


def _number(text: str):
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text  # kept as text: the validation names it ("应为数字")
    return int(value) if value.is_integer() else value


def _rows_from_form(form) -> list[dict]:
    """The edited fields in their new order; removed and blank rows left out."""
    rows = []
    count = inputs.to_id(form.get("rows")) or 0
    for index in range(min(count, 200)):
        def get(name: str, i: int = index) -> str:
            return (form.get(f"r{i}.{name}") or "").strip()

        if get("remove") or not (get("key") or get("label")):
            continue
        field: dict = {"key": get("key"), "label": get("label"), "type": get("type")}
        if get("required"):
            field["required"] = True
        if get("help"):
            field["help"] = get("help")
        options = [o.strip() for o in re.split(r"[\n、,，;；]", form.get(f"r{index}.options") or "") if o.strip()]
        if options:
            field["options"] = options
        for bound in ("min", "max"):
            value = _number(get(bound))
            if value is not None:
                field[bound] = value
        if get("unit"):
            field["unit"] = get("unit")
        if get("public"):
            field["public"] = True
        if get("stage"):
            field["stage"] = get("stage")
        order = _number(get("order"))
        rows.append((order if isinstance(order, int | float) else index + 1, index, field))
    return [field for _order, _index, field in sorted(rows, key=lambda r: (r[0], r[1]))]


def _page(domains, domain, fields, problems, status=200):
    stages = list(db().scalars(select(ServiceStage.name).order_by(ServiceStage.sort_order)))
    counts = {name: len(fields_ or []) for name, fields_ in store.export_document(db())["forms"].items()}
    return render_template("studio/forms.html", domains=domains, domain=domain, fields=fields, problems=problems,
                           types=FIELD_TYPES, stages=stages, counts=counts, blank_rows=BLANK_ROWS), status


@bp.route("/forms", methods=["GET", "POST"])
@roles_required(*EDITORS)
def forms():
    session = db()
    domains = list(session.scalars(select(RequestDomain.name).order_by(RequestDomain.sort_order, RequestDomain.id)))
    domain = request.values.get("domain") or (domains[0] if domains else "")
    if domain not in domains:
        domain = domains[0] if domains else ""
    current = dict(store.export_document(session)["forms"])
    if request.method == "GET":
        return _page(domains, domain, list(current.get(domain) or []), [])
    edited = _rows_from_form(request.form)
    updated = {name: fields for name, fields in current.items() if name != domain}
    if edited:
        updated[domain] = edited
    try:
        revision = store.apply(session, current_person(), {"forms": updated},
                               reason=(request.form.get("reason") or "").strip() or f"修改「{domain}」表单字段",
                               now=now(), ip=request.remote_addr or "")
    except ValidationFailed as error:
        session.rollback()
        return _page(domains, domain, edited, error.fields.get("document", error.message).split("\n"), 422)
    flash(f"「{domain}」表单已保存（版本 {revision.id}）" if revision else "没有改动", "success")
    return redirect(url_for("studio.forms", domain=domain))
