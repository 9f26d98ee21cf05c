"""The one interface every chat backend implements, and the neutral types it speaks.

Delivery (``services.messaging.delivery``) hands an adapter an ``OutboundView`` of an outbox row inside
that row's own transaction and records the outcome from what the adapter returns or raises:

* ``DeliveryResult``   — the platform accepted the message: the row is marked sent.
* ``TransientError``   — try again later with backoff (timeouts, 5xx, a token that expired).
* ``PermanentError``   — retrying cannot help (unknown user, robot removed): dead letter now.
* ``RateLimited``      — the platform says "too many" (WeCom/DingTalk 130101, WeCom 45009):
                         the channel key is paused and the row waits, no attempt is counted.
* ``ChannelPaused``    — the adapter knows the channel is unusable until a given instant.

Adapters also name the buckets a message counts against (``rate_rules``) so one shared limiter
keeps every process under the platform's limits: WeCom/DingTalk group robots 20/min each, WeCom
app messages 30/min and 1000/h per member, DingTalk work notifications 500 a day per user (the
platforms drop what is over those silently), the sandbox none. Unknown inbound platform events are
logged by the adapter that parses them, never raised.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class OutboundView:
    """What an adapter needs of an outbox row, detached from the ORM session."""

    id: int
    channel: str
    kind: str  # one of models.MessageKind.ALL
    target_type: str  # group | person
    target_ref: str  # group: department id (sandbox) or ChatGroup id (platforms); person: person id
    payload: dict[str, Any]
    work_order_id: int | None = None
    dedupe_key: str = ""
    attempts: int = 0

    @classmethod
    def from_model(cls, message: Any) -> OutboundView:
        return cls(
            id=message.id,
            channel=message.channel,
            kind=message.kind,
            target_type=message.target_type,
            target_ref=message.target_ref,
            payload=dict(message.payload or {}),
            work_order_id=message.work_order_id,
            dedupe_key=message.dedupe_key,
            attempts=message.attempts,
        )

    @property
    def text(self) -> str:
        return str(self.payload.get("text") or "")


@dataclass(frozen=True)
class RateRule:
    """``limit`` sends per ``window_seconds`` on the bucket ``key`` (e.g. ``wecom:robot:12``)."""

    key: str
    limit: int
    window_seconds: int = 60


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool = True
    platform_message_id: str = ""
    detail: str = ""


class DeliveryError(Exception):
    """Base of the outcomes an adapter reports by raising; ``str(error)`` goes to the delivery log."""


class TransientError(DeliveryError):
    """Worth another attempt later."""


class PermanentError(DeliveryError):
    """No retry can succeed; the message goes to the dead letters at once."""


class RateLimited(DeliveryError):
    def __init__(self, retry_after_seconds: float, channel_key: str = "", message: str = ""):
        self.retry_after_seconds = max(float(retry_after_seconds), 1.0)
        self.channel_key = channel_key
        super().__init__(message or f"平台限流，{int(self.retry_after_seconds)} 秒后重试")


class ChannelPaused(DeliveryError):
    def __init__(self, until: datetime, channel_key: str = "", message: str = ""):
        self.until = until
        self.channel_key = channel_key
        super().__init__(message or f"通道暂停至 {until.isoformat()}")


@dataclass(frozen=True)
class ChatEvent:
    """A message or card click arriving from a platform, before any command parsing.

    ``sender_person_id`` is filled when the adapter could resolve the platform user id;
    ``dedupe_key`` is the platform's own id for the event (MsgId, msgId, …) so a retried
    callback never acts twice (``InboundReceipt``).
    """

    platform: str  # sandbox | wecom | dingtalk
    text: str
    dedupe_key: str
    conversation: str = ""  # platform conversation id, or the sandbox's group:<id> / person:<id>
    conversation_type: str = "person"  # person | group
    sender_person_id: int | None = None
    sender_platform_id: str = ""
    card_key: str = ""  # the button pressed on an interactive card (e.g. "sign:BC-20260302-0001")
    card_task_id: str = ""
    reply_handle: dict[str, Any] = field(default_factory=dict)  # response_url / sessionWebhook, etc.
    raw: dict[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None


class ChatAdapter(ABC):
    """One delivery backend. Stateless between calls; everything durable lives in the database."""

    name: str = ""

    @abstractmethod
    def deliver(self, message: OutboundView, session: Session, *, now: datetime) -> DeliveryResult:
        """Send one message, or raise one of the ``DeliveryError`` outcomes.

        Runs inside the outbox row's transaction (a savepoint): database writes made here commit
        together with "sent", and are rolled back with a failure. Network calls must carry a
        timeout. Anything else raised counts as a transient failure and is logged.
        """

    def rate_rules(self, message: OutboundView) -> tuple[RateRule, ...]:
        """The shared buckets this message counts against (every one must have room); none when
        the backend has no limit."""
        return ()

    def channel_key(self, message: OutboundView) -> str:
        """The unit a platform pauses as a whole (one robot, one app); also the pause table key."""
        rules = self.rate_rules(message)
        return rules[0].key if rules else self.name


def person_ids(target_ref: str) -> list[int]:
    """The person ids of a message's ``target_ref`` ("12" or "12,15"), each once, in order."""
    ids: list[int] = []
    for part in str(target_ref or "").split(","):
        part = part.strip()
        if part.isdigit() and int(part) not in ids:
            ids.append(int(part))
    return ids


def retry_on_stale_token(call: Callable[[], T], *, stale: Callable[[Exception], bool], renew: Callable[[], None],
                         platform: str) -> T:
    """``call()``; when it fails because the platform no longer takes the access token, ``renew()``
    and call once more — never in a loop (a second failure goes up as it is)."""
    try:
        return call()
    except Exception as error:
        if not stale(error):
            raise
        log.info("%s: token rejected (%s), fetching a new one and retrying once", platform,
                 getattr(error, "errcode", None))
    renew()
    return call()


def app_token_store(app):
    """The app's one ``services.kvstore.TokenStore``, shared by every platform's API facade.

    Inside a request that already opened its database session, tokens go through that session
    (on SQLite a second connection would wait for the request's write lock).
    """
    store = app.extensions.get("token_store")
    if store is None:
        from flask import g, has_app_context

        from services.kvstore import TokenStore

        def request_session() -> Session | None:
            return g.get("db_session") if has_app_context() else None

        store = app.extensions.setdefault("token_store", TokenStore.from_settings(
            app.extensions["settings"], app.extensions["db_sessionmaker"], session_provider=request_session))
    return store
