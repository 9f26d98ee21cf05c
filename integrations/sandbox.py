"""The sandbox backend: a chat transcript in the database, shown by the sandbox chat pages.

Department groups are conversations ``group:<department id>``, personal inboxes
``person:<person id>``. Delivery is a database write in the outbox row's own transaction, so
a message is shown exactly once even when the delivering process dies and another retries it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.base import ChatAdapter, DeliveryResult, OutboundView, PermanentError
from models import MessageKind, OutboundMessage, OutboxStatus, SandboxMessage

log = logging.getLogger(__name__)

# Every kind but the cards is a plain bubble; a kind missing from MessageKind is shown the same way
# and logged (the outbox refuses those, so only a row written by hand gets here).
BUBBLE_KINDS = MessageKind.ALL - MessageKind.CARDS
UNTITLED_KINDS = MessageKind.UNTITLED


def conversation_for(target_type: str, target_ref: str) -> str:
    if target_type == "group":
        return f"group:{target_ref}"
    if target_type == "person":
        return f"person:{target_ref}"
    raise PermanentError(f"未知的接收方类型：{target_type}")


def _mentions(payload: dict) -> list[int]:
    result = []
    for value in payload.get("mentions") or []:
        try:
            result.append(int(value))
        except (TypeError, ValueError):
            continue
    return result


def bubble_text(message: OutboundView) -> str:
    payload = message.payload
    text = str(payload.get("text") or "").strip()
    title = str(payload.get("title") or "").strip()
    if title and message.kind not in UNTITLED_KINDS:
        text = f"【{title}】\n{text}" if text else f"【{title}】"
    url = str(payload.get("url") or "")
    if message.kind == MessageKind.SURVEY and url and url not in text:
        text = f"{text}\n{url}"
    return text


class SandboxAdapter(ChatAdapter):
    name = "sandbox"

    def deliver(self, message: OutboundView, session: Session, *, now: datetime) -> DeliveryResult:
        if message.kind == "card_update":
            return self._close_cards(message, session)
        already = session.scalar(
            select(SandboxMessage.id).where(SandboxMessage.outbound_id == message.id).limit(1)
        )
        if already is not None:
            return DeliveryResult(detail="已在沙箱中显示（重复投递已忽略）")
        conversation = conversation_for(message.target_type, message.target_ref)
        if message.kind == "card":
            row = self._card_row(message, session, conversation, now)
        else:
            if message.kind not in BUBBLE_KINDS:
                log.info("sandbox: unknown message kind %r shown as a bubble (outbound %s)", message.kind, message.id)
            text = bubble_text(message)
            if not text:
                raise PermanentError("消息内容为空")
            row = SandboxMessage(
                conversation=conversation, direction="out", text=text, mentions=_mentions(message.payload),
                outbound_id=message.id, created_at=now,
            )
        session.add(row)
        session.flush()
        return DeliveryResult(platform_message_id=str(row.id))

    def _card_row(self, message: OutboundView, session: Session, conversation: str, now: datetime) -> SandboxMessage:
        payload = message.payload
        task_id = str(payload.get("task_id") or "") or None
        card = {
            "title": payload.get("title", ""),
            "text": payload.get("text", ""),
            "fields": payload.get("fields") or [],
            "buttons": payload.get("buttons") or [],
            "url": payload.get("url", ""),
            "task_id": task_id,
            "order_number": payload.get("order_number", ""),
        }
        text = "\n".join(part for part in (str(card["title"]), str(card["text"])) if part)
        return SandboxMessage(
            conversation=conversation, direction="out", text=text, mentions=_mentions(payload), card=card,
            card_task_id=task_id, card_closed_label=self._closed_already(message, session, task_id),
            outbound_id=message.id, created_at=now,
        )

    @staticmethod
    def _closed_already(message: OutboundView, session: Session, task_id: str | None) -> str:
        """A card retried after its task was closed arrives greyed out, never clickable again."""
        if task_id is None:
            return ""
        same_order = (
            OutboundMessage.work_order_id.is_(None)
            if message.work_order_id is None
            else OutboundMessage.work_order_id == message.work_order_id
        )
        updates = session.scalars(
            select(OutboundMessage).where(
                same_order,
                OutboundMessage.kind == "card_update",
                OutboundMessage.channel == message.channel,
                OutboundMessage.status == OutboxStatus.SENT,
            ).order_by(OutboundMessage.id)
        )
        labels = [u.payload.get("label", "") for u in updates if (u.payload or {}).get("task_id") == task_id]
        return str(labels[-1] or "已处理") if labels else ""

    @staticmethod
    def _close_cards(message: OutboundView, session: Session) -> DeliveryResult:
        task_id = str(message.payload.get("task_id") or "")
        if not task_id:
            raise PermanentError("卡片更新缺少 task_id")
        label = str(message.payload.get("label") or "已处理")[:64]
        result = session.execute(
            update(SandboxMessage)
            .where(SandboxMessage.card_task_id == task_id)
            .values(card_closed_label=label)
            .execution_options(synchronize_session=False)
        )
        return DeliveryResult(detail=f"已更新 {result.rowcount} 张卡片")
