"""The handbook kept current from real tickets: frequency clustering on constructed orders with
exact counts, proposals and automatic links, idempotent re-runs, review, and the outputs."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import HandbookTopic, KnowledgeEntry, KnowledgeSource, KnowledgeStatus, TopicStatus, utcnow
from services.errors import PermissionDenied, ValidationFailed
from services.knowledge import entries as knowledge
from services.knowledge import handbook
from services.orders import operations as wo
from services.xlsx_export import write_workbook


def at(day: str, hour: int = 2) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


@pytest.fixture
def tickets(factory, people, ref):
    """Orders of the last months (now is 2026-03-02 10:00 Beijing; the window opens 2025-12-02)."""
    service, social = ref.domain["public_service"].id, ref.domain["social"].id
    operation, startup = ref.stage["operation"].id, ref.stage["startup"].id

    def order(title, when, domain=service, stage=operation, **kw):
        return factory.order(people.staff, when, title=title, content=f"{title}，请帮忙看看", domain_id=domain,
                             stage_id=stage, **kw)

    for title, day in (("厂区周边道路破损严重", "2026-02-10"), ("园区道路积水无法通行", "2026-02-20"),
                       ("门前道路坑洼不平", "2026-03-01"), ("道路照明路灯不亮", "2026-03-02")):
        order(title, at(day))
    order("道路施工封闭", at("2025-11-20"))  # before the window, and its month
    order("道路拥堵", at("2025-12-01", 0))  # before the window, in its first month
    refused = order("道路纠纷起诉邻厂", at("2026-02-15"), level=2)
    wo.reject(factory.ctx(people.staff, at("2026-02-15")), refused, category="litigation", reason="涉及诉讼，请走司法途径")
    for title, day in (("厂区突然停电", "2026-01-05"), ("车间频繁停电", "2026-01-20"), ("夜间停电损失", "2026-02-25")):
        order(title, at(day))
    for title in ("注册后停电", "新店停电"):  # the same word, another stage: too few there
        order(title, at("2026-02-11"), stage=startup)
    for title, day in (("招聘技术工人困难", "2026-02-01"), ("招聘会场地协调", "2026-02-02"), ("急需招聘焊工", "2026-02-03")):
        order(title, at(day), domain=social)
    order("宽带网速太慢", at("2026-02-05"))


@pytest.fixture
def power_answer(kctx, people, ref):
    entry = knowledge.create_entry(kctx(people.bizenv), {
        "title": "企业突发停电怎么办？", "answer": "先拨打 95598 报修，同时告知为企服务人员，城东供电 2 小时内到场。",
        "keywords": "停电", "domain_id": ref.domain["public_service"].id})
    return knowledge.publish(kctx(people.bizenv), entry.id)


def topics(session):
    return {t.label: t for t in session.scalars(select(HandbookTopic))}


def test_title_terms_and_the_greedy_clusters():
    vocab = frozenset({"道路", "路灯"})
    terms = handbook.title_terms("请协调道路路灯维修", vocab)
    assert {"道路", "路灯", "维修"} <= terms and "协调" not in terms
    orders = [handbook.OrderTerms(i, 1, 2, at("2026-02-01"), t, handbook.title_terms(t, vocab)) for i, t in enumerate(
        ("道路破损", "道路积水", "道路坑洼", "路灯不亮", "路灯损坏", "路灯闪烁", "宽带慢"), 1)]
    clusters = handbook.cluster(orders, vocab, 3)
    # A tie (three titles each, both keywords, same length) goes by the term itself: 路 (U+8DEF) < 道.
    assert [(c.term, c.order_ids) for c in clusters] == [("路灯", [4, 5, 6]), ("道路", [1, 2, 3])]
    more = [*orders, handbook.OrderTerms(8, 1, 2, at("2026-02-01"), "道路破损积水", frozenset({"道路", "破损"}))]
    assert [c.term for c in handbook.cluster(more, vocab, 3)] == ["道路", "路灯"]
    # A second term joins the label only where it stands apart from the first.
    vocab = frozenset({"社保", "补贴"})
    titles = ("社保补贴申请慢", "社保补贴到账晚", "社保补贴标准", "厂区停电", "夜间停电", "车间停电跳闸")
    orders = [handbook.OrderTerms(i, 1, 2, at("2026-02-01"), t, handbook.title_terms(t, vocab))
              for i, t in enumerate(titles, 1)]
    assert [c.label for c in handbook.cluster(orders, vocab, 3)] == ["社保·补贴", "停电"]


def test_refresh_counts_clusters_and_proposes(session, people, ref, tickets, power_answer, now):
    report = handbook.refresh(session, now)
    assert (report.orders, report.clusters, report.proposed, report.linked, report.updated) == (13, 3, 2, 1, 3)
    found = topics(session)
    assert set(found) == {"道路", "停电", "招聘"}

    road = found["道路"]
    assert (road.count_90d, road.status, road.domain_id, road.stage_id) == (
        4, TopicStatus.PROPOSED, ref.domain["public_service"].id, ref.stage["operation"].id)
    assert [(c.period, c.count) for c in road.counts] == [("2025-12", 1), ("2026-01", 0), ("2026-02", 2),
                                                         ("2026-03", 2)]
    draft = road.entry
    assert draft.status == KnowledgeStatus.DRAFT and draft.source == KnowledgeSource.HANDBOOK
    assert draft.title == "关于「道路」的诉求如何答复？" and draft.answer == "" and draft.keyword_list == ["道路"]
    assert len(road.sample_order_ids) == 4

    power = found["停电"]
    assert (power.count_90d, power.status, power.entry_id, power.auto_linked) == (
        3, TopicStatus.PUBLISHED, power_answer.id, True)
    assert [(c.period, c.count) for c in power.counts] == [("2025-12", 0), ("2026-01", 2), ("2026-02", 1),
                                                          ("2026-03", 0)]
    assert found["招聘"].count_90d == 3 and found["招聘"].domain_id == ref.domain["social"].id


def test_refresh_again_changes_nothing_but_new_counts(session, factory, people, ref, tickets, power_answer, now):
    handbook.refresh(session, now)
    entries = session.scalar(select(func.count()).select_from(KnowledgeEntry))
    again = handbook.refresh(session, now)
    assert (again.proposed, again.linked, again.updated) == (0, 0, 0)
    assert session.scalar(select(func.count()).select_from(KnowledgeEntry)) == entries
    assert session.scalar(select(func.count()).select_from(HandbookTopic)) == 3

    factory.order(people.staff, now, title="道路井盖缺失", content="道路井盖缺失，请帮忙看看",
                  domain_id=ref.domain["public_service"].id, stage_id=ref.stage["operation"].id)
    later = handbook.refresh(session, now + timedelta(hours=1))
    road = topics(session)["道路"]
    assert later.updated == 1 and road.count_90d == 5 and road.counts[-1].count == 3
    # Three months on, the window has moved past them all.
    gone = handbook.refresh(session, now + timedelta(days=120))
    assert gone.orders == 0 and all(t.count_90d == 0 for t in topics(session).values())


def test_review_publish_needs_an_answer_and_fills_the_handbook(session, kctx, people, tickets, power_answer, now):
    handbook.refresh(session, now)
    road = topics(session)["道路"]
    with pytest.raises(PermissionDenied):
        handbook.review(kctx(people.helper), road.id, "publish")
    with pytest.raises(ValidationFailed) as error:
        handbook.review(kctx(people.bizenv), road.id, "publish")
    assert error.value.fields == {"answer": "请填写答复"}
    knowledge.update_entry(kctx(people.bizenv), road.entry_id, {
        "title": "厂区周边道路破损、积水找谁？", "answer": "市政道路由城管委负责，拨打 12345 或告知为企服务人员吹哨城管委。",
        "keywords": "道路", "domain_id": road.domain_id, "stage_id": road.stage_id})
    handbook.review(kctx(people.bizenv), road.id, "publish")
    assert road.status == TopicStatus.PUBLISHED and road.entry.status == KnowledgeStatus.PUBLISHED
    recruit = topics(session)["招聘"]
    with pytest.raises(ValidationFailed) as error:
        handbook.review(kctx(people.bizenv), recruit.id, "dismiss")
    assert error.value.fields == {"note": "请填写原因"}
    handbook.review(kctx(people.bizenv), recruit.id, "dismiss", note="已有政策库答复")

    sections = handbook.sections(session)
    assert [s.domain for s in sections] == ["公共服务"]
    assert [(stage, [t.label for t in items]) for stage, items in sections[0].stages] == [("生产经营", ["道路", "停电"])]

    buffer = io.BytesIO()
    write_workbook(buffer, [handbook.handbook_sheet(session, now.date())])
    sheet = load_workbook(io.BytesIO(buffer.getvalue())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][:4] == ("诉求领域", "服务阶段", "高频事项", "问题")
    assert [r[2] for r in rows[3:]] == ["道路", "停电"] and rows[3][7] == 4


def test_the_job_is_idempotent_on_committed_data(app, session, factory, people, ref):
    from jobs.scheduler import run_job_now

    moment = utcnow()
    for title in ("供热管道漏水", "供热温度不达标", "供热收费咨询"):
        factory.order(people.staff, moment - timedelta(days=1), title=title, content=f"{title}，请帮忙看看",
                      domain_id=ref.domain["public_service"].id, stage_id=ref.stage["operation"].id)
    session.commit()
    first = run_job_now(app, "handbook_refresh")
    second = run_job_now(app, "handbook_refresh")
    assert "新提议 1 个" in first and "新提议 0 个" in second and "更新计数 0 个" in second
    session.expire_all()
    heating = session.scalars(select(HandbookTopic)).one()
    assert heating.term == "供热" and heating.count_90d == 3
    assert session.scalar(select(func.count()).select_from(KnowledgeEntry)) == 1
