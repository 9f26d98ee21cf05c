"""What a decrypted WeCom callback message does to the desk.

Text sent to the app runs through the chat command registry (``services.messaging.chat``) and
the answer goes back to the sender as an app message through the outbox; a card button click
(``template_card_event``) keeps its ``ResponseCode`` (needed to grey the card later) and runs
the same operation as the typed command; ``change_contact`` follows members who leave or are
renamed. Every message or event acts once however often WeCom retries it: messages are keyed
by ``MsgId``, events by sender + time + event + key/task (``InboundReceipt``).

The callback does not act itself: it stores the decrypted message in the inbox
(``services.messaging.inbox``; ``wants`` says which messages are worth storing, ``message_key`` is the
inbox's de-duplication key) and answers 200; the ``process_inbound`` job calls
``handle_message`` through ``inbox_processor``. Nothing here calls WeCom; nothing is committed.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from integrations.wecom import store_response_code
from integrations.wecom_inbound import field_text as _field
from models import InboundMessage, InboundReceipt, Person
from services import audit
from services.grid import wecom_roster
from services.messaging import chat as chat_inbound
from services.messaging.inbox import InboxProcessor
from services.messaging.notify import Channels, Notifier
from services.orders.operations import OpContext

log = logging.getLogger(__name__)

PLATFORM = "wecom"
ONLY_TEXT_REPLY = "目前只能识别文字指令，请直接发送文字。发送「帮助」查看可用命令。"
MAX_KEY = 190


def message_key(message: dict[str, Any]) -> str:
    """The de-duplication key: ``MsgId`` for messages; sender + time + event + key/task for events."""
    msg_id = _field(message, "MsgId")
    if msg_id and _field(message, "MsgType").lower() != "event":
        key = f"msg:{msg_id}"
    else:
        parts = [_field(message, n) for n in ("FromUserName", "CreateTime", "Event")]
        parts += [_field(message, "EventKey") or _field(message, "ChangeType"),
                  _field(message, "TaskId") or _field(message, "UserID")]
        key = "evt:" + "|".join(parts)
    if len(key) > MAX_KEY:
        key = key[:4] + hashlib.sha256(key.encode()).hexdigest()
    return key


ACTED_ON_EVENTS = frozenset({"change_contact", "template_card_event", "click"})


def wants(message: dict[str, Any]) -> bool:
    """Whether a verified message is worth storing: every message a person sends, and the events
    ``handle_message`` acts on (entering the app, menu views, locations… are dropped at the door)."""
    if _field(message, "MsgType").lower() != "event":
        return True
    event = _field(message, "Event").lower()
    if event == "change_contact":
        return _field(message, "ChangeType") in ("delete_user", "update_user")
    return event in ACTED_ON_EVENTS


def stored_payload(message: dict[str, Any], ip: str) -> dict[str, Any]:
    return {"message": message, "ip": ip}


def summarise(payload: dict[str, Any]) -> str:
    """Who sent a stored message and what it says or does, for the administrators' log (plain text;
    never the ``ResponseCode``, which can still change a card)."""
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        return ""
    msg_type = _field(message, "MsgType").lower()
    if msg_type == "text":
        what = _field(message, "Content")
    elif msg_type != "event":
        what = f"〔{msg_type or '未知'}消息〕"
    else:
        event = _field(message, "Event").lower()
        if event == "change_contact":
            return f"通讯录变更 {_field(message, 'ChangeType')} {_field(message, 'UserID')}"
        labels = {"template_card_event": "点击卡片按钮", "click": "点击菜单"}
        what = f"{labels.get(event, '事件 ' + (event or '未知'))} {_field(message, 'EventKey')}".strip()
    return f"{_field(message, 'FromUserName') or '?'}：{what}"


def inbox_processor(channels: Channels, *, base_url: str = "") -> InboxProcessor:
    """``handle_message`` for rows the callback stored, and the apology when one finally fails.
    ``base_url`` makes the links in command answers absolute (WeCom opens them outside the console)."""

    def process(session: Session, row: InboundMessage, now: datetime) -> str:
        payload = row.payload or {}
        return handle_message(session, payload.get("message") or {}, now=now, channels=channels,
                              ip=str(payload.get("ip") or ""), base_url=base_url)

    def apologise(session: Session, row: InboundMessage, text: str, now: datetime) -> None:
        person = _person(session, _field((row.payload or {}).get("message") or {}, "FromUserName"))
        if person is not None and person.active:
            Notifier(session, channels, now).reply_to(person, text, f"inbox:{row.id}:failed", channel=PLATFORM)

    return InboxProcessor(process, apologise)


def _first_delivery(session: Session, key: str, now: datetime) -> bool:
    """Record the receipt; False when WeCom already delivered this one (one statement, no savepoint)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(InboundReceipt)
        .values(platform=PLATFORM, dedupe_key=key, created_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "dedupe_key"])
        .returning(InboundReceipt.id)
    ).scalar_one_or_none()
    return inserted is not None


def _person(session: Session, userid: str) -> Person | None:
    if not userid:
        return None
    return session.scalar(select(Person).where(Person.wecom_userid == userid))


def handle_message(session: Session, message: dict[str, Any], *, now: datetime, channels: Channels,
                   ip: str = "", base_url: str = "") -> str:
    """Act on one decrypted message; returns a short outcome for the log line."""
    msg_type = _field(message, "MsgType").lower()
    key = message_key(message)
    if msg_type == "event":
        event = _field(message, "Event").lower()
        if event == "change_contact":
            return _change_contact(session, message, key, now=now, channels=channels)
        if event == "template_card_event":
            return _card_click(session, message, key, now=now, channels=channels, ip=ip, base_url=base_url)
        if event == "click":  # an app menu item whose key is a command word (我的工单, 帮助)
            return _as_text(session, message, _field(message, "EventKey"), key, now=now, channels=channels, ip=ip,
                            base_url=base_url)
        log.debug("wecom: event %r ignored", event)
        return f"ignored event {event or '?'}"
    if msg_type == "text":
        return _as_text(session, message, _field(message, "Content"), key, now=now, channels=channels, ip=ip,
                        base_url=base_url)
    # Pictures, voice, locations…: tell the person once what the app understands.
    person = _known_sender(session, message, key, now=now, ip=ip)
    if isinstance(person, str):
        return person
    if not _first_delivery(session, key, now):
        return "duplicate"
    Notifier(session, channels, now).reply_to(person, ONLY_TEXT_REPLY, f"in:{PLATFORM}:{key}", channel=PLATFORM)
    return f"non-text {msg_type or '?'} answered"


def _known_sender(session: Session, message: dict[str, Any], key: str, *, now: datetime, ip: str) -> Person | str:
    """The bound, active person who sent ``message``, or an outcome string when there is none."""
    userid = _field(message, "FromUserName")
    person = _person(session, userid)
    if person is not None and person.active:
        return person
    # No one to answer: note it once (retries add nothing) for an administrator to bind them.
    if not _first_delivery(session, key, now):
        return "duplicate"
    audit.record(session, None, "wecom.unknown_user", "wecom_user", userid[:64] or "?",
                 {"msg_type": _field(message, "MsgType"), "event": _field(message, "Event"),
                  "inactive_person": person.id if person is not None else None}, ip, now)
    log.warning("wecom: message from %s userid %r ignored (no active person bound)",
                "inactive" if person is not None else "unknown", userid)
    return "unknown user"


def _context(session: Session, person: Person, now: datetime, channels: Channels, base_url: str) -> OpContext:
    return OpContext(session=session, actor=person, now=now, channel=PLATFORM, channels=channels, base_url=base_url)


def _as_text(session: Session, message: dict[str, Any], text: str, key: str, *, now: datetime, channels: Channels,
             ip: str, base_url: str) -> str:
    person = _known_sender(session, message, key, now=now, ip=ip)
    if isinstance(person, str):
        return person
    if not text:
        return "empty text"
    result = chat_inbound.handle_text(_context(session, person, now, channels, base_url), text,
                                      dedupe=(PLATFORM, key))
    if result.duplicate:
        return "duplicate"
    return f"command {result.command or '?'} ok={result.ok}"


def _card_click(session: Session, message: dict[str, Any], key: str, *, now: datetime, channels: Channels,
                ip: str, base_url: str) -> str:
    person = _known_sender(session, message, key, now=now, ip=ip)
    if isinstance(person, str):
        return person
    task_id = _field(message, "TaskId")
    code = _field(message, "ResponseCode")
    if task_id and code:
        store_response_code(session, task_id, _field(message, "FromUserName"), code, now)
    button = _field(message, "EventKey")
    result = chat_inbound.handle_button(_context(session, person, now, channels, base_url), button,
                                        dedupe=(PLATFORM, key))
    if result.duplicate:
        return "duplicate"
    return f"button {button} ok={result.ok}"


def _change_contact(session: Session, message: dict[str, Any], key: str, *, now: datetime,
                    channels: Channels) -> str:
    change = _field(message, "ChangeType")
    userid = _field(message, "UserID")
    if change not in ("delete_user", "update_user") or not userid:
        return f"ignored change_contact {change or '?'}"
    if not _first_delivery(session, key, now):
        return "duplicate"
    if change == "delete_user":
        orders = wecom_roster.member_left(session, userid, now=now, channels=channels, reason="成员已从通讯录删除")
        return f"member {userid} deleted, {len(orders)} orders flagged"
    new_userid = _field(message, "NewUserID")
    if new_userid and new_userid != userid:
        wecom_roster.member_renamed(session, userid, new_userid, now=now)
        userid = new_userid
    status = _field(message, "Status")
    if status.isdigit() and int(status) in wecom_roster.GONE_STATUSES:
        reason = "成员已被停用" if int(status) == 2 else "成员已退出企业"
        orders = wecom_roster.member_left(session, userid, now=now, channels=channels, reason=reason)
        return f"member {userid} left, {len(orders)} orders flagged"
    return f"member {userid} updated"
