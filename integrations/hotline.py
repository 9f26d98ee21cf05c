"""The 12345 / 86912345 interchange: request signatures both ways, and the callback adapter.

Every call in either direction carries ``X-Hotline-Timestamp`` (unix seconds) and
``X-Hotline-Signature`` = hex HMAC-SHA256(``HOTLINE_SECRET``, timestamp + "\\n" + message), where
the message is the raw JSON body of a POST, or ``"GET " + path`` of a GET. A timestamp more than
``WINDOW_SECONDS`` away from our clock is refused, so a recorded call cannot be replayed later.

``HotlineAdapter`` delivers outbox rows of channel ``hotline`` (kind ``hotline``): the payload's
``body`` is POSTed, signed, to ``HOTLINE_CALLBACK_URL``. 2xx is delivered; 429 and 5xx and
network failures are retried with backoff; another 4xx is a dead letter (the platform refused the
content, a retry cannot help).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime

import requests
from sqlalchemy.orm import Session

from config import HotlineSettings
from integrations.base import (
    ChatAdapter,
    DeliveryResult,
    OutboundView,
    PermanentError,
    RateLimited,
    TransientError,
)

WINDOW_SECONDS = 300
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
SIGNATURE_HEADER = "X-Hotline-Signature"


def signature(secret: str, timestamp: str, message: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"\n" + message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, message: bytes, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, message)}


def verify(secret: str, timestamp: str | None, given: str | None, message: bytes, now: datetime) -> bool:
    """Whether a call is signed with ``secret`` and fresh (±``WINDOW_SECONDS``). Constant-time compare."""
    if not secret or not timestamp or not given:
        return False
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    if abs(int(timestamp) - now.timestamp()) > WINDOW_SECONDS:
        return False
    return hmac.compare_digest(signature(secret, timestamp, message), given.strip().lower())


class HotlineAdapter(ChatAdapter):
    name = "hotline"

    def __init__(self, settings: HotlineSettings, *, timeout: float = 10.0):
        self.settings = settings
        self.timeout = timeout
        self.http = requests.Session()

    def deliver(self, message: OutboundView, session: Session, *, now: datetime) -> DeliveryResult:
        body = message.payload.get("body")
        if not isinstance(body, dict):
            raise PermanentError("回传内容为空")
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   **signed_headers(self.settings.secret, raw, now)}
        try:
            response = self.http.post(self.settings.callback_url, data=raw, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise TransientError(f"12345 平台无法连接：{error.__class__.__name__}") from error
        if response.status_code == 429:
            raise RateLimited(60, "hotline", "12345 平台限流（429）")
        if response.status_code >= 500:
            raise TransientError(f"12345 平台暂时不可用（HTTP {response.status_code}）")
        if response.status_code >= 400:
            raise PermanentError(f"12345 平台拒绝回传（HTTP {response.status_code}）：{response.text[:200]}")
        return DeliveryResult(detail=f"12345 平台已接收（HTTP {response.status_code}）")
