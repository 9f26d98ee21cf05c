"""Texts to the enterprise: the real Tencent Cloud SMS SDK against a local emulator of its API, the
sandbox backend, opt-outs (回复TD退订), quiet hours and per-number caps, and the contact on each order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from config import load_settings
from database import session_scope
from integrations.sms import SandboxSmsAdapter, TencentSmsAdapter, normalise_mobile, quiet_until
from models import OutboundMessage, OutboxStatus, Role, SandboxMessage, SmsOptOut, WorkOrderEvent
from services.messaging import enterprise as enterprise_messages
from services.messaging.delivery import deliver_due
from services.orders import operations as wo
from services.ratelimit import DatabaseRateLimiter
from tests.emulators.tencent_sms import TencentSmsEmulator
from tests.factories import TEST_BASE_URL, Factory

PHONE = "13812345678"


@pytest.fixture
def sms_emulator():
    emulator = TencentSmsEmulator().start()
    yield emulator
    emulator.stop()


def sms_settings(emulator, **env):
    return load_settings({"SECRET_KEY": "k" * 40, **emulator.settings_env(), **env}, read_dotenv=False).sms


def deliver(session_factory, adapter, at, limiter=None):
    return deliver_due(session_factory, {"sms": adapter}, limiter or DatabaseRateLimiter(session_factory),
                       worker_id="w", now_fn=lambda: at, max_attempts=3)


def accepted_order(session_factory, now, phone=PHONE, **order_fields):
    with session_scope(session_factory) as session:
        factory = Factory(session)
        staff = factory.person(Role.SERVICE_STAFF, name="张服务")
        enterprise = factory.enterprise(staff=staff, contact_name="王经理", contact_phone=phone)
        order = factory.order(staff, now, enterprise=enterprise, level=1, **order_fields)
        return order.id, order.number


def sms_rows(session_factory):
    with session_factory() as session:
        return list(session.scalars(select(OutboundMessage).where(OutboundMessage.channel == "sms")
                                    .order_by(OutboundMessage.id)))


def test_mobile_numbers_and_quiet_hours():
    assert normalise_mobile("+86 138-1234-5678") == PHONE
    assert normalise_mobile("008613812345678") == PHONE
    assert normalise_mobile("022-26391234") == "" and normalise_mobile("１３８１２３４５６７８") == ""
    night = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 Beijing
    assert quiet_until("21:00-08:00", night) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert quiet_until("21:00-08:00", datetime(2026, 3, 2, 2, 0, tzinfo=UTC)) is None
    assert quiet_until("", night) is None


def test_contact_is_prefilled_from_the_registry_and_kept_when_given(session, factory, now):
    staff = factory.person(Role.SERVICE_STAFF)
    enterprise = factory.enterprise(staff=staff, contact_name="王经理", contact_phone=PHONE)
    order = factory.order(staff, now, enterprise=enterprise)
    assert (order.contact_name, order.contact_phone) == ("王经理", PHONE)
    given = factory.order(staff, now, enterprise=enterprise, contact_name="李会计", contact_phone="13900001111",
                          contact_external_userid="wmEXTERNAL01")
    assert (given.contact_name, given.contact_phone, given.contact_external_userid) == (
        "李会计", "13900001111", "wmEXTERNAL01")


def test_acceptance_result_and_survey_reach_the_enterprise_through_the_real_sdk(session_factory, sms_emulator, now):
    adapter = TencentSmsAdapter(sms_settings(sms_emulator))
    order_id, number = accepted_order(session_factory, now)
    [accepted] = sms_rows(session_factory)
    assert (accepted.kind, accepted.target_type, accepted.target_ref) == ("enterprise", "phone", PHONE)
    assert deliver(session_factory, adapter, now).sent == 1
    [sms] = sms_emulator.sent
    assert (sms.phone, sms.template_id) == (PHONE, "2001")
    assert sms.params == [number, f"{TEST_BASE_URL}/track?number={number}&code=5678"]
    assert sms.text.startswith("【北辰有需必应】您的诉求已受理，工单号 " + number)
    assert sms_rows(session_factory)[0].platform_message_id == sms.serial

    with session_scope(session_factory) as session:
        factory = Factory(session)
        order = wo.get_order(session, number)
        staff = order.submitter
        wo.resolve(factory.ctx(staff, now + timedelta(hours=1)), order, result="已协调道路养护单位完成修复")
        wo.feedback(factory.ctx(staff, now + timedelta(hours=2)), order, note="电话告知")
    assert deliver(session_factory, adapter, now + timedelta(hours=2)).sent == 1
    assert sms_emulator.sent[-1].template_id == "2002" and sms_emulator.sent[-1].params[0] == number

    from services.messaging.notify import Channels
    from services.orders.surveys import send_due_surveys

    with session_scope(session_factory) as session:
        send_due_surveys(session, now + timedelta(hours=27), Channels(sandbox=True), 24, 24, base_url=TEST_BASE_URL)
    assert deliver(session_factory, adapter, now + timedelta(hours=27)).sent >= 1
    survey = sms_emulator.sent[-1]
    assert survey.template_id == "2003"
    assert survey.params[1].startswith(f"{TEST_BASE_URL}/s/")  # absolute: the enterprise opens it on its phone


def test_td_reply_opts_out_and_nothing_more_is_sent(session_factory, sms_emulator, now, client):
    settings = sms_settings(sms_emulator, SMS_CALLBACK_TOKEN="reply-token-0123456789")
    adapter = TencentSmsAdapter(settings)
    order_id, number = accepted_order(session_factory, now)
    # The reply arrives before the acceptance went out: the adapter refuses, the log says why.
    with session_scope(session_factory) as session:
        assert enterprise_messages.record_reply(session, PHONE, "TD", now) is True
        assert enterprise_messages.record_reply(session, PHONE, "谢谢", now) is False
    stats = deliver(session_factory, adapter, now)
    assert stats.dead == 1 and sms_emulator.sent == []
    assert "退订" in sms_rows(session_factory)[0].last_error
    # A later message is not even queued; the order's timeline records it.
    with session_scope(session_factory) as session:
        order = wo.get_order(session, number)
        wo.resolve(Factory(session).ctx(order.submitter, now), order, result="已协调完成修复")
        wo.feedback(Factory(session).ctx(order.submitter, now), order)
    assert len(sms_rows(session_factory)) == 1
    with session_factory() as session:
        notes = [e.note for e in session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order_id))]
        assert any("已退订短信" in note for note in notes)
        assert session.get(SmsOptOut, PHONE).method == "reply"


def test_quiet_hours_hold_texts_but_not_the_acceptance(session_factory, now):
    adapter = SandboxSmsAdapter(load_settings({"SECRET_KEY": "k" * 40}, read_dotenv=False).sms)
    night = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 22:00 Beijing
    order_id, number = accepted_order(session_factory, night)
    assert deliver(session_factory, adapter, night).sent == 1  # acceptance: urgent, goes out
    with session_scope(session_factory) as session:
        order = wo.get_order(session, number)
        wo.resolve(Factory(session).ctx(order.submitter, night), order, result="已协调完成修复")
        wo.feedback(Factory(session).ctx(order.submitter, night), order)
    stats = deliver(session_factory, adapter, night + timedelta(minutes=1))
    assert stats.paused == 1
    result = sms_rows(session_factory)[-1]
    assert result.status == OutboxStatus.PENDING and "免打扰" in result.last_error
    assert result.next_attempt_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)  # 08:00 Beijing
    assert deliver(session_factory, adapter, datetime(2026, 3, 3, 0, 0, tzinfo=UTC)).sent == 1
    with session_factory() as session:
        texts = [m.text for m in session.scalars(select(SandboxMessage).where(
            SandboxMessage.conversation == f"sms:{PHONE}").order_by(SandboxMessage.id))]
    assert texts[0].startswith("您的诉求已受理") and "已办结" in texts[1]


def test_per_number_cap_waits_for_the_next_window(session_factory, now):
    adapter = SandboxSmsAdapter(load_settings({"SECRET_KEY": "k" * 40, "SMS_HOURLY_CAP": "1"}, read_dotenv=False).sms)
    accepted_order(session_factory, now)
    accepted_order(session_factory, now)
    stats = deliver(session_factory, adapter, now)
    assert (stats.sent, stats.throttled) == (1, 1)
    assert deliver(session_factory, adapter, now + timedelta(hours=1)).sent == 1


def test_provider_limits_and_refusals(session_factory, sms_emulator, now):
    adapter = TencentSmsAdapter(sms_settings(sms_emulator))
    accepted_order(session_factory, now)
    sms_emulator.fail_next("LimitExceeded.PhoneNumberDailyLimit")
    assert deliver(session_factory, adapter, now).paused == 1
    assert sms_rows(session_factory)[0].status == OutboxStatus.PENDING
    sms_emulator.fail_next("InvalidParameterValue.IncorrectPhoneNumber")
    assert deliver(session_factory, adapter, now + timedelta(hours=7)).dead == 1
    # A wrong secret: the emulator checks the TC3 signature like the service.
    bad = TencentSmsAdapter(sms_settings(sms_emulator, SMS_SECRET_KEY="wrong-secret-key-00000000000000"))
    accepted_order(session_factory, now)
    assert deliver(session_factory, bad, now + timedelta(hours=8)).dead == 1
    assert "AuthFailure" in sms_rows(session_factory)[-1].last_error


def test_reply_callback_records_the_opt_out(app, client, session_factory, sms_emulator):
    token = "reply-token-0123456789"
    original = app.extensions["settings"]
    app.extensions["settings"] = original.with_overrides(
        {"sms": sms_settings(sms_emulator, SMS_CALLBACK_TOKEN=token)})
    try:
        assert client.post("/sms/reply/wrong-token-000000000", json=sms_emulator.reply_body(PHONE, "TD")).status_code == 404
        answer = client.post(f"/sms/reply/{token}", json=sms_emulator.reply_body(PHONE, "TD"))
        assert answer.status_code == 200 and answer.get_json() == {"result": 0, "errmsg": "OK"}
        assert client.post(f"/sms/reply/{token}", data=b"not json",
                           content_type="application/json").status_code == 400
    finally:
        app.extensions["settings"] = original
    with session_factory() as session:
        assert session.get(SmsOptOut, PHONE).method == "reply"


def test_wecom_customer_contact_push_through_add_msg_template(wecom_app, wecom_emulator, now):
    """The contact is an external contact (客户联系) of their staff member: the acceptance also goes
    to WeCom as a mass-sending task the staff member confirms."""
    from extensions import chat_adapters
    from services.messaging.notify import Channels

    session_factory = wecom_app.extensions["db_sessionmaker"]
    wecom_emulator.add_user("zhangfw", "张服务")
    wecom_emulator.add_external_contact("wmEXTERNAL01", "zhangfw")
    with session_scope(session_factory) as session:
        factory = Factory(session)
        staff = factory.person(Role.SERVICE_STAFF, name="张服务", wecom_userid="zhangfw")
        enterprise = factory.enterprise(staff=staff, contact_phone=PHONE)
        ctx = factory.ctx(staff, now)
        ctx.channels = Channels(sandbox=True, wecom=True)
        order = wo.create_order(ctx, wo.NewOrder(enterprise_id=enterprise.id, content="企业厂区门前道路破损请协调修复",
                                                 contact_external_userid="wmEXTERNAL01"))
        number = order.number
    stats = deliver_due(session_factory, {"wecom": chat_adapters(wecom_app)["wecom"]},
                        DatabaseRateLimiter(session_factory), worker_id="w", now_fn=lambda: now)
    assert stats.dead == 0
    [task] = wecom_emulator.msg_templates
    assert (task["sender"], task["external_userid"]) == ("zhangfw", ["wmEXTERNAL01"])
    assert number in task["text"]
