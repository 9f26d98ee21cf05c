"""Policy library and precise push: policies, their items (申报事项), campaigns and per-enterprise pushes.

A ``Policy`` is one document (national, Tianjin or Beichen) owned by a district department; it is
split into ``PolicyItem`` rows, each with an application window and matching ``conditions`` on the
enterprise profile (see ``services.policies.matching`` for the condition keys). A ``PushCampaign``
delivers one or more items to the enterprises they match; each enterprise × item pair is pushed at
most once, ever (``PolicyPush`` is unique on it), and the push row carries the funnel
pushed → opened → applied → granted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow
from models.enterprise import Enterprise
from models.org import Department, Person


class PolicyLevel:
    NATIONAL = "national"
    CITY = "city"
    DISTRICT = "district"
    LABELS = {NATIONAL: "国家", CITY: "天津市", DISTRICT: "北辰区"}
    ALL = tuple(LABELS)


class PolicyStatus:
    DRAFT = "draft"
    REVIEW = "review"  # submitted, waiting for the owner department to publish or send back
    PUBLISHED = "published"
    RETIRED = "retired"
    LABELS = {DRAFT: "草稿", REVIEW: "待审核", PUBLISHED: "已发布", RETIRED: "已废止"}
    ALL = tuple(LABELS)


class Policy(TimestampMixin, Base):
    """One policy document. ``attachments`` is a JSON list of
    ``{"filename", "storage_key", "size", "sha256", "content_type"}`` as stored by services.orders.attachments."""

    __tablename__ = "policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    issuing_body: Mapped[str] = mapped_column(String(128), default="")  # 发文机关
    level: Mapped[str] = mapped_column(String(16), default=PolicyLevel.DISTRICT)  # PolicyLevel
    doc_number: Mapped[str] = mapped_column(String(128), default="")  # 文号, e.g. 津政办规〔2025〕3号
    published_on: Mapped[date | None] = mapped_column()  # the document's own publication date
    valid_from: Mapped[date | None] = mapped_column()
    valid_until: Mapped[date | None] = mapped_column()  # None: no end date
    source_url: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    owner_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")  # plain-language summary (政策解读)
    status: Mapped[str] = mapped_column(String(16), default=PolicyStatus.DRAFT, index=True)
    review_note: Mapped[str] = mapped_column(Text, default="")  # the reviewer's note when sent back

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    submitted_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    retired_at: Mapped[datetime | None] = mapped_column()
    retired_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    owner_department: Mapped[Department] = relationship()
    created_by: Mapped[Person | None] = relationship(foreign_keys=[created_by_id])
    published_by: Mapped[Person | None] = relationship(foreign_keys=[published_by_id])
    retired_by: Mapped[Person | None] = relationship(foreign_keys=[retired_by_id])
    items: Mapped[list[PolicyItem]] = relationship(
        back_populates="policy", order_by="PolicyItem.sort_order, PolicyItem.id", cascade="all, delete-orphan"
    )

    @property
    def level_label(self) -> str:
        return PolicyLevel.LABELS.get(self.level, self.level)

    @property
    def status_label(self) -> str:
        return PolicyStatus.LABELS.get(self.status, self.status)


class ItemStatus:
    """An item follows its policy (published with it, retired with it) unless withdrawn on its own."""

    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
    LABELS = {DRAFT: "未发布", PUBLISHED: "已发布", WITHDRAWN: "已撤回"}
    ALL = tuple(LABELS)


class PolicyItem(TimestampMixin, Base):
    """申报事项. ``conditions`` is the JSON documented in services.policies.matching (empty: everyone)."""

    __tablename__ = "policy_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")  # what the enterprise gets, in plain words
    how_to_apply: Mapped[str] = mapped_column(Text, default="")  # 申报方式、材料、受理地点
    contact: Mapped[str] = mapped_column(String(200), default="")  # 咨询电话 / 联系人
    apply_from: Mapped[date | None] = mapped_column()  # application window, Beijing dates, inclusive
    apply_until: Mapped[date | None] = mapped_column(index=True)
    no_application: Mapped[bool] = mapped_column(default=False)  # 免申即享: granted without applying
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.DRAFT, index=True)
    published_at: Mapped[datetime | None] = mapped_column()
    sort_order: Mapped[int] = mapped_column(default=0)

    policy: Mapped[Policy] = relationship(back_populates="items")

    @property
    def status_label(self) -> str:
        return ItemStatus.LABELS.get(self.status, self.status)


class CampaignKind:
    NEW_ITEM = "new_item"  # newly published items, created by the daily job
    DEADLINE_REMINDER = "deadline_reminder"  # the window closes soon: remind those not yet applied
    MANUAL = "manual"  # created in the console
    LABELS = {NEW_ITEM: "新政策推送", DEADLINE_REMINDER: "截止提醒", MANUAL: "手动推送"}


class CampaignStatus:
    DRAFT = "draft"
    APPROVED = "approved"  # waiting for scheduled_for (and outside quiet hours)
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    LABELS = {
        DRAFT: "待审批", APPROVED: "已审批待发送", RUNNING: "推送中", PAUSED: "已暂停", DONE: "已完成",
        CANCELLED: "已取消",
    }
    ACTIVE = (APPROVED, RUNNING)


class PushCampaign(TimestampMixin, Base):
    """One delivery of items to their matched enterprises, approved by the owner department.

    Counters are refreshed by each run of the ``policy_campaigns`` job: ``total`` enterprise × item
    pairs this campaign is responsible for, ``sent`` (the staff digest was delivered), ``waiting``
    (not yet delivered: in the queue, held by the weekly cap or quiet hours), ``failed`` (the digest
    could not be delivered). ``notes`` holds Chinese status lines shown on the campaign page."""

    __tablename__ = "push_campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), default=CampaignKind.MANUAL, index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    owner_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.DRAFT, index=True)
    scheduled_for: Mapped[datetime | None] = mapped_column()  # None: as soon as outside quiet hours
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    approved_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    last_run_at: Mapped[datetime | None] = mapped_column()

    total: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    waiting: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    already_pushed: Mapped[int] = mapped_column(default=0)  # matched, but told earlier by another campaign
    capped: Mapped[int] = mapped_column(default=0)  # of ``waiting``: held back by the weekly cap
    digests: Mapped[int] = mapped_column(default=0)  # staff digests written
    notes: Mapped[list[Any]] = mapped_column(default=list)

    owner_department: Mapped[Department] = relationship()
    created_by: Mapped[Person | None] = relationship(foreign_keys=[created_by_id])
    approved_by: Mapped[Person | None] = relationship(foreign_keys=[approved_by_id])
    items: Mapped[list[PolicyItem]] = relationship(secondary="push_campaign_item", order_by="PolicyItem.id")

    @property
    def status_label(self) -> str:
        return CampaignStatus.LABELS.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        return CampaignKind.LABELS.get(self.kind, self.kind)

    @property
    def item_ids(self) -> list[int]:
        return [item.id for item in self.items]

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.status == CampaignStatus.DONE else 0
        return max(0, min(100, int((self.sent + self.failed) * 100 / self.total)))


class PushCampaignItem(Base):
    __tablename__ = "push_campaign_item"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("push_campaign.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("policy_item.id", ondelete="CASCADE"), primary_key=True)


class PushStatus:
    QUEUED = "queued"  # selected for the campaign; the staff digest is not delivered yet
    SENT = "sent"  # the staff member's digest naming this enterprise was delivered
    FAILED = "failed"  # the digest was dead-lettered
    LABELS = {QUEUED: "待推送", SENT: "已推送", FAILED: "推送失败"}


class PushChannel:
    STAFF_DIGEST = "staff_digest"  # via the enterprise's service staff member (and its policy page)
    PAGE = "page"  # no staff member assigned: only the enterprise's own policy page
    WECOM_EXTERNAL = "wecom_external"  # reserved: externalcontact/add_msg_template (not configured)
    LABELS = {STAFF_DIGEST: "服务专员转达", PAGE: "企业政策页", WECOM_EXTERNAL: "企业微信客户群发"}


class PolicyPush(Base):
    """One item told to one enterprise — never twice (unique enterprise × item) — and its uptake.

    ``open_token`` is the enterprise's no-login link ``/p/<token>`` (services.policies.push.open_link).
    A deadline reminder reuses the row (``reminder_*``) instead of pushing the item again."""

    __tablename__ = "policy_push"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "item_id"),
        Index("ix_policy_push_campaign_status", "campaign_id", "status"),
        Index("ix_policy_push_enterprise_created", "enterprise_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("policy_item.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("push_campaign.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(16), default=PushChannel.STAFF_DIGEST)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)  # at push time
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)  # at push time
    status: Mapped[str] = mapped_column(String(16), default=PushStatus.QUEUED)
    digest_key: Mapped[str | None] = mapped_column(String(120), index=True)  # the digest that carries it
    open_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # counts towards the weekly cap
    sent_at: Mapped[datetime | None] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column()
    open_count: Mapped[int] = mapped_column(default=0)
    applied_at: Mapped[datetime | None] = mapped_column()
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    applied_by_label: Mapped[str] = mapped_column(String(128), default="")  # a person, or "企业自行标记"
    granted_at: Mapped[datetime | None] = mapped_column()
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    granted_note: Mapped[str] = mapped_column(Text, default="")

    reminder_campaign_id: Mapped[int | None] = mapped_column(ForeignKey("push_campaign.id", ondelete="SET NULL"))
    reminder_status: Mapped[str] = mapped_column(String(16), default="")  # '' | PushStatus value
    reminder_digest_key: Mapped[str | None] = mapped_column(String(120), index=True)
    reminded_at: Mapped[datetime | None] = mapped_column()

    enterprise: Mapped[Enterprise] = relationship()
    item: Mapped[PolicyItem] = relationship()
    campaign: Mapped[PushCampaign | None] = relationship(foreign_keys=[campaign_id])
    staff: Mapped[Person | None] = relationship(foreign_keys=[staff_id])

    @property
    def status_label(self) -> str:
        return PushStatus.LABELS.get(self.status, self.status)

    @property
    def stage_label(self) -> str:
        """The furthest funnel step reached: 已推送 → 已查看 → 已申报 → 已兑现."""
        if self.granted_at:
            return "已兑现"
        if self.applied_at:
            return "已申报"
        if self.opened_at:
            return "已查看"
        return self.status_label
