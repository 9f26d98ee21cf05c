"""The inbound inbox: platform callbacks are stored at the door and acted on by the jobs process.

WeCom gives its callback 5 s before retrying and SQLite has one writer, so a callback does
nothing but verify, parse and ``store`` the message — one ``INSERT … ON CONFLICT DO NOTHING`` on
(platform, message id), so a platform's retry stores nothing new — and answers 200.
``process_due`` (job ``process_inbound``, every second) then runs exactly what used to run inline:

1. claim a small batch in one short transaction: each due row gets ``attempts + 1`` and a lease
   (``next_attempt_at = now + lease``) — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
   compare-and-set UPDATE on SQLite, where writers queue anyway. A processor that dies leaves
   its rows to come back when the lease runs out, the attempt counted, so a message that kills
   its processor cannot loop for ever;
2. each claimed row in a transaction of its own: lock it, check it is still pending, run the
   platform's processor, mark it done — in that same transaction, so a crash or an error between
   the command and "done" rolls both back: a command never runs twice, nor half;
3. after an error: roll back, record it on the row and retry with a growing delay; after
   ``max_attempts`` mark the row failed and tell the sender in Chinese, with a reference an
   administrator can find the row by (``IN-<id>``).

Nothing here knows a platform: the caller maps each platform to its ``InboxProcessor``
(``services.messaging.inbound.processors_for``: the platform's parser and the one neutral flow).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from database import is_postgres, session_scope
from models import InboundMessage, InboxStatus
from services import observability

log = logging.getLogger(__name__)

BATCH_SIZE = 20
MAX_ATTEMPTS = 3
CLAIM_LEASE = timedelta(seconds=60)
RETRY_DELAYS_SECONDS = (2, 10, 60)  # after the 1st, 2nd, 3rd… failed attempt
FAILED_REPLY = "抱歉，系统处理您的消息时出错，未能完成，请稍后重新发送或联系系统管理员（参考号 {reference}）。"


@dataclass(frozen=True)
class InboxProcessor:
    """How one platform's stored messages are acted on.

    ``process`` runs inside the row's transaction and returns a short outcome for the log; it
    must not commit. ``apologise`` (optional) queues the Chinese "something went wrong" answer
    to the sender when the message finally fails."""

    process: Callable[[Session, InboundMessage, datetime], str]
    apologise: Callable[[Session, InboundMessage, str, datetime], None] | None = None


@dataclass
class InboxStats:
    claimed: int = 0
    done: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0  # already done by another processor whose lease had run out

    def add(self, other: InboxStats) -> None:
        for name in ("claimed", "done", "retrying", "failed", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def describe(self) -> str:
        return (f"认领 {self.claimed}，已处理 {self.done}，待重试 {self.retrying}，失败 {self.failed}，"
                f"跳过 {self.skipped}")


def reference(message: InboundMessage | int) -> str:
    """What the sender and the administrator quote: ``IN-<row id>``."""
    return f"IN-{message if isinstance(message, int) else message.id}"


# --------------------------------------------------------------------------------------------
# At the door
# --------------------------------------------------------------------------------------------
def _insert_statement(dialect: str):
    """Built once per dialect: a callback's whole transaction is this statement, so neither its
    construction nor its cache key is paid again on every request."""
    statement = _INSERTS.get(dialect)
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = InboundMessage.__table__
        statement = _INSERTS[dialect] = (
            insert(table).on_conflict_do_nothing(index_elements=["platform", "dedupe_key"]).returning(table.c.id)
        )
    return statement


_INSERTS: dict[str, Any] = {}


def store(session: Session, platform: str, dedupe_key: str, payload: dict[str, Any], now: datetime) -> bool:
    """Keep a verified callback for processing; False when the platform delivered it before.
    One statement, no savepoint: the caller commits and answers. The current request id goes
    with it, so the jobs process's log lines for it carry the same id."""
    inserted = session.execute(_insert_statement(session.get_bind().dialect.name), {
        "platform": platform, "dedupe_key": dedupe_key[:200], "payload": payload, "status": InboxStatus.PENDING,
        "attempts": 0, "next_attempt_at": now, "error": "", "outcome": "", "created_at": now,
        "request_id": observability.current_request_id()[:64],
    }).scalar_one_or_none()
    stored = inserted is not None
    observability.record_callback(platform, "stored" if stored else "duplicate")
    return stored


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------
def _due(now: datetime):
    return and_(InboundMessage.status == InboxStatus.PENDING, InboundMessage.next_attempt_at <= now)


def claim_due(session: Session, *, now: datetime, limit: int, lease: timedelta = CLAIM_LEASE) -> list[int]:
    """Claim up to ``limit`` due rows (oldest first); the caller commits to publish the claim."""
    query = select(InboundMessage.id).where(_due(now)).order_by(InboundMessage.id).limit(limit)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        return []
    # One compare-and-set UPDATE for the batch (rows another claimer took meanwhile are no longer
    # due and drop out), not one per row: on PostgreSQL every statement is a round trip.
    claimed = session.scalars(
        update(InboundMessage)
        .where(InboundMessage.id.in_(ids), _due(now))
        .values(attempts=InboundMessage.attempts + 1, next_attempt_at=now + lease)
        .returning(InboundMessage.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(claimed)


def process_due(
    session_factory: sessionmaker[Session],
    processors: Mapping[str, InboxProcessor],
    *,
    now_fn: Callable[[], datetime],
    batch_size: int = BATCH_SIZE,
    max_attempts: int = MAX_ATTEMPTS,
    lease: timedelta = CLAIM_LEASE,
) -> InboxStats:
    """One pass: claim a batch, then process each claimed row in its own transaction."""
    stats = InboxStats()
    with session_scope(session_factory) as session:
        claimed = claim_due(session, now=now_fn(), limit=batch_size, lease=lease)
    stats.claimed = len(claimed)
    for message_id in claimed:
        outcome = _process_one(session_factory, processors, message_id, now_fn, max_attempts)
        setattr(stats, outcome, getattr(stats, outcome) + 1)
    return stats


def _process_one(session_factory, processors, message_id: int, now_fn, max_attempts: int) -> str:
    """Process one row under the request id of the callback that stored it."""
    token = observability.set_request_id("")
    try:
        return _process_claimed(session_factory, processors, message_id, now_fn, max_attempts)
    finally:
        observability.reset_request_id(token)


def _process_claimed(session_factory, processors, message_id: int, now_fn, max_attempts: int) -> str:
    now = now_fn()
    session = session_factory()
    try:
        message = session.get(InboundMessage, message_id, with_for_update=True, populate_existing=True)
        if message is None or message.status != InboxStatus.PENDING:
            session.rollback()
            return "skipped"
        observability.set_request_id(message.request_id)
        if message.attempts > max_attempts:
            # Claimed more often than allowed: earlier attempts died with their process.
            session.rollback()
            return _record_failure(session_factory, processors, message_id, "处理进程多次中断，已放弃", now,
                                   max_attempts)
        processor = processors.get(message.platform)
        if processor is None:
            raise LookupError(f"平台 {message.platform!r} 未启用，无法处理")
        outcome = processor.process(session, message, now)
        message.status = InboxStatus.DONE
        message.processed_at = now
        message.outcome = (outcome or "")[:200]
        message.error = ""
        session.commit()
    except Exception as exc:
        session.rollback()
        log.exception("inbound %s (%s) failed", reference(message_id), exc.__class__.__name__)
        return _record_failure(session_factory, processors, message_id, f"{exc.__class__.__name__}: {exc}", now,
                               max_attempts)
    finally:
        session.close()
    log.info("inbound %s %s: %s", reference(message_id), message.platform, message.outcome)
    observability.record_callback(message.platform, "done")
    return "done"


def _record_failure(session_factory, processors, message_id: int, error: str, now: datetime,
                    max_attempts: int) -> str:
    """In a transaction of its own (the failed one was rolled back): retry later, or give up and
    tell the sender."""
    try:
        with session_scope(session_factory) as session:
            message = session.get(InboundMessage, message_id, with_for_update=True, populate_existing=True)
            if message is None or message.status != InboxStatus.PENDING:
                return "skipped"
            message.error = error[:2000]
            if message.attempts < max_attempts:
                delay = RETRY_DELAYS_SECONDS[min(message.attempts, len(RETRY_DELAYS_SECONDS)) - 1]
                message.next_attempt_at = now + timedelta(seconds=delay)
                log.warning("inbound %s attempt %s failed, retrying in %ss: %s", reference(message),
                            message.attempts, delay, error)
                observability.record_callback(message.platform, "retry")
                return "retrying"
            message.status = InboxStatus.FAILED
            message.processed_at = now
            message.outcome = "failed"
            _apologise(session, processors.get(message.platform), message, now)
            log.error("inbound %s (%s %s) failed for good after %s attempts: %s", reference(message),
                      message.platform, message.dedupe_key, message.attempts, error)
            observability.record_callback(message.platform, "failed")
            return "failed"
    except Exception:
        # The row stays pending and comes back when its lease runs out.
        log.exception("inbound %s: could not record the failure", reference(message_id))
        return "retrying"


def _apologise(session: Session, processor: InboxProcessor | None, message: InboundMessage, now: datetime) -> None:
    if processor is None or processor.apologise is None:
        return
    try:
        with session.begin_nested():
            processor.apologise(session, message, FAILED_REPLY.format(reference=reference(message)), now)
    except Exception:  # the failure is recorded either way; the sender just hears nothing
        log.exception("inbound %s: could not queue the apology", reference(message))


def requeue_failed(message: InboundMessage, *, now: datetime) -> None:
    """An administrator sends a failed message round again after fixing the cause: due at once,
    with a full set of attempts. The old error stays on the row until the next attempt clears or
    replaces it, so the page still says why it had failed."""
    message.status = InboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.processed_at = None
    message.outcome = ""
