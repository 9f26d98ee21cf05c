"""Address rules: which town/street names, roads, parks and communities belong to which zone."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from handlers.console.auth import roles_required
from handlers.context import current_person, db
from handlers.grid import bp
from handlers.grid.common import MANAGERS, form_data, grid_ctx
from models import AddressRuleKind, Role
from services.errors import ValidationFailed
from services.grid import rules as zone_rules


def _page(*, status: int = 200, errors=None, form=None, error_message: str = "", error_row=None,
          probe: str = "", match=None):
    person = current_person()
    session = db()
    zones = zone_rules.managed_zones(session, person)
    # Everyone who edits sees every rule: a zone admin must see what the neighbours claim.
    rules = zone_rules.address_rules(session)
    return render_template(
        "grid/rules.html", rules=rules, zones=zones, editable={z.id for z in zones}, kinds=AddressRuleKind.LABELS,
        errors=errors or {}, form=form or {}, error_message=error_message, error_row=error_row,
        probe=probe, match=match, zone_names={r.zone_id: r.zone.name for r in rules},
        sysadmin=person.role == Role.SYSADMIN,
    ), status


@bp.get("/rules")
@roles_required(*MANAGERS)
def rules():
    probe = (request.args.get("address") or "").strip()[:300]
    match = zone_rules.explain_zone(db(), probe) if probe else None
    return _page(probe=probe, match=match)


@bp.post("/rules")
@roles_required(*MANAGERS)
def rule_create():
    try:
        rule = zone_rules.save_address_rule(grid_ctx(), None, form_data())
    except ValidationFailed as error:
        db().rollback()
        return _page(status=422, errors=error.fields, form=form_data(), error_message=error.message, error_row="new")
    flash(f"已新增地址规则「{rule.pattern}」→ {rule.zone.name}", "success")
    return redirect(url_for("grid.rules"))


@bp.post("/rules/<int:rule_id>")
@roles_required(*MANAGERS)
def rule_update(rule_id: int):
    try:
        rule = zone_rules.save_address_rule(grid_ctx(), rule_id, form_data())
    except ValidationFailed as error:
        db().rollback()
        return _page(status=422, errors=error.fields, form=form_data(), error_message=error.message,
                     error_row=rule_id)
    flash(f"已保存地址规则「{rule.pattern}」", "success")
    return redirect(url_for("grid.rules"))
