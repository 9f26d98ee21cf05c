"""End to end in Chromium: a zone files a request, the grid center dispatches it, the whistle
appears in the department's (sandbox) group with the chief helper @-mentioned."""

from __future__ import annotations

import re

import pytest

from models import Role
from tests.browser.helpers import desktop_page, sign_in, sign_out

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect


@pytest.fixture
def seeded(factory, session):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度", login="dispatcher")
    rsj = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办")
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    factory.enterprise(staff=staff, name="天津天穆食品有限公司")
    session.commit()
    # Plain values only: the browser's requests run in other threads while this test waits.
    return {"rsj_id": rsj.id, "helper": helper.name}


def test_staff_files_dispatcher_dispatches_whistle_reaches_the_group(live_server, browser, seeded, artifacts):
    base = live_server
    page = desktop_page(browser)

    # 1. The service staff member files a level-2 request without naming a department.
    page.goto(f"{base}/login")
    page.screenshot(path=str(artifacts / "console-login.png"))
    sign_in(page, base, "staff")
    page.screenshot(path=str(artifacts / "console-home.png"))
    page.click("nav >> text=新建诉求")
    page.fill("#enterprise-query", "精密")
    option = page.locator(".ent-option", has_text="天津天穆精密机械有限公司")
    option.wait_for()
    # The CSP forbids eval, so no wait_for_function: Playwright's expect polls the DOM instead.
    expect(page.locator("#enterprise-results .ent-option")).to_have_count(1)
    option.locator("input[type=radio]").check()
    page.fill("textarea[name=content]", "企业扩大生产，急需招聘 30 名数控技术工人，希望对接招聘会并了解用工补贴政策。")
    page.check("input[name=level][value='2']")
    assert page.locator("select[name=department_id]").is_visible()
    page.screenshot(path=str(artifacts / "console-new-order.png"), full_page=True)
    page.click("button[data-action=create]")
    page.wait_for_url(re.compile(r".*/orders/BC-\d{8}-\d{4}$"))
    number = page.url.rsplit("/", 1)[-1]
    assert "诉求已提交" in page.content()
    assert page.locator(".badge.state-pending_dispatch").inner_text() == "待派单"
    sign_out(page)

    # 2. The grid-center dispatcher dispatches it to 人社局 from the detail page.
    sign_in(page, base, "dispatcher")
    page.goto(f"{base}/orders/{number}")
    # 派单 is what the order waits for: its form is open among the collapsed others.
    assert page.locator("#act-dispatch").get_attribute("open") is not None
    assert page.locator("details.action[open]").count() == 1
    page.select_option("#act-dispatch select[name=department_id]", label="人社局")
    page.click("#act-dispatch button[data-action=dispatch]")
    page.wait_for_selector("text=已派单至 人社局")
    assert page.locator(".badge.state-dispatched").inner_text() == "待签收"
    page.screenshot(path=str(artifacts / "console-order-detail.png"), full_page=True)
    page.goto(f"{base}/board")
    page.screenshot(path=str(artifacts / "console-board.png"), full_page=True)
    sign_out(page)

    # 3. The administrator delivers the outbox and opens the 人社局 group in the sandbox.
    sign_in(page, base, "admin")
    page.click("nav >> text=沙箱消息")
    page.click("button[data-action=deliver]")
    page.wait_for_selector("text=投递完成")
    page.click(f"a[data-conversation='group:{seeded['rsj_id']}']")
    mention = page.locator("#sb-messages .mention", has_text=f"@{seeded['helper']}")
    mention.first.wait_for()
    bubble = page.locator("#sb-messages .bubble", has_text="吹哨报到").first
    assert number in bubble.inner_text()
    page.screenshot(path=str(artifacts / "console-sandbox.png"), full_page=True)

    # 4. The same pages on a phone-sized screen.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", device_scale_factor=2)
    sign_in(phone, base, "admin")
    phone.goto(f"{base}/orders")
    assert phone.locator("table.cards-on-phone thead").is_hidden()
    phone.screenshot(path=str(artifacts / "console-orders-phone.png"), full_page=True)
    phone.goto(f"{base}/orders/{number}")
    phone.screenshot(path=str(artifacts / "console-detail-phone.png"), full_page=True)
    phone.close()
    page.close()


def test_joint_meeting_departments_are_ticked_and_filtered(live_server, browser, factory, session, now, artifacts):
    """参会部门 without Ctrl-click: tick boxes, narrow the list by typing; ticked ones stay in view."""
    staff = factory.person(Role.SERVICE_STAFF, name="王服务")
    factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"), name="钱营商", login="bizenv")
    order = factory.order(staff, now, level=3, content="企业新建厂房涉及规划、消防、供电多个部门，需要协调推进")
    number = order.number
    session.commit()
    page = desktop_page(browser)
    sign_in(page, live_server, "bizenv")
    page.goto(f"{live_server}/orders/{number}")
    page.click("#act-joint_meeting > summary")
    picker = page.locator("#act-joint_meeting [data-check-picker]")
    picker.locator("label", has_text="人社局").locator("input").check()
    picker.locator("[data-check-filter]").fill("住建")
    visible = [t.strip() for t in picker.locator("label:visible").all_inner_texts()]
    assert visible == ["人社局", "住建委"]  # the ticked one stays, the typed one shows
    picker.locator("label", has_text="住建委").locator("input").check()
    page.screenshot(path=str(artifacts / "console-joint-meeting.png"), full_page=True)
    page.select_option("#act-joint_meeting select[name=lead_department_id]", label="住建委")
    page.fill("#act-joint_meeting textarea[name=decisions]", "住建委牵头，人社局配合办理")
    page.click("#act-joint_meeting button[data-action=joint_meeting]")
    page.wait_for_selector("text=联席会商已记录")
    assert "人社局、住建委" in page.locator("body").inner_text()
