"""Chromium: a department's chief helper enters a policy with an item and previews the match; the
department leader publishes it, starts a push, approves it and watches the campaign progress
while the jobs run; the staff member's H5 list and the enterprise's own page follow."""

from __future__ import annotations

import re
from datetime import date

import pytest

from models import Role, SystemSetting
from tests.browser.helpers import desktop_page, sign_in, sign_out

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api", reason="未安装 playwright，跳过浏览器测试").expect


@pytest.fixture
def seeded(factory, session):
    gxj = factory.department("gxj")
    tianmu, beicang = factory.zone("tianmu"), factory.zone("beicang")
    factory.person(Role.CHIEF_HELPER, department=gxj, name="工信帮办", login="helper")
    factory.person(Role.DEPT_LEADER, department=gxj, name="工信局长", login="leader")
    staff = factory.person(Role.SERVICE_STAFF, zone=tianmu, name="王服务", login="staff")
    staff2 = factory.person(Role.SERVICE_STAFF, zone=beicang, name="李服务", login="staff2")
    e = factory.enterprise
    e(zone=tianmu, staff=staff, name="天津天穆精密机械有限公司", industry_code="C3484", size_band="小",
      chain_position="核心配套", key_industry=True, established_on=date(2015, 5, 1))
    e(zone=tianmu, staff=staff, name="天津天穆齿轮有限公司", industry_code="C3453", size_band="中", chain_position="链主",
      key_industry=True, established_on=date(2008, 3, 1))
    e(zone=beicang, staff=staff2, name="天津北仓数控装备有限公司", industry_code="C3421", size_band="小",
      key_industry=True, established_on=date(2012, 3, 1))
    e(zone=beicang, staff=staff2, name="天津北仓食品有限公司", industry_code="C1431", size_band="小",
      established_on=date(2012, 3, 1))
    e(zone=tianmu, staff=staff, name="天津天穆大型机械集团", industry_code="C3411", size_band="大",
      key_industry=True, established_on=date(2001, 3, 1))
    session.get(SystemSetting, "policy_quiet_hours").value = ""  # the test may run at night
    session.commit()
    return {}


def test_policy_item_preview_approval_and_campaign_progress(app, live_server, browser, seeded, artifacts):
    from jobs.scheduler import run_job_now

    base = live_server
    page = desktop_page(browser)

    # 1. The chief helper enters the policy and an item with its conditions, and previews the match.
    sign_in(page, base, "helper")
    page.click("nav >> text=政策")
    page.click("text=录入政策")
    page.fill("input[name=title]", "北辰区促进高端装备制造业发展若干措施")
    page.fill("input[name=issuing_body]", "北辰区人民政府办公室")
    page.fill("input[name=doc_number]", "北辰政办规〔2026〕1号")
    page.fill("textarea[name=summary]", "对高端装备制造企业的首台（套）产品、智能化改造给予奖励和补助。")
    page.click("button:has-text('保存')")
    page.wait_for_selector("text=已录入政策")
    page.click("a:has-text('添加申报事项')")
    page.fill("input[name=title]", "首台（套）重大技术装备奖励")
    page.fill("textarea[name=summary]", "按首台（套）产品销售额的 10% 给予奖励，最高 200 万元。")
    page.fill("input[name=apply_until]", "2099-06-30")
    page.fill("#c_industries", "C34")
    page.check("input[name=c_size_bands][value='中']")
    page.check("input[name=c_size_bands][value='小']")
    page.check("input[name=c_key_industry][value='yes']")
    page.click("button:has-text('预览匹配')")
    page.wait_for_selector("text=匹配预览（未保存）")
    # 精密机械、齿轮 (天穆, 王服务) and 数控装备 (北仓, 李服务); the 大型 one and the food company do not fit.
    assert page.locator("[data-testid=match-total]").inner_text() == "3"
    assert page.locator("text=天津天穆大型机械集团").count() == 0
    page.screenshot(path=str(artifacts / "policy-item-preview.png"), full_page=True)
    page.click("button:has-text('保存')")
    page.wait_for_selector("text=已添加申报事项")
    page.click("button:has-text('提交审核')")
    page.wait_for_selector("text=已提交审核")
    assert page.locator("[data-testid=policy-status]").inner_text() == "待审核"
    policy_url = page.url.split("#")[0]
    sign_out(page)

    # 2. The department leader publishes it, starts a push and approves it.
    sign_in(page, base, "leader")
    page.goto(policy_url)
    page.click("button:has-text('发布')")
    page.wait_for_selector("text=已发布。")
    page.click("text=匹配预览")
    page.wait_for_selector("text=按服务人员")
    assert page.locator("[data-testid=match-total]").inner_text() == "3"
    page.screenshot(path=str(artifacts / "policy-match-preview.png"), full_page=True)
    page.click("text=对这些企业发起推送")
    page.wait_for_selector("text=匹配预览：首台（套）重大技术装备奖励")
    page.click("button:has-text('提交审批')")
    page.wait_for_selector("text=已创建推送任务")
    page.click("[data-testid=approve]")
    page.wait_for_selector("text=已审批")
    campaign_url = page.url
    assert page.locator("[data-field=status_label]").inner_text() == "已审批待发送"

    # 3. The jobs process runs while the page polls its progress.
    run_job_now(app, "policy_campaigns")  # starts it, selects the 3 enterprises, writes 2 digests
    # The CSP forbids eval, so no wait_for_function: Playwright's expect polls the DOM instead.
    expect(page.locator("[data-field=status_label]")).to_have_text("推送中")
    assert page.locator("[data-testid=waiting]").inner_text() == "3"
    page.screenshot(path=str(artifacts / "policy-campaign-running.png"), full_page=True)
    run_job_now(app, "deliver_outbox")  # the sandbox delivers both digests
    run_job_now(app, "policy_campaigns")  # deliveries confirmed: done
    # The poll sees "done" and the page reloads itself once for the detail table.
    expect(page.locator("[data-field=status_label]")).to_have_text("已完成")
    expect(page.locator("#pushes tbody tr")).to_have_count(3)
    assert page.locator("[data-field=status_label]").inner_text() == "已完成"
    assert page.locator("[data-testid=sent]").inner_text() == "3"
    assert page.locator("[data-testid=waiting]").inner_text() == "0"
    assert page.locator("[data-testid=failed]").inner_text() == "0"
    assert page.locator("#pushes tbody tr").count() == 3
    page.screenshot(path=str(artifacts / "policy-campaign-done.png"), full_page=True)
    campaign_id = re.search(r"/campaigns/(\d+)", campaign_url).group(1)
    sign_out(page)

    # 4. The staff member's H5 list, then the enterprise's own page on a phone.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    phone.set_default_timeout(15_000)
    sign_in(phone, base, "staff")
    phone.goto(f"{base}/m/policies/{campaign_id}")
    head = phone.locator("[data-testid=digest-head]").inner_text()
    assert head == "你负责的 2 家企业符合《北辰区促进高端装备制造业发展若干措施》"
    phone.screenshot(path=str(artifacts / "policy-h5-digest.png"), full_page=True)
    forward = phone.locator("textarea.pm-text").first.input_value()
    link = re.search(r"http://127\.0\.0\.1:5000(/p/[0-9a-f]{32})", forward).group(1)
    phone.goto(f"{base}{link}")
    phone.wait_for_selector("text=为什么推荐给您")
    assert "申报截止 2099-06-30" in phone.content()
    phone.screenshot(path=str(artifacts / "policy-enterprise-page.png"), full_page=True)
    phone.click("button:has-text('我已申报')")
    phone.wait_for_selector("text=已记录：贵企业已申报该事项")
    phone.close()
    page.close()
