"""DingTalk Stream mode: the robot's group messages over an outbound WebSocket (no public IP).

``flask --app wsgi dingtalk-stream`` runs one ``StreamWorker``: it asks the gateway
(``{DINGTALK_OPENAPI_BASE}v1.0/gateway/connections/open``) for an endpoint and a ticket, connects,
and hands every ``/v1.0/im/bot/messages/get`` callback to the handler it was given — in the app,
the same platform-neutral flow that acts on the HTTP callbacks' stored bodies
(``services.messaging.inbound``, wired by ``extensions.dingtalk_stream_worker``) — then
acknowledges it. Contact events pushed over the same connection (``user_leave_org``) go to the
event handler (the person's DingTalk binding is removed).

The worker is ``dingtalk_stream.DingTalkStreamClient`` with two methods of our own: the
connection request (the package hard-codes ``api.dingtalk.com`` and sends it without a timeout)
and the run loop (the package's swallows cancellation and waits a fixed 10 s; ours backs off,
reconnects by itself after a dropped connection or a ``disconnect`` from the gateway, and stops
cleanly on SIGTERM). Frame parsing, routing and acknowledgements stay the package's own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import signal
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, urljoin

import requests
import websockets
from dingtalk_stream import (
    AckMessage,
    CallbackHandler,
    CallbackMessage,
    ChatbotMessage,
    Credential,
    DingTalkStreamClient,
    EventHandler,
    EventMessage,
    SystemMessage,
)
from dingtalk_stream.version import VERSION_STRING

from config import DingTalkSettings
from integrations.base import InvalidInbound
from integrations.dingtalk import HTTP_TIMEOUT
from integrations.dingtalk_inbound import CONTACT_EVENTS

log = logging.getLogger("youxubiying.dingtalk.stream")

OPEN_CONNECTION_PATH = "v1.0/gateway/connections/open"
BACKOFF_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
SHORT_LIVED_SECONDS = 5.0  # a connection closed sooner than this counts as a failure (backs off)


class RobotMessageHandler(CallbackHandler):
    """``/v1.0/im/bot/messages/get`` → the callback the worker was given, off the event loop."""

    def __init__(self, on_message: Callable[[Any], str]):
        super().__init__()
        self.on_message = on_message
        self.logger = log

    async def process(self, message: CallbackMessage):
        try:
            status = await asyncio.to_thread(self.on_message, message.data)
        except InvalidInbound as error:
            log.warning("stream: unusable robot message %s: %s", message.headers.message_id, error)
            return AckMessage.STATUS_BAD_REQUEST, str(error)
        except Exception:
            # Not acknowledged as handled: the gateway may deliver it again; msgId de-duplicates.
            log.exception("stream: robot message %s failed", message.headers.message_id)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "error"
        return AckMessage.STATUS_OK, status


class ContactEventHandler(EventHandler):
    """Organisation events subscribed in Stream mode; only leaving the organisation matters here."""

    def __init__(self, on_event: Callable[[str, dict[str, Any]], str]):
        super().__init__()
        self.on_event = on_event
        self.logger = log

    async def process(self, event: EventMessage):
        event_type = event.headers.event_type or ""
        if event_type not in CONTACT_EVENTS:
            return AckMessage.STATUS_OK, "ignored"
        try:
            await asyncio.to_thread(self.on_event, event_type, event.data)
        except Exception:
            log.exception("stream: event %s %s failed", event_type, event.headers.event_id)
            return AckMessage.STATUS_SYSTEM_EXCEPTION, "error"
        return AckMessage.STATUS_OK, "OK"


class StreamWorker(DingTalkStreamClient):
    """The Stream-mode connection. What a robot message or an organisation event does is handed in
    (``on_robot_message(payload) -> status``, ``on_event(event_type, data) -> status``); a robot
    message the handler cannot read raises ``InvalidInbound`` and is refused."""

    def __init__(self, settings: DingTalkSettings, *, on_robot_message: Callable[[Any], str],
                 on_event: Callable[[str, dict[str, Any]], str] | None = None,
                 backoff: tuple[float, ...] = BACKOFF_SECONDS):
        super().__init__(Credential(settings.app_key, settings.app_secret), logger=log)
        base = settings.openapi_base if settings.openapi_base.endswith("/") else settings.openapi_base + "/"
        self.open_connection_url = urljoin(base, OPEN_CONNECTION_PATH)
        self.backoff = backoff
        self.connections = 0  # successful websocket connections so far (reconnects included)
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()
        self.register_callback_handler(ChatbotMessage.TOPIC, RobotMessageHandler(on_robot_message))
        if on_event is not None:
            self.register_all_event_handler(ContactEventHandler(on_event))

    # -- the connection ticket ---------------------------------------------------------------------
    def open_connection(self):
        topics = [{"type": "CALLBACK", "topic": topic} for topic in self.callback_handler_map]
        if self._is_event_required:
            topics.insert(0, {"type": "EVENT", "topic": "*"})
        body = {
            "clientId": self.credential.client_id,
            "clientSecret": self.credential.client_secret,
            "subscriptions": topics,
            "ua": f"youxubiying dingtalk-sdk-python/v{VERSION_STRING}",
            "localIp": self.get_host_ip(),
        }
        headers = {"Accept": "application/json",
                   "User-Agent": f"DingTalkStream/1.0 SDK/{VERSION_STRING} Python/{platform.python_version()}"}
        try:
            response = requests.post(self.open_connection_url, json=body, headers=headers, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            connection = response.json()
        except (requests.RequestException, ValueError) as error:
            log.error("stream: cannot open a connection at %s: %s", self.open_connection_url, error)
            return None
        if not isinstance(connection, dict) or not connection.get("endpoint") or not connection.get("ticket"):
            log.error("stream: the gateway answered without endpoint/ticket")
            return None
        return connection

    def get_host_ip(self) -> str:
        return ""  # informational only; the package probes 8.8.8.8, which an intranet may not route

    # -- the run loop ------------------------------------------------------------------------------
    async def start(self):
        self.pre_start()
        self._loop = asyncio.get_running_loop()
        failures = 0
        while not self._stopping.is_set():
            connection = await asyncio.to_thread(self.open_connection)
            if not connection:
                failures += 1
                await self._pause(failures)
                continue
            uri = f'{connection["endpoint"]}?ticket={quote_plus(connection["ticket"])}'
            opened = time.monotonic()
            try:
                async with websockets.connect(uri, open_timeout=HTTP_TIMEOUT[0] * 2, ping_interval=30,
                                              ping_timeout=20, max_size=2 ** 22) as websocket:
                    self.websocket = websocket
                    self.connections += 1
                    log.info("stream: connected (%s)", connection["endpoint"])
                    async for raw in websocket:
                        self._dispatch(raw)
                    if not self._stopping.is_set():
                        log.info("stream: connection closed by the gateway, reconnecting")
            except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as error:
                log.warning("stream: connection lost (%s: %s), reconnecting", error.__class__.__name__, error)
            finally:
                self.websocket = None
            failures = failures + 1 if time.monotonic() - opened < SHORT_LIVED_SECONDS else 1
            await self._pause(failures)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)
        log.info("stream: stopped")

    async def route_message(self, json_message):
        # The gateway pings every few seconds; the package acks it but logs each one as unknown.
        if json_message.get("type") == SystemMessage.TYPE and (json_message.get("headers") or {}).get("topic") == "ping":
            ack = await self.system_handler.raw_process(SystemMessage.from_dict(json_message))
            await self.websocket.send(json.dumps(ack.to_dict()))
            return ""
        return await super().route_message(json_message)

    def _dispatch(self, raw) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("stream: a frame that is not JSON was ignored")
            return
        task = asyncio.get_running_loop().create_task(self.background_task(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _pause(self, failures: int) -> None:
        if self._stopping.is_set():
            return
        delay = self.backoff[min(max(failures, 1), len(self.backoff)) - 1]
        await asyncio.to_thread(self._stopping.wait, delay)

    def stop(self) -> None:
        """Stop from any thread: close the connection and let the loop finish its acknowledgements."""
        self._stopping.set()
        loop, websocket = self._loop, self.websocket
        if loop is not None and websocket is not None and not loop.is_closed():
            loop.call_soon_threadsafe(lambda: loop.create_task(websocket.close()))

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> None:
        """Block until stopped (SIGTERM/SIGINT in the main thread)."""

        async def main():
            if threading.current_thread() is threading.main_thread():
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self.stop)
            await self.start()

        asyncio.run(main())
