"""Spreadsheet uploads for the imports (registry, people roster, policies): stored, checked
without parsing, queued as an ``ImportJob``, and the jobs process woken once the request has
committed. Parsing happens in the jobs process (``services.registry.import_jobs``)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from flask import Response, current_app

from extensions import storage
from handlers.context import current_person, db, now, settings
from jobs.wakes import wake
from models import ImportJob
from services.errors import ValidationFailed
from services.registry import excel_io, import_jobs

log = logging.getLogger(__name__)


def queue_import(upload, *, kind: str, full_export: bool = False, dry_run: bool = True) -> ImportJob:
    """Store ``upload`` under the import folder and queue its job; ``ValidationFailed`` (nothing
    kept) for a missing, unsupported, oversized or hostile file."""
    if upload is None or not upload.filename:
        raise ValidationFailed("请选择要上传的文件", fields={"file": "必填"})
    filename = Path(upload.filename.replace("\\", "/")).name[:200] or "upload"
    file_type = excel_io.file_kind(filename)
    if file_type not in excel_io.SUPPORTED:
        raise ValidationFailed(f"不支持的文件类型“{file_type or '无扩展名'}”，请上传 {excel_io.SUPPORTED_LABEL} 文件",
                               fields={"file": "文件类型不支持"})
    # Checked in a scratch copy, then put in the storage the jobs process reads (maybe on another host).
    key = import_jobs.upload_key(file_type)
    files = storage(current_app)
    with tempfile.TemporaryDirectory(prefix="yxby-import-") as scratch:
        local = Path(scratch) / f"upload.{file_type}"
        upload.save(local)
        job = import_jobs.accept_upload(db(), kind=kind, stored_path=local, storage_key=key, filename=filename,
                                        actor=current_person(), now=now(), max_bytes=settings().import_max_bytes,
                                        full_export=full_export, dry_run=dry_run)
        files.put_file(key, local)  # a request that then fails leaves an orphan housekeeping removes
    return job


def wake_imports_after(response: Response) -> Response:
    """Where this process runs the scheduler (development), run the import now rather than at the
    next tick — after the response, when the request boundary has committed the job. The app is
    taken now: the callback runs outside the request's app context."""
    app = current_app._get_current_object()

    def _wake() -> None:
        try:
            wake(app, "run_imports")
        except Exception:  # noqa: BLE001 - the regular run picks the job up anyway
            log.warning("could not wake run_imports", exc_info=True)

    response.call_on_close(_wake)
    return response
