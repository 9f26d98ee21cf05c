"""The enterprise list and the enterprise profile (with its edits)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.boundary import arg_page
from handlers.console.auth import roles_required
from handlers.context import current_person, db, now
from handlers.registry import bp
from models import EnterpriseEventKind, EntityType, RegistrationStatus, ServiceStage
from services.admin.operations import AdminContext
from services.errors import ValidationFailed
from services.registry import enterprises as registry
from services.registry import size_band
from services.registry.enterprises import VIEW_ROLES, Filters


def _choices() -> dict:
    person = current_person()
    return {
        "zones": registry.visible_zones(db(), person), "all_zones": registry.sees_all_zones(person),
        "entity_types": EntityType.LABELS, "statuses": RegistrationStatus.LABELS,
        "groups": {k: label for k, (label, _s) in RegistrationStatus.GROUPS.items()},
        "sizes": size_band.LABELS,
    }


@bp.get("/")
@roles_required(*VIEW_ROLES)
def index():
    return redirect(url_for("registry.enterprises"))


@bp.get("/enterprises")
@roles_required(*VIEW_ROLES)
def enterprises():
    filters = Filters.from_args(request.args)
    page_number = arg_page()
    page = registry.list_enterprises(db(), current_person(), filters, now(), page=page_number)
    # The grid's export takes the same query string (its filters are a subset of these).
    can_export = "grid.export_enterprises" in current_app.view_functions
    return render_template("registry/enterprises.html", page=page, filters=filters, args=filters.args(),
                           can_export=can_export, **_choices())


def _profile_page(enterprise, *, form=None, errors=None, error_message=""):
    session = db()
    person = current_person()
    stages = list(session.scalars(select(ServiceStage).order_by(ServiceStage.sort_order)))
    return {
        "e": enterprise, "events": registry.history(session, enterprise.id),
        "orders": registry.orders_of(session, enterprise.id), "order_count": registry.order_count(session, enterprise.id),
        "can_edit": registry.can_edit(person, enterprise), "stages": stages,
        "chain_positions": registry.CHAIN_POSITIONS, "suggestions": registry.QUALIFICATION_SUGGESTIONS,
        "field_labels": registry.FIELD_LABELS, "event_kinds": EnterpriseEventKind.LABELS,
        "entity_types": EntityType.LABELS, "size_labels": size_band.LABELS,
        "industry_rule": (size_band.RULES.get(size_band.industry_of(enterprise.industry_code) or "")),
        "form": form or _form(enterprise), "errors": errors or {}, "error_message": error_message,
    }


def _form(enterprise) -> dict:
    def number(value):
        return "" if value is None else (format(value, "f") if hasattr(value, "as_tuple") else str(value))

    return {
        "contact_name": enterprise.contact_name, "contact_phone": enterprise.contact_phone,
        "employees": number(enterprise.employees), "revenue": number(enterprise.revenue),
        "assets": number(enterprise.assets), "industry_code": enterprise.industry_code,
        "stage_id": str(enterprise.stage_id or ""), "chain_position": enterprise.chain_position,
        "is_key_industry": "1" if enterprise.is_key_industry else "",
        "qualifications": "、".join(enterprise.qualifications or []),
        "abnormal": "1" if "经营异常" in (enterprise.status_flags or []) else "",
    }


@bp.get("/enterprises/<int:enterprise_id>")
@roles_required(*VIEW_ROLES)
def enterprise(enterprise_id: int):
    item = registry.load_enterprise(db(), current_person(), enterprise_id)
    return render_template("registry/enterprise.html", **_profile_page(item))


@bp.post("/enterprises/<int:enterprise_id>")
@roles_required(*VIEW_ROLES)
def enterprise_update(enterprise_id: int):
    session = db()
    item = registry.load_enterprise(session, current_person(), enterprise_id)
    ac = AdminContext(session=session, actor=current_person(), now=now(), ip=request.remote_addr or "")
    try:
        changes = registry.update_profile(ac, item, request.form)
    except ValidationFailed as error:
        session.rollback()
        item = registry.load_enterprise(session, current_person(), enterprise_id)
        form = {k: request.form.get(k, "") for k in registry.EDITABLE}
        return render_template("registry/enterprise.html", **_profile_page(
            item, form=form, errors=error.fields, error_message=error.message)), 422
    if changes:
        labels = "、".join(registry.FIELD_LABELS.get(k, k) for k in changes)
        flash(f"已保存：{labels}", "success")
    else:
        flash("没有需要保存的修改", "info")
    return redirect(url_for("registry.enterprise", enterprise_id=item.id))
