"""Stream mode end to end: the worker (the ``dingtalk-stream`` package with our connection and run
loop) against a local gateway that pushes frames and collects the acks."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from dingtalk_stream import ChatbotMessage
from sqlalchemy import select

from extensions import dingtalk_stream_worker
from models import Person, WorkOrder, WorkOrderEvent
from services.orders.lifecycle import Action, State
from tests.emulators.dingtalk import make_desk, robot_message, whistled_order


@pytest.fixture
def worker(dingtalk_app, dingtalk_emulator, session_factory):
    gateway = dingtalk_emulator.attach_gateway()
    stream = dingtalk_stream_worker(dingtalk_app, backoff=(0.05, 0.1, 0.2))
    thread = threading.Thread(target=stream.run, name="dingtalk-stream-test", daemon=True)
    thread.start()
    assert gateway.wait_connected(1), "the worker never connected to the gateway"
    yield stream, gateway
    stream.stop()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the worker did not stop"


def test_a_robot_message_pushed_through_the_gateway_is_handled_end_to_end(
        worker, dingtalk_emulator, dingtalk_deliver, session, session_factory, factory, now):
    stream, gateway = worker
    assert {"type": "CALLBACK", "topic": ChatbotMessage.TOPIC} in gateway.subscriptions
    assert gateway.ping()["code"] == 200

    with time_machine.travel(now, tick=True):
        desk = make_desk(session, factory, dingtalk_emulator)
        order = whistled_order(session, factory, desk, now)
        payload = robot_message(dingtalk_emulator, "wangbb", f"报到 {order.number[-4:]}", title="人社局为企服务群")
        ack = gateway.push_callback(ChatbotMessage.TOPIC, payload)
        assert ack["code"] == 200
        with session_factory() as s:
            assert s.get(WorkOrder, order.id).state == State.PROCESSING
            [signed] = s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id,
                                                              WorkOrderEvent.action == Action.SIGN)).all()
            assert signed.actor_id == desk.helper_id and signed.channel == "dingtalk"

        dingtalk_deliver(now + timedelta(minutes=1))
        [reply] = [r for r in dingtalk_emulator.session_replies if r["at"]["atUserIds"] == ["wangbb"]]
        assert f"已报到工单 {order.number}" in reply["text"]["content"]

        # The gateway asks for a reconnect; the worker comes back by itself and the redelivered
        # message (same msgId) is acknowledged without acting twice.
        gateway.disconnect()
        assert gateway.wait_connected(2)
        assert gateway.push_callback(ChatbotMessage.TOPIC, payload)["code"] == 200
        # A cut connection too.
        gateway.drop()
        assert gateway.wait_connected(3)
        assert gateway.ping()["code"] == 200  # answered on the third connection
        assert stream.connections == 3
        with session_factory() as s:
            assert len(s.scalars(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id,
                                                              WorkOrderEvent.action == Action.SIGN)).all()) == 1


def test_an_unusable_message_is_refused_and_a_leaver_loses_the_binding(
        worker, dingtalk_emulator, session, session_factory, factory):
    _stream, gateway = worker
    desk = make_desk(session, factory, dingtalk_emulator)
    session.commit()
    assert gateway.push_callback(ChatbotMessage.TOPIC, {"text": {"content": "报到"}})["code"] == 400

    ack = gateway.push_event("user_leave_org", {"userId": ["wangbb"], "eventId": "e1"})
    assert ack["code"] == 200
    with session_factory() as s:
        assert s.get(Person, desk.helper_id).dingtalk_userid is None
        assert s.get(Person, desk.outsider_id).dingtalk_userid == "libb"
