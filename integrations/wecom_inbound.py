"""Opening WeCom's callback requests: URL check, signature, replay window, decryption, XML.

Everything here is pure (no Flask, no database): the handler passes the query arguments, the
raw body and the clock in, and gets the decrypted message as a flat ``dict`` of its XML fields,
or a ``CallbackRejected`` saying which 4xx to answer and why.

The order of the checks matters: sizes first (nothing is read past the cap), then the replay
window, then a refusal of any DTD (``<!DOCTYPE``/``<!ENTITY``: entity expansion bombs) *before*
any XML parser sees the body, then the signature over the ciphertext, then decryption — whose
receive id must be our corp id — and the same DTD refusal for the plaintext.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

MAX_BODY_BYTES = 64 * 1024
REPLAY_WINDOW_SECONDS = 300
MAX_ARG_LENGTH = 128
MAX_ECHOSTR_LENGTH = 1024
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


class CallbackVerifier:
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

    # -- checks ------------------------------------------------------------------------------
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
        if not timestamp.isdigit():
            raise CallbackRejected(400, "bad_timestamp", "timestamp 无效")
        if abs(now_ts - int(timestamp)) > self.replay_window:
            raise CallbackRejected(403, "stale_timestamp", "请求已过期（时间戳超出允许范围）")

    def check_size(self, content_length: int | None) -> None:
        if content_length is not None and content_length > self.max_body:
            raise CallbackRejected(413, "too_large", "请求体过大")

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
    def verify_url(self, args, now_ts: float) -> str:
        """GET: the decrypted ``echostr`` to answer with, bare."""
        signature, timestamp, nonce = self._args(args, "msg_signature", "timestamp", "nonce")
        (echostr,) = self._args(args, "echostr", limit=MAX_ECHOSTR_LENGTH)
        self.check_timestamp(timestamp, now_ts)
        return self._decrypt(lambda: self.crypto.check_signature(signature, timestamp, nonce, echostr))

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
