"""Every code the desk stores has a Chinese label (services.labels), and the audit and delivery
pages show labels and names, never the codes and ids."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from models import (
    CaseStudy,
    ChatGroup,
    Department,
    KnowledgeEntry,
    MessageKind,
    Person,
    Policy,
    PolicyItem,
    Role,
    ScreeningRule,
    SlaPolicy,
    TrainingEvent,
    Zone,
)
from models.assignment import StaffAssignmentRule, ZoneAddressRule
from services import audit, labels
from services.admin import operations as admin

ROOT = Path(__file__).resolve().parents[2]
ASCII_WORD = re.compile(r"[A-Za-z_]{2,}")


# --------------------------------------------------------------------------------------------------
# The source: every audit call's action, target type and detail keys
# --------------------------------------------------------------------------------------------------
def _string(node) -> str | None:
    """A constant string, or the constant head of an f-string (``f"policy.{action}"`` → ``policy.``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return node.values[0].value + "{}"
    return None


def _strings(node) -> list[str]:
    """The strings an argument can be: one, or both arms of ``"a" if created else "b"``."""
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    one = _string(node)
    return [one] if one is not None else []


def _audit_calls():
    """(path, action, target type, detail keys) of every ``ctx.audit(...)`` / ``audit.record(...)``."""
    for path in [*ROOT.glob("services/**/*.py"), *ROOT.glob("handlers/**/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        dict_vars: dict[str, ast.Dict] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        dict_vars[target.id] = node.value
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = getattr(func, "attr", None) or getattr(func, "id", None)
            if name not in ("audit", "record") or (name == "record" and not (
                    isinstance(func, ast.Name) or getattr(func.value, "id", "") == "audit")):
                continue
            strings = [(i, _strings(a)) for i, a in enumerate(node.args)]
            strings = [(i, s) for i, s in strings if s]
            if not strings:
                continue
            index, actions = strings[0]
            target = _string(node.args[index + 1]) if len(node.args) > index + 1 else None
            detail = next((a for a in node.args[index:] if isinstance(a, ast.Dict)), None)
            if detail is None:
                named = [a.id for a in node.args[index:] if isinstance(a, ast.Name) and a.id in dict_vars]
                detail = dict_vars[named[0]] if named else None
            keys = {k.value for k in (detail.keys if detail else []) if isinstance(k, ast.Constant)}
            for action in actions:
                yield path.relative_to(ROOT), action, target, keys


def test_the_scan_finds_the_audit_calls():
    actions = {action for _, action, _, _ in _audit_calls()}
    assert {"zone.update", "case.typical", "policy.{}", "training.status", "wecom.callback_rejected"} <= actions


def test_every_audit_action_target_and_detail_key_has_a_chinese_label():
    missing = []
    for path, action, target, keys in _audit_calls():
        if action.endswith("{}"):
            if not any(a.startswith(action[:-2]) for a in labels.AUDIT_ACTIONS):
                missing.append(f"{path}: action {action}")
        elif action not in labels.AUDIT_ACTIONS and action != "person.access_request":
            missing.append(f"{path}: action {action}")
        if target and not target.endswith("{}") and target not in labels.AUDIT_TARGETS:
            missing.append(f"{path}: target {target}")
        missing += [f"{path}: detail key {k}" for k in keys if k not in labels.AUDIT_FIELDS]
    assert not missing, "\n".join(missing)
    assert "person.access_request" in labels.AUDIT_ACTIONS


@pytest.mark.parametrize("model", [Zone, Department, ChatGroup, Person, SlaPolicy, ScreeningRule, TrainingEvent,
                                   Policy, PolicyItem, KnowledgeEntry, CaseStudy, ZoneAddressRule,
                                   StaffAssignmentRule])
def test_every_field_an_edit_can_change_has_a_label(model):
    # ``changes`` name the edited columns; bookkeeping (ids, who and when, counters) is never edited.
    bookkeeping = re.compile(r"^(id|.*_at|created_by_id|updated_by_id|reviewed_by_id|published_by_id|retired_by_id|"
                             r"approved_by_id|search_text|version|view_count|use_count|status|source_case_id|"
                             r"work_order_id|attachments|review_note|retire_reason|level_reached|kind|code|"
                             r"parent_id|platform|last_error)$")
    columns = [c.key for c in model.__table__.columns if not bookkeeping.match(c.key)]
    assert [c for c in columns if c not in labels.AUDIT_FIELDS] == []


def test_labels_are_chinese():
    for table in (labels.AUDIT_ACTIONS, labels.AUDIT_TARGETS, labels.AUDIT_FIELDS, labels.MESSAGE_KINDS,
                  labels.MESSAGE_TARGETS, labels.CHANNELS):
        for code, label in table.items():
            assert not ASCII_WORD.search(label.replace("ID", "")), f"{code}: {label}"


@pytest.mark.parametrize(("key", "value", "target", "text"), [
    ("from", "draft", "policy", "草稿"),
    ("to", "review", "policy", "待审核"),
    ("to", "published", "case_study", "已发布"),
    ("from", "planned", "training_event", "计划中"),
    ("typical", True, "case_study", "是"),
    ("published_to_kb", False, "policy_question", "否"),
    ("kind", "manual", "push_campaign", "手动推送"),
    ("kind", "policy_digest", "outbound_message", "政策推送汇总"),
    ("level", "district", "policy", "北辰区"),
    ("source", "handbook", "knowledge_entry", "应答手册"),
    ("channel", "console", "training_event", "网页工作台"),
    ("by", "enterprise", "policy_push", "企业自行登记"),
    ("scheduled_for", None, "push_campaign", "（空）"),
    ("published_on", "2026-11-26", "policy", "2026-11-26"),
    ("scheduled_for", "2026-03-02T02:00:00+00:00", "push_campaign", "2026-03-02 10:00"),
])
def test_coded_values_read_as_chinese(key, value, target, text):
    assert labels.value_text(key, value, target_type=target) == text


# --------------------------------------------------------------------------------------------------
# The audit trail as the page shows it
# --------------------------------------------------------------------------------------------------
def test_audit_rows_describe_names_not_ids(session, factory, now):
    helper = factory.person(Role.CHIEF_HELPER, department=factory.department("rsj"), name="孙帮办")
    enterprise = factory.enterprise(name="天津北辰测试机械有限公司")
    zone = factory.zone("tianmu")
    rows = [
        audit.record(session, helper, "policy.submit", "policy", 4,
                     {"title": "稳岗政策", "from": "draft", "to": "review", "note": ""}, "", now),
        audit.record(session, helper, "case.typical", "case_study", 1, {"title": "某案例", "typical": True}, "", now),
        audit.record(session, helper, "policy.push.granted", "policy_push", 9,
                     {"enterprise_id": enterprise.id, "item_id": 999999, "note": "已发放"}, "", now),
        audit.record(session, helper, "policy.item.create", "policy_item", 3,
                     {"policy_id": None, "conditions": {"entity_types": ["cooperative"], "zone_ids": [zone.id],
                                                        "industries": ["A01"], "active_only": True}}, "", now),
        audit.record(session, None, "setting.update", "system_setting", "max_returns,policy_push_weekly_cap",
                     {"changes": {"max_returns": [3, 4], "policy_push_weekly_cap": [None, 2]}}, "", now),
        audit.record(session, helper, "person.update", "person", helper.id,
                     {"name": "孙帮办", "changes": {"zone_id": [None, zone.id], "active": [True, False]}}, "", now),
    ]
    views = audit.describe(session, rows)
    text = "\n".join(f"{v.action} {v.target} " + " ".join(f"{ln.label}：{ln.text}" for ln in v.lines)
                     for v in views)
    assert "原状态：草稿 新状态：待审核\n" in text  # an empty note is left out
    assert "典型案例：是" in text
    assert f"企业：{enterprise.name}" in text and "申报事项：999999" in text
    assert "主体类型：农民专业合作社" in text and "所在片区：天穆镇" in text and "登记状态为存续" in text
    assert "系统参数：退单次数上限、每周推送上限" in text and "退单次数上限：3 → 4" in text
    assert "片区：（空） → 天穆镇" in text and "启用：是 → 否" in text
    leftovers = set(ASCII_WORD.findall(text)) - {"A01"}
    assert not leftovers, leftovers


def test_outbox_targets_are_named(session, factory, now):
    from services.messaging import outbox

    dept = factory.department("rsj")
    person = factory.person(Role.CHIEF_HELPER, department=dept, name="孙帮办")
    group_row = ChatGroup(platform="wecom", department_id=dept.id, robot_key="abcdefgh123", created_at=now)
    session.add(group_row)
    session.flush()
    messages = [
        outbox.enqueue(session, outbox.Envelope("sandbox", MessageKind.WHISTLE, "group", str(dept.id), {"text": "x"},
                                                "t-1"), now=now),
        outbox.enqueue(session, outbox.Envelope("wecom", MessageKind.STATUS, "group", str(group_row.id),
                                                {"text": "x"}, "t-2"), now=now),
        outbox.enqueue(session, outbox.Envelope("sandbox", MessageKind.NOTICE, "person", str(person.id),
                                                {"text": "x"}, "t-3"), now=now),
        outbox.enqueue(session, outbox.Envelope("wecom", MessageKind.CARD, "people", f"{person.id},999999",
                                                {"text": "x"}, "t-4"), now=now),
    ]
    names = admin.outbox_targets(session, messages)
    assert [names[m.id] for m in messages] == ["人社局群", "人社局群", "孙帮办", "孙帮办、（已删除人员）"]
