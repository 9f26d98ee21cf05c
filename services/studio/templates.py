"""Message templates: the text of what the bot sends, editable, in sandboxed Jinja. Pure rules.

Each template has a name, a Chinese label, a default text and the placeholders it may use (each
documented). An edited text is refused before it is saved when it does not parse, or names a
placeholder the template does not offer; rendering runs in Jinja's sandbox (no attribute walks to
Python internals, no imports) with undefined names as errors, so a broken text never reaches a chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_LENGTH = 4000


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    label: str
    default: str
    placeholders: Mapping[str, str] = field(default_factory=dict)  # name → what it holds (Chinese)
    channels: str = "群聊"  # where it is shown, for the editor
    group: str = "工单"  # the editor's heading it is listed under


_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)

ORDER_PLACEHOLDERS = {
    "number": "工单编号，如 BC-20260302-0001",
    "short_number": "单号末四位（聊天命令可只写末几位）",
    "enterprise": "企业名称",
    "summary": "诉求摘要（标题或内容前 60 字）",
    "level": "响应层级，如 部门协调办理",
    "green_channel": "是否绿色通道（真/假）",
    "state": "当前状态",
    "link": "工单链接（绝对地址）",
}

TEMPLATES: dict[str, TemplateSpec] = {}


def register(spec: TemplateSpec) -> TemplateSpec:
    if spec.name in TEMPLATES:
        raise ValueError(f"template {spec.name!r} registered twice")
    problems = validate_text(spec, spec.default)
    if problems:
        raise ValueError(f"default of template {spec.name!r} is broken: {problems}")
    TEMPLATES[spec.name] = spec
    return spec


def validate_text(spec: TemplateSpec, text: Any, *, path: str = "") -> list[str]:
    where = path or f"templates.{spec.name}"
    if not isinstance(text, str) or not text.strip():
        return [f"{where}：模板内容不能为空"]
    if len(text) > MAX_LENGTH:
        return [f"{where}：模板不能超过 {MAX_LENGTH} 个字"]
    try:
        parsed = _ENV.parse(text)
    except TemplateSyntaxError as error:
        return [f"{where}：模板语法错误（第 {error.lineno} 行：{error.message}）"]
    # The sandbox already refuses these at render time; refusing them here tells the editor why.
    private = [n.attr for n in parsed.find_all(nodes.Getattr) if n.attr.startswith("_")]
    private += [n.arg.value for n in parsed.find_all(nodes.Getitem)
                if isinstance(n.arg, nodes.Const) and str(n.arg.value).startswith("_")]
    if private:
        return [f"{where}：不允许访问内部属性「{'、'.join(map(str, private))}」"]
    unknown = sorted(meta.find_undeclared_variables(parsed) - set(spec.placeholders))
    if unknown:
        offered = "、".join(spec.placeholders) or "无"
        return [f"{where}：未知占位符「{'、'.join(unknown)}」（本模板可用：{offered}）"]
    return []


def validate_templates(section: Any, *, path: str = "templates") -> list[str]:
    if section is None:
        return []
    if not isinstance(section, dict):
        return [f"{path}：应为“模板名称 → 模板内容”的映射"]
    problems = []
    for name, text in section.items():
        spec = TEMPLATES.get(name)
        if spec is None:
            problems.append(f"{path}.{name}：未知模板（可用：{'、'.join(TEMPLATES)}）")
            continue
        problems += validate_text(spec, text, path=f"{path}.{name}")
    return problems


def render(name: str, context: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> str:
    """The template's text (the district's edit, else the default) filled in. An edit that fails at
    render time (a value of an unexpected shape) falls back to the default: a message still goes out."""
    spec = TEMPLATES[name]
    text = (overrides or {}).get(name) or spec.default
    try:
        return _ENV.from_string(text).render(**context).strip()
    except Exception:
        if text == spec.default:
            raise
        return _ENV.from_string(spec.default).render(**context).strip()


def reference_markdown() -> str:
    """The table of every registered template and its placeholders, for docs/studio.md (a test keeps
    the document equal to this)."""
    lines = []
    groups: dict[str, list[TemplateSpec]] = {}
    for spec in TEMPLATES.values():
        groups.setdefault(spec.group, []).append(spec)
    for group, specs in groups.items():
        lines += [f"#### {group}", "", "| 模板 | 名称 | 发送到 | 占位符 |", "|---|---|---|---|"]
        for spec in specs:
            own = {k: v for k, v in spec.placeholders.items() if k not in ORDER_PLACEHOLDERS}
            shown = "、".join(f"`{k}` {v}" for k, v in own.items())
            if set(ORDER_PLACEHOLDERS) <= set(spec.placeholders):
                shown = "工单占位符" + ("；" + shown if shown else "")
            cell = lambda text: text.replace("|", "\\|")  # noqa: E731
            lines.append(f"| {cell(spec.label)} | `{spec.name}` | {cell(spec.channels)} | {cell(shown or '无')} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
