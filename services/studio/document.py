"""The configuration document: its sections, validation with Chinese messages that name the entry,
and a readable diff. Pure: what it needs of the database comes in as ``Known`` names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.studio import dispatch, forms, templates

# Sections in the order a person reads them (and the YAML file lists them).
SECTIONS: dict[str, str] = {
    "forms": "诉求表单字段",
    "dispatch_rules": "派单目录",
    "templates": "消息模板",
    "command_aliases": "聊天命令别名",
    "industries": "行业与“2+3”重点产业",
    "stage_leads": "服务阶段牵头部门",
    "domain_keywords": "诉求领域关键词",
    "sla_policies": "办理时限、提醒与督办",
    "screening_rules": "受理范围甄别规则",
}
# Kept in the revision itself (the rest live in their own tables and are written on import).
DOCUMENT_SECTIONS = ("forms", "dispatch_rules", "templates", "command_aliases")
FORMAT_VERSION = 1
GBT_CODE = re.compile(r"^[A-T](\d{2,4})?$")


COMMAND_WORDS: dict[str, str] = {}


def register_command_words(words: Mapping[str, str]) -> None:
    """The chat command registry (``services.messaging.commands``) names its words here."""
    COMMAND_WORDS.update(words)


@dataclass(frozen=True)
class Known:
    """The names a document may refer to."""

    departments: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    zones: frozenset[str] = frozenset()
    command_words: Mapping[str, str] = field(default_factory=dict)  # every built-in word → command name
    industry_codes: frozenset[str] = frozenset()  # existing IndustryTag codes


SLA_PRIORITIES = ("normal", "urgent", "emergency")
SCREENING_CATEGORIES = ("litigation", "petition", "state_secret", "trade_secret", "privacy", "unlawful")


def empty_document() -> dict[str, Any]:
    return {"version": FORMAT_VERSION, "forms": {}, "dispatch_rules": [], "templates": {}, "command_aliases": {},
            "industries": [], "stage_leads": {}, "domain_keywords": {}, "sla_policies": [], "screening_rules": []}


def validate(document: Any, known: Known) -> list[str]:
    """Every problem, each naming its entry (``dispatch_rules[0].then.department：未知部门「人设局」``)."""
    if not isinstance(document, dict):
        return ["文档：应为 YAML 映射（顶层是 forms、dispatch_rules、templates、command_aliases 等键）"]
    problems: list[str] = []
    version = document.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        problems.append(f"version：不支持的格式版本「{version}」（当前为 {FORMAT_VERSION}）")
    problems += forms.validate_forms(document.get("forms"), domains=set(known.domains), stages=set(known.stages))
    problems += dispatch.validate_rules(document.get("dispatch_rules"), departments=set(known.departments),
                                        domains=set(known.domains), stages=set(known.stages), zones=set(known.zones))
    problems += templates.validate_templates(document.get("templates"))
    problems += _validate_aliases(document.get("command_aliases"), known)
    problems += _validate_industries(document.get("industries"), known)
    problems += _validate_mapping(document.get("stage_leads"), "stage_leads", known.stages, "服务阶段",
                                  lambda where, value: [] if value in (None, "") or value in known.departments
                                  else [f"{where}：未知部门「{value}」"])
    problems += _validate_mapping(document.get("domain_keywords"), "domain_keywords", known.domains, "诉求领域",
                                  _keyword_list)
    problems += _validate_sla(document.get("sla_policies"), known)
    problems += _validate_screening(document.get("screening_rules"))
    return problems


def _int_or_none(value: Any, low: int, high: int) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high)


def _validate_sla(policies: Any, known: Known) -> list[str]:
    """Deadlines per (domain × priority × level): 50 %/80 % reminders and the 督办 chain
    (assignee → department leader after N working days → 营商环境办 after M)."""
    if policies is None:
        return []
    if not isinstance(policies, list):
        return ["sla_policies：应为时限策略列表"]
    problems: list[str] = []
    seen: set[tuple] = set()
    for index, row in enumerate(policies):
        where = f"sla_policies[{index}]"
        if not isinstance(row, dict):
            problems.append(f"{where}：应为时限策略")
            continue
        domain = row.get("domain")
        if domain is not None and domain not in known.domains:
            problems.append(f"{where}.domain：未知诉求领域「{domain}」（不填表示所有领域）")
        if row.get("priority") not in SLA_PRIORITIES:
            problems.append(f"{where}.priority：应为 {'、'.join(SLA_PRIORITIES)}")
        if row.get("level") not in (1, 2, 3, 4):
            problems.append(f"{where}.level：响应层级应为 1–4")
        key = (domain, row.get("priority"), row.get("level"))
        if key in seen:
            problems.append(f"{where}：同一领域、紧急程度与层级的策略重复")
        seen.add(key)
        for name, high in (("sign_minutes", 10080), ("sign_workdays", 60), ("handle_workdays", 365)):
            if not _int_or_none(row.get(name), 1, high):
                problems.append(f"{where}.{name}：应为 1–{high} 的整数或留空")
        if row.get("sign_minutes") is None and row.get("sign_workdays") is None:
            problems.append(f"{where}：报到时限（sign_minutes 或 sign_workdays）至少填一个")
        for name in ("leader_after_workdays", "bizenv_after_workdays", "return_limit_workdays",
                     "return_limit_workdays_complex"):
            if not _int_or_none(row.get(name, 1), 0, 60) or row.get(name, 1) is None:
                problems.append(f"{where}.{name}：应为 0–60 的整数")
        if isinstance(row.get("leader_after_workdays"), int) and isinstance(row.get("bizenv_after_workdays"), int) \
                and row["bizenv_after_workdays"] < row["leader_after_workdays"]:
            problems.append(f"{where}.bizenv_after_workdays：通报营商环境办不能早于通报部门领导")
        percents = row.get("remind_percents", [50, 80])
        if not isinstance(percents, list) or any(not isinstance(p, int) or isinstance(p, bool) or not 1 <= p <= 99
                                                 for p in percents) or percents != sorted(set(percents)):
            problems.append(f"{where}.remind_percents：应为从小到大的 1–99 之间的百分比，如 [50, 80]")
    return problems


def _validate_screening(rules: Any) -> list[str]:
    if rules is None:
        return []
    if not isinstance(rules, list):
        return ["screening_rules：应为甄别规则列表"]
    problems: list[str] = []
    for index, row in enumerate(rules):
        where = f"screening_rules[{index}]"
        if not isinstance(row, dict):
            problems.append(f"{where}：应为甄别规则")
            continue
        if row.get("category") not in SCREENING_CATEGORIES:
            problems.append(f"{where}.category：应为 {'、'.join(SCREENING_CATEGORIES)}")
        problems += _keyword_list(f"{where}.keywords", row.get("keywords"), 500) if row.get("keywords") else \
            [f"{where}.keywords：至少一个关键词"]
        for name in ("reason", "proper_channel"):
            if not isinstance(row.get(name), str) or not row[name].strip():
                problems.append(f"{where}.{name}：请填写{'不予受理的理由' if name == 'reason' else '应走的渠道'}")
        if "active" in row and not isinstance(row["active"], bool):
            problems.append(f"{where}.active：应为 true 或 false")
    return problems


def _validate_aliases(aliases: Any, known: Known) -> list[str]:
    if aliases is None:
        return []
    if not isinstance(aliases, dict):
        return ["command_aliases：应为“别名 → 命令”的映射，如 收到: 报到"]
    problems = []
    commands = set(known.command_words.values())
    for alias, command in aliases.items():
        where = f"command_aliases.{alias}"
        word = str(alias).strip()
        if not word or len(word) > 16 or any(c.isspace() for c in word):
            problems.append(f"{where}：别名须是 1–16 个字且不含空格")
        elif word.lower() in {w.lower() for w in known.command_words} and known.command_words.get(word) != command:
            problems.append(f"{where}：「{word}」已是命令「{known.command_words.get(word, word)}」的用词")
        if command not in commands:
            problems.append(f"{where}：未知命令「{command}」（可用：{'、'.join(sorted(commands))}）")
    return problems


def _validate_industries(industries: Any, known: Known) -> list[str]:
    if industries is None:
        return []
    if not isinstance(industries, list):
        return ["industries：应为行业列表（code、name、key_industry、codes）"]
    problems: list[str] = []
    seen_codes: set[str] = set()
    seen_names: set[str] = set()
    for index, row in enumerate(industries):
        where = f"industries[{index}]"
        if not isinstance(row, dict):
            problems.append(f"{where}：应为行业（code、name、key_industry、codes）")
            continue
        code, name = row.get("code"), row.get("name")
        if not isinstance(code, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", code):
            problems.append(f"{where}.code：须是小写字母开头的代号（最长 32 个字符）")
        elif code in seen_codes:
            problems.append(f"{where}.code：代号「{code}」重复")
        else:
            seen_codes.add(code)
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            problems.append(f"{where}.name：请填写行业名称（最长 64 个字）")
        elif name in seen_names:
            problems.append(f"{where}.name：名称「{name}」重复")
        else:
            seen_names.add(name)
        if "key_industry" in row and not isinstance(row["key_industry"], bool):
            problems.append(f"{where}.key_industry：应为 true 或 false")
        for gbt in row.get("codes") or []:
            if not isinstance(gbt, str) or not GBT_CODE.match(gbt.strip().upper()):
                problems.append(f"{where}.codes：「{gbt}」不是 GB/T 4754 门类或代码（如 C、C27、C358）")
    missing = sorted(known.industry_codes - seen_codes)
    if industries and missing:
        problems.append(f"industries：缺少「{'、'.join(missing)}」（已有的行业可以改名、调整，但不能删除：企业与政策仍在引用）")
    return problems


def _keyword_list(where: str, value: Any, longest: int = 20) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or any(not isinstance(v, str) or not v.strip() or len(v) > longest for v in value):
        return [f"{where}：应为关键词列表（每个 1–{longest} 个字）"]
    return []


def _validate_mapping(section: Any, path: str, keys: frozenset[str], label: str, check) -> list[str]:
    if section is None:
        return []
    if not isinstance(section, dict):
        return [f"{path}：应为“{label} → 值”的映射"]
    problems = []
    for key, value in section.items():
        if key not in keys:
            problems.append(f"{path}.{key}：未知{label}「{key}」")
        problems += check(f"{path}.{key}", value)
    return problems


# --------------------------------------------------------------------------------------------
# Diff
# --------------------------------------------------------------------------------------------
def canonical(document: Mapping[str, Any]) -> str:
    """One text per document content (key order within mappings does not matter, list order does)."""
    return json.dumps({k: document.get(k) for k in ("version", *SECTIONS)}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed, one line per entry, in Chinese."""
    lines: list[str] = []
    for section, label in SECTIONS.items():
        before, after = old.get(section), new.get(section)
        if _same(before, after):
            continue
        if isinstance(before, dict) or isinstance(after, dict):
            before, after = before or {}, after or {}
            for key in after:
                if key not in before:
                    lines.append(f"{label}：新增「{key}」{_short(after[key])}")
                elif not _same(before[key], after[key]):
                    lines.append(f"{label}：修改「{key}」{_short(before[key])} → {_short(after[key])}")
            lines += [f"{label}：删除「{key}」" for key in before if key not in after]
        else:
            before, after = before or [], after or []
            names_before = [_entry_name(e, i) for i, e in enumerate(before)]
            names_after = [_entry_name(e, i) for i, e in enumerate(after)]
            for index, entry in enumerate(after):
                name = names_after[index]
                if name not in names_before:
                    lines.append(f"{label}：新增第 {index + 1} 条「{name}」")
                else:
                    old_index = names_before.index(name)
                    if not _same(before[old_index], entry):
                        lines.append(f"{label}：修改「{name}」")
                    if old_index != index:
                        lines.append(f"{label}：「{name}」由第 {old_index + 1} 条移到第 {index + 1} 条")
            lines += [f"{label}：删除「{name}」" for name in names_before if name not in names_after]
    return lines


def _entry_name(entry: Any, index: int) -> str:
    if isinstance(entry, dict):
        return str(entry.get("name") or entry.get("code") or entry.get("key") or f"第 {index + 1} 条")
    return f"第 {index + 1} 条"


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a or None, sort_keys=True, ensure_ascii=False) == json.dumps(b or None, sort_keys=True,
                                                                                  ensure_ascii=False)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return f"（{text[:limit]}{'…' if len(text) > limit else ''}）" if text else ""
