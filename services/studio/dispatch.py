"""The dispatch catalogue (派单目录): ordered rules, the first that matches decides. Pure rules.

A rule's ``when`` may name keywords in the title and content (``any`` or ``all`` of them, with
exclusions), the domain, the service stage, zones, industry codes (GB/T 4754 prefixes), the "2+3"
flag, enterprise sizes and channels; every condition given must hold. Its ``then`` names the
department (or hub) and may set the level, priority, green channel, the lead department of a
level-3 consultation and a note for the dispatcher.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MATCH_MODES = ("any", "all")
PRIORITIES = {"normal": "一般", "urgent": "紧急", "emergency": "特急"}
SIZES = ("大型", "中型", "小型", "微型")
CHANNELS = {"console": "网页工作台", "mobile": "移动端", "wecom": "企业微信", "dingtalk": "钉钉", "api": "接口",
            "public": "企业自助", "sandbox": "沙箱"}
WHEN_KEYS = ("keywords", "match", "exclude", "domain", "stage", "zones", "industry", "key_industry", "size", "channel")
THEN_KEYS = ("department", "level", "priority", "green_channel", "lead_department", "note")


@dataclass(frozen=True)
class Facts:
    """What a rule can look at, as names (the catalogue is written in names, not ids)."""

    text: str
    domain: str = ""
    stage: str = ""
    zone: str = ""
    industry_code: str = ""
    key_industry: bool = False
    size: str = ""
    channel: str = ""


@dataclass(frozen=True)
class Decision:
    rule_index: int
    rule_name: str
    department: str = ""
    level: int | None = None
    priority: str = ""
    green_channel: bool | None = None
    lead_department: str = ""
    note: str = ""
    matched_keywords: tuple[str, ...] = ()

    def explain(self) -> str:
        parts = [f"命中派单目录第 {self.rule_index + 1} 条「{self.rule_name}」"]
        if self.matched_keywords:
            parts.append(f"关键词：{'、'.join(self.matched_keywords)}")
        return "，".join(parts)


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    return [str(v).strip() for v in value if str(v).strip()]


def decide(rules: Sequence[Mapping[str, Any]], facts: Facts) -> Decision | None:
    """The first active rule whose every condition holds, or None."""
    for index, rule in enumerate(rules):
        if rule.get("active") is False:
            continue
        hit = _matches(rule.get("when") or {}, facts)
        if hit is None:
            continue
        then = rule.get("then") or {}
        return Decision(
            rule_index=index, rule_name=str(rule.get("name") or f"第 {index + 1} 条"),
            department=str(then.get("department") or ""), level=then.get("level"),
            priority=str(then.get("priority") or ""), green_channel=then.get("green_channel"),
            lead_department=str(then.get("lead_department") or ""), note=str(then.get("note") or ""),
            matched_keywords=hit,
        )
    return None


def _matches(when: Mapping[str, Any], facts: Facts) -> tuple[str, ...] | None:
    """The keywords that matched (possibly none) when every condition holds, else None."""
    text = facts.text or ""
    keywords = _words(when.get("keywords"))
    found = tuple(k for k in keywords if k in text)
    if keywords:
        if when.get("match") == "all" and len(found) != len(keywords):
            return None
        if not found:
            return None
    if any(k in text for k in _words(when.get("exclude"))):
        return None
    if when.get("domain") and facts.domain not in _words(when.get("domain")):
        return None
    if when.get("stage") and facts.stage not in _words(when.get("stage")):
        return None
    if when.get("zones") and facts.zone not in _words(when.get("zones")):
        return None
    if when.get("industry") and not any(facts.industry_code.upper().startswith(p.upper())
                                        for p in _words(when.get("industry"))):
        return None
    if "key_industry" in when and when.get("key_industry") is not None and bool(when["key_industry"]) != facts.key_industry:
        return None
    if when.get("size") and facts.size not in _words(when.get("size")):
        return None
    if when.get("channel") and facts.channel not in _words(when.get("channel")):
        return None
    return found


def validate_rules(rules: Any, *, departments: set[str], domains: set[str], stages: set[str], zones: set[str],
                   path: str = "dispatch_rules") -> list[str]:
    problems: list[str] = []

    def add(where: str, message: str) -> None:
        problems.append(f"{where}：{message}")

    if rules is None:
        return []
    if not isinstance(rules, list):
        return [f"{path}：应为规则列表（先匹配的先生效）"]
    names: set[str] = set()
    for index, rule in enumerate(rules):
        where = f"{path}[{index}]"
        if not isinstance(rule, dict):
            add(where, "应为规则（name、when、then）")
            continue
        name = rule.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 60:
            add(f"{where}.name", "请填写规则名称（最长 60 个字）")
        elif name in names:
            add(f"{where}.name", f"规则名称「{name}」重复")
        else:
            names.add(name)
        when, then = rule.get("when") or {}, rule.get("then")
        if not isinstance(when, dict):
            add(f"{where}.when", "应为条件映射")
            when = {}
        for key in when:
            if key not in WHEN_KEYS:
                add(f"{where}.when.{key}", f"未知条件（可用：{'、'.join(WHEN_KEYS)}）")
        if not any(when.get(k) not in (None, "", []) for k in WHEN_KEYS if k != "match"):
            add(f"{where}.when", "至少需要一个条件（否则所有诉求都会命中）")
        if when.get("match") not in (None, *MATCH_MODES):
            add(f"{where}.when.match", "应为 any（任一关键词）或 all（全部关键词）")
        for key, known, label in (("domain", domains, "诉求领域"), ("stage", stages, "服务阶段"), ("zones", zones, "片区")):
            for value in _words(when.get(key)):
                if value not in known:
                    add(f"{where}.when.{key}", f"未知{label}「{value}」")
        for value in _words(when.get("size")):
            if value not in SIZES:
                add(f"{where}.when.size", f"未知企业规模「{value}」（可用：{'、'.join(SIZES)}）")
        for value in _words(when.get("channel")):
            if value not in CHANNELS:
                add(f"{where}.when.channel", f"未知渠道「{value}」（可用：{'、'.join(CHANNELS)}）")
        if "key_industry" in when and not isinstance(when["key_industry"], bool | None):
            add(f"{where}.when.key_industry", "应为 true 或 false")
        if not isinstance(then, dict) or not then:
            add(f"{where}.then", "请说明命中后交给谁（department）或走哪一级（level）")
            continue
        for key in then:
            if key not in THEN_KEYS:
                add(f"{where}.then.{key}", f"未知设置（可用：{'、'.join(THEN_KEYS)}）")
        for key, label in (("department", "部门"), ("lead_department", "牵头部门")):
            value = then.get(key)
            if value and value not in departments:
                add(f"{where}.then.{key}", f"未知{label}「{value}」")
        level = then.get("level")
        if level is not None and (not isinstance(level, int) or isinstance(level, bool) or level not in (1, 2, 3, 4)):
            add(f"{where}.then.level", "响应层级应为 1–4")
        if level == 2 and not then.get("department"):
            add(f"{where}.then.department", "部门协调办理（2 级）须指定部门")
        if then.get("priority") and then["priority"] not in PRIORITIES:
            add(f"{where}.then.priority", f"紧急程度应为 {'、'.join(PRIORITIES)}")
        if "green_channel" in then and not isinstance(then["green_channel"], bool):
            add(f"{where}.then.green_channel", "应为 true 或 false")
    return problems
