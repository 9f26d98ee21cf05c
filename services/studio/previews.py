"""What a message template looks like on a real order, per channel, before it is saved.

The studio's editor fills a template (the draft, else the text in force) with a real order's
values and, for placeholders that are not the order's, the example its description gives; then
asks each adapter for the body it would send (``integrations.*.preview``), sending nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations import dingtalk, sandbox, wecom_cards
from integrations.base import OutboundView
from models import WorkOrder
from services.messaging.notify import (
    LABEL_TEMPLATES,
    Channels,
    Notifier,
    card_fields,
    local_time,
    order_summary,
    order_url,
)
from services.orders.ladder import level_label
from services.studio import store, templates
from services.studio.templates import ORDER_PLACEHOLDERS, TEMPLATES, TemplateSpec


@dataclass(frozen=True)
class Preview:
    kind: str
    target_type: str  # person | group
    text: str  # as rendered from the template
    sandbox: str  # the sandbox bubble
    wecom: Any  # the WeCom body (JSON-able)
    dingtalk: Any  # the DingTalk bodies (JSON-able)


def sample_value(description: str) -> str:
    """A stand-in for a placeholder the order does not fill: its documented example."""
    start = description.find("（如")
    if start < 0:
        return f"〔{description}〕"
    depth, example = 0, []
    for char in description[start + 2:]:
        if char == "（":
            depth += 1
        elif char == "）":
            if depth == 0:
                break
            depth -= 1
        elif char == "；" and depth == 0:
            break
        example.append(char)
    return "".join(example).strip() or f"〔{description}〕"


def newest_order(session: Session) -> WorkOrder | None:
    return session.scalar(select(WorkOrder).order_by(WorkOrder.id.desc()).limit(1))


def find_order(session: Session, number: str) -> WorkOrder | None:
    number = (number or "").strip().upper()
    if not number:
        return newest_order(session)
    return session.scalar(select(WorkOrder).where(WorkOrder.number == number))


def _shape(spec: TemplateSpec) -> tuple[str, str]:
    if spec.name in ("whistle", "whistle_group_card"):
        return "whistle", "group"
    if spec.name in ("whistle_card", "whistle_card_fields", "card_sign_hint"):
        return "card", "person"
    if spec.name.startswith("card_closed_"):
        return "card_update", "person"
    if spec.name.startswith("chat_"):
        return "reply", "person"
    if spec.name.startswith("survey_"):
        return "survey", "person"
    if spec.channels.startswith("部门群 / 枢纽群"):
        return "status", "group"
    return "notice", "person"


def preview(session: Session, spec: TemplateSpec, order: WorkOrder | None, *, now: datetime, base_url: str,
            draft: str | None = None) -> Preview:
    notifier = Notifier(session, Channels(), now)
    context: dict[str, Any] = {name: sample_value(about) for name, about in spec.placeholders.items()}
    if order is not None and set(ORDER_PLACEHOLDERS) <= set(spec.placeholders):
        context.update(notifier.order_placeholders(order))
        if "due" in spec.placeholders and spec.placeholders["due"].startswith("办理时限（"):
            context["due"] = local_time(order.due_at)
        if "title" in spec.placeholders:
            context["title"] = order.title
        if "sign_due" in spec.placeholders and spec.placeholders["sign_due"].startswith("报到时限（"):
            context["sign_due"] = local_time(order.sign_due_at)
        if "long_summary" in spec.placeholders:
            context["long_summary"] = order_summary(order, 120)
    overrides: Mapping[str, str] = {**store.runtime(session).templates, **({spec.name: draft} if draft else {})}
    text = templates.render(spec.name, context, overrides)
    kind, target_type = _shape(spec)
    number = order.number if order is not None else context.get("number", "")
    url = order_url(order) if order is not None else ""
    title, _, body = text.partition("\n")
    if kind in ("whistle", "status", "reply"):
        payload: dict[str, Any] = {"text": text, "order_number": number}
        if kind == "whistle":
            payload.update({"mentions": [], "url": url, "card": {
                "heading": context.get("enterprise", ""), "lines": [context.get("summary", "")]}})
    elif kind == "card_update":
        payload = {"label": text, "order_number": number, "task_id": f"{number}-preview", "text": text}
    elif kind == "card":
        payload = {"title": title.strip(), "text": body.strip(), "url": url, "order_number": number,
                   "task_id": f"{number}-preview", "fields": [["响应层级", level_label(order.level) if order else ""]],
                   "buttons": [{"key": f"sign:{number}", "label": "报到", "style": "primary"},
                               {"key": f"return:{number}", "label": "退回"}]}
    elif kind == "notice" and order is not None and set(ORDER_PLACEHOLDERS) <= set(spec.placeholders):
        payload = notifier.notice_payload(order, title.strip(), body.strip())
    else:
        payload = {"title": title.strip(), "text": body.strip(), "url": url, "order_number": number}
    if spec.name == "whistle_card_fields":
        payload["fields"] = card_fields(text)
    elif spec.name == "whistle_group_card":
        card_title, heading, *lines = text.split("\n") + [""]
        payload["card"] = {"title": card_title, "heading": heading, "lines": [line for line in lines if line.strip()]}
    elif spec.name == "card_sign_hint":
        payload["hint"] = text
    if payload.get("url") or kind in ("card", "card_update"):
        # The words on buttons as the district has them, the draft in place of its own.
        payload["labels"] = {key: templates.render(name, {}, overrides)
                             for key, (name, _label, _default) in LABEL_TEMPLATES.items()}
    view = OutboundView(id=0, channel="sandbox", kind=kind, target_type=target_type, target_ref="0", payload=payload)
    return Preview(
        kind=kind, target_type=target_type, text=text, sandbox=sandbox.bubble_text(view),
        wecom=wecom_cards.preview(kind, target_type, payload, base_url),
        dingtalk=dingtalk.preview(kind, target_type, payload, base_url, now),
    )


def grouped() -> dict[str, list[TemplateSpec]]:
    """Every registered template under its editor heading, in registration order."""
    result: dict[str, list[TemplateSpec]] = {}
    for spec in TEMPLATES.values():
        result.setdefault(spec.group, []).append(spec)
    return result
