"""Per-request plumbing: the database session, the signed-in person, the operation context."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, g, session
from sqlalchemy.orm import Session

from models import Person, utcnow
from services.messaging.notify import Channels
from services.orders.operations import OpContext


def db() -> Session:
    """The request's session; the request boundary commits it (see ``application``)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def settings():
    return current_app.extensions["settings"]


def delivery_channels() -> Channels:
    s = settings()
    return Channels(sandbox=s.sandbox_enabled, wecom=s.wecom.enabled, dingtalk=s.dingtalk.enabled)


def now() -> datetime:
    return utcnow()


def current_person() -> Person | None:
    if "person" not in g:
        person_id = session.get("person_id")
        person = db().get(Person, person_id) if person_id else None
        g.person = person if person is not None and person.active else None
    return g.person


def op_context(channel: str = "console", actor: Person | None = None) -> OpContext:
    return OpContext(
        session=db(), actor=actor if actor is not None else current_person(), now=now(), channel=channel,
        channels=delivery_channels(), base_url=settings().base_url,
    )
