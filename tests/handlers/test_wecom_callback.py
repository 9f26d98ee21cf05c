"""WeCom's callback, played the way WeCom plays it: encrypted with the corp's token and AES key,
retried, forged. The callback only stores the message; the ``process_inbound`` job acts on it,
and delivery then runs the real wechatpy client against the local emulator."""

import io
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from integrations.registry import adapters_for
from jobs.scheduler import run_job_now
from models import (
    AuditLog,
    ChatGroup,
    InboundMessage,
    InboundReceipt,
    InboxStatus,
    OutboundMessage,
    OutboxStatus,
    Person,
    Role,
    WeComCardCode,
    WorkOrder,
    WorkOrderEvent,
)
from services.grid.wecom_roster import REASSIGN_NOTE
from services.messaging.delivery import deliver_due
from services.orders.lifecycle import Action, State
from services.ratelimit import DatabaseRateLimiter
from tests.emulators.wecom import (
    card_event,
    change_contact_event,
    image_message,
    post_callback,
    text_message,
)

CONTENT = "企业急需招聘30名数控技术工人，请协助对接专场招聘会"


def utc_now():
    return datetime.now(UTC)


def deliver(app, at=None):
    factory = app.extensions["db_sessionmaker"]
    return deliver_due(factory, adapters_for(app.extensions["settings"]), DatabaseRateLimiter(factory),
                       worker_id="wecom-test", now_fn=lambda: at or utc_now(), batch_size=200, max_attempts=3)


def count(session_factory, model, *where):
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def rows(session_factory, model, *where, order=None):
    with session_factory() as s:
        return list(s.scalars(select(model).where(*where).order_by(order if order is not None else model.id)))


@pytest.fixture
def desk(session, factory, wecom_emulator):
    """A zone staff member, a dispatcher, the 人社局 with two bound chief helpers (and one not on
    WeCom) and its WeCom group robot; the same members in the emulator's address book."""
    staff = factory.person(Role.SERVICE_STAFF, name="赵服务", wecom_userid="staff01")
    enterprise = factory.enterprise(staff=staff, name="天津北辰精工机械有限公司")
    dispatcher = factory.person(Role.DISPATCHER, name="钱调度", wecom_userid="disp01")
    rsj = factory.department("rsj")
    helper1 = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办", wecom_userid="helper01")
    helper2 = factory.person(Role.CHIEF_HELPER, department=rsj, name="李帮办", wecom_userid="helper02")
    helper3 = factory.person(Role.CHIEF_HELPER, department=rsj, name="周帮办")  # not on WeCom
    group = ChatGroup(platform="wecom", department_id=rsj.id, robot_key="robot-rsj-key", name="人社局为企服务群")
    session.add(group)
    session.commit()
    for person in (staff, dispatcher, helper1, helper2):
        wecom_emulator.add_user(person.wecom_userid, person.name, person.phone, [2])
    wecom_emulator.add_robot(group.robot_key)
    return {"staff": staff, "enterprise": enterprise, "dispatcher": dispatcher, "rsj": rsj, "helper1": helper1,
            "helper2": helper2, "helper3": helper3, "group": group}


def process(app):
    """What the jobs process does every second: act on the stored messages."""
    return run_job_now(app, "process_inbound")


def post_four_times(client, emulator, xml, *, then_process=True):
    """The original and WeCom's three retries: each gets an empty 200; then the jobs process acts."""
    query, body = emulator.encrypt_callback(xml)
    for _ in range(4):
        response = client.post("/wecom/callback", query_string=query, data=body, content_type="text/xml")
        assert response.status_code == 200 and response.data == b""
    if then_process:
        process(client.application)


def app_texts(emulator, userid):
    return [r.json["text"]["content"] for r in emulator.calls("message/send", ok=True)
            if r.json.get("msgtype") == "text" and r.json["touser"] == userid]


def test_wecom_end_to_end_submit_whistle_sign(wecom_app, wecom_emulator, desk, session_factory):
    client = wecom_app.test_client()
    em = wecom_emulator

    # 1. The service staff member submits by text; WeCom delivers the message four times.
    post_four_times(client, em, text_message("staff01", f"诉求 {desk['enterprise'].name} {CONTENT}", 7001))
    [order] = rows(session_factory, WorkOrder)
    assert (order.channel, order.submitter_id, order.level, order.state) == ("wecom", desk["staff"].id, 1,
                                                                            State.PROCESSING)
    stats = deliver(wecom_app)
    assert stats.dead == 0 and stats.retrying == 0
    [reply] = app_texts(em, "staff01")
    assert order.number in reply and "已为天津北辰精工机械有限公司提交诉求" in reply
    assert len(em.calls("gettoken")) == 1  # one token, shared by every delivery

    # 2. Escalated by the staff member, then sent to 人社局 by the dispatcher (also four times).
    post_four_times(client, em, text_message("staff01", f"升级 {order.number} 涉及专场招聘会组织，需要人社局支持", 7002))
    post_four_times(client, em, text_message("disp01", f"转办 {order.number} 人社局 请对接企业招聘需求", 7003))
    with session_factory() as s:
        order = s.get(WorkOrder, order.id)
        assert order.state == State.DISPATCHED and order.assigned_department_id == desk["rsj"].id
        assert s.scalar(select(func.count()).select_from(WorkOrderEvent).where(
            WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.action == Action.TRANSFER)) == 1
    deliver(wecom_app)

    # The whistle: one robot text into the department group @-mentioning both bound helpers.
    robot = em.robot_messages("robot-rsj-key")
    whistles = [m for m in robot if "【吹哨报到】" in m["text"]["content"]]
    assert len(whistles) == 1
    assert whistles[0]["text"]["mentioned_list"] == ["helper01", "helper02"]
    assert order.number in whistles[0]["text"]["content"]
    # The card: one button_interaction card to both helpers (the unbound one is skipped).
    card_calls = [r for r in em.calls("message/send", ok=True) if r.json["msgtype"] == "template_card"]
    assert len(card_calls) == 1 and card_calls[0].json["touser"] == "helper01|helper02"
    card = card_calls[0].json["template_card"]
    assert card["card_type"] == "button_interaction"
    assert [(b["text"], b.get("key")) for b in card["button_list"][:3]] == [
        ("报到", f"sign:{order.number}"), ("退回", f"return:{order.number}"), ("转办", f"transfer:{order.number}")]
    detail = card["button_list"][3]
    assert detail["text"] == "查看详情" and detail["type"] == 1
    assert detail["url"] == f"http://127.0.0.1:5000/m/orders/{order.number}"
    task_id = card["task_id"]
    assert task_id == f"{order.number}-{order.deadline_version}-{desk['rsj'].id}"
    assert em.cards[task_id].replaced_with is None

    # 3. 孙帮办 taps 报到 on the card; WeCom posts the event four times.
    code = em.click(task_id)
    post_four_times(client, em, card_event("helper01", f"sign:{order.number}", task_id, code))
    with session_factory() as s:
        order = s.get(WorkOrder, order.id)
        assert order.state == State.PROCESSING and order.assigned_person_id == desk["helper1"].id
        assert s.scalar(select(func.count()).select_from(WorkOrderEvent).where(
            WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.action == Action.SIGN)) == 1
        assert s.scalar(select(func.count()).select_from(WeComCardCode).where(
            WeComCardCode.response_code == code)) == 1
    deliver(wecom_app)

    # The cards are greyed for everyone with the click's response code, once.
    [update] = em.calls("message/update_template_card", ok=True)
    assert update.json["response_code"] == code and update.json["atall"] == 1
    assert em.cards[task_id].replaced_with == "已由孙帮办报到"
    # The status line in the group, and the answer to the helper.
    assert any("【已报到】" in m["text"]["content"] and order.number in m["text"]["content"]
               for m in em.robot_messages("robot-rsj-key"))
    assert any(order.number in text for text in app_texts(em, "helper01"))
    # The staff member got the progress as text cards linking to the order.
    textcards = [r.json["textcard"] for r in em.calls("message/send", ok=True)
                 if r.json["msgtype"] == "textcard" and r.json["touser"] == "staff01"]
    assert textcards and all(c["url"] == f"http://127.0.0.1:5000/m/orders/{order.number}" for c in textcards)

    with session_factory() as s:
        statuses = set(s.scalars(select(OutboundMessage.status).where(OutboundMessage.channel == "wecom")))
    assert statuses == {OutboxStatus.SENT}


def test_one_message_four_deliveries_one_order_one_whistle(wecom_app, wecom_emulator, desk, session_factory):
    client = wecom_app.test_client()
    post_four_times(client, wecom_emulator, text_message("staff01", f"诉求 {desk['enterprise'].name} {CONTENT}", 8001),
                    then_process=False)
    # Answered before any work: one stored message, nothing done yet.
    [stored] = rows(session_factory, InboundMessage)
    assert (stored.platform, stored.status, stored.dedupe_key) == ("wecom", InboxStatus.PENDING, "msg:8001")
    assert count(session_factory, WorkOrder) == 0
    process(wecom_app)
    process(wecom_app)  # a second pass finds nothing to do
    assert count(session_factory, WorkOrder) == 1
    [stored] = rows(session_factory, InboundMessage)
    assert stored.status == InboxStatus.DONE and stored.attempts == 1 and stored.outcome.startswith("command 诉求")
    assert count(session_factory, InboundReceipt, InboundReceipt.platform == "wecom") == 1
    [order] = rows(session_factory, WorkOrder)
    post_four_times(client, wecom_emulator, text_message("staff01", f"升级 {order.number} 需要部门协调解决", 8002))
    post_four_times(client, wecom_emulator, text_message("disp01", f"转办 {order.number} 人社局 请对接", 8003))
    deliver(wecom_app)
    whistles = [m for m in wecom_emulator.robot_messages("robot-rsj-key") if "【吹哨报到】" in m["text"]["content"]]
    cards = [r for r in wecom_emulator.calls("message/send") if r.json["msgtype"] == "template_card"]
    assert len(whistles) == 1 and len(cards) == 1
    # Each command was answered once.
    assert len(app_texts(wecom_emulator, "staff01")) == 2 and len(app_texts(wecom_emulator, "disp01")) == 1


def test_button_needing_a_reason_asks_for_it(wecom_app, wecom_emulator, desk, session_factory, factory, session):
    order = _dispatched_order(wecom_app, wecom_emulator, desk, session_factory)
    task_id = next(iter(wecom_emulator.cards))
    post_four_times(wecom_app.test_client(), wecom_emulator,
                    card_event("helper02", f"return:{order.number}", task_id, wecom_emulator.click(task_id)))
    with session_factory() as s:
        assert s.get(WorkOrder, order.id).state == State.DISPATCHED
    deliver(wecom_app)
    [answer] = app_texts(wecom_emulator, "helper02")
    assert f"退回 {order.number[-4:]} 理由" in answer
    assert wecom_emulator.calls("message/update_template_card") == []


def _dispatched_order(app, emulator, desk, session_factory):
    client = app.test_client()
    post_four_times(client, emulator, text_message("staff01", f"诉求 {desk['enterprise'].name} {CONTENT}", 9001))
    [order] = rows(session_factory, WorkOrder)
    post_four_times(client, emulator, text_message("staff01", f"升级 {order.number} 需要部门协调解决", 9002))
    post_four_times(client, emulator, text_message("disp01", f"转办 {order.number} 人社局 请对接", 9003))
    deliver(app)
    emulator.requests.clear()
    with session_factory() as s:
        return s.get(WorkOrder, order.id)


# --- URL verification -----------------------------------------------------------------------------


def test_url_verification_answers_the_bare_plaintext(wecom_app, wecom_emulator, session_factory):
    client = wecom_app.test_client()
    response = client.get("/wecom/callback", query_string=wecom_emulator.verification_query("5927782489442352469"))
    assert response.status_code == 200 and response.data == b"5927782489442352469"
    forged = wecom_emulator.verification_query("x") | {"msg_signature": "0" * 40}
    assert client.get("/wecom/callback", query_string=forged).status_code == 403
    stale = wecom_emulator.verification_query("x", timestamp=int(time.time()) - 3600)
    assert client.get("/wecom/callback", query_string=stale).status_code == 403


def test_callback_is_off_without_wecom(client, session_factory):
    assert client.post("/wecom/callback", data=b"<xml/>").status_code == 404


# --- Rejections ---------------------------------------------------------------------------------------

BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                   for i in range(1, 10))
        + b']><xml><ToUserName>x</ToUserName><Encrypt>&lol9;</Encrypt></xml>')


def _forged_signature(em, xml):
    query, body = em.encrypt_callback(xml)
    return query | {"msg_signature": "f" * 40}, body


def _wrong_corp(em, xml):
    return em.encrypt_callback(xml, corp_id="wwsomeothercorp01")


def _stale(em, xml):
    return em.encrypt_callback(xml, timestamp=int(time.time()) - 600)


def _future(em, xml):
    return em.encrypt_callback(xml, timestamp=int(time.time()) + 600)


def _not_xml(em, xml):
    query, _ = em.encrypt_callback(xml)
    return query, b"this is not xml at all {\"json\": true}"


def _entity_bomb(em, xml):
    query, _ = em.encrypt_callback(xml)
    return query, BOMB


def _inner_entity_bomb(em, xml):
    return em.encrypt_callback(BOMB.decode())


def _garbage_ciphertext(em, xml):
    from wechatpy.crypto import _get_signature

    query, _ = em.encrypt_callback(xml)
    encrypt = "bm90IHJlYWxseSBlbmNyeXB0ZWQ="
    query["msg_signature"] = _get_signature(em.token, query["timestamp"], query["nonce"], encrypt)
    return query, f"<xml><ToUserName><![CDATA[{em.corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>".encode()


def _one_megabyte(em, xml):
    query, _ = em.encrypt_callback(xml)
    return query, b"<xml><Encrypt>" + b"A" * (1024 * 1024) + b"</Encrypt></xml>"


def _missing_args(em, xml):
    _, body = em.encrypt_callback(xml)
    return {}, body


@pytest.mark.parametrize("forge, status, reason", [
    (_forged_signature, 403, "bad_signature"),
    (_wrong_corp, 403, "wrong_corp"),
    (_stale, 403, "stale_timestamp"),
    (_future, 403, "stale_timestamp"),
    (_not_xml, 400, "bad_xml"),
    (_entity_bomb, 400, "xml_dtd"),
    (_inner_entity_bomb, 400, "xml_dtd"),
    (_garbage_ciphertext, 400, "bad_ciphertext"),
    (_one_megabyte, 413, "too_large"),
    (_missing_args, 400, "missing_args"),
])
def test_bad_requests_get_4xx_store_nothing_and_are_logged(
    wecom_app, wecom_emulator, desk, session_factory, caplog, forge, status, reason
):
    xml = text_message("staff01", f"诉求 {desk['enterprise'].name} {CONTENT}", 6001)
    query, body = forge(wecom_emulator, xml)
    with caplog.at_level(logging.WARNING, logger="handlers.wecom"):
        response = wecom_app.test_client().post("/wecom/callback", query_string=query, data=body,
                                                content_type="text/xml")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == reason
    assert count(session_factory, WorkOrder) == 0
    assert count(session_factory, InboundMessage) == 0
    assert count(session_factory, InboundReceipt) == 0
    assert count(session_factory, OutboundMessage) == 0
    [line] = [r for r in caplog.records if "wecom callback rejected" in r.getMessage()]
    assert reason in line.getMessage()
    [audit_row] = rows(session_factory, AuditLog, AuditLog.action == "wecom.callback_rejected")
    assert audit_row.target_id == reason and audit_row.detail["status"] == status


def test_chunked_body_over_the_cap_is_refused_without_content_length(wecom_app, wecom_emulator, desk,
                                                                       session_factory):
    query, _ = wecom_emulator.encrypt_callback(text_message("staff01", "帮助", 6002))

    body = b"<xml><Encrypt>" + b"A" * (100 * 1024) + b"</Encrypt></xml>"
    response = wecom_app.test_client().post(
        "/wecom/callback", query_string=query, input_stream=io.BytesIO(body), content_type="text/xml",
        headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert response.request.content_length is None
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "too_large"
    assert count(session_factory, InboundMessage) == 0


# --- People the desk does not know, other message types, the address book --------------------------


def test_unknown_member_gets_nothing_but_an_audit_row(wecom_app, wecom_emulator, desk, session_factory, caplog):
    with caplog.at_level(logging.WARNING):
        post_four_times(wecom_app.test_client(), wecom_emulator, text_message("stranger9", "帮助", 5001))
    assert count(session_factory, OutboundMessage) == 0
    [row] = rows(session_factory, AuditLog, AuditLog.action == "wecom.unknown_user")
    assert row.target_id == "stranger9"
    assert any("stranger9" in r.getMessage() for r in caplog.records)


def test_a_picture_is_answered_with_what_the_app_understands(wecom_app, wecom_emulator, desk, session_factory):
    post_four_times(wecom_app.test_client(), wecom_emulator, image_message("staff01", 5002))
    deliver(wecom_app)
    [answer] = app_texts(wecom_emulator, "staff01")
    assert "只能识别文字指令" in answer


def _processing_order_of(helper_key, app, emulator, desk, session_factory):
    order = _dispatched_order(app, emulator, desk, session_factory)
    task_id = next(iter(emulator.cards))
    userid = desk[helper_key].wecom_userid
    post_four_times(app.test_client(), emulator,
                    card_event(userid, f"sign:{order.number}", task_id, emulator.click(task_id)))
    deliver(app)
    emulator.requests.clear()
    return order


@pytest.mark.parametrize("event", [
    change_contact_event("delete_user", "helper01"),
    change_contact_event("update_user", "helper01", status=5),
])
def test_member_leaving_clears_the_binding_and_flags_the_orders(
    wecom_app, wecom_emulator, desk, session_factory, event
):
    order = _processing_order_of("helper1", wecom_app, wecom_emulator, desk, session_factory)
    post_four_times(wecom_app.test_client(), wecom_emulator, event)
    with session_factory() as s:
        helper = s.get(Person, desk["helper1"].id)
        assert helper.wecom_userid is None and helper.active  # the person and history stay
        notes = list(s.scalars(select(WorkOrderEvent).where(
            WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.note == REASSIGN_NOTE)))
        assert len(notes) == 1 and notes[0].action == Action.COMMENT
        assert notes[0].data["needs_reassignment"] is True
        assert s.get(WorkOrder, order.id).assigned_person_id == helper.id  # the dispatcher decides
    [audit_row] = rows(session_factory, AuditLog, AuditLog.action == "wecom.binding_deactivated")
    assert audit_row.detail["userid"] == "helper01"
    deliver(wecom_app)
    notices = [r.json["textcard"] for r in wecom_emulator.calls("message/send", ok=True)
               if r.json["msgtype"] == "textcard" and r.json["touser"] == "disp01"]
    assert len(notices) == 1 and "重新指派" in notices[0]["description"]


def test_member_renamed_follows_the_new_userid(wecom_app, wecom_emulator, desk, session_factory):
    post_four_times(wecom_app.test_client(), wecom_emulator,
                    change_contact_event("update_user", "helper02", new_userid="lihelper"))
    with session_factory() as s:
        assert s.get(Person, desk["helper2"].id).wecom_userid == "lihelper"


def test_replayed_event_after_the_window_is_refused(wecom_app, wecom_emulator, desk, session_factory):
    """A captured request replayed later fails the replay window even with its valid signature."""
    query, body = wecom_emulator.encrypt_callback(text_message("staff01", "帮助", 4001),
                                                  timestamp=int((utc_now() - timedelta(minutes=6)).timestamp()))
    assert wecom_app.test_client().post("/wecom/callback", query_string=query, data=body).status_code == 403
    assert count(session_factory, InboundMessage) == 0


def test_post_callback_helper_plays_wecom(wecom_app, wecom_emulator, desk, session_factory):
    assert post_callback(wecom_app.test_client(), wecom_emulator, text_message("staff01", "帮助", 4002)).status_code == 200
    assert count(session_factory, OutboundMessage) == 0  # answered before the work
    process(wecom_app)
    assert count(session_factory, OutboundMessage, OutboundMessage.channel == "wecom") == 1


def test_events_the_desk_does_not_act_on_are_not_stored(wecom_app, wecom_emulator, desk, session_factory):
    enter_agent = (f"<xml><ToUserName><![CDATA[{wecom_emulator.corp_id}]]></ToUserName>"
                   f"<FromUserName><![CDATA[staff01]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
                   "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event>"
                   "<EventKey><![CDATA[]]></EventKey><AgentID>1000002</AgentID></xml>")
    response = post_callback(wecom_app.test_client(), wecom_emulator, enter_agent)
    assert response.status_code == 200 and response.data == b""
    assert count(session_factory, InboundMessage) == 0


def test_in_development_the_jobs_thread_is_woken_after_the_commit(wecom_app, wecom_emulator, desk, session_factory):
    """With the scheduler in the web process (development), a stored message is processed and its
    answer delivered at once — here the periodic runs are pushed an hour away, so only the wakes
    (callback → process_inbound → deliver_outbox) can do it."""
    from jobs.scheduler import start_in_background
    from jobs.wakes import wake_inbound

    assert wake_inbound(wecom_app) is False  # no scheduler in this process: the jobs process polls
    scheduler = start_in_background(wecom_app)
    try:
        for name in ("process_inbound", "deliver_outbox"):
            scheduler.reschedule_job(name, trigger="interval", seconds=3600)
        assert post_callback(wecom_app.test_client(), wecom_emulator,
                             text_message("staff01", "帮助", 3001)).status_code == 200
        deadline = time.monotonic() + 10
        while not app_texts(wecom_emulator, "staff01") and time.monotonic() < deadline:
            time.sleep(0.05)
        [answer] = app_texts(wecom_emulator, "staff01")
        assert "可用命令" in answer
        [stored] = rows(session_factory, InboundMessage)
        assert stored.status == InboxStatus.DONE
    finally:
        scheduler.shutdown(wait=True)
        wecom_app.extensions.pop("scheduler", None)
