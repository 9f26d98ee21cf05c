import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from database import session_scope
from models import KvEntry
from services.kvstore import DatabaseKvStore, MemoryKvStore, RedisKvStore, TokenStore, bind_session


def _redis_or_skip():
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    return client


@pytest.fixture(params=["database", "redis"])
def store(request, session_factory):
    if request.param == "redis":
        return RedisKvStore(_redis_or_skip(), prefix=f"test-{uuid.uuid4().hex}:")
    return DatabaseKvStore(session_factory)


def test_set_get_overwrite_delete(store):
    assert store.get("token") is None
    store.set("token", "abc", ttl=7200)
    assert store.get("token") == "abc"
    store.set("token", "def", ttl=7200)
    assert store.get("token") == "def"
    store.delete("token")
    assert store.get("token") is None


def test_database_entries_expire(session_factory):
    now = [datetime(2026, 3, 2, tzinfo=UTC)]
    store = DatabaseKvStore(session_factory, clock=lambda: now[0])
    store.set("t", "v", ttl=60)
    now[0] += timedelta(seconds=59)
    assert store.get("t") == "v"
    now[0] += timedelta(seconds=2)
    assert store.get("t") is None


def test_token_store_prefers_redis_then_the_callers_session_then_its_own_transactions(session_factory):
    redis_store = MemoryKvStore()  # stands in for Redis: what matters is which backend is chosen
    database = DatabaseKvStore(session_factory)
    with session_scope(session_factory) as session:
        assert TokenStore(redis_store, database).backend(session) is redis_store
        assert TokenStore(database=database).in_session(session).backend().session is session
        with bind_session(session):
            assert TokenStore(database=database).backend().session is session
        assert TokenStore(database=database, session_provider=lambda: session).backend().session is session
    assert TokenStore(database=database).backend() is database
    alone = TokenStore()
    assert alone.backend() is alone.memory


def test_token_store_writes_in_the_bound_session(session_factory):
    """SQLite: the caller's transaction holds the write lock, so the token must go through it."""
    tokens = TokenStore(database=DatabaseKvStore(session_factory))
    with session_scope(session_factory) as session, bind_session(session):
        session.execute(select(KvEntry))
        tokens.set("corp_access_token", "tok-1", 600)
        assert tokens.get("corp_access_token") == "tok-1"
    assert tokens.get("corp_access_token") == "tok-1"  # committed with the caller's transaction
    tokens.delete("corp_access_token")
    assert tokens.get("corp_access_token", "none") == "none"
