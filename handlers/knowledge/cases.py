"""案例库: list and search cases, write one up from a closed order, edit, publish, mark typical."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from handlers.console.auth import login_required
from handlers.context import current_person, db
from handlers.knowledge import bp
from handlers.knowledge.common import choices, form_data, int_arg, knowledge_ctx, page_arg, query_arg
from models import KnowledgeStatus
from services.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.knowledge import cases
from services.knowledge import entries as knowledge
from services.orders.operations import get_order

PER_PAGE = 30
MESSAGES = {
    "submit": "已提交审核，已通知区营商环境办", "send_back": "已退回修改，已通知编写人",
    "publish": "已发布到案例库", "retire": "已停用", "restore": "已恢复为草稿",
    "typical": "已设为典型案例：发布后（脱敏文本）将出现在对外公开的典型案例页", "untypical": "已取消典型案例",
}


@bp.get("/cases")
@login_required
def case_list():
    flt = cases.CaseFilter(q=query_arg(), status=request.args.get("status", ""),
                           typical=request.args.get("typical") == "1", domain_id=int_arg("domain"),
                           stage_id=int_arg("stage"))
    paged = cases.search_cases(db(), current_person(), flt, page=page_arg(), per_page=PER_PAGE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("knowledge/cases.html", paged=paged, flt=flt, args=args,
                           statuses=KnowledgeStatus.LABELS, **choices())


def _case_page(case_row, *, errors=None, message: str = "", status: int = 200):
    session = db()
    person = current_person()
    actions = [(a, cases.ACTION_LABELS[a]) for a in cases.allowed_actions(session, person, case_row)]
    return render_template("knowledge/case.html", case=case_row, actions=actions, errors=errors or {},
                           error_message=message, can_edit=cases.can(session, person, "edit", case_row),
                           can_distil=case_row.status == KnowledgeStatus.PUBLISHED
                           and knowledge.can(session, person, "create"),
                           level=cases.describe_level(case_row)), status


@bp.get("/cases/<int:case_id>")
@login_required
def case(case_id: int):
    return _case_page(cases.viewable_case(db(), current_person(), case_id))


@bp.post("/cases/<int:case_id>/transition")
@login_required
def case_transition(case_id: int):
    action = request.form.get("action") or ""
    try:
        cases.transition(knowledge_ctx(), case_id, action, request.form.get("note") or "")
    except (ValidationFailed, InvalidTransition) as error:
        db().rollback()
        return _case_page(cases.get_case(db(), case_id), errors=error.fields, message=error.message,
                          status=error.http_status)
    flash(MESSAGES.get(action, "已完成"), "success")
    return redirect(url_for("knowledge.case", case_id=case_id))


def _form_page(*, case_row=None, order=None, form, errors=None, message: str = "", status: int = 200):
    form = {k: ("" if v is None else str(v)) for k, v in form.items()}
    return render_template("knowledge/case_form.html", case=case_row, order=order, form=form, errors=errors or {},
                           error_message=message, fields=cases.FIELD_LABELS), status


def _order_from(value: str | None):
    number = (value or "").strip()
    if not number:
        raise NotFound("请从已办结工单的详情页点击「转为案例」")
    return get_order(db(), number)


@bp.get("/cases/new")
@login_required
def case_new():
    order = _order_from(request.args.get("order"))
    existing = cases.case_for_order(db(), order.id)
    if existing is not None and cases.can(db(), current_person(), "view", existing):
        flash(f"工单 {order.number} 已整理为案例", "warning")
        return redirect(url_for("knowledge.case", case_id=existing.id))
    cases.ensure_can_create(db(), current_person(), order)
    return _form_page(order=order, form={**cases.prefill(order), "anonymised": "1"})


@bp.post("/cases/new")
@login_required
def case_create():
    data = form_data()
    order = _order_from(data.get("order"))
    data.setdefault("anonymised", "")
    try:
        created = cases.create_from_order(knowledge_ctx(), order.id, data)
    except ValidationFailed as error:
        db().rollback()
        return _form_page(order=get_order(db(), order.id), form=data, errors=error.fields, message=error.message,
                          status=error.http_status)
    flash(f"已将工单 {order.number} 整理为案例（草稿）" + ("，已生成脱敏文本" if created.anonymised else ""), "success")
    return redirect(url_for("knowledge.case", case_id=created.id))


@bp.get("/cases/<int:case_id>/edit")
@login_required
def case_edit(case_id: int):
    case_row = cases.get_case(db(), case_id)
    if not cases.can(db(), current_person(), "edit", case_row):
        raise PermissionDenied("您无权修改该案例")
    form = {name: getattr(case_row, name) for name in cases.TEXT_FIELDS}
    form.update({f"public_{name}": getattr(case_row, f"public_{name}") for name in cases.TEXT_FIELDS})
    form["anonymised"] = "1" if case_row.anonymised else ""
    return _form_page(case_row=case_row, form=form)


@bp.post("/cases/<int:case_id>/edit")
@login_required
def case_update(case_id: int):
    data = form_data()
    try:
        cases.update_case(knowledge_ctx(), case_id, data)
    except ValidationFailed as error:
        db().rollback()
        return _form_page(case_row=cases.get_case(db(), case_id), form=data, errors=error.fields,
                          message=error.message, status=422)
    flash("已保存", "success")
    return redirect(url_for("knowledge.case", case_id=case_id))

