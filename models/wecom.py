"""WeCom-specific state that must outlive one request: the codes that let us grey out cards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class WeComCardCode(Base):
    """A ``response_code`` for one ``button_interaction`` card task.

    WeCom hands one out when the card is sent (``message/send``) and one with every click
    (``template_card_event``); each works exactly once, for 72 hours, with
    ``message/update_template_card``. ``userid`` is the member who clicked ("" for the send).
    """

    __tablename__ = "wecom_card_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(String(128), index=True)
    userid: Mapped[str] = mapped_column(String(64), default="")
    response_code: Mapped[str] = mapped_column(String(512), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    used: Mapped[bool] = mapped_column(default=False)
    used_at: Mapped[datetime | None] = mapped_column()
