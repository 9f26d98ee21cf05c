"""The WeCom intelligent robot (智能机器人, API mode) in department groups: ``@机器人 报到 0012``.

WeCom posts each message to ``/wecom/aibot`` as JSON ``{"encrypt": "…"}`` with ``msg_signature``,
``timestamp`` and ``nonce`` in the query; the URL check is a GET with ``echostr``. The scheme is
the app callback's (WXBizMsgCrypt: sha1 over the sorted token/timestamp/nonce/ciphertext,
AES-256-CBC with PKCS#7, key = b64decode(EncodingAESKey + "=")), with JSON instead of XML and an
**empty receive id** for a robot of the corp itself. The robot has its own Token and
EncodingAESKey (``WECOM_AIBOT_TOKEN`` / ``WECOM_AIBOT_AES_KEY``).

A decrypted message (documented fields)::

    {"msgid": "…", "aibotid": "…", "chatid": "…", "chattype": "group" | "single",
     "from": {"userid": "…"}, "response_url": "…", "msgtype": "text",
     "text": {"content": "@机器人 报到 0012"}}

The answer goes once to ``response_url`` (valid for an hour) as markdown; ``<@userid>`` in the
markdown mentions the sender. Everything here is pure: no Flask, no database, no domain code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any

from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException

from integrations.base import ChatEvent, InboundParser, InvalidInbound
from integrations.wecom_inbound import CallbackChecks, CallbackRejected

# Stored in the inbox under its own platform name (its own parser), acting as WeCom: the sender
# is the person bound to the WeCom userid, answers leave through the WeCom adapter.
INBOX_PLATFORM = "wecom_aibot"
PLATFORM = "wecom"
MAX_BODY_BYTES = 64 * 1024
REPLAY_WINDOW_SECONDS = 300
RECEIVE_ID = ""  # an internal robot's messages carry an empty receive id
MAX_TEXT = 2000
# "@机器人 " (or "@智能助手 ") as typed in the group: WeCom leaves the mention in the text.
_LEADING_MENTION = re.compile(r"^\s*[@＠]\S*\s*")


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


class AibotVerifier(CallbackChecks):
    """URL check and message opening for ``/wecom/aibot`` (raises ``CallbackRejected``)."""

    def __init__(self, token: str, aes_key: str, *, replay_window: int = REPLAY_WINDOW_SECONDS,
                 max_body: int = MAX_BODY_BYTES):
        if not (token and aes_key):
            raise ValueError("WECOM_AIBOT_TOKEN and WECOM_AIBOT_AES_KEY are both needed for the robot")
        try:
            key = base64.b64decode(aes_key + "=")
        except ValueError as error:
            raise ValueError("WECOM_AIBOT_AES_KEY 必须是 43 位 EncodingAESKey") from error
        if len(key) != 32:
            raise ValueError("WECOM_AIBOT_AES_KEY 必须是 43 位 EncodingAESKey")
        self.token = token
        self.key = key
        self.replay_window = replay_window
        self.max_body = max_body

    def _open(self, sig: str, timestamp: str, nonce: str, encrypt: str) -> str:
        if not hmac.compare_digest(signature(self.token, timestamp, nonce, encrypt), sig.lower()):
            raise CallbackRejected(403, "bad_signature", "签名校验失败")
        try:
            return PrpCrypto(self.key).decrypt(encrypt, RECEIVE_ID)
        except InvalidCorpIdException:
            raise CallbackRejected(403, "wrong_receiver", "消息不是发给本企业内部机器人的") from None
        except Exception:  # base64, padding, length fields: garbage ciphertext
            raise CallbackRejected(400, "bad_ciphertext", "密文无法解密") from None

    def open_message(self, args, body: bytes, now_ts: float, loads) -> dict[str, Any]:
        """POST: the decrypted message. ``loads`` is the strict JSON reader (raises ``ValueError``)."""
        if len(body) > self.max_body:
            raise CallbackRejected(413, "too_large", "请求体过大")
        sig, timestamp, nonce = self._args(args, "msg_signature", "timestamp", "nonce")
        self.check_timestamp(timestamp, now_ts)
        try:
            outer = loads(body)
        except ValueError:
            raise CallbackRejected(400, "bad_json", "请求体不是合法的 JSON") from None
        encrypt = outer.get("encrypt") if isinstance(outer, dict) else None
        if not isinstance(encrypt, str) or not encrypt.strip():
            raise CallbackRejected(400, "bad_json", "缺少密文 encrypt")
        plaintext = self._open(sig, timestamp, nonce, encrypt.strip())
        try:
            message = loads(plaintext.encode("utf-8"))
        except (ValueError, UnicodeError):
            raise CallbackRejected(400, "bad_message", "解密后的消息不是合法的 JSON") from None
        if not isinstance(message, dict):
            raise CallbackRejected(400, "bad_message", "解密后的消息不是 JSON 对象")
        check_message(message)
        return message


def _text(message: dict[str, Any], name: str, limit: int = 256) -> str:
    value = message.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def sender(message: dict[str, Any]) -> str:
    origin = message.get("from")
    value = origin.get("userid") if isinstance(origin, dict) else None
    return value.strip()[:64] if isinstance(value, str) else ""


def check_message(message: dict[str, Any]) -> None:
    """What every message must carry to be acted on: a msgid, a sender, a type."""
    if not _text(message, "msgid"):
        raise CallbackRejected(400, "bad_message", "消息缺少 msgid")
    if not _text(message, "msgtype"):
        raise CallbackRejected(400, "bad_message", "消息缺少 msgtype")
    if _text(message, "msgtype") != "event" and not sender(message):
        raise CallbackRejected(400, "bad_message", "消息缺少 from.userid")


def message_key(message: dict[str, Any]) -> str:
    return "aibot:" + _text(message, "msgid", 180)


def wants(message: dict[str, Any]) -> bool:
    """Messages people send; events (entering the chat, stream refreshes) are acknowledged only."""
    return _text(message, "msgtype") not in ("event", "stream")


def command_text(content: str) -> str:
    """The command a group message carries: the leading ``@机器人`` removed."""
    return _LEADING_MENTION.sub("", content or "", count=1).strip()[:MAX_TEXT]


def summarise(payload: Any) -> str:
    """Who wrote, where, and what (never the ``response_url``, which can post to the group)."""
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        return ""
    who = sender(message) or "?"
    if _text(message, "chattype") == "group":
        who += f" 在群 {_text(message, 'chatid', 64)}"
    msgtype = _text(message, "msgtype")
    text = message.get("text")
    if msgtype == "text" and isinstance(text, dict) and isinstance(text.get("content"), str):
        what = text["content"].strip()
    else:
        what = f"〔{msgtype or '未知'}消息〕"
    return f"〔智能机器人〕{who}：{what}"


# The outbox channel of answers over the long connection: only its worker can send them.
WS_CHANNEL = "wecom_ws"


def _reply_handle(payload: dict[str, Any], response_url: str, user: str) -> dict[str, Any]:
    """Where the answer goes: the message's response_url (HTTP callback), or back over the long
    connection under the callback's ``req_id``."""
    req_id = payload.get("ws_req_id")
    if isinstance(req_id, str) and req_id:
        return {"ws_req_id": req_id[:128], "mention_userid": user, "reply_channel": WS_CHANNEL}
    return {"response_url": response_url, "mention_userid": user} if response_url else {}


class WeComAibotInbound(InboundParser):
    platform = INBOX_PLATFORM
    person_field = "wecom_userid"

    def parse(self, payload: Any, *, received_at: datetime | None = None) -> ChatEvent | None:
        message = payload.get("message") if isinstance(payload, dict) else None
        if not isinstance(message, dict):
            raise InvalidInbound("消息体缺少 message")
        if not wants(message):
            return None
        user = sender(message)
        msgtype = _text(message, "msgtype")
        group = _text(message, "chattype") == "group"
        response_url = _text(message, "response_url", 1024)
        content = ""
        if msgtype == "text":
            text = message.get("text")
            content = command_text(text.get("content", "")) if isinstance(text, dict) and isinstance(
                text.get("content", ""), str) else ""
        return ChatEvent(
            platform=PLATFORM,
            kind="text" if msgtype == "text" else "unsupported",
            message_type=msgtype,
            text=content,
            dedupe_key=message_key(message),
            conversation=_text(message, "chatid", 128) if group else "",
            conversation_type="group" if group else "person",
            sender_platform_id=user,
            reply_handle=_reply_handle(payload, response_url, user),
            raw={"ip": str(payload.get("ip") or ""), "aibotid": _text(message, "aibotid", 64)},
            received_at=received_at,
        )

    def summarise(self, payload: Any) -> str:
        return summarise(payload)
