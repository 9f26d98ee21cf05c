"""DingTalk robot messages and organisation events: stored callback bodies → neutral events.

HTTP mode (``POST /dingtalk/robot``, ``POST /dingtalk/events``) stores the verified body in the
inbox; Stream mode (``flask dingtalk-stream``) hands the same JSON over. Either way this parser
says what the body is — a ``ChatEvent`` (``@机器人 报到 0001`` in a group, or a 1:1 message) or a
``ContactEvent`` (a member left the organisation) — and the one platform-neutral flow
(``services.messaging.inbound``) acts on it. Pure: no database, no domain code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations.base import ChatEvent, ContactEvent, InboundParser, InvalidInbound

PLATFORM = "dingtalk"
GROUP_CONVERSATION = "2"
# The organisation events acted on (Stream push or the HTTP event callback); others are acknowledged only.
CONTACT_EVENTS = frozenset({"user_leave_org"})
LEFT_REASON = "钉钉通讯录：成员离职"


class InvalidRobotMessage(InvalidInbound):
    """The callback body is not a robot message we can act on (a Chinese reason in ``str``)."""


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
    expires = payload.get("sessionWebhookExpiredTime") or 0
    # Epoch milliseconds, as an integer or its ASCII digits ("²" is a digit to isdigit(), not to int()).
    if isinstance(expires, str) and expires.isascii() and expires.strip().isdigit() and len(expires.strip()) <= 16:
        expires = int(expires)
    if isinstance(expires, bool) or not isinstance(expires, int) or not 0 <= expires < 10**16:
        raise InvalidRobotMessage("sessionWebhookExpiredTime 格式不正确")
    sender = _text(payload, "senderStaffId", 64).strip()
    webhook = _text(payload, "sessionWebhook", 1024)
    return ChatEvent(
        platform=PLATFORM,
        kind="text" if msgtype == "text" else "unsupported",
        message_type=msgtype,
        text=text,
        dedupe_key=msg_id,
        conversation=_text(payload, "conversationId", 128),
        conversation_type="group" if _text(payload, "conversationType", 8) == GROUP_CONVERSATION else "person",
        conversation_title=_text(payload, "conversationTitle", 128).strip(),
        sender_platform_id=sender,
        sender_name=_text(payload, "senderNick", 64),
        # The answer goes back where the question was asked, @-ing the sender.
        reply_handle={"session_webhook": webhook, "expires_at": expires, "at_user_ids": [sender] if sender else []}
        if webhook else {},
        raw=payload,
        received_at=received_at,
    )


def contact_event(payload: Any) -> dict[str, Any] | None:
    """The organisation event of a stored HTTP event callback (``{"event": {...}}``), else None."""
    event = payload.get("event") if isinstance(payload, dict) else None
    return event if isinstance(event, dict) else None


def leaver_event(event_type: str, data: Any, *, dedupe_key: str = "") -> ContactEvent | None:
    """An organisation event the desk follows (``user_leave_org``), else None."""
    if event_type not in CONTACT_EVENTS or not isinstance(data, dict):
        return None
    userids = data.get("userId") or data.get("UserId") or []
    if isinstance(userids, str):
        userids = [userids]
    if not isinstance(userids, list):
        return None
    return ContactEvent(platform=PLATFORM, change="left", userids=tuple(sorted({str(u) for u in userids if u})),
                        dedupe_key=dedupe_key, reason=LEFT_REASON, event_type=event_type)


class DingTalkInbound(InboundParser):
    platform = PLATFORM
    person_field = "dingtalk_userid"

    def __init__(self, robot_code: str = ""):
        self.robot_code = robot_code

    def parse(self, payload: Any, *, received_at: datetime | None = None) -> ChatEvent | ContactEvent | None:
        event = contact_event(payload)
        if event is not None:
            event_type = str(event.get("EventType") or "")
            return leaver_event(event_type, event) or ContactEvent(
                platform=PLATFORM, change="ignored", userids=(), event_type=event_type)
        return robot_event(payload, received_at=received_at, robot_code=self.robot_code)

    def summarise(self, payload: Any) -> str:
        return summarise(payload)


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
