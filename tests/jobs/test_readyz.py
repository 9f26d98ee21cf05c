"""/readyz follows the jobs process: ready while it beats, 503 once it is killed, ready again after
a restart. The threshold is shortened to a few seconds (production: 2 minutes)."""

from __future__ import annotations

import signal
import time

import pytest

from application import create_app
from tests.jobs.test_kill import start_jobs_process

MAX_AGE = 8  # seconds; the jobs process beats every 5


def wait_for_status(client, status, timeout, log_path):
    deadline = time.monotonic() + timeout
    body = None
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        body = response.get_json()
        if response.status_code == status:
            return body
        time.sleep(0.25)
    pytest.fail(f"/readyz never answered {status}: {body}; jobs log:\n"
                f"{log_path.read_text(errors='replace')[-3000:]}")


def test_healthz_is_liveness_only(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"ok": True}


def test_readyz_without_a_jobs_process_is_503_and_says_why(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "ok" and body["jobs"]["ok"] is False and body["jobs"]["last_beat"] is None
    assert body["outbox"] == {"backlog": 0, "dead": 0, "by_channel": {}}
    assert body["inbound"] == {"pending": 0, "failed": 0}


@pytest.mark.slow
def test_readyz_turns_503_when_the_jobs_process_dies_and_200_after_restart(app, session_factory, tmp_path):
    short = create_app(settings=app.extensions["settings"].with_overrides({"jobs_heartbeat_max_age_seconds": MAX_AGE}))
    client = short.test_client()
    log_path = tmp_path / "jobs.log"
    try:
        first, log = start_jobs_process(app, tmp_path / "instance", log_path)
        try:
            body = wait_for_status(client, 200, 60, log_path)
            assert body["ok"] is True and body["jobs"]["age_seconds"] <= MAX_AGE
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
            log.close()
        killed_at = time.monotonic()
        body = wait_for_status(client, 503, MAX_AGE + 10, log_path)
        assert body["database"] == "ok" and body["jobs"]["ok"] is False
        assert body["jobs"]["age_seconds"] >= MAX_AGE  # reported to a tenth of a second
        assert time.monotonic() - killed_at <= MAX_AGE + 10

        second, log = start_jobs_process(app, tmp_path / "instance", log_path)
        try:
            wait_for_status(client, 200, 60, log_path)
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(timeout=30)
            finally:
                if second.poll() is None:
                    second.kill()
                log.close()
    finally:
        short.extensions["db_engine"].dispose()


def test_readyz_is_503_when_the_database_is_down(app, session_factory, tmp_path):
    broken_url = ("postgresql+psycopg://nobody@127.0.0.1:1/none" if "postgresql" in
                  app.extensions["settings"].database_url else f"sqlite:///{tmp_path}/missing/dir/x.db")
    broken = create_app(settings=app.extensions["settings"].with_overrides({"database_url": broken_url}))
    response = broken.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"
