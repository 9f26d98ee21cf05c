"""Texts to enterprises: the opt-out list (回复TD退订, or recorded here on the enterprise's behalf)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from handlers.admin import bp
from handlers.admin.common import EDITORS
from handlers.console.auth import roles_required
from handlers.context import current_person, db, now
from services.errors import ValidationFailed
from services.messaging import enterprise as enterprise_messages


@bp.get("/sms-opt-outs")
@roles_required(*EDITORS)
def sms_opt_outs():
    return render_template("admin/sms_opt_outs.html", rows=enterprise_messages.opt_outs(db()), form={}, errors={})


@bp.post("/sms-opt-outs")
@roles_required(*EDITORS)
def sms_opt_out_add():
    form = {key: (request.form.get(key) or "").strip()[:200] for key in ("phone", "note")}
    try:
        enterprise_messages.opt_out(db(), current_person(), form["phone"], form["note"], now())
    except ValidationFailed as error:
        db().rollback()
        return render_template("admin/sms_opt_outs.html", rows=enterprise_messages.opt_outs(db()), form=form,
                               errors=error.fields), 422
    flash("已登记退订，该号码不再收到短信", "success")
    return redirect(url_for("admin.sms_opt_outs"))


@bp.post("/sms-opt-outs/remove")
@roles_required(*EDITORS)
def sms_opt_out_remove():
    phone = (request.form.get("phone") or "").strip()[:32]
    if enterprise_messages.opt_in(db(), current_person(), phone, now()):
        flash("已恢复接收短信", "success")
    else:
        flash("该号码不在退订名单中", "warning")
    return redirect(url_for("admin.sms_opt_outs"))
