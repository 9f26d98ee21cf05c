"""A chief helper's draft goes to review: 提交审核 tells 营商环境办, who publish it or send it back
with a reason that reaches the author. Entries and cases alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditLog, KnowledgeStatus, OutboundMessage, Role
from services.errors import PermissionDenied, ValidationFailed
from services.knowledge import cases
from services.knowledge import entries as knowledge
from tests.policies_ui.conftest import login, page_token, settle


def notices(session, person):
    return [m.payload for m in session.scalars(
        select(OutboundMessage).where(OutboundMessage.kind == "notice", OutboundMessage.target_ref == str(person.id))
        .order_by(OutboundMessage.id))]


def test_a_helpers_draft_is_submitted_reviewed_sent_back_and_published(session, kctx, people, factory):
    second_reviewer = factory.person(Role.BIZENV_OFFICE, department=people.bizenv.department, name="孙营商")
    factory.person(Role.BIZENV_OFFICE, department=people.bizenv.department, name="已停用", active=False)
    draft = knowledge.create_entry(kctx(people.helper), {"title": "招用高校毕业生有什么补贴？",
                                                         "department_id": people.rsj.id})
    assert knowledge.allowed_actions(session, people.helper, draft) == ["submit"]
    assert "submit" not in knowledge.allowed_actions(session, people.bizenv, draft)  # an editor just publishes
    assert not knowledge.can(session, people.zjw_helper, "submit", draft)  # not their department
    with pytest.raises(ValidationFailed, match="请先填写答复（至少 5 个字）再提交审核"):
        knowledge.transition(kctx(people.helper), draft.id, "submit")
    assert draft.status == KnowledgeStatus.DRAFT and notices(session, people.bizenv) == []

    knowledge.update_entry(kctx(people.helper), draft.id, {"title": "招用高校毕业生有什么补贴？",
                                                           "department_id": people.rsj.id,
                                                           "answer": "可申请社保补贴和一次性吸纳就业补贴"})
    knowledge.transition(kctx(people.helper), draft.id, "submit")
    assert draft.status == KnowledgeStatus.REVIEW
    # Every active reviewer is told, with the link; system administrators are not reviewers.
    for reviewer in (people.bizenv, second_reviewer):
        [told] = notices(session, reviewer)
        assert told["title"] == "知识条目待审核" and "李帮办" in told["text"]
        assert "「招用高校毕业生有什么补贴？」" in told["text"] and told["url"] == f"/knowledge/entries/{draft.id}"
    assert notices(session, people.admin) == []
    with pytest.raises(PermissionDenied):  # under review: the author waits
        knowledge.update_entry(kctx(people.helper), draft.id, {"title": "改一下", "department_id": people.rsj.id})
    with pytest.raises(PermissionDenied):
        knowledge.transition(kctx(people.helper), draft.id, "publish")

    with pytest.raises(ValidationFailed, match="退回时请说明需要修改的地方"):
        knowledge.transition(kctx(people.bizenv), draft.id, "send_back")
    knowledge.transition(kctx(people.bizenv), draft.id, "send_back", "请补充申请时限。")
    assert draft.status == KnowledgeStatus.DRAFT
    [back] = notices(session, people.helper)
    assert back["title"] == "知识条目退回修改" and "请补充申请时限。修改后请再次提交审核。" in back["text"]

    knowledge.transition(kctx(people.helper), draft.id, "submit")
    assert len(notices(session, people.bizenv)) == 2  # told again for the second submission
    knowledge.publish(kctx(people.bizenv), draft.id)
    assert draft.status == KnowledgeStatus.PUBLISHED and draft.reviewed_by_id == people.bizenv.id
    actions = list(session.scalars(select(AuditLog.action).where(AuditLog.target_type == "knowledge_entry")
                                   .order_by(AuditLog.id)))
    assert actions == ["knowledge.create", "knowledge.update", "knowledge.submit", "knowledge.send_back",
                       "knowledge.submit", "knowledge.publish"]


def test_a_case_is_submitted_for_review_too(session, kctx, people, close_order, now):
    order = close_order(now)
    case_row = cases.create_from_order(kctx(people.helper), order.number)
    assert "submit" in cases.allowed_actions(session, people.helper, case_row)
    cases.transition(kctx(people.helper), case_row.id, "submit")
    assert case_row.status == KnowledgeStatus.REVIEW
    [told] = notices(session, people.bizenv)
    assert told["title"] == "案例待审核" and told["url"] == f"/knowledge/cases/{case_row.id}"
    cases.transition(kctx(people.bizenv), case_row.id, "publish")
    assert case_row.status == KnowledgeStatus.PUBLISHED


def test_the_entry_page_offers_submit_to_the_author_and_review_to_the_office(client, session, kctx, people):
    draft = knowledge.create_entry(kctx(people.helper), {"title": "稳岗补贴怎么申请？", "department_id": people.rsj.id,
                                                         "answer": "登录人社网上办事大厅在线申请"})
    entry_id = draft.id
    settle(session)
    login(client, "helper")
    page = client.get(f"/knowledge/entries/{entry_id}").get_data(as_text=True)
    assert 'data-action="submit"' in page and "提交审核" in page and 'data-action="publish"' not in page
    token = page_token(client, f"/knowledge/entries/{entry_id}")
    response = client.post(f"/knowledge/entries/{entry_id}/transition", data={"csrf_token": token, "action": "submit"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已提交审核，已通知区营商环境办" in page and "待审核" in page and "等待区营商环境办审核发布" in page

    login(client, "bizenv")
    page = client.get(f"/knowledge/entries/{entry_id}").get_data(as_text=True)
    assert 'data-action="publish"' in page and 'data-action="send_back"' in page
    listed = client.get("/knowledge/?status=review").get_data(as_text=True)
    assert "稳岗补贴怎么申请？" in listed
