"""Opening WeCom's callback requests: URL check, signature, replay window, decryption, XML.

Everything here is pure (no Flask, no database): the handler passes the query arguments, the
raw body and the clock in, and gets the decrypted message as a flat ``dict`` of its XML fields,
or a ``CallbackRejected`` saying which 4xx to answer and why. The callback stores what is worth
acting on (``wants``) in the inbox under ``message_key``; ``WeComInbound`` later turns a stored
message into a neutral event for the one platform-neutral flow (``services.messaging.inbound``):
text and app-menu clicks → a text ``ChatEvent``, card button clicks (``template_card_event``) →
a button ``ChatEvent`` carrying the ``ResponseCode`` that greys the card later, other messages →
an unsupported ``ChatEvent`` (answered with a hint), ``change_contact`` → a ``ContactEvent``.

The order of the checks matters: sizes first (nothing is read past the cap), then the replay
window, then a refusal of any DTD (``<!DOCTYPE``/``<!ENTITY``: entity expansion bombs) *before*
any XML parser sees the body, then the signature over the ciphertext, then decryption — whose
receive id must be our corp id — and the same DTD refusal for the plaintext.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from integrations.base import ChatEvent, ContactEvent, InboundParser

MAX_BODY_BYTES = 64 * 1024
REPLAY_WINDOW_SECONDS = 300
MAX_ARG_LENGTH = 128
MAX_ECHOSTR_LENGTH = 1024
PLATFORM = "wecom"
MAX_KEY = 190
# Member statuses that mean "gone": 2 disabled, 5 left the corp.
GONE_STATUSES = frozenset({2, 5})
ACTED_ON_EVENTS = frozenset({"change_contact", "template_card_event", "click"})
_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


@dataclass
class CallbackRejected(Exception):
    status: int
    reason: str  # a short code for logs and the audit trail
    message: str  # Chinese, for the JSON answer

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"


def field_text(message: dict[str, Any], name: str) -> str:
    """A message field as stripped text ("" when absent or not a plain element)."""
    value = message.get(name)
    return value.strip() if isinstance(value, str) else ""


def refuse_dtd(data: bytes) -> None:
    if _DTD.search(data):
        raise CallbackRejected(400, "xml_dtd", "不接受含 DTD 或实体声明的 XML")


def parse_xml(data: bytes | str) -> dict[str, Any]:
    """The fields of ``<xml>…</xml>`` as a dict; anything else is rejected."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    refuse_dtd(raw)
    try:
        document = xmltodict.parse(raw, disable_entities=True)
    except Exception:  # expat errors, bad encodings: the body is not XML we accept
        raise CallbackRejected(400, "bad_xml", "请求体不是有效的 XML") from None
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise CallbackRejected(400, "bad_xml", "请求体不是有效的 XML")
    return root


class CallbackChecks:
    """What every WeCom callback (the app's XML, the intelligent robot's JSON) checks before decrypting:
    the query arguments, the replay window and the size."""

    replay_window: int
    max_body: int

    @staticmethod
    def _args(args, *names: str, limit: int = MAX_ARG_LENGTH) -> list[str]:
        values = []
        for name in names:
            value = args.get(name) or ""
            if not value or len(value) > limit:
                raise CallbackRejected(400, "missing_args", f"缺少或无效的参数 {name}")
            values.append(value)
        return values

    def check_timestamp(self, timestamp: str, now_ts: float) -> None:
        # ASCII digits: "²".isdigit() is true, yet int("²") raises.
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise CallbackRejected(400, "bad_timestamp", "timestamp 无效")
        if abs(now_ts - int(timestamp)) > self.replay_window:
            raise CallbackRejected(403, "stale_timestamp", "请求已过期（时间戳超出允许范围）")

    def check_size(self, content_length: int | None) -> None:
        if content_length is not None and content_length > self.max_body:
            raise CallbackRejected(413, "too_large", "请求体过大")

    def _open(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """The plaintext of ``encrypted`` once its signature holds (each scheme its own)."""
        raise NotImplementedError

    def verify_url(self, args, now_ts: float) -> str:
        """GET: the decrypted ``echostr`` to answer with, bare."""
        signature, timestamp, nonce = self._args(args, "msg_signature", "timestamp", "nonce")
        (echostr,) = self._args(args, "echostr", limit=MAX_ECHOSTR_LENGTH)
        self.check_timestamp(timestamp, now_ts)
        return self._open(signature, timestamp, nonce, echostr)


class CallbackVerifier(CallbackChecks):
    def __init__(self, token: str, aes_key: str, corp_id: str, *, replay_window: int = REPLAY_WINDOW_SECONDS,
                 max_body: int = MAX_BODY_BYTES):
        if not (token and aes_key and corp_id):
            raise ValueError("WECOM_TOKEN, WECOM_AES_KEY and WECOM_CORP_ID are all needed for the callback")
        try:
            self.crypto = WeChatCrypto(token, aes_key, corp_id)
        except Exception as error:  # wechatpy asserts a 32-byte key
            raise ValueError("WECOM_AES_KEY 必须是企业微信后台生成的 43 位 EncodingAESKey") from error
        self.corp_id = corp_id
        self.replay_window = replay_window
        self.max_body = max_body

    def _decrypt(self, call) -> str:
        try:
            return call()
        except InvalidSignatureException:
            raise CallbackRejected(403, "bad_signature", "签名校验失败") from None
        except InvalidCorpIdException:
            raise CallbackRejected(403, "wrong_corp", "消息不属于本企业") from None
        except Exception:  # base64, padding, length fields: garbage ciphertext
            raise CallbackRejected(400, "bad_ciphertext", "密文无法解密") from None

    # -- the two requests ---------------------------------------------------------------------
    def _open(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        return self._decrypt(lambda: self.crypto.check_signature(signature, timestamp, nonce, encrypted))

    def open_message(self, args, body: bytes, now_ts: float) -> dict[str, Any]:
        """POST: the decrypted message's fields."""
        if len(body) > self.max_body:
            raise CallbackRejected(413, "too_large", "请求体过大")
        signature, timestamp, nonce = self._args(args, "msg_signature", "timestamp", "nonce")
        self.check_timestamp(timestamp, now_ts)
        outer = parse_xml(body)
        encrypt = outer.get("Encrypt")
        if not isinstance(encrypt, str) or not encrypt.strip():
            raise CallbackRejected(400, "bad_xml", "缺少密文 Encrypt")
        to_user = outer.get("ToUserName")
        if isinstance(to_user, str) and to_user and to_user != self.corp_id:
            raise CallbackRejected(403, "wrong_corp", "消息不属于本企业")
        plaintext = self._decrypt(
            lambda: self.crypto.decrypt_message({"Encrypt": encrypt.strip()}, signature, timestamp, nonce)
        )
        message = parse_xml(plaintext)
        inner_to = message.get("ToUserName")
        if isinstance(inner_to, str) and inner_to and inner_to != self.corp_id:
            raise CallbackRejected(403, "wrong_corp", "消息不属于本企业")
        return message


# --------------------------------------------------------------------------------------------
# Stored messages
# --------------------------------------------------------------------------------------------
def message_key(message: dict[str, Any]) -> str:
    """The de-duplication key: ``MsgId`` for messages; sender + time + event + key/task for events."""
    msg_id = field_text(message, "MsgId")
    if msg_id and field_text(message, "MsgType").lower() != "event":
        key = f"msg:{msg_id}"
    else:
        parts = [field_text(message, n) for n in ("FromUserName", "CreateTime", "Event")]
        parts += [field_text(message, "EventKey") or field_text(message, "ChangeType"),
                  field_text(message, "TaskId") or field_text(message, "UserID")]
        key = "evt:" + "|".join(parts)
    if len(key) > MAX_KEY:
        key = key[:4] + hashlib.sha256(key.encode()).hexdigest()
    return key


def wants(message: dict[str, Any]) -> bool:
    """Whether a verified message is worth storing: every message a person sends, and the events
    the desk acts on (entering the app, menu views, locations… are dropped at the door)."""
    if field_text(message, "MsgType").lower() != "event":
        return True
    event = field_text(message, "Event").lower()
    if event == "change_contact":
        return field_text(message, "ChangeType") in ("delete_user", "update_user")
    return event in ACTED_ON_EVENTS


def stored_payload(message: dict[str, Any], ip: str) -> dict[str, Any]:
    return {"message": message, "ip": ip}


def summarise(payload: Any) -> str:
    """Who sent a stored message and what it says or does, for the administrators' log (plain text;
    never the ``ResponseCode``, which can still change a card)."""
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, dict):
        return ""
    msg_type = field_text(message, "MsgType").lower()
    if msg_type == "text":
        what = field_text(message, "Content")
    elif msg_type != "event":
        what = f"〔{msg_type or '未知'}消息〕"
    else:
        event = field_text(message, "Event").lower()
        if event == "change_contact":
            return f"通讯录变更 {field_text(message, 'ChangeType')} {field_text(message, 'UserID')}"
        labels = {"template_card_event": "点击卡片按钮", "click": "点击菜单"}
        what = f"{labels.get(event, '事件 ' + (event or '未知'))} {field_text(message, 'EventKey')}".strip()
    return f"{field_text(message, 'FromUserName') or '?'}：{what}"


def contact_change(message: dict[str, Any], key: str) -> ContactEvent:
    change = field_text(message, "ChangeType")
    userid = field_text(message, "UserID")
    if change not in ("delete_user", "update_user") or not userid:
        return ContactEvent(PLATFORM, "ignored", (), key, event_type=f"change_contact {change or '?'}")
    if change == "delete_user":
        return ContactEvent(PLATFORM, "left", (userid,), key, reason="成员已从通讯录删除", event_type=change)
    new_userid = field_text(message, "NewUserID")
    status = field_text(message, "Status")
    # Compared as text: "²".isdigit() is true, yet int("²") raises.
    gone = status in {str(s) for s in GONE_STATUSES}
    return ContactEvent(PLATFORM, "left" if gone else "updated", (userid,), key,
                        new_userid=new_userid if new_userid != userid else "",
                        reason=("成员已被停用" if status == "2" else "成员已退出企业") if gone else "",
                        event_type=change)


class WeComInbound(InboundParser):
    platform = PLATFORM
    person_field = "wecom_userid"

    def parse(self, payload: Any, *, received_at: datetime | None = None) -> ChatEvent | ContactEvent | None:
        message = payload.get("message") if isinstance(payload, dict) else None
        message = message if isinstance(message, dict) else {}
        key = message_key(message)
        msg_type = field_text(message, "MsgType").lower()
        common = {"platform": PLATFORM, "dedupe_key": key, "sender_platform_id": field_text(message, "FromUserName"),
                  "raw": {"ip": str(payload.get("ip") or "") if isinstance(payload, dict) else ""},
                  "received_at": received_at, "message_type": msg_type}
        if msg_type == "event":
            event = field_text(message, "Event").lower()
            if event == "change_contact":
                return contact_change(message, key)
            if event == "template_card_event":
                return ChatEvent(kind="button", text="", card_key=field_text(message, "EventKey"),
                                 card_task_id=field_text(message, "TaskId"),
                                 card_response_code=field_text(message, "ResponseCode"), **common)
            if event == "click":  # an app menu item whose key is a command word (我的工单, 帮助)
                return ChatEvent(kind="text", text=field_text(message, "EventKey"), **common)
            return None
        if msg_type == "text":
            return ChatEvent(kind="text", text=field_text(message, "Content"), **common)
        # Pictures, voice, locations…: the person is told once what the app understands.
        return ChatEvent(kind="unsupported", text="", **common)

    def summarise(self, payload: Any) -> str:
        return summarise(payload)
