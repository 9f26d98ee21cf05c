"""Knowledge entries: search terms, ranking (no-space Chinese, full-width input), visibility,
validation in Chinese, who may draft and publish, and the audit trail of publish/retire."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditLog, KnowledgeGram, KnowledgeStatus, PolicyQuestion
from services.errors import InvalidTransition, PermissionDenied, ValidationFailed
from services.knowledge import entries as knowledge
from services.knowledge.entries import EntryFilter
from services.policies import library as policies
from services.policies.library import PolicyContext


def test_terms_fold_full_width_and_cut_chinese_into_bigrams():
    assert knowledge.terms("ＩＳＯ９００１认证") == ["iso", "9001", "认证"]
    assert knowledge.terms("社保补贴") == ["社保", "保补", "补贴"]
    # An ideographic space or punctuation ends a run: no bigram across it.
    assert knowledge.terms("社保\u3000补贴，水") == ["社保", "补贴", "水"]
    assert knowledge.normalise(" Ａｂ　社保 ") == "ab社保"
    assert knowledge.split_keywords("社保、补贴,  ＩＳＯ；社保") == ["社保", "补贴", "iso"]


def _entry(kctx, actor, title, answer, **extra):
    entry = knowledge.create_entry(kctx(actor), {"title": title, "answer": answer, **extra})
    return knowledge.publish(kctx(actor), entry.id)


@pytest.fixture
def library(kctx, people, ref):
    b = people.bizenv
    return {
        "subsidy": _entry(kctx, b, "小微企业吸纳高校毕业生，社保补贴怎么申请？",
                          "登录天津市人社局网上办事大厅，在“社保补贴”栏目提交申请，人社局 15 个工作日内审核。",
                          keywords="社保、补贴", domain_id=ref.domain["social"].id, department_id=people.rsj.id),
        "card": _entry(kctx, b, "职工社保卡遗失如何补办？", "携带身份证到社保经办窗口或银行网点补办。",
                       keywords="社保卡"),
        "power": _entry(kctx, b, "企业新装用电报装需要哪些材料？",
                        "营业执照、用电地址产权证明，城东供电营业厅一次办结。", keywords="用电、报装"),
        "iso": _entry(kctx, b, "质量管理体系认证有哪些补贴？", "通过 ISO9001 认证的企业可申请一次性奖励。",
                      keywords="ＩＳＯ９００１"),
    }


def ids(page):
    return [e.id for e in page.items]


def test_no_space_chinese_ranks_the_entry_sharing_most_terms_first(session, people, library):
    found = knowledge.search_entries(session, people.staff, EntryFilter(q="社保补贴"))
    assert ids(found)[0] == library["subsidy"].id
    assert library["card"].id in ids(found)  # shares 社保
    assert library["power"].id not in ids(found)
    assert found.extra["scores"][library["subsidy"].id] > found.extra["scores"][library["card"].id]


def test_full_width_and_spaced_input_finds_the_same(session, people, library):
    spaced = knowledge.search_entries(session, people.staff, EntryFilter(q="　社保　补贴　"))
    assert ids(spaced)[0] == library["subsidy"].id
    wide = knowledge.search_entries(session, people.staff, EntryFilter(q="ＩＳＯ 9001"))
    assert ids(wide) == [library["iso"].id]
    one = knowledge.search_entries(session, people.staff, EntryFilter(q="卡"))
    assert ids(one) == [library["card"].id]


def test_drafts_are_found_only_by_those_who_look_after_them(session, kctx, people, library):
    draft = knowledge.create_entry(kctx(people.helper), {
        "title": "社保补贴申请被退回怎么办？", "answer": "", "department_id": people.rsj.id})
    assert draft.status == KnowledgeStatus.DRAFT
    for person, sees in ((people.staff, False), (people.zjw_helper, False), (people.helper, True),
                         (people.bizenv, True), (people.dispatcher, True)):
        found = ids(knowledge.search_entries(session, person, EntryFilter(q="社保补贴")))
        assert (draft.id in found) is sees, person.name
    assert draft.id not in [e.id for e in knowledge.published_entries(session, "社保补贴被退回")]
    with pytest.raises(PermissionDenied):
        knowledge.viewable_entry(session, people.staff, draft.id)


def test_similar_suggests_published_entries_for_a_new_request(session, people, library):
    found = knowledge.similar(session, "我们是小微企业，今年招了 5 名高校毕业生，想申请社保补贴，需要什么材料？")
    assert found and found[0].kind == "entry" and found[0].item_id == library["subsidy"].id
    assert len(found) <= 3
    assert knowledge.similar(session, "厂区") == []  # too short to say anything


def test_policy_library_is_linked_not_copied(session, kctx, people, library, now):
    ctx = PolicyContext(session, people.admin, now)
    policy = policies.create_policy(ctx, {"title": "北辰区稳岗扩岗社保补贴实施细则", "owner_department_id": people.rsj.id,
                                          "summary": "吸纳高校毕业生给予社保补贴"})
    draft_only = policies.create_policy(ctx, {"title": "社保补贴试点（草稿）", "owner_department_id": people.rsj.id})
    policies.add_item(ctx, policy.id, {"title": "社保补贴"})
    policies.submit(ctx, policy.id)
    policies.publish(ctx, policy.id)
    session.add(PolicyQuestion(policy_id=policy.id, question="社保补贴能和培训补贴同时享受吗？", answer="可以。",
                               published_to_kb=True))
    session.add(PolicyQuestion(policy_id=policy.id, question="社保补贴什么时候到账？", answer="",
                               published_to_kb=False))
    session.flush()
    entry = knowledge.update_entry(kctx(people.bizenv), library["subsidy"].id, {
        "title": library["subsidy"].title, "answer": library["subsidy"].answer, "keywords": "社保、补贴",
        "policy_id": policy.id, "department_id": people.rsj.id})
    assert entry.policy_id == policy.id
    found_policies, questions = knowledge.policy_hits(session, "社保补贴")
    assert found_policies == [policy] and draft_only not in found_policies
    assert [q.question for q in questions] == ["社保补贴能和培训补贴同时享受吗？"]


def test_validation_messages_are_chinese_and_nothing_is_written(session, kctx, people, ref):
    before = session.scalar(select(func.count()).select_from(AuditLog))
    with pytest.raises(ValidationFailed) as error:
        knowledge.create_entry(kctx(people.bizenv), {"title": "短", "answer": "x" * 5001, "domain_id": "999",
                                                     "keywords": "、".join(f"词{i}" for i in range(21))})
    assert error.value.fields == {"title": "请填写问题（至少 4 个字）", "answer": "答复不超过 5000 字",
                                  "keywords": "关键词不超过 20 个", "domain_id": "诉求领域无效"}
    assert error.value.message.startswith("知识条目填写有误：")
    assert session.scalar(select(func.count()).select_from(AuditLog)) == before


def test_who_may_draft_and_who_may_publish(session, kctx, people):
    with pytest.raises(PermissionDenied):
        knowledge.create_entry(kctx(people.staff), {"title": "企业开办需要多久？"})
    with pytest.raises(PermissionDenied) as error:
        knowledge.create_entry(kctx(people.helper), {"title": "住建委的事项怎么办？", "department_id": people.zjw.id})
    assert error.value.fields == {"department_id": "请选择本部门"}
    draft = knowledge.create_entry(kctx(people.helper), {"title": "用工备案怎么办理？", "department_id": people.rsj.id,
                                                         "answer": "登录人社网上办事大厅办理用工备案。"})
    by_dispatcher = knowledge.create_entry(kctx(people.dispatcher), {"title": "网格中心整理的问题？"})
    assert by_dispatcher.department_id is None
    with pytest.raises(PermissionDenied):
        knowledge.publish(kctx(people.helper), draft.id)
    with pytest.raises(PermissionDenied):
        knowledge.update_entry(kctx(people.zjw_helper), draft.id, {"title": "改别人的条目"})
    published = knowledge.publish(kctx(people.bizenv), draft.id)
    assert published.status == KnowledgeStatus.PUBLISHED and published.reviewed_by_id == people.bizenv.id
    # Once published, the drafting department can no longer change it; 营商环境办 can.
    with pytest.raises(PermissionDenied):
        knowledge.update_entry(kctx(people.helper), draft.id, {"title": "用工备案怎么办理？", "department_id": people.rsj.id})


def test_publish_needs_an_answer_and_publish_retire_restore_are_audited(session, kctx, people, now):
    entry = knowledge.create_entry(kctx(people.bizenv), {"title": "企业注销需要哪些步骤？"})
    with pytest.raises(ValidationFailed) as error:
        knowledge.publish(kctx(people.bizenv), entry.id)
    assert error.value.fields == {"answer": "请填写答复"}
    knowledge.update_entry(kctx(people.bizenv), entry.id, {"title": "企业注销需要哪些步骤？",
                                                           "answer": "先清税，再到市场监管局办理注销登记。"})
    assert entry.version == 2
    knowledge.publish(kctx(people.bizenv), entry.id)
    with pytest.raises(InvalidTransition, match="不能发布"):
        knowledge.publish(kctx(people.bizenv), entry.id)
    knowledge.retire(kctx(people.admin), entry.id, "政策调整，口径作废")
    assert entry.status == KnowledgeStatus.RETIRED and entry.retire_reason == "政策调整，口径作废"
    assert knowledge.published_entries(session, "企业注销") == []
    knowledge.transition(kctx(people.bizenv), entry.id, "restore")
    rows = list(session.scalars(select(AuditLog).where(AuditLog.target_type == "knowledge_entry",
                                                       AuditLog.target_id == str(entry.id)).order_by(AuditLog.id)))
    assert [r.action for r in rows] == ["knowledge.create", "knowledge.update", "knowledge.publish",
                                        "knowledge.retire", "knowledge.restore"]
    assert rows[1].detail["changes"]["answer"] == ["", "先清税，再到市场监管局办理注销登记。"]
    assert rows[2].actor_id == people.bizenv.id and rows[2].detail["from"] == "draft"
    assert rows[3].actor_label.startswith("周管理") and rows[3].detail["note"] == "政策调整，口径作废"
    assert rows[2].ip == "203.0.113.9"


def test_editing_reindexes_the_search_terms(session, kctx, people):
    entry = knowledge.create_entry(kctx(people.bizenv), {"title": "排污许可证怎么申请？"})
    grams = set(session.scalars(select(KnowledgeGram.gram).where(KnowledgeGram.item_id == entry.id,
                                                                  KnowledgeGram.kind == "entry")))
    assert {"排污", "许可"} <= grams
    knowledge.update_entry(kctx(people.bizenv), entry.id, {"title": "环评审批要多久？"})
    grams = set(session.scalars(select(KnowledgeGram.gram).where(KnowledgeGram.item_id == entry.id,
                                                                  KnowledgeGram.kind == "entry")))
    assert "排污" not in grams and "环评" in grams
