"""Storing a verified platform callback in the inbox: shared by ``/wecom/callback`` and ``/dingtalk/robot``.

The callback's whole transaction is one INSERT (``services.messaging.inbox.store``), committed here so the
platform gets its answer at once; where this process runs the scheduler (development), the
``process_inbound`` job is woken after the commit so the answer does not wait for the next tick.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from flask import current_app

from handlers.context import db, now, settings
from jobs.wakes import wake_inbound
from services.messaging import inbox

# SQLite runs one writer at a time. Callbacks of this process queue on this lock rather than on
# SQLite's busy handler, which polls with growing sleeps: measured with 20 concurrent WeCom senders
# (bench/bench_wecom.py), dropping the lock lowers throughput and doubles to triples the p99.
_sqlite_writer = threading.Lock()


def _writer_turn():
    return _sqlite_writer if settings().is_sqlite else contextlib.nullcontext()


def store_message(platform: str, dedupe_key: str, payload: dict[str, Any]) -> bool:
    """Store and commit; False when the platform delivered this message before. A database error
    propagates (after a rollback): the caller answers 503 and the platform retries."""
    with _writer_turn():
        session = db()
        try:
            stored = inbox.store(session, platform, dedupe_key, payload, now())
            session.commit()
        except Exception:
            session.rollback()
            raise
    if stored:
        wake_inbound(current_app._get_current_object())
    return stored
