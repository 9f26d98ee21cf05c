"""In Chromium: a staff member files a request that repeats an earlier one, is shown the earlier order and
links it; the grid-center dispatcher merges it, and a search for the later number leads to the earlier."""

from __future__ import annotations

import re

import pytest

from models import Role, utcnow
from tests.browser.helpers import desktop_page, sign_in, sign_out

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect

CONTENT = "厂区门前的道路破损严重，货车通行受影响，请尽快协调修复"


@pytest.fixture
def seeded(factory, session):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度", login="dispatcher")
    enterprise = factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    first = factory.order(staff, utcnow(), enterprise=enterprise, level=2,
                          content="企业厂区门前道路破损严重，影响货车通行，请协调修复")
    session.commit()
    return {"first": first.number}


def test_staff_links_a_repeat_and_the_dispatcher_merges_it(live_server, browser, seeded, artifacts):
    base, first = live_server, seeded["first"]
    page = desktop_page(browser)

    # 1. The staff member files the same matter again: the form shows the earlier order first.
    sign_in(page, base, "staff")
    page.goto(f"{base}/orders/new")
    page.fill("#enterprise-query", "精密")
    option = page.locator(".ent-option", has_text="天津天穆精密机械有限公司")
    option.wait_for()
    option.locator("input[type=radio]").check()
    page.fill("input[name=title]", "门前道路又坏了")
    page.fill("textarea[name=content]", CONTENT)
    page.check("input[name=level][value='2']")
    page.click("button[data-action=create]")
    box = page.locator("#possible-duplicates")
    box.wait_for()
    expect(box).to_contain_text("可能重复")
    expect(box).to_contain_text(first)
    # Nothing typed is lost.
    assert page.input_value("textarea[name=content]") == CONTENT
    assert page.input_value("input[name=title]") == "门前道路又坏了"
    page.screenshot(path=str(artifacts / "duplicate-confirm.png"), full_page=True)
    page.click(f"button[data-action=link-duplicate][value='{first}']")
    page.wait_for_url(re.compile(r".*/orders/BC-\d{8}-\d{4}$"))
    second = page.url.rsplit("/", 1)[-1]
    assert second != first
    expect(page.locator("#duplicate-of")).to_contain_text(first)
    sign_out(page)

    # 2. The dispatcher merges it on the order page.
    sign_in(page, base, "dispatcher")
    page.goto(f"{base}/orders/{second}")
    page.click("#act-merge summary")
    assert page.input_value("#act-merge input[name=into]") == first
    page.fill("#act-merge textarea[name=reason]", "同一路段")
    page.click("#act-merge button[data-action=merge]")
    page.wait_for_selector("#merged-into")
    expect(page.locator("#merged-into")).to_contain_text(first)
    assert page.locator(".badge.state-merged").inner_text() == "已合并"
    page.screenshot(path=str(artifacts / "duplicate-merged.png"), full_page=True)

    # 3. The later number leads to the earlier order, whose history carries both.
    page.goto(f"{base}/orders?q={second}")
    page.wait_for_url(re.compile(rf".*/orders/{first}$"))
    expect(page.locator("#merged-orders")).to_contain_text(second)
    expect(page.locator(".timeline .tl-merged").first).to_contain_text(second)
