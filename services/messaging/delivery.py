"""Deliver the outbox: claim due rows, hand each to its adapter, record what happened.

Every step commits on its own, so a crash loses at most the message in hand, and that one
comes back when its claim lease runs out:

1. claim a batch (``services.messaging.outbox.claim_due``) and commit the claim;
2. per message, in short transactions of its own: skip it if the claim is no longer ours, put it
   back if its channel is paused or the shared rate limit says wait (no attempt counted), else
   call the adapter inside a savepoint and mark it sent, failed (jittered backoff), dead
   (permanent error or out of attempts) or paused (the platform said "too many").

One recipient's failure never stops the others: each message is isolated, every outcome is
logged and a failure keeps its ``last_error`` for the delivery log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from database import session_scope
from integrations.base import (
    ChannelPaused,
    ChatAdapter,
    OutboundView,
    PermanentError,
    RateLimited,
    RateRule,
    TransientError,
)
from models import OutboundMessage, OutboxStatus
from services import wording
from services.messaging import outbox
from services.ratelimit import RateLimiter

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0  # failed, will be tried again
    dead: int = 0
    throttled: int = 0  # put back by the shared rate limit
    paused: int = 0  # put back because the channel is paused
    skipped: int = 0  # the claim was taken over by another worker
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryStats) -> None:
        for name in ("claimed", "sent", "retrying", "dead", "throttled", "paused", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def describe(self) -> str:
        return (
            f"认领 {self.claimed}，已送达 {self.sent}，待重试 {self.retrying}，失败 {self.dead}，"
            f"限流顺延 {self.throttled}，通道暂停 {self.paused}，跳过 {self.skipped}"
        )


def _mine(session: Session, message_id: int, worker_id: str) -> OutboundMessage | None:
    """The row, locked, if this worker still holds the claim (a lease may have passed it on)."""
    message = session.get(OutboundMessage, message_id, with_for_update=True, populate_existing=True)
    if message is None or message.status != OutboxStatus.SENDING or message.claimed_by != worker_id:
        return None
    return message


def deliver_due(
    session_factory: sessionmaker[Session],
    adapters: Mapping[str, ChatAdapter],
    limiter: RateLimiter,
    *,
    worker_id: str,
    now_fn: Callable[[], datetime],
    batch_size: int = 50,
    max_attempts: int = 8,
    lease: timedelta | None = None,
) -> DeliveryStats:
    """Deliver one batch of due messages for the channels in ``adapters``."""
    stats = DeliveryStats()
    if not adapters:
        return stats
    with session_scope(session_factory) as session:
        claimed = outbox.claim_due(
            session, worker=worker_id, now=now_fn(), limit=batch_size, channels=sorted(adapters), lease=lease
        )
        ids = [m.id for m in claimed]
    stats.claimed = len(ids)
    for message_id in ids:
        try:
            outcome = _deliver_one(session_factory, adapters, limiter, message_id, worker_id, now_fn, max_attempts)
        except Exception as exc:  # the bookkeeping itself failed; the lease brings the row back
            log.exception("outbox %s: delivery bookkeeping failed", message_id)
            stats.errors.append(f"{message_id}: {exc.__class__.__name__}")
            continue
        setattr(stats, outcome, getattr(stats, outcome) + 1)
    if stats.claimed:
        log.info("outbox delivery by %s: %s", worker_id, stats.describe())
    return stats


def _deliver_one(
    session_factory: sessionmaker[Session],
    adapters: Mapping[str, ChatAdapter],
    limiter: RateLimiter,
    message_id: int,
    worker_id: str,
    now_fn: Callable[[], datetime],
    max_attempts: int,
) -> str:
    """Deliver one claimed message; returns the name of the ``DeliveryStats`` counter to bump."""
    # Look: still ours, channel not paused, which rate bucket.
    with session_scope(session_factory) as session:
        message = _mine(session, message_id, worker_id)
        if message is None:
            return "skipped"
        adapter = adapters.get(message.channel)
        if adapter is None:  # claim_due only takes our channels; be safe anyway
            outbox.release(session, message, until=now_fn())
            return "skipped"
        view = OutboundView.from_model(message)
        channel_key = adapter.channel_key(view)
        now = now_fn()
        until = outbox.paused_until(session, channel_key, now=now)
        if until is not None:
            outbox.release(session, message, until=until)
            log.info("outbox %s: channel %s paused until %s, put back", message_id, channel_key, until.isoformat())
            return "paused"
        rules: tuple[RateRule, ...] = adapter.rate_rules(view)

    # The shared limiter runs between transactions (on SQLite its own write must not wait on ours).
    # A bucket that refuses leaves the ones before it counted: the message then counts against
    # them without being sent, which only ever errs on the side of sending less.
    for rule in rules:
        now = now_fn()
        wait = limiter.acquire(rule.key, rule.limit, rule.window_seconds, now, slices=rule.slices, cost=rule.cost)
        if wait > 0:
            with session_scope(session_factory) as session:
                message = _mine(session, message_id, worker_id)
                if message is None:
                    return "skipped"
                outbox.release(session, message, until=now + timedelta(seconds=wait))
            log.info("outbox %s: rate bucket %s full, put back for %.1fs", message_id, rule.key, wait)
            return "throttled"

    with session_scope(session_factory) as session:
        message = _mine(session, message_id, worker_id)
        if message is None:
            return "skipped"
        now = now_fn()
        try:
            with session.begin_nested():
                result = adapter.deliver(view, session, now=now)
        except RateLimited as exc:
            key = exc.channel_key or channel_key
            until = now + timedelta(seconds=exc.retry_after_seconds)
            outbox.pause_channel(session, key, until=until, reason=str(exc))
            outbox.release(session, message, until=until, note=str(exc))
            log.warning("outbox %s: %s rate-limited by the platform, channel paused until %s",
                        message_id, key, until.isoformat())
            return "paused"
        except ChannelPaused as exc:
            key = exc.channel_key or channel_key
            outbox.pause_channel(session, key, until=exc.until, reason=str(exc))
            outbox.release(session, message, until=exc.until, note=str(exc))
            log.warning("outbox %s: channel %s paused until %s: %s", message_id, key, exc.until.isoformat(), exc)
            return "paused"
        except PermanentError as exc:
            outbox.mark_failed(session, message, error=str(exc) or exc.__class__.__name__, now=now,
                               max_attempts=max_attempts, permanent=True)
            log.error("outbox %s (%s→%s:%s): permanent failure, dead letter: %s",
                      message_id, view.channel, view.target_type, view.target_ref, exc)
            return "dead"
        except Exception as exc:
            transient = isinstance(exc, TransientError)
            error = str(exc) if transient else f"{exc.__class__.__name__}: {exc}"
            outbox.mark_failed(session, message, error=error or exc.__class__.__name__, now=now,
                               max_attempts=max_attempts)
            if message.status == OutboxStatus.DEAD:
                log.error("outbox %s: failed %s times, dead letter: %s", message_id, message.attempts, error)
                return "dead"
            log.log(logging.WARNING if transient else logging.ERROR,
                    "outbox %s: attempt %s failed, retry at %s: %s", message_id, message.attempts,
                    message.next_attempt_at.isoformat(), error, exc_info=not transient)
            return "retrying"
        for pause in result.pauses:
            outbox.pause_channel(session, pause.channel_key, until=pause.until, reason=pause.reason)
        outbox.mark_sent(session, message, now=now, platform_message_id=result.platform_message_id,
                         detail=result.detail)
        log.debug("outbox %s: sent via %s (%s)", message_id, view.channel, result.detail or result.platform_message_id)
        return "sent"


# --- The delivery log (console) ---------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryLogEntry:
    id: int
    created_at: datetime
    channel: str
    kind: str
    target_type: str
    target_ref: str
    work_order_id: int | None
    status: str
    status_label: str
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str
    summary: str


def _summary(payload: dict) -> str:
    text = str(payload.get("title") or payload.get("text") or payload.get("label") or "")
    return wording.shorten(text, 80)


def delivery_log(
    session: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    work_order_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[DeliveryLogEntry]:
    """Recent outbox messages, newest first, for the console's delivery log."""
    query = select(OutboundMessage)
    if status:
        query = query.where(OutboundMessage.status == status)
    if channel:
        query = query.where(OutboundMessage.channel == channel)
    if work_order_id is not None:
        query = query.where(OutboundMessage.work_order_id == work_order_id)
    query = query.order_by(OutboundMessage.id.desc()).limit(max(1, min(limit, 500))).offset(max(0, offset))
    return [
        DeliveryLogEntry(
            id=m.id, created_at=m.created_at, channel=m.channel, kind=m.kind, target_type=m.target_type,
            target_ref=m.target_ref, work_order_id=m.work_order_id, status=m.status,
            status_label=OutboxStatus.LABELS.get(m.status, m.status), attempts=m.attempts,
            next_attempt_at=m.next_attempt_at if m.status == OutboxStatus.PENDING else None,
            sent_at=m.sent_at, last_error=m.last_error, summary=_summary(m.payload or {}),
        )
        for m in session.scalars(query)
    ]


def delivery_counts(session: Session) -> dict[str, int]:
    """Messages per status (every status present, zero when none)."""
    counts = dict.fromkeys(OutboxStatus.LABELS, 0)
    rows = session.execute(select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status))
    for status, count in rows:
        counts[status] = count
    return counts
