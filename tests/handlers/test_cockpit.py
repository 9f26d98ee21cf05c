"""驾驶舱 through the test client: the landing page of district leaders and the 营商环境办, scoped for
zone and department heads, with each chart's table in the page (the charts are drawn from it)."""

from __future__ import annotations

import re

import pytest
import time_machine

from services.statistics import cockpit as cp
from services.statistics import kpis as st
from tests.handlers.test_statistics import login
from tests.services.test_statistics import APRIL_10, MARCH, Story


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(APRIL_10, tick=True):
        yield


@pytest.fixture
def story(factory, session):
    story = Story(factory, session)
    session.commit()
    return story


def card(html: str, key: str) -> str:
    found = re.search(rf'<li class="kpi-card" data-kpi="{key}">(.*?)</li>', html, re.S)
    assert found, key
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_leader_lands_on_the_cockpit_with_last_month_to_compare(client, story):
    login(client, "leader")
    html = client.get("/").get_data(as_text=True)
    assert "<h1>驾驶舱</h1>" in html and "范围：<b>全区</b>" in html
    # April so far against March (the story's month): 6 received in March, 2 in April (O8, and O7? no: O8).
    assert card(html, "received").startswith("受理数 1 上期 6")
    assert "上期 50.0%" in card(html, "on_time_rate")
    for key in ("trend", "rates", "domain", "rank_zone", "rank_department", "age"):
        assert f'id="chart-{key}" data-chart-for="table-{key}"' in html and f'id="table-{key}"' in html
    assert 'data-targets="{&#34;响应率&#34;: 90.0' in html
    assert "vendor/echarts/echarts.min.js" in html and "<script>" not in html
    # The lists to act on: O3 and O6 are overdue, 督办 outstanding on both.
    overdue = re.search(r'id="cockpit-overdue">(.*?)</section>', html, re.S).group(1)
    assert story.o3.number in overdue and story.o6.number in overdue
    assert re.search(r'督办未结 <span class="tally">2</span>', html)
    assert "天津天穆机械有限公司" in re.search(r'id="cockpit-repeated">(.*?)</section>', html, re.S).group(1)
    # The work overview is one click away.
    assert "我的在办" in client.get("/?view=work").get_data(as_text=True) or client.get("/?view=work").status_code == 200


def test_period_switch_and_bad_period(client, story):
    login(client, "bizenv")
    html = client.get("/statistics/cockpit?period=last_month").get_data(as_text=True)
    assert "上月（2026-03-01 至 2026-03-31）" in html
    assert card(html, "received").startswith("受理数 6 上期 1")  # February: O9
    response = client.get("/statistics/cockpit?period=yesterday")
    assert response.status_code == 400 and "this_month" in response.get_data(as_text=True)


def test_zone_and_department_heads_get_their_unit(client, story):
    login(client, "zone_admin")
    assert client.get("/").status_code == 200  # their home stays the work overview
    html = client.get("/statistics/cockpit?period=last_month").get_data(as_text=True)
    assert "范围：<b>天穆镇</b>" in html and card(html, "received").startswith("受理数 5")
    assert story.o3.number not in re.search(r'id="cockpit-overdue">(.*?)</section>', html, re.S).group(1)
    login(client, "rsj_leader")
    html = client.get("/statistics/cockpit?period=last_month").get_data(as_text=True)
    assert "范围：<b>人社局</b>" in html and card(html, "received").startswith("受理数 3")


def test_trend_tables_match_weekly_reports(story, session):
    scope = st.scope_for(story.dispatcher)
    volume, rates = cp.trend_tables(session, scope, APRIL_10, weeks=6)
    assert [r[0] for r in volume.rows][-1] == "04-06"
    week = st.build_report(session, scope, "zone", st.Period(MARCH.first_day.replace(day=2), MARCH.first_day.replace(day=8)),
                           APRIL_10).total.counts
    row = next(r for r in volume.rows if r[0] == "03-02")
    assert row[1:] == [week.received, week.resolved]
    assert rates.targets == {"响应率": 90.0, "解决率": 90.0, "满意率": 90.0}
    age = cp.age_table(session, scope, APRIL_10)
    assert sum(r[1] + r[2] for r in age.rows) == st.build_report(
        session, scope, "zone", st.preset_period("this_month", APRIL_10), APRIL_10).total.counts.backlog
