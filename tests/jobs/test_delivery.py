import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from database import session_scope
from integrations.base import OutboundView, PermanentError, RateLimited, RateRule, TransientError
from integrations.sandbox import SandboxAdapter
from models import ChannelPause, OutboundMessage, OutboxStatus, SandboxMessage
from services.messaging import outbox
from services.messaging.delivery import deliver_due, delivery_counts, delivery_log
from tests.jobs.conftest import ScriptedAdapter, put_messages


def run(session_factory, adapters, limiter, at, *, worker="w1", batch_size=50, max_attempts=3):
    return deliver_due(session_factory, adapters, limiter, worker_id=worker, now_fn=lambda: at,
                       batch_size=batch_size, max_attempts=max_attempts)


def rows(session_factory, ids):
    with session_factory() as session:
        found = session.scalars(select(OutboundMessage).where(OutboundMessage.id.in_(ids)).order_by(OutboundMessage.id))
        return {m.id: m for m in found}


def test_transient_failures_back_off_then_dead_letter(session_factory, db_limiter, now):
    bad = put_messages(session_factory, now, 1, target_ref="bad")[0]
    good = put_messages(session_factory, now, 2, target_ref="good")
    adapter = ScriptedAdapter(fail=lambda m: TransientError("网关超时") if m.target_ref == "bad" else None)

    stats = run(session_factory, {"test": adapter}, db_limiter, now)
    assert (stats.claimed, stats.sent, stats.retrying) == (3, 2, 1)
    assert all(adapter.sent[i] == 1 for i in good)
    message = rows(session_factory, [bad])[bad]
    assert message.status == OutboxStatus.PENDING and message.attempts == 1
    assert message.last_error == "网关超时"
    # 10 s base, jittered down to half.
    assert now + timedelta(seconds=5) <= message.next_attempt_at <= now + timedelta(seconds=10)

    assert run(session_factory, {"test": adapter}, db_limiter, now + timedelta(seconds=1)).claimed == 0

    later = now + timedelta(seconds=15)
    assert run(session_factory, {"test": adapter}, db_limiter, later).retrying == 1
    message = rows(session_factory, [bad])[bad]
    assert message.attempts == 2
    assert later + timedelta(seconds=10) <= message.next_attempt_at <= later + timedelta(seconds=20)

    stats = run(session_factory, {"test": adapter}, db_limiter, now + timedelta(hours=1))
    assert stats.dead == 1
    message = rows(session_factory, [bad])[bad]
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.DEAD, 3, "网关超时")
    assert run(session_factory, {"test": adapter}, db_limiter, now + timedelta(days=1)).claimed == 0
    assert all(adapter.sent[i] == 1 for i in good)

    # The administrator retries a dead letter after fixing the cause.
    adapter.fail = None
    with session_scope(session_factory) as session:
        outbox.retry_dead(session, session.get(OutboundMessage, bad), now=now + timedelta(days=1))
    assert run(session_factory, {"test": adapter}, db_limiter, now + timedelta(days=1)).sent == 1
    assert rows(session_factory, [bad])[bad].status == OutboxStatus.SENT


def test_permanent_error_is_dead_at_once_and_others_go_through(session_factory, db_limiter, now):
    ids = put_messages(session_factory, now, 5)
    gone = ids[2]
    adapter = ScriptedAdapter(fail=lambda m: PermanentError("用户不存在或已离职") if m.id == gone else None)
    stats = run(session_factory, {"test": adapter}, db_limiter, now, max_attempts=8)
    assert (stats.sent, stats.dead) == (4, 1)
    found = rows(session_factory, ids)
    assert found[gone].status == OutboxStatus.DEAD and found[gone].attempts == 1
    assert found[gone].last_error == "用户不存在或已离职"
    assert all(found[i].status == OutboxStatus.SENT for i in ids if i != gone)


def test_unexpected_adapter_bug_counts_as_a_failed_attempt(session_factory, db_limiter, now):
    [mid] = put_messages(session_factory, now, 1)
    adapter = ScriptedAdapter(fail=lambda m: KeyError("userid"))
    assert run(session_factory, {"test": adapter}, db_limiter, now).retrying == 1
    message = rows(session_factory, [mid])[mid]
    assert message.status == OutboxStatus.PENDING and "KeyError" in message.last_error


def test_failed_delivery_leaves_no_partial_writes(session_factory, db_limiter, now):
    """What an adapter wrote before failing is rolled back with its savepoint."""

    class HalfWay(SandboxAdapter):
        def deliver(self, message, session, *, now):
            super().deliver(message, session, now=now)
            raise TransientError("写入后失败")

    [mid] = put_messages(session_factory, now, 1, channel="sandbox")
    assert run(session_factory, {"sandbox": HalfWay()}, db_limiter, now).retrying == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SandboxMessage)) == 0
    assert run(session_factory, {"sandbox": SandboxAdapter()}, db_limiter, now + timedelta(minutes=1)).sent == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).where(SandboxMessage.outbound_id == mid)) == 1


def test_rate_limit_queues_instead_of_dropping(session_factory, limiter, now):
    ids = put_messages(session_factory, now, 25, target_type="group", target_ref="robot-7", kind="status")
    adapter = ScriptedAdapter(rule=lambda m: RateRule(f"test:robot:{m.target_ref}", 20, 60))
    adapters = {"test": adapter}
    first = now + timedelta(seconds=1)

    stats = run(session_factory, adapters, limiter, first)
    assert (stats.claimed, stats.sent, stats.throttled) == (25, 20, 5)
    found = rows(session_factory, ids)
    waiting = [m for m in found.values() if m.status == OutboxStatus.PENDING]
    assert len(waiting) == 5
    # Put back until the next window opens, no attempt counted.
    assert all(m.next_attempt_at == now + timedelta(seconds=60) and m.attempts == 0 for m in waiting)

    assert run(session_factory, adapters, limiter, now + timedelta(seconds=30)).claimed == 0
    stats = run(session_factory, adapters, limiter, now + timedelta(seconds=60))
    assert (stats.claimed, stats.sent) == (5, 5)
    assert sorted(adapter.sent) == sorted(ids) and set(adapter.sent.values()) == {1}
    assert all(m.status == OutboxStatus.SENT for m in rows(session_factory, ids).values())


def test_platform_rate_limit_pauses_the_channel(session_factory, db_limiter, now):
    robot = put_messages(session_factory, now, 3, target_type="group", target_ref="robot-1")
    other = put_messages(session_factory, now, 2, target_type="group", target_ref="robot-2")
    adapter = ScriptedAdapter(
        fail=lambda m: RateLimited(600, "", "errcode 130101：发送太频繁") if m.target_ref == "robot-1" else None
    )
    stats = run(session_factory, {"test": adapter}, db_limiter, now)
    assert stats.sent == 2 and stats.paused == 3
    assert adapter.calls == 3  # after the first refusal the paused robot is not called again
    with session_factory() as session:
        pause = session.get(ChannelPause, "test:group:robot-1")
        assert pause.paused_until == now + timedelta(seconds=600)
    found = rows(session_factory, robot + other)
    assert all(found[i].status == OutboxStatus.PENDING and found[i].attempts == 0 for i in robot)
    assert all(found[i].next_attempt_at == now + timedelta(seconds=600) for i in robot)
    assert "130101" in found[robot[0]].last_error
    assert all(found[i].status == OutboxStatus.SENT for i in other)

    adapter.fail = None
    assert run(session_factory, {"test": adapter}, db_limiter, now + timedelta(seconds=300)).claimed == 0
    assert run(session_factory, {"test": adapter}, db_limiter, now + timedelta(seconds=600)).sent == 3


def test_channels_without_an_adapter_stay_pending(session_factory, db_limiter, now):
    [mid] = put_messages(session_factory, now, 1, channel="wecom")
    assert run(session_factory, {"test": ScriptedAdapter()}, db_limiter, now).claimed == 0
    assert rows(session_factory, [mid])[mid].status == OutboxStatus.PENDING


def test_an_expired_claim_is_taken_over_and_the_old_worker_backs_off(session_factory, db_limiter, now):
    [mid] = put_messages(session_factory, now, 1)
    with session_scope(session_factory) as session:
        outbox.claim_due(session, worker="dead-worker", now=now, limit=10)
    adapter = ScriptedAdapter()
    assert run(session_factory, {"test": adapter}, db_limiter, now + timedelta(minutes=1)).claimed == 0
    stats = run(session_factory, {"test": adapter}, db_limiter, now + timedelta(minutes=6))
    assert stats.sent == 1 and adapter.sent[mid] == 1


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_workers_never_claim_the_same_row(session_factory, now, workers):
    ids = put_messages(session_factory, now, 150)
    claimed: dict[str, list[int]] = {f"w{i}": [] for i in range(workers)}
    barrier = threading.Barrier(workers)
    errors = []

    def work(name):
        try:
            barrier.wait()
            while True:
                with session_scope(session_factory) as session:
                    batch = outbox.claim_due(session, worker=name, now=now, limit=7)
                    claimed[name].extend(m.id for m in batch)
                if not batch:
                    return
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    everything = [i for batch in claimed.values() for i in batch]
    assert sorted(everything) == sorted(ids)  # each row exactly once across workers
    with session_factory() as session:
        owners = {i: w for i, w in session.execute(select(OutboundMessage.id, OutboundMessage.claimed_by))}
    assert all(owners[i] == name for name, batch in claimed.items() for i in batch)


def test_concurrent_delivery_shows_each_sandbox_message_once(session_factory, db_limiter, now):
    ids = put_messages(session_factory, now, 120, channel="sandbox")
    barrier = threading.Barrier(3)
    errors = []

    def work(name):
        try:
            barrier.wait()
            while run(session_factory, {"sandbox": SandboxAdapter()}, db_limiter, now, worker=name,
                      batch_size=10).claimed:
                pass
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with session_factory() as session:
        per_message = {i: n for i, n in session.execute(
            select(SandboxMessage.outbound_id, func.count()).group_by(SandboxMessage.outbound_id)
        )}
    assert per_message == dict.fromkeys(ids, 1)


def test_delivery_log_shows_status_and_errors(session_factory, db_limiter, now):
    ok = put_messages(session_factory, now, 2)
    [bad] = put_messages(session_factory, now, 1, target_ref="bad")
    adapter = ScriptedAdapter(fail=lambda m: PermanentError("机器人已被移出群聊") if m.target_ref == "bad" else None)
    run(session_factory, {"test": adapter}, db_limiter, now)
    with session_factory() as session:
        entries = delivery_log(session)
        assert [e.id for e in entries] == sorted([*ok, bad], reverse=True)
        dead = delivery_log(session, status=OutboxStatus.DEAD)
        assert [(e.id, e.status_label, e.last_error) for e in dead] == [(bad, "发送失败", "机器人已被移出群聊")]
        assert entries[-1].summary == "测试" and entries[-1].sent_at == now
        counts = delivery_counts(session)
    assert counts == {OutboxStatus.PENDING: 0, OutboxStatus.SENDING: 0, OutboxStatus.SENT: 2, OutboxStatus.DEAD: 1}


def test_outbound_view_is_detached(session_factory, now):
    [mid] = put_messages(session_factory, now, 1)
    with session_factory() as session:
        view = OutboundView.from_model(session.get(OutboundMessage, mid))
    assert (view.id, view.channel, view.kind, view.text) == (mid, "test", "notice", "第 1 条消息")


def test_a_pause_only_ever_grows_and_two_pausers_never_clash(session_factory, now):
    """pause_channel is one upsert: a shorter pause leaves a longer one alone, and two open
    transactions pausing the same robot (two workers) both commit."""
    key = "test:group:robot-9"
    with session_scope(session_factory) as session:
        outbox.pause_channel(session, key, until=now + timedelta(minutes=10), reason="130101")
    with session_scope(session_factory) as session:
        outbox.pause_channel(session, key, until=now + timedelta(minutes=1), reason="更短")
        assert outbox.paused_until(session, key, now=now) == now + timedelta(minutes=10)
    with session_scope(session_factory) as session:
        outbox.pause_channel(session, key, until=now + timedelta(minutes=20), reason="更长")
        assert outbox.paused_until(session, key, now=now) == now + timedelta(minutes=20)

    other = "test:group:robot-10"
    barrier = threading.Barrier(2)
    errors = []

    def pause(minutes):
        try:
            barrier.wait(timeout=5)
            with session_scope(session_factory) as session:
                outbox.pause_channel(session, other, until=now + timedelta(minutes=minutes), reason=f"{minutes}")
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=pause, args=(m,)) for m in (3, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_factory() as session:
        assert outbox.paused_until(session, other, now=now) == now + timedelta(minutes=5)
