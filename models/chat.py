"""Chat groups bound to departments on the real platforms (the sandbox needs none)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.org import Department


class ChatGroup(Base):
    """A department's (or unit's) group chat with its robot on WeCom or DingTalk."""

    __tablename__ = "chat_group"
    __table_args__ = (UniqueConstraint("platform", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # wecom | dingtalk
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    # WeCom: the group robot key; DingTalk: the custom robot webhook access token.
    robot_key: Mapped[str] = mapped_column(Text, default="")
    robot_secret: Mapped[str] = mapped_column(Text, default="")  # DingTalk signing secret
    conversation_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Set when a robot bound the conversation by itself (the first message it heard there); an
    # administrator confirms the binding (or releases it) on the department's page.
    conversation_pending: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    active: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department] = relationship()
