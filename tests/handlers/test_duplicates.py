"""Duplicate requests through the pages and the API: the confirm step, merge and split, numbers that lead on."""

from __future__ import annotations

import dataclasses
import re

import pytest
import time_machine
from sqlalchemy import select

from models import OutboundMessage, Role, WorkOrder, WorkOrderEvent
from services.admin.api_tokens import issue_token
from services.orders.lifecycle import Action, State
from tests.handlers.test_console import login, page_token, token_from

ROAD = "企业厂区门前道路破损严重，影响货车通行，请协调修复"
ROAD_AGAIN = "厂区门前的道路破损严重，货车通行受影响，请尽快协调修复"


@pytest.fixture(autouse=True)
def frozen(now):
    with time_machine.travel(now, tick=True):
        yield


@pytest.fixture
def people(factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度",
                                login="dispatcher")
    enterprise = factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    first = factory.order(staff, now, enterprise=enterprise, level=2, content=ROAD)
    tokens = {"staff": issue_token(session, staff, "区平台", now), "dispatcher": issue_token(session, dispatcher, "调度", now)}
    session.commit()
    return dataclasses.make_dataclass("People", ["staff", "dispatcher", "enterprise", "first", "tokens"])(
        staff, dispatcher, enterprise, first, tokens)


def form(client, people, path="/orders/new", **extra):
    data = {"csrf_token": page_token(client, path), "enterprise_id": str(people.enterprise.id), "level": "2",
            "content": ROAD_AGAIN, "priority": "normal", "contact_name": "张经理", "contact_phone": "13812345678",
            "title": "门前道路又坏了"}
    data.update(extra)
    return data


def count(session_factory) -> int:
    with session_factory() as s:
        return len(s.scalars(select(WorkOrder.id)).all())


def newest(session_factory):
    with session_factory() as s:
        order = s.scalars(select(WorkOrder).order_by(WorkOrder.id.desc())).first()
        return order.number, order.duplicate_of_id, order.state, [e.action for e in order.events]


# --------------------------------------------------------------------------------------------
# The confirm step on the console and the phone
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/orders/new", "/m/orders/new"])
def test_a_similar_request_is_shown_first_and_nothing_typed_is_lost(client, people, session_factory, path):
    login(client, "staff")
    data = form(client, people, path)
    response = client.post(path, data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "可能重复" in html and people.first.number in html and "相似度" in html
    assert f'name="link_to" value="{people.first.number}"' in html and 'name="duplicate_choice" value="new"' in html
    assert ROAD_AGAIN in html and 'value="门前道路又坏了"' in html and 'value="13812345678"' in html
    assert count(session_factory) == 1  # nothing written

    # 「是同一事项」: the order is created and linked.
    key = re.search(r'name="submission_key" value="([^"]+)"', html).group(1)
    linked = client.post(path, data={**data, "csrf_token": token_from(html), "submission_key": key,
                                     "link_to": people.first.number}, content_type="multipart/form-data")
    assert linked.status_code == 302
    number, duplicate_of, _state, actions = newest(session_factory)
    assert duplicate_of == people.first.id and Action.LINK in actions
    page = client.get(linked.headers["Location"]).get_data(as_text=True)
    assert f"已关联到原诉求 {people.first.number}" in page


def test_submit_anyway_creates_a_new_order_and_notes_the_candidates(client, people, session_factory):
    login(client, "staff")
    data = form(client, people)
    html = client.post("/orders/new", data=data, content_type="multipart/form-data").get_data(as_text=True)
    key = re.search(r'name="submission_key" value="([^"]+)"', html).group(1)
    response = client.post("/orders/new", data={**data, "csrf_token": token_from(html), "submission_key": key,
                                                 "duplicate_choice": "new"}, content_type="multipart/form-data")
    assert response.status_code == 302
    _number, duplicate_of, state, actions = newest(session_factory)
    assert duplicate_of is None and state == State.PENDING_DISPATCH and actions[-1] == Action.COMMENT
    assert count(session_factory) == 2


def test_a_different_request_goes_straight_through(client, people, session_factory):
    login(client, "staff")
    data = form(client, people, content="咨询稳岗补贴的申报条件和所需材料", title="")
    assert client.post("/orders/new", data=data, content_type="multipart/form-data").status_code == 302
    assert count(session_factory) == 2


# --------------------------------------------------------------------------------------------
# The dispatcher merges and splits on the order page
# --------------------------------------------------------------------------------------------
def _second(factory, session, people, now):
    second = factory.order(people.staff, now, enterprise=people.enterprise, level=2, content=ROAD_AGAIN)
    session.commit()
    return second.number


def test_dispatcher_merges_on_the_order_page_and_the_number_leads_on(client, people, factory, session, now,
                                                                        session_factory):
    second = _second(factory, session, people, now)
    login(client, "staff")
    page = client.get(f"/orders/{second}").get_data(as_text=True)
    assert f"/orders/{second}/actions/merge" not in page  # the zone side links, the grid center merges
    assert f"/orders/{second}/actions/link" in page and people.first.number in page
    client.post("/logout", data={"csrf_token": token_from(page)})

    login(client, "dispatcher")
    page = client.get(f"/orders/{second}").get_data(as_text=True)
    assert f"/orders/{second}/actions/merge" in page and f'name="into" class="mono" required value="{people.first.number}"' in page
    response = client.post(f"/orders/{second}/actions/merge", data={
        "csrf_token": token_from(page), "into": people.first.number, "reason": "同一路段"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已并入" in page and people.first.number in page and f"/orders/{second}/actions/split" in page
    earlier = client.get(f"/orders/{people.first.number}").get_data(as_text=True)
    assert "并入本单的重复诉求" in earlier and second in earlier
    assert earlier.count(f'<span class="badge">{second}</span>') >= 2  # its events in the earlier order's history
    searched = client.get(f"/orders?q={second}")
    assert searched.status_code == 302 and searched.headers["Location"].endswith(f"/orders/{people.first.number}")
    with session_factory() as s:
        notices = s.scalars(select(OutboundMessage).where(OutboundMessage.kind == "notice")).all()
        merged_notices = [m for m in notices if "重复诉求已合并" in m.payload.get("title", "")]
        assert [m.target_ref for m in merged_notices] == [str(people.staff.id)]

    # Split it again, with a reason.
    token = page_token(client, f"/orders/{second}")
    refused = client.post(f"/orders/{second}/actions/split", data={"csrf_token": token, "reason": ""})
    assert refused.status_code == 422
    response = client.post(f"/orders/{second}/actions/split", data={"csrf_token": token, "reason": "位置不同，非同一事项"})
    assert response.status_code == 302
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == second))
        assert order.state == State.PENDING_DISPATCH and order.merged_into_id is None
        assert s.scalar(select(WorkOrderEvent.action).where(WorkOrderEvent.work_order_id == order.id)
                        .order_by(WorkOrderEvent.id.desc()).limit(1)) == Action.SPLIT


def test_the_staff_member_cannot_merge(client, people, factory, session, now, session_factory):
    second = _second(factory, session, people, now)
    login(client, "staff")
    response = client.post(f"/orders/{second}/actions/merge", data={
        "csrf_token": page_token(client, f"/orders/{second}"), "into": people.first.number})
    assert response.status_code == 403
    with session_factory() as s:
        assert s.scalar(select(WorkOrder.state).where(WorkOrder.number == second)) != State.MERGED


# --------------------------------------------------------------------------------------------
# The API
# --------------------------------------------------------------------------------------------
def _api(client, people, who, method, path, **body):
    headers = {"Authorization": f"Bearer {people.tokens[who]}"}
    return client.open(f"/api/v1{path}", method=method, json=body or None, headers=headers)


def test_api_returns_the_candidates_and_takes_link_to(client, people):
    body = {"enterprise_id": people.enterprise.id, "content": ROAD_AGAIN, "level": 2}
    created = _api(client, people, "staff", "POST", "/work-orders", **body)
    assert created.status_code == 201
    data = created.get_json()["data"]
    assert [d["number"] for d in data["possible_duplicates"]] == [people.first.number]
    assert data["possible_duplicates"][0]["similarity"] >= 40 and data["duplicate_of"] is None

    linked = _api(client, people, "staff", "POST", "/work-orders", **body, link_to=people.first.number).get_json()
    assert linked["data"]["duplicate_of"] == people.first.number and linked["data"]["possible_duplicates"] == []

    refused = _api(client, people, "staff", "POST", "/work-orders", **body, link_to="BC-20990101-0001")
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == {"link_to": "未找到"}


def test_api_merge_and_get_by_the_merged_number(client, people, factory, session, now):
    second = _second(factory, session, people, now)
    refused = _api(client, people, "staff", "POST", f"/work-orders/{second}/transitions", action="merge",
                   into=people.first.number)
    assert refused.status_code == 403
    merged = _api(client, people, "dispatcher", "POST", f"/work-orders/{second}/transitions", action="merge",
                  into=people.first.number, reason="同一路段")
    assert merged.status_code == 200, merged.get_data(as_text=True)
    assert merged.get_json()["data"]["state"] == State.MERGED
    assert merged.get_json()["data"]["merged_into"] == people.first.number
    shown = _api(client, people, "staff", "GET", f"/work-orders/{second}").get_json()["data"]
    assert shown["number"] == people.first.number and shown["resolved_from"] == second
    assert shown["merged_orders"] == [second]
    split = _api(client, people, "dispatcher", "POST", f"/work-orders/{second}/transitions", action="split",
                 reason="位置不同，非同一事项")
    assert split.status_code == 200 and split.get_json()["data"]["state"] == State.PENDING_DISPATCH


def test_linked_orders_wait_on_the_dispatch_board(client, people, factory, session, now):
    second = factory.order(people.staff, now, enterprise=people.enterprise, level=2, content=ROAD_AGAIN,
                           link_to=people.first.number)
    session.commit()
    assert second.duplicate_of_id == people.first.id
    login(client, "dispatcher")
    board = client.get("/board").get_data(as_text=True)
    column = board.split('id="col-duplicates"', 1)[1].split("</section>", 1)[0]
    assert second.number in column and f"关联 {people.first.number}" in column
