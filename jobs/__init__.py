"""Scheduled jobs: one table of definitions (``jobs.definitions``) and the scheduler process."""

from __future__ import annotations

import os
import secrets
import socket

_worker: tuple[int, str] | None = None


def worker_id() -> str:
    """hostname-pid-random, fixed for this process (a forked child gets its own)."""
    global _worker
    pid = os.getpid()
    if _worker is None or _worker[0] != pid:
        host = socket.gethostname().split(".")[0][:32] or "host"
        _worker = (pid, f"{host}-{pid}-{secrets.token_hex(3)}")
    return _worker[1]
