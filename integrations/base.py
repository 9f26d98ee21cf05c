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

import hashlib
import html
import logging
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

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
    """``limit`` sends per ``window_seconds`` on the bucket ``key`` (e.g. ``wecom:robot:12``);
    ``slices`` > 1: per any sliding window of that length (see ``services.ratelimit``); ``cost``:
    how many of the platform's messages this one send is (a DingTalk whistle is two)."""

    key: str
    limit: int
    window_seconds: int = 60
    slices: int = 1
    cost: int = 1


@dataclass(frozen=True)
class ChannelPause:
    """A channel the adapter found unusable until ``until`` while the message itself went out
    (a DingTalk whistle's card throttled after its @-text was sent): delivery records the pause."""

    channel_key: str
    until: datetime
    reason: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool = True
    platform_message_id: str = ""
    detail: str = ""
    pauses: tuple[ChannelPause, ...] = ()


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
    kind: str = "text"  # text | button | unsupported (a picture, voice, file…: answered with a hint)
    message_type: str = ""  # the platform's own type name, for the log
    card_key: str = ""  # the button pressed on an interactive card (e.g. "sign:BC-20260302-0001")
    card_task_id: str = ""
    card_response_code: str = ""  # WeCom: the code that lets the card be greyed later
    # Where an answer can go into the conversation itself (DingTalk's sessionWebhook, a robot's
    # response_url): the payload the adapter's "session" target reads. Empty: answers go to the
    # sender's own chat with the app.
    reply_handle: dict[str, Any] = field(default_factory=dict)
    conversation_title: str = ""
    sender_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None


@dataclass(frozen=True)
class ContactEvent:
    """A change in a platform's address book that the desk follows: a member who ``left`` (their
    binding goes, their orders are flagged for reassignment), was ``renamed`` (new userid) or merely
    ``updated``."""

    platform: str
    change: str  # left | renamed | updated
    userids: tuple[str, ...]
    dedupe_key: str = ""
    new_userid: str = ""
    reason: str = ""  # Chinese, for the audit trail ("成员已从通讯录删除")
    event_type: str = ""  # the platform's own name (delete_user, user_leave_org…), for the log


InboundEvent = ChatEvent | ContactEvent


class InvalidInbound(ValueError):
    """A verified callback whose body is not something the desk can act on (Chinese reason in ``str``)."""


class InboundParser(ABC):
    """One platform's stored callback bodies → neutral events. Pure: no database, no domain code.

    The web callback stores the verified body in the inbox; the jobs process asks the parser what
    it says (``parse``) and runs the one platform-neutral flow (``services.messaging.inbound``).
    """

    platform: str = ""
    #: The ``Person`` column that holds this platform's user id.
    person_field: str = ""

    @abstractmethod
    def parse(self, payload: Any, *, received_at: datetime | None = None) -> InboundEvent | None:
        """The event a stored body carries; None for a body the desk ignores; ``InvalidInbound``
        for one it cannot read."""

    @abstractmethod
    def summarise(self, payload: Any) -> str:
        """Who sent a stored body and what it says, for the administrators' log (plain text, never
        a credential such as a reply webhook or a card's response code)."""


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


def jsapi_signature(ticket: str, nonce: str, timestamp: int | str, url: str) -> str:
    """The in-app JS bridge's page signature, the same on WeCom (``wx.config`` / ``wx.agentConfig``)
    and DingTalk (``dd.config``): sha1 of ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…`` (the keys in
    ASCII order), ``url`` being the page's own address without its fragment."""
    text = f"jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


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


class TokenStorage(Protocol):
    """Where an adapter keeps its platform access token: handed to it, shared by every process in
    production (``services.kvstore.TokenStore``). ``get`` takes a default so the store is also
    wechatpy's ``SessionStorage``; ``bound(session)`` routes reads and writes through a database
    session the caller holds open (SQLite has one writer)."""

    def get(self, key: str, default: str | None = None) -> str | None: ...

    def set(self, key: str, value: str, ttl: int | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def bound(self, session: Any) -> AbstractContextManager[Any]: ...

    def in_session(self, session: Any) -> TokenStorage: ...


class MemoryKvStore:
    """This process only: the last resort of a store, or a cache in front of the shared one."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._data: dict[str, tuple[str, float | None]] = {}
        self._lock = threading.Lock()
        self.clock = clock

    def get(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                return default
            value, until = found
            if until is not None and until <= self.clock():
                del self._data[key]
                return default
            return value

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        with self._lock:
            self._data[key] = (value, self.clock() + ttl if ttl else None)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def bound(self, session: Any) -> AbstractContextManager[Any]:
        return nullcontext(session)

    def in_session(self, session: Any) -> MemoryKvStore:
        return self


BEIJING = ZoneInfo("Asia/Shanghai")


def payload_label(payload: dict[str, Any], key: str, default: str) -> str:
    """A word on a button or card as the sender configured it (``payload["labels"][key]``), else ``default``.

    The services put the district's wording into the payload (message templates); older messages
    in the outbox and callers without templates get the built-in word.
    """
    labels = payload.get("labels")
    value = labels.get(key) if isinstance(labels, dict) else None
    return str(value).strip() if isinstance(value, str) and value.strip() else default


def beijing_time(value: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    """A stored UTC instant as people in Tianjin read it ("—" for none)."""
    return value.astimezone(BEIJING).strftime(fmt) if value else "—"


# --- User text in platform markup ---------------------------------------------------------------
# Order text is written by people outside the government network: in a department group it must
# read as text, never as a link, an image or formatting. Links in messages are only the ones the
# system built (under BASE_URL, or the button URLs adapters set); any other URL is defanged so no
# client turns it into a live link.
_URL = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]{1,15}://|\bwww\.)[^\s<>\"'，。；、）】]*")
_MARKDOWN = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "!": "！", "*": "＊", "_": "＿", "`": "｀", "#": "＃",
    ">": "＞", "<": "＜", "|": "｜", "~": "～", "\\": "＼",
})


def _defang(url: str) -> str:
    return url.replace("://", "[:]//").replace(".", "[.]")


def _pieces(text: str, own_prefix: str):
    """(is_own_link, piece) over ``text``: the system's own links apart from everything else."""
    position = 0
    for match in _URL.finditer(text):
        yield False, text[position:match.start()]
        url = match.group(0)
        own = bool(own_prefix) and url.lower().startswith(own_prefix.lower())
        yield own, url if own else _defang(url)
        position = match.end()
    yield False, text[position:]


def plain_safe(text: str, own_prefix: str = "") -> str:
    """For plain-text messages: foreign URLs defanged (clients auto-link bare URLs)."""
    return "".join(piece for _, piece in _pieces(str(text or ""), own_prefix))


def markdown_safe(text: str, own_prefix: str = "") -> str:
    """For markdown bodies (DingTalk actionCard/action_card): no link, image, heading, emphasis or
    quote can come out of ``text``; the system's own links stay as they are."""
    return "".join(piece if own else piece.translate(_MARKDOWN) for own, piece in _pieces(str(text or ""), own_prefix))


def html_safe(text: str, own_prefix: str = "") -> str:
    """For WeCom textcard descriptions (they take a little HTML): tags escaped, URLs defanged."""
    return "".join(piece if own else html.escape(piece, quote=False) for own, piece in _pieces(str(text or ""), own_prefix))
