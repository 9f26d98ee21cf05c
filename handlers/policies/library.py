"""The policy library: list, create and edit policies and their items (with conditions), review →
publish → retire, attachments, the match preview, and the xlsx import with its template."""

from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from handlers.boundary import arg_id, arg_page
from handlers.console.auth import login_required
from handlers.console.common import send_stored, upload_root
from handlers.context import current_person, db, settings
from handlers.policies import bp
from handlers.policies.common import (
    condition_choices,
    conditions_form_values,
    conditions_from_form,
    describe_conditions,
    form_data,
    policy_ctx,
)
from handlers.uploads import queue_import, wake_imports_after
from integrations.storage import Storage
from models import (
    Department,
    DepartmentKind,
    ImportJob,
    ImportRowError,
    ItemStatus,
    PolicyLevel,
    PolicyStatus,
)
from services.errors import DomainError, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.orders import attachments
from services.policies import library as policies
from services.policies import matching as policy_matching
from services.policies import training
from services.registry import excel_io, import_jobs
from services.xlsx_export import XLSX_MIME

PER_PAGE = 50
POLICY_FIELDS = ("title", "issuing_body", "level", "doc_number", "published_on", "valid_from", "valid_until",
                 "source_url", "owner_department_id", "summary")
ITEM_FIELDS = ("title", "summary", "how_to_apply", "contact", "apply_from", "apply_until", "no_application",
               "sort_order")


def _owner_departments(person) -> list[Department]:
    query = select(Department).where(Department.active.is_(True), Department.kind != DepartmentKind.HUB)
    if person.role not in policies.EDITOR_HUB_ROLES:
        query = query.where((Department.id == person.department_id) | (Department.parent_id == person.department_id))
    return list(db().scalars(query.order_by(Department.sort_order, Department.id)))


def _all_departments() -> list[Department]:
    return list(db().scalars(select(Department).where(Department.kind != DepartmentKind.HUB)
                             .order_by(Department.sort_order, Department.id)))


def _iso(value) -> str:
    return value.isoformat() if value else ""


# --------------------------------------------------------------------------------------------
# List
# --------------------------------------------------------------------------------------------
@bp.get("/")
@login_required
def index():
    args = request.args
    page = arg_page()
    flt = policies.PolicyFilter(status=args.get("status", ""), level=args.get("level", ""),
                                department_id=arg_id("department_id"), q=(args.get("q") or "")[:100])
    rows, total = policies.list_policies(db(), flt, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return render_template(
        "policies/index.html", rows=rows, total=total, page=page, pages=max(1, -(-total // PER_PAGE)), flt=flt,
        statuses=PolicyStatus.LABELS, levels=PolicyLevel.LABELS, departments=_all_departments(),
        can_create=policies.can(db(), current_person(), "create"),
    )


# --------------------------------------------------------------------------------------------
# Create and edit a policy
# --------------------------------------------------------------------------------------------
def _policy_form_page(policy=None, *, form=None, errors=None, message: str = "", status: int = 200):
    if form is None:
        form = ({name: getattr(policy, name) for name in POLICY_FIELDS} if policy is not None else
                {"level": PolicyLevel.DISTRICT, "owner_department_id": current_person().department_id})
        for name in ("published_on", "valid_from", "valid_until"):
            form[name] = _iso(form.get(name))
    form = {k: ("" if v is None else str(v)) for k, v in form.items()}
    return render_template("policies/policy_form.html", policy=policy, form=form, errors=errors or {},
                           error_message=message, levels=PolicyLevel.LABELS,
                           departments=_owner_departments(current_person())), status


def _form_errors(error: DomainError) -> dict:
    return dict(error.fields or {})


@bp.get("/new")
@login_required
def policy_new():
    if not policies.can(db(), current_person(), "create"):
        raise PermissionDenied("只有部门首席帮办、部门领导、区营商环境办或系统管理员可以录入政策")
    return _policy_form_page()


@bp.post("/new")
@login_required
def policy_create():
    try:
        policy = policies.create_policy(policy_ctx(), form_data())
    except (ValidationFailed, PermissionDenied) as error:
        if isinstance(error, PermissionDenied) and not error.fields:
            raise
        db().rollback()
        return _policy_form_page(form=form_data(), errors=_form_errors(error), message=error.message, status=422)
    flash(f"已录入政策《{policy.title}》（草稿）。请添加申报事项，然后提交审核。", "success")
    return redirect(url_for("policies.policy", policy_id=policy.id))


@bp.get("/<int:policy_id>/edit")
@login_required
def policy_edit(policy_id: int):
    policy = policies.get_policy(db(), policy_id)
    if not policies.can(db(), current_person(), "edit", policy):
        raise PermissionDenied("你没有编辑该政策的权限")
    return _policy_form_page(policy)


@bp.post("/<int:policy_id>/edit")
@login_required
def policy_update(policy_id: int):
    policy = policies.get_policy(db(), policy_id)
    try:
        policies.update_policy(policy_ctx(), policy.id, form_data())
    except (ValidationFailed, PermissionDenied) as error:
        if isinstance(error, PermissionDenied) and not error.fields:
            raise
        db().rollback()
        return _policy_form_page(policy, form=form_data(), errors=_form_errors(error), message=error.message,
                                 status=422)
    flash("已保存政策信息", "success")
    return redirect(url_for("policies.policy", policy_id=policy.id))


# --------------------------------------------------------------------------------------------
# One policy
# --------------------------------------------------------------------------------------------
def _policy_page(policy, *, errors=None, message: str = "", status: int = 200):
    session = db()
    person = current_person()
    items = [(item, describe_conditions(item.conditions)) for item in policy.items]
    return render_template(
        "policies/policy.html", policy=policy, items=items, errors=errors or {}, error_message=message,
        actions=[(a, policies.ACTION_LABELS[a]) for a in policies.allowed_actions(session, person, policy)],
        can_edit=policies.can(session, person, "edit", policy),
        can_decide=policies.can(session, person, "publish", policy),
        can_campaign=policy.status == PolicyStatus.PUBLISHED and policies.can(session, person, "edit", policy),
        events=training.list_events(session, policy_id=policy.id, limit=20),
        questions=training.questions(session, policy_id=policy.id, limit=20),
        ItemStatus=ItemStatus, accept=attachments.ACCEPT_ATTR,
    ), status


@bp.get("/<int:policy_id>")
@login_required
def policy(policy_id: int):
    return _policy_page(policies.get_policy(db(), policy_id))


@bp.post("/<int:policy_id>/transition")
@login_required
def policy_transition(policy_id: int):
    policy = policies.get_policy(db(), policy_id)
    action = request.form.get("action") or ""
    try:
        policies.transition(policy_ctx(), policy.id, action, request.form.get("note") or "")
    except (ValidationFailed, InvalidTransition) as error:
        db().rollback()
        return _policy_page(policies.get_policy(db(), policy_id), errors=error.fields, message=error.message,
                            status=error.http_status)
    messages = {
        "submit": "已提交审核，等待牵头部门发布", "send_back": "已退回修改",
        "publish": "已发布。新发布的申报事项将在工作日定时推送，也可手动发起推送。", "retire": "已废止，不再匹配和推送",
    }
    flash(messages.get(action, "已完成"), "success")
    return redirect(url_for("policies.policy", policy_id=policy_id))


# --------------------------------------------------------------------------------------------
# Attachments
# --------------------------------------------------------------------------------------------
def _policy_files_root() -> Storage:
    return upload_root()


@bp.post("/<int:policy_id>/attachments")
@login_required
def policy_attach(policy_id: int):
    policy = policies.get_policy(db(), policy_id)
    if not policies.can(db(), current_person(), "edit", policy):
        raise PermissionDenied("你没有编辑该政策的权限")
    batch = None
    try:
        files = [attachments.Upload(f.filename or "", f.stream) for f in request.files.getlist("attachments")]
        if not any(f.filename for f in files):
            raise ValidationFailed("请选择要上传的文件", fields={"attachments": "请选择文件"})
        batch = attachments.store_uploads(files, _policy_files_root(), max_bytes=settings().upload_max_bytes)
        policies.add_attachments(policy_ctx(), policy.id, batch.records)
    except ValidationFailed as error:
        if batch is not None:
            batch.discard()
        db().rollback()
        return _policy_page(policies.get_policy(db(), policy_id), errors=error.fields, message=error.message,
                            status=422)
    flash("已上传附件", "success")
    return redirect(url_for("policies.policy", policy_id=policy_id) + "#attachments")


def _attachment(policy, sha256: str) -> dict:
    for record in policy.attachments or []:
        if record.get("sha256") == sha256:
            return record
    abort(404)


@bp.get("/<int:policy_id>/attachments/<sha256>")
@login_required
def policy_attachment(policy_id: int, sha256: str):
    record = _attachment(policies.get_policy(db(), policy_id), sha256)
    return send_stored(record["storage_key"], mimetype=record.get("content_type") or "application/octet-stream",
                       filename=record.get("filename") or "附件", as_attachment=True)


@bp.post("/<int:policy_id>/attachments/<sha256>/remove")
@login_required
def policy_attachment_remove(policy_id: int, sha256: str):
    policies.remove_attachment(policy_ctx(), policy_id, sha256)
    flash("已删除附件", "success")
    return redirect(url_for("policies.policy", policy_id=policy_id) + "#attachments")


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------
def _item_form_page(policy, item=None, *, form=None, cond=None, errors=None, message: str = "", status: int = 200,
                    preview=None):
    if form is None:
        form = {name: getattr(item, name) for name in ITEM_FIELDS} if item is not None else {"sort_order": len(policy.items)}
        for name in ("apply_from", "apply_until"):
            form[name] = _iso(form.get(name))
        form["no_application"] = "1" if form.get("no_application") else ""
    form = {k: ("" if v is None else str(v)) for k, v in form.items()}
    if cond is None:
        cond = item.conditions if item is not None else {}
    return render_template("policies/item_form.html", policy=policy, item=item, form=form,
                           cond=conditions_form_values(cond), choices=condition_choices(), errors=errors or {},
                           error_message=message, preview=preview), status


def _item_data() -> dict:
    data = form_data()
    data["conditions"] = conditions_from_form()
    return data


@bp.get("/<int:policy_id>/items/new")
@login_required
def item_new(policy_id: int):
    policy = policies.get_policy(db(), policy_id)
    if not policies.can(db(), current_person(), "edit", policy):
        raise PermissionDenied("你没有编辑该政策的权限")
    return _item_form_page(policy)


def _preview_requested() -> bool:
    return request.form.get("intent") == "preview"


def _unsaved_preview(policy, item=None):
    """"预览匹配" on the form: count and explain without saving anything."""
    data = _item_data()
    try:
        conditions = policy_matching.parse_conditions(data["conditions"])
    except ValidationFailed as error:
        return _item_form_page(policy, item, form=form_data(), cond=data["conditions"], errors=error.fields,
                               message=error.message, status=422)
    preview = policy_matching.preview(db(), conditions, policy_ctx().today, item_id=item.id if item else None,
                                      sample_size=10)
    return _item_form_page(policy, item, form=form_data(), cond=data["conditions"], preview=preview)


@bp.post("/<int:policy_id>/items/new")
@login_required
def item_create(policy_id: int):
    policy = policies.get_policy(db(), policy_id)
    if _preview_requested():
        return _unsaved_preview(policy)
    data = _item_data()
    try:
        item = policies.add_item(policy_ctx(), policy.id, data)
    except ValidationFailed as error:
        db().rollback()
        return _item_form_page(policy, form=form_data(), cond=data["conditions"], errors=error.fields,
                               message=error.message, status=422)
    flash(f"已添加申报事项「{item.title}」", "success")
    return redirect(url_for("policies.policy", policy_id=policy.id) + f"#item-{item.id}")


@bp.get("/items/<int:item_id>/edit")
@login_required
def item_edit(item_id: int):
    item = policies.get_item(db(), item_id)
    if not policies.can(db(), current_person(), "edit", item.policy):
        raise PermissionDenied("你没有编辑该政策的权限")
    return _item_form_page(item.policy, item)


@bp.post("/items/<int:item_id>/edit")
@login_required
def item_update(item_id: int):
    item = policies.get_item(db(), item_id)
    if _preview_requested():
        return _unsaved_preview(item.policy, item)
    data = _item_data()
    try:
        policies.update_item(policy_ctx(), item.id, data)
    except (ValidationFailed, InvalidTransition) as error:
        db().rollback()
        item = policies.get_item(db(), item_id)
        return _item_form_page(item.policy, item, form=form_data(), cond=data["conditions"], errors=error.fields,
                               message=error.message, status=error.http_status)
    flash("已保存申报事项", "success")
    return redirect(url_for("policies.policy", policy_id=item.policy_id) + f"#item-{item.id}")


@bp.post("/items/<int:item_id>/<any(delete, publish, withdraw):action>")
@login_required
def item_action(item_id: int, action: str):
    item = policies.get_item(db(), item_id)
    policy_id, title = item.policy_id, item.title
    ctx = policy_ctx()
    try:
        if action == "delete":
            policies.delete_item(ctx, item.id)
        elif action == "publish":
            policies.publish_item(ctx, item.id)
        else:
            policies.withdraw_item(ctx, item.id, request.form.get("reason") or "")
    except InvalidTransition as error:
        db().rollback()
        flash(error.message, "error")
        return redirect(url_for("policies.policy", policy_id=policy_id))
    flash({"delete": f"已删除申报事项「{title}」", "publish": f"已发布申报事项「{title}」",
           "withdraw": f"已撤回申报事项「{title}」，不再推送"}[action], "success")
    return redirect(url_for("policies.policy", policy_id=policy_id))


@bp.get("/items/<int:item_id>/preview")
@login_required
def item_preview(item_id: int):
    """The match preview of a saved item: counts per zone and staff member, a sample with reasons."""
    item = policies.get_item(db(), item_id)
    preview = policy_matching.preview(db(), item.conditions or {}, policy_ctx().today, item_id=item.id,
                                      sample_size=min(100, max(5, arg_id("sample") or 20)))
    return render_template("policies/preview.html", item=item, policy=item.policy, preview=preview,
                           can_campaign=item.policy.status == PolicyStatus.PUBLISHED
                           and item.status == ItemStatus.PUBLISHED
                           and policies.can(db(), current_person(), "edit", item.policy))


# --------------------------------------------------------------------------------------------
# xlsx import: the upload queues an ImportJob ("policies"); the jobs process reads and applies it
# --------------------------------------------------------------------------------------------
IMPORT_KIND = "policies"


def _import_page(*, status: int = 200, error_message: str = "", job: ImportJob | None = None):
    errors = import_jobs_rows(job) if job is not None and not job.is_active else []
    return render_template("policies/import.html", spec=policies.IMPORT_SPEC, notes=policies.IMPORT_NOTES,
                           job=job, errors=errors, error_message=error_message,
                           unlisted=import_jobs.unlisted_note(job) if job is not None else "",
                           can_import=policies.can(db(), current_person(), "create")), status


def import_jobs_rows(job: ImportJob) -> list[ImportRowError]:
    return list(db().scalars(select(ImportRowError).where(ImportRowError.job_id == job.id)
                             .order_by(ImportRowError.row_number, ImportRowError.id).limit(200)))


def _import_job(job_id: int) -> ImportJob:
    """Its uploader's, or any hub editor's (the report holds only what the file said)."""
    job = db().get(ImportJob, job_id)
    person = current_person()
    if (job is None or job.kind != IMPORT_KIND
            or (job.created_by_id != person.id and person.role not in policies.EDITOR_HUB_ROLES)):
        raise NotFound("未找到该导入任务")
    return job


@bp.get("/import")
@login_required
def import_page():
    return _import_page()


@bp.get("/import/template.xlsx")
@login_required
def import_template():
    buffer = io.BytesIO()
    policies.write_import_template(buffer)
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name="政策与申报事项导入模板.xlsx", mimetype=XLSX_MIME)


@bp.post("/import")
@login_required
def import_upload():
    upload = request.files.get("file")
    if not policies.can(db(), current_person(), "create"):
        raise PermissionDenied("只有部门首席帮办、部门领导、区营商环境办或系统管理员可以导入政策")
    if upload is None or not upload.filename:
        return _import_page(status=422, error_message="请选择要导入的 Excel 文件")
    try:
        job = queue_import(upload, kind=IMPORT_KIND, dry_run=False)  # no preview: rows land as drafts
    except ValidationFailed as error:
        return _import_page(status=422, error_message=error.message)
    return wake_imports_after(redirect(url_for("policies.import_job", job_id=job.id)))


@bp.get("/import/<int:job_id>")
@login_required
def import_job(job_id: int):
    return _import_page(job=_import_job(job_id))


@bp.get("/import/<int:job_id>/errors.xlsx")
@login_required
def import_errors(job_id: int):
    job = _import_job(job_id)
    rows = ((e.row_number, e.column, e.value, e.reason, e.row_values)
            for e in db().scalars(select(ImportRowError).where(ImportRowError.job_id == job.id)
                                  .order_by(ImportRowError.row_number, ImportRowError.id)))
    buffer = io.BytesIO()
    excel_io.write_row_errors(buffer, (job.header_map or {}).get("headers") or [],
                              import_jobs.with_unlisted_note(rows, job))
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name="政策导入未通过的行.xlsx", mimetype=XLSX_MIME, max_age=0)

