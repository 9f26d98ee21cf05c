"""The knowledge side of the mechanism: 知识库 (Q&A entries), 案例库 (cases written up from closed
work orders, some marked 典型案例 and published), and the 高频事项应答手册 (handbook topics: a
recurring kind of request found in real tickets, answered by one entry, with its counts).

Policies are not copied here: an entry may point at a policy in the policy library
(``policy_id``), and the policy Q&A kept there (``PolicyQuestion.published_to_kb``) stays there.

Search is character-bigram matching on normalised text (services.knowledge.entries): every entry and case
has its terms in ``knowledge_gram``, indexed by term, so a query is one indexed, grouped lookup on
SQLite and PostgreSQL alike, without extensions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, SmallInteger, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin
from models.org import Department, Person, RequestDomain, ServiceStage
from models.policy import Policy
from models.workorder import WorkOrder


class KnowledgeStatus:
    """Entries and cases: written as drafts, submitted for review by their authors, published by
    营商环境办 or a system administrator."""

    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    RETIRED = "retired"
    LABELS = {DRAFT: "草稿", REVIEW: "待审核", PUBLISHED: "已发布", RETIRED: "已停用"}
    ALL = tuple(LABELS)


class KnowledgeSource:
    MANUAL = "manual"  # written by a person
    HANDBOOK = "handbook"  # drafted by the handbook job for a recurring kind of request
    CASE = "case"  # distilled from a case
    LABELS = {MANUAL: "人工录入", HANDBOOK: "应答手册", CASE: "来自案例"}
    ALL = tuple(LABELS)


class KnowledgeEntry(TimestampMixin, Base):
    """One question and its plain-language answer (问答/知识条目)."""

    __tablename__ = "knowledge_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))  # the question, as a person would ask it
    answer: Mapped[str] = mapped_column(Text, default="")  # may stay empty while a draft
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("request_domain.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("service_stage.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policy.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(16), default=KnowledgeSource.MANUAL)
    source_case_id: Mapped[int | None] = mapped_column(ForeignKey("case_study.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=KnowledgeStatus.DRAFT, index=True)
    keywords: Mapped[str] = mapped_column(Text, default="")  # comma separated, normalised
    # NFKC, lower-case, whitespace-free text of title + keywords + answer: substring checks and
    # one-character queries (a bigram index cannot answer those).
    search_text: Mapped[str] = mapped_column(Text, default="")

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column()
    retired_at: Mapped[datetime | None] = mapped_column()
    retire_reason: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(default=1)  # +1 on every saved change
    view_count: Mapped[int] = mapped_column(default=0)
    use_count: Mapped[int] = mapped_column(default=0)  # offered in chat or opened from a suggestion

    domain: Mapped[RequestDomain | None] = relationship()
    stage: Mapped[ServiceStage | None] = relationship()
    department: Mapped[Department | None] = relationship()
    policy: Mapped[Policy | None] = relationship()
    created_by: Mapped[Person | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[Person | None] = relationship(foreign_keys=[updated_by_id])
    reviewed_by: Mapped[Person | None] = relationship(foreign_keys=[reviewed_by_id])

    @property
    def status_label(self) -> str:
        return KnowledgeStatus.LABELS.get(self.status, self.status)

    @property
    def source_label(self) -> str:
        return KnowledgeSource.LABELS.get(self.source, self.source)

    @property
    def keyword_list(self) -> list[str]:
        return [k for k in self.keywords.split(",") if k]


case_study_department = Table(
    "case_study_department",
    Base.metadata,
    Column("case_id", ForeignKey("case_study.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)


class CaseStudy(TimestampMixin, Base):
    """案例: a closed work order written up. ``public_*`` hold the anonymised text, the only text
    the public page (/cases) ever shows; it exists only when ``anonymised`` is set."""

    __tablename__ = "case_study"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    situation: Mapped[str] = mapped_column(Text, default="")  # 诉求情况
    handling: Mapped[str] = mapped_column(Text, default="")  # 办理过程
    result: Mapped[str] = mapped_column(Text, default="")  # 办理结果
    lessons: Mapped[str] = mapped_column(Text, default="")  # 经验启示
    anonymised: Mapped[bool] = mapped_column(default=False)
    public_title: Mapped[str] = mapped_column(String(200), default="")
    public_situation: Mapped[str] = mapped_column(Text, default="")
    public_handling: Mapped[str] = mapped_column(Text, default="")
    public_result: Mapped[str] = mapped_column(Text, default="")
    public_lessons: Mapped[str] = mapped_column(Text, default="")
    level_reached: Mapped[int] = mapped_column(default=1)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("request_domain.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("service_stage.id"), index=True)
    is_typical: Mapped[bool] = mapped_column(default=False, index=True)  # 典型案例
    status: Mapped[str] = mapped_column(String(16), default=KnowledgeStatus.DRAFT, index=True)
    search_text: Mapped[str] = mapped_column(Text, default="")

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    published_at: Mapped[datetime | None] = mapped_column(index=True)  # date shown on the public page
    retired_at: Mapped[datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)
    view_count: Mapped[int] = mapped_column(default=0)

    work_order: Mapped[WorkOrder] = relationship()
    domain: Mapped[RequestDomain | None] = relationship()
    stage: Mapped[ServiceStage | None] = relationship()
    departments: Mapped[list[Department]] = relationship(secondary=case_study_department,
                                                         order_by="Department.sort_order")
    created_by: Mapped[Person | None] = relationship(foreign_keys=[created_by_id])
    reviewed_by: Mapped[Person | None] = relationship(foreign_keys=[reviewed_by_id])

    @property
    def status_label(self) -> str:
        return KnowledgeStatus.LABELS.get(self.status, self.status)

    @property
    def is_public(self) -> bool:
        return self.status == KnowledgeStatus.PUBLISHED and self.is_typical and self.anonymised


class TopicStatus:
    PROPOSED = "proposed"  # found by the job; waits for 营商环境办
    PUBLISHED = "published"  # in the handbook
    DISMISSED = "dismissed"  # not for the handbook (counts still kept)
    LABELS = {PROPOSED: "待审核", PUBLISHED: "已收录", DISMISSED: "不收录"}
    ALL = tuple(LABELS)


class HandbookTopic(TimestampMixin, Base):
    """A recurring kind of request: orders of one domain and stage whose titles share a term.
    (domain, stage, term) is the topic's identity, so the daily job finds it again."""

    __tablename__ = "handbook_topic"
    __table_args__ = (UniqueConstraint("signature"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signature: Mapped[str] = mapped_column(String(64))  # "<domain id or ->|<stage id or ->|<term>"
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("request_domain.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("service_stage.id"), index=True)
    term: Mapped[str] = mapped_column(String(32))  # the frequent title term that defines the topic
    label: Mapped[str] = mapped_column(String(64))  # the term and, when most titles share it, a second
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("knowledge_entry.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=TopicStatus.PROPOSED, index=True)
    auto_linked: Mapped[bool] = mapped_column(default=False)  # a published entry answered it when found
    count_90d: Mapped[int] = mapped_column(default=0)  # orders in the last 90 days (近90天 N 件)
    sample_order_ids: Mapped[list[Any]] = mapped_column(default=list)  # newest matching orders
    counted_at: Mapped[datetime | None] = mapped_column()
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_note: Mapped[str] = mapped_column(Text, default="")

    domain: Mapped[RequestDomain | None] = relationship()
    stage: Mapped[ServiceStage | None] = relationship()
    entry: Mapped[KnowledgeEntry | None] = relationship()
    reviewed_by: Mapped[Person | None] = relationship()
    counts: Mapped[list[HandbookTopicCount]] = relationship(
        order_by="HandbookTopicCount.period", cascade="all, delete-orphan", back_populates="topic"
    )

    @property
    def status_label(self) -> str:
        return TopicStatus.LABELS.get(self.status, self.status)


class HandbookTopicCount(Base):
    """Matching orders of a topic per calendar month (Beijing), rewritten by every job run."""

    __tablename__ = "handbook_topic_count"
    __table_args__ = (UniqueConstraint("topic_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("handbook_topic.id", ondelete="CASCADE"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    count: Mapped[int] = mapped_column(default=0)

    topic: Mapped[HandbookTopic] = relationship(back_populates="counts")


class KnowledgeGram(Base):
    """One search term of an entry or a case, with the weight of the field it came from.

    ``kind`` is ``entry`` or ``case``; ``item_id`` the row's id (no foreign key: two tables).
    Ranking groups the rows matching a query's terms by item (index ``(kind, gram)``)."""

    __tablename__ = "knowledge_gram"
    __table_args__ = (Index("ix_knowledge_gram_kind_gram", "kind", "gram"),)

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    item_id: Mapped[int] = mapped_column(primary_key=True)
    gram: Mapped[str] = mapped_column(String(16), primary_key=True)
    weight: Mapped[int] = mapped_column(SmallInteger, default=1)
