"""DingTalk enterprise robot, HTTP mode: ``POST /dingtalk/robot``.

DingTalk signs each callback with headers ``timestamp`` (ms) and ``sign`` =
base64(HMAC-SHA256(AppSecret, "{timestamp}\\n{AppSecret}")). A request is checked before anything
is read from the database: size, signature (constant-time), a 1-hour window, JSON. A rejected
request gets a 4xx with a Chinese JSON error, changes nothing, and leaves a log line and an
audit row (written on its own, throttled per address so a flood cannot fill the table).

A valid message is only stored in the inbox (one INSERT keyed by ``msgId``, committed here) and
answered with an empty JSON object at once; the ``process_inbound`` job runs the command and the
answer goes to the conversation's ``sessionWebhook`` through the outbox.
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, abort, current_app, jsonify, request

from application import csrf
from database import session_scope
from handlers.context import now, settings
from handlers.errors import render_error
from handlers.inbound import store_message
from handlers.public.ratelimit import SlidingWindowLimiter
from integrations.dingtalk import verify_callback_sign
from integrations.dingtalk_inbound import PLATFORM, InvalidRobotMessage, robot_event
from services import audit

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
        payload = json.loads(body.decode("utf-8"))
        event = robot_event(payload, robot_code=config.robot_code)  # validate before touching the database
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _reject(400, "bad_json", "消息体不是合法的 JSON", "JSON 解析失败")
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
