import threading
from datetime import timedelta

import pytest

from services.ratelimit import DatabaseRateLimiter, make_limiter
from tests.jobs.conftest import redis_limiter


def test_allows_up_to_the_limit_per_window(limiter, now):
    key = "wecom:robot:1"
    assert all(limiter.acquire(key, 20, 60, now + timedelta(seconds=i)) == 0 for i in range(20))
    wait = limiter.acquire(key, 20, 60, now + timedelta(seconds=30))
    assert wait == pytest.approx(30)  # the fixture's now is on a minute boundary
    # Refused requests count nothing: the next window has its full allowance.
    for _ in range(10):
        assert limiter.acquire(key, 20, 60, now + timedelta(seconds=59)) > 0
    nxt = now + timedelta(seconds=60)
    assert all(limiter.acquire(key, 20, 60, nxt) == 0 for _ in range(20))
    assert limiter.acquire(key, 20, 60, nxt) == pytest.approx(60)


def test_buckets_are_independent(limiter, now):
    assert limiter.acquire("a", 1, 60, now) == 0
    assert limiter.acquire("a", 1, 60, now) > 0
    assert limiter.acquire("b", 1, 60, now) == 0


def test_zero_limit_never_allows(limiter, now):
    assert limiter.acquire("closed", 0, 60, now) == pytest.approx(60)


@pytest.mark.parametrize("slices", [1, 20])  # a fixed window; a sliding one
def test_concurrent_acquires_never_exceed_the_limit(limiter, now, slices):
    allowed = []
    barrier = threading.Barrier(6)

    def worker():
        barrier.wait()
        for _ in range(10):
            if limiter.acquire(f"busy-{slices}", 25, 60, now, slices=slices) == 0:
                allowed.append(1)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 25


def test_database_limiter_keeps_only_the_current_window(session_factory, now):
    from sqlalchemy import func, select

    from models import RateWindow

    limiter = DatabaseRateLimiter(session_factory)
    for minute in range(5):
        assert limiter.acquire("robot", 5, 60, now + timedelta(minutes=minute)) == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(RateWindow)) == 1


def test_make_limiter_picks_the_backend(app, session_factory):
    settings = app.extensions["settings"]
    factory = app.extensions["db_sessionmaker"]
    assert isinstance(make_limiter(settings.with_overrides({"redis_url": ""}), factory), DatabaseRateLimiter)
    redis_limiter()  # skips when Redis is absent
    limiter = make_limiter(settings.with_overrides({"redis_url": "redis://127.0.0.1:6379/0"}), factory)
    assert limiter.__class__.__name__ == "RedisRateLimiter"


def test_sliding_window_never_exceeds_the_limit_in_any_window(limiter, now):
    """Sends attempted at random moments: in no window of ``window`` seconds, wherever it starts,
    are more than ``limit`` allowed; a steady sender gets close to the limit."""
    import random

    rng = random.Random(7)
    limit, window, slices = 6, 12, 6
    moments = sorted(rng.uniform(0, 120) for _ in range(400))
    allowed = [t for t in moments
               if limiter.acquire("sliding", limit, window, now + timedelta(seconds=t), slices=slices) == 0]
    for first in allowed:
        assert sum(1 for t in allowed if first <= t < first + window) <= limit
    # 120 s at 6 per 12 s would be 60; the slices give up one in seven.
    assert len(allowed) >= 60 * slices / (slices + 1) - limit


def test_sliding_window_waits_until_the_oldest_slice_leaves(limiter, now):
    for _ in range(4):
        assert limiter.acquire("slide", 4, 8, now, slices=4) == 0
    assert limiter.acquire("slide", 4, 8, now + timedelta(seconds=1), slices=4) == pytest.approx(1)
    assert limiter.acquire("slide", 4, 8, now + timedelta(seconds=9), slices=4) > 0  # 0 s still counts
    assert limiter.acquire("slide", 4, 8, now + timedelta(seconds=10), slices=4) == 0


def test_a_send_can_cost_several_of_the_platforms_messages(limiter, now):
    assert limiter.acquire("cost", 5, 60, now, slices=30, cost=2) == 0
    assert limiter.acquire("cost", 5, 60, now, slices=30, cost=2) == 0
    assert limiter.acquire("cost", 5, 60, now, slices=30, cost=2) > 0  # 6 > 5: nothing counted
    assert limiter.acquire("cost", 5, 60, now, slices=30) == 0
    assert limiter.acquire("too-big", 1, 60, now, slices=30, cost=2) > 0

