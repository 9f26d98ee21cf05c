"""Zones, departments with their units, and the departments' chat-group bindings."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from handlers.admin import bp
from handlers.admin.common import EDITORS, admin_ctx, form_data, render_invalid
from handlers.console.auth import roles_required
from handlers.context import db
from models import Department, DepartmentKind
from services.admin import operations as admin
from services.errors import ValidationFailed


# --------------------------------------------------------------------------------------------
# Zones
# --------------------------------------------------------------------------------------------
@bp.get("/zones")
@roles_required(*EDITORS)
def zones():
    return render_template("admin/zones.html", zones=admin.list_zones(db()), errors={}, form={}, error_row=None)


@bp.post("/zones/<int:zone_id>")
@roles_required(*EDITORS)
def zone_update(zone_id: int):
    try:
        zone = admin.update_zone(admin_ctx(), zone_id, form_data())
    except ValidationFailed as error:
        return render_invalid("admin/zones.html", error, zones=admin.list_zones(db()), error_row=zone_id)
    flash(f"片区「{zone.name}」已保存", "success")
    return redirect(url_for("admin.zones"))


# --------------------------------------------------------------------------------------------
# Departments and units
# --------------------------------------------------------------------------------------------
@bp.get("/departments")
@roles_required(*EDITORS)
def departments():
    nodes, hubs = admin.department_tree(db())
    return render_template("admin/departments.html", nodes=nodes, hubs=hubs,
                           groups=admin.chat_groups_by_department(db()), platforms=admin.PLATFORMS,
                           pending=admin.pending_conversations(db()))


def _department_page(department: Department, **extra):
    groups = {p: admin.chat_group(db(), department.id, p) for p in admin.PLATFORMS}
    context = {
        "department": department, "groups": groups, "platforms": admin.PLATFORMS, "mask": admin.mask_secret,
        "can_add_unit": department.kind == DepartmentKind.DEPARTMENT and department.parent_id is None,
        "section": None,
    }
    context.update(extra)
    return context


def _load_department(department_id: int) -> Department:
    department = db().get(Department, department_id)
    if department is None:
        abort(404)
    return department


@bp.get("/departments/<int:department_id>")
@roles_required(*EDITORS)
def department_edit(department_id: int):
    page = _department_page(_load_department(department_id))
    return render_template("admin/department_edit.html", errors={}, form={}, **page)


@bp.post("/departments/<int:department_id>")
@roles_required(*EDITORS)
def department_update(department_id: int):
    try:
        department = admin.update_department(admin_ctx(), department_id, form_data())
    except ValidationFailed as error:
        page = _department_page(_load_department(department_id), section="department")
        return render_invalid("admin/department_edit.html", error, **page)
    flash(f"「{department.display_name}」已保存", "success")
    return redirect(url_for("admin.department_edit", department_id=department.id))


@bp.post("/departments/<int:department_id>/units")
@roles_required(*EDITORS)
def unit_create(department_id: int):
    try:
        unit = admin.create_unit(admin_ctx(), department_id, form_data())
    except ValidationFailed as error:
        page = _department_page(_load_department(department_id), section="unit")
        return render_invalid("admin/department_edit.html", error, **page)
    flash(f"已新增下属单位「{unit.display_name}」，请为其配置首席帮办和群聊", "success")
    return redirect(url_for("admin.department_edit", department_id=unit.id))


@bp.post("/departments/<int:department_id>/chat/<platform>")
@roles_required(*EDITORS)
def chat_group_save(department_id: int, platform: str):
    try:
        admin.save_chat_group(admin_ctx(), department_id, platform, form_data())
    except ValidationFailed as error:
        page = _department_page(_load_department(department_id), section=f"chat-{platform}")
        return render_invalid("admin/department_edit.html", error, **page)
    flash(f"{admin.PLATFORMS[platform]}群聊绑定已保存", "success")
    return redirect(url_for("admin.department_edit", department_id=department_id))


@bp.post("/departments/<int:department_id>/chat/<platform>/conversation")
@roles_required(*EDITORS)
def chat_conversation_settle(department_id: int, platform: str):
    """Confirm or release the group conversation a robot bound by itself."""
    decision = request.form.get("decision", "")
    try:
        admin.settle_conversation(admin_ctx(), department_id, platform, decision)
    except ValidationFailed as error:
        flash(error.message, "error")
    else:
        flash("群会话绑定已确认" if decision == "confirm" else "群会话绑定已解除", "success")
    return redirect(url_for("admin.department_edit", department_id=department_id))
