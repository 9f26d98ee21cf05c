"""Policy training and consultation: events, who was invited, who signed up and came, and questions.

An event may belong to a policy or stand alone (a general 政策宣讲). Its audience is a set of
conditions on the enterprise profile in the same JSON shape as a policy item's conditions, so the
same set-based matching picks who is invited. Questions asked at an event or through an
enterprise's policy page are kept with their answers for the knowledge base.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow
from models.enterprise import Enterprise
from models.org import Department, Person


class TrainingKind:
    TRAINING = "培训"
    CONSULTATION = "咨询会"
    BRIEFING = "政策宣讲"
    ALL = (TRAINING, CONSULTATION, BRIEFING)


class TrainingStatus:
    PLANNED = "planned"  # in the training plan, not yet open for sign-up
    OPEN = "open"  # invitations may go out, enterprises may sign up
    CLOSED = "closed"  # sign-up closed (full or deadline), the event has not happened yet
    DONE = "done"  # held; attendance recorded
    CANCELLED = "cancelled"
    LABELS = {PLANNED: "计划中", OPEN: "报名中", CLOSED: "报名截止", DONE: "已举办", CANCELLED: "已取消"}


class TrainingEvent(TimestampMixin, Base):
    __tablename__ = "training_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policy.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default=TrainingKind.TRAINING)
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column()
    place: Mapped[str] = mapped_column(String(200), default="")
    online_url: Mapped[str] = mapped_column(String(500), default="")
    # Same shape as PolicyItem.conditions (services.policies.matching): {} means every operating enterprise.
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    capacity: Mapped[int | None] = mapped_column()  # None: no limit
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=TrainingStatus.PLANNED, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    invited_at: Mapped[datetime | None] = mapped_column()  # last time invitations went out

    department: Mapped[Department] = relationship()
    created_by: Mapped[Person | None] = relationship()

    @property
    def status_label(self) -> str:
        return TrainingStatus.LABELS.get(self.status, self.status)


class TrainingInvitation(Base):
    """One enterprise invited to one event, through its service staff member (never twice)."""

    __tablename__ = "training_invitation"
    __table_args__ = (UniqueConstraint("event_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("training_event.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)

    enterprise: Mapped[Enterprise] = relationship()
    staff: Mapped[Person | None] = relationship()


class TrainingRegistration(Base):
    """A sign-up: by a staff member on the enterprise's behalf, or by the enterprise on its page."""

    __tablename__ = "training_registration"
    __table_args__ = (UniqueConstraint("event_id", "enterprise_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("training_event.id", ondelete="CASCADE"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    registered_at: Mapped[datetime] = mapped_column(default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))  # None: the enterprise
    channel: Mapped[str] = mapped_column(String(16), default="console")  # console | policy_page
    attended: Mapped[bool | None] = mapped_column()  # None: not recorded yet
    attendance_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    attendance_recorded_at: Mapped[datetime | None] = mapped_column()

    event: Mapped[TrainingEvent] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    registered_by: Mapped[Person | None] = relationship(foreign_keys=[registered_by_id])
    attendance_recorded_by: Mapped[Person | None] = relationship(foreign_keys=[attendance_recorded_by_id])


class PolicyQuestion(Base):
    """A question about a policy or at an event, and its answer (kept for the knowledge base)."""

    __tablename__ = "policy_question"
    __table_args__ = (Index("ix_policy_question_answered", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policy.id", ondelete="SET NULL"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("training_event.id", ondelete="SET NULL"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="SET NULL"), index=True)
    asked_by: Mapped[str] = mapped_column(String(128), default="")  # who asked, as they gave it
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16), default="console")  # console | policy_page | event
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    answered_at: Mapped[datetime | None] = mapped_column()
    published_to_kb: Mapped[bool] = mapped_column(default=False)

    event: Mapped[TrainingEvent | None] = relationship()
    enterprise: Mapped[Enterprise | None] = relationship()
    answered_by: Mapped[Person | None] = relationship()
