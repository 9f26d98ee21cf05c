"""Probes for the operator: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response, current_app, jsonify

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


@bp.get("/metrics")
def metrics():
    """Prometheus text format: this deployment's processes (all gunicorn workers and a jobs process
    sharing ``PROMETHEUS_MULTIPROC_DIR``, else this process) plus what the database knows."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    from services.observability import DatabaseCollector

    settings = current_app.extensions["settings"]
    if settings.prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes, path=str(settings.prometheus_multiproc_dir))
    else:
        processes = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(current_app.extensions["db_sessionmaker"]))
    body = generate_latest(processes) + generate_latest(database)
    return Response(body, 200, mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})
