"""A tiny key-value store shared by every process: Redis when configured, else the database.

It holds what must be shared but is cheap to lose, such as platform access tokens. The
interface (get / set with ttl / delete, string values) fits both wechatpy's SessionStorage and
dingtalk-sdk's KvStorage; ``TokenStore`` is the one handed to both platform integrations (it
implements ``integrations.base.TokenStorage``).
"""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from database import session_scope
from integrations.base import MemoryKvStore
from models import KvEntry


class KvStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def delete(self, key: str) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RedisKvStore:
    def __init__(self, client, prefix: str = "yxby:"):
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str) -> RedisKvStore:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3))

    def get(self, key: str) -> str | None:
        value = self.client.get(self.prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self.client.set(self.prefix + key, value, ex=int(ttl) if ttl else None)

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)


class SessionKvStore:
    """The ``kv_entry`` table inside a session the caller already has open (it commits or not)."""

    def __init__(self, session: Session, clock: Callable[[], datetime] = _utcnow, *, drop_expired: bool = False):
        self.session = session
        self.clock = clock
        self.drop_expired = drop_expired

    def get(self, key: str) -> str | None:
        entry = self.session.scalar(select(KvEntry).where(KvEntry.key == key))
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= self.clock():
            if self.drop_expired:
                self.session.delete(entry)
            return None
        return entry.value

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        expires = self.clock() + timedelta(seconds=int(ttl)) if ttl else None
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        self.session.execute(
            insert(KvEntry)
            .values(key=key, value=value, expires_at=expires)
            .on_conflict_do_update(index_elements=["key"], set_={"value": value, "expires_at": expires})
        )

    def delete(self, key: str) -> None:
        self.session.execute(delete(KvEntry).where(KvEntry.key == key))


class DatabaseKvStore:
    """Each call is its own short transaction, so a token fetched in one request is seen by all."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = _utcnow):
        self.session_factory = session_factory
        self.clock = clock

    def get(self, key: str) -> str | None:
        with session_scope(self.session_factory) as session:
            return SessionKvStore(session, self.clock, drop_expired=True).get(key)

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        with session_scope(self.session_factory) as session:
            SessionKvStore(session, self.clock).set(key, value, ttl)

    def delete(self, key: str) -> None:
        with session_scope(self.session_factory) as session:
            SessionKvStore(session, self.clock).delete(key)


# --- Platform access tokens -----------------------------------------------------------------------

_bound_session: contextvars.ContextVar[Session | None] = contextvars.ContextVar("token_session", default=None)


@contextmanager
def bind_session(session: Session) -> Iterator[Session]:
    """Inside this block every ``TokenStore`` without Redis reads and writes through ``session``."""
    token = _bound_session.set(session)
    try:
        yield session
    finally:
        _bound_session.reset(token)


class TokenStore:
    """Where the platforms' access tokens live, shared by every process.

    Redis when configured. Otherwise the ``kv_entry`` table: through the session the caller is
    working in whenever there is one — given to ``backend``, fixed by ``in_session``, bound with
    ``bind_session``, or offered by ``session_provider`` (the request's) — because on SQLite
    every transaction takes the write lock at its start and a second connection could not even
    read while the caller holds it; else through ``database`` (short transactions of its own).
    With neither, process memory.

    ``get`` takes a default so the store is also wechatpy's ``SessionStorage``.
    """

    def __init__(self, redis: KvStore | None = None, database: KvStore | None = None, *,
                 session_provider: Callable[[], Session | None] | None = None,
                 clock: Callable[[], datetime] = _utcnow):
        self.redis = redis
        self.database = database
        self.session_provider = session_provider
        self.clock = clock
        self.memory = MemoryKvStore()
        self._session: Session | None = None

    @classmethod
    def from_settings(cls, settings, session_factory: sessionmaker[Session] | None = None, *,
                      session_provider: Callable[[], Session | None] | None = None) -> TokenStore:
        redis = RedisKvStore.from_url(settings.redis_url) if settings.redis_url else None
        database = DatabaseKvStore(session_factory) if session_factory is not None else None
        return cls(redis, database, session_provider=session_provider)

    def in_session(self, session: Session) -> TokenStore:
        """The same store (same memory) reading and writing through ``session``."""
        bound = copy.copy(self)
        bound._session = session
        return bound

    def backend(self, session: Session | None = None) -> KvStore:
        if self.redis is not None:
            return self.redis
        session = session or self._session or _bound_session.get()
        if session is None and self.session_provider is not None:
            session = self.session_provider()
        if session is not None:
            return SessionKvStore(session, self.clock)
        return self.database if self.database is not None else self.memory

    def bound(self, session: Session):
        """Reads and writes go through ``session`` inside this block (``integrations.base.TokenStorage``)."""
        return bind_session(session)

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.backend().get(key)
        return default if value is None else value

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self.backend().set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.backend().delete(key)
