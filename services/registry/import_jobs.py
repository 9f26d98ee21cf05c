"""Spreadsheet import jobs: upload → dry run (preview) → confirm → real run, in the jobs process.

An ``ImportJob`` row carries the file, its state and its progress. The web request only stores
the file, runs the checks that read no cell (``excel_io.check_upload``: type, size, zip bomb) and
queues the dry run; the ``run_imports`` job (jobs/definitions.py) claims queued jobs by state and
runs them, so no file is parsed inside a request (nor under its write lock) and a re-run is harmless.

Leases: a claim holds the job for ``lease`` (``IMPORT_LEASE_SECONDS``, 30 s by default). While the
runner works, a ``LeaseKeeper`` thread renews the lease every ``lease / 6`` — a thread, because one
reader call may parse a whole sheet without coming up for air. A job whose lease has passed, or
whose worker was a process on this machine that no longer exists (a jobs process killed with
SIGKILL and started again), is taken over by the next ``claim_next``: queued again and run again
(the registry import is an upsert, a re-run writes only what is still missing). A run that
was taken over ``MAX_ATTEMPTS`` times fails instead, so a file that kills its reader does not kill
every jobs process in turn. A worker that finds its lease gone stops and writes nothing more.

Kinds map to runners in ``RUNNERS`` ("module:function", imported when first needed). A runner
is called as ``runner(session_factory, job, now=..., clock=..., progress_cb=...)`` with a
``JobSnapshot`` and returns an object with ``job_fields()`` (counters for the ImportJob) and
``describe(dry_run=...)`` (a Chinese one-line summary); it raises ``ValidationFailed`` for a
file it cannot use. ``progress_cb`` must be called now and then: it raises ``LeaseLost`` once the
job belongs to another worker.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path, PurePath, PurePosixPath
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from integrations.storage import Storage
from models import ImportJob, ImportStatus, Person
from services import audit
from services.errors import InvalidTransition, ValidationFailed
from services.registry import excel_io

log = logging.getLogger(__name__)

RUNNERS: dict[str, str] = {
    "enterprises": "services.registry.importer:run_import_job",
    "people": "services.grid.people_roster:run_roster_job",
    "policies": "services.policies.library:run_policy_import_job",
}
KIND_LABELS = {"enterprises": "企业名录", "people": "人员名册", "policies": "政策与申报事项"}
# Kinds whose finished real run is audited here (the policy import records its own entry).
AUDITED_KINDS = ("enterprises", "people")
LEASE = timedelta(seconds=30)
# Console uploads are stored (``integrations.storage``) under this prefix until their job is over.
IMPORTS_PREFIX = "imports/"
MAX_ATTEMPTS = 3
# Row errors kept per job (see importer.MAX_LISTED_ERRORS, which is this).
MAX_LISTED_ERRORS = 10_000
TAKEN_OVER = "导入进程多次意外中断（已尝试 {attempts} 次），请检查文件后重新上传；已导入的部分保留，不会重复"


class LeaseLost(Exception):
    """The job's lease passed to another worker: stop, write nothing more."""


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
    worker: str = ""  # who claimed it (the lease holder)


def snapshot_of(job: ImportJob) -> JobSnapshot:
    return JobSnapshot(job.id, job.kind, job.filename, job.stored_path, job.dry_run, job.full_export,
                       job.created_by_id, job.file_size, job.claimed_by)


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


def accept_upload(session: Session, *, kind: str, stored_path: str | os.PathLike, filename: str,
                  actor: Person | None, now: datetime, max_bytes: int, full_export: bool = False,
                  dry_run: bool = True, storage_key: str | None = None) -> ImportJob:
    """An uploaded file becomes a queued job, after the checks that read no cell (type, size,
    container, zip bomb: ``excel_io.check_upload``, a few milliseconds). Nothing is parsed here:
    the jobs process does that, outside any request and its transaction."""
    if kind not in RUNNERS:
        raise ValidationFailed(f"未知的导入类型：{kind}")
    excel_io.check_upload(stored_path, filename, max_bytes)
    # A console upload is checked in its scratch copy and the job refers to its storage key.
    return create_job(session, kind=kind, filename=filename, stored_path=storage_key or str(stored_path),
                      file_size=os.path.getsize(stored_path), actor=actor, now=now, full_export=full_export,
                      dry_run=dry_run)


def confirm(session: Session, job: ImportJob, *, full_export: bool | None, now: datetime) -> ImportJob:
    """After the preview: queue the real run (the file is read again, with the same rules)."""
    if job.status != ImportStatus.PREVIEWED:
        raise InvalidTransition(f"该导入任务当前为“{job.status_label}”，不能确认导入")
    if full_export is not None:
        job.full_export = full_export
    job.status = ImportStatus.QUEUED
    job.dry_run = False
    job.error_message = ""
    job.attempts = 0
    job.updated_at = now
    session.flush()
    return job


def cancel(session: Session, job: ImportJob, *, now: datetime, storage: Storage | None = None) -> ImportJob:
    if job.status not in (ImportStatus.PREVIEWED, ImportStatus.QUEUED, ImportStatus.UPLOADED):
        raise InvalidTransition(f"该导入任务当前为“{job.status_label}”，不能取消")
    job.status = ImportStatus.CANCELLED
    job.updated_at = now
    session.flush()
    discard_upload(job.stored_path, storage)
    return job


def unlisted_note(job: ImportJob) -> str:
    """"另有 N 行错误未列出" for a job whose row errors were counted past the ones kept ("" otherwise)."""
    return f"另有 {job.unlisted_errors} 行错误未列出" if job.unlisted_errors else ""


def with_unlisted_note(errors: Iterable[tuple], job: ImportJob) -> Iterator[tuple]:
    """A report's rows, then a last line saying how many more rows had errors."""
    yield from errors
    if job.unlisted_errors:
        yield "", "", "", unlisted_note(job) + f"（每次导入最多保存 {MAX_LISTED_ERRORS} 行错误）", []


_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z]{3,4}$")


def is_upload_name(path: PurePath) -> bool:
    """A console upload's own copy (``…/imports/<uuid>.<ext>``), not a file someone pointed us at."""
    return path.parent.name == "imports" and bool(_UPLOAD_NAME.match(path.name))


def upload_key(extension: str) -> str:
    """A new storage key for an uploaded spreadsheet (``imports/<uuid>.<ext>``)."""
    return f"{IMPORTS_PREFIX}{uuid.uuid4().hex}.{extension}"


def is_storage_key(stored_path: str) -> bool:
    """A job's ``stored_path`` is a storage key for console uploads; an absolute path is a file the
    command line was pointed at (and the rows from before the storage existed)."""
    return not os.path.isabs(stored_path)


def discard_upload(stored_path: str, storage: Storage | None = None) -> bool:
    """Delete an uploaded copy once its job is over (the row errors live in the database).

    Only the console's own copies (``is_upload_name``) are deleted — never a file the command line
    was pointed at.
    """
    path = PurePosixPath(stored_path) if is_storage_key(stored_path) else Path(stored_path)
    if not is_upload_name(path):
        return False
    if is_storage_key(stored_path):
        if storage is not None:
            storage.delete(stored_path)
        return storage is not None
    Path(stored_path).unlink(missing_ok=True)
    return True


@contextmanager
def job_file(stored_path: str, storage: Storage | None) -> Iterator[Path]:
    """The job's file as a local path for the readers: fetched from the storage for a key."""
    if not is_storage_key(stored_path):
        yield Path(stored_path)
        return
    if storage is None:
        raise ValidationFailed("导入文件存放位置未配置，无法读取")
    try:
        with storage.local_copy(stored_path) as path:
            yield path
    except FileNotFoundError:
        raise ValidationFailed("导入文件已不存在（可能已被清理），请重新上传") from None


# --------------------------------------------------------------------------------------------------
# Running (the jobs process)
# --------------------------------------------------------------------------------------------------
def _worker_host_pid(worker: str) -> tuple[str, int] | None:
    """(host, pid) of a ``jobs.worker_id()`` ("host-pid-random"); None for any other name."""
    parts = worker.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def _gone_from_this_machine(claimed_by: str, worker: str) -> bool:
    """True when ``claimed_by`` was a process on this machine (same host name as ``worker``) that
    no longer runs: its job need not wait for the lease to pass."""
    holder, me = _worker_host_pid(claimed_by), _worker_host_pid(worker)
    if holder is None or me is None or holder[0] != me[0] or holder[1] == os.getpid():
        return False
    try:
        os.kill(holder[1], 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it runs, as someone else
        return False
    return False


def recover(session_factory: sessionmaker[Session], *, worker: str, now: datetime,
            lease: timedelta = LEASE, storage: Storage | None = None) -> list[int]:
    """Take back running jobs whose worker is gone: the lease passed, or the process that held it
    on this machine no longer exists. Queued again, or failed after ``MAX_ATTEMPTS`` claims."""
    taken: list[int] = []
    failed: list[str] = []
    with session_factory() as session:
        running = session.execute(
            select(ImportJob.id, ImportJob.claimed_by, ImportJob.lease_until, ImportJob.heartbeat_at,
                   ImportJob.started_at, ImportJob.attempts, ImportJob.stored_path)
            .where(ImportJob.status == ImportStatus.RUNNING)
        ).all()
        session.commit()  # SQLite: do not hold the write lock while deciding
        for job_id, claimed_by, lease_until, heartbeat_at, started_at, attempts, stored_path in running:
            # Rows claimed before leases existed have a heartbeat only.
            expires = lease_until or ((heartbeat_at or started_at or now) + lease)
            gone = _gone_from_this_machine(claimed_by, worker)
            if expires >= now and not gone:
                continue
            owned = (ImportJob.id == job_id, ImportJob.status == ImportStatus.RUNNING,
                     ImportJob.claimed_by == claimed_by)
            if attempts >= MAX_ATTEMPTS:
                values = {"status": ImportStatus.FAILED, "finished_at": now, "lease_until": None,
                          "error_message": TAKEN_OVER.format(attempts=attempts)}
            else:
                values = {"status": ImportStatus.QUEUED, "claimed_by": "", "lease_until": None, "error_message": ""}
            if session.execute(update(ImportJob).where(*owned).values(updated_at=now, **values)).rowcount:
                log.warning("import job %s taken back from %s (%s)%s", job_id, claimed_by,
                            "worker gone" if gone else "lease expired",
                            ", failed" if values["status"] == ImportStatus.FAILED else "")
                taken.append(job_id)
                if values["status"] == ImportStatus.FAILED:
                    failed.append(stored_path)
            session.commit()
    for path in failed:
        discard_upload(path, storage)
    return taken


def claim_next(session_factory: sessionmaker[Session], *, worker: str, now: datetime,
               lease: timedelta = LEASE, storage: Storage | None = None) -> JobSnapshot | None:
    """Take the oldest queued job; a real run waits while another real run of its kind is running.
    Running jobs whose worker is gone are taken back first (``recover``)."""
    recover(session_factory, worker=worker, now=now, lease=lease, storage=storage)
    with session_factory() as session:
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
                .values(status=ImportStatus.RUNNING, claimed_by=worker[:64], lease_until=now + lease,
                        attempts=ImportJob.attempts + 1, started_at=now, heartbeat_at=now, finished_at=None,
                        error_message="", updated_at=now)
            ).rowcount
            session.commit()
            if claimed:
                session.refresh(job)
                return snapshot_of(job)
        session.commit()
        return None


class LeaseKeeper:
    """Renews a claimed job's lease every ``interval`` on a thread of its own, until stopped.
    ``lost`` is set once the job is no longer this worker's (taken over, or cancelled)."""

    def __init__(self, session_factory: sessionmaker[Session], job: JobSnapshot, *, clock: Callable[[], datetime],
                 lease: timedelta = LEASE, interval: float | None = None):
        self.factory, self.job, self.clock, self.lease = session_factory, job, clock, lease
        self.interval = interval if interval is not None else max(0.2, lease.total_seconds() / 6)
        self.lost = threading.Event()
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"import-lease-{job.id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self.renew()  # a snapshot whose claim was taken over meanwhile starts as lost
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(f"import job {self.job.id} is no longer held by {self.job.worker}")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.renew()
            except Exception:  # noqa: BLE001 - a busy database: the next renewal comes well within the lease
                log.warning("import job %s: lease renewal failed", self.job.id, exc_info=True)
            if self.lost.is_set():
                return

    def renew(self) -> bool:
        now = self.clock()
        with self.factory() as session:
            held = session.execute(
                update(ImportJob).where(ImportJob.id == self.job.id, ImportJob.status == ImportStatus.RUNNING,
                                        ImportJob.claimed_by == self.job.worker)
                .values(lease_until=now + self.lease, heartbeat_at=now)
            ).rowcount
            session.commit()
        if not held:
            log.warning("import job %s: lease lost (taken over or cancelled); stopping", self.job.id)
            self.lost.set()
        self.renewals += 1
        return bool(held)


def run_job(session_factory: sessionmaker[Session], job: JobSnapshot, *, clock: Callable[[], datetime],
            progress_cb: Callable[[Any], None] | None = None, lease: timedelta = LEASE,
            storage: Storage | None = None) -> tuple[str, str]:
    """Run a claimed job to its end; returns (final status, summary). Never raises for bad files.
    A run whose lease was lost returns ("lost", "") and leaves the job to its new holder."""
    started = time.monotonic()
    with LeaseKeeper(session_factory, job, clock=clock, lease=lease) as keeper:
        def progress(counters: Any) -> None:
            keeper.check()
            if progress_cb is not None:
                progress_cb(counters)

        try:
            keeper.check()
            runner = runner_for(job.kind)
            with job_file(job.stored_path, storage) as local:
                result = runner(session_factory, replace(job, stored_path=str(local)), now=clock(), clock=clock,
                                progress_cb=progress)
            keeper.check()
        except LeaseLost:
            log.warning("import job %s abandoned after %.1fs: its lease was lost", job.id, time.monotonic() - started)
            return "lost", ""
        except ValidationFailed as error:
            return _ended(_finish(session_factory, job, ImportStatus.FAILED, clock(), storage=storage, error=error.message),
                          error.message)
        except Exception:
            reference = secrets.token_hex(4).upper()
            log.exception("import job %s failed ref=%s", job.id, reference)
            message = f"导入时系统出错，已导入的部分保留；请联系管理员并提供编号 {reference}"
            return _ended(_finish(session_factory, job, ImportStatus.FAILED, clock(), storage=storage, error=message), message)
    status = ImportStatus.PREVIEWED if job.dry_run else ImportStatus.DONE
    summary = result.describe(dry_run=job.dry_run)
    log.info("import job %s %s in %.1fs: %s", job.id, status, time.monotonic() - started, summary)
    detail = result.audit_detail() if hasattr(result, "audit_detail") else {}
    return _ended(_finish(session_factory, job, status, clock(), storage=storage, fields=result.job_fields(), summary=summary,
                          detail=detail), summary)


def _ended(status: str, summary: str) -> tuple[str, str]:
    return (status, "") if status == "lost" else (status, summary)


def _finish(session_factory, job: JobSnapshot, status: str, now: datetime, *, storage: Storage | None = None,
            error: str = "",
            fields: dict[str, int] | None = None, summary: str = "", detail: dict[str, Any] | None = None) -> str:
    """Record the end of a run — only while the job is still this worker's (else "lost")."""
    with session_factory() as session:
        held = session.execute(
            update(ImportJob).where(ImportJob.id == job.id, ImportJob.status == ImportStatus.RUNNING,
                                    ImportJob.claimed_by == job.worker).values(
                status=status, finished_at=now, heartbeat_at=now, lease_until=None, updated_at=now,
                error_message=error, **(fields or {}))
        ).rowcount
        if not held:
            session.rollback()
            log.warning("import job %s: not recording %s, its lease was lost", job.id, status)
            return "lost"
        if status == ImportStatus.DONE and job.kind in AUDITED_KINDS:
            actor = session.get(Person, job.created_by_id) if job.created_by_id else None
            audit.record(session, actor, "grid.people_import" if job.kind == "people" else "import.enterprises",
                         "import_job", job.id,
                         {"filename": job.filename, "summary": summary, "full_export": job.full_export,
                          **(detail or {})}, "", now)
        session.commit()
    if status in (ImportStatus.DONE, ImportStatus.FAILED):
        discard_upload(job.stored_path, storage)
    return status


def run_queued(session_factory: sessionmaker[Session], *, worker: str, clock: Callable[[], datetime],
               budget_seconds: float = 120.0, lease: timedelta = LEASE, storage: Storage | None = None) -> str:
    """The ``run_imports`` job: run queued jobs one after another for up to ``budget_seconds``."""
    started = time.monotonic()
    done: list[str] = []
    while time.monotonic() - started < budget_seconds:
        job = claim_next(session_factory, worker=worker, now=clock(), lease=lease, storage=storage)
        if job is None:
            break
        status, summary = run_job(session_factory, job, clock=clock, lease=lease, storage=storage)
        done.append(f"#{job.id} {ImportStatus.LABELS.get(status, '已转交其他进程')}：{summary}")
    return "；".join(done) if done else "没有待处理的导入"
