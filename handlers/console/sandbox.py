"""The sandbox chat (沙箱消息): a stand-in for WeCom/DingTalk groups and inboxes.

Only a system administrator sees it, and only where the sandbox is switched on. Outbound rows
appear once the outbox is delivered; an operator can type or press card buttons *as* any person,
which goes through the same inbound command handling as the real platforms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from handlers.boundary import arg_id
from handlers.console import bp
from handlers.console.auth import roles_required
from handlers.context import background_poll, db, now, op_context, settings
from models import Department, Person, Role, SandboxMessage
from services import inputs
from services.errors import DomainError

SANDBOX_LABEL = "沙箱消息（模拟企业微信/钉钉，仅用于演示与测试）"
BOT_NAME = "有需必应助手"
MESSAGE_LIMIT = 200
MAX_TEXT = 2000
_CONVERSATION = re.compile(r"^(group|person):([0-9]{1,10})$")
# The sandbox SMS backend's texts to an enterprise's mobile (integrations.sms.SandboxSmsAdapter).
_SMS = re.compile(r"^sms:(1[3-9][0-9]{9})$")


@dataclass(frozen=True)
class Conversation:
    key: str
    kind: str  # group | person
    ref_id: int
    label: str
    subtitle: str
    count: int = 0
    last_at: object = None


def _require_sandbox() -> None:
    if not settings().sandbox_enabled:
        abort(404)


def _parse(key: str | None) -> tuple[str, int] | None:
    match = _CONVERSATION.match(key or "")
    number = inputs.to_id(match.group(2)) if match else None
    return (match.group(1), number) if number is not None else None


def _describe(key: str, count: int = 0, last_at=None) -> Conversation | None:
    sms = _SMS.match(key or "")
    if sms:
        phone = sms.group(1)
        return Conversation(key, "sms", 0, f"企业手机 {phone[:3]}****{phone[-4:]}", "沙箱短信（可回复 TD 退订）", count,
                            last_at)
    parsed = _parse(key)
    if parsed is None:
        return None
    kind, ref_id = parsed
    if kind == "group":
        department = db().get(Department, ref_id)
        if department is None:
            return None
        return Conversation(key, kind, ref_id, f"{department.display_name}工作群", "部门群", count, last_at)
    person = db().get(Person, ref_id)
    if person is None:
        return None
    unit = person.unit_label
    return Conversation(key, kind, ref_id, person.name, f"{person.role_label}{'·' + unit if unit else ''}", count,
                        last_at)


def conversations() -> list[Conversation]:
    rows = db().execute(
        select(SandboxMessage.conversation, func.count(SandboxMessage.id), func.max(SandboxMessage.created_at))
        .group_by(SandboxMessage.conversation)
    ).all()
    result = [c for c in (_describe(key, count, last) for key, count, last in rows) if c is not None]
    # Groups first (where whistles are blown), then inboxes; the most recent first within each.
    result.sort(key=lambda c: (c.kind != "group", -(c.last_at.timestamp() if c.last_at else 0)))
    return result


def segments(text: str, names: list[str]) -> list[tuple[str, bool]]:
    """Split ``text`` into (piece, is_mention) so "@姓名" can be highlighted without raw HTML."""
    names = sorted({n for n in names if n}, key=len, reverse=True)
    if not names:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape("@" + n) for n in names))
    result, position = [], 0
    for match in pattern.finditer(text):
        if match.start() > position:
            result.append((text[position:match.start()], False))
        result.append((match.group(0), True))
        position = match.end()
    if position < len(text):
        result.append((text[position:], False))
    return result


def _messages(key: str) -> list[dict]:
    rows = list(
        db().scalars(
            select(SandboxMessage).where(SandboxMessage.conversation == key)
            .order_by(SandboxMessage.id.desc()).limit(MESSAGE_LIMIT)
        )
    )
    rows.reverse()
    people_ids = {pid for r in rows for pid in (r.mentions or [])} | {r.sender_person_id for r in rows}
    people_ids.discard(None)
    people = {p.id: p for p in db().scalars(select(Person).where(Person.id.in_(people_ids)))} if people_ids else {}
    result = []
    for row in rows:
        mentioned = [people[i].name for i in (row.mentions or []) if i in people]
        sender = people.get(row.sender_person_id)
        result.append({
            "row": row,
            "outgoing": row.direction == "out",
            "sender": BOT_NAME if row.direction == "out" else (sender.name if sender else "未知用户"),
            "segments": segments(row.text or "", mentioned),
            "card": row.card,
        })
    return result


def _default_person(conversation: Conversation | None) -> int | None:
    if conversation is None:
        return None
    if conversation.kind == "person":
        return conversation.ref_id
    if conversation.kind == "sms":
        return None
    helper = db().scalar(
        select(Person.id).where(Person.department_id == conversation.ref_id, Person.active.is_(True))
        .order_by((Person.role != Role.CHIEF_HELPER), Person.id).limit(1)
    )
    return helper


def _people() -> list[Person]:
    return list(
        db().scalars(
            select(Person).options(selectinload(Person.zone), selectinload(Person.department))
            .where(Person.active.is_(True)).order_by(Person.role, Person.name, Person.id)
        )
    )


@bp.route("/sandbox")
@roles_required(Role.SYSADMIN)
def sandbox():
    _require_sandbox()
    listed = conversations()
    key = request.args.get("c") or (listed[0].key if listed else "")
    current = _describe(key) if key else None
    departments = list(db().scalars(select(Department).where(Department.active.is_(True))
                                    .order_by(Department.sort_order, Department.id)))
    return render_template(
        "sandbox/index.html", label=SANDBOX_LABEL, conversations=listed, current=current,
        messages=_messages(current.key) if current else [], people=_people(),
        default_person=_default_person(current), departments=departments,
    )


@bp.route("/sandbox/messages")
@background_poll
@roles_required(Role.SYSADMIN)
def sandbox_messages():
    """The conversation's bubbles only: the page refreshes them every few seconds."""
    _require_sandbox()
    current = _describe(request.args.get("c", ""))
    if current is None:
        abort(404)
    return render_template("sandbox/_messages.html", messages=_messages(current.key), current=current)


def _actor_from_form(conversation: Conversation | None) -> Person:
    person_id = arg_id("person_id", request.form) or _default_person(conversation)
    person = db().get(Person, person_id) if person_id else None
    if person is None or not person.active:
        raise DomainError("请选择以哪位人员的身份操作")
    return person


def _back(key: str):
    return redirect(url_for("console.sandbox", c=key) if key else url_for("console.sandbox"))


@bp.route("/sandbox/send", methods=["POST"])
@roles_required(Role.SYSADMIN)
def sandbox_send():
    _require_sandbox()
    from services.messaging import chat

    key = request.form.get("conversation", "")
    conversation = _describe(key)
    if conversation is None:
        abort(404)
    text = (request.form.get("text") or "").strip()[:MAX_TEXT]
    if not text:
        flash("请输入消息内容", "error")
        return _back(key)
    if conversation.kind == "sms":  # the enterprise replies to a text, as the provider's reply callback would tell
        from services.messaging import enterprise as enterprise_messages

        db().add(SandboxMessage(conversation=key, direction="in", text=text, created_at=now()))
        if enterprise_messages.record_reply(db(), key.removeprefix("sms:"), text, now()):
            flash("企业已回复退订，此后不再向该号码发送短信", "success")
        return _back(key)
    try:
        actor = _actor_from_form(conversation)
        chat.handle_text(op_context("sandbox", actor=actor), text, conversation=key)
    except DomainError as error:
        db().rollback()
        flash(error.message, "error")
    return _back(key)


@bp.route("/sandbox/button", methods=["POST"])
@roles_required(Role.SYSADMIN)
def sandbox_button():
    _require_sandbox()
    from services.messaging import chat

    message_id = arg_id("message_id", request.form)
    message = db().get(SandboxMessage, message_id) if message_id is not None else None
    if message is None or not message.card:
        abort(404)
    key = request.form.get("key", "")
    if key not in {b.get("key") for b in message.card.get("buttons") or []}:
        abort(400)
    if message.card_closed_label:
        flash(f"该卡片已处理：{message.card_closed_label}", "warning")
        return _back(message.conversation)
    try:
        actor = _actor_from_form(_describe(message.conversation))
        chat.handle_button(op_context("sandbox", actor=actor), key, conversation=message.conversation)
    except DomainError as error:
        db().rollback()
        flash(error.message, "error")
    return _back(message.conversation)


def deliver_now() -> str:
    """Run one delivery pass in this process (the jobs thread does the same every few seconds)."""
    from extensions import chat_adapters
    from jobs import worker_id
    from services.messaging import delivery
    from services.ratelimit import make_limiter

    app = current_app._get_current_object()
    app_settings = settings()
    factory = app.extensions["db_sessionmaker"]
    stats = delivery.deliver_due(
        factory, chat_adapters(app), make_limiter(app_settings, factory),
        worker_id=worker_id(), now_fn=now, batch_size=app_settings.outbox_batch_size,
        max_attempts=app_settings.outbox_max_attempts,
        lease=timedelta(seconds=app_settings.outbox_claim_lease_seconds),
    )
    return stats.describe() if stats.claimed else ""


@bp.route("/sandbox/deliver", methods=["POST"])
@roles_required(Role.SYSADMIN)
def sandbox_deliver():
    _require_sandbox()
    key = request.form.get("conversation", "")
    # Release this request's transaction first: on SQLite it holds the write lock the worker needs.
    db().rollback()
    summary = deliver_now()
    flash(f"投递完成：{summary}" if summary else "没有待投递的消息", "success")
    return _back(key)
