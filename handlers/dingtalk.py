"""DingTalk in HTTP mode: the enterprise robot (``POST /dingtalk/robot``) and the encrypted
event subscription (``POST /dingtalk/events``).

DingTalk signs each callback with headers ``timestamp`` (ms) and ``sign`` =
base64(HMAC-SHA256(AppSecret, "{timestamp}\\n{AppSecret}")). A request is checked before anything
is read from the database: size, signature (constant-time), a 1-hour window, JSON. A rejected
request gets a 4xx with a Chinese JSON error, changes nothing, and leaves a log line and an
audit row (written on its own, throttled per address so a flood cannot fill the table).

A valid message is only stored in the inbox (one INSERT keyed by ``msgId``, committed here) and
answered with an empty JSON object at once; the ``process_inbound`` job runs the command and the
answer goes to the conversation's ``sessionWebhook`` through the outbox.

The event subscription (事件与回调, HTTP push) posts ``{"encrypt": …}`` with ``signature``,
``timestamp`` (ms) and ``nonce`` in the query. It is checked the same way (1-hour window, size,
the SDK's ``DingTalkCrypto`` for the signature and the AES envelope bound to our AppKey), and
answered with the encrypted ``success`` DingTalk waits 1.5 s for; the URL check (``check_url``)
is answered without storing anything, an organisation event we act on is stored in the inbox
like a robot message (keyed by a digest of its plaintext, so a retry stores nothing new).
"""

from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, abort, current_app, jsonify, request

from application import csrf
from database import session_scope
from handlers.context import now, settings
from handlers.errors import render_error
from handlers.inbound import store_message
from handlers.public.ratelimit import SlidingWindowLimiter
from integrations.dingtalk import verify_callback_sign
from integrations.dingtalk_inbound import CONTACT_EVENTS, PLATFORM, InvalidRobotMessage, robot_event
from services import audit, inputs

log = logging.getLogger("youxubiying.dingtalk")

bp = Blueprint("dingtalk", __name__, url_prefix="/dingtalk")
csrf.exempt(bp)

MAX_BODY_BYTES = 64 * 1024
SIGN_WINDOW_SECONDS = 3600
AUDITED_REJECTIONS_PER_MINUTE = 20


def _audit_limiter() -> SlidingWindowLimiter:
    limiters = current_app.extensions.setdefault("public_limiters", {})
    if "dingtalk_rejections" not in limiters:
        limiters["dingtalk_rejections"] = SlidingWindowLimiter(AUDITED_REJECTIONS_PER_MINUTE, 60)
    return limiters["dingtalk_rejections"]


def _reject(status: int, code: str, message: str, reason: str):
    ip = request.remote_addr or ""
    log.warning("dingtalk robot callback rejected: %s (%s) from %s", code, reason, ip)
    if _audit_limiter().allow(ip or "unknown"):
        try:  # its own transaction (nothing else of the request is stored); best effort
            with session_scope(current_app.extensions["db_sessionmaker"]) as session:
                audit.record(session, None, "dingtalk.callback_rejected", "dingtalk_robot", code,
                             {"code": code, "reason": reason, "status": status,
                              "length": request.content_length,
                              "user_agent": (request.headers.get("User-Agent") or "")[:120]}, ip, now())
        except Exception:
            log.exception("dingtalk robot callback: could not record the rejection")
    return render_error(status, code, message)


def _read_body() -> bytes | None:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return None
    body = request.stream.read(MAX_BODY_BYTES + 1)
    return None if len(body) > MAX_BODY_BYTES else body


@bp.post("/robot")
def robot():
    config = settings().dingtalk
    if not config.enabled or config.mode != "http":
        abort(404)  # Stream mode receives over the worker's own connection; nothing is posted here
    at = now()
    reason = verify_callback_sign(config.app_secret, request.headers.get("timestamp"),
                                  request.headers.get("sign"), int(at.timestamp() * 1000), SIGN_WINDOW_SECONDS)
    if reason:
        return _reject(403, "bad_signature", "钉钉回调签名校验失败", reason)
    body = _read_body()
    if body is None:
        return _reject(413, "too_large", "消息体过大", f"超过 {MAX_BODY_BYTES} 字节")
    try:
        payload = inputs.loads_json(body)
        event = robot_event(payload, robot_code=config.robot_code)  # validate before touching the database
    except inputs.InvalidJson as error:
        return _reject(400, "bad_json", f"消息体不是合法的 JSON：{error}", "JSON 解析失败")
    except InvalidRobotMessage as error:
        return _reject(400, "bad_message", f"无法识别的机器人消息：{error}", str(error))
    try:
        stored = store_message(PLATFORM, event.dedupe_key, payload)
    except Exception:
        log.exception("dingtalk robot callback: could not store message %s", event.dedupe_key)
        return render_error(503, "busy", "处理失败，请稍后重试")
    log.info("dingtalk robot callback %s from %s: %s", event.dedupe_key, event.sender_platform_id,
             "stored" if stored else "duplicate")
    # The answer leaves through the outbox once the job has run the command (sessionWebhook).
    return jsonify({})


@bp.post("/events")
def events():
    config = settings().dingtalk
    if not config.events_enabled:
        abort(404)  # not configured, or Stream mode (events arrive over the worker's connection)
    from dingtalk.core.exceptions import InvalidCorpIdOrSuiteKeyException, InvalidSignatureException
    from dingtalk.crypto import DingTalkCrypto

    timestamp = request.args.get("timestamp", "")
    now_ms = int(now().timestamp() * 1000)
    try:
        sent_ms = inputs.parse_int(timestamp, minimum=0, maximum=10**15)
    except ValueError:
        sent_ms = None
    if sent_ms is None or abs(now_ms - sent_ms) > SIGN_WINDOW_SECONDS * 1000:
        return _reject(403, "stale", "钉钉事件回调的时间戳无效或已过期", f"timestamp={timestamp[:20]!r}")
    body = _read_body()
    if body is None:
        return _reject(413, "too_large", "消息体过大", f"超过 {MAX_BODY_BYTES} 字节")
    try:
        envelope = inputs.loads_json(body)
    except inputs.InvalidJson as error:
        return _reject(400, "bad_json", f"消息体不是合法的 JSON：{error}", "JSON 解析失败")
    encrypted = envelope.get("encrypt") if isinstance(envelope, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        return _reject(400, "bad_message", "消息体缺少 encrypt 字段", "没有 encrypt")
    crypto = DingTalkCrypto(config.event_token, config.event_aes_key, config.app_key)
    try:
        plaintext = crypto.decrypt_encrypt_str(request.args.get("signature", ""), timestamp,
                                               request.args.get("nonce", ""), encrypted)
    except InvalidSignatureException:
        return _reject(403, "bad_signature", "钉钉事件回调签名校验失败", "signature 不符")
    except InvalidCorpIdOrSuiteKeyException:
        return _reject(403, "wrong_app", "钉钉事件回调不属于本应用", "AppKey 不符")
    except Exception as error:  # noqa: BLE001 - bad base64 / padding / UTF-8 inside a signed envelope
        return _reject(400, "bad_encrypt", "钉钉事件回调无法解密", type(error).__name__)
    try:
        event = inputs.loads_json(plaintext)
    except (TypeError, ValueError):
        return _reject(400, "bad_event", "钉钉事件内容不是合法的 JSON", "明文 JSON 解析失败")
    event_type = str(event.get("EventType") or "") if isinstance(event, dict) else ""
    if not event_type:
        return _reject(400, "bad_event", "钉钉事件缺少 EventType", "没有 EventType")
    if event_type in CONTACT_EVENTS:
        digest = hashlib.sha256(plaintext.encode() if isinstance(plaintext, str) else plaintext).hexdigest()
        try:
            stored = store_message(PLATFORM, f"event:{event_type}:{digest[:40]}", {"event": event})
        except Exception:
            log.exception("dingtalk event callback: could not store %s", event_type)
            return render_error(503, "busy", "处理失败，请稍后重试")
        log.info("dingtalk event %s: %s", event_type, "stored" if stored else "duplicate")
    else:
        log.info("dingtalk event %s acknowledged", event_type)  # check_url and events we do not act on
    return jsonify(crypto.encrypt_message("success"))
