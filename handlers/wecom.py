"""WeCom's callback URL: ``GET /wecom/callback`` (URL check) and ``POST`` (messages, events).

WeCom gives the callback 5 seconds and then retries three times, so the answer is an empty 200
right after the commit; every platform call happens later through the outbox. A retry finds
its receipt and gets 200 too. A request that fails a check — size, replay window, DTD,
signature, corp id, ciphertext, XML — gets a 4xx, one log line and one audit row, and stores
nothing else; no input can produce a 500.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from flask import Blueprint, Response, current_app, request

from application import csrf
from database import session_scope
from handlers.context import db, delivery_channels, now, settings
from handlers.errors import render_error
from integrations.wecom_inbound import CallbackRejected, CallbackVerifier, field_text
from services import audit, wecom_inbound

log = logging.getLogger(__name__)

bp = Blueprint("wecom", __name__, url_prefix="/wecom")
# WeCom signs its requests; there is no browser session whose requests could be forged.
csrf.exempt(bp)


# SQLite runs one writer at a time. Callbacks of this process queue on this lock rather than on
# SQLite's busy handler, which polls with growing sleeps and, with a burst of WeCom pushes,
# leaves some waiting for seconds while later ones slip through.
_sqlite_writer = threading.Lock()


def _writer_turn():
    return _sqlite_writer if settings().is_sqlite else contextlib.nullcontext()


def _verifier() -> CallbackVerifier:
    verifier = current_app.extensions.get("wecom_verifier")
    if verifier is None:
        s = settings().wecom
        verifier = current_app.extensions.setdefault(
            "wecom_verifier", CallbackVerifier(s.token, s.aes_key, s.corp_id)
        )
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

    with _writer_turn():
        session = db()
        try:
            outcome = wecom_inbound.handle_message(session, message, now=now(), channels=delivery_channels(),
                                                   ip=request.remote_addr or "")
            session.commit()
        except Exception:
            session.rollback()
            log.exception("wecom callback: processing failed, WeCom will retry")
            return render_error(503, "busy", "处理失败，请稍后重试")
    log.info("wecom callback %s/%s from %s: %s", field_text(message, "MsgType"), field_text(message, "Event"),
             field_text(message, "FromUserName"), outcome)
    return Response(b"", 200)
