"""The 派单目录 as an office keeps it: one row per rule, in a spreadsheet or in the editor's form.

The same conversion serves the xlsx import and the console form, so a rule typed in either place
means the same. Several values in one cell are separated by 、 (，and , are accepted too).
The order of the rows is the order of the rules: the first that matches decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from services.errors import ValidationFailed
from services.registry import excel_io
from services.studio.dispatch import CHANNELS, PRIORITIES

COLUMNS = (
    ("index", "序号"), ("name", "名称"), ("active", "启用"), ("keywords", "关键词"), ("match", "匹配方式"),
    ("exclude", "排除词"), ("domain", "领域"), ("stage", "阶段"), ("zones", "片区"), ("industry", "行业代码"),
    ("key_industry", "2+3"), ("size", "规模"), ("channel", "渠道"), ("department", "承办部门"), ("level", "层级"),
    ("priority", "紧急程度"), ("green_channel", "绿色通道"), ("lead_department", "牵头部门"), ("note", "备注"),
)
HEADERS = [label for _, label in COLUMNS]
SPEC = excel_io.TableSpec("派单目录", tuple(excel_io.Column(key, label, required=True) for key, label in COLUMNS))
MATCH_LABELS = {"any": "任一", "all": "全部"}
SEPARATORS = re.compile(r"[、，,；;\n]+")


def _words(text: Any) -> list[str]:
    return [w.strip() for w in SEPARATORS.split(excel_io.cell_text(text) if text is not None else "") if w.strip()]


def _joined(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "、".join(str(v) for v in value)


def _yes_no(value: Any) -> str:
    return "" if value is None else ("是" if value else "否")


def rule_row(index: int, rule: Mapping[str, Any]) -> list[Any]:
    """A rule as one row, in ``HEADERS`` order."""
    when, then = rule.get("when") or {}, rule.get("then") or {}
    return [
        index + 1, rule.get("name", ""), "否" if rule.get("active") is False else "是",
        _joined(when.get("keywords")), MATCH_LABELS.get(when.get("match") or "any", ""), _joined(when.get("exclude")),
        _joined(when.get("domain")), _joined(when.get("stage")), _joined(when.get("zones")),
        _joined(when.get("industry")), _yes_no(when.get("key_industry")), _joined(when.get("size")),
        "、".join(CHANNELS.get(c, c) for c in _words(_joined(when.get("channel")))),
        then.get("department", ""), then.get("level") or "",
        PRIORITIES.get(then.get("priority") or "", ""), _yes_no(then.get("green_channel")),
        then.get("lead_department", ""), then.get("note", ""),
    ]


def rule_from_values(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A rule from one row's (or form's) cells keyed as ``COLUMNS``, and what could not be read.
    Names are checked later, with the whole catalogue (``store.apply``)."""
    problems: list[str] = []

    def flag(key: str, label: str) -> bool | None:
        try:
            return excel_io.parse_bool(values.get(key))
        except ValueError as error:
            problems.append(f"{label}：{error}")
            return None

    when: dict[str, Any] = {}
    for key in ("keywords", "exclude", "domain", "stage", "zones", "industry", "size"):
        words = _words(values.get(key))
        if words:
            when[key] = [w.upper() for w in words] if key == "industry" else words
    match = excel_io.clean_text(values.get("match"))
    if match:
        mode = {"任一": "any", "任意": "any", "全部": "all", "所有": "all", "any": "any", "all": "all"}.get(match)
        if mode is None:
            problems.append(f"匹配方式：应填“任一”或“全部”：{match}")
        elif mode == "all":
            when["match"] = "all"
    key_industry = flag("key_industry", "2+3")
    if key_industry is not None:
        when["key_industry"] = key_industry
    channels = []
    by_label = {label: key for key, label in CHANNELS.items()}
    for word in _words(values.get("channel")):
        channel = word if word in CHANNELS else by_label.get(word)
        if channel is None:
            problems.append(f"渠道：未知渠道「{word}」（可用：{'、'.join(CHANNELS.values())}）")
        else:
            channels.append(channel)
    if channels:
        when["channel"] = channels

    then: dict[str, Any] = {}
    for key in ("department", "lead_department", "note"):
        text = excel_io.clean_text(values.get(key))
        if text:
            then[key] = text
    level = values.get("level")
    if level not in (None, ""):
        try:
            then["level"] = excel_io.parse_int(level)
        except ValueError as error:
            problems.append(f"层级：{error}")
    priority = excel_io.clean_text(values.get("priority"))
    if priority:
        by_priority = {label: key for key, label in PRIORITIES.items()}
        if priority in PRIORITIES or priority in by_priority:
            then["priority"] = priority if priority in PRIORITIES else by_priority[priority]
        else:
            problems.append(f"紧急程度：应填{'、'.join(PRIORITIES.values())}：{priority}")
    green = flag("green_channel", "绿色通道")
    if green is not None:
        then["green_channel"] = green
    rule: dict[str, Any] = {"name": excel_io.clean_text(values.get("name")), "when": when, "then": then}
    if flag("active", "启用") is False:
        rule["active"] = False
    return rule, problems


def write(target, rules: Sequence[Mapping[str, Any]]) -> int:
    widths = [6, 20, 6, 30, 8, 16, 12, 12, 12, 12, 6, 10, 16, 16, 6, 8, 8, 16, 30]
    return excel_io.write_table(target, "派单目录", HEADERS, (rule_row(i, r) for i, r in enumerate(rules)),
                                widths=widths)


def read(path, *, filename: str, max_bytes: int = excel_io.DEFAULT_MAX_BYTES) -> tuple[list[dict], list[int]]:
    """The rules in the sheet, in row order (by 序号 when every row has one), with each rule's row
    number. ``ValidationFailed`` naming every row's problem, or the expected headers."""
    rows: list[tuple[Any, int, dict]] = []
    problems: list[str] = []
    with excel_io.open_sheet(path, SPEC, filename=filename, max_bytes=max_bytes) as sheet:
        for row in sheet.rows():
            rule, row_problems = rule_from_values(row.values)
            problems += [f"第 {row.number} 行 {p}" for p in row_problems]
            try:
                order = excel_io.parse_int(row.values.get("index"))
            except ValueError as error:
                problems.append(f"第 {row.number} 行 序号：{error}")
                order = None
            rows.append((order, row.number, rule))
    if problems:
        raise ValidationFailed("派单目录表有误，未做任何修改：\n" + "\n".join(problems),
                               fields={"document": "\n".join(problems)})
    if all(order is not None for order, _, _ in rows):
        rows.sort(key=lambda item: (item[0], item[1]))
    return [rule for _, _, rule in rows], [number for _, number, _ in rows]


def name_rows(problems: Sequence[str], row_numbers: Sequence[int]) -> list[str]:
    """``dispatch_rules[2].then.department：…`` as ``第 4 行（dispatch_rules[2].then.department）：…``."""
    def replace(match: re.Match) -> str:
        index = int(match.group(1))
        where = f"第 {row_numbers[index]} 行" if index < len(row_numbers) else f"第 {index + 1} 条"
        return f"{where}（{match.group(0)}"

    named = []
    for problem in problems:
        text = re.sub(r"dispatch_rules\[(\d+)\]", replace, problem, count=1)
        named.append(text.replace("：", "）：", 1) if text != problem else text)
    return named
