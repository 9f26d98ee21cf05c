"""A local stand-in for the 12345 platform's callback receiver (docs/hotline.md): it checks the
signature of every POST with the shared secret and the ±300 s window, records the accepted bodies,
and fails on demand (``fail_next(status, times)``) so retries and dead letters can be tested.
It also signs calls the way the platform does (``signed_post`` / ``signed_get`` headers)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "hotline-shared-secret-0123456789abcdef"


def sign(secret: str, timestamp: str, message: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + message, hashlib.sha256).hexdigest()


def headers_for(message: bytes, *, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if at is None else at))
    return {"X-Hotline-Timestamp": timestamp, "X-Hotline-Signature": sign(secret, timestamp, message),
            "Content-Type": "application/json"}


class HotlinePlatformEmulator:
    def __init__(self, secret: str = SECRET):
        self.secret = secret
        self.received: list[dict] = []
        self.refused: list[str] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = emulator.handle(self.headers, raw)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/district/callback"

    def start(self) -> HotlinePlatformEmulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def handle(self, headers, raw: bytes) -> tuple[int, dict]:
        with self._lock:
            timestamp = headers.get("X-Hotline-Timestamp") or ""
            given = headers.get("X-Hotline-Signature") or ""
            if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 300 or not hmac.compare_digest(
                    sign(self.secret, timestamp, raw), given):
                self.refused.append(given)
                return 401, {"code": 401, "message": "bad signature"}
            if self._failures:
                return self._failures.pop(0), {"code": 500, "message": "busy"}
            self.received.append(json.loads(raw))
            return 200, {"code": 0, "message": "ok"}
