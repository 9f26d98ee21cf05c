"""驾驶舱 in Chromium: the district leader signs in and lands on it, the charts are drawn (SVG, not
empty), the period switches, and the table behind a chart opens with one click."""

from __future__ import annotations

import pytest

from models import Role
from tests.browser.helpers import desktop_page, sign_in
from tests.browser.test_statistics_page import seeded  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def drawn(page, key: str) -> int:
    """How many shapes the chart's SVG holds (0 when nothing was drawn)."""
    return page.locator(f"#chart-{key} svg path, #chart-{key} svg text").count()


def test_leader_cockpit_charts_period_and_table(live_server, browser, seeded, factory, session, artifacts):  # noqa: F811
    factory.person(Role.DISTRICT_LEADER, name="钱区长", login="leader")
    session.commit()
    base = live_server
    page = desktop_page(browser, 1400)
    sign_in(page, base, "leader")
    page.wait_for_selector("#cockpit")
    assert page.locator("h1").inner_text() == "驾驶舱"
    assert page.locator(".kpi-card[data-kpi='received'] .kpi-value").inner_text() == "2"
    page.wait_for_selector("#chart-trend[data-rendered='1'] svg")
    for key in ("trend", "rates", "domain", "age"):  # (no zone has a deadline to judge yet this month)
        page.wait_for_selector(f"#chart-{key}[data-rendered='1'] svg")
        assert drawn(page, key) > 5, key
        box = page.locator(f"#chart-{key} svg").bounding_box()
        assert box["width"] > 200 and box["height"] > 200
    page.screenshot(path=str(artifacts / "cockpit.png"), full_page=True)

    # The table a chart was drawn from: one click.
    table = page.locator("#table-trend")
    assert not table.is_visible()
    page.click("#data-trend summary")
    assert table.is_visible() and table.locator("tbody tr").count() == 12
    received = [int(t) for t in table.locator("tbody tr td:nth-of-type(1)").all_inner_texts()]
    assert sum(received) == 3  # the seeded orders of this and last month, all within 12 weeks

    page.select_option("#cockpit-period", "last_month")
    page.click("#cockpit-period-form button[data-action=apply-period]")
    page.wait_for_url("**period=last_month**")
    assert "上月" in page.locator("#cockpit-period-label").inner_text()
    assert page.locator(".kpi-card[data-kpi='received'] .kpi-value").inner_text() == "1"
    page.wait_for_selector("#chart-domain[data-rendered='1'] svg")
    assert drawn(page, "domain") > 2

    # Full screen for the meeting room, and back.
    page.click("#cockpit-fullscreen")
    assert "bigscreen" in page.locator("#cockpit").get_attribute("class")
    page.click("#cockpit-fullscreen")
    assert "bigscreen" not in page.locator("#cockpit").get_attribute("class")

    # A phone: one column, charts still drawn at the screen's width.
    phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    phone.context.add_cookies(page.context.cookies())
    phone.goto(f"{base}/statistics/cockpit")
    phone.wait_for_selector("#chart-trend[data-rendered='1'] svg")
    width = phone.locator("#chart-trend svg").bounding_box()["width"]
    assert 250 < width <= 390
    phone.screenshot(path=str(artifacts / "cockpit-phone.png"), full_page=True)
    phone.close()
    page.close()
