"""The 12345 / 86912345 interchange (docs/hotline.md): tickets in, status out.

* ``POST /api/v1/hotline/tickets`` — headers ``X-Hotline-Timestamp`` (unix seconds, ±300 s) and
  ``X-Hotline-Signature`` = hex HMAC-SHA256(HOTLINE_SECRET, timestamp + "\\n" + raw body). Checked in
  this order, each refusal storing nothing: size (413), signature and freshness (401), JSON (400),
  fields (422 naming them). First call 201 ``{"number"}``; the same (source, ticket_id) again 200
  with the same number.
* ``GET /api/v1/hotline/tickets/<source>/<ticket_id>`` — signed over timestamp + "\\n" + "GET " + path.

Answers are JSON: ``{"ok": true, "data": …}`` or ``{"ok": false, "error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request

from application import csrf
from handlers.context import db, delivery_channels, now, settings
from integrations import hotline as signing
from services import inputs
from services.errors import ValidationFailed
from services.orders import hotline
from services.orders.operations import OpContext

log = logging.getLogger("youxubiying.hotline")

bp = Blueprint("hotline", __name__, url_prefix="/api/v1/hotline")
# Signed with a shared secret, never cookies: there is no cross-site request to forge.
csrf.exempt(bp)


def _error(status: int, code: str, message: str, fields: dict | None = None):
    return jsonify({"ok": False, "error": {"code": code, "message": message, "fields": fields or {}}}), status


def _unsigned(message: bytes):
    secret = settings().hotline.secret
    if signing.verify(secret, request.headers.get(signing.TIMESTAMP_HEADER),
                      request.headers.get(signing.SIGNATURE_HEADER), message, now()):
        return None
    log.warning("hotline call refused: bad or stale signature from %s", request.remote_addr)
    response, status = _error(401, "unauthorized", "签名无效、缺失或时间戳已过期（允许 ±300 秒）")
    response.headers["WWW-Authenticate"] = "Hotline-HMAC-SHA256"
    return response, status


@bp.post("/tickets")
def receive_ticket():
    limit = settings().hotline.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _error(413, "too_large", f"请求体超过 {limit // 1024} KB")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        return _error(413, "too_large", f"请求体超过 {limit // 1024} KB")
    refused = _unsigned(raw)
    if refused:
        return refused
    try:
        body = inputs.loads_json(raw)
    except inputs.InvalidJson as error:
        return _error(400, "malformed_request", f"请求体有误：{error}")
    try:
        ticket = hotline.parse_ticket(body)
    except ValidationFailed as error:
        return _error(422, error.code, error.message, error.fields)
    ctx = OpContext(session=db(), actor=None, now=now(), channel="hotline", channels=delivery_channels(),
                    base_url=settings().base_url)
    order, created = hotline.receive(ctx, ticket)
    return jsonify({"ok": True, "data": {"number": order.number}, "number": order.number}), 201 if created else 200


@bp.get("/tickets/<source>/<ticket_id>")
def ticket_status(source: str, ticket_id: str):
    refused = _unsigned(f"GET {request.path}".encode())
    if refused:
        return refused
    order = hotline.find_order(db(), source, ticket_id) if source in hotline.SOURCES else None
    if order is None:
        return _error(404, "not_found", "没有这张热线工单")
    data = hotline.status(order)
    return jsonify({"ok": True, "data": data, **data})
