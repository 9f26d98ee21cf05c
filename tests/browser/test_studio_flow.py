"""The low-code studio end to end in Chromium: an administrator changes the form, the dispatch catalogue,
a command word and the whistle's text in the console; a service staff member then files on the console,
on the phone (/m/) and by chat, and every request lands where the new rule says, with the new field, and
the whistle the helper answers (with the new word) uses the edited text."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from models import Role, WorkOrder
from services.orders.lifecycle import State
from tests.browser.helpers import desktop_page, sign_in, sign_out

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect

DOMAIN = "社会管理"
RULE = "社保补贴咨询"
WHISTLE = "【请报到】{{ mentions }} 工单 {{ number }}：{{ summary }}。回复「收到 {{ short_number }}」接单。"
ENTERPRISE = "天津天穆精密机械有限公司"


@pytest.fixture
def seeded(factory, session):
    staff = factory.person(Role.SERVICE_STAFF, name="王服务", login="staff")
    rsj = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办", login="helper")
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    factory.enterprise(staff=staff, name=ENTERPRISE)
    session.commit()
    # Plain values only: the browser's requests run in other threads while this test waits.
    return {"staff_id": staff.id, "helper_id": helper.id, "rsj_id": rsj.id}


def _saved(page, text: str) -> None:
    expect(page.locator(".flash, .alert").filter(has_text=text).first).to_be_visible()


def _administrator_configures(page, base: str) -> None:
    sign_in(page, base, "admin")
    # A required number field on the domain's form.
    page.goto(f"{base}/studio/forms?domain={DOMAIN}")
    page.fill("input[name='r0.key']", "employees")
    page.fill("input[name='r0.label']", "涉及人数")
    page.select_option("select[name='r0.type']", "number")
    page.check("input[name='r0.required']")
    page.fill("input[name='r0.min']", "1")
    page.fill("input[name='r0.unit']", "人")
    page.fill("input[name=reason]", "社会管理诉求增加涉及人数")
    page.click("button:has-text('保存')")
    _saved(page, f"「{DOMAIN}」表单已保存")
    # A dispatch rule: subsidy questions go to 人社局 at level 2.
    page.goto(f"{base}/studio/dispatch/new")
    page.fill("input[name=name]", RULE)
    page.fill("input[name=keywords]", "社保补贴、稳岗返还")
    page.fill("input[name=domain]", DOMAIN)
    page.select_option("select[name=department]", label="人社局")
    page.select_option("select[name=level]", "2")
    page.fill("input[name=reason]", "按季度调整派单目录")
    page.click("button:has-text('保存')")
    _saved(page, "派单目录已保存")
    expect(page.locator("body")).to_contain_text(RULE)
    # 收到 means 报到 in the groups.
    page.goto(f"{base}/studio/aliases")
    row = page.locator("tr", has=page.locator("input[name=alias]")).first
    row.locator("input[name=alias]").fill("收到")
    row.locator("select[name=command]").select_option("报到")
    page.fill("input[name=reason]", "按部门习惯增加“收到”")
    page.click("button:has-text('保存')")
    _saved(page, "命令别名已保存")
    # The whistle in the district's own words; an unknown placeholder is refused first.
    page.goto(f"{base}/studio/templates/whistle")
    page.fill("textarea[name=text]", "{{ nonsense }} " + WHISTLE)
    page.click("button[name=action][value=save]")
    expect(page.locator("body")).to_contain_text("nonsense")
    page.fill("textarea[name=text]", WHISTLE)
    page.fill("input[name=reason]", "按区里口径改写吹哨")
    page.click("button[name=action][value=save]")
    _saved(page, "已保存")
    page.goto(f"{base}/studio")
    expect(page.locator("body")).to_contain_text("按区里口径改写吹哨")
    sign_out(page)


def _staff_files_on_the_console(page, base: str) -> str:
    sign_in(page, base, "staff")
    page.goto(f"{base}/orders/new")
    page.fill("#enterprise-query", "精密")
    option = page.locator(".ent-option", has_text=ENTERPRISE)
    option.wait_for()
    option.locator("input[type=radio]").check()
    page.fill("textarea[name=content]", "企业咨询社保补贴和稳岗返还的申领条件，希望尽快了解办理流程。")
    page.select_option("select[name=domain_id]", label=DOMAIN)
    group = page.locator("fieldset.custom-fields:not([hidden])")
    expect(group).to_contain_text("涉及人数（必填）")
    # Submitted without the required field: refused, naming it, and nothing typed is lost.
    page.click("button[data-action=create]")
    expect(page.locator(".field-error").filter(has_text="涉及人数").first).to_be_visible()
    assert "稳岗返还" in page.input_value("textarea[name=content]")
    page.locator("fieldset.custom-fields:not([hidden]) input").first.fill("12")
    page.click("button[data-action=create]")
    page.wait_for_url(re.compile(r".*/orders/BC-\d{8}-\d{4}$"))
    expect(page.locator("body")).to_contain_text("涉及人数")
    expect(page.locator("body")).to_contain_text("12")
    number = page.url.rsplit("/", 1)[-1]
    sign_out(page)
    return number


def _staff_files_on_the_phone(browser, base: str) -> str:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login?next=/m/")
    page.fill("input[name=username]", "staff")
    page.fill("input[name=password]", "demo-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/m/")
    page.goto(f"{base}/m/orders/new")
    page.fill("#m-enterprise-query", "精密")
    expect(page.locator("#m-enterprise-results input[name=enterprise_id]")).to_be_checked()
    page.fill("textarea[name=content]", "企业想申请社保补贴，请帮忙核实申领材料和时限。")
    page.select_option("#m-domain", label=DOMAIN)
    page.locator("fieldset.custom-fields:not([hidden]) input").first.fill("30")
    page.click("button[data-action=create]")
    page.wait_for_url(re.compile(r".*/m/orders/BC-\d{8}-\d{4}$"))
    expect(page.locator("body")).to_contain_text("涉及人数")
    number = page.url.rsplit("/", 1)[-1]
    context.close()
    return number


def _send(page, text: str) -> None:
    page.fill(".sb-compose input[name=text]", text)
    page.click(".sb-compose button[type=submit]")
    page.wait_for_load_state()
    # The bot's answer goes through the outbox like every message; deliver it now.
    page.click("button[data-action=deliver]")
    page.wait_for_load_state()


def test_studio_changes_reach_console_phone_chat_and_the_whistle(live_server, browser, seeded, session_factory,
                                                                 artifacts):
    base = live_server
    page = desktop_page(browser)
    _administrator_configures(page, base)
    console_number = _staff_files_on_the_console(page, base)
    phone_number = _staff_files_on_the_phone(browser, base)

    # By chat (the sandbox stands in for WeCom/DingTalk): 诉求 without the field asks for it.
    sign_in(page, base, "admin")
    page.goto(f"{base}/sandbox?c=person:{seeded['staff_id']}")
    _send(page, f"诉求 {ENTERPRISE} 企业新招用工，咨询社保补贴和稳岗返还申领")
    expect(page.locator("#sb-messages")).to_contain_text("涉及人数")
    _send(page, "涉及人数=8")
    expect(page.locator("#sb-messages")).to_contain_text("已为")

    with session_factory() as s:
        orders = list(s.scalars(select(WorkOrder).order_by(WorkOrder.id)))
        assert [o.channel for o in orders] == ["console", "mobile", "sandbox"]
        assert [o.dispatch_rule for o in orders] == [RULE] * 3
        assert [(o.level, o.assigned_department_id, o.state) for o in orders] == [
            (2, seeded["rsj_id"], State.DISPATCHED)] * 3
        assert [o.custom_fields for o in orders] == [{"employees": 12}, {"employees": 30}, {"employees": 8}]
        assert orders[0].number == console_number and orders[1].number == phone_number
        chat_number = orders[2].number

    # The whistles in the 人社局 group use the edited text; the helper answers with the new word.
    page.goto(f"{base}/sandbox?c=group:{seeded['rsj_id']}")
    whistles = page.locator("#sb-messages .bubble", has_text="【请报到】")
    expect(whistles).to_have_count(3)
    assert "回复「收到" in whistles.first.inner_text()
    page.select_option("#sb-person", value=str(seeded["helper_id"]))
    _send(page, f"收到 {chat_number[-4:]}")
    page.screenshot(path=str(artifacts / "studio-whistle-answered.png"), full_page=True)
    with session_factory() as s:
        assert s.scalar(select(WorkOrder.state).where(WorkOrder.number == chat_number)) == State.PROCESSING
    page.close()
