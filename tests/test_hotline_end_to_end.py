"""Done-when of issue 14, end to end: a 12345 ticket arrives signed, becomes an order matched to the
registry, is handled; the result goes back to the platform's callback (its emulator checks the
signature) and to the enterprise by SMS (the real Tencent Cloud SDK against its emulator); the
enterprise opens /track with its code and answers the survey from the link in its text."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from config import HotlineSettings, load_settings
from database import session_scope
from integrations.hotline import HotlineAdapter
from integrations.sms import TencentSmsAdapter
from models import Person, Role, WorkOrder
from models.base import utcnow
from services.messaging.delivery import deliver_due
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders.surveys import send_due_surveys
from services.ratelimit import DatabaseRateLimiter
from tests.emulators.hotline import SECRET, HotlinePlatformEmulator, headers_for
from tests.emulators.tencent_sms import TencentSmsEmulator
from tests.factories import TEST_BASE_URL, Factory, make_uscc

PHONE = "13812345678"


@pytest.fixture
def platform():
    emulator = HotlinePlatformEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sms():
    emulator = TencentSmsEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def wired_app(app, platform, sms):
    original = app.extensions["settings"]
    sms_settings = load_settings({"SECRET_KEY": "k" * 40, **sms.settings_env(), "SMS_QUIET_HOURS": ""},
                                 read_dotenv=False).sms
    app.extensions["settings"] = original.with_overrides({
        "hotline": HotlineSettings(secret=SECRET, callback_url=platform.url), "sms": sms_settings})
    yield app
    app.extensions["settings"] = original


def deliver(session_factory, adapters, at):
    return deliver_due(session_factory, adapters, DatabaseRateLimiter(session_factory), worker_id="e2e",
                       now_fn=lambda: at, max_attempts=3)


def local_path(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == TEST_BASE_URL  # absolute, on the site's address
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_12345_ticket_from_intake_to_the_enterprises_rating(wired_app, client, session_factory, platform, sms):
    settings = wired_app.extensions["settings"]
    sms_adapter = TencentSmsAdapter(settings.sms)
    hotline_adapter = HotlineAdapter(settings.hotline)
    with session_scope(session_factory) as session:
        factory = Factory(session)
        staff = factory.person(Role.SERVICE_STAFF, name="张服务")
        enterprise = factory.enterprise(staff=staff, name="天津北辰示例机械有限公司")
        enterprise.uscc = make_uscc(90001)
        staff_id, enterprise_id = staff.id, enterprise.id

    # 1. The platform pushes the ticket, signed.
    body = json.dumps({
        "source": "12345", "ticket_id": "TJ12345-20261207-000777", "received_at": "2026-12-07T09:30:00+08:00",
        "caller_name": "王经理", "caller_phone": PHONE, "enterprise_name": "天津北辰示例机械有限公司",
        "uscc": make_uscc(90001), "content": "厂区门前道路破损严重，货车无法通行，请协调修复",
    }, ensure_ascii=False).encode()
    answer = client.post("/api/v1/hotline/tickets", data=body, headers=headers_for(body))
    assert answer.status_code == 201
    number = answer.get_json()["number"]

    # 2. Matched to the registry; the staff member confirms and handles it, then tells the enterprise.
    with session_scope(session_factory) as session:
        order = wo.get_order(session, number)
        assert order.enterprise_id == enterprise_id and order.source == "12345"
        ctx = wo.OpContext(session, session.get(Person, staff_id), utcnow(), "console", Channels.from_settings(settings),
                           base_url=TEST_BASE_URL)
        wo.confirm_request(ctx, order)
        wo.resolve(ctx, order, result="已协调道路养护单位完成修复，货车恢复通行")
        wo.feedback(ctx, order, note="电话告知王经理")
    now = utcnow()
    assert deliver(session_factory, {"hotline": hotline_adapter}, now).sent == 1
    assert deliver(session_factory, {"sms": sms_adapter}, now).sent == 2

    # 3. The platform's callback has the result, signed; the enterprise has its texts.
    [callback] = platform.received
    assert (callback["event"], callback["number"], callback["ticket_id"]) == ("result", number, "TJ12345-20261207-000777")
    assert callback["result"] == "已协调道路养护单位完成修复，货车恢复通行" and platform.refused == []
    accepted, result = sms.sent
    assert (accepted.phone, accepted.template_id, result.template_id) == (PHONE, "2001", "2002")
    assert accepted.params[0] == number

    # 4. A day later the survey goes out by text, with an absolute link.
    later = now + timedelta(hours=25)
    with session_scope(session_factory) as session:
        assert send_due_surveys(session, later, Channels.from_settings(settings), 24, 24, base_url=TEST_BASE_URL) == 1
    assert deliver(session_factory, {"sms": sms_adapter}, later).sent == 1
    survey = sms.sent[-1]
    assert survey.template_id == "2003" and survey.phone == PHONE

    # 5. The enterprise opens /track from its first text: the code is the last four digits.
    track = client.get(local_path(accepted.params[1]))
    assert track.status_code == 200
    page = track.get_data(as_text=True)
    assert "已办结，请评价" in page and "已协调道路养护单位完成修复" in page
    survey_path = local_path(survey.params[1])
    assert f'href="{survey_path}"' in page
    assert client.get(f"/track?number={number}&code=0000").status_code == 404

    # 6. …and answers the survey from the link in the text.
    form = client.get(survey_path)
    assert form.status_code == 200
    csrf = form.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = client.post(survey_path, data={"csrf_token": csrf, "satisfaction": "满意", "resolved": "yes"})
    assert done.status_code == 200 and "感谢您的评价" in done.get_data(as_text=True)
    with session_factory() as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert order.state in ("visited", "archived") and order.visits[-1].satisfaction == "满意"
    after = client.get(local_path(accepted.params[1])).get_data(as_text=True)
    assert "已完成满意度评价" in after and 'id="track-survey"' not in after
