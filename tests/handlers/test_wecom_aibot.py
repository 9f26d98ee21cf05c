"""The WeCom intelligent robot (智能机器人) in a department group, played the way WeCom plays it:
JSON encrypted with the robot's own token and AES key (empty receive id), retried, forged, stale,
oversized. The callback only stores the message; the ``process_inbound`` job runs the command and
the answer goes, through the outbox and the real client, to the emulator's ``response_url``."""

import json
import time

import pytest
from sqlalchemy import select

from models import (
    AuditLog,
    ChatGroup,
    InboundMessage,
    InboundReceipt,
    OutboundMessage,
    OutboxStatus,
    WorkOrder,
    WorkOrderEvent,
)
from services.orders.lifecycle import Action, State
from tests.emulators.fixtures import wecom_settings_for
from tests.emulators.wecom import post_aibot, post_callback, text_message
from tests.handlers import test_wecom_callback as app_callback
from tests.handlers.test_wecom_callback import CONTENT, count, deliver, process, rows

desk = app_callback.desk  # the same department, helpers and group robot as the app's callback tests


@pytest.fixture
def aibot_app(app, wecom_emulator):
    """WeCom with the intelligent robot switched on (its own token and key) against the emulator."""
    from dataclasses import replace

    from application import create_app

    wecom = replace(wecom_settings_for(wecom_emulator), aibot_token=wecom_emulator.aibot_token,
                    aibot_aes_key=wecom_emulator.aibot_aes_key)
    flask_app = create_app(settings=app.extensions["settings"].with_overrides({"wecom": wecom}))
    yield flask_app
    flask_app.extensions["db_engine"].dispose()


def _dispatched_order(client, em, desk, session_factory, first_msg_id):
    """An order submitted, escalated and sent to 人社局 by the app's 1:1 chat: the whistle is out."""
    post_callback(client, em, text_message("staff01", f"诉求 {desk['enterprise'].name} {CONTENT}", first_msg_id))
    process(client.application)
    [order] = rows(session_factory, WorkOrder)
    post_callback(client, em, text_message("staff01", f"升级 {order.number} 需要人社局协调", first_msg_id + 1))
    post_callback(client, em, text_message("disp01", f"转办 {order.number} 人社局 请对接", first_msg_id + 2))
    process(client.application)
    deliver(client.application)
    return order


def test_url_verification_answers_the_plain_echo(aibot_app, wecom_emulator, session_factory):
    client = aibot_app.test_client()
    response = client.get("/wecom/aibot", query_string=wecom_emulator.aibot_verification_query("hello-aibot"))
    assert response.status_code == 200 and response.data == b"hello-aibot"
    # The app's keys do not open the robot's URL check, and the robot's keys are not the app's.
    response = client.get("/wecom/aibot", query_string=wecom_emulator.verification_query("x"))
    assert response.status_code == 403
    stale = wecom_emulator.aibot_verification_query("x", timestamp=int(time.time()) - 3600)
    assert client.get("/wecom/aibot", query_string=stale).status_code == 403


def test_not_configured_is_404(wecom_app, wecom_emulator):
    response = post_aibot(wecom_app.test_client(), wecom_emulator, wecom_emulator.aibot_text("helper01", "帮助"))
    assert response.status_code == 404


def test_whistle_then_sign_in_the_group_answered_on_response_url_and_card_greyed(
        aibot_app, wecom_emulator, desk, session_factory):
    client = aibot_app.test_client()
    em = wecom_emulator
    order = _dispatched_order(client, em, desk, session_factory, 9100)
    [card_call] = [r for r in em.calls("message/send", ok=True) if r.json["msgtype"] == "template_card"]
    task_id = card_call.json["template_card"]["task_id"]
    assert card_call.json["touser"] == "helper01|helper02"

    # 孙帮办 types "@机器人 报到 单号" in the department group; WeCom delivers it twice.
    message = em.aibot_text("helper01", f"@有需必应 报到 {order.number}", chatid="wrRSJgroup")
    for _ in range(2):
        response = post_aibot(client, em, message)
        assert response.status_code == 200 and response.data == b""
    assert count(session_factory, InboundMessage, InboundMessage.platform == "wecom_aibot") == 1
    process(aibot_app)
    with session_factory() as s:
        current = s.get(WorkOrder, order.id)
        assert current.state == State.PROCESSING and current.assigned_person_id == desk["helper1"].id
        [sign] = s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id,
                                                        WorkOrderEvent.action == Action.SIGN))
        assert sign.channel == "wecom" and sign.actor_id == desk["helper1"].id
        # The group's chat id is bound to 人社局's group, waiting for an administrator's confirmation.
        group = s.get(ChatGroup, desk["group"].id)
        assert (group.conversation_id, group.conversation_pending) == ("wrRSJgroup", True)
        assert s.scalar(select(AuditLog).where(AuditLog.action == "chat_group.conversation_mapped")) is not None
    deliver(aibot_app)

    # The answer on the message's response_url: markdown @-ing the sender, once.
    [answer] = em.aibot_answers
    assert answer["msgid"] == message["msgid"] and answer["msgtype"] == "markdown"
    assert answer["markdown"]["content"].startswith("<@helper01> ") and order.number in answer["markdown"]["content"]
    # Every helper's card greyed at once.
    [update] = em.calls("message/update_template_card", ok=True)
    assert update.json["atall"] == 1
    assert em.cards[task_id].replaced_with == "已由孙帮办报到"
    with session_factory() as s:
        assert set(s.scalars(select(OutboundMessage.status).where(OutboundMessage.channel == "wecom"))) == {
            OutboxStatus.SENT}

    # The same msgid again (a late retry) is stored and answered nowhere.
    assert post_aibot(client, em, message).status_code == 200
    process(aibot_app)
    deliver(aibot_app)
    assert len(em.aibot_answers) == 1
    assert count(session_factory, InboundReceipt, InboundReceipt.dedupe_key == f"aibot:{message['msgid']}") == 1


def test_unknown_sender_is_told_in_the_group_and_nothing_happens(aibot_app, wecom_emulator, desk, session_factory):
    client = aibot_app.test_client()
    message = wecom_emulator.aibot_text("stranger9", "我的工单")
    assert post_aibot(client, wecom_emulator, message).status_code == 200
    process(aibot_app)
    deliver(aibot_app)
    [answer] = wecom_emulator.aibot_answers
    assert "绑定" in answer["markdown"]["content"]
    assert count(session_factory, AuditLog, AuditLog.action == "wecom.unknown_user") == 1
    with session_factory() as s:
        assert s.get(ChatGroup, desk["group"].id).conversation_id is None


def test_used_response_url_falls_back_to_the_app(aibot_app, wecom_emulator, desk, session_factory):
    client = aibot_app.test_client()
    message = wecom_emulator.aibot_text("helper01", "@有需必应 我的工单")
    wecom_emulator.response_urls[message["response_url"].rsplit("=", 1)[1]]["used"] = True
    assert post_aibot(client, wecom_emulator, message).status_code == 200
    process(aibot_app)
    deliver(aibot_app)
    assert wecom_emulator.aibot_answers == []
    texts = [r.json["text"]["content"] for r in wecom_emulator.calls("message/send", ok=True)
             if r.json.get("msgtype") == "text" and r.json["touser"] == "helper01"]
    assert texts
    [row] = rows(session_factory, OutboundMessage, OutboundMessage.target_type == "session")
    assert row.status == OutboxStatus.SENT and "应用消息" in row.delivery_detail


def _refused(client, em, session_factory, response, status):
    assert response.status_code == status
    assert response.is_json and response.get_json()["ok"] is False
    assert count(session_factory, InboundMessage) == 0
    assert count(session_factory, InboundReceipt) == 0


def test_forged_stale_oversized_and_garbage_are_refused_and_nothing_is_stored(
        aibot_app, wecom_emulator, desk, session_factory):
    client = aibot_app.test_client()
    em = wecom_emulator
    message = em.aibot_text("helper01", "帮助")

    forged = em.encrypt_aibot(message, token="NotTheRobotToken")
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=forged[0], data=forged[1],
                                                      content_type="application/json"), 403)
    # Signed right, but the signature was made for another ciphertext.
    query, body = em.encrypt_aibot(message)
    other = em.encrypt_aibot(em.aibot_text("helper01", "我的工单"))[1]
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=query, data=other,
                                                      content_type="application/json"), 403)
    stale = em.encrypt_aibot(message, timestamp=int(time.time()) - 600)
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=stale[0], data=stale[1],
                                                      content_type="application/json"), 403)
    # Another receive id (the app's corp id) inside a ciphertext signed with the robot's token.
    wrong = em.encrypt_aibot(message, receive_id=em.corp_id)
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=wrong[0], data=wrong[1],
                                                      content_type="application/json"), 403)
    big = {"encrypt": "A" * (70 * 1024)}
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=query, data=json.dumps(big),
                                                      content_type="application/json"), 413)
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=query, data=b"{not json",
                                                      content_type="application/json"), 400)
    _refused(client, em, session_factory, client.post("/wecom/aibot", data=body,
                                                      content_type="application/json"), 400)
    no_msgid = em.encrypt_aibot({k: v for k, v in message.items() if k != "msgid"})
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=no_msgid[0], data=no_msgid[1],
                                                      content_type="application/json"), 400)
    not_json_inside = em.encrypt_aibot("<xml>hello</xml>")
    _refused(client, em, session_factory, client.post("/wecom/aibot", query_string=not_json_inside[0],
                                                      data=not_json_inside[1], content_type="application/json"), 400)
    assert count(session_factory, AuditLog, AuditLog.action == "wecom.callback_rejected") >= 8


def test_group_binding_waits_for_an_administrator(aibot_app, wecom_emulator, desk, factory, session, session_factory):
    import re

    from models import Role
    from tests.factories import sign_in_cookie

    admin = factory.person(Role.SYSADMIN, name="系统管理员乙")
    session.commit()
    client = aibot_app.test_client()
    assert post_aibot(client, wecom_emulator, wecom_emulator.aibot_text("helper02", "@有需必应 我的工单",
                                                                        chatid="wrRSJ2")).status_code == 200
    process(aibot_app)
    sign_in_cookie(client, admin)
    inbound = client.get("/admin/inbound").get_data(as_text=True)
    assert "企业微信智能机器人" in inbound and "〔智能机器人〕helper02 在群 wrRSJ2：@有需必应 我的工单" in inbound
    listing = client.get("/admin/departments").get_data(as_text=True)
    assert "群会话待确认" in listing
    page = client.get(f"/admin/departments/{desk['rsj'].id}")
    html = page.get_data(as_text=True)
    assert "wrRSJ2" in html and "确认绑定" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    path = f"/admin/departments/{desk['rsj'].id}/chat/wecom/conversation"
    assert client.post(path, data={"csrf_token": token, "decision": "confirm"}).status_code == 302
    with session_factory() as s:
        group = s.get(ChatGroup, desk["group"].id)
        assert (group.conversation_id, group.conversation_pending) == ("wrRSJ2", False)
        assert s.scalar(select(AuditLog).where(AuditLog.action == "chat_group.conversation_confirmed")) is not None
    # Nothing pending any more: a second answer is refused without a change.
    client.post(path, data={"csrf_token": token, "decision": "release"})
    with session_factory() as s:
        assert s.get(ChatGroup, desk["group"].id).conversation_id == "wrRSJ2"
