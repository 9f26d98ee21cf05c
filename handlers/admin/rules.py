"""Rules the district tunes: SLA policies, the holiday calendar, screening rules, system settings."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.admin import bp
from handlers.admin.common import EDITORS, VIEWERS, admin_ctx, can_edit, form_data, render_invalid
from handlers.console.auth import roles_required
from handlers.context import db, now, settings
from models import RequestDomain, ScreeningRule, SlaPolicy
from services.admin import operations as admin
from services.admin.holiday_notice import parse_notice
from services.admin.operations import LOCAL_TZ
from services.errors import ValidationFailed
from services.orders import screening
from services.orders.ladder import LEVELS
from services.orders.sla import PRIORITIES


# --------------------------------------------------------------------------------------------
# SLA policies
# --------------------------------------------------------------------------------------------
def _sla_choices() -> dict:
    return {
        "domains": list(db().scalars(select(RequestDomain).order_by(RequestDomain.sort_order))),
        "priorities": {p: admin.PRIORITY_LABELS[p] for p in PRIORITIES}, "levels": LEVELS,
    }


def _policy_form(policy: SlaPolicy | None) -> dict:
    if policy is None:
        return {"priority": "normal", "level": "1", "sign_workdays": "1", "handle_workdays": "3",
                "remind_percents": "50,80", "leader_after_workdays": "1", "bizenv_after_workdays": "2",
                "return_limit_workdays": "1", "return_limit_workdays_complex": "2"}

    def text(value) -> str:
        return "" if value is None else str(value)

    return {
        "domain_id": text(policy.domain_id), "priority": policy.priority, "level": str(policy.level),
        "sign_minutes": text(policy.sign_minutes), "sign_workdays": text(policy.sign_workdays),
        "handle_workdays": text(policy.handle_workdays),
        "remind_percents": ",".join(str(p) for p in policy.remind_percents or []),
        "leader_after_workdays": text(policy.leader_after_workdays),
        "bizenv_after_workdays": text(policy.bizenv_after_workdays),
        "return_limit_workdays": text(policy.return_limit_workdays),
        "return_limit_workdays_complex": text(policy.return_limit_workdays_complex),
    }


@bp.get("/sla")
@roles_required(*VIEWERS)
def sla_policies():
    return render_template("admin/sla.html", policies=admin.list_sla_policies(db()), can_edit=can_edit(),
                           **_sla_choices())


def _load_policy(policy_id: int) -> SlaPolicy:
    policy = db().get(SlaPolicy, policy_id)
    if policy is None:
        abort(404)
    return policy


@bp.get("/sla/new")
@roles_required(*EDITORS)
def sla_new():
    return render_template("admin/sla_edit.html", policy=None, errors={}, form=_policy_form(None), **_sla_choices())


@bp.post("/sla/new")
@roles_required(*EDITORS)
def sla_create():
    try:
        admin.save_sla_policy(admin_ctx(), None, form_data())
    except ValidationFailed as error:
        return render_invalid("admin/sla_edit.html", error, policy=None, **_sla_choices())
    flash("时限策略已新增，此后开始计时的工单按新策略计算", "success")
    return redirect(url_for("admin.sla_policies"))


@bp.get("/sla/<int:policy_id>")
@roles_required(*EDITORS)
def sla_edit(policy_id: int):
    policy = _load_policy(policy_id)
    return render_template("admin/sla_edit.html", policy=policy, errors={}, form=_policy_form(policy),
                           **_sla_choices())


@bp.post("/sla/<int:policy_id>")
@roles_required(*EDITORS)
def sla_update(policy_id: int):
    try:
        admin.save_sla_policy(admin_ctx(), policy_id, form_data())
    except ValidationFailed as error:
        return render_invalid("admin/sla_edit.html", error, policy=_load_policy(policy_id), **_sla_choices())
    flash("时限策略已保存，此后开始计时的工单按新策略计算", "success")
    return redirect(url_for("admin.sla_policies"))


@bp.post("/sla/<int:policy_id>/delete")
@roles_required(*EDITORS)
def sla_delete(policy_id: int):
    admin.delete_sla_policy(admin_ctx(), policy_id)
    flash("时限策略已删除，该领域改按“全部领域”的通用策略计算", "success")
    return redirect(url_for("admin.sla_policies"))


# --------------------------------------------------------------------------------------------
# Holidays
# --------------------------------------------------------------------------------------------
def _holiday_page() -> dict:
    today = now().astimezone(LOCAL_TZ).date()
    show_all = request.args.get("all") == "1"
    return {
        "holidays": admin.list_holidays(db(), today, include_past=show_all), "show_all": show_all,
        "years": admin.calendar_status(db(), today), "builtin": admin.builtin_is_workday,
        "kinds": admin.HOLIDAY_KINDS, "can_edit": can_edit(),
        "calendar_warning": admin.calendar_warning(db(), today),
    }


@bp.get("/holidays")
@roles_required(*VIEWERS)
def holidays():
    return render_template("admin/holidays.html", errors={}, form={"kind": "off"}, **_holiday_page())


@bp.post("/holidays")
@roles_required(*EDITORS)
def holiday_add():
    try:
        row = admin.add_holiday(admin_ctx(), form_data())
    except ValidationFailed as error:
        return render_invalid("admin/holidays.html", error, **_holiday_page())
    flash(f"已登记 {row.day.isoformat()} 为{'调休上班' if row.is_workday else '休息日'}", "success")
    return redirect(url_for("admin.holidays"))


@bp.post("/holidays/notice")
@roles_required(*EDITORS)
def holiday_notice_preview():
    """The pasted notice, parsed and shown for confirmation; nothing is saved yet."""
    text = request.form.get("text") or ""
    try:
        notice = parse_notice(text)
    except ValidationFailed as error:
        return render_invalid("admin/holidays.html", error, **_holiday_page())
    return render_template("admin/holiday_notice.html", notice=notice, text=text,
                           rows=admin.notice_rows(db(), notice), builtin=admin.builtin_is_workday)


@bp.post("/holidays/notice/confirm")
@roles_required(*EDITORS)
def holiday_notice_confirm():
    try:
        counts = admin.import_holiday_notice(admin_ctx(), request.form.get("text") or "")
    except ValidationFailed as error:
        return render_invalid("admin/holidays.html", error, **_holiday_page())
    flash(f"已按国务院通知录入 {counts['year']} 年节假日：新增 {counts['new']} 天，修改 {counts['changed']} 天，"
          f"{counts['same']} 天原已一致", "success")
    return redirect(url_for("admin.holidays"))


@bp.post("/holidays/<int:holiday_id>/delete")
@roles_required(*EDITORS)
def holiday_delete(holiday_id: int):
    admin.delete_holiday(admin_ctx(), holiday_id)
    flash("已删除该日期的调整", "success")
    return redirect(url_for("admin.holidays"))


# --------------------------------------------------------------------------------------------
# Screening rules
# --------------------------------------------------------------------------------------------
def _screening_page(**extra) -> dict:
    page = {"groups": admin.screening_rules_by_category(db()), "sample": "", "suggestion": None, "tried": False}
    page.update(extra)
    return page


@bp.get("/screening")
@roles_required(*EDITORS)
def screening_rules():
    return render_template("admin/screening.html", **_screening_page())


@bp.post("/screening/try")
@roles_required(*EDITORS)
def screening_try():
    sample = (request.form.get("sample") or "")[:5000]
    suggestion = admin.try_screening(db(), sample)
    return render_template("admin/screening.html", **_screening_page(sample=sample, suggestion=suggestion, tried=True))


def _rule_form(rule: ScreeningRule | None) -> dict:
    if rule is None:
        return {"category": request.args.get("category", ""), "active": "1"}
    return {"category": rule.category, "keywords": rule.keywords, "reason": rule.reason,
            "proper_channel": rule.proper_channel, "active": "1" if rule.active else ""}


def _load_rule(rule_id: int) -> ScreeningRule:
    rule = db().get(ScreeningRule, rule_id)
    if rule is None:
        abort(404)
    return rule


@bp.get("/screening/new")
@roles_required(*EDITORS)
def screening_new():
    return render_template("admin/screening_edit.html", rule=None, errors={}, form=_rule_form(None),
                           categories=screening.CATEGORIES)


@bp.post("/screening/new")
@roles_required(*EDITORS)
def screening_create():
    try:
        admin.save_screening_rule(admin_ctx(), None, form_data())
    except ValidationFailed as error:
        return render_invalid("admin/screening_edit.html", error, rule=None, categories=screening.CATEGORIES)
    flash("甄别规则已新增，立即对新提交的诉求生效", "success")
    return redirect(url_for("admin.screening_rules"))


@bp.get("/screening/<int:rule_id>")
@roles_required(*EDITORS)
def screening_edit(rule_id: int):
    rule = _load_rule(rule_id)
    return render_template("admin/screening_edit.html", rule=rule, errors={}, form=_rule_form(rule),
                           categories=screening.CATEGORIES)


@bp.post("/screening/<int:rule_id>")
@roles_required(*EDITORS)
def screening_update(rule_id: int):
    try:
        admin.save_screening_rule(admin_ctx(), rule_id, form_data())
    except ValidationFailed as error:
        return render_invalid("admin/screening_edit.html", error, rule=_load_rule(rule_id),
                              categories=screening.CATEGORIES)
    flash("甄别规则已保存，立即对新提交的诉求生效", "success")
    return redirect(url_for("admin.screening_rules"))


# --------------------------------------------------------------------------------------------
# System settings
# --------------------------------------------------------------------------------------------
@bp.get("/settings")
@roles_required(*EDITORS)
def settings_page():
    values = {key: str(value) for key, value in admin.current_settings(db(), settings().setting_defaults()).items()}
    return render_template("admin/settings.html", specs=admin.SETTINGS, errors={}, form=values)


@bp.post("/settings")
@roles_required(*EDITORS)
def settings_update():
    try:
        admin.update_settings(admin_ctx(), form_data(), settings().setting_defaults())
    except ValidationFailed as error:
        return render_invalid("admin/settings.html", error, specs=admin.SETTINGS)
    flash("系统参数已保存", "success")
    return redirect(url_for("admin.settings_page"))
