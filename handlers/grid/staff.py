"""Staff within a zone: who serves whom, staff rules, filling gaps, and handing over when someone leaves."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from handlers.console.auth import roles_required
from handlers.context import current_person, db, now
from handlers.grid import bp
from handlers.grid.common import MANAGERS, form_data, grid_ctx, page_number, paginate, zone_or_404
from handlers.redirects import safe_next
from models import Enterprise, Person, Role, StaffRuleTarget
from services import inputs
from services.admin import operations as admin
from services.errors import ValidationFailed
from services.grid import rules as zone_rules


def _managed_zone(zone_id: int):
    zone = zone_or_404(zone_id)
    zone_rules.ensure_zone_manager(current_person(), zone.id)
    return zone


@bp.get("/zones")
@roles_required(*MANAGERS)
def zones():
    person = current_person()
    managed = zone_rules.managed_zones(db(), person)
    if person.role == Role.ZONE_ADMIN and len(managed) == 1:
        return redirect(url_for("grid.zone_staff", zone_id=managed[0].id))
    counts = dict(db().execute(
        select(Enterprise.zone_id, func.count(Enterprise.id)).group_by(Enterprise.zone_id)
    ).all())
    problems = {z.id: zone_rules.count_violations(db(), z.id) for z in managed}
    staff = {z.id: len(zone_rules.zone_staff(db(), z.id)) for z in managed}
    return render_template("grid/zones.html", zones=managed, counts=counts, problems=problems, staff=staff)


def _enterprise_query(zone_id: int, staff_filter: str, q: str):
    query = select(Enterprise).where(Enterprise.zone_id == zone_id)
    if staff_filter == "none":
        query = query.where(Enterprise.id.in_(
            zone_rules.violations_query(zone_id).with_only_columns(Enterprise.id)))
    elif inputs.to_id(staff_filter) is not None:
        query = query.where(Enterprise.service_staff_id == inputs.to_id(staff_filter))
    if q:
        pattern = f"%{q}%"
        query = query.where(or_(Enterprise.name.ilike(pattern), Enterprise.uscc.ilike(pattern),
                                Enterprise.address.ilike(pattern)))
    return query


def _zone_page(zone, *, status=200, errors=None, form=None, error_message="", error_row=None):
    session = db()
    staff_filter = (request.args.get("staff") or "").strip()
    q = (request.args.get("q") or "").strip()[:100]
    query = _enterprise_query(zone.id, staff_filter, q)
    paged = paginate(query.options(selectinload(Enterprise.service_staff)).order_by(Enterprise.id),
                     select(func.count()).select_from(query.subquery()), page_number())
    return render_template(
        "grid/zone_staff.html", zone=zone, loads=zone_rules.zone_overview(session, zone.id),
        leavers=zone_rules.leavers(session, [zone.id]), problems=zone_rules.count_violations(session, zone.id),
        rules=zone_rules.staff_rules(session, zone.id), targets=StaffRuleTarget.LABELS, paged=paged,
        staff_filter=staff_filter, q=q, errors=errors or {}, form=form or {}, error_message=error_message,
        error_row=error_row, can_deactivate=current_person().role == Role.SYSADMIN,
    ), status


@bp.get("/zones/<int:zone_id>")
@roles_required(*MANAGERS)
def zone_staff(zone_id: int):
    return _zone_page(_managed_zone(zone_id))


@bp.post("/zones/<int:zone_id>/assign")
@roles_required(*MANAGERS)
def zone_assign(zone_id: int):
    zone = _managed_zone(zone_id)
    try:
        changed = zone_rules.set_staff(grid_ctx(), request.form.getlist("enterprise_ids"),
                                       request.form.get("person_id"), zone.id)
    except ValidationFailed as error:
        db().rollback()
        flash(error.message, "error")
    else:
        flash(f"已为 {changed} 家企业指定为企服务人员", "success")
    return redirect(safe_next(request.form.get("back"), url_for("grid.zone_staff", zone_id=zone.id)))


@bp.post("/zones/<int:zone_id>/fill")
@roles_required(*MANAGERS)
def zone_fill(zone_id: int):
    zone = _managed_zone(zone_id)
    result = zone_rules.fill_missing_staff(grid_ctx(), zone.id)
    if result.without_staff:
        flash(f"{zone.name}暂无在岗的为企服务人员，{result.without_staff} 家企业未能分配，请先新增人员", "warning")
    else:
        flash(f"已为 {result.enterprises} 家企业配备为企服务人员（按分配规则，其余按负载均衡）", "success")
    return redirect(url_for("grid.zone_staff", zone_id=zone.id))


@bp.post("/zones/<int:zone_id>/rules")
@roles_required(*MANAGERS)
def staff_rule_create(zone_id: int):
    zone = _managed_zone(zone_id)
    try:
        zone_rules.save_staff_rule(grid_ctx(), None, zone.id, form_data())
    except ValidationFailed as error:
        db().rollback()
        return _zone_page(zone, status=422, errors=error.fields, form=form_data(), error_message=error.message,
                          error_row="new")
    flash("已新增人员分配规则（对新划入的企业和“分配未配备人员的企业”生效）", "success")
    return redirect(url_for("grid.zone_staff", zone_id=zone.id) + "#rules")


@bp.post("/zones/<int:zone_id>/rules/<int:rule_id>")
@roles_required(*MANAGERS)
def staff_rule_update(zone_id: int, rule_id: int):
    zone = _managed_zone(zone_id)
    try:
        zone_rules.save_staff_rule(grid_ctx(), rule_id, zone.id, form_data())
    except ValidationFailed as error:
        db().rollback()
        return _zone_page(zone, status=422, errors=error.fields, form=form_data(), error_message=error.message,
                          error_row=rule_id)
    flash("已保存分配规则", "success")
    return redirect(url_for("grid.zone_staff", zone_id=zone.id) + "#rules")


# --------------------------------------------------------------------------------------------------
# A staff member leaves
# --------------------------------------------------------------------------------------------------
def _leaver(zone, person_id: int) -> Person:
    person = db().get(Person, person_id)
    if person is None:
        abort(404)
    serves_here = db().scalar(select(func.count(Enterprise.id)).where(
        Enterprise.service_staff_id == person.id, Enterprise.zone_id == zone.id))
    if person.zone_id != zone.id and not serves_here:
        abort(404)
    return person


def _leave_page(zone, person, *, status=200, error_message="", form=None):
    count = db().scalar(select(func.count(Enterprise.id)).where(Enterprise.service_staff_id == person.id)) or 0
    others = zone_rules.zone_staff(db(), zone.id, exclude=[person.id])
    return render_template("grid/leave.html", zone=zone, person=person, count=count, others=others,
                           error_message=error_message, form=form or {"strategy": "balance"},
                           can_deactivate=current_person().role == Role.SYSADMIN), status


@bp.get("/zones/<int:zone_id>/leave/<int:person_id>")
@roles_required(*MANAGERS)
def leave(zone_id: int, person_id: int):
    zone = _managed_zone(zone_id)
    return _leave_page(zone, _leaver(zone, person_id))


@bp.post("/zones/<int:zone_id>/leave/<int:person_id>")
@roles_required(*MANAGERS)
def leave_submit(zone_id: int, person_id: int):
    zone = _managed_zone(zone_id)
    person = _leaver(zone, person_id)
    form = form_data()
    strategy = form.get("strategy") or "balance"
    if strategy == "person":
        strategy = (form.get("to_person_id") or "").strip() or "none"
    try:
        result = zone_rules.reassign_from(db(), person, current_person(), now(), strategy,
                                          ip=request.remote_addr or "")
        deactivated = False
        if form.get("deactivate") and current_person().role == Role.SYSADMIN and person.active:
            admin.deactivate_person(grid_ctx(), person.id)
            deactivated = True
    except ValidationFailed as error:
        db().rollback()
        return _leave_page(zone, person, status=422, error_message=error.message, form=form)
    parts = [f"已将{person.name}名下 {result.enterprises} 家企业移交"]
    if result.staffed:
        names = dict(db().execute(select(Person.id, Person.name).where(Person.id.in_(list(result.staffed)))).all())
        parts.append("（" + "、".join(f"{names.get(pid, pid)} {n} 家" for pid, n in result.staffed.items()) + "）")
    if result.rules_moved or result.rules_disabled:
        parts.append(f"；分配规则转交 {result.rules_moved} 条、停用 {result.rules_disabled} 条")
    if deactivated:
        parts.append(f"；已停用{person.name}的账号")
    flash("".join(parts), "success")
    return redirect(url_for("grid.zone_staff", zone_id=zone.id))
