"""The H5 pages under /m through the Flask test client: sign-in by WeCom OAuth and DingTalk 免登
against the platform emulators, the submit form, order actions and the role checks."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from sqlalchemy import func, select

from config import DingTalkSettings
from database import session_scope
from models import Attachment, AuditLog, Person, Role, WorkOrder, WorkOrderEvent, utcnow
from services.admin import mobile_auth
from services.grid import wecom_roster
from services.messaging.notify import Channels
from services.orders.lifecycle import State

WXWORK_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 wxwork/4.1.22 MicroMessenger/7.0.1 Language/zh ColorScheme/Light")
DINGTALK_UA = ("Mozilla/5.0 (Linux; U; Android 13; zh-CN; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Version/4.0 Chrome/69.0.3497.100 Mobile Safari/537.36 AliApp(DingTalk/7.5.10) "
               "com.alibaba.android.rimet/36812278 Channel/700159 language/zh-CN")
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4 Mobile/15E148 Safari/604.1")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


@pytest.fixture(autouse=True)
def upload_root(app, tmp_path, monkeypatch):
    root = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_ROOT", str(root))
    return root


@pytest.fixture
def people(factory, session):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff", wecom_userid="wangfuwu",
                           dingtalk_userid="dt-wangfuwu")
    rsj = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办", login="helper", wecom_userid="sunbangban",
                            dingtalk_userid="dt-sunbangban")
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度",
                                login="dispatcher", wecom_userid="zhaodiaodu")
    gone = factory.person(Role.SERVICE_STAFF, name="钱离职", wecom_userid="qianlizhi", active=False)
    enterprise = factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    other = factory.enterprise(zone=factory.zone("beicang"), name="天津北仓物流有限公司")
    session.commit()
    return dataclasses.make_dataclass(
        "People", ["staff", "helper", "dispatcher", "gone", "rsj", "enterprise", "other"]
    )(staff, helper, dispatcher, gone, rsj, enterprise, other)


@pytest.fixture
def dispatched_order(factory, session, people, now):
    order = factory.order(people.staff, now, enterprise=people.enterprise, level=2, department_id=people.rsj.id,
                          content="企业急需招聘 30 名数控技术工人，请协助对接招聘会和用工补贴")
    session.commit()
    assert order.state == State.DISPATCHED
    return order


def console_login(client, username: str):
    token = token_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": "demo-pass-123", "csrf_token": token})
    assert response.status_code == 302


def count(session_factory, model, *where) -> int:
    with session_factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


# --------------------------------------------------------------------------------------------
# Pure pieces
# --------------------------------------------------------------------------------------------
def test_platform_is_told_by_the_user_agent():
    assert mobile_auth.platform_from_user_agent(WXWORK_UA) == "wecom"
    assert mobile_auth.platform_from_user_agent(DINGTALK_UA) == "dingtalk"
    assert mobile_auth.platform_from_user_agent(PHONE_UA) is None
    assert mobile_auth.platform_from_user_agent("Mozilla/5.0 MicroMessenger/8.0.47") is None  # personal WeChat
    assert mobile_auth.platform_from_user_agent(None) is None


def test_state_is_signed_bound_to_the_session_and_expires():
    nonce = mobile_auth.new_nonce()
    state = mobile_auth.make_state("k" * 40, nonce)
    assert mobile_auth.check_state("k" * 40, state, [nonce]) == nonce
    with pytest.raises(mobile_auth.InvalidState, match="与当前会话不符"):
        mobile_auth.check_state("k" * 40, state, ["another"])
    with pytest.raises(mobile_auth.InvalidState, match="来源不可信"):
        mobile_auth.check_state("x" * 40, state, [nonce])
    with pytest.raises(mobile_auth.InvalidState, match="已过期"):
        mobile_auth.check_state("k" * 40, state, [nonce], max_age=-1)
    with pytest.raises(mobile_auth.InvalidState):
        mobile_auth.check_state("k" * 40, "", [nonce])
    pending = []
    for _ in range(8):
        pending = mobile_auth.remember_nonce(pending, mobile_auth.new_nonce())
    assert len(pending) == mobile_auth.MAX_PENDING_NONCES


def test_dingtalk_jsapi_url_is_configurable_and_checked():
    from config import ConfigError, load_settings

    env = {"APP_ENV": "development", "SECRET_KEY": "k" * 40, "DATABASE_URL": "sqlite:///:memory:"}
    assert load_settings(env, read_dotenv=False).dingtalk.jsapi_url == DingTalkSettings.jsapi_url
    mirrored = load_settings({**env, "DINGTALK_JSAPI_URL": "https://intranet.example/dingtalk.open.js",
                              "DINGTALK_CORP_ID": "ding0123"}, read_dotenv=False)
    assert mirrored.dingtalk.jsapi_url == "https://intranet.example/dingtalk.open.js"
    assert mirrored.dingtalk.corp_id == "ding0123"
    with pytest.raises(ConfigError, match="DINGTALK_JSAPI_URL"):
        load_settings({**env, "DINGTALK_JSAPI_URL": "javascript:alert(1)"}, read_dotenv=False)


# --------------------------------------------------------------------------------------------
# Without a platform
# --------------------------------------------------------------------------------------------
def test_ordinary_browser_is_told_to_open_the_workbench(client, people):
    response = client.get("/m/", headers={"User-Agent": PHONE_UA})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "请在企业微信或钉钉工作台中打开" in html
    assert "/login?next=/m/" in html
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_wecom_user_agent_without_wecom_configured_gets_the_same_notice(client, people):
    response = client.get("/m/orders", headers={"User-Agent": WXWORK_UA})
    assert response.status_code == 200 and "请在企业微信或钉钉工作台中打开" in response.get_data(as_text=True)


def test_console_session_opens_the_h5_pages(client, people, dispatched_order):
    console_login(client, "staff")
    html = client.get("/m/", headers={"User-Agent": PHONE_UA}).get_data(as_text=True)
    assert "王服务" in html and "提交诉求" in html and dispatched_order.number in html
    assert 'class="nav"' not in html  # the console's navigation stays in the console
    html = client.get("/m/orders").get_data(as_text=True)
    assert dispatched_order.number in html and "我的工单" in html
    html = client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True)
    assert "办理轨迹" in html and "提交诉求" in html
    assert 'data-action="sign"' not in html  # 报到 belongs to the department


def test_posts_without_a_session_are_refused(client, people, dispatched_order):
    response = client.post(f"/m/orders/{dispatched_order.number}/sign", data={})
    # CSRF fails before the session check: either way nothing happens.
    assert response.status_code in (400, 401)
    assert count(client.application.extensions["db_sessionmaker"], WorkOrderEvent,
                 WorkOrderEvent.action == "sign") == 0


# --------------------------------------------------------------------------------------------
# Pages and actions (signed in through the console session; the platform flows are below)
# --------------------------------------------------------------------------------------------
def test_submit_form_keeps_values_on_a_domain_error(client, people, session_factory):
    console_login(client, "staff")
    page = client.get("/m/orders/new?eq=天津").get_data(as_text=True)
    assert "天津天穆精密机械有限公司" in page and "天津北仓物流有限公司" not in page  # zone-scoped
    response = client.post("/m/orders/new", data={
        "csrf_token": token_from(page), "enterprise_id": str(people.other.id), "content": "道路破损影响通行请协调",
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请选择企业（只能选择本片区的企业）" in html and "道路破损影响通行请协调" in html
    assert count(session_factory, WorkOrder) == 0


def test_submit_form_asks_for_the_enterprise_first_and_the_content_next(client, people, factory, session):
    for n in range(12):  # a zone with many enterprises
        factory.enterprise(staff=people.staff, name=f"天津天穆配套企业{n}有限公司")
    session.commit()
    console_login(client, "staff")
    page = client.get("/m/orders/new").get_data(as_text=True)
    search, content = page.index('id="m-enterprise-query"'), page.index('id="m-content"')
    assert search < content
    assert 'name="enterprise_id"' not in page[:content]  # no list of enterprises before the content
    assert "先搜索企业" in page
    found = client.get("/m/orders/new?eq=精密").get_data(as_text=True)
    content = found.index('id="m-content"')
    assert found[:content].count('name="enterprise_id"') == 1 and "天津天穆精密机械有限公司" in found[:content]
    assert re.search(r'name="enterprise_id" value="\d+" checked', found)  # the only match is chosen
    many = client.get("/m/orders/new?eq=配套").get_data(as_text=True)
    assert many.count('name="enterprise_id"') == 10  # a search shows its first ten


def test_submit_form_with_a_photo_creates_the_order(client, people, session_factory, upload_root):
    console_login(client, "staff")
    token = token_from(client.get("/m/orders/new").get_data(as_text=True))
    response = client.post("/m/orders/new", content_type="multipart/form-data", data={
        "csrf_token": token, "enterprise_id": str(people.enterprise.id), "level": "2",
        "department_id": str(people.rsj.id), "content": "企业扩大生产，急需招聘 30 名数控技术工人，希望对接招聘会。",
        "priority": "normal", "attachments": [(io.BytesIO(PNG), "现场.png")],
    })
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[-1]
    assert response.headers["Location"] == f"/m/orders/{number}"
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert order.channel == "mobile" and order.state == State.DISPATCHED  # not 网页工作台
        assert order.assigned_department_id == people.rsj.id
        attachment = s.scalar(select(Attachment).where(Attachment.work_order_id == order.id))
        assert attachment.filename == "现场.png"
    html = client.get(f"/m/orders/{number}").get_data(as_text=True)
    assert "诉求已提交" in html and "现场.png" in html
    assert "移动端" in html and "网页工作台" not in html
    image = client.get(f"/m/attachments/{attachment.id}")
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data == PNG
    assert "attachment" not in image.headers.get("Content-Disposition", "")  # photos open inline


def test_chief_helper_signs_from_the_detail_page(client, people, dispatched_order, session_factory):
    console_login(client, "helper")
    home = client.get("/m/").get_data(as_text=True)
    assert "待报到" in home and dispatched_order.number in home
    html = client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True)
    assert 'data-action="sign"' in html and 'id="act-return"' in html and 'id="act-transfer"' in html
    assert 'id="act-resolve"' not in html  # not before 报到
    response = client.post(f"/m/orders/{dispatched_order.number}/sign", data={"csrf_token": token_from(html)})
    assert response.status_code == 302 and response.headers["Location"] == f"/m/orders/{dispatched_order.number}"
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已签收报到" in html and 'id="act-resolve"' in html and 'id="act-request_extension"' in html
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == dispatched_order.number))
        assert order.state == State.PROCESSING and order.assigned_person_id == people.helper.id


def test_action_error_shows_the_page_again_with_the_values(client, people, dispatched_order, session_factory):
    console_login(client, "helper")
    token = token_from(client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True))
    client.post(f"/m/orders/{dispatched_order.number}/sign", data={"csrf_token": token})
    response = client.post(f"/m/orders/{dispatched_order.number}/request_extension",
                           data={"csrf_token": token, "days": "99", "reason": "需要企业补充环评材料"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "操作未完成" in html
    assert "需要企业补充环评材料" in html and 'value="99"' in html
    assert count(session_factory, WorkOrderEvent, WorkOrderEvent.action == "request_extension") == 0


def test_wrong_role_gets_a_chinese_403(client, people, dispatched_order, session_factory):
    console_login(client, "staff")
    token = token_from(client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True))
    response = client.post(f"/m/orders/{dispatched_order.number}/sign", data={"csrf_token": token})
    html = response.get_data(as_text=True)
    assert response.status_code == 403 and "无权" in html and "签收报到" in html
    assert count(session_factory, WorkOrderEvent, WorkOrderEvent.action == "sign") == 0
    client.post("/logout", data={"csrf_token": token})
    console_login(client, "helper")
    response = client.get("/m/orders/new")
    assert response.status_code == 403 and "不能提交诉求" in response.get_data(as_text=True)
    token = token_from(client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True))
    # 升级 is on the phone now, and checked the same way as in the console: no reason, no change.
    response = client.post(f"/m/orders/{dispatched_order.number}/escalate", data={"csrf_token": token, "level": "3"})
    assert response.status_code == 422 and "升级理由" in response.get_data(as_text=True)
    assert count(session_factory, WorkOrderEvent, WorkOrderEvent.action == "escalate") == 0
    assert client.post(f"/m/orders/{dispatched_order.number}/no_such_action", data={"csrf_token": token}).status_code == 404


def test_other_departments_cannot_open_the_order(client, factory, session, people, dispatched_order):
    factory.person(Role.CHIEF_HELPER, department=factory.department("scjgj"), name="周市监", login="other_helper")
    session.commit()
    console_login(client, "other_helper")
    response = client.get(f"/m/orders/{dispatched_order.number}")
    assert response.status_code == 403 and "您无权查看该工单" in response.get_data(as_text=True)


def test_staff_records_the_visit_on_the_survey_page(client, factory, session, people, dispatched_order, now,
                                                    session_factory):
    from services.orders import operations as wo

    order = session.get(WorkOrder, dispatched_order.id)
    ctx = factory.ctx(people.helper, now)
    wo.sign(ctx, order)
    wo.resolve(ctx, order, result="已对接区人才市场专场招聘会，企业招到 28 人")
    wo.feedback(factory.ctx(people.staff, now), order, note="已电话告知企业负责人")
    session.commit()
    console_login(client, "staff")
    page = client.get(f"/m/orders/{order.number}/survey").get_data(as_text=True)
    for level in ("非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        assert f'value="{level}"' in page
    token = token_from(page)
    response = client.post(f"/m/orders/{order.number}/visit", data={
        "csrf_token": token, "page": "survey", "satisfaction": "不满意", "resolved": "no", "method": "phone",
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "未登记" in html and 'value="不满意" checked' in html
    response = client.post(f"/m/orders/{order.number}/visit", data={
        "csrf_token": token, "page": "survey", "satisfaction": "满意", "resolved": "yes", "method": "visit",
    })
    assert response.status_code == 302
    with session_factory() as s:
        assert s.scalar(select(WorkOrder.state).where(WorkOrder.id == order.id)) in (State.VISITED, State.ARCHIVED)
    assert client.get(f"/m/orders/{order.number}/survey").status_code == 409


# --------------------------------------------------------------------------------------------
# WeCom OAuth (snsapi_base) against the emulator
# --------------------------------------------------------------------------------------------
@pytest.fixture
def wecom_client(wecom_app, session_factory, tmp_path, monkeypatch):
    monkeypatch.setitem(wecom_app.config, "UPLOAD_ROOT", str(tmp_path / "uploads"))
    return wecom_app.test_client()


def authorize_redirect(response) -> dict:
    """The parts of WeCom's OAuth URL the page redirected to."""
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == mobile_auth.WECOM_AUTHORIZE_URL
    assert location.fragment == "wechat_redirect"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    # WeCom documents this order of parameters.
    assert [pair.split("=")[0] for pair in location.query.split("&")] == [
        "appid", "redirect_uri", "response_type", "scope", "state", "agentid"]
    return query


def wecom_sign_in(client, emulator, userid: str, path: str = "/m/"):
    """What the WeCom client does: open the page, follow OAuth, come back with a code."""
    query = authorize_redirect(client.get(path, headers={"User-Agent": WXWORK_UA}))
    callback = urlsplit(query["redirect_uri"])
    code = emulator.issue_code(userid)
    return client.get(f"{callback.path}?{callback.query}&code={code}&state={query['state']}",
                      headers={"User-Agent": WXWORK_UA})


def test_wecom_page_redirects_to_oauth_with_the_right_parameters(wecom_client, wecom_emulator, people):
    query = authorize_redirect(wecom_client.get("/m/orders/new?x=1", headers={"User-Agent": WXWORK_UA}))
    assert query["appid"] == wecom_emulator.corp_id
    assert query["agentid"] == str(wecom_emulator.agent_id)
    assert query["response_type"] == "code" and query["scope"] == "snsapi_base"
    callback = urlsplit(query["redirect_uri"])
    assert f"{callback.scheme}://{callback.netloc}" == "http://127.0.0.1:5000"  # BASE_URL
    assert callback.path == "/m/auth/wecom/callback"
    assert parse_qs(callback.query)["next"] == ["/m/orders/new?x=1"]
    assert len(query["state"]) > 20
    assert wecom_emulator.calls("auth/getuserinfo") == []  # nothing asked of WeCom before the code


def test_wecom_callback_signs_in_the_bound_person(wecom_client, wecom_emulator, people):
    wecom_emulator.add_user("sunbangban", "孙帮办", "13900000002")
    response = wecom_sign_in(wecom_client, wecom_emulator, "sunbangban", "/m/orders?state=dispatched")
    assert response.status_code == 302 and response.headers["Location"] == "/m/orders?state=dispatched"
    html = wecom_client.get("/m/", headers={"User-Agent": WXWORK_UA}).get_data(as_text=True)
    assert "孙帮办，您好" in html and "待报到" in html
    assert len(wecom_emulator.calls("auth/getuserinfo", ok=True)) == 1


def test_a_wecom_session_idles_out_and_ends_when_the_member_leaves(wecom_client, wecom_emulator, people,
                                                                   session_factory):
    wecom_emulator.add_user("sunbangban", "孙帮办", "13900000002")
    home = {"headers": {"User-Agent": WXWORK_UA}}
    with time_machine.travel(datetime(2026, 3, 2, 1, 0, tzinfo=UTC), tick=False) as clock:
        assert wecom_sign_in(wecom_client, wecom_emulator, "sunbangban").status_code == 302
        clock.shift(timedelta(hours=1, minutes=59))
        assert "孙帮办，您好" in wecom_client.get("/m/", **home).get_data(as_text=True)
        clock.shift(timedelta(hours=2, minutes=1))
        authorize_redirect(wecom_client.get("/m/", **home))  # idle: WeCom signs the person in again
        assert wecom_sign_in(wecom_client, wecom_emulator, "sunbangban").status_code == 302
        assert "孙帮办，您好" in wecom_client.get("/m/", **home).get_data(as_text=True)

        with session_scope(session_factory) as s:
            wecom_roster.member_left(s, "sunbangban", now=utcnow(), channels=Channels(sandbox=True), reason="离职")
        authorize_redirect(wecom_client.get("/m/", **home))


def test_wecom_callback_refuses_a_bad_state_or_a_replayed_code(wecom_client, wecom_emulator, people,
                                                               session_factory):
    query = authorize_redirect(wecom_client.get("/m/", headers={"User-Agent": WXWORK_UA}))
    code = wecom_emulator.issue_code("sunbangban")
    forged = mobile_auth.make_state("not-our-secret-key" * 3, "nonce")
    for state in (forged, "", query["state"] + "x"):
        response = wecom_client.get(f"/m/auth/wecom/callback?next=/m/&code={code}&state={state}")
        assert response.status_code == 400 and "请从工作台重新打开" in response.get_data(as_text=True)
    assert wecom_emulator.calls("auth/getuserinfo") == []  # the code was never tried
    # Another browser (no nonce in its session) cannot use this browser's state.
    other = wecom_client.application.test_client()
    response = other.get(f"/m/auth/wecom/callback?next=/m/&code={code}&state={query['state']}")
    assert response.status_code == 400 and "与当前会话不符" in response.get_data(as_text=True)
    # The right state works once; the code is WeCom's to refuse the second time.
    ok = wecom_client.get(f"/m/auth/wecom/callback?next=/m/&code={code}&state={query['state']}")
    assert ok.status_code == 302 and ok.headers["Location"] == "/m/"
    again = wecom_client.get(f"/m/auth/wecom/callback?next=/m/&code={code}&state={query['state']}")
    assert again.status_code == 400


def test_wecom_invalid_code_is_refused_in_chinese(wecom_client, wecom_emulator, people):
    query = authorize_redirect(wecom_client.get("/m/", headers={"User-Agent": WXWORK_UA}))
    response = wecom_client.get(f"/m/auth/wecom/callback?next=/m/&code=made-up&state={query['state']}")
    assert response.status_code == 400 and "企业微信身份校验未通过" in response.get_data(as_text=True)
    assert wecom_client.get("/m/orders", headers={"User-Agent": WXWORK_UA}).status_code == 302  # still signed out


def test_wecom_unreachable_is_a_502_in_chinese(wecom_client, wecom_emulator, people):
    query = authorize_redirect(wecom_client.get("/m/", headers={"User-Agent": WXWORK_UA}))
    code = wecom_emulator.issue_code("wangfuwu")
    wecom_emulator.stop()
    response = wecom_client.get(f"/m/auth/wecom/callback?next=/m/&code={code}&state={query['state']}")
    assert response.status_code == 502 and "暂时无法连接企业微信" in response.get_data(as_text=True)


def test_wecom_next_must_be_a_local_path(wecom_client, wecom_emulator, people):
    query = authorize_redirect(wecom_client.get("/m/", headers={"User-Agent": WXWORK_UA}))
    code = wecom_emulator.issue_code("wangfuwu")
    response = wecom_client.get(
        f"/m/auth/wecom/callback?next=https://evil.example/&code={code}&state={query['state']}")
    assert response.status_code == 302 and response.headers["Location"] == "/m/"


def test_unknown_wecom_user_gets_no_account_but_an_audit_row(wecom_client, wecom_emulator, people,
                                                             session_factory):
    persons_before = count(session_factory, Person)
    for userid in ("zhangsan-new", "qianlizhi"):  # never bound; bound to a person who has left
        response = wecom_sign_in(wecom_client, wecom_emulator, userid)
        assert response.status_code == 302 and response.headers["Location"] == "/m/auth/unregistered"
        html = wecom_client.get("/m/auth/unregistered").get_data(as_text=True)
        assert "您的账号尚未登记，请联系片区管理员或系统管理员开通" in html and userid in html
        assert wecom_client.get("/m/orders", headers={"User-Agent": WXWORK_UA}).status_code == 302  # not signed in
    # A second attempt the same day adds no second row.
    wecom_sign_in(wecom_client, wecom_emulator, "zhangsan-new")
    assert count(session_factory, Person) == persons_before
    with session_factory() as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action == mobile_auth.ACCESS_REQUEST_ACTION)
                              .order_by(AuditLog.id)))
        assert [(r.target_type, r.target_id) for r in rows] == [("wecom", "zhangsan-new"), ("wecom", "qianlizhi")]
        assert rows[0].detail["reason"] == "未绑定任何人员"
        assert rows[1].detail["reason"] == "人员已停用" and rows[1].detail["person_id"] == people.gone.id
        assert s.get(Person, people.gone.id).active is False


def test_wecom_staff_submits_and_the_order_says_wecom(wecom_client, wecom_emulator, people, session_factory):
    wecom_sign_in(wecom_client, wecom_emulator, "wangfuwu", "/m/orders/new")
    page = wecom_client.get("/m/orders/new", headers={"User-Agent": WXWORK_UA}).get_data(as_text=True)
    response = wecom_client.post("/m/orders/new", content_type="multipart/form-data", data={
        "csrf_token": token_from(page), "enterprise_id": str(people.enterprise.id), "level": "2",
        "department_id": str(people.rsj.id), "priority": "urgent",
        "content": "企业厂区停电两小时，生产线停摆，请协调供电部门尽快恢复。",
        "attachments": [(io.BytesIO(PNG), "IMG_0001.png")],
    }, headers={"User-Agent": WXWORK_UA})
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[-1]
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert order.channel == "wecom" and order.submitter_id == people.staff.id and order.priority == "urgent"
        assert s.scalar(select(WorkOrderEvent.channel).where(WorkOrderEvent.work_order_id == order.id,
                                                             WorkOrderEvent.action == "create")) == "wecom"
        order_id = order.id
    assert count(session_factory, Attachment, Attachment.work_order_id == order_id) == 1


def test_wecom_helper_signs_in_one_tap(wecom_client, wecom_emulator, people, dispatched_order, session_factory):
    wecom_sign_in(wecom_client, wecom_emulator, "sunbangban", f"/m/orders/{dispatched_order.number}")
    html = wecom_client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True)
    response = wecom_client.post(f"/m/orders/{dispatched_order.number}/sign", data={"csrf_token": token_from(html)})
    assert response.status_code == 302
    with session_factory() as s:
        event = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.action == "sign"))
        assert event.channel == "wecom" and event.actor_id == people.helper.id


# --------------------------------------------------------------------------------------------
# DingTalk 免登 against the emulator
# --------------------------------------------------------------------------------------------
def dingtalk_login_page(client) -> tuple[str, str]:
    response = client.get("/m/orders?state=processing", headers={"User-Agent": DINGTALK_UA})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="dd-login"' in html
    return html, re.search(r'data-csrf="([^"]+)"', html).group(1)


def post_code(client, token: str, code: str, next_url: str = "/m/orders?state=processing"):
    return client.post("/m/auth/dingtalk", json={"code": code, "next": next_url},
                       headers={"X-CSRFToken": token, "Accept": "application/json", "User-Agent": DINGTALK_UA})


def test_dingtalk_page_loads_the_configured_jsapi(dingtalk_client, people):
    html, _ = dingtalk_login_page(dingtalk_client)
    assert f'<script src="{DingTalkSettings.jsapi_url}"></script>' in html
    assert 'data-next="/m/orders?state=processing"' in html
    response = dingtalk_client.get("/m/", headers={"User-Agent": DINGTALK_UA})
    assert "script-src 'self' https://g.alicdn.com" in response.headers["Content-Security-Policy"]


def test_dingtalk_code_signs_in_the_bound_person(dingtalk_client, dingtalk_emulator, people, dispatched_order):
    dingtalk_emulator.add_user("dt-sunbangban", "孙帮办", "13900000002")
    _, token = dingtalk_login_page(dingtalk_client)
    response = post_code(dingtalk_client, token, dingtalk_emulator.issue_code("dt-sunbangban"))
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "signed_in": True, "redirect": "/m/orders?state=processing"}
    html = dingtalk_client.get("/m/orders?state=processing", headers={"User-Agent": DINGTALK_UA}).get_data(
        as_text=True)
    assert "孙帮办" in html and 'id="dd-login"' not in html
    html = dingtalk_client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True)
    assert dingtalk_client.post(f"/m/orders/{dispatched_order.number}/sign",
                                data={"csrf_token": token_from(html)}).status_code == 302
    with dingtalk_client.application.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(WorkOrderEvent.channel).where(WorkOrderEvent.action == "sign")) == "dingtalk"


def test_dingtalk_bad_codes_and_missing_csrf_are_refused(dingtalk_client, dingtalk_emulator, people,
                                                          session_factory):
    dingtalk_emulator.add_user("dt-wangfuwu", "王服务")
    _, token = dingtalk_login_page(dingtalk_client)
    response = post_code(dingtalk_client, token, "code-made-up")
    assert response.status_code == 400
    assert response.get_json()["error"]["message"].startswith("钉钉身份校验未通过")
    response = post_code(dingtalk_client, token, "")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "validation_failed"
    code = dingtalk_emulator.issue_code("dt-wangfuwu")
    response = dingtalk_client.post("/m/auth/dingtalk", json={"code": code}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    assert dingtalk_emulator.calls("topapi/v2/user/getuserinfo")[-1].body["code"] == "code-made-up"  # never sent
    assert dingtalk_client.get("/m/orders", headers={"User-Agent": DINGTALK_UA}).get_data(
        as_text=True).count('id="dd-login"') == 1


def test_unknown_dingtalk_user_gets_no_account_but_an_audit_row(dingtalk_client, dingtalk_emulator, people,
                                                                session_factory):
    dingtalk_emulator.add_user("dt-stranger", "陌生人", "13800000009")
    persons_before = count(session_factory, Person)
    _, token = dingtalk_login_page(dingtalk_client)
    response = post_code(dingtalk_client, token, dingtalk_emulator.issue_code("dt-stranger"))
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "signed_in": False, "redirect": "/m/auth/unregistered"}
    html = dingtalk_client.get("/m/auth/unregistered").get_data(as_text=True)
    assert "您的账号尚未登记" in html and "钉钉账号" in html and "dt-stranger" in html
    assert count(session_factory, Person) == persons_before
    assert count(session_factory, AuditLog, AuditLog.action == mobile_auth.ACCESS_REQUEST_ACTION,
                 AuditLog.target_type == "dingtalk", AuditLog.target_id == "dt-stranger") == 1


def dingtalk_sign_in(client, emulator, userid: str) -> None:
    """What the DingTalk client does on the 免登 page: requestAuthCode, then the code to the server."""
    _, token = dingtalk_login_page(client)
    assert post_code(client, token, emulator.issue_code(userid)).get_json()["signed_in"] is True


def test_dingtalk_jsapi_configuration_for_the_photos(dingtalk_client, dingtalk_emulator, dingtalk_app, people,
                                                     dispatched_order, session_factory):
    import hashlib

    from extensions import token_store
    from integrations.dingtalk import DingTalkApi

    number = dispatched_order.number
    settings = dingtalk_app.extensions["settings"]
    dingtalk_emulator.add_user("dt-sunbangban", "孙帮办", "13900000002")
    dingtalk_sign_in(dingtalk_client, dingtalk_emulator, "dt-sunbangban")
    html = dingtalk_client.get(f"/m/orders/{number}", headers={"User-Agent": DINGTALK_UA}).get_data(as_text=True)
    assert f'src="{DingTalkSettings.jsapi_url}"' in html and "mobile-native.js" in html
    assert 'data-platform="dingtalk" data-jsapi="/m/jsapi/dingtalk"' in html and "jweixin" not in html

    url = f"{settings.base_url.rstrip('/')}/m/orders/{number}"
    answer = dingtalk_client.get("/m/jsapi/dingtalk", query_string={"url": url + "#frag"},
                                 headers={"Accept": "application/json"})
    assert answer.status_code == 200
    config = answer.get_json()
    assert config["agentId"] == dingtalk_emulator.agent_id and config["corpId"] == settings.dingtalk.corp_id
    # DingTalk's documented JSAPI signature: sha1 of the four fields in ASCII order, the page address
    # without its fragment.
    text = (f"jsapi_ticket={dingtalk_emulator.jsapi_ticket}&noncestr={config['nonceStr']}"
            f"&timestamp={config['timeStamp']}&url={url}")
    assert config["signature"] == hashlib.sha1(text.encode()).hexdigest()
    assert len(config["nonceStr"]) >= 16 and isinstance(config["timeStamp"], int)

    # The ticket is fetched once, kept in the shared token store beside the access token: a second
    # page, and another process (a fresh facade over the same store), sign with it without asking.
    again = dingtalk_client.get("/m/jsapi/dingtalk", query_string={"url": url},
                                headers={"Accept": "application/json"}).get_json()
    other = DingTalkApi(settings.dingtalk, tokens=token_store(dingtalk_app))
    with dingtalk_app.app_context():
        elsewhere = other.jsapi_config(url, timestamp=1, nonce="n")
    assert elsewhere["signature"] == hashlib.sha1(
        f"jsapi_ticket={dingtalk_emulator.jsapi_ticket}&noncestr=n&timestamp=1&url={url}".encode()).hexdigest()
    assert again["ok"] is True
    assert len(dingtalk_emulator.calls("get_jsapi_ticket")) == 1 and dingtalk_emulator.token_fetches == 1

    # Only this site's own pages are signed; a WeCom session or a console session gets nothing.
    foreign = dingtalk_client.get("/m/jsapi/dingtalk", query_string={"url": "https://evil.example/m/x"},
                                  headers={"Accept": "application/json"})
    assert foreign.status_code == 400 and foreign.get_json()["ok"] is False
    assert dingtalk_client.get("/m/jsapi/wecom", query_string={"url": url},
                               headers={"Accept": "application/json"}).status_code == 404

    # The position dd.device.geolocation.get gave goes with the photos.
    token = token_from(html)
    good = dingtalk_client.post(f"/m/orders/{number}/attach", content_type="multipart/form-data", data={
        "csrf_token": token, "location": "39.223456,117.134567", "attachments": [(io.BytesIO(PNG), "a.png")]})
    assert good.status_code == 302
    with session_factory() as s:
        event = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.action == "comment"))
        assert "39.223456,117.134567" in event.note and event.channel == "dingtalk"


def test_dingtalk_jsapi_when_dingtalk_cannot_give_a_ticket(dingtalk_client, dingtalk_emulator, dingtalk_app, people,
                                                           dispatched_order):
    dingtalk_emulator.add_user("dt-sunbangban", "孙帮办", "13900000002")
    dingtalk_sign_in(dingtalk_client, dingtalk_emulator, "dt-sunbangban")
    url = f"{dingtalk_app.extensions['settings'].base_url.rstrip('/')}/m/orders/{dispatched_order.number}"
    dingtalk_emulator.fail_next("get_jsapi_ticket", 90002, "系统繁忙")
    answer = dingtalk_client.get("/m/jsapi/dingtalk", query_string={"url": url}, headers={"Accept": "application/json"})
    assert answer.status_code == 503 and "钉钉" in answer.get_json()["error"]["message"]
    # A stale access token is dropped and the ticket asked for again once.
    dingtalk_emulator.expire_tokens()
    answer = dingtalk_client.get("/m/jsapi/dingtalk", query_string={"url": url}, headers={"Accept": "application/json"})
    assert answer.status_code == 200 and dingtalk_emulator.token_fetches == 2


def test_dingtalk_jsapi_needs_a_dingtalk_session(client, people, dispatched_order):
    console_login(client, "helper")
    html = client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True)
    assert "dingtalk.open.js" not in html and "mobile-native.js" not in html
    assert client.get("/m/jsapi/dingtalk", query_string={"url": "http://x/m/"},
                      headers={"Accept": "application/json"}).status_code == 404


# --------------------------------------------------------------------------------------------
# The phone as a whole workplace: the console's every action, with the console's handlers
# --------------------------------------------------------------------------------------------
def test_photos_added_to_an_order_on_the_phone(client, people, dispatched_order, session_factory, upload_root):
    console_login(client, "helper")
    number = dispatched_order.number
    html = client.get(f"/m/orders/{number}").get_data(as_text=True)
    assert 'id="act-attach"' in html and 'capture="environment"' in html and 'enctype="multipart/form-data"' in html
    token = token_from(html)
    empty = client.post(f"/m/orders/{number}/attach", content_type="multipart/form-data",
                        data={"csrf_token": token, "note": "现场照片"})
    assert empty.status_code == 422 and "请选择要上传的文件或照片" in empty.get_data(as_text=True)
    response = client.post(f"/m/orders/{number}/attach", content_type="multipart/form-data", data={
        "csrf_token": token, "note": "企业车间现场", "attachments": [(io.BytesIO(PNG), "车间.png")]})
    assert response.status_code == 302
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        [attachment] = s.scalars(select(Attachment).where(Attachment.work_order_id == order.id))
        assert attachment.filename == "车间.png" and attachment.uploaded_by_id == people.helper.id
        event = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id,
                                                      WorkOrderEvent.action == "comment"))
        assert "补充附件 1 个：车间.png" in event.note and event.channel == "mobile"
    assert len([p for p in upload_root.rglob("*") if p.is_file()]) == 1


def test_supervision_answered_and_extension_decided_on_the_phone(client, factory, session, people, dispatched_order,
                                                               session_factory, now):
    from services.orders import operations as wo

    number = dispatched_order.number
    ctx = factory.ctx(people.helper, now)
    wo.sign(ctx, dispatched_order)
    wo.supervise(factory.ctx(people.dispatcher, now), dispatched_order, note="企业反映进度慢，请本周内答复")
    wo.request_extension(ctx, dispatched_order, days=3, reason="等待企业补充招聘岗位清单")
    session.commit()

    console_login(client, "helper")
    html = client.get(f"/m/orders/{number}").get_data(as_text=True)
    assert "本工单已被督办：企业反映进度慢" in html and "答复督办" in html
    response = client.post(f"/m/orders/{number}/reply", data={"csrf_token": token_from(html),
                                                               "text": "已与企业对接，周五召开专场招聘会"})
    assert response.status_code == 302
    assert "本工单已被督办" not in client.get(f"/m/orders/{number}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token_from(html)})

    console_login(client, "dispatcher")
    html = client.get(f"/m/orders/{number}").get_data(as_text=True)
    assert 'id="act-decide_extension"' in html and 'id="act-escalate"' in html
    response = client.post(f"/m/orders/{number}/decide_extension",
                           data={"csrf_token": token_from(html), "decision": "approve"})
    assert response.status_code == 302
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert [r.status for r in order.extension_requests] == ["approved"]


def test_city_escalation_on_the_phone(client, people, dispatched_order, session_factory):
    console_login(client, "dispatcher")
    number = dispatched_order.number
    html = client.get(f"/m/orders/{number}").get_data(as_text=True)
    assert 'name="route"' in html and 'data-show-when="esc:4"' in html
    response = client.post(f"/m/orders/{number}/escalate", data={
        "csrf_token": token_from(html), "level": "4", "route": "12345", "reason": "涉及市级审批权限，需市级协调"})
    assert response.status_code == 302
    html = client.get(f"/m/orders/{number}").get_data(as_text=True)
    assert 'id="act-city_reference"' in html
    response = client.post(f"/m/orders/{number}/city_reference",
                           data={"csrf_token": token_from(html), "city_reference": "GD2026030201"})
    assert response.status_code == 302
    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == number))
        assert order.level == 4 and order.city_escalations[-1].city_reference == "GD2026030201"


def test_wecom_jssdk_configuration_for_the_photos(wecom_client, wecom_emulator, people, dispatched_order,
                                                  session_factory, wecom_app):
    import hashlib

    number = dispatched_order.number
    base = wecom_app.extensions["settings"].base_url.rstrip("/")
    wecom_emulator.add_user("sunbangban", "孙帮办", "13900000002")
    wecom_sign_in(wecom_client, wecom_emulator, "sunbangban", f"/m/orders/{number}")
    html = wecom_client.get(f"/m/orders/{number}", headers={"User-Agent": WXWORK_UA}).get_data(as_text=True)
    assert 'src="https://res.wx.qq.com/open/js/jweixin-1.2.0.js"' in html and "mobile-native.js" in html
    csp = wecom_client.get(f"/m/orders/{number}").headers["Content-Security-Policy"]
    assert "https://res.wx.qq.com" in csp

    url = f"{base}/m/orders/{number}"
    answer = wecom_client.get("/m/jsapi/wecom", query_string={"url": url + "#frag"},
                              headers={"Accept": "application/json"})
    assert answer.status_code == 200
    config = answer.get_json()
    assert config["corpid"] == wecom_emulator.corp_id and config["agentid"] == str(wecom_emulator.agent_id)

    def signed(ticket):
        text = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={url}"
        return hashlib.sha1(text.encode()).hexdigest()

    assert config["signature"] == signed(wecom_emulator.jsapi_tickets["corp"])
    assert config["agentSignature"] == signed(wecom_emulator.jsapi_tickets["agent"])
    # The tickets are fetched once and shared.
    wecom_client.get("/m/jsapi/wecom", query_string={"url": url}, headers={"Accept": "application/json"})
    assert len(wecom_emulator.calls("get_jsapi_ticket")) == 1 and len(wecom_emulator.calls("ticket/get")) == 1
    # Only this site's own pages are signed.
    foreign = wecom_client.get("/m/jsapi/wecom", query_string={"url": "https://evil.example/m/x"},
                               headers={"Accept": "application/json"})
    assert foreign.status_code == 400 and foreign.get_json()["ok"] is False

    # The position the page filled in goes with the photos; a forged one is refused.
    token = token_from(html)
    bad = wecom_client.post(f"/m/orders/{number}/attach", content_type="multipart/form-data", data={
        "csrf_token": token, "location": "39.2;drop", "attachments": [(io.BytesIO(PNG), "a.png")]})
    assert bad.status_code == 422
    good = wecom_client.post(f"/m/orders/{number}/attach", content_type="multipart/form-data", data={
        "csrf_token": token, "location": "39.223456,117.134567", "attachments": [(io.BytesIO(PNG), "a.png")]})
    assert good.status_code == 302
    with session_factory() as s:
        event = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.action == "comment"))
        assert "39.223456,117.134567" in event.note and event.channel == "wecom"


def test_jssdk_configuration_needs_a_wecom_session(client, people, dispatched_order):
    console_login(client, "helper")
    html = client.get(f"/m/orders/{dispatched_order.number}").get_data(as_text=True)
    assert "jweixin" not in html and "mobile-native.js" not in html
    assert client.get("/m/jsapi/wecom", query_string={"url": "http://x/m/"},
                      headers={"Accept": "application/json"}).status_code == 404
