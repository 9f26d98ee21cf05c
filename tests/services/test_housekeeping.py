"""Housekeeping deletes exactly what has outlived its use, in short batches, and never a pending message."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from database import session_scope
from models import (
    ChannelPause,
    InboundMessage,
    InboundReceipt,
    InboxStatus,
    KvEntry,
    RateWindow,
    SignInThrottle,
    WeComCardCode,
)
from services.admin.housekeeping import PruneReport, prune

RETENTION = timedelta(days=90)
SECOND = timedelta(seconds=1)


def add(session_factory, *rows) -> None:
    with session_scope(session_factory) as session:
        session.add_all(rows)


def keys(session_factory, column) -> set:
    with session_factory() as session:
        return set(session.scalars(select(column)))


def receipt(key, at):
    return InboundReceipt(platform="wecom", dedupe_key=key, created_at=at)


def message(key, status, at, processed_at=None):
    """A stored callback received at ``at``; done and failed ones processed then unless told otherwise."""
    if processed_at is None and status != InboxStatus.PENDING:
        processed_at = at
    return InboundMessage(platform="dingtalk", dedupe_key=key, payload={"msgId": key}, status=status,
                          attempts=1, next_attempt_at=at, created_at=at, processed_at=processed_at)


def run(session_factory, now, **kw) -> PruneReport:
    return prune(session_factory, now=now, inbound_retention=kw.pop("retention", RETENTION), **kw)


def test_each_table_is_pruned_just_past_its_limit_and_not_at_it(session_factory, now):
    rate_cutoff = int((now - timedelta(days=2)).timestamp())  # the window ended a day ago (windows ≤ a day)
    add(
        session_factory,
        receipt("old", now - timedelta(days=7) - SECOND), receipt("kept", now - timedelta(days=7)),
        message("done-old", InboxStatus.DONE, now - RETENTION - SECOND),
        message("done-kept", InboxStatus.DONE, now - RETENTION),
        # Failed ones are kept three times as long: past the done retention is not enough.
        message("failed-old", InboxStatus.FAILED, now - 3 * RETENTION - SECOND),
        message("failed-kept", InboxStatus.FAILED, now - 3 * RETENTION),
        message("failed-past-done-retention", InboxStatus.FAILED, now - RETENTION - timedelta(days=1)),
        # Received long ago but processed within the retention (an administrator sent it round again).
        message("done-recently", InboxStatus.DONE, now - 3 * RETENTION, processed_at=now - timedelta(days=1)),
        RateWindow(key="wecom:robot:1", window_start=rate_cutoff - 1, count=3),
        RateWindow(key="wecom:robot:1", window_start=rate_cutoff, count=1),
        RateWindow(key="dingtalk:robot:2", window_start=int(now.timestamp()) // 30 * 30, count=1),
        KvEntry(key="old-token", value="t1", expires_at=now - timedelta(days=1) - SECOND),
        KvEntry(key="kept-token", value="t2", expires_at=now - timedelta(days=1)),
        KvEntry(key="forever", value="t3", expires_at=None),
        ChannelPause(channel_key="over", paused_until=now - SECOND, reason="限流"),
        ChannelPause(channel_key="until-now", paused_until=now, reason="限流"),
        WeComCardCode(task_id="t", response_code="code-old", created_at=now - timedelta(hours=72) - SECOND),
        WeComCardCode(task_id="t", response_code="code-kept", created_at=now - timedelta(hours=72)),
        SignInThrottle(account="a" * 64, address="203.0.113.5", failures=9, last_failure_at=now - timedelta(days=1) - SECOND),
        SignInThrottle(account="", address="203.0.113.5", failures=31, last_failure_at=now - timedelta(days=1)),
    )

    report = run(session_factory, now)

    assert report == PruneReport(receipts=1, inbound_done=1, inbound_failed=1, rate_windows=1, kv_entries=1,
                                 channel_pauses=1, card_codes=1, sign_in_failures=1)
    assert report.describe() == (
        "清理：回调去重记录 1 条、已处理回调 1 条、处理失败回调 1 条、限流计数 1 条、过期令牌 1 条、"
        "已结束的渠道暂停 1 条、过期卡片响应码 1 条、过期的登录失败计数 1 条"
    )
    assert keys(session_factory, InboundReceipt.dedupe_key) == {"kept"}
    assert keys(session_factory, InboundMessage.dedupe_key) == {
        "done-kept", "failed-kept", "failed-past-done-retention", "done-recently"}
    assert keys(session_factory, RateWindow.window_start) == {rate_cutoff, int(now.timestamp()) // 30 * 30}
    assert keys(session_factory, KvEntry.key) == {"kept-token", "forever"}
    assert keys(session_factory, ChannelPause.channel_key) == {"until-now"}
    assert keys(session_factory, WeComCardCode.response_code) == {"code-kept"}
    assert keys(session_factory, SignInThrottle.account) == {""}
    # A second run finds nothing: the job is harmless to repeat.
    assert run(session_factory, now).describe() == "无需清理"


def test_pending_messages_are_never_deleted(session_factory, now):
    ancient = now - 10 * RETENTION
    retried = message("retried", InboxStatus.PENDING, ancient)
    retried.error = "OperationalError: database is locked"  # failed once, put back by an administrator
    add(session_factory, message("waiting", InboxStatus.PENDING, ancient), retried)
    assert run(session_factory, now, retention=timedelta(days=7)).describe() == "无需清理"
    assert keys(session_factory, InboundMessage.dedupe_key) == {"waiting", "retried"}


def test_the_retention_follows_the_setting(session_factory, now):
    add(session_factory, message("ten-days", InboxStatus.DONE, now - timedelta(days=10)),
        message("thirty-days", InboxStatus.FAILED, now - timedelta(days=30)))
    assert run(session_factory, now, retention=timedelta(days=30)).describe() == "无需清理"
    report = run(session_factory, now, retention=timedelta(days=7))
    assert (report.inbound_done, report.inbound_failed) == (1, 1)
    with pytest.raises(ValueError, match="at least 7 days"):
        run(session_factory, now, retention=timedelta(days=6))


def test_more_rows_than_a_batch_go_in_several_short_transactions(session_factory, now, app):
    old = now - 3 * RETENTION - timedelta(days=1)
    add(session_factory, *[receipt(f"r{i}", old) for i in range(8)],
        *[message(f"d{i}", InboxStatus.DONE, old) for i in range(7)],
        *[message(f"p{i}", InboxStatus.PENDING, old) for i in range(4)],
        *[RateWindow(key=f"k{i}", window_start=0, count=1) for i in range(6)])
    statements: list[str] = []
    commits: list[int] = []
    engine = app.extensions["db_engine"]

    def on_execute(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("DELETE"):
            statements.append(statement.split()[2].strip('"'))

    def on_commit(_conn):
        commits.append(len(statements))

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    try:
        report = run(session_factory, now, batch_size=3)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)

    assert (report.receipts, report.inbound_done, report.rate_windows) == (8, 7, 6)
    # 8 → 3 + 3 + 2; 7 → 3 + 3 + 1; 6 → 3 + 3 + 0 (a full batch means: look once more).
    assert statements.count("inbound_receipt") == 3
    assert statements.count("inbound_message") == 3 + 1  # + the failed ones' single look
    assert statements.count("rate_window") == 3
    # Each DELETE committed on its own: no transaction holds the lock for more than one batch.
    # (Other transactions, read-only, commit with no DELETE in them.)
    assert all(b - a <= 1 for a, b in zip([0, *commits], commits, strict=False)) and commits[-1] == len(statements)
    with session_factory() as session:
        assert session.scalar(select(func.count(InboundReceipt.id))) == 0
        assert set(session.scalars(select(InboundMessage.status))) == {InboxStatus.PENDING}
        assert session.scalar(select(func.count()).select_from(RateWindow)) == 0


def test_a_failed_message_an_administrator_is_retrying_is_left_alone(session_factory, now):
    """PostgreSQL: a row locked by another transaction is skipped, not waited for, and checked again
    as it is after that transaction (here: put back to pending) on the next run."""
    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: nothing can hold a row while housekeeping runs")
    from services.admin import operations as admin

    add(session_factory, message("failed-long-ago", InboxStatus.FAILED, now - 4 * RETENTION),
        message("failed-too", InboxStatus.FAILED, now - 4 * RETENTION))
    with session_factory() as s:
        row_id = s.scalar(select(InboundMessage.id).where(InboundMessage.dedupe_key == "failed-long-ago"))
    retrying = session_factory()
    try:
        admin.retry_failed_inbound(admin.AdminContext(retrying, None, now), row_id)  # holds the row lock
        reports: list[PruneReport] = []
        worker = threading.Thread(target=lambda: reports.append(run(session_factory, now)))
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "housekeeping waited for a locked row"
        assert reports[0].inbound_failed == 1
        retrying.commit()
    finally:
        retrying.close()
    assert run(session_factory, now).describe() == "无需清理"
    with session_factory() as s:
        assert s.get(InboundMessage, row_id).status == InboxStatus.PENDING
