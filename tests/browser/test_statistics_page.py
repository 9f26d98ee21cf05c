"""统计 in Chromium: open it from the navigation, switch the group tab and the period, see the numbers change."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from models import Role, utcnow
from services.orders import operations as wo
from services.statistics.kpis import LOCAL_TZ
from tests.browser.helpers import desktop_page, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def seeded(factory, session):
    """Two orders this month (one whistled to 人社局), one resolved order last month — by the real clock."""
    staff = factory.person(Role.SERVICE_STAFF, name="王服务")
    factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="赵调度", login="dispatcher")
    rsj = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="孙帮办")
    enterprise = factory.enterprise(staff=staff, name="天津天穆精密机械有限公司")
    now = utcnow()
    local = now.astimezone(LOCAL_TZ)
    month_start = datetime.combine(local.date().replace(day=1), time.min, tzinfo=LOCAL_TZ)
    this_month = month_start + (now - month_start) / 2
    last_month = datetime.combine((month_start - timedelta(days=1)).replace(day=10), time(10), tzinfo=LOCAL_TZ)

    earlier = factory.order(staff, last_month, enterprise=enterprise, level=1, content="企业咨询出口退税办理进度")
    wo.resolve(factory.ctx(staff, last_month + timedelta(hours=2)), earlier, result="已告知企业办理进度")
    whistled = factory.order(staff, this_month, enterprise=enterprise, level=2, department_id=rsj.id,
                             content="企业扩产急需招聘 30 名数控技术工人，请协助对接招聘会")
    wo.sign(factory.ctx(helper, this_month + timedelta(minutes=30)), whistled)
    factory.order(staff, this_month, enterprise=enterprise, level=1, content="企业咨询一般纳税人资格登记流程")
    session.commit()


def total_cell(page, kpi: str) -> str:
    return page.locator(f"#stat-table tfoot tr[data-row='合计'] td[data-kpi='{kpi}']").inner_text().strip()


def test_statistics_page_switches_group_and_period(live_server, browser, seeded, artifacts):
    base = live_server
    page = desktop_page(browser, 1400)
    sign_in(page, base, "dispatcher")

    page.click("nav >> text=统计")
    page.wait_for_selector("#stat-table")
    assert "本月" in page.locator("#stat-period-label").inner_text()
    assert total_cell(page, "received") == "2"
    assert page.locator("#stat-table tbody tr[data-row='天穆镇'] td[data-kpi='received']").inner_text() == "2"

    page.click(".area-tabs >> text=按部门")
    page.wait_for_selector("#stat-table[data-group='department']")
    response = page.locator("#stat-table tbody tr[data-row='人社局'] td[data-kpi='response_rate']")
    assert response.locator(".pct").inner_text() == "100.0%" and response.locator(".frac").inner_text() == "1/1"
    assert "按时签收" in response.get_attribute("title")
    page.screenshot(path=str(artifacts / "statistics-department.png"))

    page.select_option("#stat-period", "last_month")
    page.click("button[data-action=apply-period]")
    page.wait_for_url("**period=last_month**")
    assert "上月" in page.locator("#stat-period-label").inner_text()
    assert page.locator("#stat-table").get_attribute("data-group") == "department"
    assert total_cell(page, "received") == "1" and total_cell(page, "resolved") == "1"
    assert page.locator("#stat-table tbody tr[data-row='人社局'] td[data-kpi='response_rate'] .pct").inner_text() == "—"
    page.screenshot(path=str(artifacts / "statistics-last-month.png"), full_page=True)

    # The printable 通报 keeps the period and the grouping.
    page.click("#stat-bulletin")
    page.wait_for_selector("#bulletin")
    assert "上月" in page.locator(".print-title").text_content()
    assert page.locator("#bulletin tbody tr[data-row='人社局']").count() == 1
    page.screenshot(path=str(artifacts / "statistics-bulletin.png"), full_page=True)
    page.close()
