"""Work orders (工单) and everything that hangs on one: events, attachments, visits, records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow
from models.enterprise import Enterprise
from models.org import Department, Person, RequestDomain, ServiceStage, Zone


class WorkOrder(TimestampMixin, Base):
    __tablename__ = "work_order"
    # A form's one-time key or an API client's Idempotency-Key: a submission sent twice is one order.
    __table_args__ = (
        UniqueConstraint("submitter_id", "submission_key", name="uq_work_order_submission"),
        # An order from a hotline platform (12345 / 86912345) is known there by its ticket id: one order per ticket.
        UniqueConstraint("source", "external_ticket_id", name="uq_work_order_external_ticket"),
        # The order list (newest first), the statistics' period filters, the rollup's change scan.
        # PostgreSQL also has trigram (pg_trgm) indexes for the text search (migration 0016 only).
        # The columns the district-wide list filters on are carried in the index (PostgreSQL), so a
        # deep page skips its rows without reading the table.
        Index("ix_work_order_created_at_id", "created_at", "id",
              postgresql_include=["state", "green_channel", "zone_id", "assigned_department_id"]),
        # The home page's counts: per state, and the running clocks past their deadline.
        Index("ix_work_order_state_due_at", "state", "due_at"),
        # Per state, carrying (PostgreSQL) what the statistics' current stocks read of an open
        # order: they count the open orders from the index alone.
        Index("ix_work_order_state", "state", postgresql_include=[
            "zone_id", "assigned_department_id", "level", "green_channel", "domain_id", "created_at",
            "due_at", "sign_due_at", "resolved_at", "dispatched_at"]),
        Index("ix_work_order_resolved_at", "resolved_at"),
        Index("ix_work_order_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # BC-YYYYMMDD-NNNN
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"), index=True)
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # services.orders.operations.CHANNEL_LABELS
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("request_domain.id"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("service_stage.id"))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    # The enterprise contact's WeCom external userid (客户联系) when they are an external contact of
    # their service staff member: pushes then also go there (staff confirm sending in WeCom).
    contact_external_userid: Mapped[str] = mapped_column(String(64), default="")
    # Hotline intake: the platform ("12345" | "86912345") and its own ticket id; None for other channels.
    source: Mapped[str | None] = mapped_column(String(16))
    external_ticket_id: Mapped[str | None] = mapped_column(String(64))
    submission_key: Mapped[str | None] = mapped_column(String(80))
    # Values of the domain form's custom fields (低代码表单), keyed by field key.
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The 派单目录 rule that decided where the request went at intake ("" when a person chose).
    dispatch_rule: Mapped[str] = mapped_column(String(60), default="")

    level: Mapped[int] = mapped_column(default=1)
    is_complex: Mapped[bool] = mapped_column(default=False)
    green_channel: Mapped[bool] = mapped_column(default=False)
    priority: Mapped[str] = mapped_column(String(16), default="normal")  # normal | urgent | emergency
    state: Mapped[str] = mapped_column(String(24))

    assigned_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    assigned_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    return_count: Mapped[int] = mapped_column(default=0)
    designated: Mapped[bool] = mapped_column(default=False)
    reopen_count: Mapped[int] = mapped_column(default=0)

    # Screening: the machine suggests, a person decides.
    screening_category: Mapped[str | None] = mapped_column(String(32))
    screening_reason: Mapped[str] = mapped_column(Text, default="")
    screening_channel: Mapped[str] = mapped_column(Text, default="")
    screening_decision: Mapped[str] = mapped_column(String(16), default="")  # confirmed | overridden
    screening_override_reason: Mapped[str] = mapped_column(Text, default="")
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    reject_channel: Mapped[str] = mapped_column(Text, default="")

    result: Mapped[str] = mapped_column(Text, default="")
    feedback_note: Mapped[str] = mapped_column(Text, default="")

    accepted_at: Mapped[datetime | None] = mapped_column()
    dispatched_at: Mapped[datetime | None] = mapped_column()
    signed_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    feedback_at: Mapped[datetime | None] = mapped_column()
    visited_at: Mapped[datetime | None] = mapped_column()
    archived_at: Mapped[datetime | None] = mapped_column()

    # SLA clock of the current cycle; a new dispatch, level or reopen starts a new cycle.
    deadline_version: Mapped[int] = mapped_column(default=0)
    clock_started_at: Mapped[datetime | None] = mapped_column()
    sign_due_at: Mapped[datetime | None] = mapped_column(index=True)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    suspended_at: Mapped[datetime | None] = mapped_column()
    suspend_reason: Mapped[str] = mapped_column(Text, default="")

    # 重复诉求: the earlier order its submitter said this one repeats (a relation only), and the
    # earlier order a dispatcher merged this one into (it then waits, merged, as part of that one).
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)

    survey_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    survey_sent_at: Mapped[datetime | None] = mapped_column()
    survey_reminded_at: Mapped[datetime | None] = mapped_column()

    version_id: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version_id}

    enterprise: Mapped[Enterprise | None] = relationship()
    submitter: Mapped[Person | None] = relationship(foreign_keys=[submitter_id])
    zone: Mapped[Zone | None] = relationship()
    domain: Mapped[RequestDomain | None] = relationship()
    stage: Mapped[ServiceStage | None] = relationship()
    assigned_department: Mapped[Department | None] = relationship()
    assigned_person: Mapped[Person | None] = relationship(foreign_keys=[assigned_person_id])
    duplicate_of: Mapped[WorkOrder | None] = relationship(foreign_keys=[duplicate_of_id], remote_side=[id])
    merged_into: Mapped[WorkOrder | None] = relationship(foreign_keys=[merged_into_id], remote_side=[id])
    events: Mapped[list[WorkOrderEvent]] = relationship(
        back_populates="work_order", order_by="WorkOrderEvent.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="work_order", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    visits: Mapped[list[ReturnVisit]] = relationship(order_by="ReturnVisit.id", cascade="all, delete-orphan")
    extension_requests: Mapped[list[ExtensionRequest]] = relationship(
        order_by="ExtensionRequest.id", cascade="all, delete-orphan"
    )
    joint_meetings: Mapped[list[JointMeeting]] = relationship(
        order_by="JointMeeting.id", cascade="all, delete-orphan"
    )
    city_escalations: Mapped[list[CityEscalation]] = relationship(
        order_by="CityEscalation.id", cascade="all, delete-orphan"
    )


class WorkOrderEvent(Base):
    """One step of an order's life. Rows are never updated or deleted (see the guard below)."""

    __tablename__ = "work_order_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor_label: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    work_order: Mapped[WorkOrder] = relationship(back_populates="events")
    actor: Mapped[Person | None] = relationship()


@event.listens_for(WorkOrderEvent, "before_update")
def _events_are_immutable(_mapper, _connection, target):
    raise RuntimeError(f"work-order event {target.id} is immutable")


@event.listens_for(WorkOrderEvent, "before_delete")
def _events_are_never_deleted(_mapper, _connection, target):
    raise RuntimeError(f"work-order event {target.id} cannot be deleted")


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128), default="application/octet-stream")
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    work_order: Mapped[WorkOrder] = relationship(back_populates="attachments")


class Satisfaction:
    VERY_SATISFIED = "非常满意"
    SATISFIED = "满意"
    BASIC = "基本满意"
    DISSATISFIED = "不满意"
    VERY_DISSATISFIED = "非常不满意"
    ALL = (VERY_SATISFIED, SATISFIED, BASIC, DISSATISFIED, VERY_DISSATISFIED)
    POSITIVE = (VERY_SATISFIED, SATISFIED, BASIC)


class ReturnVisit(Base):
    """回访: the enterprise's rating of the result (好差评 five levels)."""

    __tablename__ = "return_visit"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    satisfaction: Mapped[str] = mapped_column(String(8))
    resolved: Mapped[bool] = mapped_column(default=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(16))  # phone | visit | survey | chat
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ExtensionRequest(Base):
    __tablename__ = "extension_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    days: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | denied
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    requested_by: Mapped[Person] = relationship(foreign_keys=[requested_by_id])


joint_meeting_department = Table(
    "joint_meeting_department",
    Base.metadata,
    Column("meeting_id", ForeignKey("joint_meeting.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)


class JointMeeting(Base):
    """营商环境联席会议 convened for a level-3 order."""

    __tablename__ = "joint_meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    held_on: Mapped[date] = mapped_column()
    convened_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    decisions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    departments: Mapped[list[Department]] = relationship(secondary=joint_meeting_department)


class CityEscalation(Base):
    """市级提级办理: handed to a city department or filed with the 12345 enterprise desk."""

    __tablename__ = "city_escalation"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    route: Mapped[str] = mapped_column(String(16))  # 12345 | city_department
    city_department: Mapped[str] = mapped_column(String(128), default="")
    city_reference: Mapped[str] = mapped_column(String(64), default="")
    city_deadline: Mapped[date | None] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    escalated_by_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkOrderAlert(Base):
    """A reminder or 督办 step that has fired; the unique key makes each fire exactly once."""

    __tablename__ = "work_order_alert"
    __table_args__ = (UniqueConstraint("work_order_id", "kind", "deadline_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    deadline_version: Mapped[int] = mapped_column()
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)


class DailySequence(Base):
    """Counter behind the NNNN of BC-YYYYMMDD-NNNN."""

    __tablename__ = "daily_sequence"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(default=0)
