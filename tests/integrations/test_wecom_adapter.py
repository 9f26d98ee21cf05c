"""Delivery through WeCom: rendering, skipping, platform errors, pauses and shared limits."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from database import session_scope
from extensions import chat_adapters
from integrations.base import OutboundView
from integrations.registry import adapters_for
from integrations.wecom import MEMBER_HOUR_RULE, MEMBER_RULE, ROBOT_RULE, WeComAdapter
from models import ChannelPause, ChatGroup, OutboundMessage, OutboxStatus, RateWindow, Role, WeComCardCode
from services.messaging.delivery import deliver_due
from services.messaging.outbox import Envelope, enqueue
from services.ratelimit import DatabaseRateLimiter

# The start of a 20-second window, so a test's sends all fall in one window.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def run(app, at=T0):
    factory = app.extensions["db_sessionmaker"]
    adapters = {"wecom": chat_adapters(app)["wecom"]}
    return deliver_due(factory, adapters, DatabaseRateLimiter(factory), worker_id="wecom-adapter-test",
                       now_fn=lambda: at, batch_size=100, max_attempts=3)


def put(session_factory, *, kind, target_type, target_ref, payload, at=T0, work_order_id=None) -> int:
    with session_scope(session_factory) as session:
        message = enqueue(session, Envelope(channel="wecom", kind=kind, target_type=target_type, target_ref=target_ref,
                                            payload=payload, dedupe_key=uuid.uuid4().hex,
                                            work_order_id=work_order_id), now=at)
        return message.id


def status(session_factory, message_id):
    with session_factory() as s:
        m = s.get(OutboundMessage, message_id)
        return m.status, m.attempts, m.last_error


@pytest.fixture
def people(session, factory, wecom_emulator):
    bound = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), name="孙帮办",
                           wecom_userid="helper01")
    other = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), name="李帮办",
                           wecom_userid="helper02")
    unbound = factory.person(Role.SERVICE_STAFF, name="周服务")
    ghost = factory.person(Role.SERVICE_STAFF, name="吴离职", wecom_userid="ghost01")  # gone from WeCom
    group = ChatGroup(platform="wecom", department_id=bound.department_id, robot_key="robot-a", name="人社局群")
    session.add(group)
    session.commit()
    wecom_emulator.add_user("helper01", "孙帮办", bound.phone)
    wecom_emulator.add_user("helper02", "李帮办", other.phone)
    wecom_emulator.add_robot("robot-a")
    return {"bound": bound, "other": other, "unbound": unbound, "ghost": ghost, "group": group}


def test_registry_switches_wecom_on_with_its_settings(app, wecom_app):
    assert "wecom" not in adapters_for(app.extensions["settings"])
    assert isinstance(adapters_for(wecom_app.extensions["settings"])["wecom"], WeComAdapter)


def test_buckets_and_pause_keys():
    adapter = WeComAdapter(_settings())
    group = _view(kind="status", target_type="group", target_ref="12")
    card = _view(kind="card", target_type="people", target_ref="5,6,7")
    update = _view(kind="card_update", target_type="people", target_ref="5,6,7")
    assert [(r.key, r.limit) for r in adapter.rate_rules(group)] == [("wecom:robot:12", ROBOT_RULE[0])]
    # A message to three members counts against each of them, per minute and per hour.
    assert [(r.key, r.limit, r.window_seconds, r.slices) for r in adapter.rate_rules(card)] == [
        (f"wecom:{bucket}:{person}", *rule) for person in (5, 6, 7)
        for bucket, rule in (("member", MEMBER_RULE), ("member-hour", (*MEMBER_HOUR_RULE, 1)))]
    assert adapter.rate_rules(update) == ()
    assert adapter.channel_key(group) == "wecom:robot:12" and adapter.channel_key(card) == "wecom:app"
    # Sliding windows at least a minute long hold the platform's per-minute limits however it counts;
    # fixed hour windows overlapping any sliding hour hold its hourly one.
    assert ROBOT_RULE[0] <= 20 and MEMBER_RULE[0] <= 30 and ROBOT_RULE[1] >= 60 and MEMBER_RULE[1] >= 60
    assert MEMBER_HOUR_RULE[0] * (3600 // MEMBER_HOUR_RULE[1] + 1) <= 1000


def refilled(rule) -> int:
    """Seconds after a burst until a sliding-window bucket has room again: the window and one slice."""
    limit, window, slices = rule
    return window + window // slices


def _settings():
    from config import Settings, WeComSettings

    return Settings(wecom=WeComSettings(corp_id="ww1", secret="s", agent_id="1"))


def _view(**kw):
    return OutboundView(id=1, channel="wecom", payload={}, **kw)


def test_token_expired_once_is_refreshed_and_the_message_delivered(wecom_app, session_factory, people,
                                                                   wecom_emulator):
    first = put(session_factory, kind="reply", target_type="person", target_ref=str(people["bound"].id),
                payload={"text": "第一条"})
    assert run(wecom_app).sent == 1
    wecom_emulator.expire_tokens()
    second = put(session_factory, kind="reply", target_type="person", target_ref=str(people["bound"].id),
                 payload={"text": "第二条"})
    assert run(wecom_app).sent == 1
    assert status(session_factory, first)[0] == status(session_factory, second)[0] == OutboxStatus.SENT
    assert [r.answer["errcode"] for r in wecom_emulator.calls("message/send")] == [0, 42001, 0]
    assert len(wecom_emulator.calls("gettoken")) == 2
    assert [m["text"]["content"] for m in wecom_emulator.messages] == ["第一条", "第二条"]


def test_robot_limit_pauses_the_robot_and_delivers_after_the_window(wecom_app, session_factory, people,
                                                                    wecom_emulator):
    group = str(people["group"].id)
    ids = [put(session_factory, kind="status", target_type="group", target_ref=group,
               payload={"text": f"【已报到】状态 {i}"}) for i in range(3)]
    wecom_emulator.fail_next("webhook/send", 130101)

    stats = run(wecom_app)
    assert stats.sent == 0 and stats.paused == 3 and stats.dead == 0
    with session_factory() as s:
        pause = s.get(ChannelPause, f"wecom:robot:{group}")
        assert pause.paused_until == T0 + timedelta(seconds=60) and "130101" in pause.reason
    assert all(status(session_factory, i)[:2] == (OutboxStatus.PENDING, 0) for i in ids)  # no attempt counted

    assert run(wecom_app, T0 + timedelta(seconds=30)).sent == 0  # still inside the window
    assert len(wecom_emulator.calls("webhook/send")) == 1

    stats = run(wecom_app, T0 + timedelta(seconds=61))
    assert stats.sent == 3
    texts = [m["text"]["content"] for m in wecom_emulator.robot_messages("robot-a")]
    assert sorted(texts) == [f"【已报到】状态 {i}" for i in range(3)]  # none lost, none twice


def test_robot_stays_under_its_limit_through_the_shared_limiter(wecom_app, session_factory, people,
                                                                wecom_emulator):
    group = str(people["group"].id)
    for i in range(ROBOT_RULE[0] + 3):
        put(session_factory, kind="status", target_type="group", target_ref=group, payload={"text": f"行 {i}"})
    stats = run(wecom_app)
    assert (stats.sent, stats.throttled) == (ROBOT_RULE[0], 3)
    assert run(wecom_app, T0 + timedelta(seconds=refilled(ROBOT_RULE))).sent == 3
    assert len(wecom_emulator.robot_messages("robot-a")) == ROBOT_RULE[0] + 3


def test_api_frequency_limit_pauses_the_app(wecom_app, session_factory, people, wecom_emulator):
    mid = put(session_factory, kind="reply", target_type="person", target_ref=str(people["bound"].id),
              payload={"text": "你好"})
    wecom_emulator.fail_next("message/send", 45009)
    assert run(wecom_app).paused == 1
    with session_factory() as s:
        assert s.get(ChannelPause, "wecom:app") is not None
    assert run(wecom_app, T0 + timedelta(seconds=61)).sent == 1
    assert status(session_factory, mid)[0] == OutboxStatus.SENT


def test_invalid_user_is_a_dead_letter_at_once(wecom_app, session_factory, people, wecom_emulator):
    ghost = put(session_factory, kind="reply", target_type="person", target_ref=str(people["ghost"].id),
                payload={"text": "你好"})
    assert run(wecom_app).dead == 1  # bound here, unknown to WeCom: 81013
    wecom_emulator.fail_next("message/send", 60111)
    stale = put(session_factory, kind="reply", target_type="person", target_ref=str(people["bound"].id),
                payload={"text": "你好"})
    assert run(wecom_app).dead == 1
    for mid, code in ((ghost, "81013"), (stale, "60111")):
        state, attempts, error = status(session_factory, mid)
        assert (state, attempts) == (OutboxStatus.DEAD, 1) and code in error


def test_transient_errors_keep_the_errmsg_and_retry(wecom_app, session_factory, people, wecom_emulator):
    mid = put(session_factory, kind="reply", target_type="person", target_ref=str(people["bound"].id),
              payload={"text": "你好"})
    wecom_emulator.fail_next("message/send", 50001, "system busy")
    assert run(wecom_app).retrying == 1
    state, attempts, error = status(session_factory, mid)
    assert (state, attempts) == (OutboxStatus.PENDING, 1) and "50001" in error and "system busy" in error
    assert run(wecom_app, T0 + timedelta(minutes=5)).sent == 1


def test_people_without_wecom_are_skipped_not_failed(wecom_app, session_factory, people, wecom_emulator):
    mid = put(session_factory, kind="notice", target_type="person", target_ref=str(people["unbound"].id),
              payload={"title": "诉求已派单", "text": "x", "url": "/m/orders/BC-1"})
    assert run(wecom_app).sent == 1
    assert status(session_factory, mid)[0] == OutboxStatus.SENT
    assert wecom_emulator.calls("message/send") == []


def test_notice_is_a_textcard_to_the_order_and_a_survey_link_is_absolute(wecom_app, session_factory, people,
                                                                       wecom_emulator):
    target = str(people["bound"].id)
    put(session_factory, kind="notice", target_type="person", target_ref=target,
        payload={"title": "诉求已派单", "text": "已派至人社局", "url": "/m/orders/BC-20260302-0001"})
    put(session_factory, kind="survey", target_type="person", target_ref=target,
        payload={"title": "满意度回访", "text": "请邀请企业评价", "url": "/s/abc"})
    put(session_factory, kind="notice", target_type="person", target_ref=target, payload={"title": "提醒", "text": "无链接"})
    assert run(wecom_app).sent == 3
    [first, second, third] = wecom_emulator.messages
    assert first["textcard"] == {"title": "诉求已派单", "description": "已派至人社局",
                                 "url": "http://127.0.0.1:5000/m/orders/BC-20260302-0001", "btntxt": "详情"}
    assert second["textcard"]["url"] == "http://127.0.0.1:5000/s/abc"
    assert third == {"touser": ["helper01"], "msgtype": "text", "text": {"content": "【提醒】\n无链接"}}


def _card(task_id="BC-20260302-0001-0-5"):
    return {"title": "吹哨报到：BC-20260302-0001", "text": "企业：招聘", "fields": [["响应层级", "部门协调办理"]],
            "buttons": [{"key": "sign:BC-20260302-0001", "label": "报到", "style": "primary"},
                        {"key": "return:BC-20260302-0001", "label": "退回"}],
            "url": "/m/orders/BC-20260302-0001", "task_id": task_id, "order_number": "BC-20260302-0001"}


def test_one_card_counts_against_every_member(wecom_app, session_factory, people, wecom_emulator):
    ids = f"{people['bound'].id},{people['other'].id},{people['unbound'].id}"
    put(session_factory, kind="card", target_type="people", target_ref=ids, payload=_card())
    assert run(wecom_app).sent == 1
    [card] = wecom_emulator.cards.values()
    assert card.touser == ["helper01", "helper02"]
    assert card.body["template_card"]["horizontal_content_list"] == [{"keyname": "响应层级", "value": "部门协调办理"}]
    with session_factory() as s:
        keys = set(s.scalars(select(RateWindow.key)))
        codes = list(s.scalars(select(WeComCardCode)))
    assert keys == {f"wecom:{bucket}:{p.id}" for p in (people["bound"], people["other"], people["unbound"])
                    for bucket in ("member", "member-hour")}
    assert len(codes) == 1 and codes[0].userid == "" and not codes[0].used  # the send's own code


def test_a_card_waits_when_one_of_its_members_is_at_the_limit(wecom_app, session_factory, people, wecom_emulator):
    other = str(people["other"].id)
    for i in range(MEMBER_RULE[0]):
        put(session_factory, kind="reply", target_type="person", target_ref=other, payload={"text": f"第 {i} 条"})
    assert run(wecom_app).sent == MEMBER_RULE[0]
    card = put(session_factory, kind="card", target_type="people", target_ref=f"{people['bound'].id},{other}",
               payload=_card())
    assert run(wecom_app).throttled == 1
    assert status(session_factory, card)[:2] == (OutboxStatus.PENDING, 0)
    assert wecom_emulator.cards == {}
    assert run(wecom_app, T0 + timedelta(seconds=refilled(MEMBER_RULE))).sent == 1
    assert list(wecom_emulator.cards) == ["BC-20260302-0001-0-5"]


def test_a_member_past_the_hourly_cap_waits_for_the_next_window(wecom_app, session_factory, people,
                                                                 wecom_emulator):
    """WeCom drops app messages over 1000 an hour per member without an error: once the member's
    hourly bucket is full (here: filled by earlier sends in this window), a message waits in the
    outbox although the per-minute bucket has room, and goes out when the window turns."""
    bound = people["bound"].id
    cap, window = MEMBER_HOUR_RULE
    limiter = DatabaseRateLimiter(session_factory)
    for _ in range(cap):
        assert limiter.acquire(f"wecom:member-hour:{bound}", cap, window, T0) == 0
    message = put(session_factory, kind="reply", target_type="person", target_ref=str(bound), payload={"text": "第 143 条"})
    assert run(wecom_app).throttled == 1
    assert status(session_factory, message)[:2] == (OutboxStatus.PENDING, 0)
    assert wecom_emulator.calls("message/send") == []
    next_window = datetime.fromtimestamp((int(T0.timestamp()) // window + 1) * window, UTC)
    assert run(wecom_app, next_window).sent == 1


def test_card_update_greys_with_the_newest_code_and_uses_it_once(wecom_app, session_factory, people,
                                                                 wecom_emulator):
    ids = f"{people['bound'].id},{people['other'].id}"
    put(session_factory, kind="card", target_type="people", target_ref=ids, payload=_card(), work_order_id=None)
    run(wecom_app)
    click = wecom_emulator.click("BC-20260302-0001-0-5")
    with session_scope(session_factory) as s:
        s.add(WeComCardCode(task_id="BC-20260302-0001-0-5", userid="helper01", response_code=click,
                            created_at=T0 + timedelta(seconds=5)))
    put(session_factory, kind="card_update", target_type="people", target_ref=ids,
        payload={"task_id": "BC-20260302-0001-0-5", "label": "已由孙帮办报到"})
    assert run(wecom_app, T0 + timedelta(seconds=10)).sent == 1
    [update] = wecom_emulator.calls("message/update_template_card")
    assert update.json == {"atall": 1, "agentid": wecom_emulator.agent_id, "response_code": click,
                           "button": {"replace_name": "已由孙帮办报到"}}
    assert wecom_emulator.cards["BC-20260302-0001-0-5"].replaced_with == "已由孙帮办报到"
    with session_factory() as s:
        used = {c.response_code: c.used for c in s.scalars(select(WeComCardCode))}
    assert used[click] is True and list(used.values()).count(False) == 1  # the send's code is still there

    # A second closing (a transfer later) uses the remaining code.
    put(session_factory, kind="card_update", target_type="people", target_ref=ids,
        payload={"task_id": "BC-20260302-0001-0-5", "label": "已转办至住建委"})
    assert run(wecom_app, T0 + timedelta(seconds=15)).sent == 1
    assert len(wecom_emulator.calls("message/update_template_card", ok=True)) == 2


def test_card_update_before_the_card_went_out_waits_for_it(wecom_app, session_factory, people, wecom_emulator):
    other = str(people["other"].id)
    for i in range(MEMBER_RULE[0]):
        put(session_factory, kind="reply", target_type="person", target_ref=other, payload={"text": f"第 {i} 条"})
    card = put(session_factory, kind="card", target_type="people", target_ref=f"{other},{people['bound'].id}",
               payload=_card())
    update = put(session_factory, kind="card_update", target_type="people", target_ref=other,
                 payload={"task_id": "BC-20260302-0001-0-5", "label": "已由李帮办报到"})
    stats = run(wecom_app)
    assert stats.throttled == 1 and stats.retrying == 1  # the card waits for the limit, the update for the card
    assert status(session_factory, update)[2] == "卡片尚未送达企业微信，稍后再更新"
    # Once the window turns the card goes out, and the update greys it with the send's own code.
    run(wecom_app, T0 + timedelta(minutes=2))
    assert status(session_factory, card)[0] == status(session_factory, update)[0] == OutboxStatus.SENT
    assert wecom_emulator.cards["BC-20260302-0001-0-5"].replaced_with == "已由李帮办报到"


def test_card_for_a_closed_task_is_not_sent(wecom_app, session_factory, people, wecom_emulator):
    update = put(session_factory, kind="card_update", target_type="people", target_ref=str(people["bound"].id),
                 payload={"task_id": "BC-20260302-0001-0-5", "label": "已由孙帮办报到"})
    assert run(wecom_app).sent == 1  # no card, no code: nothing to grey
    assert status(session_factory, update)[0] == OutboxStatus.SENT
    put(session_factory, kind="card", target_type="people", target_ref=str(people["bound"].id), payload=_card())
    assert run(wecom_app).sent == 1
    assert wecom_emulator.cards == {}


def test_group_without_a_robot_is_a_dead_letter(wecom_app, session_factory, people, wecom_emulator):
    with session_scope(session_factory) as s:
        s.get(ChatGroup, people["group"].id).robot_key = "robot-removed"
    mid = put(session_factory, kind="status", target_type="group", target_ref=str(people["group"].id),
              payload={"text": "x"})
    assert run(wecom_app).dead == 1
    assert "93000" in status(session_factory, mid)[2]


def test_the_platforms_message_id_is_kept_and_an_interrupted_send_is_flagged(wecom_app, session_factory, people,
                                                                              wecom_emulator):
    """A send the platform took is recorded with WeCom's msgid; a claim whose worker died mid-send is
    retried after its lease (at least once) and marked, so the log says a duplicate is possible."""
    from services.messaging.outbox import claim_due

    sent = put(session_factory, kind="reply", target_type="person", target_ref=str(people["bound"].id),
               payload={"text": "已收到"})
    assert run(wecom_app).sent == 1
    with session_factory() as s:
        row = s.get(OutboundMessage, sent)
        answer = json.dumps(wecom_emulator.calls("message/send")[-1].answer)
        assert row.platform_message_id.startswith("msg-") and row.platform_message_id in answer
        assert row.interrupted_sends == 0

    dying = put(session_factory, kind="reply", target_type="person", target_ref=str(people["bound"].id),
                payload={"text": "第二条"})
    with session_scope(session_factory) as s:  # a worker claims it, then is killed before it answers
        assert [m.id for m in claim_due(s, worker="dead-worker", now=T0, limit=10)] == [dying]
    lease = timedelta(seconds=wecom_app.extensions["settings"].outbox_claim_lease_seconds)
    assert run(wecom_app, at=T0 + lease / 2).claimed == 0  # still leased to the dead worker
    assert run(wecom_app, at=T0 + lease + timedelta(seconds=1)).sent == 1
    with session_factory() as s:
        row = s.get(OutboundMessage, dying)
        assert (row.status, row.interrupted_sends) == (OutboxStatus.SENT, 1)
