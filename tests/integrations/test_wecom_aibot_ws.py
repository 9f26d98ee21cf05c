"""The intelligent robot over its long connection, against a local WebSocket server that plays
WeCom's frames: subscribe, heartbeat, a message callback answered under its req_id over the same
connection, a retried msgid answered once, a dropped connection re-subscribed, a wrong secret
refused."""

import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from models import OutboundMessage, OutboxStatus, WorkOrder, WorkOrderEvent
from services.orders.lifecycle import Action, State
from tests.emulators.fixtures import wecom_settings_for
from tests.emulators.wecom_aibot_ws import BOT_ID, SECRET, AibotSocketEmulator, text_message
from tests.handlers import test_wecom_aibot as http_robot
from tests.handlers import test_wecom_callback as app_callback

desk = app_callback.desk


@pytest.fixture
def socket_server():
    with AibotSocketEmulator() as server:
        yield server


@pytest.fixture
def ws_app(app, wecom_emulator, socket_server):
    from application import create_app

    wecom = replace(wecom_settings_for(wecom_emulator), aibot_bot_id=BOT_ID, aibot_secret=SECRET,
                    aibot_ws_url=socket_server.url)
    flask_app = create_app(settings=app.extensions["settings"].with_overrides({"wecom": wecom}))
    yield flask_app
    flask_app.extensions["db_engine"].dispose()


@pytest.fixture
def running_worker(ws_app):
    from extensions import wecom_aibot_ws_worker

    worker = wecom_aibot_ws_worker(ws_app, heartbeat=0.3, timeout=3, max_backoff=0.5)
    thread = threading.Thread(target=worker.run, name="aibot-ws-worker", daemon=True)
    thread.start()
    assert worker.subscribed.wait(10), "the worker did not subscribe"
    yield worker
    worker.stop()
    thread.join(timeout=10)


def test_sign_in_the_group_over_the_long_connection(ws_app, wecom_emulator, socket_server, desk, session_factory,
                                                   running_worker):
    client = ws_app.test_client()
    order = http_robot._dispatched_order(client, wecom_emulator, desk, session_factory, 9300)
    [card_call] = [r for r in wecom_emulator.calls("message/send", ok=True) if r.json["msgtype"] == "template_card"]
    task_id = card_call.json["template_card"]["task_id"]
    subscribe = socket_server.frames[0]
    assert subscribe["cmd"] == "aibot_subscribe" and subscribe["body"] == {"bot_id": BOT_ID, "secret": SECRET}

    message = text_message("helper01", f"@有需必应 报到 {order.number}", chatid="wrRSJws")
    req_id = socket_server.push(message)
    assert socket_server.wait_for(lambda: len(socket_server.answers) == 1)
    [answer] = socket_server.answers
    assert answer["req_id"] == req_id and answer["msgtype"] == "markdown"
    assert answer["markdown"]["content"].startswith("<@helper01> ") and order.number in answer["markdown"]["content"]
    with session_factory() as s:
        current = s.get(WorkOrder, order.id)
        assert current.state == State.PROCESSING and current.assigned_person_id == desk["helper1"].id
        sign = s.scalar(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id,
                                                     WorkOrderEvent.action == Action.SIGN))
        assert sign.channel == "wecom"
        [row] = s.scalars(select(OutboundMessage).where(OutboundMessage.channel == "wecom_ws"))
        assert row.status == OutboxStatus.SENT and row.target_type == "session"

    # The card is greyed for everyone by the jobs process, as after any other 报到.
    app_callback.deliver(ws_app)
    assert wecom_emulator.cards[task_id].replaced_with == "已由孙帮办报到"

    # WeCom delivers the same msgid again: acted on and answered once.
    socket_server.push(message)
    time.sleep(1.0)  # several heartbeats: time enough for a second answer, were there one
    assert len(socket_server.answers) == 1
    assert [f["cmd"] for f in socket_server.frames].count("ping") >= 1  # the heartbeat

    # The connection drops: the worker subscribes again and keeps answering.
    socket_server.disconnect_all()
    assert socket_server.wait_for(lambda: socket_server.subscriptions == 2)
    assert running_worker.subscribed.wait(5)
    socket_server.push(text_message("helper01", "@有需必应 我的工单"))
    assert socket_server.wait_for(lambda: len(socket_server.answers) == 2)
    assert order.number in socket_server.answers[1]["markdown"]["content"]


def test_a_wrong_secret_is_refused_and_nothing_is_subscribed(ws_app, socket_server):
    from extensions import wecom_aibot_ws_worker
    from integrations.wecom_aibot_ws import AibotSocketWorker

    good = wecom_aibot_ws_worker(ws_app)
    worker = AibotSocketWorker(socket_server.url, BOT_ID, "wrong-secret", on_message=good.on_message,
                               timeout=2, max_backoff=0.2)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    assert socket_server.wait_for(lambda: len(socket_server.frames) >= 2, 5)  # refused, then retried
    assert socket_server.subscriptions == 0 and not worker.subscribed.is_set()
    worker.stop()
    thread.join(timeout=10)
