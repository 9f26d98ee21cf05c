"""Waking a job now instead of at its next tick, where this process runs the scheduler.

Used by a callback that just stored a platform message (development: the answer feels instant) and
by one job that leaves work for another (the inbox's answers are in the outbox: deliver now). Kept
apart from the scheduler so the job definitions can wake a job without importing the scheduler
that imports them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import Flask


@dataclass
class Wakes:
    """Which jobs are running in this process and which were woken meanwhile (see ``wake``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: set[str] = field(default_factory=set)
    woken: set[str] = field(default_factory=set)


def job_wakes(app: Flask) -> Wakes:
    return app.extensions.setdefault("job_wakes", Wakes())


def wake(app: Flask, name: str) -> bool:
    """Run job ``name`` now instead of at its next tick — only where this process runs the
    scheduler (the development server, and the jobs process waking one job from another).
    A run in progress is told to go round once more; any run starting later sees the caller's
    committed work anyway."""
    scheduler = app.extensions.get("scheduler")
    if scheduler is None or not scheduler.running:
        return False
    wakes = job_wakes(app)
    with wakes.lock:
        if name in wakes.running:
            wakes.woken.add(name)
            return True
    scheduler.modify_job(name, next_run_time=datetime.now(UTC))
    return True


def wake_delivery(app: Flask) -> bool:
    """Deliver now instead of at the next tick (only where this process runs the scheduler)."""
    return wake(app, "deliver_outbox")


def wake_inbound(app: Flask) -> bool:
    """Process a just-stored platform message now instead of at the next tick (only where this
    process runs the scheduler: in development the callback's answer then feels instant; in
    production the jobs process polls every second)."""
    return wake(app, "process_inbound")
