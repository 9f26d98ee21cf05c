"""The 12345 / 86912345 interchange through the test client with real signatures: tickets in
(idempotent, matched to the registry), refusals that store nothing, the status query, callbacks
to the platform through the outbox (a local emulator checks their signatures), the xlsx ledger."""

from __future__ import annotations

import io
import json
import time
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from config import HotlineSettings
from database import session_scope
from integrations.hotline import HotlineAdapter
from models import OutboundMessage, OutboxStatus, Role, WorkOrder, WorkOrderEvent
from models.base import utcnow
from services.messaging.delivery import deliver_due
from services.orders import operations as wo
from services.ratelimit import DatabaseRateLimiter
from tests.emulators.hotline import SECRET, HotlinePlatformEmulator, headers_for
from tests.factories import Factory, make_uscc, sign_in_cookie

URL = "/api/v1/hotline/tickets"


@pytest.fixture
def platform():
    emulator = HotlinePlatformEmulator().start()
    yield emulator
    emulator.stop()


@pytest.fixture
def hotline_app(app, platform):
    original = app.extensions["settings"]
    app.extensions["settings"] = original.with_overrides(
        {"hotline": HotlineSettings(secret=SECRET, callback_url=platform.url, max_body_bytes=8 * 1024)})
    yield app
    app.extensions["settings"] = original


def ticket(**fields):
    body = {"source": "12345", "ticket_id": "TJ12345-20260302-000101", "received_at": "2026-03-02T09:30:00+08:00",
            "caller_name": "王经理", "caller_phone": "13812345678", "enterprise_name": "天津北辰示例机械有限公司",
            "uscc": make_uscc(90001), "content": "厂区门前道路破损严重，货车无法通行，请协调修复", "deadline": "2026-03-12"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def post(client, body, *, secret=SECRET, at=None, raw=None, headers=None):
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode()
    return client.post(URL, data=data, headers=headers if headers is not None else headers_for(data, secret=secret, at=at))


def registry(session_factory):
    with session_scope(session_factory) as session:
        factory = Factory(session)
        staff = factory.person(Role.SERVICE_STAFF, name="张服务")
        enterprise = factory.enterprise(staff=staff, name="天津北辰示例机械有限公司")
        enterprise.uscc = make_uscc(90001)
        return staff.id, enterprise.id


def counts(session_factory):
    with session_factory() as session:
        return (session.scalar(select(func.count()).select_from(WorkOrder)),
                session.scalar(select(func.count()).select_from(OutboundMessage)),
                session.scalar(select(func.count()).select_from(WorkOrderEvent)))


def test_a_signed_ticket_becomes_one_order_matched_by_uscc_and_a_repeat_stores_nothing(
        hotline_app, client, session_factory):
    staff_id, enterprise_id = registry(session_factory)
    first = post(client, ticket())
    assert first.status_code == 201
    number = first.get_json()["number"]
    before = counts(session_factory)
    again = post(client, ticket(content="重复推送的同一工单，内容略有不同也只认编号"))
    assert again.status_code == 200 and again.get_json()["number"] == number
    assert counts(session_factory) == before
    with session_factory() as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert (order.channel, order.source, order.external_ticket_id) == ("hotline", "12345", "TJ12345-20260302-000101")
        assert order.enterprise_id == enterprise_id
        assert (order.contact_name, order.contact_phone) == ("王经理", "13812345678")
        notes = " ".join(e.note for e in order.events)
        assert "按统一社会信用代码匹配" in notes and "市级时限 2026-03-12" in notes
    # Another source may use the same ticket id: a different ticket.
    assert post(client, ticket(source="86912345")).status_code == 201


def test_matched_by_name_without_uscc_and_unmatched_goes_to_the_dispatchers(hotline_app, client, session_factory):
    registry(session_factory)
    with session_scope(session_factory) as session:
        Factory(session).person(Role.DISPATCHER, name="调度员")
    by_name = post(client, ticket(uscc=None, ticket_id="T-2", enterprise_name="天津北辰示例机械有限公司"))
    unknown = post(client, ticket(uscc=None, ticket_id="T-3", enterprise_name="名录里没有的公司"))
    assert by_name.status_code == unknown.status_code == 201
    with session_factory() as session:
        named = session.scalar(select(WorkOrder).where(WorkOrder.external_ticket_id == "T-2"))
        assert named.enterprise is not None and "按企业名称匹配" in " ".join(e.note for e in named.events)
        stray = session.scalar(select(WorkOrder).where(WorkOrder.external_ticket_id == "T-3"))
        assert stray.enterprise_id is None and stray.state == "received"
        notices = session.scalars(select(OutboundMessage).where(OutboundMessage.work_order_id == stray.id)).all()
        assert any("名录中未找到该企业" in m.payload.get("text", "") for m in notices)


@pytest.mark.parametrize("case", ["forged", "stale", "future", "unsigned", "bad_timestamp", "oversized",
                                  "malformed", "not_object", "missing", "bad_source", "bad_date", "nul"])
def test_refused_calls_store_nothing(hotline_app, client, session_factory, case):
    registry(session_factory)
    before = counts(session_factory)
    if case == "forged":
        answer, status = post(client, ticket(), secret="someone-else-secret-0000000000000000"), 401
    elif case == "stale":
        answer, status = post(client, ticket(), at=time.time() - 301), 401
    elif case == "future":
        answer, status = post(client, ticket(), at=time.time() + 400), 401
    elif case == "unsigned":
        answer, status = post(client, ticket(), headers={"Content-Type": "application/json"}), 401
    elif case == "bad_timestamp":
        data = json.dumps(ticket()).encode()
        headers = headers_for(data)
        headers["X-Hotline-Timestamp"] = "１７００００００００"
        answer, status = post(client, None, raw=data, headers=headers), 401
    elif case == "oversized":
        answer, status = post(client, ticket(content="长" * 5000)), 413
    elif case == "malformed":
        answer, status = post(client, None, raw=b'{"source": "12345", '), 400
    elif case == "not_object":
        answer, status = post(client, None, raw=b'["12345"]'), 422
    elif case == "missing":
        answer, status = post(client, ticket(caller_phone=None)), 422
        assert "caller_phone" in answer.get_json()["error"]["fields"]
        assert "caller_phone" in answer.get_json()["error"]["message"]
    elif case == "bad_source":
        answer, status = post(client, ticket(source="110")), 422
        assert "source" in answer.get_json()["error"]["fields"]
    elif case == "bad_date":
        answer, status = post(client, ticket(deadline="2026-02-30")), 422
        assert "deadline" in answer.get_json()["error"]["fields"]
    else:
        answer, status = post(client, ticket(content="内容里有\u0000空字符的诉求内容")), 400
    assert answer.status_code == status
    assert answer.get_json()["ok"] is False
    assert counts(session_factory) == before


def test_status_query_is_signed_over_the_path(hotline_app, client, session_factory):
    registry(session_factory)
    number = post(client, ticket()).get_json()["number"]
    path = f"{URL}/12345/TJ12345-20260302-000101"
    answer = client.get(path, headers=headers_for(f"GET {path}".encode()))
    assert answer.status_code == 200
    data = answer.get_json()
    assert (data["number"], data["state"], data["state_label"], data["result"]) == (number, "received", "待甄别", "")
    assert data["updated_at"]
    assert client.get(path).status_code == 401
    assert client.get(path, headers=headers_for(f"GET {URL}/12345/other".encode())).status_code == 401
    other = f"{URL}/12345/NOPE"
    assert client.get(other, headers=headers_for(f"GET {other}".encode())).status_code == 404


def _deliver(session_factory, adapter):
    """One delivery run now (the platform checks the signature's time against its own clock); rows
    waiting for a retry are made due first instead of waiting out the backoff."""
    from sqlalchemy import update

    with session_scope(session_factory) as session:
        session.execute(update(OutboundMessage).where(OutboundMessage.status == OutboxStatus.PENDING)
                        .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    return deliver_due(session_factory, {"hotline": adapter}, DatabaseRateLimiter(session_factory),
                       worker_id="w", now_fn=utcnow, max_attempts=3)


def test_results_and_city_escalations_go_back_signed_with_retries_and_dead_letters(
        hotline_app, client, session_factory, platform):
    staff_id, _ = registry(session_factory)
    number = post(client, ticket()).get_json()["number"]
    settings = hotline_app.extensions["settings"]
    with session_scope(session_factory) as session:
        order = wo.get_order(session, number)
        staff = session.get(type(order.submitter or order.enterprise.service_staff), staff_id)
        ctx = Factory(session).ctx(staff, utcnow())
        ctx.channels = type(ctx.channels).from_settings(settings)
        wo.confirm_request(ctx, order)
        wo.escalate(ctx, order, reason="涉及市级道路管养权限", level=4, city=wo.CityInfo(route="12345", city_reference="SJ-001"))
        wo.resolve(ctx, order, result="市道路养护中心已完成修复")
    adapter = HotlineAdapter(settings.hotline)
    platform.fail_next(503)
    stats = _deliver(session_factory, adapter)
    assert stats.retrying == 1 and stats.sent == 1  # one call failed and waits; the other went
    _deliver(session_factory, adapter)
    events = [body["event"] for body in platform.received]
    assert sorted(events) == ["escalation", "result"]
    result = next(b for b in platform.received if b["event"] == "result")
    assert (result["number"], result["ticket_id"], result["result"]) == (
        number, "TJ12345-20260302-000101", "市道路养护中心已完成修复")
    assert platform.refused == []
    # A platform that refuses the content: dead letter at once, visible in the delivery log.
    with session_scope(session_factory) as session:
        order = wo.get_order(session, number)
        from services.orders import hotline_callbacks

        hotline_callbacks.resolved(session, ctx.channels, order, "manual", utcnow())
    platform.fail_next(400)
    assert _deliver(session_factory, adapter).dead == 1
    with session_factory() as session:
        dead = session.scalars(select(OutboundMessage).where(OutboundMessage.status == OutboxStatus.DEAD)).one()
        assert "HTTP 400" in dead.last_error


def test_the_ledger_downloads_as_xlsx(hotline_app, client, session_factory):
    registry(session_factory)
    number = post(client, ticket()).get_json()["number"]
    with session_scope(session_factory) as session:
        dispatcher = Factory(session).person(Role.DISPATCHER, name="调度员")
    sign_in_cookie(client, dispatcher)
    answer = client.get("/hotline/ledger.xlsx")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][:4] == ("序号", "热线来源", "平台工单编号", "本区工单编号")
    assert rows[2][2:4] == ("TJ12345-20260302-000101", number)
    assert client.get("/hotline/ledger.xlsx?from=2026-13-01").status_code == 422
