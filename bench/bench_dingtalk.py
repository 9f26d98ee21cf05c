"""DingTalk robot callbacks: ``POST /dingtalk/robot`` (sign, parse, store in the inbox keyed by
msgId, commit, answer) against a bare endpoint that only checks the sign, both through the same
Flask test client in the same run; then the jobs process's share (``process_inbound``: sender,
command, reply in the outbox) timed on its own over everything the callbacks stored."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, jsonify, request

from config import DingTalkSettings, load_settings
from database import session_scope
from integrations.dingtalk import hmac_sign, verify_callback_sign
from models import Department, InboundMessage, InboxStatus, Person, Role
from services.messaging.notify import Channels
from services.orders.operations import NewOrder, OpContext, create_order

CALLBACKS = 300
APP_SECRET = "bench-app-secret-0123456789abcdef"


def _bare_app() -> Flask:
    app = Flask("bench_bare")

    @app.post("/dingtalk/robot")
    def robot():
        now_ms = int(time.time() * 1000)
        if verify_callback_sign(APP_SECRET, request.headers.get("timestamp"), request.headers.get("sign"), now_ms):
            return jsonify({"ok": False}), 403
        json.loads(request.get_data())
        return jsonify({})

    return app


def _desk_app(session_factory):
    from application import create_app

    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    env = {"APP_ENV": "development", "SECRET_KEY": "bench-" + "k" * 40, "DATABASE_URL": url,
           "INSTANCE_DIR": tempfile.mkdtemp(prefix="yxby-bench-"), "SANDBOX_ENABLED": "false", "LOG_LEVEL": "WARNING"}
    dingtalk = DingTalkSettings(app_key="benchappkey", app_secret=APP_SECRET, agent_id="1",
                                api_base="http://127.0.0.1:9/", openapi_base="http://127.0.0.1:9/")
    return create_app(settings=load_settings(env, read_dotenv=False).with_overrides({"dingtalk": dingtalk}))


def _prepare(session_factory, ids) -> str:
    """A chief helper bound to DingTalk and an order whistled to their department; its short number."""
    staff_id, enterprise_id, _zone_id = ids
    with session_scope(session_factory) as session:
        dept = session.query(Department).filter_by(code="rsj").one()
        helper = session.query(Person).filter_by(dingtalk_userid="bench-helper").one_or_none()
        if helper is None:
            session.add(Person(name="基准帮办", role=Role.CHIEF_HELPER, department=dept, dingtalk_userid="bench-helper"))
        staff = session.get(Person, staff_id)
        ctx = OpContext(session, staff, datetime.now(UTC), "bench", Channels(sandbox=False, dingtalk=True))
        order = create_order(ctx, NewOrder(enterprise_id=enterprise_id, content="基准测试：企业用工需求对接", level=2,
                                           department_id=dept.id))
        return order.number[-4:]


def _payload(i: int, text: str) -> bytes:
    return json.dumps({
        "msgId": f"bench-msg-{time.time_ns()}-{i}", "msgtype": "text", "text": {"content": " " + text},
        "senderStaffId": "bench-helper", "senderNick": "基准帮办", "conversationId": "cid-bench",
        "conversationType": "2", "conversationTitle": "基准群",
        "sessionWebhook": "http://127.0.0.1:9/robot/sendBySession?session=bench",
        "sessionWebhookExpiredTime": int(time.time() * 1000) + 5_400_000,
    }, ensure_ascii=False).encode()


def _time_callbacks(app: Flask, text: str, count: int) -> float:
    client = app.test_client()
    bodies = [_payload(i, text) for i in range(count)]
    t0 = time.perf_counter()
    for body in bodies:
        timestamp = int(time.time() * 1000)
        response = client.post("/dingtalk/robot", data=body, content_type="application/json",
                               headers={"timestamp": str(timestamp), "sign": hmac_sign(APP_SECRET, timestamp)})
        if response.status_code != 200:
            raise RuntimeError(f"callback failed: {response.status_code} {response.get_data(as_text=True)[:200]}")
    return time.perf_counter() - t0


def _drain_inbox(app: Flask) -> tuple[int, float]:
    from sqlalchemy import func, select

    from jobs.definitions import utc_now
    from services.messaging.inbound import processors_for
    from services.messaging.inbox import process_due

    factory = app.extensions["db_sessionmaker"]
    processors = processors_for(app.extensions["settings"])
    t0 = time.perf_counter()
    while process_due(factory, processors, now_fn=utc_now).claimed:
        pass
    seconds = time.perf_counter() - t0
    with factory() as session:
        done = session.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.platform == "dingtalk", InboundMessage.status == InboxStatus.DONE))
    return done, seconds


def run(session_factory, ids, count: int = CALLBACKS) -> None:
    short = _prepare(session_factory, ids)
    desk = _desk_app(session_factory)
    try:
        baseline = _time_callbacks(_bare_app(), f"查询 {short}", count)
        full = _time_callbacks(desk, f"查询 {short}", count)
        processed, drain = _drain_inbox(desk)
    finally:
        desk.extensions["db_engine"].dispose()
    print(
        f"钉钉机器人回调（查询）×{count}: {full:.2f} s ({count / full:.0f}/s); "
        f"baseline 仅验签的空端点: {baseline:.2f} s ({count / baseline:.0f}/s); ratio {full / baseline:.1f}×"
    )
    print(f"钉钉收件箱（jobs 进程 process_inbound，执行指令并写回复）：{processed} 条 {drain:.2f} s，"
          f"{processed / drain:.0f}/s")


if __name__ == "__main__":  # python bench/bench_dingtalk.py (SQLite in a temporary directory)
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.run import prepare

    engine, factory, prepared_ids = prepare(f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}")
    run(factory, prepared_ids)
    engine.dispose()
