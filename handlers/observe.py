"""Per request: the request id (from Nginx's ``X-Request-Id`` or new) and the request metrics."""

from __future__ import annotations

import time

from flask import Flask, g, request

from services import observability


def register(app: Flask) -> None:
    @app.before_request
    def _start():
        g.request_started = time.perf_counter()
        g.request_id_token = observability.set_request_id(
            observability.new_request_id(request.headers.get("X-Request-Id")))

    @app.after_request
    def _finish(response):
        response.headers["X-Request-Id"] = observability.current_request_id()
        started = g.get("request_started")
        if started is not None:
            observability.record_request(request.endpoint or "unmatched", request.method, response.status_code,
                                         time.perf_counter() - started)
        return response

    @app.teardown_request
    def _forget(_exc):
        token = g.pop("request_id_token", None)
        if token is not None:
            observability.reset_request_id(token)
