"""/contact and /contact/request: exact matches only, name and phone only, rate limits, CSRF, the order lands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from models import OutboundMessage, WorkOrder
from services.orders.lifecycle import State
from tests.grid.conftest import login, page_token, token_from

IP = {"REMOTE_ADDR": "203.0.113.9"}


def settle(session):
    # The test's session must not hold SQLite's write lock (BEGIN IMMEDIATE) while the app writes;
    # objects stay loaded (expire_on_commit=False), so reading attributes afterwards starts nothing.
    session.commit()


def fresh(session):
    """Read the app's writes: a new transaction, to be ended by ``settle`` before the next request."""
    session.commit()
    session.expire_all()


@pytest.fixture
def enterprise(factory, session, grid):
    e = factory.enterprise(zone=grid.tianmu, staff=grid.staff, name="天津北辰精工（集团）有限公司",
                           address="天津市北辰区天穆镇北仓道 8 号", legal_representative="张法人",
                           contact_phone="022-88888888")
    session.commit()
    return e


def lookup(client, session, q, environ=IP):
    settle(session)
    token = token_from(client.get("/contact", environ_base=environ).get_data(as_text=True))
    return client.post("/contact", data={"q": q, "csrf_token": token}, environ_base=environ)


def test_lookup_by_code_shows_only_name_and_phone(client, session, enterprise, grid):
    response = lookup(client, session, f" {enterprise.uscc.lower()} ")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert grid.staff.name in html and grid.staff.phone in html
    for secret in (enterprise.name, "北仓道", "张法人", "022-88888888", grid.staff2.name, "天穆镇"):
        assert secret not in html


def test_lookup_by_exact_name_including_half_width_brackets(client, session, enterprise, grid):
    html = lookup(client, session, "天津北辰精工(集团)有限公司").get_data(as_text=True)
    assert grid.staff.phone in html
    partial = lookup(client, session, "北辰精工").get_data(as_text=True)
    assert grid.staff.phone not in partial and "未查询到该企业" in partial
    wildcard = lookup(client, session, "%").get_data(as_text=True)
    assert grid.staff.phone not in wildcard


def test_lookup_without_staff_or_inactive_staff_points_to_the_hotline(client, session, factory, grid):
    grid.staff2.active = False
    e = factory.enterprise(zone=grid.tianmu, staff=grid.staff2)
    session.commit()
    html = lookup(client, session, e.uscc).get_data(as_text=True)
    assert grid.staff2.name not in html and "86912345" in html


def test_lookup_needs_csrf(client, session, enterprise):
    settle(session)
    response = client.post("/contact", data={"q": enterprise.uscc}, environ_base=IP)
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)


def test_rate_limit_answers_429_in_chinese_per_address(client, session, enterprise, grid):
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, 5, tzinfo=UTC), tick=False):
        settle(session)
        token = token_from(client.get("/contact", environ_base=IP).get_data(as_text=True))
        codes = [client.post("/contact", data={"q": enterprise.uscc, "csrf_token": token}, environ_base=IP).status_code
                 for _ in range(11)]
        assert codes[:10] == [200] * 10
        assert codes[10] == 429
        refused = client.post("/contact", data={"q": enterprise.uscc, "csrf_token": token}, environ_base=IP)
        html = refused.get_data(as_text=True)
        assert refused.status_code == 429 and "访问过于频繁" in html and grid.staff.phone not in html
        assert int(refused.headers["Retry-After"]) >= 1
        # Another address is not affected.
        other = {"REMOTE_ADDR": "198.51.100.77"}
        assert lookup(client, session, enterprise.uscc, environ=other).status_code == 200
    # The next window opens again.
    with time_machine.travel(datetime(2026, 3, 2, 2, 1, 5, tzinfo=UTC), tick=False):
        assert lookup(client, session, enterprise.uscc).status_code == 200


def submit(client, session, data, environ=IP):
    settle(session)
    token = token_from(client.get("/contact/request", environ_base=environ).get_data(as_text=True))
    return client.post("/contact/request", data={**data, "csrf_token": token}, environ_base=environ)


def request_data(enterprise, **overrides):
    data = {"code": enterprise.uscc, "name": enterprise.name, "contact_name": "张经理",
            "contact_phone": "13812345678", "content": "厂区东侧道路积水严重，货车进出困难，希望协调排水"}
    data.update(overrides)
    return data


def test_self_service_request_lands_with_the_staff_member(client, session, enterprise, grid):
    response = submit(client, session, request_data(enterprise))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "诉求已提交" in html and grid.staff.name in html
    fresh(session)
    order = session.scalar(select(WorkOrder))
    assert order.state == State.RECEIVED and order.channel == "public" and order.submitter_id is None
    assert order.enterprise_id == enterprise.id and order.zone_id == grid.tianmu.id
    assert order.contact_phone == "13812345678" and order.number in html
    notices = session.scalars(select(OutboundMessage).where(OutboundMessage.kind == "notice")).all()
    assert {m.target_ref for m in notices} == {str(grid.staff.id)}
    settle(session)

    # The staff member sees it and confirms it: handled at zone level by them.
    login(client, "staff")
    page = client.get("/grid/requests").get_data(as_text=True)
    assert order.number in page
    token = page_token(client, "/grid/requests")
    confirmed = client.post(f"/grid/requests/{order.number}/confirm", data={"csrf_token": token, "note": "已电话核实"})
    assert confirmed.status_code == 302
    fresh(session)
    order = session.get(WorkOrder, order.id)
    assert order.state == State.PROCESSING and order.assigned_person_id == grid.staff.id


def test_other_zone_staff_cannot_confirm(client, session, enterprise, grid):
    submit(client, session, request_data(enterprise))
    fresh(session)
    order = session.scalar(select(WorkOrder))
    settle(session)
    login(client, "beicang")
    assert order.number not in client.get("/grid/requests").get_data(as_text=True)
    token = page_token(client, "/grid/requests")
    client.post(f"/grid/requests/{order.number}/confirm", data={"csrf_token": token})
    fresh(session)
    assert session.get(WorkOrder, order.id).state == State.RECEIVED


def test_request_needs_matching_code_and_name(client, session, enterprise, factory):
    other = factory.enterprise(name="另一家企业有限公司")
    session.commit()
    response = submit(client, session, request_data(enterprise, code=other.uscc))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "不一致" in html
    bad = submit(client, session, request_data(enterprise, code=enterprise.uscc[:-1] + "0", contact_phone="abc",
                                               content="短"))
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "请填写正确的联系电话" in html and "至少 10 个字" in html
    fresh(session)
    assert session.scalar(select(WorkOrder)) is None


def test_request_submissions_are_rate_limited(client, session, enterprise):
    with time_machine.travel(datetime(2026, 3, 2, 2, 0, 5, tzinfo=UTC), tick=False):
        codes = [submit(client, session, request_data(enterprise)).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    fresh(session)
    assert len(session.scalars(select(WorkOrder)).all()) == 5


def test_self_service_form_asks_the_public_fields_of_the_classified_domain(client, session, enterprise, grid):
    from tests.studio.test_form_fields import domain_id, set_form

    set_form(session, [
        {"key": "employees", "label": "涉及人数", "type": "number", "required": True},  # staff only
        {"key": "area", "label": "积水范围", "type": "choice", "options": ["厂门口", "整条道路"], "required": True,
         "public": True},
    ])
    public_service = domain_id(session)
    session.commit()
    first = client.get("/contact/request", environ_base=IP).get_data(as_text=True)
    assert "积水范围" not in first  # nothing known about the request yet
    refused = submit(client, session, request_data(enterprise))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请填写「积水范围」" in html and "涉及人数" not in html
    assert f'name="f.{public_service}.area"' in html
    done = submit(client, session, request_data(enterprise, **{f"f.{public_service}.area": "整条道路"}))
    assert done.status_code == 200, done.get_data(as_text=True)
    fresh(session)
    assert session.scalar(select(WorkOrder.custom_fields)) == {"area": "整条道路"}


def test_a_repeated_request_gets_a_notice_that_names_no_order(client, session, enterprise, grid):
    first = submit(client, session, request_data(enterprise)).get_data(as_text=True)
    assert "相似的诉求" not in first
    again = submit(client, session, request_data(enterprise, content="厂区东侧的道路积水很严重，货车进出困难，请协调排水"))
    html = again.get_data(as_text=True)
    assert again.status_code == 200 and "诉求已提交" in html and "30 天内已提交过相似的诉求" in html
    fresh(session)
    orders = session.scalars(select(WorkOrder).order_by(WorkOrder.id)).all()
    assert len(orders) == 2 and orders[1].number in html and orders[0].number not in html
    settle(session)
