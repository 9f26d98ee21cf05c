"""A tiny key-value store shared by every process: Redis when configured, else the database.

It holds what must be shared but is cheap to lose, such as platform access tokens. The
interface (get / set with ttl / delete, string values) fits both wechatpy's SessionStorage and
dingtalk-sdk's KvStorage through thin adapters in ``integrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from database import session_scope
from models import KvEntry


class KvStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def delete(self, key: str) -> None: ...


class RedisKvStore:
    def __init__(self, client, prefix: str = "yxby:"):
        self.client = client
        self.prefix = prefix

    def get(self, key: str) -> str | None:
        value = self.client.get(self.prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self.client.set(self.prefix + key, value, ex=int(ttl) if ttl else None)

    def delete(self, key: str) -> None:
        self.client.delete(self.prefix + key)


class DatabaseKvStore:
    """Each call is its own short transaction, so a token fetched in one request is seen by all."""

    def __init__(self, session_factory: sessionmaker[Session], clock=lambda: datetime.now(UTC)):
        self.session_factory = session_factory
        self.clock = clock

    def get(self, key: str) -> str | None:
        with session_scope(self.session_factory) as session:
            entry = session.scalar(select(KvEntry).where(KvEntry.key == key))
            if entry is None:
                return None
            if entry.expires_at is not None and entry.expires_at <= self.clock():
                session.delete(entry)
                return None
            return entry.value

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        expires = self.clock() + timedelta(seconds=int(ttl)) if ttl else None
        with session_scope(self.session_factory) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            session.execute(
                insert(KvEntry)
                .values(key=key, value=value, expires_at=expires)
                .on_conflict_do_update(index_elements=["key"], set_={"value": value, "expires_at": expires})
            )

    def delete(self, key: str) -> None:
        with session_scope(self.session_factory) as session:
            session.execute(delete(KvEntry).where(KvEntry.key == key))


def make_kvstore(settings, session_factory: sessionmaker[Session]) -> KvStore:
    if settings.redis_url:
        import redis

        return RedisKvStore(redis.Redis.from_url(settings.redis_url, socket_timeout=3))
    return DatabaseKvStore(session_factory)
