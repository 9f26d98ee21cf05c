"""DingTalk (钉钉): tokens, the legacy ``oapi`` calls, the custom group robot, and the delivery adapter.

What goes where on DingTalk:

* **whistle** (吹哨) → the department's *custom group robot*: a signed text whose ``at.atUserIds``
  names the chief helpers, with ``@userid`` written in the content (DingTalk only highlights a
  mention that appears in both), then an actionCard from the same robot whose button opens the
  order's H5 page;
* **status** lines → the same robot, plain text;
* **card** (the personal 报到 card) → a *work notification* of type ``action_card`` to the helpers,
  one button opening the H5 page. DingTalk's legacy work-notification cards cannot be greyed out
  afterwards, so **card_update** becomes a short follow-up notice ("已由某某报到");
* **notice / reminder / supervise / survey / reply** to a person → work notifications whose text
  carries the order number and a time: DingTalk silently drops identical content sent to the same
  person within a day;
* **reply** to a *session* (an answer to ``@机器人 报到 0001`` in a group) → the enterprise robot's
  ``sessionWebhook`` while it is valid, with ``at.atUserIds`` of the sender; a work notification
  once it has expired.

Work notifications go through ``client.post('topapi/message/corpconversation/asyncsend_v2')``:
dingtalk-sdk's own ``message.asyncsend_v2`` is routed to a hard-coded Taobao gateway and would
ignore ``DINGTALK_API_BASE``.

Tokens: ``AppKeyClient`` keeps the access token in ``KvStorage`` over the token store handed in
(``integrations.base.TokenStorage``; in the app ``services.kvstore.TokenStore``)
(shared with WeCom: Redis when configured, else the database — inside the caller's transaction
when one is open, because SQLite has one writer and a second connection would wait on it), with
a small in-process cache in front. A token the platform rejects is dropped and the call retried once.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urljoin, urlparse

import requests
from dingtalk.client import AppKeyClient
from dingtalk.core.exceptions import DingTalkClientException
from dingtalk.storage.kvstorage import KvStorage
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from config import DingTalkSettings, Settings
from integrations.base import (
    ChannelPause,
    ChatAdapter,
    DeliveryResult,
    MemoryKvStore,
    OutboundView,
    PermanentError,
    RateLimited,
    RateRule,
    TokenStorage,
    TransientError,
    beijing_time,
    jsapi_signature,
    markdown_safe,
    payload_label,
    person_ids,
    plain_safe,
    retry_on_stale_token,
)
from models import ChatGroup, Person

log = logging.getLogger(__name__)

CHANNEL = "dingtalk"
OAPI_HOST = "oapi.dingtalk.com"
HTTP_TIMEOUT = (5, 15)  # (connect, read) seconds, on every call

# errcodes ------------------------------------------------------------------------------------
# A token the platform no longer accepts: drop it and retry once. 88 is topapi's wrapper code,
# whose sub_code says which (40014 invalid, 42001 expired, …).
TOKEN_ERRORS = frozenset({33001, 40001, 40014, 41001, 42001})
WRAPPED_ERROR = 88
IP_NOT_WHITELISTED = 60020
ROBOT_TOO_FAST = 130101
ROBOT_SECURITY = 310000
ROBOT_BAN_SECONDS = 600  # DingTalk bans a robot for 10 minutes after 20 messages in a minute
BUSY_ERRORS = frozenset({-1, 90002, 90006, 90018})  # system busy / app QPS: retry later

# Custom robots accept 20 messages per sliding minute (and ban the robot for 10 minutes beyond).
# Counted in messages — a whistle is two (@-text + actionCard) — per sliding 62 s in 2 s slices
# (services.ratelimit): never more than 20 in any minute, two seconds to spare for the requests'
# travel, about 94 % of the quota for a steady sender.
ROBOT_RATE_LIMIT = 20
ROBOT_RATE_WINDOW = 62
ROBOT_RATE_SLICES = 31
# Work notifications: beyond 500 per user a day DingTalk drops them while answering ok. Windows
# of 8 hours start at 00:00, 08:00 and 16:00 Beijing time, so a Beijing day is exactly three of
# them: 3 × 166 = 498.
NOTICE_RULE = (166, 8 * 3600)

TIME_STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")


# --------------------------------------------------------------------------------------------
# Errors (platform-neutral; the adapter turns them into delivery outcomes)
# --------------------------------------------------------------------------------------------
class DingTalkError(Exception):
    """The platform answered with an error code (``errcode`` 0 never raises)."""

    def __init__(self, errcode: int | str | None, errmsg: str = "", *, http_status: int | None = None,
                 sub_code: str = ""):
        self.errcode = errcode
        self.errmsg = errmsg or ""
        self.http_status = http_status
        self.sub_code = sub_code
        super().__init__(f"钉钉返回错误 {errcode}：{self.errmsg}" if errcode is not None
                         else f"钉钉接口 HTTP {http_status}：{self.errmsg}")

    @property
    def is_token_error(self) -> bool:
        if self.errcode in TOKEN_ERRORS:
            return True
        if self.errcode == WRAPPED_ERROR:
            return str(self.sub_code) in {str(c) for c in TOKEN_ERRORS} or "access_token" in self.errmsg
        return False


class DingTalkNetworkError(DingTalkError):
    """No answer at all: timeout, refused connection, DNS."""

    def __init__(self, detail: str):
        super().__init__(None, detail)
        self.args = (f"无法连接钉钉服务器：{detail}",)

    def __str__(self) -> str:
        return self.args[0]


def _error_from_sdk(exc: DingTalkClientException) -> DingTalkError:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    sub_code = ""
    if response is not None:
        try:
            sub_code = str((response.json() or {}).get("sub_code") or "")
        except ValueError:
            sub_code = ""
    errcode = exc.errcode
    if errcode is not None:
        with contextlib.suppress(TypeError, ValueError):
            errcode = int(errcode)
    return DingTalkError(errcode, str(exc.errmsg or ""), http_status=status, sub_code=sub_code)


# --------------------------------------------------------------------------------------------
# Signatures (pure)
# --------------------------------------------------------------------------------------------
def hmac_sign(secret: str, timestamp_ms: int | str) -> str:
    """base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")) — used by both robot kinds."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_callback_sign(app_secret: str, timestamp: str | None, sign: str | None, now_ms: int,
                         window_seconds: int = 3600) -> str:
    """'' when an enterprise-robot callback's ``timestamp``/``sign`` headers are valid, else why not."""
    if not timestamp or not sign:
        return "缺少 timestamp 或 sign 请求头"
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        return "timestamp 格式不正确"
    if abs(now_ms - int(timestamp)) > window_seconds * 1000:
        return "timestamp 超出 1 小时有效期"
    expected = hmac_sign(app_secret, timestamp).encode()
    if not hmac.compare_digest(expected, sign.strip().encode()):
        return "签名不匹配"
    return ""


def robot_token(robot_key: str) -> str:
    """The custom robot's access token, whether the console holds the token or the whole webhook URL."""
    key = (robot_key or "").strip()
    if "://" in key:
        found = parse_qs(urlparse(key).query).get("access_token")
        return found[0].strip() if found else ""
    return key


def h5_link(base_url: str, path: str) -> str:
    """A link DingTalk opens inside its own browser (PC: the side panel), where 免登 works."""
    target = path if path.startswith(("http://", "https://")) else base_url.rstrip("/") + "/" + path.lstrip("/")
    return f"dingtalk://dingtalkclient/page/link?url={quote(target, safe='')}&pc_slide=true"


# --------------------------------------------------------------------------------------------
# Token storage
# --------------------------------------------------------------------------------------------
class _LayeredKv:
    """Memory first, then the shared store; a failing shared store costs a token fetch, not a message."""

    def __init__(self, memory: MemoryKvStore, shared):
        self.memory = memory
        self.shared = shared

    @staticmethod
    def _ttl(ttl: int | None) -> int | None:
        # Renew well before the platform's expiry so no call carries a token that dies on the way.
        return max(int(ttl) - 300, 60) if ttl and int(ttl) > 600 else ttl

    def get(self, key: str) -> str | None:
        value = self.memory.get(key)
        if value is not None or self.shared is None:
            return value
        try:
            value = self.shared.get(key)
        except Exception:
            log.warning("dingtalk: shared token store unreadable, fetching a new token", exc_info=True)
            return None
        if value is not None:
            self.memory.set(key, value, 300)
        return value

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        ttl = self._ttl(ttl)
        self.memory.set(key, value, ttl)
        if self.shared is not None:
            try:
                self.shared.set(key, value, ttl)
            except Exception:
                log.warning("dingtalk: could not share a token through the store", exc_info=True)

    def delete(self, key: str) -> None:
        self.memory.delete(key)
        if self.shared is not None:
            try:
                self.shared.delete(key)
            except Exception:
                log.warning("dingtalk: could not drop a token from the store", exc_info=True)


class _Client(AppKeyClient):
    """``AppKeyClient`` with relative endpoint paths, so ``DINGTALK_API_BASE`` may carry a path
    (an intranet egress proxy such as ``https://proxy.example.gov.cn/oapi/``)."""

    def get_access_token(self):
        return self._request("GET", "gettoken", params={"appkey": self.app_key, "appsecret": self.app_secret})

    def get_jsapi_ticket(self):
        # The SDK's own asks for "/get_jsapi_ticket", which would drop a path in DINGTALK_API_BASE.
        return self.get("get_jsapi_ticket")


# --------------------------------------------------------------------------------------------
# The API facade
# --------------------------------------------------------------------------------------------
class DingTalkApi:
    """Every DingTalk call the desk makes, each with a timeout and one neutral error type.

    ``session`` (optional on each call): an open database session in which the token may be
    read and written. Give it whenever a transaction is open on SQLite.
    """

    def __init__(
        self,
        settings: DingTalkSettings,
        *,
        tokens: TokenStorage | None = None,
        timeout: tuple[float, float] = HTTP_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ):
        self.settings = settings
        self.tokens = tokens if tokens is not None else MemoryKvStore()
        self.timeout = timeout
        self.clock = clock
        self.memory = MemoryKvStore()
        self.http = requests.Session()
        self.api_base = settings.api_base if settings.api_base.endswith("/") else settings.api_base + "/"
        self.openapi_base = settings.openapi_base if settings.openapi_base.endswith("/") else settings.openapi_base + "/"

    def in_session(self, session: Session) -> DingTalkApi:
        """The same facade (same caches) reading and writing tokens in ``session``."""
        bound = copy.copy(self)
        bound.tokens = self.tokens.in_session(session)
        return bound

    # -- plumbing ------------------------------------------------------------------------------
    def _store(self, session: Session | None):
        return _LayeredKv(self.memory, self.tokens.in_session(session) if session is not None else self.tokens)

    def client(self, session: Session | None = None) -> AppKeyClient:
        corp_id = getattr(self.settings, "corp_id", "") or self.settings.app_key
        client = _Client(corp_id, self.settings.app_key, self.settings.app_secret,
                         storage=KvStorage(self._store(session), prefix="dingtalk"),
                         timeout=self.timeout, auto_retry=False)
        client.API_BASE_URL = self.api_base
        return client

    def call(self, path: str, data: dict[str, Any], *, session: Session | None = None) -> dict[str, Any]:
        """POST a legacy ``oapi`` endpoint (``topapi/...``) with the access token; one retry on a stale token."""
        client = self.client(session)

        def post() -> dict[str, Any]:
            try:
                result = client.post(path.lstrip("/"), data=data)
            except DingTalkClientException as exc:
                raise _error_from_sdk(exc) from exc
            except requests.RequestException as exc:
                raise DingTalkNetworkError(f"{exc.__class__.__name__}: {exc}") from exc
            if not isinstance(result, dict):
                raise DingTalkError(None, "钉钉返回了无法解析的内容", http_status=getattr(result, "status_code", None))
            return result

        return retry_on_stale_token(
            post, stale=lambda error: isinstance(error, DingTalkError) and error.is_token_error,
            renew=client.cache.access_token.delete, platform=f"dingtalk {path}",
        )

    def _post_json(self, url: str, body: dict[str, Any], *, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self.http.post(url, params=params, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            raise DingTalkNetworkError(f"{exc.__class__.__name__}: {exc}") from exc
        try:
            result = response.json()
        except ValueError:
            result = None
        if not isinstance(result, dict):
            raise DingTalkError(None, response.text[:200], http_status=response.status_code)
        errcode = result.get("errcode", 0)
        if response.status_code >= 400 or (errcode not in (0, "0", None)):
            code = errcode if errcode not in (0, "0", None) else result.get("code")
            with contextlib.suppress(TypeError, ValueError):
                code = int(code)
            raise DingTalkError(code, str(result.get("errmsg") or result.get("message") or ""),
                                http_status=response.status_code)
        return result

    # -- identity and roster ---------------------------------------------------------------------
    def user_id_from_code(self, code: str, *, session: Session | None = None) -> str:
        """免登: the userid behind an H5 ``requestAuthCode`` code (single-use, 5 minutes)."""
        result = self.call("topapi/v2/user/getuserinfo", {"code": code}, session=session)
        userid = str((result.get("result") or {}).get("userid") or "")
        if not userid:
            raise DingTalkError(result.get("errcode"), "免登码未对应任何用户")
        return userid

    def list_users(self, dept_id: int | str, *, session: Session | None = None, page_size: int = 100) -> list[dict]:
        """All members of one department (``topapi/v2/user/list``, following the cursor)."""
        users: list[dict] = []
        cursor = 0
        for _ in range(10_000):  # a guard, not a limit: 1 million members
            result = self.call("topapi/v2/user/list", {"dept_id": int(dept_id), "cursor": cursor, "size": page_size,
                                                       "contain_access_limit": False, "language": "zh_CN"},
                               session=session)
            page = result.get("result") or {}
            users.extend(page.get("list") or [])
            if not page.get("has_more"):
                break
            cursor = page.get("next_cursor")
        return users

    # -- JSAPI in the H5 pages (dd.config) -------------------------------------------------------
    def jsapi_config(self, url: str, *, timestamp: int, nonce: str,
                     session: Session | None = None) -> dict[str, Any]:
        """What the page hands to ``dd.config`` for ``url`` (the page's own address without its
        fragment). The app's jsapi_ticket (``get_jsapi_ticket``) is kept by the SDK in the token store
        beside the access token: fetched once per lifetime and shared by every process."""
        client = self.client(session)

        def ticket() -> str:
            try:
                return str(client.jsapi_ticket or "")
            except DingTalkClientException as exc:
                raise _error_from_sdk(exc) from exc
            except (KeyError, TypeError) as exc:
                raise DingTalkError(None, "钉钉未返回 jsapi_ticket") from exc
            except requests.RequestException as exc:
                raise DingTalkNetworkError(f"{exc.__class__.__name__}: {exc}") from exc

        value = retry_on_stale_token(
            ticket, stale=lambda error: isinstance(error, DingTalkError) and error.is_token_error,
            renew=client.cache.access_token.delete, platform="dingtalk get_jsapi_ticket",
        )
        if not value:
            raise DingTalkError(None, "钉钉未返回 jsapi_ticket")
        return {"agentId": str(self.settings.agent_id), "corpId": self.settings.corp_id, "timeStamp": timestamp,
                "nonceStr": nonce, "signature": jsapi_signature(value, nonce, timestamp, url)}

    # -- sending -------------------------------------------------------------------------------
    def send_work_notice(self, userids: Iterable[str], msg: dict[str, Any], *,
                         session: Session | None = None) -> str:
        """A work notification (工作通知) to up to 100 users; returns DingTalk's task id."""
        ids = [u for u in dict.fromkeys(userids) if u]
        if not ids:
            raise DingTalkError(None, "没有可发送的钉钉用户")
        agent_id = self.settings.agent_id
        data = {"agent_id": int(agent_id) if str(agent_id).isdigit() else agent_id,
                "userid_list": ",".join(ids[:100]), "msg": msg}
        result = self.call("topapi/message/corpconversation/asyncsend_v2", data, session=session)
        return str(result.get("task_id") or "")

    def robot_url(self, robot_key: str, secret: str, timestamp_ms: int | None = None) -> str:
        params = {"access_token": robot_token(robot_key)}
        if secret:
            timestamp_ms = int(self.clock() * 1000) if timestamp_ms is None else timestamp_ms
            params |= {"timestamp": str(timestamp_ms), "sign": hmac_sign(secret, timestamp_ms)}
        return urljoin(self.api_base, "robot/send") + "?" + urlencode(params)

    def send_robot(self, robot_key: str, secret: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST a message to a custom group robot, signed when it has a secret (加签)."""
        if not robot_token(robot_key):
            raise DingTalkError(None, "群机器人缺少 access_token")
        return self._post_json(self.robot_url(robot_key, secret), body)

    def session_webhook_target(self, url: str) -> str:
        """Where to post a ``sessionWebhook``: only ever back to DingTalk (the URL arrived in a
        callback), and through ``DINGTALK_API_BASE`` when that is an egress proxy."""
        parsed = urlparse(url)
        if parsed.netloc not in {urlparse(self.api_base).netloc, OAPI_HOST} or parsed.scheme not in ("http", "https"):
            raise DingTalkError(None, f"sessionWebhook 的地址不属于钉钉接口域名：{parsed.netloc}")
        target = urljoin(self.api_base, parsed.path.lstrip("/"))
        return f"{target}?{parsed.query}" if parsed.query else target

    def send_session_webhook(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer in the conversation an enterprise-robot message came from."""
        return self._post_json(self.session_webhook_target(url), body)

    def new_api_token(self) -> str:
        """An access token for the new API (``api.dingtalk.com/v1.0``), cached like the legacy one."""
        key = f"dingtalk:newapi:{self.settings.app_key}"
        store = self._store(None)
        cached = store.get(key)
        if cached:
            return cached
        result = self._post_json(urljoin(self.openapi_base, "v1.0/oauth2/accessToken"),
                                 {"appKey": self.settings.app_key, "appSecret": self.settings.app_secret})
        token = str(result.get("accessToken") or "")
        if not token:
            raise DingTalkError(None, "钉钉未返回 accessToken")
        store.set(key, token, int(result.get("expireIn") or 7200))
        return token


# --------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------
ROBOT_SECURITY_HELP = (
    "钉钉群机器人安全设置校验失败（310000）：请在「管理 → 部门」核对该群机器人的 Webhook 与加签密钥（SEC 开头）"
    "是否与钉钉群设置一致；若使用「自定义关键词」，消息须包含关键词（建议设为“工单”）；"
    "若使用「IP 地址段」，须加入本系统服务器的出口 IP。"
)
IP_WHITELIST_HELP = (
    "钉钉拒绝了本服务器的出口 IP（60020）：请在钉钉开发者后台「开发管理 → 服务器出口 IP」中加入本系统的出口 IP。"
)


def _now_stamp(now: datetime) -> str:
    return beijing_time(now, "%Y-%m-%d %H:%M")


def _with_reference(text: str, order_number: str, now: datetime) -> str:
    """Order number and time in every work notification (identical content is dropped for a day)."""
    text = (text or "").strip()
    if order_number and order_number not in text:
        text = f"{text}\n工单 {order_number}" if text else f"工单 {order_number}"
    if not TIME_STAMP.search(text):
        text = f"{text}\n{_now_stamp(now)}"
    return text


def group_text(kind: str, payload: dict[str, Any], base_url: str) -> str:
    """A group robot's text: the title goes in front except for @-texts, status lines and replies."""
    text = plain_safe(str(payload.get("text") or "").strip(), base_url)
    title = plain_safe(str(payload.get("title") or "").strip(), base_url)
    if title and kind not in ("whistle", "status", "reply") and title not in text:
        text = f"【{title}】\n{text}"
    return text


def whistle_card_body(payload: dict[str, Any], link: str, base_url: str) -> dict[str, Any]:
    """The actionCard a group gets after the whistle's @-text."""
    number = str(payload.get("order_number") or "")
    card = payload.get("card") if isinstance(payload.get("card"), dict) else {}
    title = plain_safe(str(card.get("title") or "").strip(), base_url) or f"吹哨报到：{number}"
    lines = [f"### {markdown_safe(title, base_url)}"]
    if card.get("heading"):
        lines.append(f"**{markdown_safe(str(card['heading']).strip(), base_url)}**")
    lines += [markdown_safe(str(line or "").strip(), base_url) for line in card.get("lines") or []]
    return {"msgtype": "actionCard", "actionCard": {
        "title": title, "text": "\n\n".join(lines), "btnOrientation": "0",
        "singleTitle": payload_label(payload, "open", "打开工单"), "singleURL": link}}


def notice_body(kind: str, payload: dict[str, Any], base_url: str, now: datetime) -> dict[str, Any]:
    """A work notification for a notice (actionCard opening the order when it has a link, else text)."""
    number = str(payload.get("order_number") or "")
    title = plain_safe(str(payload.get("title") or "").strip(), base_url)
    text = plain_safe(str(payload.get("text") or "").strip(), base_url)
    body = _with_reference(f"【{title}】\n{text}" if title and kind != "reply" else text, number, now)
    link = h5_link(base_url, str(payload["url"])) if payload.get("url") else ""
    if link:
        return {"msgtype": "action_card", "action_card": {
            "title": title or payload_label(payload, "sender", "有需必应"),
            "markdown": markdown_safe(body, base_url).replace("\n", "\n\n"),
            "single_title": (payload_label(payload, "survey", "填写问卷") if kind == "survey"
                             else payload_label(payload, "open", "查看工单")), "single_url": link}}
    return {"msgtype": "text", "text": {"content": body}}


def card_body(payload: dict[str, Any], link: str, base_url: str, now: datetime) -> dict[str, Any]:
    """The whistle card for one chief helper: an action_card work notification."""
    number = str(payload.get("order_number") or "")
    title = plain_safe(str(payload.get("title") or "").strip(), base_url) or f"工单 {number}"

    def md(value: Any) -> str:
        return markdown_safe(str(value or "").strip(), base_url)

    parts = [f"### {md(title)}", md(payload.get("text"))]
    parts += [f"- {md(name)}：{md(value)}" for name, value in (payload.get("fields") or []) if name]
    if payload.get("hint"):
        parts.append(md(payload["hint"]))
    elif number:
        parts.append(f"可在群内 @机器人 发送「报到 {number[-4:]}」接单，或点击下方按钮处理。")
    parts.append(_now_stamp(now))
    return {"msgtype": "action_card", "action_card": {
        "title": title, "markdown": "\n\n".join(p for p in parts if p),
        "single_title": payload_label(payload, "sign", "打开工单报到"), "single_url": link}}


def card_closed_body(payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """DingTalk cannot grey a sent work notification: the outcome follows as a short text."""
    number = str(payload.get("order_number") or "")
    label = str(payload.get("label") or "已处理")
    return {"msgtype": "text", "text": {"content": _with_reference(f"【{label}】工单 {number}", number, now)}}


def preview(kind: str, target_type: str, payload: dict[str, Any], base_url: str, now: datetime) -> list[dict[str, Any]]:
    """The bodies the adapter would send for a message, without sending (the studio's preview): a
    group gets the text, then for a whistle the actionCard; a person one work notification."""
    link = h5_link(base_url, str(payload.get("url") or "")) if payload.get("url") else ""
    if target_type == "group":
        bodies = [{"msgtype": "text", "text": {"content": group_text(kind, payload, base_url)}}]
        if kind == "whistle" and link:
            bodies.append(whistle_card_body(payload, link, base_url))
        return bodies
    if kind == "card":
        return [card_body(payload, link, base_url, now)]
    if kind == "card_update":
        return [card_closed_body(payload, now)]
    return [notice_body(kind, payload, base_url, now)]


def _when_outcome_commits(session: Session, action: Callable[[Session], None]) -> None:
    """Run ``action`` just before the delivery's outer transaction commits (with the message's
    outcome). A failed delivery's savepoint is rolled back, but what it learned about the
    robot's configuration must outlive it."""
    session.info.setdefault("dingtalk_after_delivery", []).append(action)
    if not session.info.get("dingtalk_after_delivery_hooked"):
        session.info["dingtalk_after_delivery_hooked"] = True
        event.listen(session, "before_commit", _run_after_delivery)


def _run_after_delivery(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint, not the outcome
    for action in session.info.pop("dingtalk_after_delivery", []):
        action(session)


class _RobotMisconfigured(PermanentError):
    """310000: the robot's security settings (sign, keyword, IP range) refused the message."""


class DingTalkAdapter(ChatAdapter):
    name = CHANNEL

    def __init__(self, settings: Settings, api: DingTalkApi | None = None, *, tokens: TokenStorage | None = None):
        self.settings = settings
        self.api = api or DingTalkApi(settings.dingtalk, tokens=tokens)

    # -- buckets -------------------------------------------------------------------------------
    def rate_rules(self, message: OutboundView) -> tuple[RateRule, ...]:
        if message.target_type == "group":
            return (RateRule(f"dingtalk:robot:{message.target_ref}", ROBOT_RATE_LIMIT, ROBOT_RATE_WINDOW,
                             slices=ROBOT_RATE_SLICES, cost=2 if message.kind == "whistle" else 1),)
        if message.target_type in ("person", "people"):
            return tuple(RateRule(f"dingtalk:notice:{person_id}", *NOTICE_RULE)
                         for person_id in person_ids(message.target_ref))
        return ()

    def channel_key(self, message: OutboundView) -> str:
        if message.target_type == "group":
            return f"dingtalk:robot:{message.target_ref}"
        if message.target_type == "session":
            return "dingtalk:session"
        return "dingtalk:app"

    # -- entry -----------------------------------------------------------------------------------
    def deliver(self, message: OutboundView, session: Session, *, now: datetime) -> DeliveryResult:
        if message.target_type == "group":
            return self._to_group(message, session, now)
        if message.target_type == "session":
            return self._to_session(message, session, now)
        if message.target_type in ("person", "people"):
            return self._to_people(message, session, now)
        raise PermanentError(f"钉钉不支持的接收方类型：{message.target_type}")

    # -- errors --------------------------------------------------------------------------------
    def _outcome(self, error: DingTalkError, channel_key: str) -> Exception:
        if isinstance(error, DingTalkNetworkError):
            return TransientError(str(error))
        if error.errcode == IP_NOT_WHITELISTED:
            log.error("dingtalk: egress IP not whitelisted (60020): %s", error.errmsg)
            return PermanentError(IP_WHITELIST_HELP)
        if error.errcode == ROBOT_TOO_FAST:
            return RateLimited(ROBOT_BAN_SECONDS, channel_key, "钉钉群机器人发送过快（130101），暂停 10 分钟后继续发送")
        if error.errcode in BUSY_ERRORS or error.is_token_error or (error.http_status or 0) >= 500:
            return TransientError(str(error))
        if error.errcode is None and error.http_status in (None, 408, 429):
            return TransientError(str(error))
        return PermanentError(str(error))

    # -- group robot ---------------------------------------------------------------------------
    def _group(self, session: Session, ref: str) -> ChatGroup:
        group = session.get(ChatGroup, int(ref)) if ref.isdigit() else None
        if group is None or group.platform != CHANNEL:
            raise PermanentError("钉钉群不存在（可能已解除绑定）")
        if not group.active:
            raise PermanentError(f"钉钉群「{group.name}」已停用")
        if not robot_token(group.robot_key):
            raise PermanentError(f"钉钉群「{group.name}」未配置群机器人 Webhook")
        return group

    def _robot(self, group: ChatGroup, body: dict[str, Any], channel_key: str) -> None:
        try:
            self.api.send_robot(group.robot_key, group.robot_secret, body)
        except DingTalkError as error:
            if error.errcode == ROBOT_SECURITY:
                log.error("dingtalk: robot of group %s (%s) refused the message: 310000 %s",
                          group.id, group.name, error.errmsg)
                raise _RobotMisconfigured(f"{ROBOT_SECURITY_HELP}（钉钉原文：{error.errmsg[:120]}）") from error
            raise self._outcome(error, channel_key) from error

    def _people_userids(self, session: Session, person_ids: Iterable[Any]) -> list[tuple[Person, str]]:
        ids = []
        for value in person_ids:
            try:
                ids.append(int(value))
            except (TypeError, ValueError):
                continue
        if not ids:
            return []
        people = session.scalars(select(Person).where(Person.id.in_(ids)))
        by_id = {p.id: p for p in people if p.active and p.dingtalk_userid}
        return [(by_id[i], by_id[i].dingtalk_userid) for i in ids if i in by_id]

    def _plain(self, text: Any) -> str:
        return plain_safe(str(text or "").strip(), self.settings.base_url)

    def _markdown(self, text: Any) -> str:
        return markdown_safe(str(text or "").strip(), self.settings.base_url)

    def _order_link(self, message: OutboundView) -> str:
        path = str(message.payload.get("url") or "")
        return h5_link(self.settings.base_url, path) if path else ""

    @staticmethod
    def _mention_text(text: str, mentioned: list[tuple[Person, str]]) -> str:
        """``@姓名`` becomes ``@userid`` (DingTalk shows it as the name and highlights it)."""
        missing = []
        for person, userid in sorted(mentioned, key=lambda pair: len(pair[0].name), reverse=True):
            pattern = re.compile(rf"@{re.escape(person.name)}(?=\s|$|[，,。])")
            text, count = pattern.subn(f"@{userid}", text, count=1)
            if not count:
                missing.append(f"@{userid}")
        return f"{text}\n{' '.join(missing)}" if missing else text

    def _to_group(self, message: OutboundView, session: Session, now: datetime) -> DeliveryResult:
        group = self._group(session, message.target_ref)
        key = self.channel_key(message)
        payload = message.payload
        text = group_text(message.kind, payload, self.settings.base_url)
        if not text:
            raise PermanentError("消息内容为空")
        if message.kind == "whistle":
            mentioned = self._people_userids(session, payload.get("mentions") or [])
            body = {"msgtype": "text", "text": {"content": self._mention_text(text, mentioned)},
                    "at": {"atUserIds": [u for _, u in mentioned], "isAtAll": False}}
        else:
            body = {"msgtype": "text", "text": {"content": text}}
        try:
            self._robot(group, body, key)
        except _RobotMisconfigured as error:
            # The message fails (dead letter) but the console must show why, on the group itself.
            group_id, explanation = group.id, str(error)
            _when_outcome_commits(session, lambda s: s.execute(
                update(ChatGroup).where(ChatGroup.id == group_id).values(last_error=explanation)))
            raise
        group.last_error = ""
        if message.kind != "whistle":
            return DeliveryResult(detail=f"已发到钉钉群「{group.name}」")
        card_detail, pauses = self._whistle_card(group, message, key, now)
        return DeliveryResult(detail=f"已 @ {len(body['at']['atUserIds'])} 人" + card_detail, pauses=pauses)

    def _whistle_card(self, group: ChatGroup, message: OutboundView, key: str,
                      now: datetime) -> tuple[str, tuple[ChannelPause, ...]]:
        """The actionCard after the @-text. The @ (the part that matters) is out already, so a
        failure here is logged and reported, never retried: a retry would @ everyone again; a
        throttled robot is paused through the result (delivery records it with the outcome)."""
        link = self._order_link(message)
        if not link:
            return "", ()
        body = whistle_card_body(message.payload, link, self.settings.base_url)
        try:
            self._robot(group, body, key)
        except _RobotMisconfigured as exc:
            group.last_error = str(exc)
            return "；卡片未发出（机器人安全设置校验失败）", ()
        except RateLimited as exc:
            until = now + timedelta(seconds=exc.retry_after_seconds)
            log.warning("dingtalk: whistle %s card not sent, robot paused: %s", message.id, exc)
            return "；卡片未发出（机器人限流）", (ChannelPause(key, until, str(exc)),)
        except (PermanentError, TransientError) as exc:
            log.warning("dingtalk: whistle %s card not sent: %s", message.id, exc)
            return f"；卡片未发出：{exc}", ()
        return "；已发卡片", ()

    # -- session webhook (answers in the group) -----------------------------------------------------
    def _to_session(self, message: OutboundView, session: Session, now: datetime) -> DeliveryResult:
        payload = message.payload
        text = self._plain(payload.get("text"))
        if not text:
            raise PermanentError("回复内容为空")
        at_user_ids = [str(u) for u in payload.get("at_user_ids") or [] if u]
        webhook = str(payload.get("session_webhook") or "")
        expires_ms = int(payload.get("expires_at") or 0)
        # DingTalk's own clock issued the expiry: compare with the wall clock, keep a margin.
        if webhook and self.api.clock() * 1000 < expires_ms - 30_000:
            mentions = " ".join(f"@{u}" for u in at_user_ids)
            body = {"msgtype": "text", "text": {"content": f"{mentions} {text}".strip() if mentions else text},
                    "at": {"atUserIds": at_user_ids, "isAtAll": False}}
            try:
                self.api.send_session_webhook(webhook, body)
                return DeliveryResult(detail="已在钉钉群内回复")
            except DingTalkError as error:
                outcome = self._outcome(error, self.channel_key(message))
                if isinstance(outcome, TransientError | RateLimited):
                    raise outcome from error
                log.warning("dingtalk: session reply %s refused (%s), sending a work notice instead", message.id, error)
        if not at_user_ids:
            raise PermanentError("会话已过期，且没有可改发工作通知的用户")
        self._notice(at_user_ids, {"msgtype": "text", "text": {"content": _with_reference(text, "", now)}}, session)
        return DeliveryResult(detail="群会话已过期，已改发工作通知")

    # -- work notifications ----------------------------------------------------------------------
    def _notice(self, userids: list[str], msg: dict[str, Any], session: Session) -> str:
        try:
            return self.api.send_work_notice(userids, msg, session=session)
        except DingTalkError as error:
            raise self._outcome(error, "dingtalk:app") from error

    def _to_people(self, message: OutboundView, session: Session, now: datetime) -> DeliveryResult:
        refs = message.target_ref.split(",") if message.target_type == "people" else [message.target_ref]
        recipients = self._people_userids(session, refs)
        if not recipients:
            raise PermanentError("收件人未绑定钉钉账号或已停用")
        userids = [u for _, u in recipients]
        payload = message.payload
        if message.kind == "card":
            msg = self._card_msg(message, session, now)
        elif message.kind == "card_update":
            msg = card_closed_body(payload, now)
        else:
            if not self._plain(payload.get("text")) and not self._plain(payload.get("title")):
                raise PermanentError("消息内容为空")
            msg = notice_body(message.kind, payload, self.settings.base_url, now)
        task_id = self._notice(userids, msg, session)
        return DeliveryResult(platform_message_id=task_id, detail=f"工作通知已发给 {len(userids)} 人")

    def _card_msg(self, message: OutboundView, session: Session, now: datetime) -> dict[str, Any]:
        link = self._order_link(message)
        if not link:
            raise PermanentError("卡片缺少工单链接")
        return card_body(message.payload, link, self.settings.base_url, now)
