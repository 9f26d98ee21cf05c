"""The 86912345 desk: caller lookup and the three outcomes of a call, through the test client."""

from __future__ import annotations

from sqlalchemy import select

from database import session_scope
from models import OutboundMessage, Role, WorkOrder
from tests.factories import Factory, sign_in_cookie

PHONE = "13812345678"


def setup_desk(session_factory, now):
    with session_scope(session_factory) as session:
        factory = Factory(session)
        operator = factory.person(Role.DESK_OPERATOR, department=factory.department("one_number_desk"), name="李坐席")
        staff = factory.person(Role.SERVICE_STAFF, name="张服务")
        enterprise = factory.enterprise(staff=staff, name="天津北辰示例机械有限公司", contact_phone=PHONE)
        earlier = factory.order(staff, now, enterprise=enterprise, level=1)
        return operator, enterprise.id, factory.department("rsj").id, earlier.number


def token(client):
    page = client.get("/desk")
    assert page.status_code == 200
    return page.get_data(as_text=True).split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def call(client, csrf, **fields):
    data = {"csrf_token": csrf, "caller_phone": PHONE, "caller_name": "王经理",
            "content": "企业想了解稳岗返还政策的申领条件和办理流程", **fields}
    return client.post("/desk", data=data)


def sms_to_caller(session_factory, number):
    with session_factory() as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        return session.scalars(select(OutboundMessage).where(
            OutboundMessage.work_order_id == order.id, OutboundMessage.channel == "sms")).all()


def test_caller_lookup_finds_the_enterprise_and_earlier_orders(client, session_factory, now):
    operator, enterprise_id, _, earlier = setup_desk(session_factory, now)
    sign_in_cookie(client, operator)
    data = client.get(f"/desk/caller?phone={PHONE}").get_json()
    assert [e["id"] for e in data["enterprises"]] == [enterprise_id]
    assert [o["number"] for o in data["orders"]] == [earlier]
    assert client.get("/desk/caller?phone=12").get_json()["enterprises"] == []


def test_answered_on_the_spot_is_a_level_one_immediate_resolution(client, session_factory, now):
    operator, enterprise_id, _, _ = setup_desk(session_factory, now)
    sign_in_cookie(client, operator)
    page = call(client, token(client), enterprise_id=enterprise_id, outcome="answered",
                answer="稳岗返还无需申请，符合条件的企业由人社局直接返还至对公账户")
    assert page.status_code == 200
    number = page.get_data(as_text=True).split('<strong class="mono">', 1)[1].split("<", 1)[0]
    with session_factory() as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert (order.channel, order.level, order.state) == ("desk", 1, "fed_back")
        assert order.result.startswith("稳岗返还无需申请") and order.assigned_person_id == operator.id
        assert (order.contact_name, order.contact_phone) == ("王经理", PHONE)
    [sms] = [m for m in sms_to_caller(session_factory, number) if m.payload["message"] == "accepted"]
    assert sms.target_ref == PHONE and number in sms.payload["text"]


def test_sent_to_the_staff_member_or_dispatched_to_a_department_or_the_district(client, session_factory, now):
    operator, enterprise_id, rsj, _ = setup_desk(session_factory, now)
    sign_in_cookie(client, operator)
    csrf = token(client)
    numbers = {}
    for outcome, extra in (("staff", {}), ("department", {"department_id": rsj}), ("district", {})):
        page = call(client, csrf, enterprise_id=enterprise_id, outcome=outcome, **extra)
        assert page.status_code == 200, page.get_data(as_text=True)[:500]
        numbers[outcome] = page.get_data(as_text=True).split('<strong class="mono">', 1)[1].split("<", 1)[0]
    with session_factory() as session:
        orders = {k: session.scalar(select(WorkOrder).where(WorkOrder.number == v)) for k, v in numbers.items()}
        assert orders["staff"].state == "received"
        assert (orders["department"].level, orders["department"].state, orders["department"].assigned_department_id) == (
            2, "dispatched", rsj)
        assert (orders["district"].level, orders["district"].state) == (3, "pending_dispatch")
    for number in numbers.values():
        assert any(m.payload["message"] == "accepted" for m in sms_to_caller(session_factory, number))


def test_incomplete_calls_are_refused_and_others_cannot_open_the_desk(client, session_factory, now):
    operator, enterprise_id, _, _ = setup_desk(session_factory, now)
    sign_in_cookie(client, operator)
    csrf = token(client)
    refused = call(client, csrf, enterprise_id=enterprise_id, outcome="answered", answer="")
    assert refused.status_code == 422 and "请填写当场给出的答复" in refused.get_data(as_text=True)
    assert call(client, csrf, enterprise_id=enterprise_id, outcome="department").status_code == 422
    assert call(client, csrf, enterprise_id=enterprise_id, outcome="staff", caller_phone="022-1234").status_code == 422
    with session_factory() as session:
        assert session.scalar(select(WorkOrder).where(WorkOrder.channel == "desk")) is None
    with session_scope(session_factory) as session:
        helper = Factory(session).person(Role.CHIEF_HELPER, department=Factory(session).department("rsj"))
    sign_in_cookie(client, helper)
    assert client.get("/desk").status_code == 403
