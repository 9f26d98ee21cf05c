"""Housekeeping: delete the rows that only matter for a while, once they no longer can.

Run daily by the ``housekeeping`` job. Each table is pruned in batches of ``batch_size`` rows,
one short transaction per batch (``DELETE … WHERE key IN (SELECT key … LIMIT n)``), so neither
SQLite's single writer lock nor PostgreSQL row locks are held long enough to hold up callbacks
or deliveries. On PostgreSQL the batch skips rows another transaction has locked; they are
pruned on a later run.

What goes, and why it is safe:

* ``inbound_receipt`` after 7 days — platforms retry within minutes, and WeCom's signature
  check refuses any callback older than 5 minutes;
* ``inbound_message`` done after the retention (``INBOUND_RETENTION_DAYS``), failed after
  three times as long (they are what an administrator investigates); pending never;
* ``rate_window`` once its window ended more than a day ago; ``kv_entry`` a day after it
  expired; ``channel_pause`` once the pause is over;
* ``wecom_card_code`` after 72 hours, when WeCom no longer accepts the code;
* ``sign_in_throttle`` once no counter would still remember it (a day without failures).
* ``sandbox_message`` and *sent* ``outbound_message`` rows after ``OUTBOX_RETENTION_DAYS`` (180):
  what was said to whom is also in the work order's events and the audit log, which stay for
  good; pending, sending and dead messages are never pruned (a dead letter is what an
  administrator investigates). Sandbox lines go first, then the sent rows no line points at.
* spreadsheet imports (``services.registry.import_jobs``): a previewed import nobody confirmed or
  cancelled for ``ABANDONED_IMPORT_AFTER`` is cancelled and its upload deleted; the row errors of a
  failed or cancelled import go ``IMPORT_ERRORS_RETENTION`` after it ended (a done import keeps
  them: its report stays downloadable); an import that kept more than ``MAX_LISTED_ERRORS`` row
  errors (before that cap existed) is trimmed to it, the rest counted as unlisted; and a file in
  the import folder that no queued, running or previewed job needs — left by a process that died
  between saving and committing, or between finishing and deleting — goes once it is
  ``ORPHAN_UPLOAD_GRACE`` old (an upload being saved right now is younger).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from sqlalchemy import ColumnElement, and_, delete, exists, func, inspect, or_, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from config import INBOUND_RETENTION_MIN_DAYS
from database import is_postgres, session_scope
from integrations.storage import Storage
from integrations.wecom import RESPONSE_CODE_LIFETIME
from models import (
    ChannelPause,
    ImportJob,
    ImportRowError,
    ImportStatus,
    InboundMessage,
    InboundReceipt,
    InboxStatus,
    KvEntry,
    OutboundMessage,
    OutboxStatus,
    RateWindow,
    SandboxMessage,
    SignInThrottle,
    WeComCardCode,
)
from services.admin.sign_in import LONGEST_MEMORY
from services.registry.import_jobs import IMPORTS_PREFIX, MAX_LISTED_ERRORS, discard_upload, is_upload_name

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
RECEIPT_RETENTION = timedelta(days=7)
FAILED_RETENTION_FACTOR = 3
EXPIRED_GRACE = timedelta(days=1)
# Send-rate windows (integrations' RateRule) last from 20 seconds to 8 hours (DingTalk's daily
# notice cap); a row only has its start, so any window is assumed to last at most a day.
LONGEST_RATE_WINDOW = timedelta(days=1)
ABANDONED_IMPORT_AFTER = timedelta(days=7)
IMPORT_ERRORS_RETENTION = timedelta(days=7)
ORPHAN_UPLOAD_GRACE = timedelta(hours=1)
# Imports that need their uploaded file still.
_FILE_NEEDED = (ImportStatus.UPLOADED, ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.PREVIEWED)


LABELS = {
    "receipts": "回调去重记录",
    "inbound_done": "已处理回调",
    "inbound_failed": "处理失败回调",
    "rate_windows": "限流计数",
    "kv_entries": "过期令牌",
    "channel_pauses": "已结束的渠道暂停",
    "card_codes": "过期卡片响应码",
    "sign_in_failures": "过期的登录失败计数",
    "abandoned_imports": "预检后未确认的导入",
    "import_errors": "失败或放弃的导入的错误行",
    "trimmed_import_errors": "超出上限的导入错误行",
    "import_files": "无用的导入文件",
    "sandbox_messages": "过期的沙箱消息",
    "sent_messages": "过期的已发送消息",
}
DEFAULT_OUTBOX_RETENTION = timedelta(days=180)


@dataclass
class PruneReport:
    """Rows deleted, per table (``LABELS`` names each in the job's summary)."""

    receipts: int = 0
    inbound_done: int = 0
    inbound_failed: int = 0
    rate_windows: int = 0
    kv_entries: int = 0
    channel_pauses: int = 0
    card_codes: int = 0
    sign_in_failures: int = 0
    abandoned_imports: int = 0
    import_errors: int = 0
    trimmed_import_errors: int = 0
    import_files: int = 0
    sandbox_messages: int = 0
    sent_messages: int = 0

    def describe(self) -> str:
        parts = [f"{LABELS[f.name]} {getattr(self, f.name)} 条" for f in fields(self) if getattr(self, f.name)]
        return "清理：" + "、".join(parts) if parts else "无需清理"


def _conditions(now: datetime, inbound_retention: timedelta) -> dict[str, tuple[type, ColumnElement[bool]]]:
    """Per ``PruneReport`` field: the table and which of its rows may go."""

    def inbound(status: str, before: datetime) -> ColumnElement[bool]:
        # created_at is indexed; processed_at keeps a row an administrator sent round again recently.
        return and_(InboundMessage.status == status, InboundMessage.created_at < before,
                    InboundMessage.processed_at < before)

    rate_cutoff = int((now - EXPIRED_GRACE - LONGEST_RATE_WINDOW).timestamp())
    return {
        "receipts": (InboundReceipt, InboundReceipt.created_at < now - RECEIPT_RETENTION),
        "inbound_done": (InboundMessage, inbound(InboxStatus.DONE, now - inbound_retention)),
        "inbound_failed": (InboundMessage,
                           inbound(InboxStatus.FAILED, now - FAILED_RETENTION_FACTOR * inbound_retention)),
        "rate_windows": (RateWindow, RateWindow.window_start < rate_cutoff),
        "kv_entries": (KvEntry, and_(KvEntry.expires_at.is_not(None), KvEntry.expires_at < now - EXPIRED_GRACE)),
        "channel_pauses": (ChannelPause, ChannelPause.paused_until < now),
        "card_codes": (WeComCardCode, WeComCardCode.created_at < now - RESPONSE_CODE_LIFETIME),
        "sign_in_failures": (SignInThrottle, SignInThrottle.last_failure_at < now - LONGEST_MEMORY),
    }


def prune(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    inbound_retention: timedelta,
    batch_size: int = BATCH_SIZE,
    import_dir: Path | None = None,
    storage: Storage | None = None,
    outbox_retention: timedelta = DEFAULT_OUTBOX_RETENTION,
) -> PruneReport:
    """Delete what has outlived its use; every batch commits on its own."""
    if inbound_retention < timedelta(days=INBOUND_RETENTION_MIN_DAYS):
        raise ValueError(f"inbound_retention must be at least {INBOUND_RETENTION_MIN_DAYS} days")
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    report = PruneReport()
    for name, (model, condition) in _conditions(now, inbound_retention).items():
        setattr(report, name, _delete_in_batches(session_factory, model, condition, batch_size))
    if outbox_retention < timedelta(days=1):
        raise ValueError("outbox_retention must be at least a day")
    outbox_before = now - outbox_retention
    report.sandbox_messages = _delete_in_batches(session_factory, SandboxMessage,
                                                 SandboxMessage.created_at < outbox_before, batch_size)
    report.sent_messages = _delete_in_batches(session_factory, OutboundMessage, and_(
        OutboundMessage.status == OutboxStatus.SENT, OutboundMessage.sent_at < outbox_before,
        ~exists().where(SandboxMessage.outbound_id == OutboundMessage.id)), batch_size)
    report.abandoned_imports = _cancel_abandoned_imports(session_factory, now, storage)
    ended = select(ImportJob.id).where(ImportJob.status.in_((ImportStatus.FAILED, ImportStatus.CANCELLED)),
                                       ImportJob.updated_at < now - IMPORT_ERRORS_RETENTION)
    report.import_errors = _delete_in_batches(session_factory, ImportRowError, ImportRowError.job_id.in_(ended),
                                              batch_size)
    report.trimmed_import_errors = _trim_import_errors(session_factory, batch_size)
    if import_dir is not None:
        report.import_files = _sweep_import_files(session_factory, import_dir, now)
    if storage is not None:
        report.import_files += _sweep_stored_imports(session_factory, storage, now)
    return report


def _cancel_abandoned_imports(session_factory: sessionmaker[Session], now: datetime,
                              storage: Storage | None = None) -> int:
    with session_scope(session_factory) as session:
        abandoned = session.execute(
            select(ImportJob.id, ImportJob.stored_path).where(
                ImportJob.status.in_((ImportStatus.PREVIEWED, ImportStatus.UPLOADED)),
                ImportJob.updated_at < now - ABANDONED_IMPORT_AFTER)
        ).all()
        cancelled = []
        for job_id, stored_path in abandoned:
            if session.execute(
                update(ImportJob).where(ImportJob.id == job_id,
                                        ImportJob.status.in_((ImportStatus.PREVIEWED, ImportStatus.UPLOADED)))
                .values(status=ImportStatus.CANCELLED, finished_at=now, updated_at=now,
                        error_message=f"预检后 {ABANDONED_IMPORT_AFTER.days} 天未确认导入，已自动放弃；企业库未做任何改动")
            ).rowcount:
                cancelled.append(stored_path)
    for stored_path in cancelled:  # after the commit: a rolled-back cancel keeps its file
        discard_upload(stored_path, storage)
    return len(cancelled)


def _trim_import_errors(session_factory: sessionmaker[Session], batch_size: int) -> int:
    """Imports that stored more row errors than ``MAX_LISTED_ERRORS`` (before the cap): keep the
    first ones, count the other rows as unlisted."""
    with session_scope(session_factory) as session:
        candidates = list(session.scalars(select(ImportJob.id).where(
            ImportJob.errors - ImportJob.unlisted_errors > MAX_LISTED_ERRORS,
            ImportJob.status.not_in((ImportStatus.QUEUED, ImportStatus.RUNNING)))))
    trimmed = 0
    for job_id in candidates:
        with session_scope(session_factory) as session:
            cut = session.execute(
                select(ImportRowError.row_number, ImportRowError.id).where(ImportRowError.job_id == job_id)
                .order_by(ImportRowError.row_number, ImportRowError.id).offset(MAX_LISTED_ERRORS).limit(1)
            ).first()
        if cut is None:
            continue
        past = and_(ImportRowError.job_id == job_id, or_(
            ImportRowError.row_number > cut.row_number,
            and_(ImportRowError.row_number == cut.row_number, ImportRowError.id >= cut.id)))
        trimmed += _delete_in_batches(session_factory, ImportRowError, past, batch_size)
        with session_scope(session_factory) as session:
            kept_rows = session.scalar(select(func.count(func.distinct(ImportRowError.row_number)))
                                       .where(ImportRowError.job_id == job_id)) or 0
            job = session.get(ImportJob, job_id)
            job.unlisted_errors = max(0, job.errors - kept_rows)
    return trimmed


def _sweep_stored_imports(session_factory: sessionmaker[Session], storage: Storage, now: datetime) -> int:
    """The storage's ``imports/`` objects that no queued, running or previewed job needs."""
    with session_scope(session_factory) as session:
        needed = set(session.scalars(select(ImportJob.stored_path).where(ImportJob.status.in_(_FILE_NEEDED))))
    removed = 0
    for item in list(storage.objects(IMPORTS_PREFIX)):
        if item.key in needed or not is_upload_name(PurePosixPath(item.key)) or item.modified >= now - ORPHAN_UPLOAD_GRACE:
            continue
        storage.delete(item.key)
        removed += 1
        log.info("housekeeping: removed orphaned import upload %s", item.key)
    return removed


def _sweep_import_files(session_factory: sessionmaker[Session], folder: Path, now: datetime) -> int:
    if not folder.is_dir():
        return 0
    with session_scope(session_factory) as session:
        needed = {str(Path(p).resolve()) for p in session.scalars(
            select(ImportJob.stored_path).where(ImportJob.status.in_(_FILE_NEEDED)))}
    cutoff = (now - ORPHAN_UPLOAD_GRACE).timestamp()
    removed = 0
    for path in folder.iterdir():
        if not is_upload_name(path) or str(path.resolve()) in needed:
            continue
        try:
            if path.stat().st_mtime >= cutoff:
                continue  # being saved, or its job not committed yet
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
        log.info("housekeeping: removed orphaned import upload %s", path.name)
    return removed


def _delete_in_batches(session_factory: sessionmaker[Session], model: type, condition: ColumnElement[bool],
                       batch_size: int) -> int:
    columns = list(inspect(model).primary_key)
    key = columns[0] if len(columns) == 1 else tuple_(*columns)
    deleted = 0
    while True:
        with session_scope(session_factory) as session:
            batch = select(*columns).where(condition).limit(batch_size)
            if is_postgres(session):
                # Locked rows are being changed (a failed message put back to pending): leave them
                # for a later run. A row locked here is re-checked against the condition first.
                batch = batch.with_for_update(skip_locked=True)
            count = session.execute(
                delete(model).where(key.in_(batch)).execution_options(synchronize_session=False)
            ).rowcount
        deleted += count
        if count < batch_size:
            return deleted
