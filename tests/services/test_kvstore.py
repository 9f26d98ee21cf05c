import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis

from services.kvstore import DatabaseKvStore, RedisKvStore


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
