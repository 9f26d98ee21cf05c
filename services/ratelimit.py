"""Send-rate limits shared by every process: Redis when configured, the database otherwise.

A bucket allows ``limit`` sends (each of a ``cost``, 1 by default) per window of
``window_seconds``, counted in ``slices`` sub-windows aligned on the epoch: a send is allowed when
the current sub-window and the ``slices`` before it hold no more than ``limit`` together. Any
sliding window of ``window_seconds`` lies within such ``slices + 1`` sub-windows, so no sliding
window ever sees more than ``limit`` — the way WeCom and DingTalk count — while a steady sender
gets ``slices / (slices + 1)`` of it (20 slices: 95 %). ``slices=1`` is a plain fixed window (what
a daily or hourly cap wants). A refused request counts nothing and learns how long until the
current sub-window ends, so the caller puts its message back until then (queue, never drop).
Windows are keyed by the ``now`` passed in, not the server clock, so tests and every process agree.
A platform's own "too many" still pauses the channel (see ``services.messaging.delivery``).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from database import session_scope
from models import RateWindow

log = logging.getLogger(__name__)


def _window(now: datetime, window_seconds: int, slices: int = 1) -> tuple[int, int, float]:
    """(start of the oldest sub-window counted, start of the current one, seconds until it ends),
    starts in epoch seconds."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if window_seconds <= 0 or slices <= 0 or window_seconds % slices:
        raise ValueError("window_seconds must be a positive multiple of slices")
    size = window_seconds // slices
    ts = now.timestamp()
    start = int(ts // size) * size
    oldest = start - (size * slices if slices > 1 else 0)
    return oldest, start, max(start + size - ts, 0.001)


class RateLimiter(ABC):
    @abstractmethod
    def acquire(self, key: str, limit: int, window_seconds: int, now: datetime, *,
                slices: int = 1, cost: int = 1) -> float:
        """0 when the send is allowed (and counted); otherwise seconds to wait, nothing counted."""


class RedisRateLimiter(RateLimiter):
    """Sum the counted sub-windows and INCRBY the current one only when the sum stays within the
    limit, atomically in one Lua script, with an expiry on first use."""

    _SCRIPT = """
local total = 0
for i = 1, #KEYS do
  total = total + tonumber(redis.call('GET', KEYS[i]) or '0')
end
if total + tonumber(ARGV[2]) > tonumber(ARGV[1]) then
  return 0
end
local current = redis.call('INCRBY', KEYS[#KEYS], tonumber(ARGV[2]))
if current == tonumber(ARGV[2]) then
  redis.call('EXPIRE', KEYS[#KEYS], tonumber(ARGV[3]))
end
return 1
"""

    def __init__(self, client, prefix: str = "yxby:rate:"):
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(self._SCRIPT)

    @classmethod
    def from_url(cls, url: str, prefix: str = "yxby:rate:") -> RedisRateLimiter:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5), prefix)

    def acquire(self, key: str, limit: int, window_seconds: int, now: datetime, *,
                slices: int = 1, cost: int = 1) -> float:
        oldest, start, remaining = _window(now, window_seconds, slices)
        if limit <= 0 or cost > limit:
            return remaining
        size = window_seconds // slices
        keys = [f"{self.prefix}{key}:{s}" for s in range(oldest, start + 1, size)]
        # Keep a sub-window a little longer than it is counted so clock skew between processes never resets it.
        allowed = self._script(keys=keys, args=[limit, cost, window_seconds * 2 + 60])
        return 0.0 if int(allowed) == 1 else remaining


class DatabaseRateLimiter(RateLimiter):
    """One ``rate_window`` row per bucket and (sub-)window.

    A fixed window is counted with a single conditional upsert (``INSERT … ON CONFLICT DO UPDATE
    SET count = count + 1 WHERE count < limit RETURNING count``, atomic on SQLite 3.35+ and
    PostgreSQL: no row back means refused). Sub-windows are summed and counted in one short
    transaction that holds the bucket: SQLite's transactions here begin IMMEDIATE (one writer at a
    time), PostgreSQL takes a transaction-scoped advisory lock on the bucket's key. Call it outside
    any open write transaction on SQLite (whose writers queue on one lock).
    """

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

    def acquire(self, key: str, limit: int, window_seconds: int, now: datetime, *,
                slices: int = 1, cost: int = 1) -> float:
        oldest, start, remaining = _window(now, window_seconds, slices)
        if limit <= 0 or cost > limit:
            return remaining
        with session_scope(self.session_factory) as session:
            if slices == 1 and cost == 1:
                return self._count(session, key[:160], limit, start, remaining)
            return self._count_slices(session, key[:160], limit, oldest, start, remaining, cost)

    @staticmethod
    def _count(session: Session, key: str, limit: int, start: int, remaining: float) -> float:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(RateWindow)
            .values(key=key, window_start=start, count=1)
            .on_conflict_do_update(
                index_elements=[RateWindow.key, RateWindow.window_start],
                set_={"count": RateWindow.count + 1},
                where=RateWindow.count < limit,
            )
            .returning(RateWindow.count)
        )
        count = session.execute(stmt).scalar_one_or_none()
        if count == 1:
            # A new window for this bucket: the older ones are history.
            session.execute(delete(RateWindow).where(RateWindow.key == key, RateWindow.window_start < start))
        return 0.0 if count is not None else remaining

    @staticmethod
    def _count_slices(session: Session, key: str, limit: int, oldest: int, start: int, remaining: float,
                      cost: int) -> float:
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            session.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
        used = session.scalar(select(func.coalesce(func.sum(RateWindow.count), 0)).where(
            RateWindow.key == key, RateWindow.window_start >= oldest, RateWindow.window_start <= start)) or 0
        if used + cost > limit:
            return remaining
        insert = postgresql.insert if postgres else sqlite.insert
        session.execute(
            insert(RateWindow).values(key=key, window_start=start, count=cost)
            .on_conflict_do_update(index_elements=[RateWindow.key, RateWindow.window_start],
                                   set_={"count": RateWindow.count + cost})
        )
        session.execute(delete(RateWindow).where(RateWindow.key == key, RateWindow.window_start < oldest))
        return 0.0


def make_limiter(settings: Settings, session_factory: sessionmaker[Session]) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url)
    return DatabaseRateLimiter(session_factory)
