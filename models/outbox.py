"""Transactional outbox, sandbox chat transcript, delivery throttling state, inbound inbox and de-duplication."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class MessageKind:
    """Every kind of message the desk puts in the outbox; ``services.messaging.outbox.enqueue`` refuses
    any other, so each adapter can know all of them."""

    WHISTLE = "whistle"  # 吹哨: the department group, @ the chief helpers
    CARD = "card"  # an action card (报到 / 退回 / 转办) to each chief helper
    CARD_UPDATE = "card_update"  # grey out the cards once someone acted
    STATUS = "status"  # a progress line in a department group
    NOTICE = "notice"  # a personal notification
    REPLY = "reply"  # the answer to a chat command
    SUPERVISE = "supervise"  # 督办
    REMINDER = "reminder"  # deadline reminder (50 % / 80 %)
    SURVEY = "survey"  # 满意度回访 invitation
    POLICY_DIGEST = "policy_digest"  # a service staff member's digest of matched enterprises
    POLICY_UPTAKE = "policy_uptake"  # the weekly uptake report to a policy's department
    ENTERPRISE = "enterprise"  # to the enterprise itself: SMS or WeCom customer contact (客户联系)
    HOTLINE = "hotline"  # a signed status callback to the 12345 platform
    LABELS = {
        WHISTLE: "吹哨报到", CARD: "操作卡片", CARD_UPDATE: "卡片状态更新", STATUS: "群内进展", NOTICE: "个人通知",
        REPLY: "命令回复", SUPERVISE: "督办通知", REMINDER: "时限提醒", SURVEY: "满意度回访",
        POLICY_DIGEST: "政策推送汇总", POLICY_UPTAKE: "政策成效周报", ENTERPRISE: "企业短信 / 客户联系",
        HOTLINE: "12345 回传",
    }
    ALL = frozenset(LABELS)
    CARDS = frozenset({CARD, CARD_UPDATE})
    # Kinds whose text already carries its own heading (adapters add no 【title】 line).
    UNTITLED = frozenset({WHISTLE, STATUS, REPLY, ENTERPRISE, HOTLINE})


class OutboxStatus:
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    LABELS = {PENDING: "待发送", SENDING: "发送中", SENT: "已送达", DEAD: "发送失败"}


class OutboundMessage(Base):
    """A message to deliver after the business transaction that wrote it has committed."""

    __tablename__ = "outbound_message"
    __table_args__ = (Index("ix_outbound_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # sandbox | wecom | dingtalk
    kind: Mapped[str] = mapped_column(String(24))  # one of MessageKind.ALL
    target_type: Mapped[str] = mapped_column(String(16))  # group | person
    target_ref: Mapped[str] = mapped_column(String(512))  # id, or comma-joined ids for "people"
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    # What the platform said when it took the message: its own id where the API returns one (WeCom
    # msgid, DingTalk work-notice task_id), so a suspected duplicate can be checked with the platform.
    platform_message_id: Mapped[str] = mapped_column(String(128), default="")
    delivery_detail: Mapped[str] = mapped_column(String(300), default="")
    # A claim that ran out while sending (the process died): the platform may have the message already.
    interrupted_sends: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SandboxMessage(Base):
    """The sandbox backend's chat transcript: department groups and personal inboxes."""

    __tablename__ = "sandbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation: Mapped[str] = mapped_column(String(64), index=True)  # group:<dept id> | person:<id>
    direction: Mapped[str] = mapped_column(String(8))  # out (bot → people) | in (person → bot)
    sender_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    mentions: Mapped[list[Any]] = mapped_column(default=list)  # person ids @-mentioned
    card: Mapped[dict[str, Any] | None] = mapped_column()
    card_task_id: Mapped[str | None] = mapped_column(String(128), index=True)
    card_closed_label: Mapped[str] = mapped_column(String(64), default="")
    outbound_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_message.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelPause(Base):
    """A delivery channel (robot, app) told us to back off; nothing is sent on it until then."""

    __tablename__ = "channel_pause"

    channel_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    paused_until: Mapped[datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")


class RateWindow(Base):
    """Fixed-window send counters when no Redis is configured (shared through the database)."""

    __tablename__ = "rate_window"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    window_start: Mapped[int] = mapped_column(primary_key=True)  # epoch seconds of the window
    count: Mapped[int] = mapped_column(default=0)


class InboundReceipt(Base):
    """Seen inbound messages/events, so a platform's retry never acts twice."""

    __tablename__ = "inbound_receipt"
    __table_args__ = (UniqueConstraint("platform", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboxStatus:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    LABELS = {PENDING: "待处理", DONE: "已处理", FAILED: "处理失败"}


class InboundMessage(Base):
    """A verified platform callback, stored as received and acted on later by the jobs process.

    The callback answers as soon as this row is committed (WeCom waits 5 s, DingTalk less); the
    ``process_inbound`` job runs the command and marks the row done in the same transaction. The
    unique key is the platform's own message id, so a platform's retry stores nothing new.
    """

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("platform", "dedupe_key"),
        Index("ix_inbound_message_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # wecom | dingtalk
    dedupe_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the decrypted message / callback body
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)  # claims so far (a crashed attempt counts too)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)  # due from; also the claim lease
    error: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(200), default="")  # what processing did, for the log
    # The web request that stored it: the jobs process logs its processing under the same id.
    request_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column()


class KvEntry(Base):
    """A small shared key-value store (platform access tokens) when no Redis is configured."""

    __tablename__ = "kv_entry"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column()


class SmsOptOut(Base):
    """A mobile number that asked for no more texts (回复TD退订, or an administrator on its behalf).

    The SMS adapter refuses to send to a number listed here; the row records how and when."""

    __tablename__ = "sms_opt_out"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    method: Mapped[str] = mapped_column(String(16))  # reply | admin
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
