"""Chromium: what used to be inline script works from static/ under the Content-Security-Policy —
the person form's role switch, confirmations, select-all, submit-on-change and the back link."""

from __future__ import annotations

import pytest

from models import Person, Role
from tests.browser.helpers import desktop_page, sign_in

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect


@pytest.fixture
def seeded(factory, session):
    factory.person(Role.SYSADMIN, name="冯管理", login="admin")
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    for name in ("天津甲机械有限公司", "天津乙物流有限公司"):
        enterprise = factory.enterprise(name=name)
        enterprise.zone = None  # waiting in the unassigned queue
    session.commit()
    return staff


def test_person_form_confirmations_and_back_link(live_server, browser, seeded, session_factory):
    base = live_server
    page = desktop_page(browser)
    sign_in(page, base, "admin")

    # The role decides which unit fields the form shows (was an inline <script>).
    page.goto(f"{base}/admin/people/{seeded.id}")
    zone, stages = page.locator("#person-form [data-for=zone]"), page.locator("#person-form [data-for=stages]")
    expect(zone).to_be_visible()
    expect(stages).to_be_hidden()
    page.select_option("#role-select", "chief_helper")
    expect(zone).to_be_hidden()
    expect(stages).to_be_visible()
    expect(page.locator("#person-form select[name=zone_id]")).to_be_disabled()
    page.select_option("#role-select", "service_staff")
    expect(zone).to_be_visible()

    # Deactivation asks first (data-confirm on the form): dismissed, nothing happens.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('停用此人员')")
    page.wait_for_timeout(300)
    with session_factory() as s:
        assert s.get(Person, seeded.id).active
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('停用此人员')")
    page.wait_for_selector("text=已停用「王服务」")
    with session_factory() as s:
        assert not s.get(Person, seeded.id).active

    # An error page's back link returns to where the person came from (was a javascript: URL).
    page.goto(f"{base}/orders")
    page.goto(f"{base}/orders/BC-19990101-9999")
    page.click("text=返回上一页")
    page.wait_for_url(f"{base}/orders")


def test_select_all_and_submit_on_change(live_server, browser, seeded):
    base = live_server
    page = desktop_page(browser)
    sign_in(page, base, "admin")

    page.goto(f"{base}/grid/unassigned")
    boxes = page.locator("input[name=enterprise_ids]")
    expect(boxes).to_have_count(2)
    page.check("input[data-check-all=enterprise_ids]")
    for i in range(2):
        expect(boxes.nth(i)).to_be_checked()
    page.uncheck("input[data-check-all=enterprise_ids]")
    expect(page.locator("input[name=enterprise_ids]:checked")).to_have_count(0)

    # Choosing a department group in the sandbox opens it at once (was onchange="…").
    page.goto(f"{base}/sandbox")
    value = page.locator("select[data-autosubmit] option").nth(1).get_attribute("value")
    page.select_option("select[data-autosubmit]", value)
    page.wait_for_url(f"{base}/sandbox?c={value.replace(':', '%3A')}")
