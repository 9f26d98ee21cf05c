"""Which real-platform group chats a department's group messages go to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import ChatGroup, Department


def group_targets(session: Session, department: Department, channels) -> list[tuple[str, str]]:
    enabled = [p for p in ("wecom", "dingtalk") if getattr(channels, p)]
    if not enabled:
        return []
    groups = session.scalars(
        select(ChatGroup).where(
            ChatGroup.department_id == department.id, ChatGroup.active.is_(True), ChatGroup.platform.in_(enabled)
        )
    )
    return [(g.platform, str(g.id)) for g in groups if g.robot_key]
