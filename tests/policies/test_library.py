"""The policy library: create, edit, review, publish, retire — permissions, validation, audit —
and the xlsx import with its template and row errors."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from models import AuditLog, Role
from models.policy import ItemStatus, Policy, PolicyItem, PolicyStatus
from services.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.policies import library as policies
from services.policies.library import IMPORT_SPEC, PolicyContext, PolicyFilter


def _ctx(session, person, now):
    return PolicyContext(session, person, now, ip="10.0.0.8")


def _form(desk, **extra):
    data = {"title": "北辰区支持专精特新企业发展若干措施", "issuing_body": "北辰区工业和信息化局", "level": "北辰区",
            "doc_number": "北辰工信规〔2026〕2号", "published_on": "2026-02-10", "valid_from": "2026年2月10日",
            "valid_until": "2028-12-31", "source_url": "https://www.tjbc.gov.cn/zcwj/2026/2.html",
            "owner_department_id": str(desk.department_id), "summary": "专精特新企业最高奖励 50 万元"}
    data.update(extra)
    return data


def _audit(session, action):
    return session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).all()


def test_the_lifecycle_from_draft_to_retired_is_audited(session, desk, now):
    ctx = _ctx(session, desk.helper, now)
    policy = policies.create_policy(ctx, _form(desk))
    assert policy.status == PolicyStatus.DRAFT and policy.level_label == "北辰区"
    assert policy.valid_from == date(2026, 2, 10)
    item = policies.add_item(ctx, policy.id, {
        "title": "专精特新“小巨人”奖励", "apply_from": "2026-03-01", "apply_until": "2026-04-30",
        "no_application": "否", "industries": "C", "qualifications": ["专精特新"], "size_bands": ["中", "小"],
    })
    assert item.conditions == {"industries": ["C"], "size_bands": ["中", "小"], "qualifications": ["专精特新"],
                               "active_only": True}
    policies.update_item(ctx, item.id, {"title": "专精特新“小巨人”奖励", "apply_until": "2026-05-31",
                                        "conditions": item.conditions})
    policies.update_policy(ctx, policy.id, _form(desk, summary="最高奖励 50 万元，白话版"))

    with pytest.raises(InvalidTransition):
        policies.publish(ctx, policy.id)  # not submitted
    policies.submit(ctx, policy.id)
    assert policy.status == PolicyStatus.REVIEW
    with pytest.raises(ValidationFailed):
        policies.send_back(ctx, policy.id, "")
    policies.send_back(_ctx(session, desk.leader, now), policy.id, "请补充申报材料清单")
    assert policy.status == PolicyStatus.DRAFT and policy.review_note == "请补充申报材料清单"
    policies.submit(ctx, policy.id)
    policies.publish(_ctx(session, desk.leader, now), policy.id)
    assert policy.status == PolicyStatus.PUBLISHED and policy.published_by_id == desk.leader.id
    assert item.status == ItemStatus.PUBLISHED and item.published_at == now

    late = policies.add_item(ctx, policy.id, {"title": "后补事项"})
    assert late.status == ItemStatus.DRAFT
    policies.publish_item(_ctx(session, desk.leader, now), late.id)
    assert late.status == ItemStatus.PUBLISHED
    with pytest.raises(InvalidTransition):
        policies.delete_item(ctx, late.id)
    policies.withdraw_item(_ctx(session, desk.leader, now), late.id, "重复")
    policies.retire(_ctx(session, desk.leader, now), policy.id, "政策到期")
    assert policy.status == PolicyStatus.RETIRED
    with pytest.raises(PermissionDenied):
        policies.update_policy(ctx, policy.id, _form(desk))

    actions = [a.action for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions == ["policy.create", "policy.item.create", "policy.item.update", "policy.update", "policy.submit",
                       "policy.send_back", "policy.submit", "policy.publish", "policy.item.create",
                       "policy.item.publish", "policy.item.withdraw", "policy.retire"]
    update = _audit(session, "policy.update")[0]
    assert update.detail["changes"]["summary"] == ["专精特新企业最高奖励 50 万元", "最高奖励 50 万元，白话版"]
    assert update.ip == "10.0.0.8" and "工信局帮办" in update.actor_label


def test_publishing_needs_an_item_and_the_owner_department(session, desk, factory, now):
    policy = policies.create_policy(_ctx(session, desk.helper, now), _form(desk))
    policies.submit(_ctx(session, desk.helper, now), policy.id)
    with pytest.raises(ValidationFailed):
        policies.publish(_ctx(session, desk.leader, now), policy.id)
    policies.add_item(_ctx(session, desk.helper, now), policy.id, {"title": "事项"})
    other_leader = factory.person(Role.DEPT_LEADER, department=factory.department("kjj"))
    bizenv = factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"))
    for outsider in (desk.staff[0], other_leader, bizenv):
        with pytest.raises(PermissionDenied):
            policies.publish(_ctx(session, outsider, now), policy.id)
    assert policies.allowed_actions(session, desk.leader, policy) == ["send_back", "publish"]
    assert policies.allowed_actions(session, bizenv, policy) == []
    policies.publish(_ctx(session, factory.person(Role.SYSADMIN), now), policy.id)


def test_who_may_create_and_for_which_department(session, desk, factory, now):
    with pytest.raises(PermissionDenied):
        policies.create_policy(_ctx(session, desk.staff[0], now), _form(desk))
    kjj = factory.department("kjj")
    with pytest.raises(PermissionDenied):  # a department leader files for their own department only
        policies.create_policy(_ctx(session, desk.leader, now), _form(desk, owner_department_id=kjj.id))
    bizenv = factory.person(Role.BIZENV_OFFICE, department=factory.department("bizenv_office"))
    policy = policies.create_policy(_ctx(session, bizenv, now), _form(desk, owner_department_id=kjj.id))
    assert policy.owner_department_id == kjj.id
    # A parent department answers for its units (工信局 → 通信公司).
    telecom = factory.department("telecom")
    if telecom.parent_id == desk.department_id:
        assert policies.is_owner_person(session, desk.leader, telecom.id)


def test_validation_lists_every_problem(session, desk, now):
    with pytest.raises(ValidationFailed) as info:
        policies.create_policy(_ctx(session, desk.helper, now), _form(
            desk, title="", level="乡镇", valid_from="2026-05-01", valid_until="2026-01-01",
            source_url="ftp://x", published_on="昨天", owner_department_id=""))
    assert set(info.value.fields) == {"title", "level", "valid_until", "source_url", "published_on",
                                      "owner_department_id"}
    policy = policies.create_policy(_ctx(session, desk.helper, now), _form(desk))
    with pytest.raises(ValidationFailed) as info:
        policies.add_item(_ctx(session, desk.helper, now), policy.id, {
            "title": "x", "apply_from": "2026-05-01", "apply_until": "2026-04-01", "size_bands": "巨"})
    assert set(info.value.fields) == {"apply_until", "size_bands"}
    with pytest.raises(NotFound):
        policies.get_policy(session, "999999")


def test_attachments_are_listed_once_and_removable(session, desk, now, tmp_path):
    from services.orders.attachments import Upload, store_uploads

    ctx = _ctx(session, desk.helper, now)
    policy = policies.create_policy(ctx, _form(desk))
    batch = store_uploads([Upload("政策原文.pdf", io.BytesIO(b"%PDF-1.4 policy text"))], tmp_path, max_bytes=10**6)
    policies.add_attachments(ctx, policy.id, batch.records)
    policies.add_attachments(ctx, policy.id, batch.records)  # the same file again: kept once
    assert [a["filename"] for a in policy.attachments] == ["政策原文.pdf"]
    assert policy.attachments[0]["storage_key"].startswith(policy.attachments[0]["sha256"][:2])
    policies.remove_attachment(ctx, policy.id, policy.attachments[0]["sha256"])
    assert policy.attachments == []
    assert len(_audit(session, "policy.attachment.add")) == 1


def test_listing_filters(session, desk, now):
    ctx = _ctx(session, desk.helper, now)
    policies.create_policy(ctx, _form(desk))
    policies.create_policy(ctx, _form(desk, title="国家级政策", level="national", doc_number="国发〔2026〕1号"))
    rows, total = policies.list_policies(session, PolicyFilter(level="national"))
    assert total == 1 and rows[0].title == "国家级政策"
    rows, total = policies.list_policies(session, PolicyFilter(q="工信规"))
    assert total == 1 and rows[0].doc_number == "北辰工信规〔2026〕2号"


# --------------------------------------------------------------------------------------------------
# Import
# --------------------------------------------------------------------------------------------------
def _sheet(path, rows):
    book = Workbook()
    sheet = book.active
    sheet.append(["2026 年政策清单"])  # a title row above the header is fine
    sheet.append([c.label for c in IMPORT_SPEC.columns])
    for row in rows:
        sheet.append([row.get(c.key, "") for c in IMPORT_SPEC.columns])
    book.save(path)


def test_the_template_lists_every_column(tmp_path):
    path = tmp_path / "模板.xlsx"
    policies.write_import_template(path)
    book = load_workbook(path)
    headers = [c.value for c in book.worksheets[0][1]]
    assert headers[0] == "政策名称*" and "牵头部门*" in headers and "资质要求" in headers
    assert book.worksheets[1].title == "填写说明"


def test_import_creates_policies_with_items_and_reports_bad_rows(session, desk, now, tmp_path):
    base = {"title": "北辰区促进高端装备制造业发展若干措施", "issuing_body": "北辰区人民政府办公室", "level": "北辰区",
            "doc_number": "北辰政办规〔2026〕1号", "owner_department": "工信局", "published_on": "2026-01-15"}
    rows = [
        {**base, "item_title": "首台（套）奖励", "industries": "C34,C35", "size_bands": "中、小",
         "stages": "生产经营", "zones": "天穆镇，北仓镇", "key_industry": "是", "apply_until": "2026-06-30",
         "qualifications": "高新技术企业,专精特新", "age_min_years": 2, "entity_types": "企业"},
        {**base, "item_title": "技术改造补贴", "no_application": "是", "chain_positions": "链主"},
        {**base, "item_title": "坏行业", "industries": "X1"},
        {**base, "item_title": "坏片区", "zones": "火星镇"},
        {**base, "owner_department": "不存在局", "item_title": "x"},
        {"title": "国家级减税政策", "owner_department": "税务局", "level": "国家", "doc_number": "财税〔2026〕5号"},
    ]
    path = tmp_path / "政策.xlsx"
    _sheet(path, rows)
    result = policies.import_policies(_ctx(session, factory_admin(session, desk), now), path, "政策.xlsx")
    assert (result.created_policies, result.created_items, len(result.errors)) == (2, 2, 3)
    assert [(e.row_number, e.column) for e in result.errors] == [(5, "行业代码"), (6, "片区"), (7, "牵头部门")]
    assert "火星镇" in result.errors[1].reason
    policy = session.scalar(select(Policy).where(Policy.doc_number == "北辰政办规〔2026〕1号"))
    assert policy.status == PolicyStatus.DRAFT and policy.published_on == date(2026, 1, 15)
    first, second = policy.items
    assert first.conditions["industries"] == ["C34", "C35"] and first.conditions["key_industry"] is True
    assert len(first.conditions["zone_ids"]) == 2 and len(first.conditions["stage_ids"]) == 1
    assert first.conditions["age_min_years"] == 2 and first.apply_until == date(2026, 6, 30)
    assert second.no_application is True and second.conditions["chain_positions"] == ["链主"]
    out = tmp_path / "errors.xlsx"
    assert policies.write_import_errors(out, result) == 3

    # Importing the same file again changes nothing; a changed row updates its item.
    again = policies.import_policies(_ctx(session, factory_admin(session, desk), now), path, "政策.xlsx")
    assert (again.created_policies, again.created_items, again.updated_items) == (0, 0, 0)
    rows[1]["chain_positions"] = "核心配套"
    _sheet(path, rows)
    again = policies.import_policies(_ctx(session, factory_admin(session, desk), now), path, "政策.xlsx")
    assert again.updated_items == 1
    assert session.scalar(select(PolicyItem).where(PolicyItem.title == "技术改造补贴")).conditions[
        "chain_positions"] == ["核心配套"]
    assert _audit(session, "policy.import")[-1].detail["errors"] == 3


def test_import_does_not_touch_a_published_policy(session, desk, now, tmp_path):
    from tests.policies.conftest import published_item

    item = published_item(session, desk, now, {}, title="已发布政策")
    path = tmp_path / "p.xlsx"
    _sheet(path, [{"title": "已发布政策", "issuing_body": "北辰区人民政府办公室", "owner_department": "工信局",
                   "item_title": "新事项"}])
    result = policies.import_policies(_ctx(session, desk.leader, now), path, "p.xlsx")
    assert len(result.errors) == 1 and "已发布" in result.errors[0].reason
    assert [i.title for i in item.policy.items] == ["测试事项"]


def factory_admin(session, desk):
    from models import Person

    admin = session.scalar(select(Person).where(Person.role == Role.SYSADMIN))
    if admin is None:
        admin = Person(name="系统管理员", role=Role.SYSADMIN)
        session.add(admin)
        session.flush()
    return admin
