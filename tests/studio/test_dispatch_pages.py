"""派单目录 in the console: the new-request form's 自动 choice, the dispatcher's hint, the editor."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import time_machine
from openpyxl import load_workbook
from sqlalchemy import select

from models import ConfigRevision, Role, WorkOrder
from services.orders import catalogue
from services.orders.lifecycle import State
from services.studio import catalogue_sheet as sheet
from services.studio import store
from tests.handlers.test_console import login, new_order_form, page_token, pending_order, people  # noqa: F401


def _rules(session, now, department="人社局"):
    store.apply(session, None, {"dispatch_rules": [
        {"name": "招聘用工", "when": {"keywords": ["招聘", "用工"]}, "then": {"department": department, "level": 2}},
    ]}, reason="派单目录", now=now)
    session.commit()


def test_new_request_form_defaults_to_the_catalogue(client, people, session, session_factory, now):  # noqa: F811
    _rules(session, now)
    login(client, "staff")
    page = client.get("/orders/new").get_data(as_text=True)
    assert re.search(r'value="auto"[^>]*checked', page) and "由派单目录决定" in page
    data = new_order_form(client, people.enterprise.id)
    del data["level"]  # nothing chosen is the same as 自动
    assert client.post("/orders/new", data=data, content_type="multipart/form-data").status_code == 302
    data = new_order_form(client, people.enterprise.id, level="auto", content="企业需要对接用工补贴政策，请协助")
    assert client.post("/orders/new", data=data, content_type="multipart/form-data").status_code == 302
    with session_factory() as s:
        orders = list(s.scalars(select(WorkOrder).order_by(WorkOrder.id)))
        assert [(o.dispatch_rule, o.state, o.assigned_department.name) for o in orders] == [
            ("招聘用工", State.DISPATCHED, "人社局")] * 2


def test_dispatcher_sees_the_catalogue_suggestion_preselected(client, app, people, pending_order, session,  # noqa: F811
                                                              factory, now):
    tax = factory.department("tax")
    _rules(session, now, department=tax.name)
    login(client, "dispatcher")
    page = client.get(f"/orders/{pending_order.number}").get_data(as_text=True)
    assert f"派单目录建议：招聘用工（命中：关键词招聘、用工），交{tax.name}" in page
    assert re.search(rf'<option value="{tax.id}" selected>', page)
    mobile = app.test_client()
    login(mobile, "dispatcher")
    h5 = mobile.get(f"/m/orders/{pending_order.number}").get_data(as_text=True)
    assert "派单目录建议：招聘用工" in h5


def _admin(client, factory, session):
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    session.commit()
    login(client, "admin")


def _saved_rules(session_factory):
    with session_factory() as s:
        revision = s.scalar(select(ConfigRevision).order_by(ConfigRevision.id.desc()).limit(1))
        return revision.document["dispatch_rules"] if revision else []


def test_editor_adds_edits_moves_toggles_and_deletes(client, factory, session, session_factory, now):
    _admin(client, factory, session)
    token = page_token(client, "/studio/dispatch")
    form = {"csrf_token": token, "name": "招工用工", "active": "1", "keywords": "招工、用工", "match": "任一",
            "department": "人社局", "level": "2", "priority": "紧急", "note": "先联系就业科"}
    assert client.post("/studio/dispatch/new", data=form).status_code == 302
    assert client.post("/studio/dispatch/new", data=form | {"name": "税费", "keywords": "退税", "department": "不存在局",
                                                             "level": "9"}).status_code == 422
    refused = client.post("/studio/dispatch/new", data=form | {"name": "税费", "keywords": "退税",
                                                                "department": "不存在局", "level": "9"})
    html = refused.get_data(as_text=True)
    assert "未知部门「不存在局」" in html and "响应层级应为 1–4" in html  # every problem at once
    assert client.post("/studio/dispatch/new", data=form | {"name": "融资", "keywords": "贷款", "department": "",
                                                             "level": "3", "priority": ""}).status_code == 302
    rules = _saved_rules(session_factory)
    assert [r["name"] for r in rules] == ["招工用工", "融资"]
    assert rules[0] == {"name": "招工用工", "when": {"keywords": ["招工", "用工"]},
                        "then": {"department": "人社局", "level": 2, "priority": "urgent", "note": "先联系就业科"}}
    edit = client.get("/studio/dispatch/0/edit").get_data(as_text=True)
    assert 'value="招工、用工"' in edit
    assert client.post("/studio/dispatch/0/edit", data=form | {"keywords": "招工、招聘"}).status_code == 302
    assert _saved_rules(session_factory)[0]["when"]["keywords"] == ["招工", "招聘"]
    assert client.post("/studio/dispatch/1/up", data={"csrf_token": token}).status_code == 302
    assert [r["name"] for r in _saved_rules(session_factory)] == ["融资", "招工用工"]
    assert client.post("/studio/dispatch/1/toggle", data={"csrf_token": token}).status_code == 302
    assert _saved_rules(session_factory)[1]["active"] is False
    assert "已停用" in client.get("/studio/dispatch").get_data(as_text=True)
    assert client.post("/studio/dispatch/0/delete", data={"csrf_token": token}).status_code == 302
    assert [r["name"] for r in _saved_rules(session_factory)] == ["招工用工"]
    with session_factory() as s:  # every save is one revision with its reason
        reasons = list(s.scalars(select(ConfigRevision.reason).order_by(ConfigRevision.id)))
    assert reasons[-1] == "删除派单规则「融资」" and "停用派单规则「招工用工」" in reasons


def test_editor_shows_hits_and_try_explains_the_match(client, factory, session, now):
    _rules(session, now)
    catalogue.count_hit(session, "招聘用工", now)
    catalogue.count_hit(session, "招聘用工", now - timedelta(days=20))
    session.commit()
    with time_machine.travel(now, tick=True):  # the page counts back from its own today
        _admin(client, factory, session)
        page = client.get("/studio/dispatch").get_data(as_text=True)
        assert re.search(r"<td>1</td>\s*<td>2</td>", page)  # 7 days, 30 days
        token = page_token(client, "/studio/dispatch")
        tried = client.post("/studio/dispatch/try", data={"csrf_token": token, "title": "招工",
                                                          "content": "企业急需用工", "channel": "api"})
        html = tried.get_data(as_text=True)
        assert "命中派单目录第 1 条「招聘用工」，关键词：招聘、用工" not in html  # 招聘 is not in the text
        assert "命中派单目录第 1 条「招聘用工」，关键词：用工" in html and "承办部门：人社局" in html
        missed = client.post("/studio/dispatch/try", data={"csrf_token": token, "content": "道路破损"})
        assert "没有规则命中" in missed.get_data(as_text=True)


def test_xlsx_round_trip_and_a_broken_sheet_changes_nothing(client, factory, session, session_factory, now):
    store.apply(session, None, {"dispatch_rules": [
        {"name": "招聘用工", "when": {"keywords": ["招聘", "用工"], "match": "all", "exclude": ["培训"],
                                   "key_industry": True, "size": ["小型", "微型"], "channel": ["api", "wecom"],
                                   "industry": ["C", "I65"]},
         "then": {"department": "人社局", "level": 2, "priority": "urgent", "green_channel": True, "note": "备注"}},
        {"name": "融资", "active": False, "when": {"keywords": ["贷款"]}, "then": {"level": 3,
                                                                                  "lead_department": "人社局"}},
    ]}, reason="派单目录", now=now)
    session.commit()
    before = _saved_rules(session_factory)
    _admin(client, factory, session)
    exported = client.get("/studio/dispatch/export.xlsx")
    assert exported.status_code == 200
    book = load_workbook(io.BytesIO(exported.data))
    rows = [[c for c in row] for row in book.active.iter_rows(values_only=True)]
    assert list(rows[0]) == sheet.HEADERS
    assert rows[1][:5] == [1, "招聘用工", "是", "招聘、用工", "全部"] and rows[1][12] == "接口、企业微信"
    token = page_token(client, "/studio/dispatch")

    def upload(data: bytes, name="派单目录.xlsx"):
        return client.post("/studio/dispatch/import", data={"csrf_token": token, "reason": "季度更新",
                                                            "file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")

    # Rows swapped by 序号 and one keyword added: the same catalogue comes back, edited.
    edited = io.BytesIO()
    second = list(rows[2])
    second[0], second[3] = 1, "贷款、融资"
    first = list(rows[1])
    first[0] = 2
    sheet_write(edited, [rows[0], second, first])
    assert upload(edited.getvalue()).status_code == 302
    after = _saved_rules(session_factory)
    assert [r["name"] for r in after] == ["融资", "招聘用工"] and after[1] == before[0]
    assert after[0]["when"]["keywords"] == ["贷款", "融资"] and after[0]["active"] is False

    # Every row's problem named; nothing applied.
    broken = io.BytesIO()
    bad1 = list(first)
    bad1[13], bad1[14] = "不存在局", 7
    bad2 = list(second)
    bad2[12], bad2[15] = "传真", "很急"
    sheet_write(broken, [rows[0], bad2, bad1])
    refused = upload(broken.getvalue())
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "第 2 行 渠道：未知渠道「传真」" in html and "第 2 行 紧急程度" in html
    broken2 = io.BytesIO()
    sheet_write(broken2, [rows[0], second, bad1])
    html = upload(broken2.getvalue()).get_data(as_text=True)
    assert "第 3 行（dispatch_rules[1].then.department）：未知部门「不存在局」" in html
    assert "第 3 行（dispatch_rules[1].then.level）：响应层级应为 1–4" in html
    wrong = io.BytesIO()
    sheet_write(wrong, [["名称", "关键词", "部门"], ["x", "y", "人社局"]])
    html = upload(wrong.getvalue()).get_data(as_text=True)
    assert "序号" in html and "承办部门" in html and "牵头部门" in html  # the expected headers are named
    assert _saved_rules(session_factory) == after


def sheet_write(target, rows):
    from openpyxl import Workbook

    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    book.save(target)


def test_h5_new_request_defaults_to_the_catalogue(client, people, session, session_factory, now):  # noqa: F811
    _rules(session, now)
    login(client, "staff")
    page = client.get("/m/orders/new").get_data(as_text=True)
    assert re.search(r'value="auto"[^>]*checked', page)
    data = new_order_form(client, people.enterprise.id, level="auto")
    data["csrf_token"] = page_token(client, "/m/orders/new")
    data["submission_key"] = "h5-auto-1"
    response = client.post("/m/orders/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    with session_factory() as s:
        order = s.scalar(select(WorkOrder))
        assert (order.channel, order.dispatch_rule, order.assigned_department.name) == ("mobile", "招聘用工", "人社局")
