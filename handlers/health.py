"""Probes for the operator: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, jsonify

from handlers.context import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: the process answers. It touches nothing else, so a database outage does not get
    every web worker restarted by the orchestrator."""
    return jsonify({"ok": True})


def _redis_ping():
    settings = current_app.extensions["settings"]
    if not settings.redis_url:
        return None
    client = current_app.extensions.get("readyz_redis")
    if client is None:
        import redis

        client = current_app.extensions.setdefault(
            "readyz_redis", redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2))
    return client.ping


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers and the jobs process beat recently; also the outbox
    backlog, dead letters and failed callbacks, for whoever looks. 503 when not ready."""
    from services.admin.health import readiness

    settings = current_app.extensions["settings"]
    report = readiness(db(), datetime.now(UTC), timedelta(seconds=settings.jobs_heartbeat_max_age_seconds),
                       redis_ping=_redis_ping())
    return jsonify(report.as_dict()), 200 if report.ready else 503
