"""Readiness: what an operator's probe needs to know, gathered in one read-only pass.

The jobs process beats (``beat``) into the ``kv_entry`` table — the database, not Redis, so one
probe of the database answers for both, and a Redis outage does not look like a dead jobs
process. ``readiness`` reads the newest beat, the outbox backlog and dead letters per channel,
and the failed and waiting platform callbacks. It is not ready when the database cannot be read
or the jobs process has not beaten for ``max_age``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models import InboundMessage, InboxStatus, OutboundMessage, OutboxStatus
from services.kvstore import SessionKvStore

HEARTBEAT_KEY = "jobs:heartbeat"


def beat(session: Session, worker: str, now: datetime) -> None:
    """Record that a jobs process is alive (the caller commits)."""
    SessionKvStore(session, lambda: now).set(HEARTBEAT_KEY, json.dumps({"worker": worker, "at": now.isoformat()}))


def last_beat(session: Session) -> tuple[str, datetime] | None:
    raw = SessionKvStore(session).get(HEARTBEAT_KEY)
    if not raw:
        return None
    try:
        value = json.loads(raw)
        return str(value["worker"]), datetime.fromisoformat(value["at"])
    except (ValueError, KeyError, TypeError):
        return None


@dataclass
class Readiness:
    database: str = "ok"
    redis: str = "not_configured"
    jobs: dict[str, object] = field(default_factory=dict)
    outbox: dict[str, object] = field(default_factory=dict)
    inbound: dict[str, int] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.database == "ok" and bool(self.jobs.get("ok"))

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ready, "database": self.database, "redis": self.redis, "jobs": self.jobs,
                "outbox": self.outbox, "inbound": self.inbound}


def outbox_counts(session: Session) -> dict[str, dict[str, int]]:
    """Waiting (pending or being sent) and dead messages per channel."""
    rows = session.execute(
        select(OutboundMessage.channel, OutboundMessage.status, func.count())
        .where(OutboundMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.DEAD)))
        .group_by(OutboundMessage.channel, OutboundMessage.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for channel, status, n in rows:
        entry = counts.setdefault(channel, {"backlog": 0, "dead": 0})
        entry["dead" if status == OutboxStatus.DEAD else "backlog"] += n
    return counts


def readiness(session: Session, now: datetime, max_age: timedelta, redis_ping=None) -> Readiness:
    report = Readiness()
    if redis_ping is not None:
        try:
            redis_ping()
            report.redis = "ok"
        except Exception:  # any client error means "not reachable"
            report.redis = "unreachable"
    try:
        session.execute(text("SELECT 1"))
        beat_ = last_beat(session)
        per_channel = outbox_counts(session)
        inbound: dict[str, int] = dict(session.execute(
            select(InboundMessage.status, func.count())
            .where(InboundMessage.status.in_((InboxStatus.PENDING, InboxStatus.FAILED)))
            .group_by(InboundMessage.status)
        ).all())
    except Exception as error:  # any driver error means "not reachable"
        session.rollback()
        report.database = "unreachable"
        report.jobs = {"ok": False, "error": type(error).__name__}
        return report
    if beat_ is None:
        report.jobs = {"ok": False, "last_beat": None, "age_seconds": None}
    else:
        worker, at = beat_
        age = (now - at).total_seconds()
        report.jobs = {"ok": age <= max_age.total_seconds(), "worker": worker, "last_beat": at.isoformat(),
                       "age_seconds": round(age, 1), "max_age_seconds": max_age.total_seconds()}
    report.outbox = {
        "backlog": sum(c["backlog"] for c in per_channel.values()),
        "dead": sum(c["dead"] for c in per_channel.values()),
        "by_channel": per_channel,
    }
    report.inbound = {"pending": inbound.get(InboxStatus.PENDING, 0), "failed": inbound.get(InboxStatus.FAILED, 0)}
    return report
