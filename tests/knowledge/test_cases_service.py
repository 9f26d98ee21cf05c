"""Cases from closed orders: refused for open orders, prefilled from the order, anonymised for the
public, typical only when anonymised, the public list shows only what it may."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditLog, KnowledgeStatus
from services.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from services.knowledge import cases
from services.knowledge import entries as knowledge
from services.orders.lifecycle import State

NAMES = ("天津北辰甲科技有限公司", "北辰甲科技", "甲科技", "张伟", "王服务", "李帮办", "孙法人",
         "13812345678", "911201131234567890", "双街镇丰产河道 8 号")


@pytest.fixture
def enterprise(factory, people):
    return factory.enterprise(staff=people.staff, name="天津北辰甲科技有限公司", contact_name="张伟",
                              contact_phone="13812345678", legal_representative="孙法人",
                              address="双街镇丰产河道 8 号", industry_name="软件开发")


@pytest.fixture
def closed(close_order, enterprise, now):
    return close_order(
        now, enterprise=enterprise, contact_name="张伟",
        content="甲科技公司张伟经理（13812345678）反映：天津北辰甲科技有限公司急需招聘 30 名数控技术工人，"
                "请协助对接招聘会。企业地址双街镇丰产河道 8 号。",
        result="李帮办协调人社局为北辰甲科技举办专场招聘会，王服务全程跟进，企业招到 30 人，刘经理表示满意。",
    )


def test_only_closed_orders_become_cases(kctx, people, close_order, now):
    for stop in ("sign", "resolve", "feedback"):  # dispatched, processing, resolved (not fed back)
        order = close_order(now, stop_at=stop)
        assert order.state in (State.DISPATCHED, State.PROCESSING, State.RESOLVED)
        with pytest.raises(InvalidTransition) as error:
            cases.create_from_order(kctx(people.bizenv), order.number)
        assert "只有已办结并反馈企业的工单才能整理为案例" in error.value.message
        assert error.value.code == "order_not_closed"
    fed_back = close_order(now, stop_at="visit")
    assert fed_back.state == State.FED_BACK
    assert cases.create_from_order(kctx(people.bizenv), fed_back.number).status == KnowledgeStatus.DRAFT


def test_case_is_prefilled_from_the_order(kctx, people, closed):
    case_row = cases.create_from_order(kctx(people.helper), closed.number)
    assert case_row.title == closed.title and case_row.work_order_id == closed.id
    assert closed.content in case_row.situation and "位于天穆镇" in case_row.situation
    assert "签收报到" in case_row.handling and "办结" in case_row.handling
    assert case_row.result.startswith(closed.result) and "企业评价：满意" in case_row.result
    assert [d.code for d in case_row.departments] == ["rsj"]
    assert case_row.level_reached == 2 and case_row.domain_id == closed.domain_id
    assert case_row.created_by_id == people.helper.id


def test_anonymisation_removes_the_enterprise_and_people(kctx, people, closed):
    case_row = cases.create_from_order(kctx(people.bizenv), closed.number)
    public = "\n".join([case_row.public_title, case_row.public_situation, case_row.public_handling,
                        case_row.public_result, case_row.public_lessons])
    for secret in NAMES:
        assert secret not in public, secret
    assert "某企业" in public and "张某" in public and "王某" in public and "李某" in public
    assert "某经理" in public  # 刘经理: a surname before a title, though 刘 is on no record
    assert "（***********）" in public
    # The internal text keeps everything.
    assert "天津北辰甲科技有限公司" in case_row.situation and "张伟" in case_row.situation


def test_edited_public_text_is_anonymised_again(kctx, people, closed):
    case_row = cases.create_from_order(kctx(people.bizenv), closed.number)
    data = {name: getattr(case_row, name) for name in cases.TEXT_FIELDS}
    data.update(anonymised="1", lessons="主动对接、一次办好",
                public_situation="张伟代表天津北辰甲科技有限公司来电", public_title="")
    cases.update_case(kctx(people.bizenv), case_row.id, data)
    assert case_row.public_situation == "张某代表某企业来电"
    assert case_row.public_lessons == "主动对接、一次办好"
    assert case_row.public_title.startswith("某企业张某经理（***********）反映")
    assert case_row.version == 2


def test_typical_cases_must_be_anonymised_and_only_those_go_public(session, kctx, people, close_order, closed, now):
    plain = cases.create_from_order(kctx(people.bizenv), close_order(now).number, {"anonymised": ""})
    assert not plain.anonymised and plain.public_situation == ""
    with pytest.raises(ValidationFailed) as error:
        cases.transition(kctx(people.bizenv), plain.id, "typical")
    assert error.value.fields == {"anonymised": "请勾选脱敏"}
    with pytest.raises(PermissionDenied):
        cases.transition(kctx(people.helper), plain.id, "publish")
    cases.transition(kctx(people.bizenv), plain.id, "publish")  # in the case library, not public

    typical = cases.create_from_order(kctx(people.bizenv), closed.number)
    cases.transition(kctx(people.bizenv), typical.id, "typical")
    assert cases.public_cases(session).items == []  # still a draft
    cases.transition(kctx(people.bizenv), typical.id, "publish")
    assert cases.public_cases(session).items == [typical] and typical.is_public
    with pytest.raises(ValidationFailed):
        data = {name: getattr(typical, name) for name in cases.TEXT_FIELDS}
        cases.update_case(kctx(people.bizenv), typical.id, {**data, "anonymised": ""})
    actions = list(session.scalars(select(AuditLog.action).where(AuditLog.target_type == "case_study",
                                                                 AuditLog.target_id == str(typical.id))
                                   .order_by(AuditLog.id)))
    assert actions == ["case.create", "case.typical", "case.publish"]


def test_one_case_per_order_and_who_may_write_one(kctx, people, closed):
    with pytest.raises(PermissionDenied):
        cases.create_from_order(kctx(people.staff), closed.number)
    with pytest.raises(PermissionDenied):  # 住建委 never saw this 人社局 order
        cases.create_from_order(kctx(people.zjw_helper), closed.number)
    first = cases.create_from_order(kctx(people.dispatcher), closed.number)
    with pytest.raises(Conflict) as error:
        cases.create_from_order(kctx(people.bizenv), closed.number)
    assert error.value.fields == {"case_id": str(first.id)}


def test_cases_are_searchable_and_suggested_once_published(session, kctx, people, closed):
    case_row = cases.create_from_order(kctx(people.bizenv), closed.number)
    assert knowledge.similar(session, "急需招聘数控技术工人，请协助对接招聘会") == []
    cases.transition(kctx(people.bizenv), case_row.id, "publish")
    found = knowledge.similar(session, "急需招聘数控技术工人，请协助对接招聘会")
    assert [(s.kind, s.item_id) for s in found] == [("case", case_row.id)]
    listed = cases.search_cases(session, people.staff, cases.CaseFilter(q="招聘会"))
    assert listed.items == [case_row]


def test_enterprise_variants():
    assert cases.enterprise_variants("天津北辰甲科技有限公司") == [
        "天津北辰甲科技有限公司", "北辰甲科技有限公司", "天津北辰甲科技公司", "天津北辰甲科技有限", "北辰甲科技公司",
        "北辰甲科技有限", "天津北辰甲科技", "甲科技有限公司", "北辰甲科技", "甲科技公司", "甲科技有限", "甲科技"]
    assert cases.person_placeholder("欧阳娜娜") == "欧阳某"
