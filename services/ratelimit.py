"""Send-rate limits shared by every process: Redis when configured, the database otherwise.

Fixed windows: a bucket allows ``limit`` sends per window of ``window_seconds`` aligned on the
epoch. A refused request counts nothing and learns how long until the next window opens, so
the caller puts its message back until then (queue, never drop). Windows are keyed by the
``now`` passed in, not the server clock, so tests and every process agree on the window.

Fixed windows allow up to twice the limit across a window boundary; adapters whose platform
counts on a sliding minute should name a limit with that margin, and a platform's own
"too many" still pauses the channel (see ``services.messaging.delivery``).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from database import session_scope
from models import RateWindow

log = logging.getLogger(__name__)


def _window(now: datetime, window_seconds: int) -> tuple[int, float]:
    """(start of the window holding ``now`` in epoch seconds, seconds until it ends)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if window_seconds <= 0:
        raise ValueError("window_seconds must be positive")
    ts = now.timestamp()
    start = int(ts // window_seconds) * window_seconds
    return start, max(start + window_seconds - ts, 0.001)


class RateLimiter(ABC):
    @abstractmethod
    def acquire(self, key: str, limit: int, window_seconds: int, now: datetime) -> float:
        """0 when the send is allowed (and counted); otherwise seconds to wait, nothing counted."""


class RedisRateLimiter(RateLimiter):
    """INCR only below the limit, atomically in one Lua script, with an expiry on first use."""

    _SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= tonumber(ARGV[1]) then
  return 0
end
current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
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

    def acquire(self, key: str, limit: int, window_seconds: int, now: datetime) -> float:
        start, remaining = _window(now, window_seconds)
        if limit <= 0:
            return remaining
        redis_key = f"{self.prefix}{key}:{start}"
        # Keep a window a little longer than itself so clock skew between processes never resets it.
        allowed = self._script(keys=[redis_key], args=[limit, window_seconds * 2 + 60])
        return 0.0 if int(allowed) == 1 else remaining


class DatabaseRateLimiter(RateLimiter):
    """One ``rate_window`` row per bucket and window, counted with a conditional upsert.

    ``INSERT … ON CONFLICT DO UPDATE SET count = count + 1 WHERE count < limit RETURNING count``
    is a single atomic statement on SQLite (3.35+) and PostgreSQL: no row back means refused.
    Each call is its own short transaction; call it outside any open write transaction on
    SQLite (whose writers queue on one lock).
    """

    def __init__(self, session_factory: sessionmaker[Session]):
        self.session_factory = session_factory

    def acquire(self, key: str, limit: int, window_seconds: int, now: datetime) -> float:
        start, remaining = _window(now, window_seconds)
        if limit <= 0:
            return remaining
        with session_scope(self.session_factory) as session:
            return self._count(session, key[:160], limit, start, remaining)

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


def make_limiter(settings: Settings, session_factory: sessionmaker[Session]) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url)
    return DatabaseRateLimiter(session_factory)
