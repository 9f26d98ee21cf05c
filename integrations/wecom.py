"""WeCom (企业微信): the API client, a small facade over it, and the delivery adapter.

* ``WeComClient`` is wechatpy's enterprise client with every call — ``gettoken`` included —
  under ``WECOM_API_BASE`` and a timeout on each (wechatpy's own token fetch has none). The
  access token lives in one place shared by every process (Redis, or the ``kv_entry`` table);
  a token WeCom calls invalid or expired (40001/40014/42001) is fetched anew and the call is
  retried once, never in a loop.
* ``WeComApi`` is what the rest of the desk calls: OAuth code → userid, members, app messages,
  the group robot webhook, greying template cards. Platform errors come out as ``WeComApiError``.
* ``WeComAdapter`` renders the outbox's neutral payloads: whistles and status lines as group
  robot texts (the whistle @-mentions the chief helpers), the whistle card as one
  ``button_interaction`` template card to all the helpers at once, card updates with
  ``update_template_card`` (``atall``), notices as text cards linking to the order, replies
  as texts. People without a bound WeCom userid are skipped, not failed.

The token store is handed in (``integrations.base.TokenStorage``; in the app the shared
``services.kvstore.TokenStore``): on SQLite it goes through the session the caller is working in
whenever one is bound (``WeComApi.bound(session)``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import requests
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from config import Settings, WeComSettings
from integrations import wecom_cards as cards
from integrations.base import (
    ChatAdapter,
    DeliveryResult,
    MemoryKvStore,
    OutboundView,
    PermanentError,
    RateLimited,
    RateRule,
    TokenStorage,
    TransientError,
    jsapi_signature,
    person_ids,
    plain_safe,
    retry_on_stale_token,
)
from models import ChatGroup, OutboundMessage, OutboxStatus, Person, WeComCardCode

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"
HTTP_TIMEOUT_SECONDS = 8.0
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})  # invalid credential, invalid token, expired token
INVALID_CODE_ERRCODES = frozenset({40029})  # OAuth code invalid, used or expired
INVALID_USER_ERRCODES = frozenset({60111, 81013})  # userid not found; user & party & tag all invalid
INVALID_ROBOT_ERRCODES = frozenset({93000})  # webhook key invalid or robot removed
ROBOT_LIMITED = 130101
API_FREQ_LIMITED = 45009
ROBOT_PAUSE_SECONDS = 60
APP_PAUSE_SECONDS = 60
# WeCom counts 20 per robot and 30 per member on a sliding minute (member messages over it are
# dropped silently). Counted per sliding 62 s in 2 s slices (services.ratelimit): never more than
# the quota in any minute, with two seconds to spare for the time a request takes to arrive, and a
# steady sender gets 31/32 × 60/62 ≈ 94 % of it.
ROBOT_RULE = (20, 62, 31)
MEMBER_RULE = (30, 62, 31)
# 1000/h per member: a sliding hour overlaps at most seven 10-minute windows, 7 × 142 = 994.
MEMBER_HOUR_RULE = (142, 600)
RESPONSE_CODE_LIFETIME = timedelta(hours=72)
TOKEN_EARLY_REFRESH_SECONDS = 300  # stop using a token 5 minutes before WeCom says it ends


class WeComApiError(Exception):
    """WeCom answered with an error code, or could not be reached (``errcode`` None)."""

    def __init__(self, errcode: int | None, errmsg: str = ""):
        self.errcode = errcode
        self.errmsg = errmsg or ""
        super().__init__(f"企业微信错误 {errcode}：{errmsg}" if errcode is not None else f"企业微信接口不可达：{errmsg}")


class ForeignResponseUrl(WeComApiError):
    """A response_url outside WeCom's API host: never posted to."""


# --- The client ---------------------------------------------------------------------------------


def _normalised_base(api_base: str) -> str:
    base = (api_base or DEFAULT_API_BASE).strip()
    return base if base.endswith("/") else base + "/"


class WeComClient(WeChatClient):
    """wechatpy's enterprise client under our base URL, with timeouts and a bounded token retry."""

    def __init__(self, settings: WeComSettings, storage: TokenStorage, *, timeout: float = HTTP_TIMEOUT_SECONDS):
        super().__init__(settings.corp_id, settings.secret, session=storage, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = _normalised_base(settings.api_base)

    @property
    def access_token(self):
        """The shared token; its storage entry expires early, so no per-process expiry is kept."""
        token = self.session.get(self.access_token_key)
        if token:
            return token
        self.fetch_access_token()
        return self.session.get(self.access_token_key)

    def fetch_access_token(self):
        try:
            response = self._http.get(
                self.API_BASE_URL + "gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret},
                timeout=self.timeout,
            )
            response.raise_for_status()
            result = response.json()
        except (requests.RequestException, ValueError) as error:
            raise WeChatClientException(None, f"gettoken: {type(error).__name__}: {error}", client=self) from error
        errcode = int(result.get("errcode") or 0)
        if errcode != 0 or not result.get("access_token"):
            raise WeChatClientException(errcode or -1, result.get("errmsg", "no access_token"), client=self)
        expires_in = int(result.get("expires_in") or 7200)
        ttl = max(expires_in - TOKEN_EARLY_REFRESH_SECONDS, 60)
        self.session.set(self.access_token_key, result["access_token"], ttl)
        log.info("wecom: fetched a new access token (valid %s s, used for %s s)", expires_in, ttl)
        return result

    def _request(self, method, url_or_endpoint, **kwargs):
        # Each attempt gets its own copies: wechatpy writes the token into ``params`` and turns
        # ``data`` into bytes in place.
        params = dict(kwargs.pop("params", None) or {})
        explicit_token = "access_token" in params

        def renew():
            self.session.delete(self.access_token_key)
            self.fetch_access_token()

        return retry_on_stale_token(
            lambda: super(WeComClient, self)._request(method, url_or_endpoint, params=dict(params), **dict(kwargs)),
            stale=lambda error: (isinstance(error, WeChatClientException) and not explicit_token
                                 and error.errcode in TOKEN_ERRCODES),
            renew=renew, platform="wecom",
        )


# --- The facade ---------------------------------------------------------------------------------


def _api_error(error: Exception) -> WeComApiError:
    if isinstance(error, WeComApiError):
        return error
    if isinstance(error, WeChatClientException):
        errcode = error.errcode
        try:
            errcode = int(errcode) if errcode is not None else None
        except (TypeError, ValueError):
            errcode = None
        return WeComApiError(errcode, str(error.errmsg or ""))
    return WeComApiError(None, f"{type(error).__name__}: {error}")


class WeComApi:
    """The WeCom calls the desk makes. Every method raises ``WeComApiError`` on failure."""

    def __init__(self, settings: WeComSettings, storage: TokenStorage, *, timeout: float = HTTP_TIMEOUT_SECONDS):
        self.settings = settings
        self.storage = storage
        self.client = WeComClient(settings, storage, timeout=timeout)
        self.base = _normalised_base(settings.api_base)
        self.timeout = timeout

    @property
    def agent_id(self) -> int:
        try:
            return int(self.settings.agent_id)
        except (TypeError, ValueError):
            raise WeComApiError(None, f"WECOM_AGENT_ID 不是数字：{self.settings.agent_id!r}") from None

    @contextmanager
    def bound(self, session: Session) -> Iterator[WeComApi]:
        """Token reads and writes go through ``session`` inside this block (see the module docstring)."""
        with self.storage.bound(session):
            yield self

    def _call(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except (WeChatClientException, requests.RequestException, ValueError) as error:
            raise _api_error(error) from error

    def _get(self, endpoint: str, **params) -> dict[str, Any]:
        return self._call(lambda: self.client.get(endpoint, params=params))

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call(lambda: self.client.post(endpoint, data=body))

    # OAuth (snsapi_base) for the H5 pages.
    def user_id_from_code(self, code: str) -> str | None:
        """The member's userid behind a one-time OAuth code; None for a code that is invalid, used
        or expired, or that belongs to someone outside the corp (WeCom gives an openid then)."""
        try:
            result = self._get("auth/getuserinfo", code=code)
        except WeComApiError as error:
            if error.errcode in INVALID_CODE_ERRCODES:
                return None
            raise
        return str(result.get("userid") or result.get("UserId") or "") or None

    # Members.
    def get_user(self, userid: str) -> dict[str, Any]:
        return self._get("user/get", userid=userid)

    def list_users(self, department_id: int, *, fetch_child: bool = True) -> list[dict[str, Any]]:
        result = self._get("user/list", department_id=int(department_id), fetch_child=1 if fetch_child else 0)
        return list(result.get("userlist") or [])

    # App messages.
    def send_app_message(self, userids: Sequence[str], message: dict[str, Any]) -> dict[str, Any]:
        agent_id = self.agent_id
        return self._call(lambda: self.client.message.send(agent_id, list(userids), msg=message))

    def update_template_card(self, response_code: str, label: str, *, userids: Sequence[str] = ()) -> dict[str, Any]:
        return self._post("message/update_template_card",
                          cards.update_buttons_body(self.agent_id, response_code, label, userids))

    # JS-SDK in the H5 pages: wx.config (the corp's ticket) and wx.agentConfig (the app's ticket).
    def _ticket(self, kind: str) -> str:
        key = f"wecom:jsapi-ticket:{kind}:{self.settings.corp_id}:{self.settings.agent_id}"
        ticket = self.storage.get(key)
        if ticket:
            return ticket
        if kind == "corp":
            result = self._get("get_jsapi_ticket")
        else:
            result = self._get("ticket/get", type="agent_config")
        ticket = str(result.get("ticket") or "")
        if not ticket:
            raise WeComApiError(None, "企业微信未返回 jsapi_ticket")
        lifetime = int(result.get("expires_in") or 7200)
        self.storage.set(key, ticket, max(lifetime - TOKEN_EARLY_REFRESH_SECONDS, 60))
        return ticket

    def jsapi_config(self, url: str, *, timestamp: int, nonce: str) -> dict[str, Any]:
        """What the page hands to ``wx.config`` and ``wx.agentConfig`` for ``url`` (the page's own
        address without its fragment)."""
        return {
            "corpid": self.settings.corp_id, "agentid": str(self.settings.agent_id), "timestamp": timestamp,
            "nonceStr": nonce, "signature": jsapi_signature(self._ticket("corp"), nonce, timestamp, url),
            "agentSignature": jsapi_signature(self._ticket("agent"), nonce, timestamp, url),
        }

    # The intelligent robot's answer: once, to the response_url WeCom put in the message.
    def response_url_target(self, url: str) -> str:
        """Only ever back to WeCom's own API host (the URL arrived in a message; it must not make
        this server post anywhere else)."""
        parsed, own = urlparse(url or ""), urlparse(self.base)
        if parsed.scheme not in ("http", "https") or parsed.netloc.lower() != own.netloc.lower():
            raise ForeignResponseUrl(None, f"response_url 的地址不属于企业微信接口域名：{parsed.netloc[:80]}")
        return url

    def send_response_url(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post_outside_token(self.response_url_target(url), body)

    def _post_outside_token(self, url: str, body: dict[str, Any], params: dict[str, str] | None = None) -> dict[str, Any]:
        """POST to an address that carries its own credential (a robot key, a response_url), not the access token."""
        def call():
            response = self.client._http.post(url, params=params, json=body, timeout=self.timeout)
            response.raise_for_status()
            result = response.json()
            errcode = int(result.get("errcode") or 0)
            if errcode != 0:
                raise WeComApiError(errcode, str(result.get("errmsg") or ""))
            return result

        return self._call(call)

    # Group robots: the webhook lives under the same base, without the access token.
    def add_msg_template(self, sender: str, external_userids: Sequence[str], text: str) -> dict[str, Any]:
        """客户联系 · 创建企业群发 (``externalcontact/add_msg_template``): the staff member ``sender``
        gets a task in WeCom and confirms sending it to the external contacts."""
        return self._post("externalcontact/add_msg_template", {
            "chat_type": "single", "external_userid": list(external_userids), "sender": sender,
            "text": {"content": text}})

    def send_webhook(self, robot_key: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._post_outside_token(self.base + "webhook/send", body, params={"key": robot_key})


# --- Delivery -----------------------------------------------------------------------------------


class WeComAdapter(ChatAdapter):
    name = "wecom"

    def __init__(self, settings: Settings, api: WeComApi | None = None, *, tokens: TokenStorage | None = None):
        self.base_url = settings.base_url
        self.api = api or WeComApi(settings.wecom, tokens if tokens is not None else MemoryKvStore())

    # -- buckets -------------------------------------------------------------------------------
    def rate_rules(self, message: OutboundView) -> tuple[RateRule, ...]:
        if message.target_type == "group":
            return (RateRule(f"wecom:robot:{message.target_ref}", *ROBOT_RULE),)
        if message.target_type == "session":
            return ()  # one answer per response_url, which WeCom handed out for it
        if message.kind == "card_update":
            return ()  # not a message to anyone: WeCom counts it against no member
        if message.target_type == "external":  # an enterprise contact: at most one push a day from us
            return (RateRule(f"wecom:external:{message.target_ref}", 1, 86400),)
        # One message to several people counts against each of them.
        return tuple(rule for person_id in person_ids(message.target_ref) for rule in (
            RateRule(f"wecom:member:{person_id}", *MEMBER_RULE),
            RateRule(f"wecom:member-hour:{person_id}", *MEMBER_HOUR_RULE),
        ))

    def channel_key(self, message: OutboundView) -> str:
        # 130101 pauses one robot; 45009 on app messages pauses the whole app.
        if message.target_type == "group":
            return f"wecom:robot:{message.target_ref}"
        if message.target_type == "session":
            return "wecom:aibot"
        return "wecom:app"

    # -- delivery ------------------------------------------------------------------------------
    def deliver(self, message: OutboundView, session: Session, *, now: datetime) -> DeliveryResult:
        with self.api.bound(session):
            try:
                if message.kind == "card_update":
                    return self._update_cards(message, session, now)
                if message.target_type == "group":
                    return self._to_group(message, session)
                if message.target_type == "session":
                    return self._to_session(message, session)
                if message.target_type == "external":
                    return self._to_external(message, session)
                if message.target_type in ("person", "people"):
                    if message.kind == "card":
                        return self._send_card(message, session, now)
                    return self._to_person(message, session)
            except WeComApiError as error:
                raise self._outcome(error, message) from error
        raise PermanentError(f"企业微信不支持的接收方类型：{message.target_type}")

    def _outcome(self, error: WeComApiError, message: OutboundView) -> Exception:
        key = self.channel_key(message)
        if error.errcode == ROBOT_LIMITED:
            return RateLimited(ROBOT_PAUSE_SECONDS, key, f"企业微信群机器人限流（130101），{ROBOT_PAUSE_SECONDS} 秒后重试")
        if error.errcode == API_FREQ_LIMITED:
            return RateLimited(APP_PAUSE_SECONDS, key, f"企业微信接口调用频率超限（45009），{APP_PAUSE_SECONDS} 秒后重试")
        if error.errcode in INVALID_USER_ERRCODES:
            return PermanentError(f"企业微信成员无效（{error.errcode}）：{error.errmsg}")
        if error.errcode in INVALID_ROBOT_ERRCODES:
            return PermanentError(f"企业微信群机器人地址无效（{error.errcode}）：{error.errmsg}，请在管理后台检查机器人 Key")
        return TransientError(str(error))

    @staticmethod
    def _userids(session: Session, person_ids: Sequence[int]) -> list[str]:
        if not person_ids:
            return []
        people = {
            p.id: p for p in session.scalars(select(Person).where(Person.id.in_(list(person_ids))))
        }
        return [
            people[i].wecom_userid for i in person_ids
            if i in people and people[i].active and people[i].wecom_userid
        ]

    def _to_group(self, message: OutboundView, session: Session) -> DeliveryResult:
        group = session.get(ChatGroup, int(message.target_ref)) if str(message.target_ref).isdigit() else None
        if group is None or group.platform != "wecom" or not group.active or not group.robot_key:
            raise PermanentError("该部门的企业微信群机器人未配置或已停用")
        mentions = self._userids(session, person_ids(",".join(str(m) for m in message.payload.get("mentions") or [])))
        text = cards.group_text(message.kind, message.payload, self.base_url)
        if not text:
            raise PermanentError("消息内容为空")
        self.api.send_webhook(group.robot_key, cards.robot_text(text, mentions))
        return DeliveryResult(detail=f"群机器人 {group.name or group.id}" + (f"，@{len(mentions)} 人" if mentions else ""))

    def _to_session(self, message: OutboundView, session: Session) -> DeliveryResult:
        """An answer to ``@机器人 …`` in a group: on the message's response_url, @-ing the sender;
        when WeCom refuses it (used or expired: it works once, for an hour), in the app instead."""
        payload = message.payload
        text = str(payload.get("text") or "").strip()
        if not text:
            raise PermanentError("回复内容为空")
        url = str(payload.get("response_url") or "")
        if url:
            try:
                self.api.send_response_url(url, cards.response_markdown(
                    text, str(payload.get("mention_userid") or ""), self.base_url))
                return DeliveryResult(detail="已在企业微信群内回复")
            except WeComApiError as error:
                if error.errcode is None and not isinstance(error, ForeignResponseUrl):
                    raise  # unreachable: try again later
                log.warning("wecom: response_url answer %s refused (%s), sending it in the app", message.id, error)
        person_id = payload.get("person_id")
        userids = self._userids(session, person_ids(str(person_id or "")))
        if not userids:
            raise PermanentError("群内回复失败，且发送人未绑定企业微信")
        result = self.api.send_app_message(userids, cards.text_message(plain_safe(text, self.base_url)))
        outcome = self._app_result(result)
        return DeliveryResult(platform_message_id=outcome.platform_message_id, detail="群内回复失败，已改为应用消息")

    def _to_person(self, message: OutboundView, session: Session) -> DeliveryResult:
        userids = self._userids(session, person_ids(message.target_ref))
        if not userids:
            return DeliveryResult(detail="接收人未绑定企业微信，已跳过")
        if message.kind in ("reply", "status") and not cards.plain_text(message.payload, with_title=False).strip():
            raise PermanentError("消息内容为空")
        body = cards.person_body(message.kind, message.payload, self.base_url)
        result = self.api.send_app_message(userids, body)
        return self._app_result(result)

    def _to_external(self, message: OutboundView, session: Session) -> DeliveryResult:
        """To an enterprise contact who is an external contact (客户联系) of their staff member."""
        sender_id = message.payload.get("sender_person_id")
        senders = self._userids(session, [sender_id]) if isinstance(sender_id, int) else []
        if not senders:
            raise PermanentError("服务人员未绑定企业微信，无法通过客户联系发送")
        text = str(message.payload.get("text") or "").strip()
        if not text:
            raise PermanentError("消息内容为空")
        result = self.api.add_msg_template(senders[0], [message.target_ref], text)
        failed = result.get("fail_list") or []
        if failed:
            raise PermanentError(f"企业微信客户联系发送失败：外部联系人无效（{'、'.join(map(str, failed))}）")
        return DeliveryResult(platform_message_id=str(result.get("msgid") or ""),
                              detail="已创建客户联系群发任务，待服务人员在企业微信中确认发送")

    @staticmethod
    def _app_result(result: dict[str, Any]) -> DeliveryResult:
        invalid = str(result.get("invaliduser") or "")
        if invalid:
            log.warning("wecom: members not reachable by the app: %s", invalid)
        detail = f"部分成员无效：{invalid}" if invalid else ""
        return DeliveryResult(platform_message_id=str(result.get("msgid") or ""), detail=detail)

    @staticmethod
    def _task_closed(session: Session, message: OutboundView, task_id: str) -> str:
        """A card whose task was already closed is not sent at all (its buttons would be live)."""
        query = select(OutboundMessage).where(
            OutboundMessage.channel == message.channel,
            OutboundMessage.kind == "card_update",
            OutboundMessage.status == OutboxStatus.SENT,
        )
        if message.work_order_id is not None:
            query = query.where(OutboundMessage.work_order_id == message.work_order_id)
        for update in session.scalars(query):
            if (update.payload or {}).get("task_id") == task_id:
                return str((update.payload or {}).get("label") or "已处理")
        return ""

    def _send_card(self, message: OutboundView, session: Session, now: datetime) -> DeliveryResult:
        task_id = str(message.payload.get("task_id") or "")
        if not task_id:
            raise PermanentError("卡片缺少 task_id")
        closed = self._task_closed(session, message, task_id)
        if closed:
            return DeliveryResult(detail=f"任务已结束（{closed}），不再发送卡片")
        userids = self._userids(session, person_ids(message.target_ref))
        if not userids:
            return DeliveryResult(detail="接收人均未绑定企业微信，已跳过")
        result = self.api.send_app_message(userids, cards.button_card_message(message.payload, self.base_url))
        code = str(result.get("response_code") or "")
        if code:
            store_response_code(session, task_id, "", code, now)
        return self._app_result(result)

    def _update_cards(self, message: OutboundView, session: Session, now: datetime) -> DeliveryResult:
        task_id = str(message.payload.get("task_id") or "")
        if not task_id:
            raise PermanentError("卡片更新缺少 task_id")
        code = session.scalar(
            select(WeComCardCode)
            .where(WeComCardCode.task_id == task_id, WeComCardCode.used.is_(False),
                   WeComCardCode.created_at > now - RESPONSE_CODE_LIFETIME)
            .order_by(WeComCardCode.created_at.desc(), WeComCardCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        if code is None:
            if self._card_pending(session, message, task_id):
                raise TransientError("卡片尚未送达企业微信，稍后再更新")
            return DeliveryResult(detail="没有可用的 response_code（卡片未发出或已超过 72 小时），未更新卡片")
        label = str(message.payload.get("label") or "已处理")
        self.api.update_template_card(code.response_code, label)
        code.used = True
        code.used_at = now
        session.execute(delete(WeComCardCode).where(WeComCardCode.created_at < now - RESPONSE_CODE_LIFETIME))
        session.flush()
        return DeliveryResult(detail=f"卡片已更新为「{label}」")

    @staticmethod
    def _card_pending(session: Session, message: OutboundView, task_id: str) -> bool:
        query = select(OutboundMessage).where(
            OutboundMessage.channel == message.channel,
            OutboundMessage.kind == "card",
            OutboundMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
        )
        if message.work_order_id is not None:
            query = query.where(OutboundMessage.work_order_id == message.work_order_id)
        return any((m.payload or {}).get("task_id") == task_id for m in session.scalars(query))


def store_response_code(session: Session, task_id: str, userid: str, response_code: str, now: datetime) -> bool:
    """Keep a response code once (a retried callback carries the same one)."""
    if not response_code or session.scalar(
        select(WeComCardCode.id).where(WeComCardCode.response_code == response_code)
    ) is not None:
        return False
    session.add(WeComCardCode(task_id=task_id[:128], userid=(userid or "")[:64], response_code=response_code[:512],
                              created_at=now))
    session.flush()
    return True

