"""消息模板: the text of every message the desk sends, edited, validated and previewed on a real order."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for

from handlers.console.auth import roles_required
from handlers.context import current_person, db, now, settings
from handlers.studio import bp
from handlers.studio.home import EDITORS, _ip
from services.errors import ValidationFailed
from services.studio import previews, store
from services.studio.templates import TEMPLATES, validate_text


@bp.get("/templates")
@roles_required(*EDITORS)
def templates_index():
    return render_template("studio/templates.html", groups=previews.grouped(),
                           edited=store.runtime(db()).templates)


def _page(spec, *, draft: str, order_number: str, problems: list[str], status: int = 200):
    session = db()
    order = previews.find_order(session, order_number)
    shown = None
    if order is not None or not order_number:
        shown = previews.preview(session, spec, order, now=now(), base_url=settings().base_url,
                                 draft=None if problems else draft)
    edited = store.runtime(session).templates.get(spec.name)
    return render_template(
        "studio/template_edit.html", spec=spec, draft=draft, edited=edited, order=order,
        order_number=order_number or (order.number if order is not None else ""), problems=problems,
        preview=shown, as_json=lambda value: json.dumps(value, ensure_ascii=False, indent=2),
        missing_order=bool(order_number) and order is None,
    ), status


@bp.route("/templates/<template>", methods=["GET", "POST"])
@roles_required(*EDITORS)
def template_edit(template: str):
    name = template
    spec = TEMPLATES.get(name)
    if spec is None:
        abort(404)
    session = db()
    current = store.runtime(session).templates.get(name) or spec.default
    order_number = (request.values.get("order") or "").strip()
    if request.method == "GET":
        return _page(spec, draft=current, order_number=order_number, problems=[])
    action = request.form.get("action") or "save"
    draft = (request.form.get("text") or "").replace("\r\n", "\n").strip()
    reason = (request.form.get("reason") or "").strip()
    if action == "reset":
        edited = {k: v for k, v in store.export_document(session)["templates"].items() if k != name}
        revision = store.apply(session, current_person(), {"templates": edited}, now=now(), ip=_ip(),
                               reason=reason or f"消息模板「{spec.label}」恢复默认")
        flash(f"已恢复默认（版本 {revision.id}）" if revision else "本模板已是默认内容", "success")
        return redirect(url_for("studio.template_edit", template=name))
    problems = validate_text(spec, draft, path=f"消息模板「{spec.label}」（{spec.name}）")
    if problems or action == "preview":
        return _page(spec, draft=draft, order_number=order_number, problems=problems, status=422 if problems else 200)
    edited = dict(store.export_document(session)["templates"])
    if draft == spec.default:
        edited.pop(name, None)  # the default needs no override
    else:
        edited[name] = draft
    try:
        revision = store.apply(session, current_person(), {"templates": edited}, now=now(), ip=_ip(),
                               reason=reason or f"修改消息模板「{spec.label}」")
    except ValidationFailed as error:
        db().rollback()
        return _page(spec, draft=draft, order_number=order_number,
                     problems=error.fields.get("document", error.message).split("\n"), status=422)
    flash(f"消息模板「{spec.label}」已保存（版本 {revision.id}）" if revision else "没有改动", "success")
    return redirect(url_for("studio.template_edit", template=name))
