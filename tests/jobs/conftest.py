"""Helpers for the delivery and job tests: a scripted adapter (our own interface) and limiters."""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable

import pytest

from database import session_scope
from integrations.base import ChatAdapter, DeliveryResult, OutboundView, RateRule
from services.messaging.outbox import Envelope, enqueue
from services.ratelimit import DatabaseRateLimiter, RedisRateLimiter

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class ScriptedAdapter(ChatAdapter):
    """Delivers by remembering; ``fail(view)`` may return an exception to raise instead."""

    name = "test"

    def __init__(self, fail: Callable[[OutboundView], Exception | None] | None = None,
                 rule: Callable[[OutboundView], RateRule | None] | None = None):
        self.fail = fail
        self.rule = rule
        self.sent: Counter[int] = Counter()
        self.calls = 0
        self._lock = threading.Lock()

    def rate_rules(self, message):
        rule = self.rule(message) if self.rule else None
        return (rule,) if rule else ()

    def channel_key(self, message):
        rules = self.rate_rules(message)
        return rules[0].key if rules else f"test:{message.target_type}:{message.target_ref}"

    def deliver(self, message, session, *, now):
        with self._lock:
            self.calls += 1
        error = self.fail(message) if self.fail else None
        if error is not None:
            raise error
        with self._lock:
            self.sent[message.id] += 1
        return DeliveryResult()


def put_messages(session_factory, now, count, *, channel="test", target_type="person", target_ref="p1",
                 kind="notice", prefix=None) -> list[int]:
    prefix = prefix or uuid.uuid4().hex[:8]
    ids = []
    with session_scope(session_factory) as session:
        for i in range(count):
            message = enqueue(
                session,
                Envelope(channel=channel, kind=kind, target_type=target_type, target_ref=target_ref,
                         payload={"title": "测试", "text": f"第 {i + 1} 条消息"}, dedupe_key=f"{prefix}:{i}"),
                now=now,
            )
            ids.append(message.id)
    return ids


def redis_limiter() -> RedisRateLimiter:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return RedisRateLimiter(client, prefix=f"yxby-test:{uuid.uuid4().hex}:")


@pytest.fixture(params=["database", "redis"])
def limiter(request, session_factory):
    if request.param == "redis":
        return redis_limiter()
    return DatabaseRateLimiter(session_factory)


@pytest.fixture
def db_limiter(session_factory):
    return DatabaseRateLimiter(session_factory)
