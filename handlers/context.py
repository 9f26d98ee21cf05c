"""Per-request plumbing: the database session, the signed-in person, the operation context."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, flash, g, request, session
from sqlalchemy.orm import Session

from models import Person, utcnow
from services.admin import sessions
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
    return Channels.from_settings(s)


def now() -> datetime:
    return utcnow()


def current_person() -> Person | None:
    """The person this browser is signed in as, if its session still counts (see ``sessions``)."""
    if "person" not in g:
        g.person = _session_person()
    return g.person


def _session_person() -> Person | None:
    person_id = session.get(sessions.PERSON)
    if not person_id:
        return None
    moment = now()
    person = db().get(Person, person_id) if isinstance(person_id, int) else None
    verdict = sessions.verdict(session, person, moment, session_policy())
    if verdict != sessions.VALID:
        session.clear()
        if verdict == sessions.EXPIRED:
            flash("登录已超时，请重新登录", "warning")
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "background_poll", False):
        seen = sessions.touched(session, moment)
        if seen is not None:
            session[sessions.SEEN_AT] = seen
    return person


def session_policy() -> sessions.SessionPolicy:
    return sessions.SessionPolicy(idle=timedelta(minutes=settings().session_idle_minutes))


def start_session(person: Person) -> None:
    """Sign ``person`` in on this browser: a fresh session, nothing from before carries over."""
    session.clear()
    session.update(sessions.new_session(person, now()))
    g.person = person


def end_session() -> None:
    session.clear()
    g.pop("person", None)


def background_poll(view):
    """Mark a view a page polls on its own: its requests do not keep the session from idling out."""
    view.background_poll = True
    return view


def op_context(channel: str = "console", actor: Person | None = None) -> OpContext:
    return OpContext(
        session=db(), actor=actor if actor is not None else current_person(), now=now(), channel=channel,
        channels=delivery_channels(), base_url=settings().base_url,
    )
