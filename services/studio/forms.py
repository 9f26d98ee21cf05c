"""Custom request-form fields: their definitions and the values people give them. Pure rules.

A domain's form is an ordered list of fields (optionally limited to one service stage). The same
definition renders the console form, the H5 form, the public form (fields marked ``public``),
validates the API and drives the chat follow-up; values are stored with the order as JSON. A field
removed later keeps its old values readable (``display_value`` falls back to the raw value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

FIELD_TYPES: dict[str, str] = {
    "text": "单行文字",
    "long_text": "多行文字",
    "number": "数字",
    "date": "日期",
    "choice": "单选",
    "multi_choice": "多选",
    "yes_no": "是/否",
    "attachment": "附件",
    "enterprise": "企业",
}
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_MAX = 200
LONG_TEXT_MAX = 5000
OPTION_MAX = 50
YES = frozenset({"是", "yes", "true", "1", "y", "on", "有"})
NO = frozenset({"否", "no", "false", "0", "n", "off", "无"})
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2100, 12, 31)


@dataclass(frozen=True)
class FieldDef:
    key: str
    label: str
    type: str
    required: bool = False
    help: str = ""
    options: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str = ""
    public: bool = False
    stage: str = ""  # only for requests of this service stage; "" for every stage

    @property
    def type_label(self) -> str:
        return FIELD_TYPES.get(self.type, self.type)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FieldDef:
        def number(name: str) -> float | None:
            value = raw.get(name)
            return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

        return cls(
            key=str(raw.get("key") or ""), label=str(raw.get("label") or ""), type=str(raw.get("type") or ""),
            required=raw.get("required") is True, help=str(raw.get("help") or ""),
            options=tuple(str(o) for o in raw.get("options") or () if isinstance(o, str | int | float)),
            min=number("min"), max=number("max"), unit=str(raw.get("unit") or ""), public=raw.get("public") is True,
            stage=str(raw.get("stage") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "label": self.label, "type": self.type}
        if self.required:
            data["required"] = True
        if self.help:
            data["help"] = self.help
        if self.options:
            data["options"] = list(self.options)
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None:
                data[name] = int(value) if float(value).is_integer() else value
        if self.unit:
            data["unit"] = self.unit
        if self.public:
            data["public"] = True
        if self.stage:
            data["stage"] = self.stage
        return data


@dataclass
class FormProblems:
    problems: list[str] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}：{message}")


def validate_forms(forms: Any, *, domains: set[str], stages: set[str], path: str = "forms") -> list[str]:
    """Every problem of the ``forms`` section, each naming its entry (``forms.公共服务[0].key：…``)."""
    out = FormProblems()
    if forms is None:
        return []
    if not isinstance(forms, dict):
        out.add(path, "应为“领域名称 → 字段列表”的映射")
        return out.problems
    for domain, fields in forms.items():
        where = f"{path}.{domain}"
        if domain not in domains:
            out.add(where, f"未知诉求领域「{domain}」（可用：{'、'.join(sorted(domains))}）")
        if not isinstance(fields, list):
            out.add(where, "应为字段列表")
            continue
        seen: set[str] = set()
        for index, raw in enumerate(fields):
            _validate_field(raw, f"{where}[{index}]", seen, stages, out)
    return out.problems


def _validate_field(raw: Any, where: str, seen: set[str], stages: set[str], out: FormProblems) -> None:
    if not isinstance(raw, dict):
        out.add(where, "应为字段定义（key、label、type …）")
        return
    key = raw.get("key")
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        out.add(f"{where}.key", "须以小写字母开头，只含小写字母、数字和下划线（最长 40 个字符）")
    elif key in seen:
        out.add(f"{where}.key", f"字段键「{key}」重复")
    else:
        seen.add(key)
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > 40:
        out.add(f"{where}.label", "请填写字段名称（最长 40 个字）")
    kind = raw.get("type")
    if kind not in FIELD_TYPES:
        out.add(f"{where}.type", f"未知字段类型「{kind}」（可用：{'、'.join(FIELD_TYPES)}）")
    for flag in ("required", "public"):
        if flag in raw and not isinstance(raw[flag], bool):
            out.add(f"{where}.{flag}", "应为 true 或 false")
    options = raw.get("options")
    if kind in ("choice", "multi_choice"):
        if not isinstance(options, list) or not options:
            out.add(f"{where}.options", "单选、多选字段须列出选项")
        else:
            texts = [str(o).strip() for o in options]
            if any(not t or len(t) > OPTION_MAX for t in texts):
                out.add(f"{where}.options", f"选项不能为空，且每项不超过 {OPTION_MAX} 个字")
            if len(set(texts)) != len(texts):
                out.add(f"{where}.options", "选项重复")
    elif options not in (None, []):
        out.add(f"{where}.options", "只有单选、多选字段可以有选项")
    for bound in ("min", "max"):
        value = raw.get(bound)
        if value is None:
            continue
        if kind != "number":
            out.add(f"{where}.{bound}", "只有数字字段可以设置上下限")
        elif not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            out.add(f"{where}.{bound}", "应为数字")
    low, high = raw.get("min"), raw.get("max")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        out.add(f"{where}.min", "下限大于上限")
    stage = raw.get("stage")
    if stage and stage not in stages:
        out.add(f"{where}.stage", f"未知服务阶段「{stage}」")


def fields_for(forms: Mapping[str, Sequence[Mapping[str, Any]]], domain: str | None, stage: str | None = None, *,
               public_only: bool = False) -> list[FieldDef]:
    """The fields a request of ``domain`` (and ``stage``) asks for, in order."""
    if not domain:
        return []
    result = []
    for raw in forms.get(domain) or ():
        definition = FieldDef.from_dict(raw)
        if definition.stage and stage and definition.stage != stage:
            continue
        if definition.stage and not stage:
            continue
        if public_only and not definition.public:
            continue
        result.append(definition)
    return result


def choice_fields(forms: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[FieldDef]:
    """The single-choice fields of every domain form (one per key, the first definition wins):
    what the order list filters and the statistics group by."""
    found: dict[str, FieldDef] = {}
    for fields in forms.values():
        for raw in fields or ():
            definition = FieldDef.from_dict(raw)
            if definition.type == "choice" and definition.key not in found:
                found[definition.key] = definition
    return list(found.values())


def clean_values(fields: Sequence[FieldDef], raw: Mapping[str, Any], *,
                 enterprise_exists: Callable[[int], bool] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Validated values keyed by field key, and the errors keyed by field key (messages name the
    field's label). Unknown keys are refused: a typo must not vanish silently."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = {f.key for f in fields}
    for key in raw:
        if key not in known:
            errors[str(key)] = f"没有名为「{key}」的字段"
    for definition in fields:
        value = raw.get(definition.key)
        if _empty(value):
            if definition.required:
                errors[definition.key] = f"请填写「{definition.label}」"
            continue
        try:
            values[definition.key] = _clean(definition, value, enterprise_exists)
        except ValueError as error:
            errors[definition.key] = f"「{definition.label}」{error}"
    return values, errors


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, list | tuple) and not [v for v in value if not _empty(v)])


def _clean(definition: FieldDef, value: Any, enterprise_exists: Callable[[int], bool] | None) -> Any:
    kind = definition.type
    if kind in ("text", "long_text", "attachment"):
        if not isinstance(value, str):
            raise ValueError("应为文字")
        text = value.strip()
        limit = LONG_TEXT_MAX if kind == "long_text" else TEXT_MAX
        if len(text) > limit:
            raise ValueError(f"不能超过 {limit} 个字")
        if kind == "text" and "\n" in text:
            raise ValueError("应为一行文字")
        return text
    if kind == "number":
        number = _number(value)
        if definition.min is not None and number < definition.min:
            raise ValueError(f"不能小于 {_plain(definition.min)}{definition.unit}")
        if definition.max is not None and number > definition.max:
            raise ValueError(f"不能大于 {_plain(definition.max)}{definition.unit}")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "date":
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise ValueError("应为日期，如 2026-03-02")
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("不是有效的日期") from None
        if not MIN_DATE <= day <= MAX_DATE:
            raise ValueError("日期超出范围")
        return day.isoformat()
    if kind == "choice":
        text = str(value).strip() if isinstance(value, str | int) else None
        if text not in definition.options:
            raise ValueError(f"应为以下之一：{'、'.join(definition.options)}")
        return text
    if kind == "multi_choice":
        items = value if isinstance(value, list | tuple) else re.split(r"[，,、;；]", value) if isinstance(value, str) \
            else None
        if items is None:
            raise ValueError("应为选项列表")
        chosen = [str(i).strip() for i in items if str(i).strip()]
        wrong = [c for c in chosen if c not in definition.options]
        if wrong:
            raise ValueError(f"没有选项「{'、'.join(wrong)}」")
        return [o for o in definition.options if o in chosen]
    if kind == "yes_no":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in YES:
            return True
        if text in NO:
            return False
        raise ValueError("应为“是”或“否”")
    if kind == "enterprise":
        try:
            enterprise_id = int(str(value).strip()) if str(value).strip().isascii() else None
        except ValueError:
            enterprise_id = None
        if enterprise_id is None or not 0 < enterprise_id < 2**31:
            raise ValueError("应为企业编号")
        if enterprise_exists is not None and not enterprise_exists(enterprise_id):
            raise ValueError("所选企业不存在")
        return enterprise_id
    raise ValueError("字段类型未知")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("应为数字")
    if isinstance(value, int | float) or isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d{1,15}(\.\d{1,6})?\s*", value):
        number = float(value)
    else:
        raise ValueError("应为数字")
    if not math.isfinite(number):
        raise ValueError("应为数字")
    return number


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def display_value(definition: FieldDef | None, value: Any) -> str:
    """A stored value as people read it; a field no longer defined shows its raw value."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if definition is not None and definition.type == "number":
        return f"{_plain(float(value))}{definition.unit}" if isinstance(value, int | float) else str(value)
    return str(value)
