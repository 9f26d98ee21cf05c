"""What an inbound chat message, card click or address-book change does to the desk — for every platform.

A platform's callback (``handlers/wecom.py``, ``handlers/dingtalk.py``) only verifies and stores the
body in the inbox (``services.messaging.inbox``); the Stream worker hands its bodies over directly.
The platform's parser in ``integrations`` (``WeComInbound``, ``DingTalkInbound``) says what a body is,
as a neutral ``ChatEvent`` or ``ContactEvent``, and ``handle_event`` acts on it, the same way for
every platform:

* the sender is the person bound to the platform user id (the parser names the ``Person`` column);
  somebody unknown is noted once in the audit log and, where the conversation can be answered
  without a bound person (DingTalk's sessionWebhook), told politely how to get bound;
* the first message from a department group binds the group's conversation id to that
  department's ``ChatGroup`` (by the group's name, else the sender's department), pending an
  administrator's confirmation on the department's page;
* text runs the chat command registry (``services.messaging.chat``), a card button the same
  operation as the typed command (keeping the card's response code so it can be greyed later),
  anything else gets a hint; every answer goes through the outbox: into the conversation when the
  event carries a reply handle, else to the sender's own chat on that platform;
* a member who left (or was renamed) is followed by the platform's roster module in ``grid``.

Each event acts once however often the platform retries it (``InboundReceipt``). Nothing here
calls a platform or commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from database import session_scope
from integrations.base import ChatEvent, ContactEvent, InboundParser
from integrations.dingtalk_inbound import DingTalkInbound
from integrations.wecom import store_response_code
from integrations.wecom_aibot import INBOX_PLATFORM as WECOM_AIBOT
from integrations.wecom_aibot import WeComAibotInbound
from integrations.wecom_inbound import WeComInbound
from models import ChatGroup, InboundMessage, Person, utcnow
from services import audit
from services.grid import dingtalk_roster, wecom_roster
from services.messaging import chat
from services.messaging.chat import first_delivery
from services.messaging.inbox import InboxProcessor
from services.messaging.notify import Channels, Notifier, ReplyTarget
from services.messaging.outbox import Envelope, enqueue
from services.orders.operations import OpContext
from services.studio import store as studio
from services.studio import templates

log = logging.getLogger(__name__)


def _fixed_reply(session: Session, name: str) -> str:
    """A fixed chat sentence (``chat_not_bound`` / ``chat_text_only``), as the district worded it."""
    return templates.render(name, {}, studio.runtime(session).templates)


UNKNOWN_SENDER_ACTIONS = {"wecom": "wecom.unknown_user", "dingtalk": "dingtalk.unknown_user"}
# Who follows a platform's address-book changes (each knows its own binding column and audit).
CONTACT_FOLLOWERS: dict[str, Callable[..., Any]] = {
    "wecom": wecom_roster.follow_contact_event,
    "dingtalk": dingtalk_roster.follow_contact_event,
}


@dataclass(frozen=True)
class Outcome:
    """What became of one event: ``status`` handled | duplicate | not_bound | unsupported | ignored,
    ``log`` the short line kept on the inbox row."""

    status: str
    log: str
    reply: str = ""
    order_number: str | None = None


@dataclass(frozen=True)
class InboundContext:
    """What the flow needs of the deployment: the switched-on channels and the public base URL
    (links in answers are absolute: the platforms open them outside the console)."""

    channels: Channels
    base_url: str = ""

    @classmethod
    def from_settings(cls, settings) -> InboundContext:
        return cls(Channels.from_settings(settings), base_url=settings.base_url)


def parsers_for(settings) -> dict[str, InboundParser]:
    """The parsers of the platforms this deployment has switched on."""
    parsers: dict[str, InboundParser] = {}
    if settings.wecom.enabled:
        parsers["wecom"] = WeComInbound()
    if settings.wecom.aibot_enabled:
        parsers[WECOM_AIBOT] = WeComAibotInbound()
    if settings.dingtalk.enabled:
        parsers["dingtalk"] = DingTalkInbound(robot_code=settings.dingtalk.robot_code)
    return parsers


# Every platform's summary, whether or not it is switched on now (the log keeps old rows).
_SUMMARISERS: dict[str, InboundParser] = {"wecom": WeComInbound(), "dingtalk": DingTalkInbound(),
                                          WECOM_AIBOT: WeComAibotInbound()}


SUMMARY_LENGTH = 120


def summary(message: InboundMessage, limit: int = SUMMARY_LENGTH) -> str:
    """One short line of what a stored message says (sender and text, or the event), as plain text
    on one line; each platform's parser reads its own payloads."""
    parser = _SUMMARISERS.get(message.platform)
    text = parser.summarise(message.payload or {}) if parser is not None else ""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --------------------------------------------------------------------------------------------
# The inbox and the Stream worker
# --------------------------------------------------------------------------------------------
def inbox_processor(parser: InboundParser, context: InboundContext) -> InboxProcessor:
    """How the ``process_inbound`` job acts on the rows a platform's callback stored, and tells
    the sender when one finally fails."""

    def process(session: Session, row: InboundMessage, now: datetime) -> str:
        event = parser.parse(row.payload or {}, received_at=row.created_at)
        return handle_event(session, parser, event, context, now).log

    def apologise(session: Session, row: InboundMessage, text: str, now: datetime) -> None:
        try:
            event = parser.parse(row.payload or {}, received_at=row.created_at)
        except ValueError:
            return
        if not isinstance(event, ChatEvent):
            return  # nobody to tell: the failure shows on the 回调消息 page
        _answer(session, parser, event, _sender(session, parser, event), text, context, now,
                suffix=f"failed:{row.id}")

    return InboxProcessor(process, apologise)


def processors_for(settings) -> dict[str, InboxProcessor]:
    """The inbox processors of the platforms this deployment has switched on."""
    context = InboundContext.from_settings(settings)
    return {platform: inbox_processor(parser, context) for platform, parser in parsers_for(settings).items()}


def direct_handler(parser: InboundParser, session_factory: sessionmaker[Session], context: InboundContext, *,
                   now_fn: Callable[[], datetime] = utcnow) -> Callable[[Any], Outcome]:
    """For bodies that do not go through the inbox (a long-connection worker already runs outside
    any request): parse, act in a transaction of its own, commit. ``InvalidInbound`` when unusable
    (raised before the database is touched)."""

    def handle(payload: Any) -> Outcome:
        now = now_fn()
        event = parser.parse(payload, received_at=now)
        with session_scope(session_factory) as session:
            return handle_event(session, parser, event, context, now)

    return handle


# --------------------------------------------------------------------------------------------
# The flow
# --------------------------------------------------------------------------------------------
def handle_event(session: Session, parser: InboundParser, event: ChatEvent | ContactEvent | None,
                 context: InboundContext, now: datetime) -> Outcome:
    if event is None:
        return Outcome("ignored", "ignored event")
    if isinstance(event, ContactEvent):
        return _follow_contact(session, event, context, now)

    person = _sender(session, parser, event)
    if person is None or not person.active:
        return _answer_stranger(session, parser, event, person, context, now)
    if event.conversation_type == "group":
        map_conversation(session, event, person, now)
    if event.kind == "unsupported":
        if not first_delivery(session, event.platform, event.dedupe_key, now):
            return Outcome("duplicate", "duplicate")
        reply = _fixed_reply(session, "chat_text_only")
        _answer(session, parser, event, person, reply, context, now, suffix="session")
        return Outcome("unsupported", f"non-text {event.message_type or '?'} answered", reply)

    ctx = OpContext(session=session, actor=person, now=now, channel=event.platform, channels=context.channels,
                    base_url=context.base_url)
    dedupe = (event.platform, event.dedupe_key)
    target = _reply_target(event, person)
    if event.kind == "button":
        if event.card_task_id and event.card_response_code:
            store_response_code(session, event.card_task_id, event.sender_platform_id, event.card_response_code,
                                now)
        result = chat.handle_button(ctx, event.card_key, dedupe=dedupe, reply_target=target)
        line = f"button {event.card_key} ok={result.ok}"
    else:
        if not event.text:
            return Outcome("ignored", "empty text")
        result = chat.handle_text(ctx, event.text, dedupe=dedupe, reply_target=target)
        line = f"command {result.command or '?'} ok={result.ok}"
    if result.duplicate:
        log.info("%s: message %s seen before, ignored", event.platform, event.dedupe_key)
        return Outcome("duplicate", "duplicate")
    log.info("%s: %s from %s → %s", event.platform, result.command or event.card_key or "unknown",
             event.sender_platform_id, "ok" if result.ok else "refused")
    return Outcome("handled", line, result.reply, result.order_number)


def _sender(session: Session, parser: InboundParser, event: ChatEvent) -> Person | None:
    if not event.sender_platform_id or not parser.person_field:
        return None
    column = getattr(Person, parser.person_field)
    return session.scalar(select(Person).where(column == event.sender_platform_id))


def _follow_contact(session: Session, event: ContactEvent, context: InboundContext, now: datetime) -> Outcome:
    follow = CONTACT_FOLLOWERS.get(event.platform)
    if event.change == "ignored" or follow is None:
        return Outcome("ignored", f"ignored {event.event_type or 'contact event'}")
    if event.dedupe_key and not first_delivery(session, event.platform, event.dedupe_key, now):
        return Outcome("duplicate", "duplicate")
    result = follow(session, event, now=now, channels=context.channels)
    if isinstance(result, int):
        return Outcome("handled", f"{event.event_type} 解除绑定 {result} 人")
    return Outcome("handled", str(result))


def _answer_stranger(session: Session, parser: InboundParser, event: ChatEvent, person: Person | None,
                     context: InboundContext, now: datetime) -> Outcome:
    """Someone the desk does not know (or no longer): noted once for an administrator to bind them,
    answered where the conversation can be answered, no action."""
    if not first_delivery(session, event.platform, event.dedupe_key, now):
        return Outcome("duplicate", "duplicate")
    action, target = UNKNOWN_SENDER_ACTIONS.get(event.platform, "chat.unknown_user"), "platform_user"
    ip = str(event.raw.get("ip") or "") if isinstance(event.raw, dict) else ""
    audit.record(session, None, action, target, event.sender_platform_id[:64] or "?",
                 {"msg_type": event.message_type, "kind": event.kind, "name": event.sender_name,
                  "inactive_person": person.id if person is not None else None}, ip, now)
    log.warning("%s: message %s from %s userid %r ignored (no active person bound)", event.platform,
                event.dedupe_key, "inactive" if person is not None else "unknown", event.sender_platform_id)
    reply = _fixed_reply(session, "chat_not_bound")
    if event.reply_handle:
        _answer(session, parser, event, None, reply, context, now, suffix="session")
    return Outcome("not_bound", "unknown user", reply)


# --------------------------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------------------------
def _conversation_ref(event: ChatEvent, person: Person | None) -> str:
    return (event.conversation or (str(person.id) if person is not None else "-"))[:512]


def _reply_target(event: ChatEvent, person: Person | None) -> ReplyTarget | None:
    """Into the conversation when the event says how; None: the sender's own chat on the platform."""
    if not event.reply_handle:
        return None
    handle = dict(event.reply_handle)
    channel = str(handle.pop("reply_channel", "") or "")
    return ReplyTarget("session", _conversation_ref(event, person),
                       {**handle, "person_id": person.id if person is not None else None}, channel=channel)


def _answer(session: Session, parser: InboundParser, event: ChatEvent, person: Person | None, text: str,
            context: InboundContext, now: datetime, *, suffix: str) -> None:
    """An answer that is not a command's (a stranger, a picture, a failure)."""
    target = _reply_target(event, person)
    if target is not None:
        enqueue(session, Envelope(
            channel=target.channel or event.platform, kind="reply", target_type=target.target_type, target_ref=target.target_ref,
            payload={**target.payload, "text": text},
            dedupe_key=f"in:{event.platform}:{event.dedupe_key}:{suffix}"[:200],
        ), now=now)
    elif person is not None and person.active:
        Notifier(session, context.channels, now).reply_to(
            person, text, f"in:{event.platform}:{event.dedupe_key}:{suffix}"[:150], channel=event.platform)


# --------------------------------------------------------------------------------------------
# conversation id ↔ department group
# --------------------------------------------------------------------------------------------
def map_conversation(session: Session, event: ChatEvent, person: Person, now: datetime) -> ChatGroup | None:
    """Record which department group a conversation is, the first time the robot is used there:
    the bound group named like the conversation, else the sender's department's group."""
    if not event.conversation:
        return None
    known = session.scalar(select(ChatGroup).where(ChatGroup.conversation_id == event.conversation))
    if known is not None:
        return known
    unmapped = select(ChatGroup).where(ChatGroup.platform == event.platform, ChatGroup.conversation_id.is_(None))
    title = event.conversation_title
    group = None
    if title:
        named = list(session.scalars(unmapped.where(ChatGroup.name == title).limit(2)))
        group = named[0] if len(named) == 1 else None
    if group is None and person.department_id is not None:
        group = session.scalar(unmapped.where(ChatGroup.department_id == person.department_id))
    if group is None:
        log.info("%s: conversation %s (%s) matches no department group", event.platform, event.conversation, title)
        return None
    try:
        with session.begin_nested():
            group.conversation_id = event.conversation
            group.conversation_pending = True
            session.flush()
    except IntegrityError:  # the same conversation mapped by a concurrent message
        session.refresh(group)
        return session.scalar(select(ChatGroup).where(ChatGroup.conversation_id == event.conversation))
    audit.record(session, person, "chat_group.conversation_mapped", "chat_group", group.id,
                 {"platform": PLATFORM_LABELS.get(event.platform, event.platform),
                  "conversation_id": event.conversation, "conversation_title": title,
                  "department_id": group.department_id}, "", now)
    log.info("%s: conversation %s mapped to group %s (department %s)", event.platform, event.conversation,
             group.id, group.department_id)
    return group


PLATFORM_LABELS: Mapping[str, str] = {"wecom": "企业微信", "dingtalk": "钉钉", "sandbox": "沙箱"}
