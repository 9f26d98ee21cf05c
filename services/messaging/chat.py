"""One inbound chat message or card click, from any channel, end to end.

De-duplicate the platform's retries, keep the sandbox transcript, run the command, and put the
answer in the outbox for the sender on the channel the message came from (``ctx.channel``) —
their personal chat there, or the ``reply_target`` the caller names (a DingTalk group's
sessionWebhook). Nothing is sent here: the reply leaves after the caller's commit, like every
other message.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models import InboundReceipt, SandboxMessage
from services.messaging import commands
from services.messaging.commands import CommandResult
from services.messaging.notify import ReplyTarget
from services.orders.operations import OpContext

SANDBOX = "sandbox"
BUTTON_LABELS = {"sign": "报到", "return": "退回", "transfer": "转办"}


def handle_text(
    ctx: OpContext, text: str, *, dedupe: tuple[str, str] | None = None, conversation: str | None = None,
    reply_target: ReplyTarget | None = None,
) -> CommandResult:
    """``dedupe`` is (platform, message id); ``conversation`` is where a sandbox operator typed
    (``person:<id>`` by default, ``group:<department id>`` in a department group);
    ``reply_target`` sends the answer somewhere other than the sender's own chat on ``ctx.channel``."""
    if dedupe is not None and not _first_delivery(ctx, dedupe):
        return CommandResult(True, "", duplicate=True)
    record = _record_sandbox(ctx, text, conversation)
    result = commands.dispatch(ctx, text)
    _reply(ctx, result, _reply_key(dedupe, record), reply_target)
    return result


def handle_button(
    ctx: OpContext, key: str, *, extra_text: str = "", dedupe: tuple[str, str] | None = None,
    conversation: str | None = None, reply_target: ReplyTarget | None = None,
) -> CommandResult:
    """A card button press (``sign:<number>`` …), answered like the typed command."""
    if dedupe is not None and not _first_delivery(ctx, dedupe):
        return CommandResult(True, "", duplicate=True)
    action, _, number = (key or "").partition(":")
    label = BUTTON_LABELS.get(action, action)
    record = _record_sandbox(ctx, f"〔点击「{label}」〕{number} {extra_text}".strip(), conversation)
    result = commands.dispatch_button(ctx, key, extra_text)
    _reply(ctx, result, _reply_key(dedupe, record), reply_target)
    return result


def first_delivery(session: Session, platform: str, key: str, now: datetime) -> bool:
    """Record the receipt; False when the platform already delivered this one. One statement
    (``INSERT … ON CONFLICT DO NOTHING``), no savepoint: on PostgreSQL each is a round trip."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    inserted = session.execute(
        insert(InboundReceipt)
        .values(platform=platform, dedupe_key=str(key)[:200], created_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "dedupe_key"])
        .returning(InboundReceipt.id)
    ).scalar_one_or_none()
    return inserted is not None


def _first_delivery(ctx: OpContext, dedupe: tuple[str, str]) -> bool:
    platform, key = dedupe
    return first_delivery(ctx.session, platform, key, ctx.now)


def _record_sandbox(ctx: OpContext, text: str, conversation: str | None) -> SandboxMessage | None:
    if ctx.channel != SANDBOX or ctx.actor is None:
        return None
    message = SandboxMessage(
        conversation=conversation or f"person:{ctx.actor.id}", direction="in", sender_person_id=ctx.actor.id,
        text=text, created_at=ctx.now,
    )
    ctx.session.add(message)
    ctx.session.flush()
    return message


def _reply_key(dedupe: tuple[str, str] | None, record: SandboxMessage | None) -> str:
    """Unique per inbound message, short enough for the outbox's dedupe key."""
    if dedupe is not None:
        platform, key = dedupe
        digest = hashlib.sha1(str(key).encode()).hexdigest()[:16] if len(str(key)) > 64 else str(key)
        return f"in:{platform}:{digest}"
    if record is not None:
        return f"in:{SANDBOX}:{record.id}"
    return f"in:{secrets.token_hex(8)}"


def _reply(ctx: OpContext, result: CommandResult, key: str, target: ReplyTarget | None) -> None:
    if ctx.actor is not None and ctx.actor.active and result.reply:
        ctx.notifier().reply_to(ctx.actor, result.reply, key, channel=ctx.channel, target=target)
