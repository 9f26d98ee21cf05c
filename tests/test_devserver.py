"""`flask --app wsgi devserver` (what `make run PORT=…` starts), as a real process.

Without BASE_URL the address it serves is the site's address: QR posters and the links in messages
point at the port actually served (``make run PORT=5101`` used to leave them at :5000). The
background scheduler runs in it unless RUN_JOBS_IN_WEB=false.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from config import PROJECT_ROOT
from database import session_scope
from models import OutboundMessage, Role
from services.orders import operations as wo
from tests.factories import Factory

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def desk(app, session_factory):
    """A sysadmin who can sign in, and an order fed back to its enterprise 25 hours ago."""
    with session_scope(session_factory) as session:
        factory = Factory(session)
        admin = factory.person(Role.SYSADMIN, login="devserver-admin")
        staff = factory.person(Role.SERVICE_STAFF)
        now = datetime.now(UTC) - timedelta(hours=26)
        order = factory.order(staff, now, level=1)
        wo.resolve(factory.ctx(staff, now), order, result="已协调解决")
        wo.feedback(factory.ctx(staff, now + timedelta(hours=1)), order)
        return {"zone_id": staff.zone_id, "order_id": order.id, "admin": admin.id}


class DevServer:
    def __init__(self, app, tmp_path, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"devserver-{self.port}.log"
        child_env = {k: v for k, v in os.environ.items()
                     if not k.startswith(("WECOM_", "DINGTALK_", "REDIS_", "BASE_URL", "RUN_JOBS_IN_WEB", "FLASK_"))}
        child_env.update(APP_ENV="development", DATABASE_URL=app.extensions["settings"].database_url,
                         SECRET_KEY="devserver-test-" + "d" * 32, INSTANCE_DIR=str(tmp_path / "instance"),
                         SANDBOX_ENABLED="true", LOG_LEVEL="INFO", **env)
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "devserver", "--port", str(self.port)],
            cwd=PROJECT_ROOT, env=child_env, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait(lambda: self._answers(), 60, "the server to answer")

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def wait(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}; log:\n{self.output()[-4000:]}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def survey_texts(app, session_factory, order_id) -> list[str]:
    """Read without SQLite's write lock (the engine begins IMMEDIATE), so the server is never held up."""
    url = app.extensions["settings"].database_url
    if url.startswith("sqlite:///"):
        import json

        with sqlite3.connect(url[len("sqlite:///"):]) as connection:
            rows = connection.execute("SELECT payload FROM outbound_message WHERE kind = 'survey' AND work_order_id = ?",
                                      (order_id,)).fetchall()
        return [json.loads(payload)["text"] for (payload,) in rows]
    with session_factory() as session:
        return [m.payload["text"] for m in session.scalars(
            select(OutboundMessage).where(OutboundMessage.kind == "survey", OutboundMessage.work_order_id == order_id))]


@pytest.mark.slow
def test_without_base_url_posters_and_messages_use_the_port_served(app, session_factory, desk, tmp_path):
    server = DevServer(app, tmp_path)
    try:
        assert f"对外地址（BASE_URL）：{server.url}" in server.output()
        web = requests.Session()
        token = CSRF.search(web.get(server.url + "/login", timeout=10).text).group(1)
        signed_in = web.post(server.url + "/login", timeout=10, data={
            "csrf_token": token, "username": "devserver-admin", "password": "demo-pass-123"})
        assert signed_in.status_code == 200 and "退出" in signed_in.text
        poster = web.get(f"{server.url}/grid/posters/zone/{desk['zone_id']}", timeout=10)
        assert poster.status_code == 200
        assert f"{server.url}/contact" in poster.text and ":5000" not in poster.text

        # The background scheduler (RUN_JOBS_IN_WEB defaults to on in development) sends the survey.
        texts = server.wait(lambda: survey_texts(app, session_factory, desk["order_id"]), 60, "the survey")
        assert f"评价链接：{server.url}/s/" in texts[0]
    finally:
        server.stop()


@pytest.mark.slow
def test_run_jobs_in_web_false_starts_no_scheduler(app, session_factory, desk, tmp_path):
    server = DevServer(app, tmp_path, RUN_JOBS_IN_WEB="false", BASE_URL="https://qy.example.gov.cn")
    try:
        output = server.output()
        assert "对外地址（BASE_URL）：https://qy.example.gov.cn" in output  # a configured address is kept
        assert "未启动后台调度线程" in output
        time.sleep(3)  # the scheduler would run every job at once on start
        assert survey_texts(app, session_factory, desk["order_id"]) == []
    finally:
        server.stop()
