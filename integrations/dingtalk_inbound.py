"""A message to the DingTalk enterprise robot (``@机器人 报到 0001`` in a group), end to end.

HTTP mode (``POST /dingtalk/robot``) and Stream mode (``flask dingtalk-stream``) receive the same
JSON and both end in ``process_robot_event``: who sent it (``senderStaffId`` → the bound person),
run the command registry once per ``msgId``, and leave the answer in the outbox as a ``reply`` to
the conversation's ``sessionWebhook``, delivered after commit with an @ of the sender. The first
time the robot is used in a department group, the group's ``conversationId`` is recorded on the
department's ``ChatGroup``.

The HTTP callback only checks and stores the body in the inbox (``services.messaging.inbox``) and answers
at once; the ``process_inbound`` job runs it through ``inbox_processor``. The Stream worker is
already out of any request and runs ``handle_robot_message`` itself, acknowledging afterwards.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config import Settings
from database import session_scope
from integrations.base import ChatEvent
from models import ChatGroup, InboundMessage, InboundReceipt, Person, utcnow
from services import audit
from services.messaging import chat as chat_inbound
from services.messaging.inbox import InboxProcessor
from services.messaging.notify import Channels, ReplyTarget
from services.messaging.outbox import Envelope, enqueue
from services.orders.operations import OpContext

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
GROUP_CONVERSATION = "2"
NOT_BOUND_REPLY = (
    "您好，您的钉钉账号尚未在「有需必应」登记，暂时不能通过钉钉办理工单。"
    "请联系片区管理员或系统管理员在「人员管理」中绑定钉钉账号后再试。"
)
UNSUPPORTED_REPLY = "目前只能识别文字指令，请 @我 并输入文字，例如「报到 0001」；发送「帮助」查看全部指令。"


class InvalidRobotMessage(ValueError):
    """The callback body is not a robot message we can act on (a Chinese reason in ``str``)."""


@dataclass(frozen=True)
class RobotOutcome:
    status: str  # handled | duplicate | not_bound | unsupported
    reply: str = ""
    order_number: str | None = None


def _text(payload: dict[str, Any], name: str, limit: int = 256) -> str:
    value = payload.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise InvalidRobotMessage(f"字段 {name} 格式不正确")
    return str(value)[:limit]


def robot_event(payload: Any, *, received_at: datetime | None = None, robot_code: str = "") -> ChatEvent:
    """The neutral ``ChatEvent`` of a robot callback body; raise ``InvalidRobotMessage`` when unusable.
    With ``robot_code`` (``DINGTALK_ROBOT_CODE``), a message addressed to another robot is refused."""
    if not isinstance(payload, dict):
        raise InvalidRobotMessage("消息体必须是 JSON 对象")
    if robot_code and payload.get("robotCode") and str(payload.get("robotCode")) != robot_code:
        raise InvalidRobotMessage("消息不是发给本系统机器人的（robotCode 不符）")
    msg_id = _text(payload, "msgId", 128).strip()
    if not msg_id:
        raise InvalidRobotMessage("缺少 msgId")
    msgtype = _text(payload, "msgtype", 32) or "text"
    text = ""
    if msgtype == "text":
        content = payload.get("text")
        if not isinstance(content, dict) or not isinstance(content.get("content", ""), str):
            raise InvalidRobotMessage("文字消息缺少 text.content")
        # DingTalk removes the "@机器人" itself and leaves the space after it.
        text = content.get("content", "")[:2000].strip()
    try:
        expires = int(payload.get("sessionWebhookExpiredTime") or 0)
    except (TypeError, ValueError):
        raise InvalidRobotMessage("sessionWebhookExpiredTime 格式不正确") from None
    conversation_type = _text(payload, "conversationType", 8)
    return ChatEvent(
        platform=PLATFORM,
        text=text,
        dedupe_key=msg_id,
        conversation=_text(payload, "conversationId", 128),
        conversation_type="group" if conversation_type == GROUP_CONVERSATION else "person",
        sender_platform_id=_text(payload, "senderStaffId", 64).strip(),
        reply_handle={
            "session_webhook": _text(payload, "sessionWebhook", 1024),
            "expires_at": expires,
            "conversation_title": _text(payload, "conversationTitle", 128),
            "sender_nick": _text(payload, "senderNick", 64),
            "msgtype": msgtype,
        },
        raw=payload,
        received_at=received_at,
    )


def contact_event(payload: Any) -> dict[str, Any] | None:
    """The organisation event of a stored HTTP event callback (``{"event": {...}}``), else None."""
    event = payload.get("event") if isinstance(payload, dict) else None
    return event if isinstance(event, dict) else None


def summarise(payload: Any) -> str:
    """Who wrote a stored callback body, where, and what, for the administrators' log (plain text;
    never the ``sessionWebhook``, which can post to the conversation)."""
    if not isinstance(payload, dict):
        return ""
    event = contact_event(payload)
    if event is not None:
        users = event.get("UserId") or event.get("userId") or []
        users = [users] if isinstance(users, str) else users if isinstance(users, list) else []
        return f"〔通讯录事件〕{event.get('EventType', '')}：{'、'.join(str(u) for u in users[:10])}"

    def plain(name: str) -> str:
        value = payload.get(name)
        return str(value).strip() if isinstance(value, str | int) else ""

    sender = plain("senderNick") or plain("senderStaffId") or "?"
    if plain("senderNick") and plain("senderStaffId"):
        sender += f"（{plain('senderStaffId')}）"
    if plain("conversationType") == GROUP_CONVERSATION:
        sender += f" 在群「{plain('conversationTitle') or plain('conversationId')}」"
    msgtype = plain("msgtype") or "text"
    content = payload.get("text")
    if msgtype != "text":
        what = f"〔{msgtype}消息〕"
    elif isinstance(content, dict) and isinstance(content.get("content"), str):
        what = content["content"].strip()
    else:
        what = ""
    return f"{sender}：{what}"


def handle_robot_message(app, payload: Any, *, now: datetime | None = None) -> RobotOutcome:
    """Stream mode: act on one message in a transaction of its own (committed on return)."""
    now = now or utcnow()
    settings: Settings = app.extensions["settings"]
    event = robot_event(payload, received_at=now, robot_code=settings.dingtalk.robot_code)
    with session_scope(app.extensions["db_sessionmaker"]) as session:
        return process_robot_event(session, settings, event, now)


def inbox_processor(settings: Settings) -> InboxProcessor:
    """HTTP mode: the stored callback bodies, through the same ``process_robot_event``."""

    def event_of(row: InboundMessage) -> ChatEvent:
        return robot_event(row.payload, received_at=row.created_at, robot_code=settings.dingtalk.robot_code)

    def process(session: Session, row: InboundMessage, now: datetime) -> str:
        event = contact_event(row.payload)
        if event is not None:
            from services.grid.dingtalk_roster import apply_contact_event

            event_type = str(event.get("EventType") or "")
            changed = apply_contact_event(session, event_type, event, now)
            return f"{event_type} 解除绑定 {changed} 人"
        outcome = process_robot_event(session, settings, event_of(row), now)
        return f"{outcome.status} {outcome.order_number or ''}".strip()

    def apologise(session: Session, row: InboundMessage, text: str, now: datetime) -> None:
        if contact_event(row.payload) is not None:
            return  # nobody to tell: the failure shows on the 回调消息 page
        event = event_of(row)
        if event.reply_handle.get("session_webhook") or event.sender_platform_id:
            _session_reply(session, event, _sender(session, event), text, now, suffix=f"failed:{row.id}")

    return InboxProcessor(process, apologise)


def _sender(session: Session, event: ChatEvent) -> Person | None:
    if not event.sender_platform_id:
        return None
    return session.scalar(select(Person).where(Person.dingtalk_userid == event.sender_platform_id))


def process_robot_event(session: Session, settings: Settings, event: ChatEvent, now: datetime) -> RobotOutcome:
    channels = Channels(sandbox=settings.sandbox_enabled, wecom=settings.wecom.enabled,
                        dingtalk=settings.dingtalk.enabled)
    person = _sender(session, event)
    if person is None or not person.active:
        return _answer_stranger(session, event, now)

    if event.conversation_type == "group":
        map_conversation(session, event, person, now)
    ctx = OpContext(session=session, actor=person, now=now, channel=PLATFORM, channels=channels,
                    base_url=settings.base_url)
    if event.reply_handle.get("msgtype") != "text":
        if not _first_delivery(session, event, now):
            return RobotOutcome("duplicate")
        _session_reply(session, event, person, UNSUPPORTED_REPLY, now)
        return RobotOutcome("unsupported", UNSUPPORTED_REPLY)

    # The answer goes back where the question was asked: the conversation's sessionWebhook, @-ing the sender.
    target = ReplyTarget("session", _conversation_ref(event, person), _reply_payload(event, person))
    result = chat_inbound.handle_text(ctx, event.text, dedupe=(PLATFORM, event.dedupe_key), reply_target=target)
    if result.duplicate:
        log.info("dingtalk: msgId %s seen before, ignored", event.dedupe_key)
        return RobotOutcome("duplicate")
    log.info("dingtalk: %s from %s → %s", result.command or "unknown", event.sender_platform_id,
             "ok" if result.ok else "refused")
    return RobotOutcome("handled", result.reply, result.order_number)


# --------------------------------------------------------------------------------------------
# Replies
# --------------------------------------------------------------------------------------------
def _reply_payload(event: ChatEvent, person: Person | None) -> dict[str, Any]:
    return {
        "session_webhook": event.reply_handle.get("session_webhook", ""),
        "expires_at": int(event.reply_handle.get("expires_at") or 0),
        "at_user_ids": [event.sender_platform_id] if event.sender_platform_id else [],
        "person_id": person.id if person is not None else None,
    }


def _conversation_ref(event: ChatEvent, person: Person | None) -> str:
    return (event.conversation or (str(person.id) if person is not None else "-"))[:512]


def _session_reply(session: Session, event: ChatEvent, person: Person | None, text: str, now: datetime, *,
                   suffix: str = "session") -> None:
    """An answer that is not a command's (unknown sender, a picture, a failure) into the conversation."""
    enqueue(session, Envelope(
        channel=PLATFORM, kind="reply", target_type="session", target_ref=_conversation_ref(event, person),
        payload={**_reply_payload(event, person), "text": text},
        dedupe_key=f"in:{PLATFORM}:{event.dedupe_key}:{suffix}"[:200],
    ), now=now)


def _first_delivery(session: Session, event: ChatEvent, now: datetime) -> bool:
    try:
        with session.begin_nested():
            session.add(InboundReceipt(platform=PLATFORM, dedupe_key=event.dedupe_key[:200], created_at=now))
            session.flush()
    except IntegrityError:
        return False
    return True


def _answer_stranger(session: Session, event: ChatEvent, now: datetime) -> RobotOutcome:
    """Someone the desk does not know: a polite answer in the conversation, no action."""
    if not _first_delivery(session, event, now):
        return RobotOutcome("duplicate")
    log.warning("dingtalk: message %s from unbound userid %r (%s)", event.dedupe_key, event.sender_platform_id,
                event.reply_handle.get("sender_nick", ""))
    if event.reply_handle.get("session_webhook"):
        _session_reply(session, event, None, NOT_BOUND_REPLY, now)
    return RobotOutcome("not_bound", NOT_BOUND_REPLY)


# --------------------------------------------------------------------------------------------
# conversationId ↔ department group
# --------------------------------------------------------------------------------------------
def map_conversation(session: Session, event: ChatEvent, person: Person, now: datetime) -> ChatGroup | None:
    """Record which department group a conversation is, the first time the robot is used there:
    the bound group named like the conversation, else the sender's department's group."""
    if not event.conversation:
        return None
    known = session.scalar(select(ChatGroup).where(ChatGroup.conversation_id == event.conversation))
    if known is not None:
        return known
    unmapped = select(ChatGroup).where(ChatGroup.platform == PLATFORM, ChatGroup.conversation_id.is_(None))
    title = str(event.reply_handle.get("conversation_title") or "").strip()
    group = None
    if title:
        named = list(session.scalars(unmapped.where(ChatGroup.name == title).limit(2)))
        group = named[0] if len(named) == 1 else None
    if group is None and person.department_id is not None:
        group = session.scalar(unmapped.where(ChatGroup.department_id == person.department_id))
    if group is None:
        log.info("dingtalk: conversation %s (%s) matches no department group", event.conversation, title)
        return None
    try:
        with session.begin_nested():
            group.conversation_id = event.conversation
            session.flush()
    except IntegrityError:  # the same conversation mapped by a concurrent message
        session.refresh(group)
        return session.scalar(select(ChatGroup).where(ChatGroup.conversation_id == event.conversation))
    audit.record(session, person, "chat_group.conversation_mapped", "chat_group", group.id,
                 {"platform": "钉钉", "conversation_id": event.conversation, "conversation_title": title,
                  "department_id": group.department_id}, "", now)
    log.info("dingtalk: conversation %s mapped to group %s (department %s)", event.conversation, group.id,
             group.department_id)
    return group
