"""领导批示 on the console: the district leader's one write action, shown on the order."""

import re

from sqlalchemy import select

from models import OutboundMessage, Role, WorkOrder, WorkOrderEvent
from services.orders.lifecycle import Action
from tests.factories import sign_in_cookie

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_leader_instructs_from_the_order_page(client, factory, session, session_factory, now):
    staff = factory.person(Role.SERVICE_STAFF)
    rsj = factory.department("rsj")
    order = factory.order(staff, now, level=2, department_id=rsj.id)
    leader = factory.person(Role.DISTRICT_LEADER, name="区领导乙")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="钱帮办")
    session.commit()
    number = order.number

    sign_in_cookie(client, leader)
    page = client.get(f"/orders/{number}").get_data(as_text=True)
    assert 'id="act-instruct"' in page and 'id="act-comment"' not in page  # 批示 is the only form
    token = CSRF.search(page).group(1)
    response = client.post(f"/orders/{number}/actions/instruct",
                           data={"csrf_token": token, "note": "请人社局三日内上门对接，确保招聘会如期举办"})
    assert response.status_code == 302
    page = client.get(f"/orders/{number}").get_data(as_text=True)
    assert "领导批示" in page and "请人社局三日内上门对接" in page
    with session_factory() as s:
        saved = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        [event] = s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == saved.id,
                                                         WorkOrderEvent.action == Action.INSTRUCT))
        assert event.actor_id == leader.id and event.channel == "console"
        texts = [m.payload.get("text", "") for m in s.scalars(
            select(OutboundMessage).where(OutboundMessage.work_order_id == saved.id))]
        assert any("【领导批示】" in t for t in texts)

    # Anyone else is refused the 批示, and the leader no other write action.
    sign_in_cookie(client, helper)
    token = CSRF.search(client.get(f"/orders/{number}").get_data(as_text=True)).group(1)
    assert client.post(f"/orders/{number}/actions/instruct", data={"csrf_token": token, "note": "试试"}).status_code == 403
    sign_in_cookie(client, leader)
    token = CSRF.search(client.get(f"/orders/{number}").get_data(as_text=True)).group(1)
    assert client.post(f"/orders/{number}/actions/comment", data={"csrf_token": token, "text": "备注"}).status_code == 403
