"""Both platforms in one process: an order whistled on DingTalk and one on WeCom, side by side,
each answered from its own platform; a person bound to both hears notices on both, but the
answer to a command only where the command was typed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from integrations.registry import adapters_for
from jobs.scheduler import run_job_now
from models import (
    ChatGroup,
    InboundMessage,
    InboxStatus,
    OutboundMessage,
    OutboxStatus,
    Person,
    Role,
    WorkOrder,
)
from services.messaging.delivery import deliver_due
from services.messaging.notify import Channels
from services.orders.lifecycle import State
from services.ratelimit import DatabaseRateLimiter
from tests.emulators.dingtalk import callback_headers, make_desk, robot_message, whistled_order
from tests.emulators.dingtalk_fixtures import APP_SECRET, dingtalk_settings_for

pytest.importorskip("integrations.wecom", reason="the WeCom adapter (issue 3) is not in this tree yet")
wecom_emulators = pytest.importorskip("tests.emulators.wecom", reason="the WeCom emulator is not in this tree yet")
from tests.emulators.fixtures import wecom_settings_for  # noqa: E402

WECOM_ROBOT = "wecom-robot-zjw-0001"


@pytest.fixture
def both_app(app, dingtalk_emulator, wecom_emulator):
    from application import create_app

    settings = app.extensions["settings"].with_overrides({
        "dingtalk": dingtalk_settings_for(dingtalk_emulator),
        "wecom": wecom_settings_for(wecom_emulator),
    })
    flask_app = create_app(settings=settings)
    yield flask_app
    flask_app.extensions["db_engine"].dispose()


def test_an_order_on_each_platform_side_by_side(both_app, dingtalk_emulator, wecom_emulator, session,
                                                session_factory, factory, now):
    settings = both_app.extensions["settings"]
    adapters = adapters_for(settings)
    assert {"dingtalk", "wecom", "sandbox"} <= set(adapters)
    limiter = DatabaseRateLimiter(session_factory)

    def deliver(at):
        return deliver_due(session_factory, adapters, limiter, worker_id="both", now_fn=lambda: at, max_attempts=3)

    channels = Channels(sandbox=True, wecom=True, dingtalk=True)
    with time_machine.travel(now, tick=True):
        desk = make_desk(session, factory, dingtalk_emulator)  # 人社局 on DingTalk
        staff = session.get(Person, desk.staff_id)
        staff.wecom_userid = "zhangfw-wx"  # the service staff member uses both
        zjw = factory.department("zjw")
        zhou = factory.person(Role.CHIEF_HELPER, department=zjw, name="周帮办", wecom_userid="zhoubb")
        session.add(ChatGroup(platform="wecom", department_id=zjw.id, name="住建委群", robot_key=WECOM_ROBOT))
        wecom_emulator.add_robot(WECOM_ROBOT)
        wecom_emulator.add_user("zhoubb", "周帮办")
        wecom_emulator.add_user("zhangfw-wx", "张服务")
        session.flush()
        on_dingtalk = whistled_order(session, factory, desk, now, channels=channels)
        desk.dept_id = zjw.id
        on_wecom = whistled_order(session, factory, desk, now, content="厂房消防验收材料退回多次，请住建委指导",
                                  channels=channels)

        stats = deliver(now)
        assert stats.dead == 0 and stats.retrying == 0

        # DingTalk: the signed robot @ 王帮办 for its order only.
        ding_text = next(m for m in dingtalk_emulator.robot_messages("rsjrobottoken0001") if m["msgtype"] == "text")
        assert on_dingtalk.number in ding_text["text"]["content"] and ding_text["at"]["atUserIds"] == ["wangbb"]
        assert on_wecom.number not in json.dumps(dingtalk_emulator.robot_messages("rsjrobottoken0001"),
                                                 ensure_ascii=False)
        # WeCom: its group robot @ 周帮办 for the other order.
        wecom_text = json.dumps(wecom_emulator.robot_messages(WECOM_ROBOT), ensure_ascii=False)
        assert on_wecom.number in wecom_text and "zhoubb" in wecom_text and on_dingtalk.number not in wecom_text

        # Each helper answers from their own platform.
        client = both_app.test_client()
        ding = client.post("/dingtalk/robot", headers=callback_headers(APP_SECRET), data=json.dumps(
            robot_message(dingtalk_emulator, "wangbb", f"报到 {on_dingtalk.number[-4:]}")).encode())
        assert ding.status_code == 200
        wx = wecom_emulators.post_callback(client, wecom_emulator, wecom_emulators.text_message(
            "zhoubb", f"报到 {on_wecom.number[-4:]}", 7000001))
        assert wx.status_code == 200
        assert "已处理 2" in run_job_now(both_app, "process_inbound")  # one job, both platforms
        with session_factory() as s:
            assert {(m.platform, m.status) for m in s.scalars(select(InboundMessage))} == {
                ("dingtalk", InboxStatus.DONE), ("wecom", InboxStatus.DONE)}
            assert s.get(WorkOrder, on_dingtalk.id).state == State.PROCESSING
            assert s.get(WorkOrder, on_wecom.id).state == State.PROCESSING
            assert s.get(WorkOrder, on_dingtalk.id).assigned_person_id == desk.helper_id
            assert s.get(WorkOrder, on_wecom.id).assigned_person_id == zhou.id

        stats = deliver(now + timedelta(minutes=1))
        assert stats.dead == 0
        assert any(r["at"]["atUserIds"] == ["wangbb"] for r in dingtalk_emulator.session_replies)
        # The service staff member, bound to both, is told on both platforms.
        with session_factory() as s:
            sent = s.scalars(select(OutboundMessage).where(OutboundMessage.target_ref == str(desk.staff_id),
                                                           OutboundMessage.status == OutboxStatus.SENT)).all()
            assert {"wecom", "dingtalk"} <= {m.channel for m in sent}
        assert dingtalk_emulator.notices_for("zhangfw")


def _replies(session_factory, person_id) -> list[tuple[str, str, str]]:
    with session_factory() as s:
        return [(m.channel, m.target_type, m.payload["text"]) for m in s.scalars(
            select(OutboundMessage).where(OutboundMessage.kind == "reply").order_by(OutboundMessage.id))
            if m.target_ref == str(person_id) or m.payload.get("person_id") == person_id]


def test_a_command_is_answered_only_where_it_was_typed(both_app, dingtalk_emulator, wecom_emulator, session,
                                                       session_factory, factory, now):
    """张服务 is bound to both platforms (and the sandbox is on): a command typed on WeCom is answered
    on WeCom only, one @-ing the robot on DingTalk in the DingTalk group only."""
    settings = both_app.extensions["settings"]
    assert settings.sandbox_enabled
    adapters = adapters_for(settings)
    limiter = DatabaseRateLimiter(session_factory)
    with time_machine.travel(now, tick=True):
        desk = make_desk(session, factory, dingtalk_emulator)
        session.get(Person, desk.staff_id).wecom_userid = "zhangfw-wx"
        wecom_emulator.add_user("zhangfw-wx", "张服务")
        session.commit()
        client = both_app.test_client()

        wx = wecom_emulators.post_callback(client, wecom_emulator,
                                           wecom_emulators.text_message("zhangfw-wx", "我的工单", 7100001))
        assert wx.status_code == 200
        run_job_now(both_app, "process_inbound")
        assert [(c, t) for c, t, _ in _replies(session_factory, desk.staff_id)] == [("wecom", "person")]

        ding = client.post("/dingtalk/robot", headers=callback_headers(APP_SECRET), data=json.dumps(
            robot_message(dingtalk_emulator, "zhangfw", "帮助")).encode())
        assert ding.status_code == 200
        run_job_now(both_app, "process_inbound")
        replies = _replies(session_factory, desk.staff_id)
        assert [(c, t) for c, t, _ in replies] == [("wecom", "person"), ("dingtalk", "session")]
        assert "您目前没有在办工单" in replies[0][2] and "可用命令" in replies[1][2]

        later = now + timedelta(minutes=1)
        stats = deliver_due(session_factory, adapters, limiter, worker_id="both", now_fn=lambda: later, max_attempts=3)
        assert stats.sent == 2 and stats.dead == 0
        assert [r.json["text"]["content"] for r in wecom_emulator.calls("message/send", ok=True)
                if r.json["touser"] == "zhangfw-wx"] == [replies[0][2]]
        assert [r["text"]["content"] for r in dingtalk_emulator.session_replies] == [f"@zhangfw {replies[1][2]}"]
        assert dingtalk_emulator.notices_for("zhangfw") == []  # no work notice doubling the WeCom answer


HOSTILE = ("企业反映补贴发放问题，详见[点击领取补贴](http://evil.example/claim) ![](http://evil.example/x.png) "
           "**紧急** <div class=\"highlight\">加急</div> 或访问 www.evil.example")


def test_people_text_reaches_the_groups_as_text_never_as_links_or_markup(
        both_app, dingtalk_emulator, wecom_emulator, session, session_factory, factory, now):
    """Order text is written outside the government network: in a group chat it is text only.
    The one link in each message is the system's own (the order's H5 page)."""
    settings = both_app.extensions["settings"]
    adapters = adapters_for(settings)
    channels = Channels(sandbox=True, wecom=True, dingtalk=True)
    with time_machine.travel(now, tick=True):
        desk = make_desk(session, factory, dingtalk_emulator)
        zjw = factory.department("zjw")
        zhou = factory.person(Role.CHIEF_HELPER, department=zjw, name="周帮办", wecom_userid="zhoubb")
        session.add(ChatGroup(platform="wecom", department_id=zjw.id, name="住建委群", robot_key=WECOM_ROBOT))
        wecom_emulator.add_robot(WECOM_ROBOT)
        wecom_emulator.add_user("zhoubb", "周帮办")
        session.flush()
        on_dingtalk = whistled_order(session, factory, desk, now, content=HOSTILE, channels=channels)
        desk.dept_id = zjw.id
        on_wecom = whistled_order(session, factory, desk, now, content=HOSTILE, channels=channels)
        stats = deliver_due(session_factory, adapters, DatabaseRateLimiter(session_factory), worker_id="markup",
                            now_fn=lambda: now, max_attempts=3)
        assert stats.dead == 0 and stats.retrying == 0

    sent = json.dumps([dingtalk_emulator.robot_messages("rsjrobottoken0001"), dingtalk_emulator.work_notices,
                       wecom_emulator.robot_messages(WECOM_ROBOT), wecom_emulator.messages], ensure_ascii=False)
    assert on_dingtalk.number in sent and on_wecom.number in sent and zhou.name in sent
    assert "evil.example" not in sent and "www.evil" not in sent  # defanged: evil[.]example
    # Where the platform renders markup (DingTalk markdown, WeCom's textcard HTML), none comes from people.
    markdown = json.dumps([m for m in [*dingtalk_emulator.robot_messages("rsjrobottoken0001"),
                                        *(n["msg"] for n in dingtalk_emulator.work_notices)]
                           if m["msgtype"] in ("actionCard", "action_card")], ensure_ascii=False)
    assert on_dingtalk.number in markdown
    assert "](" not in markdown and "![" not in markdown and "**紧急**" not in markdown and "<div" not in markdown
    textcards = json.dumps([m for m in wecom_emulator.messages if m.get("msgtype") == "textcard"], ensure_ascii=False)
    assert "<div" not in textcards
    card = next(m for m in dingtalk_emulator.robot_messages("rsjrobottoken0001") if m["msgtype"] == "actionCard")
    assert card["actionCard"]["singleURL"].startswith("dingtalk://") and "evil" not in card["actionCard"]["singleURL"]
    assert "［点击领取补贴］（http［:］//evil［.］example/claim）" in card["actionCard"]["text"]
