"""Metrics in the Prometheus text format and a request id that follows a WeCom callback from the
web process's request into the jobs process's processing of it."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from database import session_scope
from jobs.scheduler import run_job_now
from models import InboundMessage, InboxStatus, Role
from services.messaging.outbox import Envelope, enqueue
from services.observability import JsonFormatter, RequestIdFilter, request_id_scope
from tests.emulators.wecom import text_message


def samples(body: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_count_requests_and_read_the_outbox_by_channel(client, session_factory):
    with session_scope(session_factory) as session:
        enqueue(session, Envelope(channel="sandbox", kind="notice", target_type="person", target_ref="p1",
                                  payload={"text": "测试"}, dedupe_key="metrics-test"), now=datetime.now(UTC))
    assert client.get("/healthz").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    found = samples(response.get_data(as_text=True))
    assert found[("yxby_http_requests_total", (("endpoint", "health.healthz"), ("method", "GET"),
                                              ("status", "200")))] >= 1
    assert any(name == "yxby_http_request_duration_seconds_count" for name, _ in found)
    assert found[("yxby_outbox_messages", (("channel", "sandbox"), ("status", "pending")))] == 1
    assert found[("yxby_database_up", ())] == 1


def test_a_callbacks_request_id_follows_it_into_the_jobs_process(wecom_app, wecom_emulator, factory, session,
                                                                 session_factory, caplog):
    factory.person(Role.SERVICE_STAFF, name="赵服务", wecom_userid="staff01")
    session.commit()
    client = wecom_app.test_client()
    query, body = wecom_emulator.encrypt_callback(text_message("staff01", "帮助", 9101))
    response = client.post("/wecom/callback", query_string=query, data=body, content_type="text/xml",
                           headers={"X-Request-Id": "nginx-req-4711"})
    assert response.status_code == 200 and response.headers["X-Request-Id"] == "nginx-req-4711"
    with session_factory() as s:
        [row] = s.scalars(select(InboundMessage))
        assert row.request_id == "nginx-req-4711"

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.INFO, logger="services.messaging.inbox"):
        run_job_now(wecom_app, "process_inbound")
    with session_factory() as s:
        assert s.scalars(select(InboundMessage.status)).one() == InboxStatus.DONE
    processed = [r for r in caplog.records if r.name == "services.messaging.inbox" and "inbound" in r.getMessage()]
    assert processed and all(r.request_id == "nginx-req-4711" for r in processed)

    found = samples(client.get("/metrics").get_data(as_text=True))
    assert found[("yxby_inbound_callbacks_total", (("outcome", "stored"), ("platform", "wecom")))] >= 1
    assert found[("yxby_inbound_callbacks_total", (("outcome", "done"), ("platform", "wecom")))] >= 1
    assert found[("yxby_job_runs_total", (("job", "process_inbound"), ("result", "ok")))] >= 1
    assert found[("yxby_inbound_messages", (("platform", "wecom"), ("status", "done")))] == 1


def test_a_request_without_an_id_gets_one_and_a_forged_one_is_replaced(client, session_factory):
    first = client.get("/healthz").headers["X-Request-Id"]
    assert len(first) == 16 and first != client.get("/healthz").headers["X-Request-Id"]
    forged = client.get("/healthz", headers={"X-Request-Id": "a b\"c"}).headers["X-Request-Id"]
    assert forged != "a b\"c" and len(forged) == 16


def test_json_log_lines_carry_the_request_id():
    record = logging.LogRecord("yxby.test", logging.WARNING, __file__, 1, "出错了 %s", ("x",), None)
    with request_id_scope("req-1"):
        RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "出错了 x" and line["request_id"] == "req-1" and line["level"] == "WARNING"


def test_sentry_is_initialised_only_when_a_dsn_is_set(app):
    import sentry_sdk

    from application import create_app

    assert not sentry_sdk.get_client().is_active()
    reporting = create_app(settings=app.extensions["settings"].with_overrides(
        {"sentry_dsn": "http://public@127.0.0.1:9/1"}))
    try:
        assert sentry_sdk.get_client().is_active()
        assert sentry_sdk.get_client().dsn == "http://public@127.0.0.1:9/1"
    finally:
        sentry_sdk.get_client().close(timeout=0)
        sentry_sdk.init()  # back to a client that sends nothing
        reporting.extensions["db_engine"].dispose()
