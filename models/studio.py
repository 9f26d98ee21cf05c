"""The low-code studio's revisions and the dispatch catalogue's hit counts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.org import Person


class ConfigRevision(Base):
    """One version of the run-time configuration: the whole document, who changed it, when and why.
    The newest revision is the configuration in force."""

    __tablename__ = "config_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # edit | import | restore
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    actor_label: Mapped[str] = mapped_column(String(128), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    digest: Mapped[str] = mapped_column(String(64))
    changes: Mapped[list[Any]] = mapped_column(default=list)  # readable diff lines against the previous one
    restored_from_id: Mapped[int | None] = mapped_column(ForeignKey("config_revision.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    actor: Mapped[Person | None] = relationship()


class DispatchRuleHit(Base):
    """How often a rule of the 派单目录 decided where a request went, per day (Beijing)."""

    __tablename__ = "dispatch_rule_hit"
    __table_args__ = (UniqueConstraint("day", "rule_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column()
    rule_name: Mapped[str] = mapped_column(String(60))
    hits: Mapped[int] = mapped_column(default=0)
