"""The 未分配 queue: enterprises whose address matched no zone (or two), placed by a person."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from handlers.console.auth import roles_required
from handlers.context import current_person, db
from handlers.grid import bp
from handlers.grid.common import PLACERS, grid_ctx, page_number, paginate
from models import Enterprise, Role
from services.errors import ValidationFailed
from services.grid import rules as zone_rules


def _staffing_note(result) -> str:
    if result.without_staff:
        return f"；其中 {result.without_staff} 家因片区暂无在岗为企服务人员而未配备人员，请尽快补充人员"
    return ""


@bp.get("/unassigned")
@roles_required(*PLACERS)
def unassigned():
    session = db()
    q = (request.args.get("q") or "").strip()[:100]
    query = zone_rules.unassigned_query(q).order_by(Enterprise.id)
    count = select(func.count()).select_from(zone_rules.unassigned_query(q).subquery())
    paged = paginate(query, count, page_number())
    return render_template(
        "grid/unassigned.html", paged=paged, q=q, reasons=zone_rules.unassigned_reasons(session, paged.items),
        zones=zone_rules.managed_zones(session, current_person(), placing=True),
        sysadmin=current_person().role == Role.SYSADMIN,
    )


@bp.post("/unassigned/assign")
@roles_required(*PLACERS)
def unassigned_assign():
    try:
        result = zone_rules.assign_to_zone(grid_ctx(), request.form.getlist("enterprise_ids"),
                                           request.form.get("zone_id"))
    except ValidationFailed as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("grid.unassigned", q=request.form.get("q") or None))
    flash(f"已将 {result.enterprises} 家企业划入片区并配备为企服务人员{_staffing_note(result)}",
          "warning" if result.without_staff else "success")
    return redirect(url_for("grid.unassigned", q=request.form.get("q") or None))


@bp.post("/unassigned/rematch")
@roles_required(Role.SYSADMIN)
def unassigned_rematch():
    result = zone_rules.rematch_unassigned(grid_ctx())
    flash(f"已按当前地址规则重新匹配：{result.enterprises} 家企业划入片区{_staffing_note(result)}",
          "warning" if result.without_staff else "success")
    return redirect(url_for("grid.unassigned"))
