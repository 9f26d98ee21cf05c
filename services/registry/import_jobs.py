"""Spreadsheet import jobs: upload → dry run (preview) → confirm → real run, in the jobs process.

An ``ImportJob`` row carries the file, its state and its progress. The web request only stores
the file, reads the header and queues the dry run; the ``run_imports`` job (jobs/definitions.py)
claims queued jobs by state and runs them, so a large file never runs inside a request and a
re-run is harmless. A job whose worker died (no heartbeat for ``STALE_AFTER``) is failed so the
person can queue it again.

Kinds map to runners in ``RUNNERS`` ("module:function", imported when first needed). A runner
is called as ``runner(session_factory, job, now=..., clock=..., progress_cb=...)`` with a
``JobSnapshot`` and returns an object with ``job_fields()`` (counters for the ImportJob) and
``describe(dry_run=...)`` (a Chinese one-line summary); it raises ``ValidationFailed`` for a
file it cannot use.
"""

from __future__ import annotations

import importlib
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import ImportJob, ImportStatus, Person
from services import audit
from services.errors import InvalidTransition, ValidationFailed

log = logging.getLogger(__name__)

RUNNERS: dict[str, str] = {
    "enterprises": "services.registry.importer:run_import_job",
}
KIND_LABELS = {"enterprises": "企业名录"}
STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class JobSnapshot:
    id: int
    kind: str
    filename: str
    stored_path: str
    dry_run: bool
    full_export: bool
    created_by_id: int | None
    file_size: int = 0


def snapshot_of(job: ImportJob) -> JobSnapshot:
    return JobSnapshot(job.id, job.kind, job.filename, job.stored_path, job.dry_run, job.full_export,
                       job.created_by_id, job.file_size)


def runner_for(kind: str) -> Callable[..., Any]:
    target = RUNNERS.get(kind)
    if target is None:
        raise ValidationFailed(f"未知的导入类型：{kind}")
    module_name, _, func = target.partition(":")
    return getattr(importlib.import_module(module_name), func)


# --------------------------------------------------------------------------------------------------
# Creating and confirming (called from the request; flush, never commit)
# --------------------------------------------------------------------------------------------------
def create_job(
    session: Session, *, kind: str, filename: str, stored_path: str, file_size: int, actor: Person | None,
    now: datetime, full_export: bool = False, header: dict[str, Any] | None = None,
    preview_rows: list[Any] | None = None, estimated_rows: int | None = None, dry_run: bool = True,
    status: str = ImportStatus.QUEUED,
) -> ImportJob:
    job = ImportJob(
        kind=kind, filename=filename[:255], stored_path=stored_path, file_size=file_size, status=status,
        dry_run=dry_run, full_export=full_export, header_row=(header or {}).get("row"), header_map=header or {},
        preview_rows=preview_rows or [], estimated_rows=estimated_rows, created_by_id=actor.id if actor else None,
        created_at=now, updated_at=now,
    )
    session.add(job)
    session.flush()
    return job


def confirm(session: Session, job: ImportJob, *, full_export: bool | None, now: datetime) -> ImportJob:
    """After the preview: queue the real run (the file is read again, with the same rules)."""
    if job.status != ImportStatus.PREVIEWED:
        raise InvalidTransition(f"该导入任务当前为“{job.status_label}”，不能确认导入")
    if full_export is not None:
        job.full_export = full_export
    job.status = ImportStatus.QUEUED
    job.dry_run = False
    job.error_message = ""
    job.updated_at = now
    session.flush()
    return job


def cancel(session: Session, job: ImportJob, *, now: datetime) -> ImportJob:
    if job.status not in (ImportStatus.PREVIEWED, ImportStatus.QUEUED, ImportStatus.UPLOADED):
        raise InvalidTransition(f"该导入任务当前为“{job.status_label}”，不能取消")
    job.status = ImportStatus.CANCELLED
    job.updated_at = now
    session.flush()
    discard_upload(job.stored_path)
    return job


_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z]{3,4}$")


def discard_upload(stored_path: str) -> bool:
    """Delete an uploaded copy once its job is over (the row errors live in the database).

    Only the console's own copies (``…/imports/<uuid>.<ext>``) are deleted — never a file the
    command line was pointed at.
    """
    path = Path(stored_path)
    if path.parent.name != "imports" or not _UPLOAD_NAME.match(path.name):
        return False
    path.unlink(missing_ok=True)
    return True


# --------------------------------------------------------------------------------------------------
# Running (the jobs process, or the CLI)
# --------------------------------------------------------------------------------------------------
def fail_stale(session: Session, now: datetime) -> int:
    result = session.execute(
        update(ImportJob)
        .where(ImportJob.status == ImportStatus.RUNNING, ImportJob.heartbeat_at < now - STALE_AFTER)
        .values(status=ImportStatus.FAILED, finished_at=now, updated_at=now,
                error_message="导入进程意外中断，请重新上传文件导入（已导入的部分不会重复）")
    )
    return result.rowcount or 0


def claim_next(session_factory: sessionmaker[Session], *, worker: str, now: datetime) -> JobSnapshot | None:
    """Take the oldest queued job; a real run waits while another real run of its kind is running."""
    with session_factory() as session:
        fail_stale(session, now)
        session.commit()
        candidates = session.scalars(
            select(ImportJob).where(ImportJob.status == ImportStatus.QUEUED).order_by(ImportJob.id).limit(20)
        ).all()
        busy = set(session.scalars(
            select(ImportJob.kind).where(ImportJob.status == ImportStatus.RUNNING, ImportJob.dry_run.is_(False))
        ))
        for job in candidates:
            if not job.dry_run and job.kind in busy:
                continue
            claimed = session.execute(
                update(ImportJob).where(ImportJob.id == job.id, ImportJob.status == ImportStatus.QUEUED)
                .values(status=ImportStatus.RUNNING, claimed_by=worker[:64], started_at=now, heartbeat_at=now,
                        finished_at=None, error_message="", updated_at=now)
            ).rowcount
            session.commit()
            if claimed:
                session.refresh(job)
                return snapshot_of(job)
        return None


def run_job(session_factory: sessionmaker[Session], job: JobSnapshot, *, clock: Callable[[], datetime],
            progress_cb: Callable[[Any], None] | None = None) -> tuple[str, str]:
    """Run a claimed job to its end; returns (final status, summary). Never raises for bad files."""
    started = time.monotonic()
    try:
        runner = runner_for(job.kind)
        result = runner(session_factory, job, now=clock(), clock=clock, progress_cb=progress_cb)
    except ValidationFailed as error:
        return _finish(session_factory, job, ImportStatus.FAILED, clock(), error=error.message), error.message
    except Exception:
        reference = secrets.token_hex(4).upper()
        log.exception("import job %s failed ref=%s", job.id, reference)
        message = f"导入时系统出错，已导入的部分保留；请联系管理员并提供编号 {reference}"
        return _finish(session_factory, job, ImportStatus.FAILED, clock(), error=message), message
    status = ImportStatus.PREVIEWED if job.dry_run else ImportStatus.DONE
    summary = result.describe(dry_run=job.dry_run)
    log.info("import job %s %s in %.1fs: %s", job.id, status, time.monotonic() - started, summary)
    _finish(session_factory, job, status, clock(), fields=result.job_fields(), summary=summary)
    return status, summary


def _finish(session_factory, job: JobSnapshot, status: str, now: datetime, *, error: str = "",
            fields: dict[str, int] | None = None, summary: str = "") -> str:
    with session_factory() as session:
        session.execute(
            update(ImportJob).where(ImportJob.id == job.id).values(
                status=status, finished_at=now, heartbeat_at=now, updated_at=now, error_message=error,
                **(fields or {}))
        )
        if status == ImportStatus.DONE:
            actor = session.get(Person, job.created_by_id) if job.created_by_id else None
            audit.record(session, actor, f"import.{job.kind}", "import_job", job.id,
                         {"filename": job.filename, "summary": summary, "full_export": job.full_export}, "", now)
        session.commit()
    if status in (ImportStatus.DONE, ImportStatus.FAILED):
        discard_upload(job.stored_path)
    return status


def run_queued(session_factory: sessionmaker[Session], *, worker: str, clock: Callable[[], datetime],
               budget_seconds: float = 120.0) -> str:
    """The ``run_imports`` job: run queued jobs one after another for up to ``budget_seconds``."""
    started = time.monotonic()
    done: list[str] = []
    while time.monotonic() - started < budget_seconds:
        job = claim_next(session_factory, worker=worker, now=clock())
        if job is None:
            break
        status, summary = run_job(session_factory, job, clock=clock)
        done.append(f"#{job.id} {ImportStatus.LABELS.get(status, status)}：{summary}")
    return "；".join(done) if done else "没有待处理的导入"
