"""The 统计 page, its xlsx export, the 通报 and /api/v1/statistics through the test client.

The orders are ``tests/services/test_statistics.py``'s March story, committed; the clock is frozen
on 10 April 2026 (Beijing) so "this month" and "last month" are known.
"""

from __future__ import annotations

import io
import re

import pytest
import time_machine
from openpyxl import load_workbook

from models import Role
from services.admin.api_tokens import issue_token
from services.statistics import kpis as st
from tests.handlers.test_api import _validate
from tests.handlers.test_console import login as sign_in
from tests.services.test_statistics import APRIL_10, MARCH, Story

MARCH_ARGS = "period=custom&from=2026-03-01&to=2026-03-31"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(APRIL_10, tick=True):
        yield


@pytest.fixture(autouse=True)
def export_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_TMP_DIR", str(tmp_path))


def login(client, username: str):
    with client.session_transaction() as cookie_session:
        cookie_session.clear()  # sign out whoever was signed in
    assert sign_in(client, username).status_code == 302


@pytest.fixture
def story(factory, session):
    story = Story(factory, session)
    session.commit()
    return story


def cell(html: str, row_label: str, kpi: str) -> str:
    """The text of one KPI cell of one row (whitespace collapsed)."""
    row = re.search(rf'<tr data-row="{re.escape(row_label)}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row {row_label}"
    found = re.search(rf'<td class="([^"]*)" data-kpi="{kpi}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert found, f"no {kpi} in row {row_label}"
    text = re.sub(r"<[^>]+>", " ", found.group(2))
    return " ".join(text.split()) + (" [below]" if "below" in found.group(1) else "")


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r'<tr data-row="([^"]+)"', body)


@pytest.mark.parametrize("username, scope", [
    ("admin", "全区"), ("dispatcher", "全区"), ("bizenv", "全区"), ("leader", "全区"),
    ("zone_admin", "天穆镇"), ("staff", "天穆镇"), ("staff_b", "北仓镇"),
    ("helper", "人社局"), ("rsj_leader", "人社局"), ("gxj_helper", "工信局（含下属单位）"),
])
def test_page_renders_for_every_role_in_its_scope(client, story, username, scope):
    login(client, username)
    response = client.get(f"/statistics/?{MARCH_ARGS}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    assert f"范围：<b>{scope}</b>" in html
    assert '<a href="/statistics/" class="current">统计</a>' in html  # the nav entry
    assert "说明" in html and "按时办结率" in html


def test_district_numbers_with_fractions_and_highlights(client, story):
    login(client, "dispatcher")
    html = client.get(f"/statistics/?{MARCH_ARGS}").get_data(as_text=True)
    assert rows(html)[:2] == ["天穆镇", "北仓镇"] and len(rows(html)) == 17
    assert cell(html, "合计", "received") == "6"
    assert cell(html, "合计", "satisfaction_rate") == "66.7% 2/3 [below]"
    assert cell(html, "合计", "response_rate") == "75.0% 3/4 [below]"
    assert cell(html, "天穆镇", "on_time_rate") == "60.0% 3/5 [below]"
    assert cell(html, "北仓镇", "visit_rate") == "—"  # nothing to measure: no made-up percentage
    assert cell(html, "天穆镇", "satisfaction_rate") == "100.0% 2/2"
    assert cell(html, "合计", "overdue") == "3 未结 2"
    assert cell(html, "天穆镇", "avg_handling_workdays") == "4.5"
    # A past period: no link to "overdue now"; the zone links to the order list.
    assert "overdue=1" not in html
    assert f'href="/orders?zone={story.tianmu.id}"' in html


def test_group_tabs_and_level_subset(client, story):
    login(client, "bizenv")
    html = client.get(f"/statistics/?group=department&{MARCH_ARGS}").get_data(as_text=True)
    assert "人社局" in rows(html) and st.NO_DEPARTMENT in rows(html)
    assert cell(html, "财政局", "return_rate") == "100.0% 1/1 [below]"
    assert f'href="/orders?department={story.rsj.id}"' in html
    html = client.get(f"/statistics/?group=level&{MARCH_ARGS}").get_data(as_text=True)
    assert rows(html) == ["片区即时办理", "部门协调办理", "区级会商办理", "市级提级办理"]
    assert cell(html, st.GREEN_CHANNEL, "response_rate") == "100.0% 1/1"
    assert 'href="/orders?green=1"' in html
    html = client.get(f"/statistics/?group=domain&{MARCH_ARGS}").get_data(as_text=True)
    assert cell(html, "社会管理", "received") == "3"


def test_current_period_links_overdue_to_the_order_list(client, story):
    login(client, "dispatcher")
    html = client.get("/statistics/?period=this_month").get_data(as_text=True)
    assert "本月（2026-04-01 至 2026-04-30）" in html
    assert cell(html, "天穆镇", "received") == "1"
    assert f'href="/orders?overdue=1&amp;zone={story.tianmu.id}"' in html
    listed = client.get(f"/orders?overdue=1&zone={story.tianmu.id}").get_data(as_text=True)
    assert "共 3 件" in listed  # O6, O7, O8: the same orders the 未结 figure counts
    assert cell(html, "天穆镇", "overdue") == "3 未结 3"


def test_scoped_rows(client, story):
    login(client, "zone_admin")
    html = client.get(f"/statistics/?{MARCH_ARGS}").get_data(as_text=True)
    assert rows(html) == ["天穆镇"] and cell(html, "合计", "received") == "5"
    login(client, "helper")
    html = client.get(f"/statistics/?group=department&{MARCH_ARGS}").get_data(as_text=True)
    assert rows(html) == ["人社局"] and cell(html, "合计", "response_rate") == "66.7% 2/3 [below]"
    assert "通报排名" not in html


def test_not_signed_in_and_no_scope(client, story, factory, session):
    response = client.get("/statistics/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    factory.person(Role.CHIEF_HELPER, name="无部门帮办", login="stray")
    session.commit()
    login(client, "stray")
    response = client.get("/statistics/")
    assert response.status_code == 403 and "无权查看统计" in response.get_data(as_text=True)
    assert 'href="/statistics/"' not in client.get("/").get_data(as_text=True)  # no nav entry either
    assert client.get("/statistics/export.xlsx").status_code == 403


def test_bad_parameters_show_the_form_with_a_message(client, story):
    login(client, "dispatcher")
    response = client.get("/statistics/?period=custom&from=2026-03-31&to=2026-03-01")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "开始日期（from）不能晚于结束日期（to）" in html and 'id="stat-table"' in html
    # A preset wins over date fields left in the form.
    response = client.get("/statistics/?period=last_month&from=2026-01-01&to=2026-01-31")
    assert response.status_code == 200 and "上月（2026-03-01 至 2026-03-31）" in response.get_data(as_text=True)


def test_xlsx_export_has_chinese_headers_and_the_same_numbers(client, story, session):
    login(client, "dispatcher")
    response = client.get(f"/statistics/export.xlsx?group=zone&{MARCH_ARGS}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert "工作统计" in lines[0][0] and "2026-03-01 至 2026-03-31" in lines[1][0] and "全区" in lines[1][0]
    headers = lines[2]
    for header in ("片区", "受理数", "不予受理数", "办结数", "响应率（%）", "按时签收", "应签收派单", "按时办结率（%）",
                   "满意率（%）", "回访率（%）", "退单率（%）", "超期数", "积压数", "督办数", "平均办理时长（工作日）"):
        assert header in headers
    table = {line[0]: dict(zip(headers, line, strict=True)) for line in lines[3:]}
    assert len(table) == 18  # 17 zones and 合计
    report = st.build_report(session, st.Scope("district", "全区"), "zone", MARCH, APRIL_10)
    for r in report.all_rows():
        line = table[r.label]
        c = r.counts
        assert (line["受理数"], line["办结数"], line["超期数"], line["积压数"], line["督办数"]) == (
            c.received, c.resolved, c.overdue, c.backlog, c.supervised)
        assert (line["满意"], line["评价"], line["按时办结"], line["应办结"]) == (
            c.visits_satisfied, c.visits, c.resolved_on_time, c.resolved_judged + c.overdue_handling)
        assert line["满意率（%）"] == (c.satisfaction_rate.percent if c.visits else "—")
    assert table["合计"]["满意率（%）"] == 66.7 and table["天穆镇"]["平均办理时长（工作日）"] == 4.5


def test_bulletin_ranks_and_is_for_district_roles(client, story):
    login(client, "leader")
    html = client.get(f"/statistics/bulletin?group=department&{MARCH_ARGS}").get_data(as_text=True)
    assert "工作通报" in html and "data-print" in html
    body = html.split('id="bulletin"', 1)[1]
    ranked = re.findall(r'<tr data-row="([^"]+)">\s*<td class="num">(\d+)</td>', body)
    assert ranked == [("住建委", "1"), (st.NO_DEPARTMENT, "2"), ("人社局", "3")]
    login(client, "staff")
    assert client.get("/statistics/bulletin").status_code == 403


# --------------------------------------------------------------------------------------------------
# /api/v1/statistics
# --------------------------------------------------------------------------------------------------
@pytest.fixture
def tokens(story, session):
    result = {who: issue_token(session, getattr(story, who), who, APRIL_10)
              for who in ("dispatcher", "zone_admin", "helper")}
    session.commit()
    return result


def api(client, tokens, who, query=""):
    return client.get(f"/api/v1/statistics{query}", headers={"Authorization": f"Bearer {tokens[who]}"})


def test_api_returns_the_report_as_documented(client, story, tokens):
    response = api(client, tokens, "dispatcher", "?group=zone&from=2026-03-01&to=2026-03-31")
    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["period"]["from"] == "2026-03-01" and data["period"]["as_of"] == "2026-04-01T00:00:00+08:00"
    assert data["scope"] == {"kind": "district", "label": "全区"}
    total = data["total"]["kpis"]
    assert total["received"] == 6 and total["refused"] == 1 and total["backlog"] == 5
    assert total["on_time_rate"] == {"numerator": 3, "denominator": 6, "percent": 50.0, "below_threshold": True}
    assert total["return_rate"] == {"numerator": 1, "denominator": 5, "percent": 20.0, "below_threshold": True}
    assert data["rows"][1]["label"] == "北仓镇" and data["rows"][1]["kpis"]["visit_rate"]["percent"] is None
    document = client.get("/api/v1/openapi.json").get_json()
    assert _validate(document, document["components"]["schemas"]["StatisticsReport"], data) == []
    level = api(client, tokens, "dispatcher", "?group=level&period=last_month").get_json()["data"]
    assert level["subsets"][0]["label"] == st.GREEN_CHANNEL and level["period"]["preset"] == "last_month"
    assert _validate(document, document["components"]["schemas"]["StatisticsReport"], level) == []


def test_api_scopes_by_the_token_person(client, story, tokens):
    zone = api(client, tokens, "zone_admin", "?from=2026-03-01&to=2026-03-31").get_json()["data"]
    assert [r["label"] for r in zone["rows"]] == ["天穆镇"] and zone["total"]["kpis"]["received"] == 5
    department = api(client, tokens, "helper", "?group=department&from=2026-03-01&to=2026-03-31").get_json()["data"]
    assert [r["label"] for r in department["rows"]] == ["人社局"]
    assert department["total"]["kpis"]["response_rate"]["numerator"] == 2


@pytest.mark.parametrize("query, field", [
    ("?group=staff", "group"),
    ("?from=2026-03-01", "to"),
    ("?from=2026/03/01&to=2026-03-31", "from"),
    ("?from=2026-03-31&to=2026-03-01", "from"),
    ("?period=yesterday", "period"),
    ("?period=this_month&from=2026-03-01&to=2026-03-31", "period"),
    ("?zone=1", "zone"),
])
def test_api_bad_parameters_are_400_json(client, story, tokens, query, field):
    response = api(client, tokens, "dispatcher", query)
    assert response.status_code == 400
    body = response.get_json()
    assert body["ok"] is False and body["error"]["code"] == "invalid_parameter"
    assert field in body["error"]["fields"] and re.search(r"[\u4e00-\u9fff]", body["error"]["message"])


def test_api_needs_a_token_and_a_scope(client, story, factory, session):
    assert client.get("/api/v1/statistics").status_code == 401
    stray = factory.person(Role.CHIEF_HELPER, name="无部门帮办")
    token = issue_token(session, stray, "stray", APRIL_10)
    session.commit()
    response = client.get("/api/v1/statistics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "permission_denied"
