"""The DingTalk adapter and API facade against the emulator: limits, configuration errors, tokens."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from database import session_scope
from extensions import dingtalk_api
from integrations.dingtalk import (
    NOTICE_RULE,
    DingTalkAdapter,
    DingTalkApi,
    DingTalkError,
    hmac_sign,
    robot_token,
    verify_callback_sign,
)
from integrations.registry import adapters_for
from models import ChannelPause, ChatGroup, OutboundMessage, OutboxStatus, Role
from services.kvstore import DatabaseKvStore, RedisKvStore, TokenStore
from services.messaging.outbox import Envelope, enqueue
from services.ratelimit import DatabaseRateLimiter
from tests.emulators.dingtalk_fixtures import APP_SECRET

TOKEN = "deptrobottoken0001"
SECRET = "SEC" + "0a9b" * 16


@pytest.fixture
def settings(dingtalk_app):
    return dingtalk_app.extensions["settings"]


@pytest.fixture
def group_id(session_factory, dingtalk_emulator):
    dingtalk_emulator.add_robot(TOKEN, SECRET)
    with session_scope(session_factory) as s:
        from models import Department

        dept = s.scalar(select(Department).where(Department.code == "rsj"))
        group = ChatGroup(platform="dingtalk", department_id=dept.id, name="人社局群", robot_key=TOKEN,
                          robot_secret=SECRET)
        s.add(group)
        s.flush()
        return group.id


def put(session_factory, now, *, kind="status", target_type="group", target_ref="1", payload=None, key=None):
    with session_scope(session_factory) as s:
        message = enqueue(s, Envelope(channel="dingtalk", kind=kind, target_type=target_type, target_ref=target_ref,
                                      payload=payload or {"text": "【已报到】工单 BC-20260302-0001"},
                                      dedupe_key=key or f"t:{kind}:{target_ref}:{os.urandom(4).hex()}"), now=now)
        return message.id


def row(session_factory, message_id) -> OutboundMessage:
    with session_factory() as s:
        return s.get(OutboundMessage, message_id)


def test_adapter_is_registered_when_configured(settings, app):
    assert "dingtalk" in adapters_for(settings)
    assert "dingtalk" not in adapters_for(app.extensions["settings"])


def test_130101_pauses_the_robot_and_loses_nothing(dingtalk_emulator, dingtalk_deliver, session_factory, group_id, now):
    first = put(session_factory, now, target_ref=str(group_id))
    dingtalk_emulator.fail_next("robot/send", 130101, "send too fast, exceed 20 times per minute")

    stats = dingtalk_deliver(now)
    assert stats.paused == 1 and stats.dead == 0
    message = row(session_factory, first)
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    assert message.next_attempt_at == now + timedelta(minutes=10)
    with session_factory() as s:
        pause = s.get(ChannelPause, f"dingtalk:robot:{group_id}")
        assert pause.paused_until == now + timedelta(minutes=10) and "130101" in pause.reason

    second = put(session_factory, now + timedelta(minutes=1), target_ref=str(group_id))
    assert dingtalk_deliver(now + timedelta(minutes=5)).sent == 0  # the whole robot waits
    assert dingtalk_deliver(now + timedelta(minutes=10)).sent == 2
    assert row(session_factory, first).status == row(session_factory, second).status == OutboxStatus.SENT
    assert len(dingtalk_emulator.robot_messages(TOKEN)) == 2


def test_the_shared_limit_keeps_a_robot_under_20_a_minute(dingtalk_emulator, dingtalk_deliver, session_factory,
                                                          group_id, now):
    ids = [put(session_factory, now, target_ref=str(group_id), payload={"text": f"状态 {i}"}) for i in range(25)]
    at = now
    sent_per_minute = []
    with time_machine.travel(now, tick=False) as traveller:  # DingTalk (the emulator) counts on its clock
        for _minute in range(9):
            before = len(dingtalk_emulator.robot_messages(TOKEN))
            for _ in range(4):
                traveller.move_to(at)
                dingtalk_deliver(at)
                at += timedelta(seconds=15)
            sent_per_minute.append(len(dingtalk_emulator.robot_messages(TOKEN)) - before)
    assert sum(sent_per_minute) == 25 and max(sent_per_minute) <= 20
    assert all(c.answer["errcode"] == 0 for c in dingtalk_emulator.calls("robot/send"))
    assert {row(session_factory, i).status for i in ids} == {OutboxStatus.SENT}


def test_310000_marks_the_group_and_dead_letters_the_message(dingtalk_emulator, dingtalk_deliver, session_factory,
                                                             group_id, now, caplog):
    dingtalk_emulator.add_robot(TOKEN, "SEC" + "ffff" * 16)  # the group's secret no longer matches DingTalk's
    message_id = put(session_factory, now, target_ref=str(group_id))
    with caplog.at_level(logging.ERROR):
        stats = dingtalk_deliver(now)
    assert stats.dead == 1
    message = row(session_factory, message_id)
    assert message.status == OutboxStatus.DEAD and "310000" in message.last_error
    with session_factory() as s:
        group = s.get(ChatGroup, group_id)
        assert "310000" in group.last_error and "加签" in group.last_error and "关键词" in group.last_error
    assert any("310000" in r.getMessage() for r in caplog.records)

    # Fixed in the console: the next message goes out and the warning disappears.
    dingtalk_emulator.add_robot(TOKEN, SECRET)
    put(session_factory, now, target_ref=str(group_id))
    assert dingtalk_deliver(now + timedelta(minutes=1)).sent == 1
    with session_factory() as s:
        assert s.get(ChatGroup, group_id).last_error == ""


def test_keyword_security_mode_is_met_by_every_robot_message(dingtalk_emulator, dingtalk_deliver, session_factory,
                                                             group_id, now):
    dingtalk_emulator.add_robot(TOKEN, SECRET, keyword="工单")
    put(session_factory, now, target_ref=str(group_id), payload={"text": "【已报到】工单 BC-20260302-0001 王帮办已报到"})
    assert dingtalk_deliver(now).sent == 1


def test_ip_not_whitelisted_is_a_clear_permanent_error(dingtalk_emulator, dingtalk_deliver, session_factory,
                                                       factory, session, now):
    person = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), dingtalk_userid="wangbb")
    session.commit()
    dingtalk_emulator.ip_whitelisted = False
    message_id = put(session_factory, now, kind="notice", target_type="person", target_ref=str(person.id),
                     payload={"title": "提醒", "text": "工单 BC-20260302-0001 即将超时", "order_number": "BC-20260302-0001"})
    assert dingtalk_deliver(now).dead == 1
    message = row(session_factory, message_id)
    assert message.attempts == 1 and "60020" in message.last_error and "出口 IP" in message.last_error


def test_an_expired_token_is_fetched_again_once(dingtalk_emulator, dingtalk_deliver, session_factory, factory,
                                                session, now):
    person = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), dingtalk_userid="wangbb")
    session.commit()
    payload = {"title": "提醒", "text": "请尽快办理", "order_number": "BC-20260302-0001"}
    put(session_factory, now, kind="notice", target_type="person", target_ref=str(person.id), payload=payload)
    assert dingtalk_deliver(now).sent == 1
    assert dingtalk_emulator.token_fetches == 1

    dingtalk_emulator.expire_tokens()
    put(session_factory, now, kind="reminder", target_type="person", target_ref=str(person.id), payload=payload)
    assert dingtalk_deliver(now).sent == 1
    assert dingtalk_emulator.token_fetches == 2
    answers = [c.answer["errcode"] for c in dingtalk_emulator.calls("topapi/message/corpconversation/asyncsend_v2")]
    assert answers == [0, 88, 0]


def test_work_notices_stay_under_500_a_day_per_user(dingtalk_emulator, dingtalk_deliver, session_factory, factory,
                                                    session, now):
    """DingTalk drops a user's work notices beyond 500 a day while answering ok: the shared bucket
    (three 8-hour windows a Beijing day, 166 each) keeps the rest waiting in the outbox instead."""
    cap, window = NOTICE_RULE
    assert cap * (86400 // window) <= 500 and (16 * 3600) % window == 0  # Beijing midnight is 16:00 UTC
    person = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), dingtalk_userid="wangbb")
    other = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), dingtalk_userid="libb")
    session.commit()
    limiter = DatabaseRateLimiter(session_factory)
    for _ in range(cap):  # this window's notices to 王帮办 are used up
        assert limiter.acquire(f"dingtalk:notice:{person.id}", cap, window, now) == 0
    payload = {"title": "提醒", "text": "请尽快办理", "order_number": "BC-20260302-0001"}
    waiting = put(session_factory, now, kind="notice", target_type="people", target_ref=f"{other.id},{person.id}",
                  payload=payload)
    solo = put(session_factory, now, kind="notice", target_type="person", target_ref=str(other.id), payload=payload)
    stats = dingtalk_deliver(now)
    assert (stats.sent, stats.throttled) == (1, 1)
    assert row(session_factory, waiting).status == OutboxStatus.PENDING
    assert row(session_factory, solo).status == OutboxStatus.SENT
    next_window = datetime.fromtimestamp((int(now.timestamp()) // window + 1) * window, UTC)
    assert dingtalk_deliver(next_window).sent == 1
    assert row(session_factory, waiting).status == OutboxStatus.SENT


def test_a_token_that_keeps_failing_is_retried_once_then_later(dingtalk_emulator, dingtalk_deliver, session_factory,
                                                               factory, session, now):
    person = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), dingtalk_userid="wangbb")
    session.commit()
    dingtalk_emulator.fail_next("topapi/message/corpconversation/asyncsend_v2", 42001, "access_token超时", times=5)
    message_id = put(session_factory, now, kind="notice", target_type="person", target_ref=str(person.id),
                     payload={"title": "提醒", "text": "请尽快办理"})
    assert dingtalk_deliver(now).retrying == 1
    assert len(dingtalk_emulator.calls("topapi/message/corpconversation/asyncsend_v2")) == 2
    assert row(session_factory, message_id).status == OutboxStatus.PENDING


def test_people_without_a_dingtalk_account_are_a_permanent_error(dingtalk_deliver, session_factory, factory,
                                                                 session, now):
    person = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"))
    session.commit()
    message_id = put(session_factory, now, kind="card", target_type="people", target_ref=str(person.id),
                     payload={"title": "吹哨报到", "text": "x", "url": "/m/orders/BC-20260302-0001"})
    assert dingtalk_deliver(now).dead == 1
    assert "未绑定钉钉" in row(session_factory, message_id).last_error


def test_tokens_are_shared_through_the_store(dingtalk_emulator, settings, session_factory):
    store = DatabaseKvStore(session_factory)
    one = DingTalkApi(settings.dingtalk, tokens=TokenStore(database=store))
    two = DingTalkApi(settings.dingtalk, tokens=TokenStore(database=store))
    dingtalk_emulator.add_user("wangbb", "王帮办")
    assert one.user_id_from_code(dingtalk_emulator.issue_code("wangbb")) == "wangbb"
    assert two.user_id_from_code(dingtalk_emulator.issue_code("wangbb")) == "wangbb"
    assert dingtalk_emulator.token_fetches == 1

    # Inside an open transaction (SQLite: the only writer) the token is kept in that session.
    three = DingTalkApi(settings.dingtalk, tokens=TokenStore())
    with session_scope(session_factory) as s:
        assert three.user_id_from_code(dingtalk_emulator.issue_code("wangbb"), session=s) == "wangbb"
    assert dingtalk_emulator.token_fetches == 1


def test_tokens_are_shared_through_redis(dingtalk_emulator, settings):
    import redis

    client = redis.Redis.from_url(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis not reachable")
    store = RedisKvStore(client, prefix=f"yxby-test:{os.urandom(4).hex()}:")
    dingtalk_emulator.add_user("wangbb", "王帮办")
    for _ in range(2):
        api = DingTalkApi(settings.dingtalk, tokens=TokenStore(redis=store))
        assert api.user_id_from_code(dingtalk_emulator.issue_code("wangbb")) == "wangbb"
    assert dingtalk_emulator.token_fetches == 1


def test_user_id_from_code_for_the_h5_pages(dingtalk_app, dingtalk_emulator, session_factory):
    dingtalk_emulator.add_user("wangbb", "王帮办", "13900000001", 10)
    api = dingtalk_api(dingtalk_app)
    assert dingtalk_api(dingtalk_app) is api
    code = dingtalk_emulator.issue_code("wangbb")
    with dingtalk_app.app_context():
        assert api.user_id_from_code(code) == "wangbb"
        with pytest.raises(DingTalkError) as error:
            api.user_id_from_code(code)  # single use
    assert error.value.errcode == 40078


def test_list_users_follows_the_cursor(dingtalk_emulator, settings):
    for i in range(150):
        dingtalk_emulator.add_user(f"u{i:03d}", f"成员{i}", f"139{i:08d}", 20)
    dingtalk_emulator.add_user("elsewhere", "别处", "13800000000", 21)
    users = DingTalkApi(settings.dingtalk).list_users(20)
    assert [u["userid"] for u in users] == [f"u{i:03d}" for i in range(150)]
    assert len(dingtalk_emulator.calls("topapi/v2/user/list")) == 2


def test_new_api_token_is_cached(dingtalk_emulator, settings, session_factory):
    api = DingTalkApi(settings.dingtalk, tokens=TokenStore(database=DatabaseKvStore(session_factory)))
    token = api.new_api_token()
    assert token.startswith("nt-") and api.new_api_token() == token
    other_process = DingTalkApi(settings.dingtalk, tokens=TokenStore(database=DatabaseKvStore(session_factory)))
    assert other_process.new_api_token() == token
    assert dingtalk_emulator.new_token_fetches == 1

    wrong = DingTalkApi(settings.dingtalk.__class__(app_key=settings.dingtalk.app_key, app_secret="wrong",
                                                    openapi_base=settings.dingtalk.openapi_base))
    with pytest.raises(DingTalkError) as error:
        wrong.new_api_token()
    assert error.value.http_status == 400


def test_robot_webhook_url_or_token(dingtalk_emulator, settings):
    api = DingTalkApi(settings.dingtalk)
    dingtalk_emulator.add_robot(TOKEN, SECRET)
    url = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"
    assert robot_token(url) == robot_token(TOKEN) == TOKEN
    api.send_robot(url, SECRET, {"msgtype": "text", "text": {"content": "工单 测试"}})
    assert len(dingtalk_emulator.robot_messages(TOKEN)) == 1
    with pytest.raises(DingTalkError):
        api.send_session_webhook("https://evil.example.com/robot/sendBySession?session=x", {"msgtype": "text"})
    # Behind an egress proxy (DINGTALK_API_BASE with a path) the session webhook goes through it too.
    proxied = DingTalkApi(settings.dingtalk.__class__(app_key="k", app_secret="s",
                                                      api_base="https://proxy.example.gov.cn/oapi/"))
    assert proxied.session_webhook_target("https://oapi.dingtalk.com/robot/sendBySession?session=abc") == (
        "https://proxy.example.gov.cn/oapi/robot/sendBySession?session=abc")
    assert proxied.robot_url(TOKEN, "").startswith("https://proxy.example.gov.cn/oapi/robot/send?access_token=")


def test_callback_signature_rules():
    now_ms = 1_772_416_800_000
    good = hmac_sign(APP_SECRET, now_ms)
    assert verify_callback_sign(APP_SECRET, str(now_ms), good, now_ms) == ""
    assert verify_callback_sign(APP_SECRET, str(now_ms), good, now_ms + 3_599_000) == ""
    assert "1 小时" in verify_callback_sign(APP_SECRET, str(now_ms), good, now_ms + 3_601_000)
    assert verify_callback_sign(APP_SECRET, str(now_ms), good[:-2] + "==", now_ms) == "签名不匹配"
    assert verify_callback_sign(APP_SECRET, None, good, now_ms)
    assert verify_callback_sign(APP_SECRET, "12ab", good, now_ms)


def test_mentions_become_userids_in_the_text():
    from models import Person

    wang, wang2 = Person(name="王帮办"), Person(name="王帮办二")
    text = DingTalkAdapter._mention_text("【吹哨报到】@王帮办二 @王帮办\n工单 X", [(wang, "w1"), (wang2, "w2")])
    assert text.startswith("【吹哨报到】@w2 @w1\n")
    assert DingTalkAdapter._mention_text("没有点名", [(wang, "w1")]) == "没有点名\n@w1"
