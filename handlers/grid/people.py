"""People roster: download the template, upload → preview with row errors → confirm; export the roster."""

from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from handlers.console.auth import roles_required
from handlers.context import db, now, settings
from handlers.grid import bp
from handlers.uploads import queue_import, wake_imports_after
from models import Department, ImportJob, Role, Zone
from services import xlsx_export
from services.errors import ValidationFailed
from services.grid import people_roster
from services.registry import import_jobs

EDITORS = (Role.SYSADMIN,)
SHOWN_ERRORS = 200


def _xlsx(buffer: io.BytesIO, stem: str):
    buffer.seek(0)
    return send_file(buffer, mimetype=xlsx_export.XLSX_MIME, as_attachment=True,
                     download_name=xlsx_export.download_name(stem, now()), max_age=0)


def _page(*, status: int = 200, error_message: str = "", expected: str = ""):
    session = db()
    return render_template(
        "grid/people.html", jobs=people_roster.recent_jobs(session), error_message=error_message,
        expected=expected, spec=people_roster.PEOPLE_SPEC, roles=Role.LABELS,
        zones=list(session.scalars(select(Zone).order_by(Zone.sort_order, Zone.id))),
        departments=list(session.scalars(select(Department).order_by(Department.sort_order, Department.id))),
        max_mb=settings().import_max_bytes // (1024 * 1024),
    ), status


@bp.get("/people")
@roles_required(*EDITORS)
def people():
    return _page()


@bp.get("/people/template.xlsx")
@roles_required(*EDITORS)
def people_template():
    buffer = io.BytesIO()
    people_roster.write_template(buffer)
    return _xlsx(buffer, "人员名册导入模板")


@bp.get("/people/export.xlsx")
@roles_required(*EDITORS)
def people_export():
    filters = {key: (request.args.get(key) or "").strip() for key in ("role", "zone_id", "department_id", "active")}
    buffer = io.BytesIO()
    people_roster.write_export(buffer, db(), **filters)
    return _xlsx(buffer, "人员名册")


@bp.post("/people/import")
@roles_required(*EDITORS)
def people_upload():
    # Checked without parsing, then previewed by the jobs process (the job page refreshes itself).
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(status=422, error_message="请选择要导入的人员名册文件")
    try:
        job = queue_import(upload, kind=people_roster.KIND)
    except ValidationFailed as error:
        return _page(status=422, error_message=error.message)
    return wake_imports_after(redirect(url_for("grid.people_job", job_id=job.id)))


def _job(job_id: int) -> ImportJob:
    job = db().get(ImportJob, job_id)
    if job is None or job.kind != people_roster.KIND:
        abort(404)
    return job


@bp.get("/people/import/<int:job_id>")
@roles_required(*EDITORS)
def people_job(job_id: int):
    job = _job(job_id)
    errors = people_roster.job_errors(db(), job, limit=SHOWN_ERRORS)
    return render_template("grid/people_job.html", job=job, errors=errors,
                           error_total=people_roster.error_count(db(), job), shown=SHOWN_ERRORS,
                           good_rows=job.new + job.changed + job.unchanged,
                           unlisted=import_jobs.unlisted_note(job))


@bp.post("/people/import/<int:job_id>/confirm")
@roles_required(*EDITORS)
def people_confirm(job_id: int):
    job = _job(job_id)
    import_jobs.confirm(db(), job, full_export=None, now=now())
    flash("已确认导入，正在后台执行", "success")
    return wake_imports_after(redirect(url_for("grid.people_job", job_id=job_id)))


@bp.get("/people/import/<int:job_id>/errors.xlsx")
@roles_required(*EDITORS)
def people_job_errors(job_id: int):
    job = _job(job_id)
    buffer = io.BytesIO()
    people_roster.write_errors(buffer, db(), job)
    return _xlsx(buffer, f"人员名册未导入的行-{job.id}")
