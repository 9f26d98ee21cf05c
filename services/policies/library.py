"""The policy library: policies and their items, review and publication, attachments, xlsx import.

Every operation takes a ``PolicyContext`` (session, actor, now, ip), validates, flushes, writes
an audit row (``services.audit``; actions ``policy.*``) and never commits — the request
boundary does. Errors are ``services.errors`` with Chinese messages and ``fields``.

Lifecycle (``TRANSITIONS``)::

    draft --submit--> review --publish--> published --retire--> retired
                      review --send_back(note)--> draft

Publishing publishes the policy's draft items (``PolicyItem.published_at`` = now); the daily
``policy_campaigns`` job then pushes newly published items (services.policies.push). Items added to
a published policy stay draft until ``publish_item``. ``withdraw_item`` stops one item.
Retired policies are read-only and their items are no longer matched or pushed.

Who may do what (``can(actor, action, policy)``):

* ``create``: system administrators, 营商环境办, and chief helpers / department leaders (for
  their own department, or a unit under it, as owner);
* ``edit`` / ``submit``: the same people for the policy's owner department, until retired;
* ``publish`` / ``send_back`` / ``retire`` / ``approve_campaign``: department leaders and chief
  helpers of the owner department (or its parent), and system administrators;
* reading: every signed-in person (``list_policies``).

Forms (``policy_fields`` / ``item_fields``): handlers pass a plain ``dict`` (use
``request.form.to_dict()`` plus ``getlist`` for multi-value condition keys). Policy keys:
title*, issuing_body, level (``PolicyLevel`` code or 国家/天津市/北辰区), doc_number,
published_on, valid_from, valid_until (ISO dates or the usual Chinese forms), source_url,
owner_department_id*, summary. Item keys: title*, summary, how_to_apply, contact, apply_from,
apply_until, no_application (是/否, on/true), sort_order, and ``conditions`` — a dict as in
services.policies.matching, or its keys given directly in the form (``industries``, ``size_bands``,
``stage_ids`` … as lists or comma-separated text).

Import (``IMPORT_SPEC``, one row per item, policy columns repeated; a row without 申报事项 only
creates or updates the policy): ``write_import_template(target)``, ``import_policies(ctx, path,
filename) -> ImportResult`` (each row is applied or rejected as a whole; policies found by 文号,
else by 标题 + 发文机关; only draft/review policies are changed; at most ``IMPORT_MAX_ROWS``
rows, read whole before the first row is applied), ``write_import_errors(target, result)``. The
console queues an ``ImportJob`` of kind "policies" and the jobs process runs it
(``run_policy_import_job``): no request parses a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload, sessionmaker

from models import Department, ImportJob, ImportRowError, Person, Role, ServiceStage, Zone
from models.policy import ItemStatus, Policy, PolicyItem, PolicyLevel, PolicyStatus
from services.admin.operations import AdminContext
from services.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.inputs import EARLIEST_DATE, LATEST_DATE, parse_int, to_id
from services.lookup import get_or_not_found
from services.policies.matching import (
    CHAIN_POSITIONS,
    CONDITION_KEYS,
    SIZE_BANDS,
    Conditions,
    parse_conditions,
)
from services.registry import excel_io
from services.registry.excel_io import Column, TableSpec
from services.registry.import_jobs import MAX_LISTED_ERRORS

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
_SPLIT = re.compile(r"[,，、;；\s]+")
MAX_ATTACHMENTS = 20


# Who acts, when, from where; ``audit`` and ``today`` as every console operation has them.
PolicyContext = AdminContext


# --------------------------------------------------------------------------------------------------
# Permissions and transitions
# --------------------------------------------------------------------------------------------------
TRANSITIONS: dict[tuple[str, str], str] = {
    (PolicyStatus.DRAFT, "submit"): PolicyStatus.REVIEW,
    (PolicyStatus.REVIEW, "send_back"): PolicyStatus.DRAFT,
    (PolicyStatus.REVIEW, "publish"): PolicyStatus.PUBLISHED,
    (PolicyStatus.PUBLISHED, "retire"): PolicyStatus.RETIRED,
}
ACTION_LABELS = {"submit": "提交审核", "send_back": "退回修改", "publish": "发布", "retire": "废止"}
EDITOR_HUB_ROLES = (Role.SYSADMIN, Role.BIZENV_OFFICE)
DECIDER_ROLES = (Role.DEPT_LEADER, Role.CHIEF_HELPER)


def _department_ids(session: Session, person: Person) -> set[int]:
    """The person's department and the units under it (a parent department answers for its units)."""
    if person.department_id is None:
        return set()
    ids = {person.department_id}
    ids.update(session.scalars(select(Department.id).where(Department.parent_id == person.department_id)))
    return ids


def is_owner_person(session: Session, person: Person | None, department_id: int | None) -> bool:
    """A chief helper or department leader of ``department_id`` (or of its parent department)."""
    if person is None or not person.active or department_id is None or person.role not in DECIDER_ROLES:
        return False
    return department_id in _department_ids(session, person)


def can(session: Session, person: Person | None, action: str, policy: Policy | None = None) -> bool:
    """``action``: create | edit | submit | publish | send_back | retire | approve_campaign."""
    if person is None or not person.active:
        return False
    if action == "create":
        return person.role in EDITOR_HUB_ROLES or person.role in DECIDER_ROLES
    if policy is None:
        return False
    if action in ("edit", "submit"):
        if policy.status == PolicyStatus.RETIRED:
            return False
        return person.role in EDITOR_HUB_ROLES or is_owner_person(session, person, policy.owner_department_id)
    if action in ("publish", "send_back", "retire", "approve_campaign"):
        return person.role == Role.SYSADMIN or is_owner_person(session, person, policy.owner_department_id)
    return False


def _authorize(ctx: PolicyContext, action: str, policy: Policy | None = None) -> None:
    if not can(ctx.session, ctx.actor, action, policy):
        if action in ("publish", "send_back", "retire", "approve_campaign"):
            raise PermissionDenied("只有牵头部门的首席帮办、部门领导或系统管理员可以执行此操作")
        raise PermissionDenied("你没有编辑该政策的权限")


def allowed_actions(session: Session, person: Person | None, policy: Policy) -> list[str]:
    """The transitions this person may take now (for the buttons on the policy page)."""
    return [action for (state, action) in TRANSITIONS if state == policy.status and can(session, person, action, policy)]


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------
def get_policy(session: Session, policy_id: Any) -> Policy:
    return get_or_not_found(session, Policy, policy_id, "政策不存在")


def get_item(session: Session, item_id: Any) -> PolicyItem:
    return get_or_not_found(session, PolicyItem, item_id, "申报事项不存在")


@dataclass(frozen=True)
class PolicyFilter:
    status: str = ""  # a PolicyStatus value, or "" for all
    level: str = ""
    department_id: int | None = None
    q: str = ""  # in title, document number or issuing body


def list_policies(session: Session, flt: PolicyFilter = PolicyFilter(), *, limit: int = 200, offset: int = 0
                  ) -> tuple[list[Policy], int]:
    """Policies, newest first, with their items loaded; and the total count for paging."""
    query = select(Policy)
    if flt.status in PolicyStatus.LABELS:
        query = query.where(Policy.status == flt.status)
    if flt.level in PolicyLevel.LABELS:
        query = query.where(Policy.level == flt.level)
    if flt.department_id:
        query = query.where(Policy.owner_department_id == flt.department_id)
    if flt.q.strip():
        like = f"%{flt.q.strip()}%"
        query = query.where(or_(Policy.title.like(like), Policy.doc_number.like(like), Policy.issuing_body.like(like)))
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.options(selectinload(Policy.items), selectinload(Policy.owner_department))
        .order_by(Policy.updated_at.desc(), Policy.id.desc()).limit(limit).offset(offset)
    ).all()
    return list(rows), total


# --------------------------------------------------------------------------------------------------
# Form parsing
# --------------------------------------------------------------------------------------------------
def _text(data: Mapping[str, Any], key: str, limit: int, errors: dict[str, str], label: str,
          required: bool = False) -> str:
    value = data.get(key)
    text = "" if value is None else " ".join(str(value).split()) if limit <= 200 else str(value).strip()
    if required and not text:
        errors[key] = f"请填写{label}"
    if len(text) > limit:
        errors[key] = f"{label}不超过 {limit} 字"
    return text[:limit]


def _date(data: Mapping[str, Any], key: str, errors: dict[str, str], label: str) -> date | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    try:
        day = excel_io.parse_date(value)
    except ValueError as exc:
        errors[key] = f"{label}：{exc}"
        return None
    if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
        errors[key] = f"{label}应在 {EARLIEST_DATE.year} 年至 {LATEST_DATE.year} 年之间"
        return None
    return day


def _bool(data: Mapping[str, Any], key: str, errors: dict[str, str], label: str) -> bool:
    value = data.get(key)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("on",):
        return True
    try:
        return bool(excel_io.parse_bool(value))
    except ValueError:
        errors[key] = f"{label}应填“是”或“否”"
        return False


def _level(value: Any, errors: dict[str, str]) -> str:
    text = str(value or "").strip()
    if not text:
        return PolicyLevel.DISTRICT
    if text in PolicyLevel.LABELS:
        return text
    aliases = {"国家级": "national", "国家": "national", "市级": "city", "天津": "city", "天津市": "city",
               "区级": "district", "北辰": "district", "北辰区": "district"}
    if text in aliases:
        return aliases[text]
    errors["level"] = "政策层级应为 国家、天津市 或 北辰区"
    return PolicyLevel.DISTRICT


def policy_fields(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """Validated policy fields from a form; ``ValidationFailed`` lists every problem at once."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "title": _text(data, "title", 200, errors, "政策名称", required=True),
        "issuing_body": _text(data, "issuing_body", 128, errors, "发文机关"),
        "level": _level(data.get("level"), errors),
        "doc_number": _text(data, "doc_number", 128, errors, "文号"),
        "published_on": _date(data, "published_on", errors, "发布日期"),
        "valid_from": _date(data, "valid_from", errors, "生效日期"),
        "valid_until": _date(data, "valid_until", errors, "失效日期"),
        "source_url": _text(data, "source_url", 1000, errors, "原文链接"),
        "summary": _text(data, "summary", 5000, errors, "政策解读"),
    }
    url = values["source_url"]
    if url and not url.lower().startswith(("http://", "https://")):
        errors["source_url"] = "原文链接应以 http:// 或 https:// 开头"
    if values["valid_from"] and values["valid_until"] and values["valid_from"] > values["valid_until"]:
        errors["valid_until"] = "失效日期不能早于生效日期"
    owner = data.get("owner_department_id")
    department = None
    if to_id(owner) is not None:
        department = session.get(Department, to_id(owner))
    if department is None or not department.active:
        errors["owner_department_id"] = "请选择牵头部门"
    else:
        values["owner_department_id"] = department.id
    if errors:
        raise ValidationFailed("政策信息填写有误：" + "；".join(errors.values()), fields=errors)
    return values


def item_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {
        "title": _text(data, "title", 200, errors, "事项名称", required=True),
        "summary": _text(data, "summary", 5000, errors, "事项说明"),
        "how_to_apply": _text(data, "how_to_apply", 5000, errors, "申报方式"),
        "contact": _text(data, "contact", 200, errors, "咨询电话"),
        "apply_from": _date(data, "apply_from", errors, "申报开始日期"),
        "apply_until": _date(data, "apply_until", errors, "申报截止日期"),
        "no_application": _bool(data, "no_application", errors, "免申即享"),
    }
    if values["apply_from"] and values["apply_until"] and values["apply_from"] > values["apply_until"]:
        errors["apply_until"] = "申报截止日期不能早于开始日期"
    try:
        values["sort_order"] = parse_int(data.get("sort_order") or 0, minimum=-9999, maximum=9999)
    except ValueError:
        errors["sort_order"] = "排序应为 -9999 到 9999 之间的整数"
    raw = data.get("conditions")
    if not isinstance(raw, Mapping):
        raw = {k: data[k] for k in CONDITION_KEYS if k in data and data[k] not in (None, "", [])}
    try:
        values["conditions"] = parse_conditions(raw).to_json()
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationFailed("申报事项填写有误：" + "；".join(errors.values()), fields=errors)
    return values


def _diff(obj: Any, values: Mapping[str, Any]) -> dict[str, list[Any]]:
    changes = {}
    for key, value in values.items():
        old = getattr(obj, key)
        if old != value:
            changes[key] = [old, value]
    return changes


# --------------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------------
def create_policy(ctx: PolicyContext, data: Mapping[str, Any]) -> Policy:
    _authorize(ctx, "create")
    values = policy_fields(ctx.session, data)
    actor = ctx.actor
    if actor is not None and actor.role in DECIDER_ROLES and not is_owner_person(
            ctx.session, actor, values["owner_department_id"]):
        raise PermissionDenied("只能以本部门（或下属单位）作为牵头部门录入政策",
                               fields={"owner_department_id": "只能选择本部门"})
    policy = Policy(**values, status=PolicyStatus.DRAFT, created_by_id=actor.id if actor else None,
                    attachments=[], created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(policy)
    ctx.session.flush()
    ctx.audit("policy.create", "policy", policy.id, {"title": policy.title, **values})
    return policy


def update_policy(ctx: PolicyContext, policy_id: Any, data: Mapping[str, Any]) -> Policy:
    policy = get_policy(ctx.session, policy_id)
    _authorize(ctx, "edit", policy)
    values = policy_fields(ctx.session, data)
    if values["owner_department_id"] != policy.owner_department_id and not (
            ctx.actor and (ctx.actor.role in EDITOR_HUB_ROLES
                           or is_owner_person(ctx.session, ctx.actor, values["owner_department_id"]))):
        raise PermissionDenied("不能把政策移交给你不所属的部门", fields={"owner_department_id": "只能选择本部门"})
    changes = _diff(policy, values)
    if changes:
        for key, value in values.items():
            setattr(policy, key, value)
        policy.updated_at = ctx.now
        ctx.session.flush()
        ctx.audit("policy.update", "policy", policy.id, {"title": policy.title, "changes": changes})
    return policy


def transition(ctx: PolicyContext, policy_id: Any, action: str, note: str = "") -> Policy:
    """submit | send_back (note required) | publish (needs ≥ 1 item) | retire (note = reason)."""
    policy = get_policy(ctx.session, policy_id)
    target = TRANSITIONS.get((policy.status, action))
    if target is None:
        label = ACTION_LABELS.get(action, action)
        raise InvalidTransition(f"政策当前为「{policy.status_label}」，不能{label}")
    _authorize(ctx, action, policy)
    note = (note or "").strip()
    if action == "send_back" and not note:
        raise ValidationFailed("退回时请说明需要修改的地方", fields={"note": "请填写退回原因"})
    if action == "publish":
        drafts = [i for i in policy.items if i.status == ItemStatus.DRAFT]
        if not any(i.status != ItemStatus.WITHDRAWN for i in policy.items):
            raise ValidationFailed("政策至少要有一个申报事项才能发布", fields={"items": "请先添加申报事项"})
        for item in drafts:
            item.status = ItemStatus.PUBLISHED
            item.published_at = ctx.now
        policy.published_at = ctx.now
        policy.published_by_id = ctx.actor.id if ctx.actor else None
        policy.review_note = ""
    elif action == "submit":
        policy.submitted_at = ctx.now
    elif action == "send_back":
        policy.review_note = note[:2000]
    elif action == "retire":
        policy.retired_at = ctx.now
        policy.retired_by_id = ctx.actor.id if ctx.actor else None
    before = policy.status
    policy.status = target
    policy.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit(f"policy.{action}", "policy", policy.id,
              {"title": policy.title, "from": before, "to": target, "note": note})
    return policy


def submit(ctx: PolicyContext, policy_id: Any) -> Policy:
    return transition(ctx, policy_id, "submit")


def send_back(ctx: PolicyContext, policy_id: Any, note: str) -> Policy:
    return transition(ctx, policy_id, "send_back", note)


def publish(ctx: PolicyContext, policy_id: Any) -> Policy:
    return transition(ctx, policy_id, "publish")


def retire(ctx: PolicyContext, policy_id: Any, reason: str = "") -> Policy:
    return transition(ctx, policy_id, "retire", reason)


def add_attachments(ctx: PolicyContext, policy_id: Any, records: Iterable[Mapping[str, Any]]) -> Policy:
    """Attach files already stored by ``services.orders.attachments.store_uploads`` (its ``records``)."""
    policy = get_policy(ctx.session, policy_id)
    _authorize(ctx, "edit", policy)
    new = [{k: r.get(k) for k in ("filename", "storage_key", "size", "sha256", "content_type")} for r in records]
    current = list(policy.attachments or [])
    known = {a.get("sha256") for a in current}
    new = [r for r in new if r["sha256"] not in known]
    if len(current) + len(new) > MAX_ATTACHMENTS:
        raise ValidationFailed(f"每个政策最多 {MAX_ATTACHMENTS} 个附件", fields={"attachments": "附件过多"})
    if new:
        policy.attachments = current + new
        policy.updated_at = ctx.now
        ctx.session.flush()
        ctx.audit("policy.attachment.add", "policy", policy.id, {"files": [r["filename"] for r in new]})
    return policy


def remove_attachment(ctx: PolicyContext, policy_id: Any, sha256: str) -> Policy:
    policy = get_policy(ctx.session, policy_id)
    _authorize(ctx, "edit", policy)
    current = list(policy.attachments or [])
    kept = [a for a in current if a.get("sha256") != sha256]
    if len(kept) == len(current):
        raise NotFound("附件不存在")
    policy.attachments = kept
    policy.updated_at = ctx.now
    ctx.session.flush()
    removed = [a.get("filename") for a in current if a.get("sha256") == sha256]
    ctx.audit("policy.attachment.remove", "policy", policy.id, {"files": removed})
    return policy


# --------------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------------
def add_item(ctx: PolicyContext, policy_id: Any, data: Mapping[str, Any]) -> PolicyItem:
    policy = get_policy(ctx.session, policy_id)
    _authorize(ctx, "edit", policy)
    values = item_fields(data)
    item = PolicyItem(policy_id=policy.id, status=ItemStatus.DRAFT, created_at=ctx.now, updated_at=ctx.now, **values)
    ctx.session.add(item)
    policy.updated_at = ctx.now
    ctx.session.flush()
    ctx.session.refresh(policy, ["items"])
    ctx.audit("policy.item.create", "policy_item", item.id, {"policy_id": policy.id, **values})
    return item


def update_item(ctx: PolicyContext, item_id: Any, data: Mapping[str, Any]) -> PolicyItem:
    """Changing a published item's conditions only affects pushes not yet made."""
    item = get_item(ctx.session, item_id)
    _authorize(ctx, "edit", item.policy)
    if item.status == ItemStatus.WITHDRAWN:
        raise InvalidTransition("该申报事项已撤回，不能修改")
    values = item_fields(data)
    changes = _diff(item, values)
    if changes:
        for key, value in values.items():
            setattr(item, key, value)
        item.updated_at = ctx.now
        item.policy.updated_at = ctx.now
        ctx.session.flush()
        ctx.audit("policy.item.update", "policy_item", item.id, {"policy_id": item.policy_id, "changes": changes})
    return item


def delete_item(ctx: PolicyContext, item_id: Any) -> None:
    """Only an item never published can be deleted; a published one is withdrawn instead."""
    item = get_item(ctx.session, item_id)
    _authorize(ctx, "edit", item.policy)
    if item.status != ItemStatus.DRAFT or item.published_at is not None:
        raise InvalidTransition("已发布的申报事项不能删除，请改为撤回")
    detail = {"policy_id": item.policy_id, "title": item.title}
    policy = item.policy
    ctx.session.delete(item)
    policy.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit("policy.item.delete", "policy_item", item_id, detail)


def publish_item(ctx: PolicyContext, item_id: Any) -> PolicyItem:
    """Publish an item added to an already published policy."""
    item = get_item(ctx.session, item_id)
    _authorize(ctx, "publish", item.policy)
    if item.policy.status != PolicyStatus.PUBLISHED:
        raise InvalidTransition("政策发布后才能单独发布申报事项")
    if item.status != ItemStatus.DRAFT:
        raise InvalidTransition(f"该申报事项当前为「{item.status_label}」")
    item.status = ItemStatus.PUBLISHED
    item.published_at = ctx.now
    item.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit("policy.item.publish", "policy_item", item.id, {"policy_id": item.policy_id, "title": item.title})
    return item


def withdraw_item(ctx: PolicyContext, item_id: Any, reason: str = "") -> PolicyItem:
    item = get_item(ctx.session, item_id)
    _authorize(ctx, "retire", item.policy)
    if item.status == ItemStatus.WITHDRAWN:
        return item
    before = item.status
    item.status = ItemStatus.WITHDRAWN
    item.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit("policy.item.withdraw", "policy_item", item.id,
              {"policy_id": item.policy_id, "title": item.title, "from": before, "reason": reason})
    return item


# --------------------------------------------------------------------------------------------------
# xlsx import
# --------------------------------------------------------------------------------------------------
IMPORT_SPEC = TableSpec("政策与申报事项", (
    Column("title", "政策名称", synonyms=("政策标题", "政策"), required=True, example="北辰区促进高端装备制造业发展若干措施"),
    Column("issuing_body", "发文机关", synonyms=("发文单位",), example="北辰区人民政府办公室"),
    Column("level", "政策层级", synonyms=("层级", "级别"), note="国家、天津市 或 北辰区", example="北辰区"),
    Column("doc_number", "文号", synonyms=("发文字号",), note="同一文号的多行属于同一政策", example="北辰政办规〔2026〕1号"),
    Column("published_on", "发布日期", synonyms=("印发日期",), example="2026-01-15"),
    Column("valid_from", "生效日期", synonyms=("施行日期",), example="2026-02-01"),
    Column("valid_until", "失效日期", synonyms=("有效期至",), example="2028-12-31"),
    Column("source_url", "原文链接", synonyms=("链接",)),
    Column("owner_department", "牵头部门", synonyms=("责任部门", "主管部门"), required=True,
           note="部门名称或编码，如 工信局", example="工信局"),
    Column("summary", "政策解读", synonyms=("政策摘要", "白话解读")),
    Column("item_title", "申报事项", synonyms=("事项名称", "事项"), note="留空则只导入政策本身", example="首台（套）重大技术装备奖励"),
    Column("item_summary", "事项说明", synonyms=("支持内容", "支持标准")),
    Column("how_to_apply", "申报方式", synonyms=("申报材料",)),
    Column("contact", "咨询电话", synonyms=("联系方式", "联系人")),
    Column("apply_from", "申报开始日期", synonyms=("申报开始", "受理开始")),
    Column("apply_until", "申报截止日期", synonyms=("申报截止", "截止日期", "受理截止")),
    Column("no_application", "免申即享", note="是/否"),
    Column("industries", "行业代码", synonyms=("行业",), note="GB/T 4754 门类或代码，多个用逗号分隔，如 C34,C35"),
    Column("size_bands", "企业规模", synonyms=("规模",), note="大、中、小、微，多个用逗号分隔"),
    Column("stages", "发展阶段", synonyms=("服务阶段",), note="企业开办、项目建设、生产经营、发展壮大、市场退出"),
    Column("chain_positions", "产业链位置", synonyms=("链上位置",), note="链主、核心配套、一般配套"),
    Column("key_industry", "“2+3”产业", synonyms=("2+3产业", "重点产业"), note="是：仅限；否：排除；留空：不限"),
    Column("qualifications", "资质要求", synonyms=("资质",), note="具备其中任一即可，如 高新技术企业,专精特新"),
    Column("zones", "片区", synonyms=("所在片区",), note="片区名称，多个用逗号分隔"),
    Column("age_min_years", "成立满（年）", synonyms=("成立年限下限",)),
    Column("age_max_years", "成立不超过（年）", synonyms=("成立年限上限",)),
    Column("entity_types", "主体类型", note="企业、个体工商户、农民专业合作社"),
    Column("active_only", "仅限存续企业", note="默认 是"),
    Column("exclude_abnormal", "排除经营异常", note="是/否"),
))
IMPORT_NOTES = (
    "每行一个申报事项；同一政策的多个事项请重复填写政策名称与文号。",
    "已发布的政策不会被导入修改；导入的新政策为草稿，需提交审核后发布。",
)


@dataclass
class RowError:
    row_number: int
    column: str
    value: str
    reason: str
    row_values: list[str]


IMPORT_MAX_ROWS = 5000


@dataclass
class ImportResult:
    rows: int = 0
    created_policies: int = 0
    updated_policies: int = 0
    created_items: int = 0
    updated_items: int = 0
    errors: list[RowError] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    policy_ids: list[int] = field(default_factory=list)

    def describe(self, *, dry_run: bool = False) -> str:
        return (f"共 {self.rows} 行：新增政策 {self.created_policies} 个、更新 {self.updated_policies} 个，"
                f"新增事项 {self.created_items} 个、更新 {self.updated_items} 个，未导入 {len(self.errors)} 行")

    def job_fields(self) -> dict[str, int]:
        """The counters an ImportJob keeps (items created / updated; rows rejected)."""
        return {"total": self.rows, "processed": self.rows, "new": self.created_items, "changed": self.updated_items,
                "unchanged": self.rows - len(self.errors) - self.created_items - self.updated_items,
                "errors": len(self.errors), "unlisted_errors": max(0, len(self.errors) - MAX_LISTED_ERRORS)}


def write_import_template(target) -> None:
    example = [c.example for c in IMPORT_SPEC.columns]
    excel_io.write_template(target, IMPORT_SPEC, example_rows=[example], notes=IMPORT_NOTES)


def write_import_errors(target, result: ImportResult) -> int:
    return excel_io.write_row_errors(
        target, result.headers, ((e.row_number, e.column, e.value, e.reason, e.row_values) for e in result.errors))


class _Lookups:
    def __init__(self, session: Session):
        self.departments = {}
        for dep in session.scalars(select(Department).where(Department.active.is_(True))):
            self.departments[dep.name] = dep.id
            self.departments[dep.code] = dep.id
        self.stages = {}
        for stage in session.scalars(select(ServiceStage)):
            self.stages[stage.name] = stage.id
            self.stages[stage.code] = stage.id
        self.zones = {}
        for zone in session.scalars(select(Zone)):
            self.zones[zone.name] = zone.id
            self.zones[zone.code] = zone.id


def _names_to_ids(text: str, table: Mapping[str, int], label: str) -> list[int]:
    ids = []
    for name in _SPLIT.split(text) if text else []:
        if not name:
            continue
        if name not in table:
            raise ValueError(f"未知的{label}：{name}")
        ids.append(table[name])
    return ids


_ENTITY_TYPES = {"企业": "enterprise", "个体工商户": "individual", "个体": "individual",
                 "农民专业合作社": "cooperative", "合作社": "cooperative"}


def _row_conditions(values: Mapping[str, Any], lookups: _Lookups) -> tuple[dict[str, Any], str]:
    """(conditions, the column that failed) from an import row."""
    raw: dict[str, Any] = {}
    for key in ("industries", "size_bands", "chain_positions", "qualifications"):
        if values.get(key):
            raw[key] = excel_io.cell_text(values[key])
    for key, column, table, label in (("stage_ids", "stages", lookups.stages, "发展阶段"),
                                      ("zone_ids", "zones", lookups.zones, "片区")):
        try:
            ids = _names_to_ids(excel_io.cell_text(values.get(column)), table, label)
        except ValueError as exc:
            raise _CellError(column, str(exc)) from None
        if ids:
            raw[key] = ids
    for key in ("age_min_years", "age_max_years", "key_industry", "active_only", "exclude_abnormal"):
        if values.get(key) not in (None, ""):
            raw[key] = excel_io.cell_text(values[key])
    if values.get("entity_types"):
        names = [n for n in _SPLIT.split(excel_io.cell_text(values["entity_types"])) if n]
        bad = [n for n in names if n not in _ENTITY_TYPES]
        if bad:
            raise _CellError("entity_types", "主体类型应为 企业、个体工商户 或 农民专业合作社")
        raw["entity_types"] = [_ENTITY_TYPES[n] for n in names]
    try:
        return parse_conditions(raw).to_json(), ""
    except ValidationFailed as exc:
        key = next(iter(exc.fields), "")
        column = {"stage_ids": "stages", "zone_ids": "zones"}.get(key, key)
        raise _CellError(column, exc.message) from None


class _CellError(Exception):
    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass
class PolicySheet:
    """An import file as read, before any database work."""

    headers: list[str]
    labels: dict[str, str]
    rows: list[tuple[int, dict[str, Any], list[str]]]  # (Excel row number, cleaned values, cells as text)


def read_policy_sheet(path: str | os.PathLike, filename: str, *,
                      max_bytes: int = excel_io.DEFAULT_MAX_BYTES) -> PolicySheet:
    """Read the whole file (at most ``IMPORT_MAX_ROWS`` rows) with no database work meanwhile."""
    with excel_io.open_sheet(path, IMPORT_SPEC, filename=filename, max_bytes=max_bytes,
                             max_rows=IMPORT_MAX_ROWS) as sheet:
        rows = [(row.number, dict(row.values), excel_io.report_cells(row.texts())) for row in sheet.rows()]
        return PolicySheet(excel_io.report_cells(sheet.header.headers), dict(sheet.header.labels), rows)


def import_policies(ctx: PolicyContext, path: str | os.PathLike | PolicySheet, filename: str) -> ImportResult:
    """Create or update draft policies and their items from a sheet (a file, or one read already by
    ``read_policy_sheet``); see the module docstring."""
    _authorize(ctx, "create")
    sheet = path if isinstance(path, PolicySheet) else read_policy_sheet(path, filename)
    result = ImportResult(headers=list(sheet.headers))
    lookups = _Lookups(ctx.session)
    by_key: dict[tuple[str, str], Policy] = {}
    touched: set[int] = set()
    labels = sheet.labels
    for number, values, texts in sheet.rows:
        result.rows += 1
        try:
            with ctx.session.begin_nested():
                _import_row(ctx, values, lookups, by_key, touched, result)
        except _CellError as exc:
            value = excel_io.cell_text(values.get(exc.column))
            result.errors.append(RowError(number, labels.get(exc.column, exc.column), value, exc.reason, texts))
        except (ValidationFailed, PermissionDenied, InvalidTransition) as exc:
            key = next(iter(exc.fields), "") if exc.fields else ""
            column = labels.get(key, "") if key else ""
            result.errors.append(RowError(number, column, excel_io.cell_text(values.get(key)) if key else "",
                                          exc.message, texts))
    result.policy_ids = sorted(touched)
    ctx.audit("policy.import", "policy", ",".join(map(str, result.policy_ids))[:64],
              {"filename": filename, "summary": result.describe(), "errors": len(result.errors)})
    return result


def _import_row(ctx: PolicyContext, values: Mapping[str, Any], lookups: _Lookups,
                by_key: dict[tuple[str, str], Policy], touched: set[int], result: ImportResult) -> None:
    owner_text = excel_io.cell_text(values.get("owner_department"))
    owner_id = lookups.departments.get(owner_text)
    if owner_id is None:
        raise _CellError("owner_department", f"未知的牵头部门：{owner_text}" if owner_text else "请填写牵头部门")
    data = {k: values.get(k) for k in ("title", "issuing_body", "level", "doc_number", "published_on", "valid_from",
                                       "valid_until", "source_url", "summary")}
    data = {k: (excel_io.cell_text(v) if k not in ("published_on", "valid_from", "valid_until") else v)
            for k, v in data.items()}
    data["owner_department_id"] = owner_id
    fields = policy_fields(ctx.session, data)
    key = (fields["doc_number"], "") if fields["doc_number"] else ("", f"{fields['title']}|{fields['issuing_body']}")
    policy = by_key.get(key)
    if policy is None:
        query = select(Policy)
        if fields["doc_number"]:
            query = query.where(Policy.doc_number == fields["doc_number"])
        else:
            query = query.where(Policy.title == fields["title"], Policy.issuing_body == fields["issuing_body"])
        policy = ctx.session.scalars(query.order_by(Policy.id.desc())).first()
    if policy is None:
        policy = create_policy(ctx, fields)
        result.created_policies += 1
    elif policy.id not in touched:
        if policy.status not in (PolicyStatus.DRAFT, PolicyStatus.REVIEW):
            raise _CellError("title", f"政策「{policy.title}」已{policy.status_label}，不能通过导入修改")
        if _diff(policy, fields):
            update_policy(ctx, policy.id, fields)
            result.updated_policies += 1
    by_key[key] = policy
    touched.add(policy.id)

    item_title = excel_io.cell_text(values.get("item_title"))
    if not item_title:
        return
    conditions, _ = _row_conditions(values, lookups)
    item_data = {
        "title": item_title,
        "summary": excel_io.cell_text(values.get("item_summary")),
        "how_to_apply": excel_io.cell_text(values.get("how_to_apply")),
        "contact": excel_io.cell_text(values.get("contact")),
        "apply_from": values.get("apply_from"),
        "apply_until": values.get("apply_until"),
        "no_application": values.get("no_application"),
        "conditions": conditions,
    }
    try:
        item_fields(item_data)
    except ValidationFailed as exc:
        column = {"title": "item_title", "summary": "item_summary"}.get(next(iter(exc.fields), ""),
                                                                     next(iter(exc.fields), ""))
        raise _CellError(column, exc.message) from None
    existing = ctx.session.scalar(select(PolicyItem).where(PolicyItem.policy_id == policy.id,
                                                           PolicyItem.title == item_title))
    if existing is None:
        item_data["sort_order"] = len(policy.items)
        add_item(ctx, policy.id, item_data)
        result.created_items += 1
    else:
        item_data["sort_order"] = existing.sort_order
        if _diff(existing, item_fields(item_data)):
            update_item(ctx, existing.id, item_data)
            result.updated_items += 1


def run_policy_import_job(session_factory: sessionmaker[Session], job, *, now: datetime, clock=None,
                          progress_cb=None) -> ImportResult:
    """The ``policies`` runner of ``services.registry.import_jobs``: the file is read whole first
    (no transaction open while it is parsed), then applied as the job's creator in one
    transaction with its row errors (at most ``MAX_LISTED_ERRORS`` kept) and the summary."""
    sheet = read_policy_sheet(job.stored_path, job.filename,
                              max_bytes=max(excel_io.DEFAULT_MAX_BYTES, job.file_size or 0))
    with session_factory() as session:
        actor = session.get(Person, job.created_by_id) if job.created_by_id else None
        result = import_policies(PolicyContext(session=session, actor=actor, now=now), sheet, job.filename)
        session.execute(delete(ImportRowError).where(ImportRowError.job_id == job.id))
        listed = result.errors[:MAX_LISTED_ERRORS]
        if listed:
            session.execute(insert(ImportRowError), [
                {"job_id": job.id, "row_number": e.row_number, "column": e.column[:64], "value": e.value[:2000],
                 "reason": e.reason, "row_values": e.row_values} for e in listed])
        session.execute(update(ImportJob).where(ImportJob.id == job.id).values(header_map={
            "columns": sheet.labels, "headers": sheet.headers, "summary": result.describe(),
            "policy_ids": result.policy_ids}))
        session.commit()
    return result


def condition_summary(conditions: Mapping[str, Any] | Conditions, session: Session) -> list[str]:
    """Chinese lines describing an item's conditions (zone and stage names resolved)."""
    from services.policies.matching import describe, load_labels

    return describe(parse_conditions(conditions), load_labels(session))


__all__ = [
    "ACTION_LABELS", "CHAIN_POSITIONS", "IMPORT_SPEC", "ImportResult", "PolicyContext", "PolicyFilter", "RowError",
    "SIZE_BANDS", "TRANSITIONS", "add_attachments", "add_item", "allowed_actions", "can", "condition_summary",
    "create_policy", "delete_item", "get_item", "get_policy", "import_policies", "is_owner_person", "list_policies",
    "policy_fields", "item_fields", "publish", "publish_item", "read_policy_sheet", "remove_attachment", "retire",
    "run_policy_import_job", "send_back", "submit",
    "transition", "update_item", "update_policy", "withdraw_item", "write_import_errors", "write_import_template",
]
