"""Compose the desk's outbound messages and put them in the outbox, one row per channel.

Payloads are platform-neutral; each adapter in ``integrations`` renders them its own way
(a WeCom template card, a DingTalk actionCard, a sandbox bubble). People are named by person
id and resolved to platform user ids at delivery time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from integrations.base import beijing_time
from models import Department, Person, Role, WorkOrder
from services import wording
from services.messaging import message_templates  # noqa: F401  registers every outbound text
from services.messaging.outbox import Envelope, enqueue
from services.orders.ladder import level_label
from services.orders.lifecycle import State
from services.studio import store as studio
from services.studio import templates
from services.studio.templates import ORDER_PLACEHOLDERS, TemplateSpec

log = logging.getLogger(__name__)

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
SHARED_CARD_KINDS = ("card", "card_update")


@dataclass(frozen=True)
class ReplyTarget:
    """Where a command's answer goes when it is not the sender's own chat on the channel the command
    came from — e.g. the DingTalk group conversation the robot was @-ed in (``target_type``
    "session", its sessionWebhook in ``payload``). ``payload`` is merged under the reply's text."""

    target_type: str
    target_ref: str
    payload: dict = field(default_factory=dict)
    # The outbox channel when it is not the one the command came from: an intelligent robot's
    # long connection (``wecom_ws``) is a channel of its own, delivered by its worker.
    channel: str = ""


@dataclass(frozen=True)
class Channels:
    """Which delivery backends are switched on in this deployment."""

    sandbox: bool = True
    wecom: bool = False
    dingtalk: bool = False
    # Texts to enterprises: always on (the sandbox SMS backend unless a provider is configured).
    sms: bool = True
    # Signed callbacks to the 12345 platform (HOTLINE_CALLBACK_URL set).
    hotline: bool = False

    @classmethod
    def from_settings(cls, settings) -> Channels:
        return cls(sandbox=settings.sandbox_enabled, wecom=settings.wecom.enabled, dingtalk=settings.dingtalk.enabled,
                   sms=True, hotline=bool(settings.hotline.callback_url))


local_time = beijing_time

templates.register(TemplateSpec(
    "whistle", "吹哨报到（部门群 @首席帮办）",
    "【吹哨报到】{{ mentions }}\n"
    "工单 {{ number }}（{{ level }}{% if green_channel %}·绿色通道{% endif %}）\n"
    "企业：{{ enterprise }}\n诉求：{{ summary }}\n{{ sign_due }}，办理时限 {{ due }}。\n"
    "回复「报到 {{ short_number }}」即可接单。",
    {**ORDER_PLACEHOLDERS, "mentions": "被 @ 的首席帮办（如 @王帮办 @李帮办）",
     "sign_due": "报到要求（如 请于 03-03 10:00 前报到）", "due": "办理时限（如 03-09 17:30）"},
    channels="部门群（@首席帮办）", group="吹哨报到",
))
templates.register(TemplateSpec(
    "whistle_card", "吹哨报到卡片（首席帮办个人）",
    "吹哨报到：{{ number }}\n{{ enterprise }}：{{ long_summary }}",
    {**ORDER_PLACEHOLDERS, "long_summary": "诉求摘要（前 120 字）"},
    channels="个人卡片（第一行为卡片标题，其余为正文；报到/退回/转办按钮不变）", group="吹哨报到",
))
CLOSED = "个人卡片（处理后替换报到/退回/转办按钮的文字）"
templates.register(TemplateSpec("card_closed_signed", "卡片：已报到", "已由{{ person }}报到",
                                {**ORDER_PLACEHOLDERS, "person": "报到人姓名"}, CLOSED, "吹哨报到"))
templates.register(TemplateSpec("card_closed_returned", "卡片：已退回", "已由{{ person }}退回",
                                {**ORDER_PLACEHOLDERS, "person": "退回人姓名"}, CLOSED, "吹哨报到"))
templates.register(TemplateSpec("card_closed_transferred", "卡片：已转办", "已转办至{{ department }}",
                                {**ORDER_PLACEHOLDERS, "department": "转往的部门"}, CLOSED, "吹哨报到"))
WHISTLE_TIMES = {"sign_due": "报到时限（如 03-03 10:00）", "due": "办理时限（如 03-09 17:30）",
                 "long_summary": "诉求摘要（前 120 字）"}
templates.register(TemplateSpec(
    "whistle_card_fields", "吹哨报到卡片的字段（首席帮办个人）",
    "响应层级：{{ level }}\n报到时限：{{ sign_due }}\n办理时限：{{ due }}",
    {**ORDER_PLACEHOLDERS, **WHISTLE_TIMES},
    channels="个人卡片（每行一个字段，写作「名称：内容」）", group="吹哨报到",
))
templates.register(TemplateSpec(
    "whistle_group_card", "吹哨报到后的群内卡片（钉钉）",
    "吹哨报到：{{ number }}\n{{ enterprise }}\n{{ long_summary }}\n报到时限：{{ sign_due }}　办理时限：{{ due }}",
    {**ORDER_PLACEHOLDERS, **WHISTLE_TIMES},
    channels="部门群卡片（第一行为卡片标题，第二行为加粗的小标题，其余各为一行）", group="吹哨报到",
))
templates.register(TemplateSpec(
    "card_sign_hint", "卡片上的报到提示（钉钉个人卡片）",
    "可在群内 @机器人 发送「报到 {{ short_number }}」接单，或点击下方按钮处理。", ORDER_PLACEHOLDERS,
    channels="个人卡片（正文末尾的一行）", group="吹哨报到",
))
# The words on buttons and the sender's name: the same in every message, so plain templates.
BUTTONS = "卡片与按钮文字"
LABEL_TEMPLATES = {
    "sender": ("label_sender", "发送方名称（卡片来源、无标题时的标题）", "有需必应"),
    "open": ("button_open_order", "按钮：打开工单（通知、群内卡片）", "打开工单"),
    "sign": ("button_sign", "按钮：打开工单报到（首席帮办个人卡片）", "打开工单报到"),
    "survey": ("button_survey", "按钮：填写问卷（满意度回访通知）", "填写问卷"),
    "details": ("button_details", "按钮：查看详情（企业微信卡片）", "查看详情"),
}
for _name, _label, _default in LABEL_TEMPLATES.values():
    templates.register(TemplateSpec(_name, _label, _default, {}, channels="按钮或卡片上的文字（宜短，16 字以内）",
                                    group=BUTTONS))


def card_fields(text: str) -> list[list[str]]:
    """「名称：内容」 lines (a template's output) as a card's [name, value] pairs; other lines are skipped.
    Only the full-width colon separates, so times such as 10:00 stay whole."""
    pairs = []
    for line in text.splitlines():
        name, colon, value = line.partition("：")
        if colon and name.strip():
            pairs.append([name.strip(), value.strip()])
    return pairs


def public_link(base_url: str, path: str) -> str:
    """A desk path as the absolute address a message's reader opens outside the desk (a chat, an
    SMS the staff member forwards, a poster). A relative link there leads nowhere, so the site's
    address is required."""
    if path.startswith(("http://", "https://")):
        return path
    if not base_url:
        raise ValueError(f"no site address (BASE_URL) to make {path!r} absolute")
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def order_url(order: WorkOrder) -> str:
    return f"/m/orders/{order.number}"


def order_summary(order: WorkOrder, limit: int = 60) -> str:
    return wording.shorten(order.content, limit)


def chief_helpers(session: Session, department_id: int, stage_id: int | None = None) -> list[Person]:
    """The department's chief helpers, those serving the order's stage first; leaders if none."""
    people = list(
        session.scalars(
            select(Person)
            .where(Person.department_id == department_id, Person.active.is_(True), Person.role == Role.CHIEF_HELPER)
            .order_by(Person.id)
        )
    )
    if stage_id is not None:
        by_stage = [p for p in people if any(s.id == stage_id for s in p.stages)]
        if by_stage:
            return by_stage
    if people:
        return people
    return list(
        session.scalars(
            select(Person)
            .where(Person.department_id == department_id, Person.active.is_(True), Person.role == Role.DEPT_LEADER)
            .order_by(Person.id)
        )
    )


def department_leaders(session: Session, department_id: int) -> list[Person]:
    return list(
        session.scalars(
            select(Person).where(
                Person.department_id == department_id, Person.active.is_(True), Person.role == Role.DEPT_LEADER
            )
        )
    )


def hub_department(session: Session, code: str) -> Department | None:
    return session.scalar(select(Department).where(Department.code == code))


def hub_people(session: Session, role: str) -> list[Person]:
    return list(session.scalars(select(Person).where(Person.role == role, Person.active.is_(True))))


class Notifier:
    """Writes outbox rows for one operation; ``key`` makes every row idempotent per business event."""

    def __init__(self, session: Session, channels: Channels, now: datetime):
        self.session = session
        self.channels = channels
        self.now = now
        self._labels: dict[str, str] | None = None

    # -- routing -----------------------------------------------------------------------------
    def _person_channels(self, person: Person) -> list[str]:
        result = []
        if self.channels.sandbox:
            result.append("sandbox")
        if self.channels.wecom and person.wecom_userid:
            result.append("wecom")
        if self.channels.dingtalk and person.dingtalk_userid:
            result.append("dingtalk")
        return result

    def _group_channels(self, department: Department) -> list[tuple[str, str]]:
        result = []
        if self.channels.sandbox:
            result.append(("sandbox", str(department.id)))
        from services.messaging import groups as chatgroups  # late import: optional platform group bindings

        result.extend(chatgroups.group_targets(self.session, department, self.channels))
        return result

    def labels(self) -> dict[str, str]:
        """The words on buttons and the sender's name, as the district has them (one render per operation)."""
        if self._labels is None:
            self._labels = {key: self.render(name) for key, (name, _label, _default) in LABEL_TEMPLATES.items()}
        return self._labels

    def _put(self, *, channel, kind, target_type, target_ref, payload, key, order) -> None:
        if payload.get("url") or kind in SHARED_CARD_KINDS:
            payload = {**payload, "labels": self.labels()}  # a message with a button or card says its words
        enqueue(
            self.session,
            Envelope(
                channel=channel,
                kind=kind,
                target_type=target_type,
                target_ref=target_ref,
                payload=payload,
                dedupe_key=f"{key}:{kind}:{target_type}:{target_ref}:{channel}",
                work_order_id=order.id if order is not None else None,
            ),
            now=self.now,
        )

    def to_person(self, person: Person | None, *, kind: str, payload: dict, key: str, order=None) -> None:
        if person is None or not person.active:
            return
        for channel in self._person_channels(person):
            self._put(
                channel=channel, kind=kind, target_type="person", target_ref=str(person.id),
                payload=payload, key=key, order=order,
            )

    def to_people(self, people: Iterable[Person], *, kind: str, payload: dict, key: str, order=None) -> None:
        unique = list({p.id: p for p in people if p is not None and p.active}.values())
        if kind not in SHARED_CARD_KINDS:
            for person in unique:
                self.to_person(person, kind=kind, payload=payload, key=key, order=order)
            return
        # One card for all recipients on a real platform: WeCom greys a card for everyone only when
        # they all received the same message (update_template_card with atall), under one task id.
        by_channel: dict[str, list[Person]] = {}
        for person in unique:
            for channel in self._person_channels(person):
                by_channel.setdefault(channel, []).append(person)
        for channel, members in by_channel.items():
            if channel == "sandbox":
                for person in members:
                    self._put(channel=channel, kind=kind, target_type="person", target_ref=str(person.id),
                              payload=payload, key=key, order=order)
            else:
                self._put(channel=channel, kind=kind, target_type="people",
                          target_ref=",".join(str(p.id) for p in members), payload=payload, key=key, order=order)

    def to_group(self, department: Department | None, *, kind: str, payload: dict, key: str, order=None) -> None:
        if department is None:
            return
        for channel, ref in self._group_channels(department):
            self._put(channel=channel, kind=kind, target_type="group", target_ref=ref, payload=payload, key=key, order=order)

    # -- messages ------------------------------------------------------------------------------
    def whistle(self, order: WorkOrder, department: Department, helpers: list[Person], key: str) -> None:
        """吹哨: @ the chief helpers in the department group, and a card to each of them."""
        names = " ".join(f"@{p.name}" for p in helpers) or "（本部门尚未配置首席帮办，请部门领导认领）"
        enterprise = order.enterprise.name if order.enterprise else "—"
        text = templates.render("whistle", {
            **self.order_placeholders(order), "mentions": names,
            "sign_due": f"请于 {local_time(order.sign_due_at)} 前报到" if order.sign_due_at else "请尽快报到",
            "due": local_time(order.due_at),
        }, studio.runtime(self.session).templates)
        times = {"sign_due": local_time(order.sign_due_at), "due": local_time(order.due_at),
                 "long_summary": order_summary(order, 120)}
        # ``card`` is what a platform that follows the @-text with a link card (DingTalk) shows on it.
        card_title, heading, *lines = self.render("whistle_group_card", order, **times).split("\n") + [""]
        group_card = {"title": card_title.strip(), "heading": heading.strip() or enterprise,
                      "lines": [line for line in lines if line.strip()]}
        self.to_group(
            department, kind="whistle",
            payload={"text": text, "mentions": [p.id for p in helpers], "order_number": order.number,
                     "url": order_url(order), "card": group_card},
            key=key, order=order,
        )
        card_title, _, card_text = self.render("whistle_card", order, long_summary=order_summary(order, 120)).partition("\n")
        card = {
            "title": card_title.strip(),
            "text": card_text.strip(),
            "fields": card_fields(self.render("whistle_card_fields", order, **times)),
            "hint": self.render("card_sign_hint", order),
            "buttons": [
                {"key": f"sign:{order.number}", "label": "报到", "style": "primary"},
                {"key": f"return:{order.number}", "label": "退回"},
                {"key": f"transfer:{order.number}", "label": "转办"},
            ],
            "url": order_url(order),
            "task_id": f"{order.number}-{order.deadline_version}-{department.id}",
            "order_number": order.number,
        }
        self.to_people(helpers, kind="card", payload=card, key=key, order=order)

    def render(self, name: str, order: WorkOrder | None = None, /, **context) -> str:
        """A registered template (the district's edit, else the default) filled in; the order's
        placeholders come with it."""
        values = {**(self.order_placeholders(order) if order is not None else {}), **context}
        return templates.render(name, values, studio.runtime(self.session).templates)

    def notify(self, people: Iterable[Person | None], order: WorkOrder, name: str, key: str, /, *, kind: str = "notice",
               **context) -> None:
        """A personal notice from template ``name``: its first line is the title, the rest the text."""
        title, _, text = self.render(name, order, **context).partition("\n")
        self.notice_many(people, order, title.strip(), text.strip(), key, kind=kind)

    def status(self, order: WorkOrder, department: Department | None, name: str, key: str, /, **context) -> None:
        """A status line from template ``name`` in a department's (or hub's) group."""
        if department is None:
            return
        self.status_line(order, department, self.render(name, order, **context), key)

    def order_placeholders(self, order: WorkOrder) -> dict:
        """What every order template may use (``services.studio.templates.ORDER_PLACEHOLDERS``)."""
        return {
            "number": order.number, "short_number": order.number[-4:],
            "enterprise": order.enterprise.name if order.enterprise else "—", "summary": order_summary(order),
            "level": level_label(order.level), "green_channel": bool(order.green_channel),
            "state": State.LABELS.get(order.state, order.state), "link": order_url(order),
        }

    def close_cards(self, order: WorkOrder, label: str, key: str, department: Department, helpers: list[Person]) -> None:
        payload = {"task_id": f"{order.number}-{order.deadline_version}-{department.id}", "label": label,
                   "order_number": order.number}
        self.to_people(helpers, kind="card_update", payload=payload, key=key, order=order)

    def status_line(self, order: WorkOrder, department: Department | None, text: str, key: str) -> None:
        self.to_group(department, kind="status", payload={"text": text, "order_number": order.number}, key=key, order=order)

    def notice_payload(self, order: WorkOrder, title: str, text: str) -> dict:
        stamp = local_time(self.now, "%Y-%m-%d %H:%M")
        return {
            "title": title,
            # Order number and time in every notice: DingTalk drops identical content within a day.
            "text": f"{text}\n工单 {order.number} · {State.LABELS.get(order.state, order.state)} · {stamp}",
            "url": order_url(order),
            "order_number": order.number,
        }

    def notice(self, person: Person | None, order: WorkOrder, title: str, text: str, key: str, kind="notice") -> None:
        self.to_person(person, kind=kind, payload=self.notice_payload(order, title, text), key=key, order=order)

    def notice_many(self, people: Iterable[Person], order: WorkOrder, title: str, text: str, key: str, kind="notice"):
        for person in {p.id: p for p in people if p is not None}.values():
            self.notice(person, order, title, text, key, kind=kind)

    def reply_to(self, person: Person, text: str, key: str, *, channel: str,
                 target: ReplyTarget | None = None) -> str | None:
        """A command's answer, to the person who typed it, on the channel the command came from
        and nowhere else (a person on both WeCom and DingTalk asked on one of them). Returns the
        outbox dedupe key of the reply, or None when that channel cannot reach the person."""
        if target is not None and target.channel:
            channel = target.channel
        dedupe_key = f"{key}:reply:{person.id}:{channel}"
        if target is None:
            if channel not in self._person_channels(person):
                log.warning("reply to person %s not queued: channel %r is off or not bound for them", person.id,
                            channel)
                return None
            target = ReplyTarget("person", str(person.id))
        enqueue(
            self.session,
            Envelope(channel=channel, kind="reply", target_type=target.target_type, target_ref=target.target_ref,
                     payload={**target.payload, "text": text}, dedupe_key=dedupe_key),
            now=self.now,
        )
        return dedupe_key
