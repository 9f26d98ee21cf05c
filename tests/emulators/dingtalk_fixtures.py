"""DingTalk fixtures for tests in any directory (listed in ``tests/conftest.py`` ``pytest_plugins``).

* ``dingtalk_emulator`` — a running ``DingTalkEmulator`` (fresh per test);
* ``dingtalk_app`` — the app with DingTalk switched on against it, on the session app's database;
* ``dingtalk_client`` — its test client (tables wiped and reference data seeded);
* ``dingtalk_post(payload)`` — a correctly signed robot callback to ``POST /dingtalk/robot``;
* ``dingtalk_process()`` — what the jobs process does every second: act on the stored callbacks;
* ``dingtalk_deliver(at)`` — one outbox delivery pass of that app (every adapter it enables).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import replace

import pytest

from config import DingTalkSettings
from tests.emulators.dingtalk import DingTalkEmulator, callback_headers

APP_KEY = "dingemulatorappkey01"
APP_SECRET = "emulator-app-secret-0123456789abcdefghij"
AGENT_ID = "3000001"
CORP_ID = "dingemulatorcorp"  # what 免登 and dd.config name the organisation by (+ the emulator's suffix)
ROBOT_CODE = "ding-robot-code"


def corp_id_for(emulator: DingTalkEmulator) -> str:
    # Per emulator like the app key: the SDK keys its cached tokens and ticket by the corp id, and
    # with REDIS_URL an earlier test's would otherwise be presented to this emulator.
    return CORP_ID + emulator.app_key[len(APP_KEY):]


def dingtalk_settings_for(emulator: DingTalkEmulator, mode: str = "http") -> DingTalkSettings:
    return replace(DingTalkSettings(), app_key=emulator.app_key, app_secret=emulator.app_secret,
                   agent_id=emulator.agent_id, robot_code=ROBOT_CODE, corp_id=corp_id_for(emulator), api_base=emulator.url,
                   openapi_base=emulator.url, mode=mode)


@pytest.fixture
def dingtalk_emulator():
    # A fresh app key per test: tokens cached in Redis (REDIS_URL) by an earlier test's emulator
    # would otherwise be presented to this one.
    emulator = DingTalkEmulator(app_key=f"{APP_KEY}{secrets.token_hex(4)}", app_secret=APP_SECRET,
                                agent_id=AGENT_ID).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def dingtalk_app(app, dingtalk_emulator):
    from application import create_app

    settings = app.extensions["settings"].with_overrides({"dingtalk": dingtalk_settings_for(dingtalk_emulator)})
    flask_app = create_app(settings=settings)
    yield flask_app
    flask_app.extensions["db_engine"].dispose()


@pytest.fixture
def dingtalk_client(dingtalk_app, session_factory):
    return dingtalk_app.test_client()


@pytest.fixture
def dingtalk_post(dingtalk_client):
    def post(payload, *, headers: dict[str, str] | None = None, data: bytes | str | None = None):
        body = data if data is not None else json.dumps(payload, ensure_ascii=False).encode()
        return dingtalk_client.post("/dingtalk/robot", data=body,
                                    headers=headers if headers is not None else callback_headers(APP_SECRET))

    return post


@pytest.fixture
def dingtalk_process(dingtalk_app):
    from jobs.scheduler import run_job_now

    return lambda: run_job_now(dingtalk_app, "process_inbound")


@pytest.fixture
def dingtalk_deliver(dingtalk_app, session_factory):
    from integrations.registry import adapters_for
    from services.messaging.delivery import deliver_due
    from services.ratelimit import DatabaseRateLimiter

    adapters = adapters_for(dingtalk_app.extensions["settings"])
    limiter = DatabaseRateLimiter(session_factory)

    def deliver(at, *, batch_size: int = 100):
        return deliver_due(session_factory, adapters, limiter, worker_id="dingtalk-test", now_fn=lambda: at,
                           batch_size=batch_size, max_attempts=3)

    deliver.adapters = adapters
    return deliver
