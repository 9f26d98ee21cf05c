"""The dispatch board lists the orders whose handler has left WeCom or DingTalk, until reassigned."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import OutboundMessage, Role, WorkOrderEvent
from services.grid.dingtalk_roster import apply_contact_event
from services.grid.leavers import reassign_note
from services.grid.wecom_roster import member_left
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders import queries as order_queries
from services.orders.lifecycle import State
from tests.handlers.test_console import login


def _column(html: str, key: str) -> str:
    match = re.search(rf'<section class="board-col col-{key}" id="col-{key}">(.*?)</section>', html, re.S)
    assert match, f"board has no column {key}"
    return match.group(1)


def _processing(factory, session, now, staff, dispatcher, helper, department):
    order = factory.order(staff, now, level=2)
    wo.dispatch(factory.ctx(dispatcher, now), order, department_id=department.id)
    wo.sign(factory.ctx(helper, now), order)
    assert order.state == State.PROCESSING and order.assigned_person_id == helper.id
    return order


def test_orders_of_a_leaver_wait_on_the_board_until_reassigned(client, factory, session, now):
    rsj = factory.department("rsj")
    staff = factory.person(Role.SERVICE_STAFF)
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"), login="dispatcher",
                                dingtalk_userid="diaodu")
    on_dingtalk = factory.person(Role.CHIEF_HELPER, department=rsj, name="钉帮办", dingtalk_userid="dingbb")
    on_wecom = factory.person(Role.CHIEF_HELPER, department=rsj, name="微帮办", wecom_userid="weibb")
    stays = factory.person(Role.CHIEF_HELPER, department=rsj, name="留帮办", dingtalk_userid="liubb")
    left_dingtalk = _processing(factory, session, now, staff, dispatcher, on_dingtalk, rsj)
    left_wecom = _processing(factory, session, now, staff, dispatcher, on_wecom, rsj)
    untouched = _processing(factory, session, now, staff, dispatcher, stays, rsj)

    assert apply_contact_event(session, "user_leave_org", {"userId": ["dingbb"]}, now) == 1
    member_left(session, "weibb", now=now, channels=Channels(), reason="已退出企业")
    session.commit()

    # DingTalk writes the same note as WeCom, and tells the dispatchers.
    [note] = session.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == left_dingtalk.id,
                                                          WorkOrderEvent.note == reassign_note("dingtalk")))
    assert note.data["needs_reassignment"] is True and note.data["person_id"] == on_dingtalk.id
    assert note.data["dingtalk_userid"] == "dingbb" and on_dingtalk.dingtalk_userid is None
    notices = session.scalars(select(OutboundMessage).where(OutboundMessage.work_order_id == left_dingtalk.id,
                                                            OutboundMessage.channel == "dingtalk",
                                                            OutboundMessage.target_ref == str(dispatcher.id)))
    assert [m.payload["title"] for m in notices] == ["承办人已离开钉钉"]

    flagged = order_queries.dispatch_board(session, dispatcher, now).needs_reassignment
    assert {o.number for o in flagged} == {left_dingtalk.number, left_wecom.number}
    session.commit()  # SQLite: release the write lock before the requests

    login(client, "dispatcher")
    column = _column(client.get("/board").get_data(as_text=True), "reassign")
    assert "需重新指派" in column and "原承办人 钉帮办" in column and "原承办人 微帮办" in column
    assert left_dingtalk.number in column and left_wecom.number in column and untouched.number not in column

    # Transferring the order to another department takes it off the column.
    wo.transfer(factory.ctx(dispatcher, now), left_wecom, department_id=factory.department("zjw").id,
                reason="原承办人离职，改派")
    session.commit()
    column = _column(client.get("/board").get_data(as_text=True), "reassign")
    assert left_dingtalk.number in column and left_wecom.number not in column
