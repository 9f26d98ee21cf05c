"""Transactional outbox: messages are rows written with the change that caused them.

A delivery job claims due rows, hands each to its channel's adapter, and records the outcome.
Claiming is safe with several job processes: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a
conditional UPDATE (compare-and-set on status) on SQLite, where writers are serialised anyway.
A row whose claim is older than the lease (the process died mid-send) becomes due again; the
adapters send with the platform's own de-duplication where it has one, so a re-send after a
crash between "sent" and "recorded" is the only window, and it is bounded by the lease.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from database import is_postgres
from models import ChannelPause, MessageKind, OutboundMessage, OutboxStatus

CLAIM_LEASE = timedelta(minutes=5)
BACKOFF_BASE_SECONDS = 10
BACKOFF_CAP_SECONDS = 3600


@dataclass(frozen=True)
class Envelope:
    """What a producer asks to send; the channel and target are already resolved."""

    channel: str
    kind: str
    target_type: str  # group | person
    target_ref: str
    payload: dict[str, Any]
    dedupe_key: str
    work_order_id: int | None = None


def enqueue(session: Session, envelope: Envelope, *, now: datetime) -> OutboundMessage | None:
    """Add a message to the outbox in the caller's transaction; a repeated dedupe key is a no-op.

    Only the kinds of ``MessageKind``: every adapter renders each of them, so a new kind is added
    there first (with its Chinese label) instead of surfacing as an unknown in the delivery log.
    """
    if envelope.kind not in MessageKind.ALL:
        raise ValueError(f"unknown message kind {envelope.kind!r}: add it to models.MessageKind")
    # One statement (no look-up, no savepoint): on PostgreSQL each is a round trip, and a reply to
    # every chat command and several messages per order come through here.
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    statement = (
        insert(OutboundMessage)
        .values(dedupe_key=envelope.dedupe_key[:200], channel=envelope.channel, kind=envelope.kind,
                target_type=envelope.target_type, target_ref=envelope.target_ref,
                work_order_id=envelope.work_order_id, payload=envelope.payload, status=OutboxStatus.PENDING,
                next_attempt_at=now, created_at=now)
        .on_conflict_do_nothing(index_elements=[OutboundMessage.dedupe_key])
        .returning(OutboundMessage)
    )
    return session.scalars(statement).one_or_none()


def claim_due(
    session: Session, *, worker: str, now: datetime, limit: int, channels: Sequence[str] | None = None,
    lease: timedelta | None = None,
) -> list[OutboundMessage]:
    """Claim up to ``limit`` due messages for ``worker``; the caller commits to publish the claim."""
    lease = CLAIM_LEASE if lease is None else lease
    due = or_(
        and_(OutboundMessage.status == OutboxStatus.PENDING, OutboundMessage.next_attempt_at <= now),
        and_(OutboundMessage.status == OutboxStatus.SENDING, OutboundMessage.claimed_at < now - lease),
    )
    query = select(OutboundMessage.id).where(due)
    if channels:
        query = query.where(OutboundMessage.channel.in_(channels))
    query = query.order_by(OutboundMessage.next_attempt_at, OutboundMessage.id).limit(limit)
    if is_postgres(session):
        ids = list(session.scalars(query.with_for_update(skip_locked=True)))
    else:
        ids = list(session.scalars(query))
    claimed: list[int] = []
    for message_id in ids:
        result = session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == message_id, due)
            .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now,
                    # Still "sending" when its lease ran out: the worker died mid-send, perhaps after
                    # the platform had taken it. Counted, so the delivery log can say so.
                    interrupted_sends=case((OutboundMessage.status == OutboxStatus.SENDING,
                                            OutboundMessage.interrupted_sends + 1),
                                           else_=OutboundMessage.interrupted_sends))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            claimed.append(message_id)
    if not claimed:
        return []
    session.expire_all()
    return list(
        session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(claimed)).order_by(OutboundMessage.id))
    )


def mark_sent(session: Session, message: OutboundMessage, *, now: datetime, platform_message_id: str = "",
              detail: str = "") -> None:
    message.status = OutboxStatus.SENT
    message.sent_at = now
    message.platform_message_id = (platform_message_id or "")[:128]
    message.delivery_detail = (detail or "")[:300]
    message.attempts += 1
    message.last_error = ""
    message.claimed_by = ""


def release(session: Session, message: OutboundMessage, *, until: datetime, note: str = "") -> None:
    """Put a claimed message back without counting an attempt (rate limit or paused channel)."""
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = until
    message.claimed_by = ""
    if note:
        message.last_error = note


def mark_failed(
    session: Session, message: OutboundMessage, *, error: str, now: datetime, max_attempts: int, permanent: bool = False
) -> None:
    """Record a failed attempt: retry later with jittered exponential backoff, or dead-letter it."""
    message.attempts += 1
    message.last_error = error[:2000]
    message.claimed_by = ""
    if permanent or message.attempts >= max_attempts:
        message.status = OutboxStatus.DEAD
        return
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (message.attempts - 1))
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = now + timedelta(seconds=delay * random.uniform(0.5, 1.0))


def retry_dead(session: Session, message: OutboundMessage, *, now: datetime) -> None:
    """An administrator sends a dead letter again after fixing the cause."""
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = now


def pause_channel(session: Session, channel_key: str, *, until: datetime, reason: str) -> None:
    """Pause the channel until ``until`` (a longer pause already there stays). One upsert: two
    workers pausing the same robot at once, or housekeeping removing an ended pause meanwhile,
    cannot make it fail."""
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    statement = insert(ChannelPause).values(channel_key=channel_key, paused_until=until, reason=reason)
    session.execute(statement.on_conflict_do_update(
        index_elements=[ChannelPause.channel_key],
        set_={"paused_until": statement.excluded.paused_until, "reason": statement.excluded.reason},
        where=ChannelPause.paused_until < statement.excluded.paused_until,
    ))


def paused_until(session: Session, channel_key: str, *, now: datetime) -> datetime | None:
    pause = session.get(ChannelPause, channel_key, populate_existing=True)
    if pause is not None and pause.paused_until > now:
        return pause.paused_until
    return None
