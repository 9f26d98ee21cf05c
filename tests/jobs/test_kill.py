"""The jobs process killed with SIGKILL mid-delivery: after a restart every message is shown once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from config import PROJECT_ROOT
from models import OutboundMessage, OutboxStatus, SandboxMessage
from tests.jobs.conftest import put_messages

TOTAL = 300
LEASE_SECONDS = 3


class SentCounter:
    """Counts sent rows without taking SQLite's write lock (the engine begins IMMEDIATE), so the
    poll never queues behind the jobs process and sees the count move."""

    def __init__(self, app, session_factory):
        url = app.extensions["settings"].database_url
        self.session_factory = session_factory
        self.sqlite = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None) if url.startswith(
            "sqlite:///") else None

    def __call__(self) -> int:
        if self.sqlite is not None:
            return self.sqlite.execute("SELECT count(*) FROM outbound_message WHERE status = 'sent'").fetchone()[0]
        return status_counts(self.session_factory).get(OutboxStatus.SENT, 0)

    def close(self):
        if self.sqlite is not None:
            self.sqlite.close()


def status_counts(session_factory) -> dict[str, int]:
    with session_factory() as session:
        return {s: n for s, n in session.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
        )}


def start_jobs_process(app, instance_dir, log_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DINGTALK_", "REDIS_"))}
    env.update(
        APP_ENV="development",
        DATABASE_URL=app.extensions["settings"].database_url,
        SECRET_KEY="kill-test-secret-" + "k" * 32,
        INSTANCE_DIR=str(instance_dir),
        SANDBOX_ENABLED="true",
        OUTBOX_CLAIM_LEASE_SECONDS=str(LEASE_SECONDS),
        OUTBOX_BATCH_SIZE="25",
        LOG_LEVEL="INFO",
    )
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed by the test
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    return process, log


def wait_for(predicate, timeout, what, log_path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.002)
    pytest.fail(f"timed out waiting for {what}; jobs log:\n{log_path.read_text(errors='replace')[-4000:]}")


@pytest.mark.slow
def test_sigkill_mid_delivery_then_restart_delivers_each_message_once(app, session_factory, tmp_path):
    ids = put_messages(session_factory, datetime.now(UTC) - timedelta(seconds=1), TOTAL, channel="sandbox")
    log_path = tmp_path / "jobs.log"
    sent = SentCounter(app, session_factory)

    first, log = start_jobs_process(app, tmp_path / "instance", log_path)
    try:
        wait_for(lambda: sent() > 0, 60, "the first delivery", log_path)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    at_kill = status_counts(session_factory)
    assert 0 < at_kill.get(OutboxStatus.SENT, 0) < TOTAL, f"killed too late to test anything: {at_kill}"

    second, log = start_jobs_process(app, tmp_path / "instance", log_path)
    try:
        wait_for(lambda: sent() == TOTAL, 90, "all messages sent", log_path)
        second.send_signal(signal.SIGTERM)  # graceful: running jobs finish, the process exits 0
        assert second.wait(timeout=30) == 0
    finally:
        if second.poll() is None:
            second.kill()
        log.close()
        sent.close()

    assert status_counts(session_factory) == {OutboxStatus.SENT: TOTAL}
    with session_factory() as session:
        shown = {i: n for i, n in session.execute(
            select(SandboxMessage.outbound_id, func.count()).group_by(SandboxMessage.outbound_id)
        )}
        texts = sorted(session.scalars(select(SandboxMessage.text)))
    assert shown == dict.fromkeys(ids, 1)
    assert len(set(texts)) == TOTAL
