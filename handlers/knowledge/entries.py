"""知识库: search and list entries, write and edit them, publish and retire; the JSON lookup of
similar content for the new-request form."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select

from handlers.console.auth import login_required
from handlers.context import current_person, db
from handlers.knowledge import bp
from handlers.knowledge.common import (
    choices,
    form_data,
    int_arg,
    knowledge_ctx,
    own_departments,
    page_arg,
    query_arg,
    suggestion_items,
)
from models import KnowledgeSource, KnowledgeStatus, Policy, PolicyStatus
from services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from services.knowledge import cases
from services.knowledge import entries as knowledge

PER_PAGE = 30
ENTRY_FIELDS = ("title", "answer", "domain_id", "stage_id", "department_id", "policy_id", "keywords")


@bp.get("/")
@login_required
def index():
    flt = knowledge.EntryFilter(q=query_arg(), status=request.args.get("status", ""), domain_id=int_arg("domain"),
                                stage_id=int_arg("stage"), department_id=int_arg("department"),
                                source=request.args.get("source", ""))
    person = current_person()
    paged = knowledge.search_entries(db(), person, flt, page=page_arg(), per_page=PER_PAGE)
    policies, questions = knowledge.policy_hits(db(), flt.q) if flt.q else ([], [])
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "knowledge/index.html", paged=paged, flt=flt, args=args, statuses=KnowledgeStatus.LABELS,
        sources=KnowledgeSource.LABELS, policies=policies, questions=questions,
        can_create=knowledge.can(db(), person, "create"), **choices(),
    )


@bp.get("/similar")
@login_required
def similar():
    """Up to three published entries or cases like the text being typed (JSON)."""
    text = (request.args.get("text") or "").strip()
    return jsonify({"ok": True, "items": suggestion_items(text)})


# --------------------------------------------------------------------------------------------
# One entry
# --------------------------------------------------------------------------------------------
def _entry_page(entry, *, errors=None, message: str = "", status: int = 200):
    session = db()
    person = current_person()
    actions = [(a, knowledge.ACTION_LABELS[a]) for a in knowledge.allowed_actions(session, person, entry)]
    return render_template(
        "knowledge/entry.html", entry=entry, actions=actions, errors=errors or {}, error_message=message,
        can_edit=knowledge.can(session, person, "edit", entry),
    ), status


@bp.get("/entries/<int:entry_id>")
@login_required
def entry(entry_id: int):
    found = knowledge.viewable_entry(db(), current_person(), entry_id)
    if found.status == KnowledgeStatus.PUBLISHED:
        knowledge.record_view(db(), found, used=request.args.get("from") == "suggest")
    return _entry_page(found)


@bp.post("/entries/<int:entry_id>/transition")
@login_required
def entry_transition(entry_id: int):
    action = request.form.get("action") or ""
    try:
        knowledge.transition(knowledge_ctx(), entry_id, action, request.form.get("note") or "")
    except (ValidationFailed, InvalidTransition) as error:
        db().rollback()
        return _entry_page(knowledge.get_entry(db(), entry_id), errors=error.fields, message=error.message,
                           status=error.http_status)
    flash({"submit": "已提交审核，已通知区营商环境办", "send_back": "已退回修改，已通知编写人",
           "publish": "已发布，所有工作人员均可查到", "retire": "已停用，不再出现在搜索与推荐中",
           "restore": "已恢复为草稿"}.get(action, "已完成"), "success")
    return redirect(url_for("knowledge.entry", entry_id=entry_id))


# --------------------------------------------------------------------------------------------
# Write and edit
# --------------------------------------------------------------------------------------------
def _published_policies() -> list[Policy]:
    return list(db().scalars(select(Policy).where(Policy.status == PolicyStatus.PUBLISHED)
                             .order_by(Policy.updated_at.desc()).limit(500)))


def _form_page(entry=None, *, form=None, errors=None, message: str = "", status: int = 200):
    if form is None:
        if entry is not None:
            form = {name: getattr(entry, name) for name in ENTRY_FIELDS}
            form["keywords"] = "、".join(entry.keyword_list)
        else:
            form = {"department_id": current_person().department_id}
    form = {k: ("" if v is None else str(v)) for k, v in form.items()}
    return render_template("knowledge/entry_form.html", entry=entry, form=form, errors=errors or {},
                           error_message=message, departments=own_departments(), policies=_published_policies(),
                           **choices()), status


def _refused_with_fields(error) -> bool:
    """A refusal about one field (your own department) shows on the form; any other goes to the error page."""
    return isinstance(error, PermissionDenied) and not error.fields


def _source_case():
    """The case an entry is distilled from (「提炼为知识条目」 on a case page), when given and visible."""
    raw = (request.values.get("case_id") or "").strip()
    return cases.viewable_case(db(), current_person(), raw) if raw else None


@bp.get("/entries/new")
@login_required
def entry_new():
    if not knowledge.can(db(), current_person(), "create"):
        raise PermissionDenied("只有区营商环境办、区网格中心、部门首席帮办或系统管理员可以编写知识条目")
    case_row = _source_case()
    if case_row is None:
        return _form_page()
    # The anonymised text when there is one: an answer is read far beyond the order's zone.
    prefix = "public_" if case_row.anonymised else ""
    return _form_page(form={"title": getattr(case_row, prefix + "title"), "answer": getattr(case_row, prefix + "result"),
                            "domain_id": case_row.domain_id, "stage_id": case_row.stage_id, "case_id": case_row.id,
                            "department_id": current_person().department_id})


@bp.post("/entries/new")
@login_required
def entry_create():
    try:
        case_row = _source_case()
        source = {"source": KnowledgeSource.CASE, "source_case_id": case_row.id} if case_row is not None else {}
        created = knowledge.create_entry(knowledge_ctx(), form_data(), **source)
    except (ValidationFailed, PermissionDenied) as error:
        if _refused_with_fields(error):
            raise
        db().rollback()
        return _form_page(form=form_data(), errors=error.fields, message=error.message, status=422)
    flash("已保存为草稿。" + ("确认无误后请发布。" if knowledge.is_editor(current_person())
                            else "区营商环境办审核后发布。"), "success")
    return redirect(url_for("knowledge.entry", entry_id=created.id))


@bp.get("/entries/<int:entry_id>/edit")
@login_required
def entry_edit(entry_id: int):
    found = knowledge.get_entry(db(), entry_id)
    if not knowledge.can(db(), current_person(), "edit", found):
        raise PermissionDenied("您无权修改该条目")
    return _form_page(found)


@bp.post("/entries/<int:entry_id>/edit")
@login_required
def entry_update(entry_id: int):
    found = knowledge.get_entry(db(), entry_id)
    try:
        knowledge.update_entry(knowledge_ctx(), found.id, form_data())
    except (ValidationFailed, PermissionDenied) as error:
        if _refused_with_fields(error):
            raise
        db().rollback()
        return _form_page(knowledge.get_entry(db(), entry_id), form=form_data(), errors=error.fields,
                          message=error.message, status=422)
    flash("已保存", "success")
    return redirect(url_for("knowledge.entry", entry_id=entry_id))
