"""The inbound inbox: stored once, processed once — through crashes, failures and rival processors.

The platform processors are the real ones (WeCom's ``handle_message``, DingTalk's
``process_robot_event``); failures are injected where they happen in production, at the
database: a COMMIT that fails (SQLAlchemy's ``before_commit`` hook raising ``OperationalError``),
or a processor that dies after its claim.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from database import session_scope
from integrations import wecom_inbound
from integrations.dingtalk_inbound import DingTalkInbound
from integrations.wecom_inbound import WeComInbound, parse_xml
from models import (
    AuditLog,
    InboundMessage,
    InboundReceipt,
    InboxStatus,
    OutboundMessage,
    Role,
    WorkOrder,
    WorkOrderEvent,
)
from services import audit
from services.messaging import inbox
from services.messaging.inbound import SUMMARY_LENGTH, InboundContext, inbox_processor, summary
from services.messaging.inbox import InboxProcessor
from services.messaging.notify import Channels
from services.orders.lifecycle import Action, State
from tests.emulators.wecom import text_message

CHANNELS = Channels(sandbox=False, wecom=True, dingtalk=True)
CONTENT = "企业急需招聘30名数控技术工人，请协助对接专场招聘会"


def count(session_factory, model, *where) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def the_row(session_factory, row_id) -> InboundMessage:
    with session_factory() as s:
        return s.get(InboundMessage, row_id)


@pytest.fixture
def staff(session, factory):
    person = factory.person(Role.SERVICE_STAFF, name="赵服务", wecom_userid="staff01", dingtalk_userid="zhaofw")
    factory.enterprise(staff=person, name="天津北辰精工机械有限公司")
    session.commit()
    return person


def store_wecom(session_factory, now, xml, ip="203.0.113.9") -> int:
    message = parse_xml(xml)
    with session_scope(session_factory) as session:
        assert inbox.store(session, "wecom", wecom_inbound.message_key(message),
                           wecom_inbound.stored_payload(message, ip), now)
        return session.scalar(select(InboundMessage.id).order_by(InboundMessage.id.desc()).limit(1))


def submit(session_factory, now, msg_id=9001) -> int:
    return store_wecom(session_factory, now,
                       text_message("staff01", f"诉求 天津北辰精工机械有限公司 {CONTENT}", msg_id))


def processors():
    return {"wecom": inbox_processor(WeComInbound(), InboundContext(CHANNELS))}


def run(session_factory, at, procs=None, **kw):
    return inbox.process_due(session_factory, procs or processors(), now_fn=lambda: at, **kw)


@contextmanager
def commits_fail(when):
    """Every COMMIT of a session for which ``when(session)`` holds fails, as a full disk would."""
    failures = []

    def before_commit(session):
        if when(session):
            failures.append(session)
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(Session, "before_commit", before_commit)
    try:
        yield failures
    finally:
        event.remove(Session, "before_commit", before_commit)


def marking_done(session) -> bool:
    """The moment between running the command and committing "done"."""
    return any(isinstance(o, InboundMessage) and o.status == InboxStatus.DONE for o in session.identity_map.values())


# --------------------------------------------------------------------------------------------
def test_store_keeps_one_row_per_platform_message(session_factory, now):
    with session_scope(session_factory) as session:
        assert inbox.store(session, "wecom", "msg:1", {"message": {}}, now) is True
        assert inbox.store(session, "wecom", "msg:1", {"message": {"changed": "1"}}, now) is False
        assert inbox.store(session, "dingtalk", "msg:1", {}, now) is True  # another platform's id space
    with session_factory() as s:
        rows = s.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        assert [(r.platform, r.status, r.attempts, r.payload) for r in rows] == [
            ("wecom", InboxStatus.PENDING, 0, {"message": {}}), ("dingtalk", InboxStatus.PENDING, 0, {})]


def test_a_stored_command_runs_once_and_the_row_says_so(session_factory, staff, now):
    row_id = submit(session_factory, now)
    stats = run(session_factory, now)
    assert (stats.claimed, stats.done) == (1, 1)
    assert run(session_factory, now + timedelta(minutes=5)).claimed == 0
    row = the_row(session_factory, row_id)
    assert (row.status, row.attempts, row.error, row.processed_at) == (InboxStatus.DONE, 1, "", now)
    assert row.outcome == "command 诉求 ok=True"
    assert count(session_factory, WorkOrder) == 1
    with session_factory() as s:
        [reply] = s.scalars(select(OutboundMessage).where(OutboundMessage.kind == "reply")).all()
        assert reply.channel == "wecom" and "已为天津北辰精工机械有限公司提交诉求" in reply.payload["text"]


def test_a_crash_between_the_command_and_done_runs_the_command_once(session_factory, staff, now):
    row_id = submit(session_factory, now)
    with commits_fail(marking_done) as failures:
        stats = run(session_factory, now)
    assert len(failures) == 1 and (stats.claimed, stats.done, stats.retrying) == (1, 0, 1)
    # Everything the command did went with the failed commit; the row waits for its retry.
    assert count(session_factory, WorkOrder) == 0
    assert count(session_factory, InboundReceipt) == 0
    assert count(session_factory, OutboundMessage) == 0
    row = the_row(session_factory, row_id)
    assert (row.status, row.attempts) == (InboxStatus.PENDING, 1)
    assert "OperationalError" in row.error and "disk I/O error" in row.error
    assert row.next_attempt_at == now + timedelta(seconds=inbox.RETRY_DELAYS_SECONDS[0])
    assert run(session_factory, now + timedelta(seconds=1)).claimed == 0  # not before the delay

    stats = run(session_factory, now + timedelta(seconds=3))
    assert stats.done == 1
    row = the_row(session_factory, row_id)
    assert (row.status, row.attempts, row.error) == (InboxStatus.DONE, 2, "")
    with session_factory() as s:
        [order] = s.scalars(select(WorkOrder)).all()
        assert s.scalar(select(func.count()).select_from(WorkOrderEvent).where(
            WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.action == Action.CREATE)) == 1
        assert s.scalar(select(func.count()).select_from(OutboundMessage).where(OutboundMessage.kind == "reply")) == 1


def test_a_message_that_keeps_failing_is_given_up_and_the_sender_told(session_factory, staff, now):
    row_id = submit(session_factory, now)
    at = now
    outcomes = []
    with commits_fail(marking_done):
        for _ in range(inbox.MAX_ATTEMPTS + 2):
            stats = run(session_factory, at)
            outcomes.append((stats.claimed, stats.retrying, stats.failed))
            at += timedelta(seconds=max(inbox.RETRY_DELAYS_SECONDS) + 1)
    assert outcomes == [(1, 1, 0), (1, 1, 0), (1, 0, 1), (0, 0, 0), (0, 0, 0)]  # bounded
    row = the_row(session_factory, row_id)
    assert (row.status, row.attempts, row.outcome) == (InboxStatus.FAILED, inbox.MAX_ATTEMPTS, "failed")
    assert "disk I/O error" in row.error and row.processed_at is not None
    assert count(session_factory, WorkOrder) == 0
    # The sender hears, in Chinese, on the platform they wrote from, with the reference of the row.
    with session_factory() as s:
        [reply] = s.scalars(select(OutboundMessage)).all()
    assert (reply.channel, reply.kind, reply.target_ref) == ("wecom", "reply", str(staff.id))
    assert "系统处理您的消息时出错" in reply.payload["text"] and f"参考号 IN-{row_id}" in reply.payload["text"]


def test_a_dingtalk_message_that_fails_is_answered_in_its_group(session_factory, staff, now, app):
    settings = app.extensions["settings"].with_overrides({"dingtalk": dingtalk_inbound_settings()})
    payload = {"msgId": "msgFAIL01", "msgtype": "text", "text": {"content": " 我的工单"}, "senderStaffId": "zhaofw",
               "conversationId": "cid-1", "conversationType": "2",
               "sessionWebhook": "https://oapi.example.invalid/robot/sendBySession?session=1",
               "sessionWebhookExpiredTime": 9_999_999_999_999}
    with session_scope(session_factory) as session:
        inbox.store(session, "dingtalk", "msgFAIL01", payload, now)
    procs = {"dingtalk": inbox_processor(DingTalkInbound(), InboundContext.from_settings(settings))}
    with commits_fail(marking_done):
        for attempt in range(inbox.MAX_ATTEMPTS):
            run(session_factory, now + timedelta(minutes=attempt), procs)
    with session_factory() as s:
        [row] = s.scalars(select(InboundMessage)).all()
        [reply] = s.scalars(select(OutboundMessage)).all()
    assert row.status == InboxStatus.FAILED
    assert (reply.channel, reply.target_type, reply.target_ref) == ("dingtalk", "session", "cid-1")
    assert reply.payload["at_user_ids"] == ["zhaofw"] and f"参考号 IN-{row.id}" in reply.payload["text"]


def dingtalk_inbound_settings():
    from config import DingTalkSettings

    return DingTalkSettings(app_key="k", app_secret="s", agent_id="1", robot_code="")


def test_a_processor_that_dies_after_its_claim_leaves_the_row_to_the_next(session_factory, staff, now):
    row_id = submit(session_factory, now)
    with session_scope(session_factory) as session:  # claimed, then the process was killed
        assert inbox.claim_due(session, now=now, limit=10) == [row_id]
    assert run(session_factory, now + timedelta(seconds=30)).claimed == 0  # its lease still holds
    stats = run(session_factory, now + inbox.CLAIM_LEASE + timedelta(seconds=1))
    assert stats.done == 1
    assert the_row(session_factory, row_id).attempts == 2
    assert count(session_factory, WorkOrder) == 1


def test_a_message_that_kills_every_processor_is_given_up(session_factory, staff, now):
    row_id = submit(session_factory, now)
    at = now
    for _ in range(inbox.MAX_ATTEMPTS):
        with session_scope(session_factory) as session:
            assert inbox.claim_due(session, now=at, limit=10) == [row_id]
        at += inbox.CLAIM_LEASE + timedelta(seconds=1)
    stats = run(session_factory, at)
    assert (stats.claimed, stats.done, stats.failed) == (1, 0, 1)
    row = the_row(session_factory, row_id)
    assert row.status == InboxStatus.FAILED and "多次中断" in row.error
    assert count(session_factory, WorkOrder) == 0
    with session_factory() as s:
        assert f"IN-{row_id}" in s.scalars(select(OutboundMessage)).one().payload["text"]


def test_a_platform_switched_off_fails_its_rows_without_a_crash(session_factory, now):
    with session_scope(session_factory) as session:
        inbox.store(session, "dingtalk", "m1", {}, now)
    at = now
    for _ in range(inbox.MAX_ATTEMPTS):
        run(session_factory, at)  # only WeCom's processor
        at += timedelta(minutes=2)
    with session_factory() as s:
        row = s.scalars(select(InboundMessage)).one()
    assert row.status == InboxStatus.FAILED and "未启用" in row.error


# --------------------------------------------------------------------------------------------
def test_rival_processors_never_process_the_same_row(session_factory, now):
    """Four processors in threads drain the same inbox (SQLite: serialised writers; PostgreSQL:
    SKIP LOCKED): every row is processed exactly once."""
    total = 60
    with session_scope(session_factory) as session:
        for i in range(total):
            inbox.store(session, "test", f"m{i}", {"n": i}, now)
    seen: list[int] = []
    lock = threading.Lock()

    def process(session, row, at):
        with lock:
            seen.append(row.payload["n"])
        audit.record(session, None, "inbox.test", "inbound_message", row.id, {"n": row.payload["n"]}, "", at)
        time.sleep(0.002)  # a little work inside the transaction, so the processors overlap
        return "ok"

    procs = {"test": InboxProcessor(process)}
    errors = []
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait()
            while run(session_factory, now, procs, batch_size=5).claimed:
                pass
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(seen) == list(range(total))
    assert count(session_factory, AuditLog, AuditLog.action == "inbox.test") == total
    with session_factory() as s:
        assert set(s.execute(select(InboundMessage.status, InboundMessage.attempts)).all()) == {(InboxStatus.DONE, 1)}


@contextmanager
def statements(engine):
    """The SQL statements ``engine`` runs inside the block (savepoints included; SQLite's
    explicit ``BEGIN`` left out)."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if not statement.upper().startswith("BEGIN"):
            seen.append(" ".join(statement.split()).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_batch_is_claimed_in_two_statements_and_a_receipt_in_one(session_factory, staff, now):
    """On PostgreSQL each statement is a round trip: the claim does not grow with the batch, and
    the duplicate check of a command is one ``INSERT … ON CONFLICT``, without a savepoint."""
    engine = session_factory.kw["bind"]
    with session_scope(session_factory) as session:
        for i in range(5):
            inbox.store(session, "test", f"m{i}", {"n": i}, now)
    with statements(engine) as seen, session_scope(session_factory) as session:
        assert len(inbox.claim_due(session, now=now, limit=5)) == 5
    assert [s.split()[0] for s in seen] == ["SELECT", "UPDATE"]
    submit(session_factory, now)
    with statements(engine) as seen:
        assert run(session_factory, now, batch_size=1).done == 1
    [receipt] = [i for i, s in enumerate(seen) if s.startswith("INSERT INTO INBOUND_RECEIPT")]
    assert "ON CONFLICT" in seen[receipt] and not seen[receipt - 1].startswith("SAVEPOINT")
    outbox_rows = [i for i, s in enumerate(seen) if s.startswith("INSERT INTO OUTBOUND_MESSAGE")]
    assert outbox_rows  # the reply (and the order's messages): each one statement, no look-up, no savepoint
    for i in outbox_rows:
        assert "ON CONFLICT" in seen[i] and not seen[i - 1].startswith(("SAVEPOINT", "SELECT OUTBOUND_MESSAGE"))


def test_enqueue_with_a_dedupe_key_seen_before_is_a_no_op(session_factory, now):
    from services.messaging.outbox import Envelope, enqueue

    envelope = Envelope("wecom", "notice", "person", "7", {"text": "你好"}, "notice:k1")
    with session_scope(session_factory) as session:
        first = enqueue(session, envelope, now=now)
        assert first is not None and first.id and first.status == "pending" and first.payload == {"text": "你好"}
        assert enqueue(session, envelope, now=now) is None  # same transaction
    with session_scope(session_factory) as session:
        assert enqueue(session, envelope, now=now) is None  # a later one
    assert count(session_factory, OutboundMessage) == 1


def test_the_job_processes_what_the_callbacks_stored(app, wecom_app, session_factory, staff):
    from jobs.scheduler import run_job_now
    from models import utcnow

    submit(session_factory, utcnow())
    assert "未启用" in run_job_now(app, "process_inbound")  # the plain test app has no platform on
    summary = run_job_now(wecom_app, "process_inbound")
    assert "认领 1，已处理 1" in summary
    with session_factory() as s:
        assert s.scalar(select(WorkOrder.state)) == State.PROCESSING


def test_the_administrators_summary_is_one_short_line_without_secrets(now):
    wecom = InboundMessage(platform="wecom", payload=wecom_inbound.stored_payload(
        parse_xml(text_message("staff01", "诉求 天津北辰精工机械有限公司\n\t" + CONTENT * 5, 9100)), "203.0.113.9"))
    text = summary(wecom)
    assert text.startswith("staff01：诉求 天津北辰精工机械有限公司 企业急需") and text.endswith("…")
    assert len(text) == SUMMARY_LENGTH and "\n" not in text and "\t" not in text
    dingtalk = InboundMessage(platform="dingtalk", payload={
        "msgId": "m0", "msgtype": "text", "text": {"content": " 查询\x00 0001\x1b[31m"}, "senderNick": "赵服务",
        "senderStaffId": "zhaofw", "conversationType": "2", "conversationTitle": "人社局工作群"})
    assert summary(dingtalk) == "赵服务（zhaofw） 在群「人社局工作群」：查询 0001 [31m"

    contact = InboundMessage(platform="wecom", payload={"message": {
        "MsgType": "event", "Event": "change_contact", "ChangeType": "delete_user", "UserID": "lisi"}})
    assert summary(contact) == "通讯录变更 delete_user lisi"
    picture = InboundMessage(platform="dingtalk", payload={
        "msgId": "m1", "msgtype": "picture", "senderStaffId": "zhaofw", "conversationType": "1",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=secret"})
    assert summary(picture) == "zhaofw：〔picture消息〕"
    # Whatever arrived, the page still renders.
    assert summary(InboundMessage(platform="dingtalk", payload={"text": ["x"], "senderNick": {}})) == "?："
    assert summary(InboundMessage(platform="wecom", payload={"message": "x"})) == ""
    assert summary(InboundMessage(platform="sandbox", payload={"a": 1})) == ""
