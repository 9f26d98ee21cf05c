"""DingTalk, played for real: a whistle through a signed custom robot, then ``@机器人`` commands
through signed enterprise-robot callbacks — stored by the callback, acted on by the
``process_inbound`` job — answered in the group with an @ of the sender."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlparse

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    AuditLog,
    ChatGroup,
    InboundMessage,
    InboundReceipt,
    InboxStatus,
    OutboundMessage,
    WorkOrder,
    WorkOrderEvent,
)
from services.orders.lifecycle import Action, State
from tests.emulators.dingtalk import (
    BASE_URL,
    ROBOT_SECRET,
    ROBOT_TOKEN,
    callback_headers,
    make_desk,
    robot_message,
    sign,
    whistled_order,
)
from tests.emulators.dingtalk_fixtures import APP_SECRET


@pytest.fixture
def clock(now):
    with time_machine.travel(now, tick=True):
        yield


def order_state(session_factory, order_id) -> str:
    with session_factory() as s:
        return s.get(WorkOrder, order_id).state


def events(session_factory, order_id, action) -> list[WorkOrderEvent]:
    with session_factory() as s:
        return list(s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order_id,
                                                           WorkOrderEvent.action == action)))


def count(session_factory, model) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def replies_to(emulator, userid) -> list[str]:
    return [r["text"]["content"] for r in emulator.session_replies if r["at"]["atUserIds"] == [userid]]


# --------------------------------------------------------------------------------------------
def test_whistle_is_signed_mentions_the_helper_and_links_the_h5_page(
        dingtalk_client, dingtalk_emulator, dingtalk_deliver, session, session_factory, factory, now, clock):
    desk = make_desk(session, factory, dingtalk_emulator)
    order = whistled_order(session, factory, desk, now)

    stats = dingtalk_deliver(now)
    assert stats.dead == 0 and stats.retrying == 0

    [call_text, call_card] = dingtalk_emulator.calls("robot/send")
    for call in (call_text, call_card):
        # The emulator accepted it, i.e. it recomputed the sign from the secret and matched; check it here too.
        assert call.answer == {"errcode": 0, "errmsg": "ok"}
        assert call.query["access_token"] == ROBOT_TOKEN
        assert call.query["sign"] == sign(ROBOT_SECRET, call.query["timestamp"])
    text, card = dingtalk_emulator.robot_messages(ROBOT_TOKEN)
    assert text["msgtype"] == "text"
    assert text["at"] == {"atUserIds": ["wangbb"], "isAtAll": False}
    assert "@wangbb" in text["text"]["content"] and "@王帮办" not in text["text"]["content"]
    assert order.number in text["text"]["content"]
    assert card["msgtype"] == "actionCard" and card["actionCard"]["singleTitle"] == "打开工单"
    link = urlparse(card["actionCard"]["singleURL"])
    assert link.scheme == "dingtalk"
    assert unquote(parse_qs(link.query)["url"][0]) == f"{BASE_URL}/m/orders/{order.number}"

    # The personal card: a work notification to the helper, one button to the same page.
    [notice] = [n for n in dingtalk_emulator.notices_for("wangbb") if n["msg"]["msgtype"] == "action_card"]
    action_card = notice["msg"]["action_card"]
    assert order.number in action_card["title"]
    assert f"报到 {order.number[-4:]}" in action_card["markdown"]
    assert unquote(parse_qs(urlparse(action_card["single_url"]).query)["url"][0]).endswith(f"/m/orders/{order.number}")
    with session_factory() as s:
        assert s.get(ChatGroup, desk.group_id).last_error == ""


def test_commands_from_the_right_and_the_wrong_person(
        dingtalk_post, dingtalk_process, dingtalk_emulator, dingtalk_deliver, session, session_factory, factory, now,
        clock):
    desk = make_desk(session, factory, dingtalk_emulator)
    order = whistled_order(session, factory, desk, now)
    other = whistled_order(session, factory, desk, now, content="企业申请的稳岗补贴迟迟未到账，请协助查询进度")
    dingtalk_deliver(now)
    short, other_short = order.number[-4:], other.number[-4:]

    def say(sender, text):
        response = dingtalk_post(robot_message(dingtalk_emulator, sender, text, title="人社局为企服务群"))
        assert response.status_code == 200 and response.get_json() == {}
        dingtalk_process()

    # Someone from another department cannot take the order.
    say("libb", f"报到 {short}")
    assert order_state(session_factory, order.id) == State.DISPATCHED
    # The chief helper can.
    say("wangbb", f"报到 {short}")
    assert order_state(session_factory, order.id) == State.PROCESSING
    [signed] = events(session_factory, order.id, Action.SIGN)
    assert signed.actor_id == desk.helper_id and signed.channel == "dingtalk"

    say("libb", f"办结 {short} 已解决")
    assert order_state(session_factory, order.id) == State.PROCESSING
    say("wangbb", f"办结 {short} 已协调举办专场招聘会，企业招到 30 人")
    assert order_state(session_factory, order.id) == State.RESOLVED
    [resolved] = events(session_factory, order.id, Action.RESOLVE)
    assert resolved.actor_id == desk.helper_id and "专场招聘会" in resolved.note + json.dumps(resolved.data, ensure_ascii=False)

    say("libb", f"退回 {other_short} 不归我们管")
    assert order_state(session_factory, other.id) == State.DISPATCHED
    say("wangbb", f"退回 {other_short} 该事项属于住建委职责")
    assert order_state(session_factory, other.id) == State.PENDING_DISPATCH
    assert len(events(session_factory, other.id, Action.RETURN)) == 1

    # Nothing has been sent yet: every answer waits in the outbox for the commit.
    assert dingtalk_emulator.session_replies == []
    stats = dingtalk_deliver(now + timedelta(minutes=1))
    assert stats.dead == 0

    mine = replies_to(dingtalk_emulator, "wangbb")
    assert len(mine) == 3
    assert all(r.startswith("@wangbb ") for r in mine)
    assert f"已报到工单 {order.number}" in mine[0]
    assert f"工单 {order.number} 已办结" in mine[1]
    assert f"已退回工单 {other.number}" in mine[2]
    theirs = replies_to(dingtalk_emulator, "libb")
    assert len(theirs) == 3 and all(r.startswith("@libb ") for r in theirs)
    assert not any("已报到" in r or "已办结" in r or "已退回工单" in r for r in theirs)
    assert all(r["conversation_id"] == "cid-dept-group" for r in dingtalk_emulator.session_replies)

    # The helper's card cannot be greyed on DingTalk: a short follow-up notice says who took it.
    assert any("已由王帮办报到" in n["msg"].get("text", {}).get("content", "")
               for n in dingtalk_emulator.notices_for("wangbb"))
    # A status line went to the group through the robot, and the service staff heard about it.
    assert any("【已报到】" in m["text"]["content"] for m in dingtalk_emulator.robot_messages(ROBOT_TOKEN)
               if m["msgtype"] == "text")
    assert dingtalk_emulator.notices_for("zhangfw")
    # Every work notification carries the order number and a time.
    for notice in dingtalk_emulator.work_notices:
        body = json.dumps(notice["msg"], ensure_ascii=False)
        assert "BC-" in body and "2026-03-02" in body


def test_same_msg_id_twice_acts_once(dingtalk_post, dingtalk_process, dingtalk_emulator, dingtalk_deliver, session,
                                     session_factory, factory, now, clock):
    desk = make_desk(session, factory, dingtalk_emulator)
    order = whistled_order(session, factory, desk, now)
    payload = robot_message(dingtalk_emulator, "wangbb", f"报到 {order.number[-4:]}", msg_id="msgRETRY0001")

    assert dingtalk_post(payload).status_code == 200
    assert dingtalk_post(payload).status_code == 200  # DingTalk's retry: still 200, nothing more
    assert count(session_factory, InboundMessage) == 1
    assert order_state(session_factory, order.id) == State.DISPATCHED  # answered before the work
    dingtalk_process()
    assert dingtalk_post(payload).status_code == 200  # a retry after processing
    dingtalk_process()

    assert len(events(session_factory, order.id, Action.SIGN)) == 1
    with session_factory() as s:
        receipts = s.scalars(select(InboundReceipt).where(InboundReceipt.platform == "dingtalk")).all()
        assert [r.dedupe_key for r in receipts] == ["msgRETRY0001"]
        replies = s.scalars(select(OutboundMessage).where(OutboundMessage.target_type == "session")).all()
        assert len(replies) == 1
        [stored] = s.scalars(select(InboundMessage)).all()
        assert (stored.dedupe_key, stored.status, stored.attempts) == ("msgRETRY0001", InboxStatus.DONE, 1)
    dingtalk_deliver(now + timedelta(minutes=1))
    assert len(replies_to(dingtalk_emulator, "wangbb")) == 1


@pytest.mark.parametrize("case", ["wrong_sign", "stale_timestamp", "no_headers", "not_json", "no_msg_id", "other_robot", "too_large"])
def test_rejected_callbacks_store_nothing(case, dingtalk_post, dingtalk_emulator, session, session_factory, factory,
                                          now, clock):
    desk = make_desk(session, factory, dingtalk_emulator)
    order = whistled_order(session, factory, desk, now)
    payload = robot_message(dingtalk_emulator, "wangbb", f"报到 {order.number[-4:]}")
    outbox_before = count(session_factory, OutboundMessage)
    audits_before = count(session_factory, AuditLog)
    kwargs, expected = {}, 403
    if case == "wrong_sign":
        headers = callback_headers(APP_SECRET)
        headers["sign"] = sign("not-the-app-secret", headers["timestamp"])
        kwargs["headers"] = headers
    elif case == "stale_timestamp":
        two_hours_ago = int((now - timedelta(hours=2)).timestamp() * 1000)
        kwargs["headers"] = callback_headers(APP_SECRET, two_hours_ago)
    elif case == "no_headers":
        kwargs["headers"] = {"Content-Type": "application/json"}
    elif case == "not_json":
        kwargs["data"], expected = b"{not json", 400
    elif case == "no_msg_id":
        kwargs["data"], expected = json.dumps({k: v for k, v in payload.items() if k != "msgId"}).encode(), 400
    elif case == "other_robot":
        kwargs["data"], expected = json.dumps(payload | {"robotCode": "someone-elses-robot"}).encode(), 400
    elif case == "too_large":
        kwargs["data"], expected = json.dumps(payload | {"padding": "x" * 70_000}).encode(), 413

    response = dingtalk_post(payload, **kwargs)

    assert response.status_code == expected
    body = response.get_json()
    assert body["ok"] is False and body["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]["message"])
    assert order_state(session_factory, order.id) == State.DISPATCHED
    assert count(session_factory, InboundMessage) == 0
    assert count(session_factory, InboundReceipt) == 0
    assert count(session_factory, OutboundMessage) == outbox_before
    with session_factory() as s:
        rows = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()[audits_before:]
    assert [r.action for r in rows] == ["dingtalk.callback_rejected"]
    assert rows[0].actor_id is None and rows[0].detail["reason"]


def test_an_unbound_sender_gets_a_polite_answer_and_nothing_happens(
        dingtalk_post, dingtalk_process, dingtalk_emulator, dingtalk_deliver, session, session_factory, factory, now,
        clock):
    desk = make_desk(session, factory, dingtalk_emulator)
    order = whistled_order(session, factory, desk, now)
    payload = robot_message(dingtalk_emulator, "nobody01", f"报到 {order.number[-4:]}", nick="路人甲")

    assert dingtalk_post(payload).status_code == 200
    assert dingtalk_post(payload).status_code == 200
    dingtalk_process()
    assert order_state(session_factory, order.id) == State.DISPATCHED
    dingtalk_deliver(now + timedelta(minutes=1))
    [answer] = replies_to(dingtalk_emulator, "nobody01")
    assert "尚未在「有需必应」登记" in answer


def test_first_use_in_a_group_maps_the_conversation(dingtalk_post, dingtalk_process, dingtalk_emulator, session,
                                                    session_factory, factory, now, clock):
    desk = make_desk(session, factory, dingtalk_emulator)
    session.commit()
    payload = robot_message(dingtalk_emulator, "wangbb", "帮助", conversation_id="cidRSJ001", title="人社局为企服务群")
    assert dingtalk_post(payload).status_code == 200
    dingtalk_process()
    with session_factory() as s:
        assert s.get(ChatGroup, desk.group_id).conversation_id == "cidRSJ001"
        [audit] = s.scalars(select(AuditLog).where(AuditLog.action == "chat_group.conversation_mapped")).all()
        assert audit.target_id == str(desk.group_id)

    # A private chat with the robot maps nothing; the answer still comes back @-ing the sender.
    payload = robot_message(dingtalk_emulator, "wangbb", "我的工单", conversation_id="cidPRIVATE", group=False)
    assert dingtalk_post(payload).status_code == 200
    dingtalk_process()
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(ChatGroup).where(ChatGroup.conversation_id == "cidPRIVATE")) == 0


def test_an_expired_session_falls_back_to_a_work_notice(dingtalk_post, dingtalk_process, dingtalk_emulator,
                                                        dingtalk_deliver, session, factory, now, clock):
    make_desk(session, factory, dingtalk_emulator)
    session.commit()
    payload = robot_message(dingtalk_emulator, "wangbb", "我的工单", session_ttl=10)
    assert dingtalk_post(payload).status_code == 200
    dingtalk_process()
    stats = dingtalk_deliver(now + timedelta(minutes=1))
    assert stats.sent >= 1 and stats.dead == 0
    assert dingtalk_emulator.session_replies == []
    [notice] = dingtalk_emulator.notices_for("wangbb")
    assert notice["msg"]["msgtype"] == "text" and "2026-03-02" in notice["msg"]["text"]["content"]


def test_endpoint_is_off_without_dingtalk_settings_or_in_stream_mode(client, dingtalk_app, session_factory):
    from dataclasses import replace

    from application import create_app

    response = client.post("/dingtalk/robot", data=b"{}", headers=callback_headers(APP_SECRET))
    assert response.status_code == 404
    settings = dingtalk_app.extensions["settings"]
    stream_app = create_app(settings=settings.with_overrides({"dingtalk": replace(settings.dingtalk, mode="stream")}))
    try:
        response = stream_app.test_client().post("/dingtalk/robot", data=b"{}", headers=callback_headers(APP_SECRET))
        assert response.status_code == 404
    finally:
        stream_app.extensions["db_engine"].dispose()
