"""The SMS provider's reply callback (回复回调): ``POST /sms/reply/<token>``.

Tencent Cloud SMS posts each reply to a text as JSON (``mobile``, ``nationcode``, ``text``, ``sign``,
``time``, ``extend``). The token in the path (``SMS_CALLBACK_TOKEN``, compared in constant time)
is the only credential the provider offers for this callback; without it configured, the route is
404. A reply "TD" (回复TD退订) records the opt-out; any other reply is only acknowledged.
"""

from __future__ import annotations

import hmac
import json
import logging

from flask import Blueprint, abort, jsonify, request

from application import csrf
from handlers.context import db, now, settings
from services.messaging import enterprise as enterprise_messages

log = logging.getLogger("youxubiying.sms")

bp = Blueprint("sms", __name__, url_prefix="/sms")
csrf.exempt(bp)

MAX_BODY_BYTES = 16 * 1024


@bp.post("/reply/<token>")
def reply(token: str):
    expected = settings().sms.callback_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        abort(404)
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        return jsonify({"result": 1, "errmsg": "请求过大"}), 413
    try:
        body = json.loads(raw)
    except ValueError:
        return jsonify({"result": 1, "errmsg": "不是 JSON"}), 400
    replies = body if isinstance(body, list) else [body]
    for item in replies:
        if not isinstance(item, dict):
            return jsonify({"result": 1, "errmsg": "格式不正确"}), 400
        phone, text = str(item.get("mobile") or ""), str(item.get("text") or "")
        if enterprise_messages.record_reply(db(), phone, text, now()):
            log.info("sms opt-out recorded from a reply (…%s)", phone[-4:])
    return jsonify({"result": 0, "errmsg": "OK"})
