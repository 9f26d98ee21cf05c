"""Registry imports in the console: upload → preview (a dry run in the jobs process) → confirm →
the real run with a progress bar → the result with the rejected rows and their xlsx report."""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

from flask import current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from extensions import storage
from handlers.console.auth import roles_required
from handlers.console.common import checkbox
from handlers.context import current_person, db, now, settings
from handlers.registry import bp
from handlers.uploads import queue_import, wake_imports_after
from models import ImportJob
from services import labels
from services.errors import NotFound, ValidationFailed
from services.registry import excel_io, import_jobs
from services.registry import importer as registry_import
from services.registry.enterprises import IMPORT_ROLES, IMPORT_VIEW_ROLES, VIEW_ROLES

log = logging.getLogger(__name__)
KIND = "enterprises"
SHOWN_ERRORS = 200


def _jobs_list():
    return list(db().scalars(
        select(ImportJob).where(ImportJob.kind == KIND).order_by(ImportJob.id.desc()).limit(20)
    ))


def _upload_page(*, status: int = 200, error: ValidationFailed | None = None):
    limit_mb = settings().import_max_bytes // (1024 * 1024)
    return render_template(
        "registry/imports.html", jobs=_jobs_list(), limit_mb=limit_mb, spec=registry_import.ENTERPRISE_SPEC,
        can_import=current_person().role in IMPORT_ROLES, error_message=error.message if error else "",
        expected=(error.fields or {}).get("expected", "") if error else "",
    ), status


@bp.get("/imports")
@roles_required(*IMPORT_VIEW_ROLES)
def imports():
    return _upload_page()


@bp.get("/imports/template.xlsx")
@roles_required(*VIEW_ROLES)
def import_template():
    buffer = io.BytesIO()
    excel_io.write_template(buffer, registry_import.ENTERPRISE_SPEC, example_rows=registry_import.TEMPLATE_EXAMPLES,
                            notes=registry_import.TEMPLATE_NOTES)
    buffer.seek(0)
    return send_file(buffer, as_attachment=True, download_name="企业名录导入模板.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.post("/imports")
@roles_required(*IMPORT_ROLES)
def import_upload():
    # The request itself is capped by MAX_CONTENT_LENGTH (3 × UPLOAD_MAX_MB + 1 MB, parsed before this
    # view for the CSRF check); the import's own limit, with its Chinese message, applies in queue_import.
    # Nothing is parsed here: the dry run (jobs process) reads the header and the first rows.
    try:
        job = queue_import(request.files.get("file"), kind=KIND, full_export=checkbox("full_export"))
    except ValidationFailed as error:
        return _upload_page(status=422, error=error)
    return wake_imports_after(redirect(url_for("registry.import_job", job_id=job.id)))


def _job(job_id: int) -> ImportJob:
    job = db().get(ImportJob, job_id)
    if job is None or job.kind != KIND:
        raise NotFound("未找到该导入任务")
    return job


@bp.get("/imports/<int:job_id>")
@roles_required(*IMPORT_VIEW_ROLES)
def import_job(job_id: int):
    job = _job(job_id)
    errors = registry_import.row_errors(db(), job.id, limit=SHOWN_ERRORS) if not job.is_active else []
    return render_template("registry/import_job.html", job=job, errors=errors, shown_errors=SHOWN_ERRORS,
                           can_import=current_person().role in IMPORT_ROLES, readers=labels.SPREADSHEET_READERS,
                           max_listed=import_jobs.MAX_LISTED_ERRORS)


@bp.get("/imports/<int:job_id>/status")
@roles_required(*IMPORT_VIEW_ROLES)
def import_status(job_id: int):
    job = _job(job_id)
    return jsonify({"ok": True, "job": {
        "id": job.id, "status": job.status, "status_label": job.status_label, "dry_run": job.dry_run,
        "total": job.total, "processed": job.processed, "estimated_rows": job.estimated_rows,
        "new": job.new, "changed": job.changed, "unchanged": job.unchanged, "errors": job.errors,
        "unlisted_errors": job.unlisted_errors,
        "missing": job.missing, "status_changes": job.status_changes, "percent": job.percent,
        "active": job.is_active, "error_message": job.error_message,
    }})


@bp.post("/imports/<int:job_id>/confirm")
@roles_required(*IMPORT_ROLES)
def import_confirm(job_id: int):
    job = _job(job_id)
    import_jobs.confirm(db(), job, full_export=checkbox("full_export"), now=now())
    flash("已确认导入，正在后台执行", "success")
    return wake_imports_after(redirect(url_for("registry.import_job", job_id=job.id)))


@bp.post("/imports/<int:job_id>/cancel")
@roles_required(*IMPORT_ROLES)
def import_cancel(job_id: int):
    job = _job(job_id)
    import_jobs.cancel(db(), job, now=now(), storage=storage(current_app))
    flash("已取消该导入，企业库未做任何改动", "success")
    return redirect(url_for("registry.imports"))


@bp.get("/imports/<int:job_id>/errors.xlsx")
@roles_required(*IMPORT_VIEW_ROLES)
def import_errors(job_id: int):
    job = _job(job_id)
    # Streamed to a temporary file (openpyxl write-only), then sent from disk: memory stays flat.
    spool = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115 - closed by send_file
    spool.close()
    excel_io.write_row_errors(spool.name, registry_import.report_headers(job),
                              import_jobs.with_unlisted_note(registry_import.iter_row_errors(db(), job.id), job))
    handle = open(spool.name, "rb")  # noqa: SIM115
    Path(spool.name).unlink()  # the open handle keeps the data until the response is sent
    name = f"未导入的行_{Path(job.filename).stem}_{job.id}.xlsx"
    return send_file(handle, as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
