"""The knowledge pages through the test client: roles, CSRF, Chinese validation errors, the order
page's 「转为案例」, new-request suggestions, the handbook outputs, and the public pages (published
and anonymised content only, rate-limited)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from models import AuditLog, CaseStudy, KnowledgeEntry, KnowledgeStatus
from services.knowledge import cases, handbook
from services.knowledge import entries as knowledge
from services.orders.lifecycle import State
from tests.policies_ui.conftest import fresh, login, page_token, settle, token_from

IP = {"REMOTE_ADDR": "198.51.100.20"}


def html_of(response) -> str:
    return response.get_data(as_text=True)


def post_entry(client, data, path="/knowledge/entries/new"):
    token = page_token(client, "/knowledge/")
    return client.post(path, data={"csrf_token": token, **data})


# --------------------------------------------------------------------------------------------
# 知识库
# --------------------------------------------------------------------------------------------
def test_staff_read_only_and_helpers_draft_for_their_department(client, session, people):
    settle(session)
    login(client, "staff")
    assert client.get("/knowledge/").status_code == 200
    refused = client.get("/knowledge/entries/new")
    assert refused.status_code == 403 and "只有区营商环境办、区网格中心、部门首席帮办或系统管理员可以编写知识条目" in html_of(refused)

    login(client, "helper")
    other = post_entry(client, {"title": "住建委的施工许可怎么办？", "department_id": people.zjw.id})
    assert other.status_code == 422 and "只能为本部门（或下属单位）编写知识条目" in html_of(other)
    short = post_entry(client, {"title": "问", "department_id": people.rsj.id})
    assert short.status_code == 422 and "请填写问题（至少 4 个字）" in html_of(short)
    assert 'value="问"' in html_of(short)  # what was typed is kept
    assert client.post("/knowledge/entries/new", data={"title": "没有令牌的条目"}).status_code == 400
    created = post_entry(client, {"title": "招用高校毕业生有什么补贴？", "department_id": people.rsj.id,
                                  "answer": "可申请社保补贴和一次性吸纳就业补贴。", "keywords": "社保、补贴"})
    assert created.status_code == 302
    fresh(session)
    entry = session.scalars(select(KnowledgeEntry)).one()
    assert entry.status == KnowledgeStatus.DRAFT and entry.created_by_id == people.helper.id
    settle(session)
    token = page_token(client, f"/knowledge/entries/{entry.id}")
    refused = client.post(f"/knowledge/entries/{entry.id}/transition", data={"csrf_token": token, "action": "publish"})
    assert refused.status_code == 403

    login(client, "staff")
    assert client.get(f"/knowledge/entries/{entry.id}").status_code == 403  # a draft

    login(client, "bizenv")
    token = page_token(client, f"/knowledge/entries/{entry.id}")
    assert client.post(f"/knowledge/entries/{entry.id}/transition",
                       data={"csrf_token": token, "action": "publish"}).status_code == 302
    login(client, "staff")
    page = html_of(client.get("/knowledge/?q=毕业生补贴"))
    assert "招用高校毕业生有什么补贴？" in page and "与「毕业生补贴」相关的条目 1 条" in page
    assert "可申请社保补贴" in html_of(client.get(f"/knowledge/entries/{entry.id}?from=suggest"))
    fresh(session)
    entry = session.get(KnowledgeEntry, entry.id)
    assert (entry.view_count, entry.use_count) == (1, 1)
    assert session.scalar(select(AuditLog.actor_id).where(AuditLog.action == "knowledge.publish")) == people.bizenv.id


def test_publish_without_answer_shows_the_reason(client, session, kctx, people):
    entry = knowledge.create_entry(kctx(people.bizenv), {"title": "企业开办一般要几天？"})
    settle(session)
    login(client, "bizenv")
    token = page_token(client, f"/knowledge/entries/{entry.id}")
    response = client.post(f"/knowledge/entries/{entry.id}/transition", data={"csrf_token": token, "action": "publish"})
    assert response.status_code == 422 and "请先填写答复（至少 5 个字）再发布" in html_of(response)
    fresh(session)
    assert session.get(KnowledgeEntry, entry.id).status == KnowledgeStatus.DRAFT


def test_similar_json_and_the_new_request_page(client, session, kctx, people):
    entry = knowledge.create_entry(kctx(people.bizenv), {"title": "企业招工难，能否帮忙对接招聘会？",
                                                         "answer": "人社局每月举办专场招聘会，可报名参加。"})
    knowledge.publish(kctx(people.bizenv), entry.id)
    settle(session)
    assert client.get("/knowledge/similar?text=招工", headers={"Accept": "application/json"}).status_code == 401
    login(client, "staff")
    data = client.get("/knowledge/similar", query_string={"text": "企业招工难，希望对接招聘会"}).get_json()
    assert data["ok"] and data["items"][0]["title"] == entry.title
    assert data["items"][0]["url"] == f"/knowledge/entries/{entry.id}?from=suggest"
    assert client.get("/knowledge/similar?text=你好").get_json() == {"ok": True, "items": []}
    # Without JavaScript: the form, coming back with what was typed, shows the same box.
    page = html_of(client.get("/orders/new", query_string={"content": "企业招工难，希望对接招聘会"}))
    assert 'id="knowledge-suggest"' in page and entry.title in page and "knowledge.js" in page
    empty = html_of(client.get("/orders/new"))
    assert 'id="knowledge-suggest" class="alert alert-info" aria-live="polite"' in empty and "hidden" in empty


# --------------------------------------------------------------------------------------------
# 案例库 and the order page
# --------------------------------------------------------------------------------------------
def test_order_page_offers_case_only_for_closed_orders(client, session, people, close_order, now):
    closed = close_order(now)
    open_order = close_order(now, stop_at="resolve")
    assert closed.state == State.ARCHIVED and open_order.state == State.PROCESSING
    number, open_number, content, result = closed.number, open_order.number, closed.content, closed.result
    bizenv_id = people.bizenv.id
    settle(session)
    login(client, "bizenv")
    assert "转为案例" not in html_of(client.get(f"/orders/{open_number}"))
    refused = client.get(f"/knowledge/cases/new?order={open_number}")
    assert refused.status_code == 409 and "只有已办结并反馈企业的工单才能整理为案例" in html_of(refused)
    page = html_of(client.get(f"/orders/{number}"))
    assert "转为案例" in page
    form = client.get(f"/knowledge/cases/new?order={number}")
    assert form.status_code == 200 and content in html_of(form)
    token = token_from(html_of(form))
    bad = client.post("/knowledge/cases/new", data={"csrf_token": token, "order": number, "title": "短",
                                                    "situation": "", "result": "已解决问题"})
    assert bad.status_code == 422 and "请填写标题（至少 4 个字）" in html_of(bad) and "请填写诉求情况（至少 4 个字）" in html_of(bad)
    created = client.post("/knowledge/cases/new", data={
        "csrf_token": token, "order": number, "title": "专场招聘会解决企业招工难", "anonymised": "1",
        "situation": content, "handling": "吹哨人社局", "result": result, "lessons": "部门联动"})
    assert created.status_code == 302
    fresh(session)
    case_row = session.scalars(select(CaseStudy)).one()
    case_id, anonymised, creator = case_row.id, case_row.anonymised, case_row.created_by_id
    settle(session)
    assert anonymised and creator == bizenv_id
    assert "查看案例" in html_of(client.get(f"/orders/{number}"))
    again = client.get(f"/knowledge/cases/new?order={number}")
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/knowledge/cases/{case_id}")

    login(client, "staff")  # service staff read published cases but write none
    assert "转为案例" not in html_of(client.get(f"/orders/{number}"))
    assert client.get(f"/knowledge/cases/{case_id}").status_code == 403  # still a draft


# --------------------------------------------------------------------------------------------
# 应答手册
# --------------------------------------------------------------------------------------------
@pytest.fixture
def topics(session, factory, kctx, people, ref, now):
    for title in ("厂区停电", "车间停电", "夜间停电"):
        factory.order(people.staff, now, title=title, content=f"{title}，请帮忙看看",
                      domain_id=ref.domain["public_service"].id, stage_id=ref.stage["operation"].id)
    for title in ("招聘技术工人", "招聘焊工", "招聘会场地"):
        factory.order(people.staff, now, title=title, content=f"{title}，请帮忙看看",
                      domain_id=ref.domain["social"].id, stage_id=ref.stage["operation"].id)
    entry = knowledge.create_entry(kctx(people.bizenv), {
        "title": "企业突发停电怎么办？", "answer": "拨打 95598 报修，城东供电 2 小时内到场。", "keywords": "停电"})
    knowledge.publish(kctx(people.bizenv), entry.id)
    handbook.refresh(session, now)
    ids = {t.label: t.id for t in handbook.list_topics(session)}
    settle(session)
    return ids


def test_handbook_pages_for_editors_and_readers(client, session, people, topics):
    login(client, "bizenv")
    proposed = html_of(client.get("/knowledge/handbook"))
    assert "招聘" in proposed and "待审核（1）" in proposed and "已收录（1）" in proposed
    topic_page = client.get(f"/knowledge/handbook/topics/{topics['招聘']}")
    assert topic_page.status_code == 200 and "近 90 天 <strong id=\"topic-count\">3</strong> 件" in html_of(topic_page)
    token = token_from(html_of(topic_page))
    refused = client.post(f"/knowledge/handbook/topics/{topics['招聘']}/review",
                          data={"csrf_token": token, "action": "dismiss"})
    assert refused.status_code == 422 and "请说明不收录的原因" in html_of(refused)

    login(client, "staff")
    page = html_of(client.get("/knowledge/handbook?status=proposed"))
    assert "停电" in page and "招聘" not in page  # readers see the published handbook only
    assert client.get(f"/knowledge/handbook/topics/{topics['招聘']}").status_code == 403
    printed = html_of(client.get("/knowledge/handbook/print"))
    assert "问：企业突发停电怎么办？" in printed and "近90天 3 件" in printed
    sheet = client.get("/knowledge/handbook.xlsx")
    assert sheet.status_code == 200 and sheet.mimetype.endswith("spreadsheetml.sheet")


# --------------------------------------------------------------------------------------------
# Public pages
# --------------------------------------------------------------------------------------------
@pytest.fixture
def public_content(session, factory, kctx, people, close_order, now):
    enterprise = factory.enterprise(staff=people.staff, name="天津北辰乙精密机械有限公司", contact_name="赵敏")
    typical = cases.create_from_order(kctx(people.bizenv), close_order(
        now, enterprise=enterprise, content="乙精密机械赵敏经理反映厂区门前道路破损，货车无法通行").number)
    cases.transition(kctx(people.bizenv), typical.id, "typical")
    cases.transition(kctx(people.bizenv), typical.id, "publish")
    plain = cases.create_from_order(kctx(people.bizenv), close_order(now, content="企业反映用电报装流程慢").number,
                                    {"anonymised": ""})
    cases.transition(kctx(people.bizenv), plain.id, "publish")
    hidden = cases.create_from_order(kctx(people.bizenv), close_order(now, content="企业反映排污许可办理慢").number)
    cases.transition(kctx(people.bizenv), hidden.id, "typical")  # typical, but not published
    found = {"typical": typical.id, "plain": plain.id, "hidden": hidden.id, "title": typical.public_title}
    settle(session)
    return found


def test_public_cases_show_only_published_anonymised_typical_cases(client, session, public_content):
    page = html_of(client.get("/cases", environ_base=IP))
    assert public_content["title"] in page and "某企业" in page
    assert "天津北辰乙精密机械有限公司" not in page and "乙精密机械" not in page and "赵敏" not in page
    assert "用电报装" not in page and "排污许可" not in page
    detail = html_of(client.get(f"/cases/{public_content['typical']}", environ_base=IP))
    assert "赵某" in detail and "赵敏" not in detail and "王服务" not in detail
    for other in ("plain", "hidden"):
        response = client.get(f"/cases/{public_content[other]}", environ_base=IP)
        assert response.status_code == 404 and "该案例不存在或尚未公开" in html_of(response)


def test_public_faq_shows_only_the_published_handbook(client, session, topics):
    page = html_of(client.get("/faq", environ_base=IP))
    assert "企业突发停电怎么办？" in page and "95598" in page
    assert "招聘" not in page  # proposed, with a draft entry


def test_public_pages_are_rate_limited_per_address(client, session, public_content):
    with time_machine.travel(datetime(2026, 11, 2, 2, 0, 5, tzinfo=UTC), tick=False):
        other = {"REMOTE_ADDR": "203.0.113.77"}
        for number in range(60):
            assert client.get("/faq" if number % 2 else "/cases", environ_base=other).status_code == 200
        refused = client.get("/cases", environ_base=other)
        assert refused.status_code == 429 and "访问过于频繁" in html_of(refused)
        assert int(refused.headers["Retry-After"]) >= 1
        assert client.get("/faq", environ_base={"REMOTE_ADDR": "203.0.113.78"}).status_code == 200


def test_a_published_case_is_distilled_into_an_entry(client, session, public_content):
    case_id = public_content["typical"]
    login(client, "bizenv")
    page = html_of(client.get(f"/knowledge/cases/{case_id}"))
    assert "提炼为知识条目" in page
    form = html_of(client.get(f"/knowledge/entries/new?case_id={case_id}"))
    assert public_content["title"] in form and "乙精密机械" not in form  # the anonymised text
    response = client.post("/knowledge/entries/new", data={
        "csrf_token": token_from(form), "case_id": case_id, "title": "厂区门前道路破损、货车无法通行找谁？",
        "answer": "由为企服务人员吹哨城管委，城管委 5 个工作日内修复。"})
    assert response.status_code == 302
    fresh(session)
    entry = session.scalars(select(KnowledgeEntry)).one()
    assert (entry.source, entry.source_case_id) == ("case", case_id)
    settle(session)
