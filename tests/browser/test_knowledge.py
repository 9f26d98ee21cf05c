"""Chromium: 营商环境办 writes a knowledge entry and publishes it; a service staff member typing a
new request sees it suggested on the form (debounced lookup, no page reload) and opens it."""

from __future__ import annotations

import pytest

from models import Role
from tests.browser.helpers import desktop_page, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(factory, session):
    factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"), name="营商办", login="bizenv")
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    session.commit()


def test_entry_written_published_and_suggested_on_the_new_request_form(live_server, browser, seeded, artifacts):
    base = live_server
    page = desktop_page(browser)

    sign_in(page, base, "bizenv")
    page.goto(f"{base}/knowledge/")
    page.click("text=编写条目")
    page.fill("input[name=title]", "企业招工难，能否帮忙对接专场招聘会？")
    page.fill("textarea[name=answer]", "人社局每月举办专场招聘会，为企服务人员可为企业报名；急需技术工人的，可吹哨人社局首席帮办。")
    page.fill("input[name=keywords]", "招工、招聘会")
    page.click("button:has-text('保存')")
    page.wait_for_selector("text=已保存为草稿")
    page.click("button:has-text('发布')")
    page.wait_for_selector("text=已发布，所有工作人员均可查到")
    page.click("text=退出")

    sign_in(page, base, "staff")
    page.goto(f"{base}/orders/new")
    box = page.locator("#knowledge-suggest")
    assert box.is_hidden()
    page.fill("textarea[name=content]", "企业招工难，急需 20 名技术工人，希望对接专场招聘会")
    page.wait_for_selector("#knowledge-suggest >> text=企业招工难，能否帮忙对接专场招聘会？")
    assert box.is_visible()
    page.screenshot(path=str(artifacts / "knowledge-suggestion.png"), full_page=True)
    with page.expect_popup() as popup:
        page.click("#knowledge-suggest a")
    opened = popup.value
    opened.wait_for_selector("text=人社局每月举办专场招聘会")
    # Clearing the text hides the box again.
    page.fill("textarea[name=content]", "")
    page.wait_for_selector("#knowledge-suggest", state="hidden")
