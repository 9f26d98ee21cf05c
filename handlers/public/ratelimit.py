"""A small in-process sliding-window limiter for anonymous form posts.

Per worker process only: with N workers an address gets up to N times the limit. That is
enough to blunt a script hammering the survey form (tokens are unguessable anyway); a shared
limit would need Redis, which is not worth it for a page an enterprise opens once.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float, *, max_keys: int = 10000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, *, at: float | None = None) -> bool:
        moment = time.monotonic() if at is None else at
        with self._lock:
            if len(self._hits) >= self.max_keys and key not in self._hits:
                self._forget_idle(moment)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= moment - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(moment)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def _forget_idle(self, moment: float) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= moment - self.window]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:  # all busy: drop the oldest rather than grow without bound
            oldest = min(self._hits, key=lambda k: self._hits[k][-1])
            del self._hits[oldest]
