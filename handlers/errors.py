"""Two error channels: domain errors show their own Chinese message; anything else a reference."""

from __future__ import annotations

import logging
import secrets

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from services.errors import DomainError

log = logging.getLogger("youxubiying.errors")

HTTP_MESSAGES = {
    400: "请求格式有误",
    401: "请先登录",
    403: "您无权执行此操作",
    404: "页面或数据不存在",
    405: "不支持的请求方式",
    413: "上传内容过大",
    429: "请求过于频繁，请稍后再试",
}


def http_message(status: int) -> str:
    """The Chinese sentence for an HTTP error (never werkzeug's English name)."""
    return HTTP_MESSAGES.get(status) or (f"请求未能完成（错误 {status}），请稍后重试" if status < 500
                                          else "系统暂时无法处理该请求，请稍后重试")


def wants_json() -> bool:
    if request.path.startswith(("/api/", "/wecom/", "/dingtalk/", "/healthz", "/readyz", "/metrics")):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _printable(text: object) -> str:
    # Messages may quote what a client sent; a lone surrogate in it cannot be encoded as UTF-8.
    return str(text).encode("utf-8", "replace").decode("utf-8")


def render_error(status: int, code: str, message: str, fields: dict | None = None):
    message = _printable(message)
    fields = {_printable(k): _printable(v) for k, v in (fields or {}).items()}
    if wants_json():
        body = {"ok": False, "error": {"code": code, "message": message, "fields": fields or {}}}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message, fields=fields or {}), status


def register_error_handlers(app) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        return render_error(error.http_status, error.code, error.message, error.fields)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        log.warning("csrf rejected path=%s reason=%s", request.path, error.description)
        return render_error(400, "csrf_failed", "页面已过期或来源不可信（安全校验未通过），请刷新页面后重试")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_error):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return render_error(413, "too_large", f"上传内容过大，单次不能超过 {limit // (1024 * 1024)} MB")

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        response, status = render_error(status, f"http_{status}", http_message(status))
        response = app.make_response((response, status))
        # 405 names the methods the resource has (RFC 9110 requires Allow), 401 its challenge.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        reference = secrets.token_hex(4).upper()
        log.exception("unexpected error ref=%s path=%s", reference, request.path)
        return render_error(500, "internal_error", f"系统出现异常，请稍后重试。如持续出现，请联系管理员并提供编号 {reference}")
