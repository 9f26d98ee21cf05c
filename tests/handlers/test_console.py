"""The web console through the Flask test client, with real sessions and real CSRF tokens."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest
from sqlalchemy import func, select

from models import Attachment, OutboundMessage, Role, SandboxMessage, WorkOrder, utcnow
from services.orders import operations as wo
from services.orders.lifecycle import State

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def upload_root(app, tmp_path, monkeypatch):
    root = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_ROOT", str(root))
    return root


def token_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client, username: str, password: str = "demo-pass-123"):
    token = token_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def page_token(client, path: str = "/orders") -> str:
    return token_from(client.get(path).get_data(as_text=True))


def files_under(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def people(factory, session):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    other_zone = factory.person(Role.SERVICE_STAFF, zone=factory.zone("beicang"), name="李北仓", login="staff2")
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度",
                                login="dispatcher")
    rsj = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办", login="helper")
    leader = factory.person(Role.DISTRICT_LEADER, name="钱区长", login="leader")
    admin = factory.person(Role.SYSADMIN, name="周管理", login="admin")
    enterprise = factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    session.commit()
    return dataclasses.make_dataclass("People", ["staff", "other_zone", "dispatcher", "helper", "leader", "admin",
                                                 "rsj", "enterprise"])(
        staff, other_zone, dispatcher, helper, leader, admin, rsj, enterprise)


@pytest.fixture
def pending_order(factory, session, people, now):
    order = factory.order(people.staff, now, enterprise=people.enterprise, level=2,
                          content="企业急需招聘 30 名数控技术工人，请协助对接招聘会和用工补贴")
    session.commit()
    assert order.state == State.PENDING_DISPATCH
    return order


def order_state(session_factory, number: str) -> str:
    with session_factory() as s:
        return s.scalar(select(WorkOrder.state).where(WorkOrder.number == number))


# --------------------------------------------------------------------------------------------
# Sign-in
# --------------------------------------------------------------------------------------------
def test_login_success_shows_dashboard_and_logout(client, people):
    response = login(client, "staff")
    assert response.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "王服务" in home and "为企服务人员" in home and "我的在办" in home
    token = token_from(home)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/").status_code == 302


def test_login_failure_says_wrong_username_or_password(client, people):
    for username, password in (("staff", "wrong-pass"), ("nobody", "demo-pass-123")):
        response = login(client, username, password)
        assert response.status_code == 200
        assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_pages_need_login_and_next_stays_local(client, people):
    response = client.get("/orders")
    assert response.status_code == 302 and "/login?next=/orders" in response.headers["Location"]
    token = token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": "staff", "password": "demo-pass-123", "csrf_token": token,
                                           "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


# --------------------------------------------------------------------------------------------
# Lists and detail
# --------------------------------------------------------------------------------------------
def test_order_list_is_scoped_by_role(client, people, pending_order):
    login(client, "staff2")  # service staff of another zone
    listing = client.get("/orders").get_data(as_text=True)
    assert pending_order.number not in listing
    searched = client.get(f"/orders?q={pending_order.number}").get_data(as_text=True)
    assert f"/orders/{pending_order.number}" not in searched and "没有符合条件的工单" in searched
    denied = client.get(f"/orders/{pending_order.number}")
    assert denied.status_code == 403 and "无权查看" in denied.get_data(as_text=True)

    client.post("/logout", data={"csrf_token": page_token(client)})
    login(client, "dispatcher")
    listing = client.get("/orders?q=天穆精密").get_data(as_text=True)
    assert pending_order.number in listing
    assert pending_order.number in client.get("/orders?state=pending_dispatch").get_data(as_text=True)
    assert pending_order.number not in client.get("/orders?state=processing").get_data(as_text=True)
    # 诉求类别: the order's own category lists it, another does not.
    other_domain = 1 + max(pending_order.domain_id or 0, 0)
    assert pending_order.domain_id is not None
    assert pending_order.number in client.get(f"/orders?domain={pending_order.domain_id}").get_data(as_text=True)
    assert pending_order.number not in client.get(f"/orders?domain={other_domain}").get_data(as_text=True)


def test_detail_offers_exactly_the_permitted_actions(client, people, pending_order):
    login(client, "dispatcher")
    page = client.get(f"/orders/{pending_order.number}").get_data(as_text=True)
    assert "天津天穆精密机械有限公司" in page and "办理轨迹" in page and "网页工作台" in page
    assert f"/orders/{pending_order.number}/actions/dispatch" in page
    assert f"/orders/{pending_order.number}/actions/sign" not in page
    assert "人社局（建议）" in page  # classify() suggests 人社局 for a hiring request

    client.post("/logout", data={"csrf_token": token_from(page)})
    login(client, "leader")  # district leaders read everything; their one write action is the 批示
    page = client.get(f"/orders/{pending_order.number}").get_data(as_text=True)
    assert re.findall(r"/actions/(\w+)", page) == ["instruct"]


def test_an_order_waiting_for_dispatch_shows_its_time_left(client, people, factory, session):
    """待派单 (before anyone signed for it): 剩余时间 is a remaining time, not 「时限 12-14 09:38」."""
    order = factory.order(people.staff, utcnow(), enterprise=people.enterprise, level=2,
                          content="企业急需招聘 30 名数控技术工人，请协助对接招聘会和用工补贴")
    session.commit()
    assert order.state == State.PENDING_DISPATCH and order.due_at is not None
    login(client, "staff")
    page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    shown = re.search(r"<dt>剩余时间</dt><dd>(.*?)</dd>", page).group(1)
    assert "剩余" in shown and "个工作日" in shown and "时限" not in shown
    mobile = client.get(f"/m/orders/{order.number}").get_data(as_text=True)
    assert re.search(r'class="m-clock clock-ok">剩余 \d+ 个工作日', mobile)


def test_own_order_handed_to_the_grid_center_offers_the_staff_no_dispatch(client, people, pending_order,
                                                                           session_factory):
    """Submitted with 「交区网格中心派单」: only the dispatcher is offered 派单, and only they may."""
    login(client, "staff")
    page = client.get(f"/orders/{pending_order.number}").get_data(as_text=True)
    assert f"/orders/{pending_order.number}/actions/dispatch" not in page
    mobile = client.get(f"/m/orders/{pending_order.number}").get_data(as_text=True)
    assert "/actions/dispatch" not in mobile and "派单说明" not in mobile
    refused = client.post(f"/orders/{pending_order.number}/actions/dispatch", data={
        "csrf_token": token_from(page), "department_id": people.rsj.id})
    assert refused.status_code in (302, 403)
    assert order_state(session_factory, pending_order.number) == State.PENDING_DISPATCH


def test_dispatch_from_detail_blows_the_whistle(client, people, pending_order, session_factory):
    login(client, "dispatcher")
    token = page_token(client, f"/orders/{pending_order.number}")
    response = client.post(f"/orders/{pending_order.number}/actions/dispatch",
                           data={"csrf_token": token, "department_id": people.rsj.id, "note": "请人社局牵头"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已派单至 人社局" in page
    assert order_state(session_factory, pending_order.number) == State.DISPATCHED
    with session_factory() as s:
        kinds = set(s.scalars(select(OutboundMessage.kind).where(OutboundMessage.work_order_id == pending_order.id)))
    assert {"whistle", "card"} <= kinds


def test_board_for_hubs_only(client, people, pending_order):
    login(client, "dispatcher")
    board = client.get("/board").get_data(as_text=True)
    assert "待派单" in board and pending_order.number in board and "延期待审批" in board
    client.post("/logout", data={"csrf_token": token_from(board)})
    login(client, "staff")
    response = client.get("/board")
    assert response.status_code == 403 and "无权访问" in response.get_data(as_text=True)


# --------------------------------------------------------------------------------------------
# Errors: CSRF, permissions, transitions, missing fields
# --------------------------------------------------------------------------------------------
def test_forged_csrf_token_is_refused_and_nothing_changes(client, people, pending_order, session_factory):
    login(client, "dispatcher")
    response = client.post(f"/orders/{pending_order.number}/actions/dispatch",
                           data={"csrf_token": "forged-token", "department_id": people.rsj.id})
    assert response.status_code == 400
    assert "安全校验未通过" in response.get_data(as_text=True)
    assert order_state(session_factory, pending_order.number) == State.PENDING_DISPATCH


def test_wrong_role_gets_403_in_chinese(client, people, pending_order, session_factory):
    login(client, "leader")
    token = page_token(client)
    response = client.post(f"/orders/{pending_order.number}/actions/dispatch",
                           data={"csrf_token": token, "department_id": people.rsj.id})
    assert response.status_code == 403
    assert "无权对工单" in response.get_data(as_text=True)
    assert order_state(session_factory, pending_order.number) == State.PENDING_DISPATCH


def test_illegal_transition_is_explained_and_nothing_changes(client, people, pending_order, session_factory):
    login(client, "dispatcher")
    token = page_token(client)
    response = client.post(f"/orders/{pending_order.number}/actions/sign", data={"csrf_token": token})
    assert response.status_code == 409
    assert "不能签收报到" in response.get_data(as_text=True)
    assert order_state(session_factory, pending_order.number) == State.PENDING_DISPATCH
    assert client.post(f"/orders/{pending_order.number}/actions/fly", data={"csrf_token": token}).status_code == 404


def test_missing_fields_keep_what_was_typed(client, people, pending_order, session_factory):
    login(client, "dispatcher")
    token = page_token(client)
    response = client.post(f"/orders/{pending_order.number}/actions/dispatch",
                           data={"csrf_token": token, "department_id": "", "note": "请务必三天内联系企业XYZ"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请选择承办部门" in html and "请务必三天内联系企业XYZ" in html and "工单未作任何改动" in html
    assert order_state(session_factory, pending_order.number) == State.PENDING_DISPATCH


def test_failed_escalation_leaves_level_untouched(client, people, pending_order, session_factory):
    login(client, "dispatcher")
    token = page_token(client)
    # Level 4 without a city route: the operation fails after it already changed the level in memory.
    response = client.post(f"/orders/{pending_order.number}/actions/escalate",
                           data={"csrf_token": token, "level": "4", "reason": "涉及跨区协调事项",
                                 "route": "city_department", "city_department": ""})
    assert response.status_code == 422
    assert "请填写市级部门名称" in response.get_data(as_text=True)
    with session_factory() as s:
        assert s.scalar(select(WorkOrder.level).where(WorkOrder.id == pending_order.id)) == 2


# --------------------------------------------------------------------------------------------
# New request and attachments
# --------------------------------------------------------------------------------------------
def new_order_form(client, enterprise_id, **extra) -> dict:
    token = page_token(client, "/orders/new")
    data = {"csrf_token": token, "enterprise_id": str(enterprise_id), "level": "2",
            "content": "企业扩大生产需要招聘技术工人，希望对接人社部门的招聘会", "priority": "normal"}
    data.update(extra)
    return data


def test_create_with_attachment_and_download(client, people, session_factory, upload_root):
    login(client, "staff")
    data = new_order_form(client, people.enterprise.id)
    data["attachments"] = [(io.BytesIO(PNG), "现场照片.png"), (io.BytesIO(b"%PDF-1.4 test"), "../../营业执照.pdf")]
    response = client.post("/orders/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "诉求已提交" in page and "现场照片.png" in page and "营业执照.pdf" in page
    with session_factory() as s:
        order = s.scalar(select(WorkOrder))
        assert order.state == State.PENDING_DISPATCH  # level 2 without a department: the grid center dispatches
        stored = s.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.filename for a in stored] == ["现场照片.png", "营业执照.pdf"]
    assert stored[0].content_type == "image/png" and stored[0].size == len(PNG)
    assert (upload_root / stored[0].storage_key).read_bytes() == PNG
    assert stored[0].storage_key == f"{stored[0].sha256[:2]}/{stored[0].sha256}"

    download = client.get(f"/attachments/{stored[0].id}")
    assert download.status_code == 200 and download.data == PNG
    assert "attachment" in download.headers["Content-Disposition"]
    client.post("/logout", data={"csrf_token": token_from(page)})
    login(client, "staff2")
    assert client.get(f"/attachments/{stored[0].id}").status_code == 403


def test_attachments_are_stored_under_instance_dir(app, people, session_factory, tmp_path):
    """INSTANCE_DIR moves the data files, attachments included (README: 数据文件目录)."""
    from application import create_app
    from config import load_settings

    data_dir = tmp_path / "yxby-data"
    moved = create_app(settings=load_settings({
        "DATABASE_URL": app.extensions["settings"].database_url, "SECRET_KEY": "moved-" + "m" * 40,
        "INSTANCE_DIR": str(data_dir), "BASE_URL": "http://127.0.0.1:5000"}, read_dotenv=False))
    try:
        client = moved.test_client()
        login(client, "staff")
        data = new_order_form(client, people.enterprise.id)
        data["attachments"] = [(io.BytesIO(PNG), "现场照片.png")]
        assert client.post("/orders/new", data=data, content_type="multipart/form-data").status_code == 302
        with session_factory() as s:
            stored = s.scalar(select(Attachment))
        assert (data_dir / "uploads" / stored.storage_key).read_bytes() == PNG
        assert client.get(f"/attachments/{stored.id}").data == PNG
    finally:
        moved.extensions["db_engine"].dispose()


def test_attachment_over_the_limit_creates_nothing(app, client, people, session_factory, upload_root, monkeypatch):
    small = dataclasses.replace(app.extensions["settings"], upload_max_bytes=1024)
    monkeypatch.setitem(app.extensions, "settings", small)
    login(client, "staff")
    data = new_order_form(client, people.enterprise.id, title="带超大附件的诉求")
    data["attachments"] = [(io.BytesIO(PNG), "ok.png"), (io.BytesIO(PNG + b"\x00" * 2048), "big.png")]
    response = client.post("/orders/new", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "附件「big.png」超过单个文件 1 KB 的上限" in html
    assert "带超大附件的诉求" in html  # the form keeps what was typed
    with session_factory() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 0
        assert s.scalar(select(func.count(Attachment.id))) == 0
    assert files_under(upload_root) == []


def test_attachment_type_is_checked_by_name_and_content(client, people, session_factory, upload_root):
    login(client, "staff")
    for name, body, message in (("tool.exe", b"MZ\x90\x00", "类型不支持"), ("fake.pdf", b"MZ\x90\x00", "内容与扩展名")):
        data = new_order_form(client, people.enterprise.id)
        data["attachments"] = [(io.BytesIO(body), name)]
        response = client.post("/orders/new", data=data, content_type="multipart/form-data")
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    with session_factory() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 0
    assert files_under(upload_root) == []


def test_create_with_missing_content_keeps_values(client, people, session_factory):
    login(client, "staff")
    data = new_order_form(client, people.enterprise.id, content="短", contact_name="张经理")
    response = client.post("/orders/new", data=data, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "诉求内容至少" in html and "张经理" in html
    with session_factory() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 0


def test_staff_cannot_file_for_another_zone(client, people, factory, session, session_factory):
    elsewhere = factory.enterprise(zone=factory.zone("beicang"), staff=people.other_zone)
    session.commit()
    login(client, "staff")
    response = client.post("/orders/new", data=new_order_form(client, elsewhere.id),
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "只能选择本片区的企业" in response.get_data(as_text=True)


def test_enterprise_search_is_scoped_to_the_zone(client, people, factory, session):
    factory.enterprise(zone=factory.zone("beicang"), name="天津北仓物流有限公司")
    session.commit()
    login(client, "staff")
    items = client.get("/enterprises/search?q=天津").get_json()["items"]
    assert [i["name"] for i in items] == ["天津天穆精密机械有限公司"]
    assert items[0]["staff"] == "王服务" and items[0]["zone"] == "天穆镇" and len(items[0]["uscc"]) == 18
    client.post("/logout", data={"csrf_token": page_token(client)})
    login(client, "dispatcher")
    names = {i["name"] for i in client.get("/enterprises/search?q=天津").get_json()["items"]}
    assert names == {"天津天穆精密机械有限公司", "天津北仓物流有限公司"}


def test_mobile_link_serves_the_h5_page_to_a_console_session(client, people, pending_order):
    # The chat links point at /m/…; a person signed in to the console sees the H5 page directly.
    login(client, "staff")
    response = client.get(f"/m/orders/{pending_order.number}")
    assert response.status_code == 200 and pending_order.number in response.get_data(as_text=True)


# --------------------------------------------------------------------------------------------
# Sandbox
# --------------------------------------------------------------------------------------------
def test_sandbox_is_for_sysadmins(client, people):
    login(client, "dispatcher")
    assert client.get("/sandbox").status_code == 403
    client.post("/logout", data={"csrf_token": page_token(client)})
    login(client, "admin")
    page = client.get("/sandbox").get_data(as_text=True)
    assert "沙箱消息（模拟企业微信/钉钉，仅用于演示与测试）" in page


def test_sandbox_shows_the_whistle_and_acts_as_a_person(client, people, pending_order, session_factory):
    login(client, "dispatcher")
    token = page_token(client)
    client.post(f"/orders/{pending_order.number}/actions/dispatch",
                data={"csrf_token": token, "department_id": people.rsj.id})
    client.post("/logout", data={"csrf_token": token})

    login(client, "admin")
    token = page_token(client, "/sandbox")
    response = client.post("/sandbox/deliver", data={"csrf_token": token})
    assert "投递完成" in client.get(response.headers["Location"]).get_data(as_text=True)
    group = f"group:{people.rsj.id}"
    page = client.get(f"/sandbox?c={group}").get_data(as_text=True)
    assert "人社局工作群" in page and '<span class="mention">@孙帮办</span>' in page
    partial = client.get(f"/sandbox/messages?c={group}").get_data(as_text=True)
    assert "吹哨报到" in partial and "<html" not in partial

    # The chief helper presses 报到 on the card in his inbox.
    with session_factory() as s:
        card = s.scalar(select(SandboxMessage).where(SandboxMessage.conversation == f"person:{people.helper.id}",
                                                     SandboxMessage.card.is_not(None)))
    response = client.post("/sandbox/button", data={"csrf_token": token, "message_id": card.id,
                                                     "key": f"sign:{pending_order.number}", "person_id": ""})
    assert response.status_code == 302
    assert order_state(session_factory, pending_order.number) == State.PROCESSING

    # And types a command in his inbox.
    response = client.post("/sandbox/send", data={"csrf_token": token, "conversation": f"person:{people.helper.id}",
                                                   "person_id": str(people.helper.id), "text": "我的工单"})
    assert response.status_code == 302
    client.post("/sandbox/deliver", data={"csrf_token": token})
    inbox = client.get(f"/sandbox?c=person:{people.helper.id}").get_data(as_text=True)
    assert "我的工单" in inbox and "已由孙帮办报到" in inbox


# --------------------------------------------------------------------------------------------
# Every form maps onto its operation
# --------------------------------------------------------------------------------------------
def act(client, number: str, action: str, **fields):
    token = page_token(client, f"/orders/{number}")
    response = client.post(f"/orders/{number}/actions/{action}", data={"csrf_token": token, **fields})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def switch(client, username: str) -> None:
    client.post("/logout", data={"csrf_token": page_token(client, "/")})
    login(client, username)


def test_whole_loop_through_the_console(client, people, pending_order, session_factory):
    number = pending_order.number
    login(client, "dispatcher")
    act(client, number, "dispatch", department_id=people.rsj.id)
    switch(client, "helper")
    page = client.get(f"/orders/{number}").get_data(as_text=True)
    assert "签收报到（本人牵头办理）" in page and "/actions/dispatch" not in page
    assert "已签收报到" in act(client, number, "sign")
    assert "等待区网格中心审批" in act(client, number, "request_extension", days="2", reason="需等待企业补充材料")
    switch(client, "dispatcher")
    assert "申请延期 2 个工作日" in client.get(f"/orders/{number}").get_data(as_text=True)
    assert "已同意延期" in act(client, number, "decide_extension", decision="approve", note="同意")
    switch(client, "helper")
    act(client, number, "reply", text="已联系企业，下周安排专场招聘会")
    assert "已办结" in act(client, number, "resolve", result="已组织专场招聘会，企业招到 32 名技术工人")
    switch(client, "staff")
    act(client, number, "feedback", note="电话告知企业负责人")
    page = act(client, number, "visit", satisfaction="满意", resolved="yes", method="phone", comment="")
    assert "回访已登记，工单已归档" in page and "第 1 次" in page
    assert order_state(session_factory, number) == State.ARCHIVED


def test_screening_suggestion_needs_a_reason_to_override(client, people, session_factory):
    login(client, "staff")
    data = new_order_form(client, people.enterprise.id, level="1",
                          content="企业与供应商合同纠纷已经起诉到法院，希望帮助协调判决执行")
    response = client.post("/orders/new", data=data, content_type="multipart/form-data")
    number = response.headers["Location"].rsplit("/", 1)[-1]
    page = client.get(f"/orders/{number}").get_data(as_text=True)
    assert "甄别建议（需人工确认）" in page and "涉法涉诉" in page
    token = token_from(page)
    response = client.post(f"/orders/{number}/actions/accept", data={"csrf_token": token, "reason": ""})
    assert response.status_code == 422 and order_state(session_factory, number) == State.RECEIVED
    page = act(client, number, "reject", category="litigation", reason="属于涉法涉诉事项，应通过司法途径解决",
               proper_channel="人民法院诉讼服务中心")
    assert "已确认不予受理" in page
    assert order_state(session_factory, number) == State.REJECTED


def test_level_three_joint_meeting_and_city_escalation(client, people, factory, session, now, session_factory):
    bizenv = factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"), login="bizenv")
    order = factory.order(people.staff, now, enterprise=people.enterprise, level=3,
                          content="企业新建厂房涉及规划、消防、供电多个部门，需要协调推进")
    departments = [factory.department(code).id for code in ("rsj", "zjw")]
    session.commit()  # nothing below may touch this session again: SQLite has one writer
    assert bizenv.id and order.state == State.PENDING_DISPATCH
    login(client, "bizenv")
    page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "/actions/joint_meeting" in page
    page = act(client, order.number, "joint_meeting", held_on="2026-03-03",
               department_ids=[str(d) for d in departments], lead_department_id=str(departments[1]),
               decisions="住建委牵头，人社局配合")
    assert "联席会商已记录" in page and "住建委牵头，人社局配合" in page

    switch(client, "dispatcher")
    page = act(client, order.number, "escalate", level="4", reason="涉及市级审批权限，需提级办理",
               route="12345", city_deadline="2026-03-20")
    assert "已升级为市级提级办理" in page and "市12345热线企业服务专席" in page
    page = act(client, order.number, "city_reference", city_reference="TJ12345-0001")
    assert "市级编号已登记" in page and "TJ12345-0001" in page


def test_staff_confirms_an_enterprise_self_service_request_from_the_detail_page(
    client, people, factory, session, session_factory, now
):
    from services.messaging.notify import Channels
    from services.orders import operations as wo

    ctx = wo.OpContext(session, None, now, "public", Channels(sandbox=True))
    order = wo.create_order(ctx, wo.NewOrder(enterprise_id=people.enterprise.id, level=1, await_confirmation=True,
                                              content="企业自助提交：厂区门前路灯损坏，夜间出行不便"))
    session.commit()
    assert order.state == State.RECEIVED
    login(client, "staff")
    page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "/actions/accept" in page and "企业自助提交的诉求" in page
    act(client, order.number, "accept", note="已电话核实")
    assert order_state(session_factory, order.number) == State.PROCESSING


def test_a_form_sent_ten_times_at_once_is_one_order(app, client, people, session_factory, upload_root):
    """Double clicks and resent pages: the form's one-time key makes them one submission."""
    import threading

    login(client, "staff")
    page = client.get("/orders/new").get_data(as_text=True)
    key = re.search(r'name="submission_key" value="([^"]+)"', page).group(1)
    cookie = client.get_cookie("session").value
    data = {"csrf_token": token_from(page), "enterprise_id": str(people.enterprise.id), "level": "2",
            "submission_key": key, "priority": "normal",
            "content": "企业扩大生产需要招聘技术工人，希望对接人社部门的招聘会"}
    statuses, barrier = [], threading.Barrier(10)

    def post():
        other = app.test_client()
        other.set_cookie("session", cookie)
        barrier.wait()
        statuses.append(other.post("/orders/new", data=dict(data)).status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 10
    with session_factory() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 1
    # A fresh page is a fresh key: the same text filed again on purpose is a second order (once the
    # person has said it is no repeat of the first).
    again = client.post("/orders/new", data=new_order_form(client, people.enterprise.id))
    assert again.status_code == 409 and "可能重复" in again.get_data(as_text=True)
    again = client.post("/orders/new", data=new_order_form(client, people.enterprise.id, duplicate_choice="new"))
    assert again.status_code == 302
    with session_factory() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 2


# --------------------------------------------------------------------------------------------
# The order page: the step the order waits for is open; each error is said once
# --------------------------------------------------------------------------------------------
def _open_panels(html: str) -> list[str]:
    return re.findall(r'<details class="action[^"]*" id="act-(\w+)"\s+open>', html)


def _visible(html: str) -> str:
    from tests.handlers.test_demo_pages import visible_text

    return visible_text(html)[0]


def test_the_dispatchers_main_action_is_open(client, people, pending_order):
    login(client, "dispatcher")
    html = client.get(f"/orders/{pending_order.number}").get_data(as_text=True)
    panels = re.findall(r'id="act-(\w+)"', html)
    assert len(panels) >= 5 and "dispatch" in panels  # 派单 among 不予受理, 转办, 升级, 督办, 备注 …
    assert _open_panels(html) == ["dispatch"]


def test_the_handlers_and_the_staffs_main_actions_are_open(client, people, pending_order, factory, now, session):
    wo.dispatch(factory.ctx(people.dispatcher, now), pending_order, department_id=people.rsj.id)
    wo.sign(factory.ctx(people.helper, now), pending_order)
    session.commit()
    login(client, "helper")
    assert _open_panels(client.get(f"/orders/{pending_order.number}").get_data(as_text=True)) == ["resolve"]
    wo.resolve(factory.ctx(people.helper, now), pending_order, result="已安排专场招聘会")
    session.commit()
    switch(client, "staff")
    assert _open_panels(client.get(f"/orders/{pending_order.number}").get_data(as_text=True)) == ["feedback"]
    switch(client, "leader")  # read-only: nothing to open
    assert _open_panels(client.get(f"/orders/{pending_order.number}").get_data(as_text=True)) == []


def test_joint_meeting_departments_are_checkboxes_and_the_error_is_said_once(
    client, people, factory, session, now, session_factory
):
    factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"), login="bizenv")
    order = factory.order(people.staff, now, enterprise=people.enterprise, level=3,
                          content="企业新建厂房涉及规划、消防、供电多个部门，需要协调推进")
    rsj, zjw = people.rsj.id, factory.department("zjw").id
    session.commit()
    login(client, "bizenv")
    html = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert 'type="checkbox" name="department_ids"' in html and "<select name=\"department_ids\"" not in html
    token = page_token(client, f"/orders/{order.number}")
    response = client.post(f"/orders/{order.number}/actions/joint_meeting", data={
        "csrf_token": token, "held_on": "2026-03-03", "department_ids": [str(rsj)], "lead_department_id": str(zjw),
        "decisions": "住建委牵头，人社局配合"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    text = _visible(html)
    assert text.count("联席会商至少需要两个参会部门") == 1 and "至少两个" not in text.replace("（至少两个）", "")
    assert "工单未作任何改动" in text and _open_panels(html) == ["joint_meeting"]
    # What was chosen and typed is still there, and the field is marked.
    assert re.search(rf'name="department_ids" value="{rsj}" checked', html)
    assert "住建委牵头，人社局配合" in html and 'check-picker field-invalid' in html
    assert order_state(session_factory, order.number) == State.PENDING_DISPATCH

    token = page_token(client, f"/orders/{order.number}")
    response = client.post(f"/orders/{order.number}/actions/joint_meeting", data={
        "csrf_token": token, "held_on": "2026-03-03", "department_ids": [str(rsj), str(zjw)],
        "lead_department_id": "", "decisions": "住建委牵头，人社局配合"})
    html = response.get_data(as_text=True)
    assert _visible(html).count("请选择牵头部门") == 1
    assert re.search(r'<label class="field-invalid">牵头部门', html)  # not the 参会部门 field


def test_a_missing_field_is_said_once(client, people, pending_order):
    login(client, "dispatcher")
    token = page_token(client)
    response = client.post(f"/orders/{pending_order.number}/actions/dispatch",
                           data={"csrf_token": token, "department_id": "", "note": "请尽快联系企业"})
    html = response.get_data(as_text=True)
    assert _visible(html).count("请选择承办部门") == 1 and 'class="field-error"' not in html
    assert re.search(r'<label class="field-invalid">承办部门', html)
