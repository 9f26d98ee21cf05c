"""Rules an administrator edits at run time: SLA policies, holidays, screening rules, settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.org import RequestDomain


class SlaPolicy(Base):
    """Deadlines for one (domain × priority × level); domain NULL means "any domain"."""

    __tablename__ = "sla_policy"
    __table_args__ = (UniqueConstraint("domain_id", "priority", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int | None] = mapped_column(ForeignKey("request_domain.id"))
    priority: Mapped[str] = mapped_column(String(16))  # normal | urgent | emergency
    level: Mapped[int] = mapped_column()
    # Sign-in limit: natural minutes for emergencies, working days otherwise.
    sign_minutes: Mapped[int | None] = mapped_column()
    sign_workdays: Mapped[int | None] = mapped_column()
    handle_workdays: Mapped[int | None] = mapped_column()  # None: follows the city's deadline (level 4)
    remind_percents: Mapped[list[Any]] = mapped_column(default=lambda: [50, 80])
    leader_after_workdays: Mapped[int] = mapped_column(default=1)
    bizenv_after_workdays: Mapped[int] = mapped_column(default=2)
    return_limit_workdays: Mapped[int] = mapped_column(default=1)
    return_limit_workdays_complex: Mapped[int] = mapped_column(default=2)

    domain: Mapped[RequestDomain | None] = relationship()


class HolidayOverride(Base):
    """A date the calendar package does not know or gets wrong for the district."""

    __tablename__ = "holiday_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(unique=True)
    is_workday: Mapped[bool] = mapped_column()
    note: Mapped[str] = mapped_column(String(128), default="")


class ScreeningRule(Base):
    """One out-of-scope pattern: keywords for a category, the reason and the proper channel."""

    __tablename__ = "screening_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    keywords: Mapped[str] = mapped_column(Text)  # one per line or comma separated
    reason: Mapped[str] = mapped_column(Text)
    proper_channel: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


class SystemSetting(Base):
    __tablename__ = "system_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditLog(Base):
    """Who did what outside a work order's own timeline (admin edits, rejected callbacks)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor_label: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
