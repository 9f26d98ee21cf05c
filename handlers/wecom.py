"""WeCom's callback URLs: ``/wecom/callback`` for the app (GET URL check, POST messages and events)
and ``/wecom/aibot`` for the intelligent robot in department groups (the same, JSON-encrypted).

WeCom gives the callback 5 seconds and then retries three times, so the callback only checks,
decrypts and stores the message in the inbox (one INSERT, one short transaction) and answers an
empty 200; the ``process_inbound`` job runs the command and every platform call leaves later
through the outbox. A retry finds the stored message and gets 200 too. A request that fails a
check — size, replay window, DTD, signature, corp id, ciphertext, XML — gets a 4xx, one log line
and one audit row, and stores nothing else; no input can produce a 500.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from application import csrf
from database import session_scope
from handlers.context import now, settings
from handlers.errors import render_error
from handlers.inbound import store_message
from integrations import wecom_aibot, wecom_inbound
from integrations.wecom_aibot import AibotVerifier
from integrations.wecom_inbound import CallbackRejected, CallbackVerifier, field_text
from services import audit, inputs

log = logging.getLogger(__name__)

bp = Blueprint("wecom", __name__, url_prefix="/wecom")
# WeCom signs its requests; there is no browser session whose requests could be forged.
csrf.exempt(bp)


def _verifier() -> CallbackVerifier:
    verifier = current_app.extensions.get("wecom_verifier")
    if verifier is None:
        s = settings().wecom
        verifier = current_app.extensions.setdefault(
            "wecom_verifier", CallbackVerifier(s.token, s.aes_key, s.corp_id)
        )
    return verifier


def _aibot_verifier() -> AibotVerifier:
    verifier = current_app.extensions.get("wecom_aibot_verifier")
    if verifier is None:
        s = settings().wecom
        verifier = current_app.extensions.setdefault("wecom_aibot_verifier", AibotVerifier(s.aibot_token, s.aibot_aes_key))
    return verifier


def _reject(rejection: CallbackRejected, *, record: bool = True):
    ip = request.remote_addr or ""
    log.warning("wecom callback rejected: %s %s (%s %s, %s bytes, ip %s)", rejection.status, rejection.reason,
                request.method, request.path, request.content_length, ip)
    if record:
        try:
            with session_scope(current_app.extensions["db_sessionmaker"]) as session:
                audit.record(
                    session, None, "wecom.callback_rejected", "wecom_callback", rejection.reason,
                    {"status": rejection.status, "method": request.method,
                     "content_length": request.content_length,
                     "user_agent": (request.headers.get("User-Agent") or "")[:120]},
                    ip, now(),
                )
        except Exception:  # the audit trail is best effort; the answer stays a 4xx
            log.exception("wecom callback: could not record the rejection")
    return render_error(rejection.status, rejection.reason, rejection.message)


@bp.route("/callback", methods=["GET", "POST"])
def callback():
    s = settings().wecom
    if not (s.enabled and s.token and s.aes_key):
        return _reject(CallbackRejected(404, "not_configured", "未启用企业微信回调"), record=False)
    try:
        verifier = _verifier()
    except ValueError as error:
        log.error("wecom callback misconfigured: %s", error)
        return render_error(503, "misconfigured", "企业微信回调配置有误，请联系系统管理员")
    try:
        if request.method == "GET":
            return Response(verifier.verify_url(request.args, now().timestamp()), 200, mimetype="text/plain")
        verifier.check_size(request.content_length)
        body = request.stream.read(verifier.max_body + 1)
        message = verifier.open_message(request.args, body, now().timestamp())
    except CallbackRejected as rejection:
        return _reject(rejection)
    except Exception:  # whatever slipped past the checks is still the sender's fault, not a 500
        log.exception("wecom callback: unreadable request")
        return _reject(CallbackRejected(400, "unreadable", "请求无法处理"))

    summary = (f"{field_text(message, 'MsgType')}/{field_text(message, 'Event')} "
               f"from {field_text(message, 'FromUserName')}")
    if not wecom_inbound.wants(message):
        log.debug("wecom callback %s: nothing to do", summary)
        return Response(b"", 200)
    key = wecom_inbound.message_key(message)
    try:
        stored = store_message(wecom_inbound.PLATFORM, key,
                               wecom_inbound.stored_payload(message, request.remote_addr or ""))
    except Exception:
        log.exception("wecom callback: could not store the message, WeCom will retry")
        return render_error(503, "busy", "处理失败，请稍后重试")
    log.info("wecom callback %s: %s", summary, "stored" if stored else "duplicate")
    return Response(b"", 200)


@bp.route("/aibot", methods=["GET", "POST"])
def aibot():
    """The intelligent robot: checked, decrypted, stored in the inbox, answered with an empty 200
    at once; the command runs in the jobs process and its answer goes to the message's
    ``response_url`` through the outbox."""
    if not settings().wecom.aibot_enabled:
        return _reject(CallbackRejected(404, "not_configured", "未启用企业微信智能机器人"), record=False)
    try:
        verifier = _aibot_verifier()
    except ValueError as error:
        log.error("wecom aibot misconfigured: %s", error)
        return render_error(503, "misconfigured", "企业微信智能机器人配置有误，请联系系统管理员")
    try:
        if request.method == "GET":
            return Response(verifier.verify_url(request.args, now().timestamp()), 200, mimetype="text/plain")
        verifier.check_size(request.content_length)
        body = request.stream.read(verifier.max_body + 1)
        message = verifier.open_message(request.args, body, now().timestamp(), inputs.loads_json)
    except CallbackRejected as rejection:
        return _reject(rejection)
    except Exception:  # whatever slipped past the checks is still the sender's fault, not a 500
        log.exception("wecom aibot: unreadable request")
        return _reject(CallbackRejected(400, "unreadable", "请求无法处理"))

    key = wecom_aibot.message_key(message)
    if not wecom_aibot.wants(message):
        log.debug("wecom aibot %s: nothing to do", key)
        return Response(b"", 200)
    try:
        stored = store_message(wecom_aibot.INBOX_PLATFORM, key, {"message": message, "ip": request.remote_addr or ""})
    except Exception:
        log.exception("wecom aibot: could not store the message, WeCom will retry")
        return render_error(503, "busy", "处理失败，请稍后重试")
    log.info("wecom aibot %s from %s: %s", key, wecom_aibot.sender(message), "stored" if stored else "duplicate")
    return Response(b"", 200)
