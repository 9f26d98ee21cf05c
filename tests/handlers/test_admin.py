"""Admin pages through the test client: access, CSRF, validation shown on the form, effects, audit."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from database import session_scope
from models import (
    AuditLog,
    ChatGroup,
    ConsoleLogin,
    HolidayOverride,
    InboundMessage,
    InboxStatus,
    OutboxStatus,
    Person,
    Role,
    ScreeningRule,
    SlaPolicy,
)
from services.messaging import inbox, outbox
from services.orders.deadlines import load_calendar
from tests.factories import sign_in_cookie

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client, person: Person) -> None:
    sign_in_cookie(client, person)


class Web:
    """The test client, ending the test's own transaction before each request.

    On SQLite every transaction holds the write lock (BEGIN IMMEDIATE), so the test session must
    not sit in one while the app handles a request; afterwards its objects are re-read.
    """

    def __init__(self, client, session):
        self.client = client
        self.session = session

    def _settle(self) -> None:
        self.session.commit()
        self.session.expire_all()

    def get(self, path: str):
        self._settle()
        return self.client.get(path)

    def csrf(self, path: str = "/admin/") -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return CSRF.search(response.get_data(as_text=True)).group(1)

    def post(self, path: str, data: dict, *, token_from: str = "/admin/", csrf: bool = True):
        payload = {"csrf_token": self.csrf(token_from), **data} if csrf else data
        self._settle()
        return self.client.post(path, data=payload)

    def sign_in(self, person: Person) -> None:
        self._settle()
        sign_in(self.client, person)


@pytest.fixture
def sysadmin(factory):
    return factory.person(Role.SYSADMIN, name="系统管理员甲")


@pytest.fixture
def web(client, session):
    return Web(client, session)


@pytest.fixture
def admin_web(web, sysadmin):
    web.sign_in(sysadmin)
    return web


def audit_actions(session) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


# --------------------------------------------------------------------------------------------
# Access
# --------------------------------------------------------------------------------------------
def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/people")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", [Role.SERVICE_STAFF, Role.CHIEF_HELPER, Role.DISTRICT_LEADER, Role.BIZENV_OFFICE])
def test_non_admins_get_a_chinese_403(web, factory, role):
    dept = factory.department("rsj") if role == Role.CHIEF_HELPER else None
    person = factory.person(role, department=dept)
    web.sign_in(person)
    for path in ("/admin/", "/admin/people", "/admin/sla", "/admin/outbox", "/admin/inbound"):
        response = web.get(path)
        assert response.status_code == 403, path
        assert "无权访问此页面" in response.get_data(as_text=True)


def test_dispatcher_may_view_sla_and_holidays_only(web, factory, session):
    dispatcher = factory.person(Role.DISPATCHER)
    web.sign_in(dispatcher)
    for path in ("/admin/", "/admin/sla", "/admin/holidays"):
        response = web.get(path)
        assert response.status_code == 200, path
        assert "新增领域专门策略" not in response.get_data(as_text=True)
    for path in ("/admin/people", "/admin/zones", "/admin/screening", "/admin/sla/new", "/admin/inbound"):
        assert web.get(path).status_code == 403, path
    response = web.post("/admin/holidays", {"day": "2027-01-04", "kind": "off"}, token_from="/admin/holidays")
    assert response.status_code == 403
    assert session.scalar(select(HolidayOverride.id)) is None


def test_every_page_renders_for_the_admin(admin_web, factory, session):
    dept = factory.department("rsj")
    person = factory.person(Role.CHIEF_HELPER, department=dept, login="helper1")
    rule = session.scalars(select(ScreeningRule)).first()
    policy = session.scalars(select(SlaPolicy)).first()
    paths = ["/admin/", "/admin/zones", "/admin/departments", f"/admin/departments/{dept.id}", "/admin/people",
             "/admin/people?role=chief_helper&active=1", f"/admin/people?department_id={dept.id}",
             "/admin/people/new", f"/admin/people/{person.id}", "/admin/sla", "/admin/sla/new",
             f"/admin/sla/{policy.id}", "/admin/holidays", "/admin/holidays?all=1", "/admin/screening",
             "/admin/screening/new", f"/admin/screening/{rule.id}", "/admin/settings", "/admin/outbox",
             "/admin/outbox?status=dead", "/admin/inbound", "/admin/inbound?status=failed", "/admin/audit"]
    for path in paths:
        response = admin_web.get(path)
        assert response.status_code == 200, path
        assert "管理" in response.get_data(as_text=True)
    assert admin_web.get("/admin/people/999999").status_code == 404


def test_posts_without_csrf_are_refused(admin_web, factory, session):
    zone = factory.zone()
    response = admin_web.post(f"/admin/zones/{zone.id}", {"name": "改名镇", "sort_order": "1"}, csrf=False)
    assert response.status_code == 400
    assert "安全校验未通过" in response.get_data(as_text=True)
    session.refresh(zone)
    assert zone.name == "天穆镇"


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------
def test_person_with_wrong_unit_shows_field_error(admin_web, factory, session):
    dept = factory.department("rsj")
    zone = factory.zone()
    response = admin_web.post("/admin/people/new", {
        "name": "错配人员", "role": Role.SERVICE_STAFF, "zone_id": str(zone.id), "department_id": str(dept.id),
    })
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "为企服务人员属于片区，不能同时选择部门" in html
    assert 'value="错配人员"' in html  # the input is kept
    response = admin_web.post("/admin/people/new", {"name": "无部门帮办", "role": Role.CHIEF_HELPER})
    assert response.status_code == 422
    assert "首席帮办必须选择所属部门或单位" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(Person.id).where(Person.name.in_(("错配人员", "无部门帮办")))) is None
    assert audit_actions(session) == []


def test_person_create_login_and_deactivate(admin_web, factory, session):
    dept = factory.department("rsj")
    stage = factory.stage("startup")
    response = admin_web.post("/admin/people/new", {
        "name": "新帮办", "role": Role.CHIEF_HELPER, "department_id": str(dept.id), "stage_ids": [str(stage.id)],
        "dingtalk_userid": "ding-new",
    })
    assert response.status_code == 302
    session.expire_all()
    person = session.scalars(select(Person).where(Person.name == "新帮办")).one()
    assert [s.code for s in person.stages] == ["startup"]

    response = admin_web.post(f"/admin/people/{person.id}/login", {"username": "xinbangban", "password": "short"})
    assert response.status_code == 422 and "密码至少 8 位" in response.get_data(as_text=True)
    response = admin_web.post(f"/admin/people/{person.id}/login",
                    {"username": "xinbangban", "password": "helper-pass-1"})
    assert response.status_code == 302
    # The new account works on the console's own sign-in page.
    other = admin_web.client.application.test_client()
    token = CSRF.search(other.get("/login").get_data(as_text=True)).group(1)
    signed = other.post("/login", data={"csrf_token": token, "username": "xinbangban", "password": "helper-pass-1"})
    assert signed.status_code == 302

    response = admin_web.post(f"/admin/people/{person.id}/deactivate", {})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Person, person.id).active is False
    assert session.scalar(select(ConsoleLogin.username).where(ConsoleLogin.person_id == person.id)) == "xinbangban"
    assert audit_actions(session) == ["person.create", "login.create", "person.deactivate"]


# --------------------------------------------------------------------------------------------
# Departments and chat groups: secrets stay masked
# --------------------------------------------------------------------------------------------
def test_chat_group_secrets_never_rendered(admin_web, factory, session):
    dept = factory.department("cgw")
    key = "wecomrobotkey-0123456789abcdef"
    secret = "SEC0123456789abcdefsecretpart"
    token_page = f"/admin/departments/{dept.id}"
    assert admin_web.post(f"/admin/departments/{dept.id}/chat/wecom",
                {"name": "城管委服务群", "robot_key": key, "active": "1"}, token_from=token_page).status_code == 302
    assert admin_web.post(f"/admin/departments/{dept.id}/chat/dingtalk",
                {"name": "城管委钉钉群", "robot_key": "dingaccesstoken987654321", "robot_secret": secret,
                 "active": "1"}, token_from=token_page).status_code == 302
    # Saving again with empty secret fields keeps them.
    assert admin_web.post(f"/admin/departments/{dept.id}/chat/dingtalk",
                {"name": "城管委钉钉群2", "robot_key": "", "robot_secret": "", "active": "1"},
                token_from=token_page).status_code == 302
    session.expire_all()
    group = session.scalars(select(ChatGroup).where(ChatGroup.platform == "dingtalk")).one()
    assert group.robot_secret == secret and group.robot_key == "dingaccesstoken987654321"

    for path in (token_page, "/admin/departments", "/admin/audit", "/admin/"):
        html = admin_web.get(path).get_data(as_text=True)
        for leaked in (key, secret, "dingaccesstoken987654321", key[4:12], secret[4:12]):
            assert leaked not in html, (path, leaked)
    html = admin_web.get(token_page).get_data(as_text=True)
    assert "SEC0****" in html and "weco****" in html

    # A validation failure re-renders the page: the typed secret is not echoed back either.
    response = admin_web.post(f"/admin/departments/{dept.id}/chat/dingtalk",
                    {"robot_key": "bad key!", "robot_secret": "SECtypedbutinvalidkey1"}, token_from=token_page)
    assert response.status_code == 422
    assert "SECtypedbutinvalidkey1" not in response.get_data(as_text=True)


def test_department_edit_and_new_unit(admin_web, factory, session):
    dept = factory.department("gxj")
    page = f"/admin/departments/{dept.id}"
    response = admin_web.post(page, {"duty": "工业运行", "keywords": "专精特新,技改", "sort_order": "7",
                                         "active": "1"}, token_from=page)
    assert response.status_code == 302
    response = admin_web.post(f"{page}/units", {"name": "北辰移动分公司", "keywords": "基站,宽带"}, token_from=page)
    assert response.status_code == 302
    html = admin_web.get("/admin/departments").get_data(as_text=True)
    assert "北辰移动分公司" in html
    response = admin_web.post(f"{page}/units", {"name": ""}, token_from=page)
    assert response.status_code == 422 and "请填写单位名称" in response.get_data(as_text=True)
    assert audit_actions(session) == ["department.update", "department.create_unit"]


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------
def _generic(session, priority="normal", level=1) -> SlaPolicy:
    return session.scalars(select(SlaPolicy).where(SlaPolicy.domain_id.is_(None), SlaPolicy.priority == priority,
                                                   SlaPolicy.level == level)).one()


SLA_OK = {"sign_workdays": "1", "handle_workdays": "4", "remind_percents": "50,80", "leader_after_workdays": "1",
          "bizenv_after_workdays": "2", "return_limit_workdays": "1", "return_limit_workdays_complex": "2"}


def test_sla_policy_validation_and_save(admin_web, session):
    policy = _generic(session)
    path = f"/admin/sla/{policy.id}"
    response = admin_web.post(path, {**SLA_OK, "sign_workdays": "", "remind_percents": "50,120"}, token_from=path)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请填写签收时限" in html and "提醒比例为 1–99" in html
    assert 'value="50,120"' in html
    response = admin_web.post(path, SLA_OK, token_from=path)
    assert response.status_code == 302
    session.expire_all()
    assert session.get(SlaPolicy, policy.id).handle_workdays == 4
    row = session.scalars(select(AuditLog).where(AuditLog.action == "sla.update")).one()
    assert row.detail["changes"]["handle_workdays"] == [3, 4] and row.ip == "127.0.0.1"
    assert "4 个工作日" in admin_web.get("/admin/sla").get_data(as_text=True)


def test_holiday_add_and_delete_reach_the_calendar(admin_web, session):
    html = admin_web.get("/admin/holidays").get_data(as_text=True)
    assert "2027 年法定节假日尚未内置，请在此录入" in html
    day = date(2027, 3, 8)  # a Monday, no statutory holiday
    response = admin_web.post("/admin/holidays", {"day": day.isoformat(), "kind": "off", "note": "春节"},
                    token_from="/admin/holidays")
    assert response.status_code == 302
    session.expire_all()
    assert load_calendar(session).is_workday(day) is False
    html = admin_web.get("/admin/holidays").get_data(as_text=True)
    assert "2027-03-08" in html and "春节" in html and "已录入 1 天" in html

    response = admin_web.post("/admin/holidays", {"day": day.isoformat(), "kind": "work"},
                    token_from="/admin/holidays")
    assert response.status_code == 422 and "该日期已有调整记录" in response.get_data(as_text=True)

    row = session.scalars(select(HolidayOverride)).one()
    response = admin_web.post(f"/admin/holidays/{row.id}/delete", {}, token_from="/admin/holidays")
    assert response.status_code == 302
    session.expire_all()
    assert load_calendar(session).is_workday(day) is True
    assert audit_actions(session) == ["holiday.add", "holiday.delete"]


def test_screening_rule_edit_changes_intake(admin_web, factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF)
    rule = session.scalars(select(ScreeningRule).where(ScreeningRule.category == "privacy")).one()
    text = "请帮忙查一下隔壁厂老板的车牌号和常去地点"
    response = admin_web.post("/admin/screening/try", {"sample": text}, token_from="/admin/screening")
    assert response.status_code == 200 and "未命中任何规则" in response.get_data(as_text=True)

    path = f"/admin/screening/{rule.id}"
    response = admin_web.post(path, {"keywords": rule.keywords + "\n车牌号+常去地点", "reason": rule.reason,
                                         "proper_channel": rule.proper_channel, "active": "1"}, token_from=path)
    assert response.status_code == 302
    response = admin_web.post("/admin/screening/try", {"sample": text}, token_from="/admin/screening")
    html = response.get_data(as_text=True)
    assert "建议不予受理：涉及个人隐私" in html and "车牌号+常去地点" in html

    session.expire_all()
    order = factory.order(staff, now, content=text)
    assert order.screening_category == "privacy"

    response = admin_web.post(path, {"keywords": "", "reason": "", "proper_channel": ""}, token_from=path)
    assert response.status_code == 422 and "请填写关键词" in response.get_data(as_text=True)
    assert audit_actions(session) == ["screening.update"]


def test_settings_page(admin_web, session):
    html = admin_web.get("/admin/settings").get_data(as_text=True)
    # Nothing saved yet: the page shows what is in force, the environment's default (SURVEY_DELAY_HOURS).
    assert 'name="survey_delay_hours" min="0" max="720" required value="24"' in html
    response = admin_web.post("/admin/settings", {"max_returns": "11", "survey_delay_hours": "24",
                                                      "survey_reminder_hours": "24"}, token_from="/admin/settings")
    assert response.status_code == 422 and "退单次数上限不能大于 10" in response.get_data(as_text=True)
    assert 'name="duplicate_window_days" min="1" max="365" required value="30"' in html
    response = admin_web.post("/admin/settings", {"max_returns": "2", "survey_delay_hours": "6",
                                                      "survey_reminder_hours": "24", "duplicate_window_days": "20",
                                                      "duplicate_similarity_percent": "40"},
                              token_from="/admin/settings")
    assert response.status_code == 302
    html = admin_web.get("/admin/settings").get_data(as_text=True)
    assert 'name="max_returns" min="1" max="10" required value="2"' in html
    assert 'name="duplicate_window_days" min="1" max="365" required value="20"' in html


def test_zone_edit_error_is_shown_on_its_row(admin_web, factory, session):
    zone = factory.zone("tianmu")
    response = admin_web.post(f"/admin/zones/{zone.id}", {"name": "北仓镇", "sort_order": "1", "active": "1"},
                    token_from="/admin/zones")
    assert response.status_code == 422 and "已有同名片区" in response.get_data(as_text=True)
    response = admin_web.post(f"/admin/zones/{zone.id}", {"name": "天穆镇", "sort_order": "40", "active": "1"},
                    token_from="/admin/zones")
    assert response.status_code == 302
    assert audit_actions(session) == ["zone.update"]


# --------------------------------------------------------------------------------------------
# Delivery log and audit log
# --------------------------------------------------------------------------------------------
def test_outbox_dead_letter_resend(admin_web, session, now):
    message = outbox.enqueue(session, outbox.Envelope("dingtalk", "whistle", "group", "3", {"text": "吹哨"}, "w-1"),
                             now=now)
    outbox.mark_failed(session, message, error="errcode 310000 sign not match", now=now, max_attempts=8,
                       permanent=True)
    html = admin_web.get("/admin/outbox?status=dead").get_data(as_text=True)
    assert "发送失败" in html and "310000" in html and "重新发送" in html
    response = admin_web.post(f"/admin/outbox/{message.id}/retry", {"status": "dead"}, token_from="/admin/outbox")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(type(message), message.id).status == OutboxStatus.PENDING
    response = admin_web.post(f"/admin/outbox/{message.id}/retry", {}, token_from="/admin/outbox")
    assert response.status_code == 409
    html = admin_web.get("/admin/audit").get_data(as_text=True)
    assert "重新发送消息" in html and "系统管理员甲" in html



# --------------------------------------------------------------------------------------------
# Inbound callback log
# --------------------------------------------------------------------------------------------
WEBHOOK = "https://oapi.dingtalk.com/robot/sendBySession?session=secret-session-token"


@pytest.fixture
def callbacks(session_factory, session, admin_web, now) -> dict[str, int]:
    """Two callbacks that failed for real (their platform is not switched on here), one done, one pending."""
    session.commit()  # SQLite: the test's own transaction must not hold the write lock
    with session_scope(session_factory) as s:
        inbox.store(s, "wecom", "msg:7001", {"message": {
            "MsgType": "text", "FromUserName": "staff01", "Content": "报到 0001 <script>alert(1)</script>",
            "MsgId": "7001"}, "ip": "203.0.113.9"}, now)
        inbox.store(s, "dingtalk", "msgDT01", {
            "msgId": "msgDT01", "msgtype": "text", "text": {"content": " 我的工单"}, "senderNick": "张三",
            "senderStaffId": "zhangsan", "conversationType": "2", "conversationTitle": "人社局工作群",
            "conversationId": "cid-1", "sessionWebhook": WEBHOOK}, now)
    assert inbox.process_due(session_factory, {}, now_fn=lambda: now, max_attempts=1).failed == 2
    with session_scope(session_factory) as s:
        s.add_all([
            InboundMessage(platform="wecom", dedupe_key="msg:7002", payload={"message": {
                "MsgType": "event", "Event": "template_card_event", "FromUserName": "helper01",
                "EventKey": "sign:0001", "ResponseCode": "secret-response-code"}}, status=InboxStatus.DONE,
                attempts=1, outcome="button sign:0001 ok=True", created_at=now, processed_at=now),
            InboundMessage(platform="wecom", dedupe_key="msg:7003", payload={}, created_at=now),
        ])
    with session_factory() as s:
        return {row.dedupe_key: row.id for row in s.scalars(select(InboundMessage))}


def test_inbound_log_lists_filters_and_keeps_payloads_safe(admin_web, callbacks):
    html = admin_web.get("/admin/inbound").get_data(as_text=True)
    assert "回调消息" in html and "待处理（1）" in html and "已处理（1）" in html and "处理失败（2）" in html
    assert "已处理的保留 90 天，处理失败的保留 270 天" in html
    assert f"IN-{callbacks['msg:7001']}" in html and "企业微信" in html and "钉钉" in html
    assert "staff01：报到 0001 &lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "张三（zhangsan） 在群「人社局工作群」：我的工单" in html
    assert "helper01：点击卡片按钮 sign:0001" in html and "button sign:0001 ok=True" in html
    assert "平台 &#39;wecom&#39; 未启用" in html  # the error, escaped
    # Nothing on the page can post to a conversation or change a card.
    assert "secret-session-token" not in html and "secret-response-code" not in html
    assert html.count("重新处理</button>") == 2

    failed = admin_web.get("/admin/inbound?status=failed").get_data(as_text=True)
    assert "msg:7001" in failed and "msgDT01" in failed and "msg:7002" not in failed and "msg:7003" not in failed
    done = admin_web.get("/admin/inbound?status=done").get_data(as_text=True)
    assert "msg:7002" in done and "msg:7001" not in done and "重新处理</button>" not in done


def test_a_failed_callback_is_sent_round_again_and_audited(admin_web, callbacks, session, session_factory):
    row_id = callbacks["msgDT01"]
    response = admin_web.post(f"/admin/inbound/{row_id}/retry", {"status": "failed"}, token_from="/admin/inbound")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/inbound?status=failed")
    assert f"回调消息 IN-{row_id} 已重新排队处理" in admin_web.get("/admin/inbound").get_data(as_text=True)

    session.expire_all()
    row = session.get(InboundMessage, row_id)
    assert (row.status, row.attempts, row.processed_at, row.outcome) == (InboxStatus.PENDING, 0, None, "")
    assert "未启用" in row.error  # kept until the next attempt clears or replaces it
    [entry] = session.scalars(select(AuditLog).where(AuditLog.action == "inbound.retry")).all()
    assert entry.target_id == str(row_id) and "系统管理员甲" in entry.actor_label
    assert entry.detail["reference"] == f"IN-{row_id}" and entry.detail["platform"] == "钉钉"
    assert entry.detail["attempts"] == 1 and "未启用" in entry.detail["error"]
    session.commit()
    with session_scope(session_factory) as s:  # due at once: the next process_inbound run takes it
        assert inbox.claim_due(s, now=datetime.now(UTC), limit=10) == sorted([row_id, callbacks["msg:7003"]])
    assert "重新处理回调消息" in admin_web.get("/admin/audit").get_data(as_text=True)


@pytest.mark.parametrize("key", ["msg:7002", "msg:7003"])
def test_only_failed_callbacks_may_be_retried(admin_web, callbacks, session, key):
    row_id = callbacks[key]
    before = session.get(InboundMessage, row_id)
    state = (before.status, before.attempts, before.next_attempt_at)
    response = admin_web.post(f"/admin/inbound/{row_id}/retry", {}, token_from="/admin/inbound")
    assert response.status_code == 302
    html = admin_web.get("/admin/inbound").get_data(as_text=True)
    assert f"回调消息 IN-{row_id} 当前为“{InboxStatus.LABELS[state[0]]}”，只有处理失败的回调消息可以重新处理" in html
    session.expire_all()
    after = session.get(InboundMessage, row_id)
    assert (after.status, after.attempts, after.next_attempt_at) == state
    assert "inbound.retry" not in audit_actions(session)
    assert admin_web.post("/admin/inbound/999999/retry", {}, token_from="/admin/inbound").status_code == 404


def test_only_the_sysadmin_may_retry_a_callback(web, factory, callbacks, session):
    row_id = callbacks["msg:7001"]
    web.sign_in(factory.person(Role.DISPATCHER))
    response = web.post(f"/admin/inbound/{row_id}/retry", {}, token_from="/admin/sla")
    assert response.status_code == 403 and "无权" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(InboundMessage, row_id).status == InboxStatus.FAILED
    assert web.post(f"/admin/inbound/{row_id}/retry", {}, csrf=False).status_code in (400, 403)


# --------------------------------------------------------------------------------------------
# Holidays from the State Council's notice
# --------------------------------------------------------------------------------------------
NOTICE_2027 = ("国务院办公厅关于2027年部分节假日安排的通知\n"
               "一、元旦：1月1日（周五）至3日（周日）放假，共3天。\n"
               "二、春节：2月6日（农历除夕、周六）至13日（农历正月初七、周六）放假调休，共8天。"
               "2月14日（周日）、2月20日（周六）上班。\n")


def test_a_pasted_notice_is_shown_for_confirmation_then_saved_as_overrides(admin_web, session):
    response = admin_web.post("/admin/holidays/notice", {"text": NOTICE_2027}, token_from="/admin/holidays")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "核对 2027 年节假日安排" in html
    assert "放假 11 天，调休上班 2 天" in html and "2027-02-14" in html and "春节调休上班" in html
    assert session.scalar(select(HolidayOverride.id)) is None  # nothing saved before the confirmation

    response = admin_web.post("/admin/holidays/notice/confirm", {"text": NOTICE_2027}, token_from="/admin/holidays")
    assert response.status_code == 302
    session.expire_all()
    calendar = load_calendar(session)
    assert calendar.is_workday(date(2027, 2, 8)) is False and calendar.is_workday(date(2027, 2, 14)) is True
    assert len(session.scalars(select(HolidayOverride)).all()) == 13
    assert audit_actions(session) == ["holiday.import"]
    # Confirming the same notice again changes nothing.
    admin_web.post("/admin/holidays/notice/confirm", {"text": NOTICE_2027}, token_from="/admin/holidays")
    session.expire_all()
    assert len(session.scalars(select(HolidayOverride)).all()) == 13


def test_a_text_that_is_no_notice_is_refused_in_chinese(admin_web, session):
    response = admin_web.post("/admin/holidays/notice", {"text": "放假安排另行通知"}, token_from="/admin/holidays")
    assert response.status_code == 422 and "未能从通知中识别年份" in response.get_data(as_text=True)


def test_from_november_the_console_warns_while_next_year_is_unconfigured(session):
    from services.admin.operations import calendar_warning

    assert calendar_warning(session, date(2026, 10, 31)) is None  # 2026 known, too early for 2027
    assert "2027 年的法定节假日" in calendar_warning(session, date(2026, 11, 1))
    assert "2027 年" in calendar_warning(session, date(2027, 3, 1))  # this year's plan missing: always
    session.add(HolidayOverride(day=date(2027, 1, 1), is_workday=False, note="元旦"))
    session.flush()
    assert calendar_warning(session, date(2026, 11, 1)) is None
