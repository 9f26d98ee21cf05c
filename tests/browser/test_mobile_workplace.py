"""The phone as a whole workplace (390×844): a zone staff member escalates an order to 区级会商 and
the business-environment office holds the 联席会商 on the phone, picking the departments as chips."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import JointMeeting, Role, WorkOrder, WorkOrderEvent
from services.orders.lifecycle import Action, State
from tests.browser import test_mobile_h5 as h5
from tests.browser.test_mobile_h5 import console_sign_in, phone_page

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect

SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"


@pytest.fixture
def seeded(factory, session, now):
    ids = {"zjw": factory.department("zjw").id, "rsj": factory.department("rsj").id}
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    factory.person(Role.BIZENV_OFFICE, name="郑营商", login="bizenv")
    enterprise = factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    order = factory.order(staff, now, enterprise=enterprise,
                          content="企业扩建厂房涉及规划、消防、供电多个部门，审批进度缓慢，请协调推进。")
    assert order.level == 1 and order.state == State.PROCESSING
    number = order.number
    session.commit()
    return number, ids


def test_escalate_to_level_3_and_hold_a_joint_meeting_on_a_phone(live_server, browser, seeded, session_factory,
                                                                artifacts):
    base = live_server
    order_number, ids = seeded
    # The zone staff member: 升级 → 区级会商办理, with the reason, from the order page.
    context, page = phone_page(browser, user_agent=SAFARI)
    console_sign_in(page, base, "staff", f"/m/orders/{order_number}")
    page.click("#act-escalate summary")
    page.click("#act-escalate label.m-choice:has(input[name=level][value='3'])")
    page.fill("#act-escalate textarea[name=reason]", "涉及规划、消防、供电三个部门，部门间难以协调，需区级会商")
    page.screenshot(path=str(artifacts / "mobile-escalate.png"), full_page=True)
    page.click("#act-escalate button[data-action=escalate]")
    page.wait_for_url(f"{base}/m/orders/{order_number}")
    expect(page.locator(".m-badge").nth(1)).to_have_text("区级会商办理")
    context.close()

    # The business-environment office: 联席会商 with departments tapped as chips.
    context, page = phone_page(browser, user_agent=SAFARI)
    console_sign_in(page, base, "bizenv", f"/m/orders/{order_number}")
    page.click("#act-joint_meeting summary")
    chips = page.locator("#act-joint_meeting .m-chip")
    expect(page.locator("#act-joint_meeting [data-check-filter]")).to_be_visible()
    page.fill("#act-joint_meeting [data-check-filter]", "人社")
    page.click("#act-joint_meeting .m-chip:has-text('人社局')")
    page.fill("#act-joint_meeting [data-check-filter]", "住建")
    page.click("#act-joint_meeting .m-chip:has-text('住建委')")
    page.fill("#act-joint_meeting [data-check-filter]", "")
    expect(chips.locator("input:checked")).to_have_count(2)
    box = page.locator("#act-joint_meeting .m-chip:has-text('人社局') span").bounding_box()
    assert box["height"] >= 40  # a finger, not a mouse
    page.select_option("#act-joint_meeting select[name=lead_department_id]", label="住建委")
    page.fill("#act-joint_meeting textarea[name=decisions]", "住建委牵头，人社局配合，两周内完成审批协调")
    page.screenshot(path=str(artifacts / "mobile-joint-meeting.png"), full_page=True)
    page.click("#act-joint_meeting button[data-action=joint_meeting]")
    page.wait_for_url(f"{base}/m/orders/{order_number}")
    expect(page.locator(".m-alert").first).to_contain_text("联席会商已记录")
    context.close()

    with session_factory() as s:
        order = s.scalar(select(WorkOrder).where(WorkOrder.number == order_number))
        assert order.level == 3 and order.state == State.DISPATCHED
        assert order.assigned_department_id == ids["zjw"]
        [meeting] = s.scalars(select(JointMeeting).where(JointMeeting.work_order_id == order.id))
        assert sorted(d.id for d in meeting.departments) == sorted([ids["zjw"], ids["rsj"]])
        channels = {e.action: e.channel for e in s.scalars(select(WorkOrderEvent).where(
            WorkOrderEvent.work_order_id == order.id))}
        # A console session on a phone is recorded as 移动端, not as the web console.
        assert channels[Action.ESCALATE] == "mobile" and channels[Action.JOINT_MEETING] == "mobile"
    assert re.match(r"BC-\d{8}-\d{4}", order_number)


# --------------------------------------------------------------------------------------------
# Inside the WeCom client: the JS-SDK's location goes with the photos
# --------------------------------------------------------------------------------------------
wecom_live_server = h5.wecom_live_server
wecom_oauth = h5.wecom_oauth
workbench_browser = h5.workbench_browser

# What the WeCom client's JS-SDK does for the page, answering as the client would.
FAKE_JSSDK = """
window.wx = {
  config: function (c) { document.documentElement.setAttribute("data-wx-config", JSON.stringify(c)); },
  ready: function (f) { setTimeout(f, 0); },
  agentConfig: function (c) { document.documentElement.setAttribute("data-wx-agent", JSON.stringify(c)); c.success(); },
  getLocation: function (o) { o.success({ latitude: 39.2234567, longitude: 117.1345678, accuracy: 30 }); }
};
"""


@pytest.fixture
def wecom_order(factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff", wecom_userid="wangfuwu")
    rsj = factory.department("rsj")
    factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办", login="helper", wecom_userid="sunbangban")
    order = factory.order(staff, now, level=2, department_id=rsj.id,
                          content="企业急需招聘 30 名数控技术工人，请协助对接招聘会")
    number = order.number
    session.commit()
    return number


def test_photo_with_the_wecom_location(wecom_live_server, wecom_emulator, wecom_oauth, workbench_browser,
                                       wecom_order, session_factory, artifacts):
    import hashlib
    import json

    base = wecom_live_server
    wecom_emulator.add_user("sunbangban", "孙帮办", "13900000002")
    wecom_oauth.userid = "sunbangban"
    context, page = h5.phone_page(workbench_browser)
    context.route("https://res.wx.qq.com/**", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=FAKE_JSSDK))
    page.goto(f"{base}/m/orders/{wecom_order}")
    page.wait_for_url(re.compile(re.escape(f"{base}/m/orders/{wecom_order}") + r"(#wechat_redirect)?$"))
    page.click("#act-attach summary")
    expect(page.locator("[data-locate]")).to_be_visible()
    config = json.loads(page.locator("html").get_attribute("data-wx-config"))
    agent = json.loads(page.locator("html").get_attribute("data-wx-agent"))
    url = f"{base}/m/orders/{wecom_order}"

    def signed(ticket):
        text = f"jsapi_ticket={ticket}&noncestr={config['nonceStr']}&timestamp={config['timestamp']}&url={url}"
        return hashlib.sha1(text.encode()).hexdigest()

    assert config["appId"] == wecom_emulator.corp_id and config["jsApiList"] == ["getLocation"]
    assert config["signature"] == signed(wecom_emulator.jsapi_tickets["corp"])
    assert agent["signature"] == signed(wecom_emulator.jsapi_tickets["agent"])
    page.click("[data-locate]")
    expect(page.locator("[data-location-label]")).to_have_text("已附上位置：39.223457,117.134568")
    page.set_input_files("#act-attach input[capture]", files=[
        {"name": "车间现场.png", "mimeType": "image/png", "buffer": h5.PNG}])
    page.screenshot(path=str(artifacts / "mobile-wecom-photo-location.png"), full_page=True)
    page.click("#act-attach button[data-action=attach]")
    expect(page.locator(".m-alert-success")).to_contain_text("已补充 1 个附件")
    context.close()
    with session_factory() as s:
        event = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.action == Action.COMMENT))
        assert "车间现场.png" in event.note and "39.223457,117.134568" in event.note
        assert event.channel == "wecom"


# --------------------------------------------------------------------------------------------
# Inside the DingTalk client: dd.config, then dd.device.geolocation.get fills the same field
# --------------------------------------------------------------------------------------------
DINGTALK_UA = ("Mozilla/5.0 (Linux; U; Android 13; zh-CN; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Version/4.0 Chrome/100.0.4896.58 Mobile Safari/537.36 AliApp(DingTalk/7.5.10) "
               "com.alibaba.android.rimet/36789875 Channel/700159 language/zh-CN abi/64 UT4Aplus/0.2.25")

# The DingTalk client's JS bridge as the page sees it. A native bridge exists only inside the
# client's own WebView, so in Chromium the only way to test the page against it is a stub ``dd``
# object injected before any page script runs (page.add_init_script); open.js itself is answered
# empty so it cannot replace the stub. It answers as the client would and records what the page
# asked for.
FAKE_DD = """
window.__dd = { configs: [], authCorp: null };
window.dd = {
  ready: function (f) { setTimeout(f, 0); },
  error: function () {},
  config: function (c) { window.__dd.configs.push(c); },
  requestAuthCode: function (o) { window.__dd.authCorp = o.corpId; o.success({ code: "%(code)s" }); },
  device: { geolocation: { get: function (o) {
    window.__dd.geolocation = o;
    o.onSuccess({ latitude: 39.1876543, longitude: 117.2012346, accuracy: 25 });
  } } }
};
"""


@pytest.fixture
def dingtalk_live_server(app, session_factory, dingtalk_emulator, tmp_path):
    from tests.emulators.dingtalk_fixtures import dingtalk_settings_for

    yield from h5.platform_live_server(app, tmp_path, {"dingtalk": dingtalk_settings_for(dingtalk_emulator)},
                                       "dingtalk-live-server")


@pytest.fixture
def dingtalk_order(factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff", dingtalk_userid="dt-wangfuwu")
    rsj = factory.department("rsj")
    factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办", login="helper", dingtalk_userid="dt-sunbangban")
    order = factory.order(staff, now, level=2, department_id=rsj.id,
                          content="企业急需招聘 30 名数控技术工人，请协助对接招聘会")
    number = order.number
    session.commit()
    return number


def test_photo_with_the_dingtalk_location(dingtalk_live_server, dingtalk_emulator, browser, dingtalk_order,
                                          session_factory, artifacts):
    import hashlib

    from tests.emulators.dingtalk_fixtures import corp_id_for

    base = dingtalk_live_server
    corp_id = corp_id_for(dingtalk_emulator)
    dingtalk_emulator.add_user("dt-sunbangban", "孙帮办", "13900000002")
    context, page = h5.phone_page(browser, user_agent=DINGTALK_UA)
    context.route("https://g.alicdn.com/**", lambda route: route.fulfill(
        status=200, content_type="application/javascript", body=""))
    page.add_init_script(FAKE_DD % {"code": dingtalk_emulator.issue_code("dt-sunbangban")})
    url = f"{base}/m/orders/{dingtalk_order}"
    page.goto(url)  # the 免登 page: requestAuthCode, the code to the server, back to the order
    page.wait_for_url(url)
    assert page.evaluate("window.__dd.authCorp") == corp_id
    page.click("#act-attach summary")
    expect(page.locator("[data-locate]")).to_be_visible()
    configs = page.evaluate("window.__dd.configs")
    assert len(configs) == 1
    config = configs[0]
    text = f"jsapi_ticket={dingtalk_emulator.jsapi_ticket}&noncestr={config['nonceStr']}" \
           f"&timestamp={config['timeStamp']}&url={url}"
    assert config["signature"] == hashlib.sha1(text.encode()).hexdigest()  # the server's, for this page
    assert config["corpId"] == corp_id and config["agentId"] == dingtalk_emulator.agent_id
    assert config["jsApiList"] == ["device.geolocation.get"]
    assert len(dingtalk_emulator.calls("get_jsapi_ticket")) == 1
    page.click("[data-locate]")
    expect(page.locator("[data-location-label]")).to_have_text("已附上位置：39.187654,117.201235")
    assert page.locator("[data-location-field]").input_value() == "39.187654,117.201235"
    # The camera is the plain file input with capture, as everywhere else.
    page.set_input_files("#act-attach input[capture]", files=[
        {"name": "车间现场.png", "mimeType": "image/png", "buffer": h5.PNG}])
    page.screenshot(path=str(artifacts / "mobile-dingtalk-photo-location.png"), full_page=True)
    page.click("#act-attach button[data-action=attach]")
    expect(page.locator(".m-alert-success")).to_contain_text("已补充 1 个附件")
    context.close()
    with session_factory() as s:
        event = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.action == Action.COMMENT))
        assert "车间现场.png" in event.note and "39.187654,117.201235" in event.note
        assert event.channel == "dingtalk"
