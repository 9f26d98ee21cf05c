"""What an operator watches: the request id, JSON log lines and the Prometheus metrics.

* **Request id.** Each web request carries one (``X-Request-Id`` from Nginx, else a new one);
  a platform callback's id is stored on its inbox row, and the jobs process puts it back in
  place while it processes that row, so one grep follows a message from the callback into the
  jobs process's log.
* **Logs.** ``LOG_FORMAT=json`` writes one JSON object a line (time, level, logger, message,
  request id, and the exception when there is one).
* **Metrics.** Counters and histograms of this process (requests, callbacks, job runs) live in
  ``prometheus_client``'s registry — in files under ``PROMETHEUS_MULTIPROC_DIR`` when set, so
  every gunicorn worker and a jobs process on the same host are added up by whichever worker
  answers the scrape. What the database knows (outbox by channel and status, waiting and failed
  callbacks, imported rows) is read when scraped (``DatabaseCollector``), never double-counted.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import ImportJob, ImportStatus, InboundMessage, OutboundMessage

# --- Request id ---------------------------------------------------------------------------------

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_VALID_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


def new_request_id(offered: str | None = None) -> str:
    """The id a proxy offered when it is a plain token, else a new random one."""
    if offered and _VALID_ID.fullmatch(offered):
        return offered
    return secrets.token_hex(8)


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> contextvars.Token:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


@contextmanager
def request_id_scope(value: str) -> Iterator[str]:
    token = _request_id.set(value or "")
    try:
        yield value
    finally:
        _request_id.reset(token)


# --- Logging ------------------------------------------------------------------------------------

class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or _request_id.get(),
            "process": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure_logging(level: str, fmt: str) -> None:
    """Like ``logging.basicConfig``: when nothing has configured the root logger yet (a plain
    process: gunicorn, the jobs process, a command), one stream handler in the chosen format and
    the level. Handlers someone else installed (a test runner's) are left alone. Calling again
    (another app in the same process) only updates our own handler."""
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_yxby", False)]
    if not ours:
        if root.handlers:
            return
        handler = logging.StreamHandler()
        handler._yxby = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        ours = [handler]
    root.setLevel(level)
    for handler in ours:
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))


# --- Metrics of this process --------------------------------------------------------------------

HTTP_REQUESTS = Counter("yxby_http_requests_total", "HTTP requests answered", ["endpoint", "method", "status"])
HTTP_LATENCY = Histogram("yxby_http_request_duration_seconds", "Time to answer an HTTP request", ["endpoint"],
                         buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
# outcome: stored | duplicate | rejected (web, at the door); done | failed | retry (jobs, processing)
INBOUND_CALLBACKS = Counter("yxby_inbound_callbacks_total", "Platform callbacks by outcome", ["platform", "outcome"])
JOB_RUNS = Counter("yxby_job_runs_total", "Scheduled job runs", ["job", "result"])
JOB_DURATION = Histogram("yxby_job_duration_seconds", "Scheduled job run time", ["job"],
                         buckets=(0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300))


def record_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(endpoint, method, str(status)).inc()
    HTTP_LATENCY.labels(endpoint).observe(seconds)


def record_callback(platform: str, outcome: str) -> None:
    INBOUND_CALLBACKS.labels(platform, outcome).inc()


def record_job(name: str, ok: bool, seconds: float) -> None:
    JOB_RUNS.labels(name, "ok" if ok else "error").inc()
    JOB_DURATION.labels(name).observe(seconds)


# --- Metrics the database knows -----------------------------------------------------------------

class DatabaseCollector:
    """Read at scrape time, from one short read-only session."""

    def __init__(self, session_factory: sessionmaker[Session] | Callable[[], Session]):
        self.session_factory = session_factory

    def describe(self):
        return []

    def collect(self):
        outbox = GaugeMetricFamily("yxby_outbox_messages", "Outbox messages by channel and status "
                                   "(pending/sending = backlog, sent, dead)", labels=["channel", "status"])
        inbound = GaugeMetricFamily("yxby_inbound_messages", "Stored platform callbacks by platform and status",
                                    labels=["platform", "status"])
        imports = GaugeMetricFamily("yxby_import_rows", "Rows of finished imports still listed, by kind and outcome",
                                    labels=["kind", "outcome"])
        up = GaugeMetricFamily("yxby_database_up", "1 when the database answered the scrape")
        session = self.session_factory()
        try:
            for channel, status, n in session.execute(
                    select(OutboundMessage.channel, OutboundMessage.status, func.count())
                    .group_by(OutboundMessage.channel, OutboundMessage.status)):
                outbox.add_metric([channel, status], n)
            for platform, status, n in session.execute(
                    select(InboundMessage.platform, InboundMessage.status, func.count())
                    .group_by(InboundMessage.platform, InboundMessage.status)):
                inbound.add_metric([platform, status], n)
            columns = ("new", "changed", "unchanged", "errors")
            for row in session.execute(
                    select(ImportJob.kind, *(func.coalesce(func.sum(getattr(ImportJob, c)), 0) for c in columns))
                    .where(ImportJob.status == ImportStatus.DONE, ImportJob.dry_run.is_(False))
                    .group_by(ImportJob.kind)):
                for column, value in zip(columns, row[1:], strict=True):
                    imports.add_metric([row[0], column], value)
            up.add_metric([], 1)
        except Exception:  # the scrape still answers; yxby_database_up says why it is empty
            logging.getLogger(__name__).warning("metrics: the database could not be read", exc_info=True)
            up.add_metric([], 0)
        finally:
            session.rollback()
            session.close()
        yield from (outbox, inbound, imports, up)
