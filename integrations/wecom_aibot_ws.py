"""The WeCom intelligent robot over its long connection (长连接, no public address needed).

``flask --app wsgi wecom-aibot-ws`` runs one ``AibotSocketWorker``: it opens the WebSocket
(``WECOM_AIBOT_WS_URL``), subscribes with the robot's BotID and Secret, pings every 30 s and
reconnects with a growing pause when the connection drops. Every frame is JSON
``{"cmd", "headers": {"req_id"}, "body"}``; answers to our own commands carry the same
``req_id`` and an ``errcode``:

* ``aibot_subscribe`` ``{"bot_id", "secret"}`` → errcode 0 before anything else;
* ``ping`` → errcode 0 (the heartbeat);
* ``aibot_msg_callback`` (from WeCom) — the same message body as the HTTP callback, in clear;
* ``aibot_respond_msg`` under the callback's ``req_id`` — the answer (markdown here).

A message is handed to ``on_message`` (in the app: the one inbound flow, in a transaction of its
own) off the event loop, then ``after_message`` (in the app: the delivery of the outbox rows of
channel ``wecom_ws``), whose adapter ``AibotSocketAdapter`` sends each answer over this very
connection and waits for WeCom's acknowledgement. Pure: no database, no domain code.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import websockets
from sqlalchemy.orm import Session

from integrations import wecom_cards as cards
from integrations.base import ChatAdapter, DeliveryResult, OutboundView, PermanentError, TransientError
from integrations.wecom_aibot import WS_CHANNEL, CallbackRejected, check_message

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
COMMAND_TIMEOUT = 10.0
MAX_BACKOFF = 30.0
MAX_FRAME_BYTES = 256 * 1024


class SocketUnavailable(Exception):
    """No subscribed connection, or WeCom did not acknowledge in time."""


class CommandRefused(Exception):
    def __init__(self, errcode: int, errmsg: str):
        self.errcode = errcode
        super().__init__(f"企业微信智能机器人长连接错误 {errcode}：{errmsg}")


def new_req_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


class AibotSocketWorker:
    def __init__(self, url: str, bot_id: str, secret: str, *, on_message: Callable[[dict[str, Any]], Any],
                 after_message: Callable[[AibotSocketWorker], Any] | None = None,
                 heartbeat: float = HEARTBEAT_SECONDS, timeout: float = COMMAND_TIMEOUT,
                 max_backoff: float = MAX_BACKOFF):
        if not (url and bot_id and secret):
            raise ValueError("WECOM_AIBOT_BOT_ID and WECOM_AIBOT_SECRET are needed for the long connection")
        self.url, self.bot_id, self.secret = url, bot_id, secret
        self.on_message = on_message
        self.after_message = after_message
        self.heartbeat = heartbeat
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.subscribed = threading.Event()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._socket = None
        self._pending: dict[str, asyncio.Future] = {}

    # -- running -------------------------------------------------------------------------------
    def run(self) -> None:
        """Until ``stop()`` (or SIGTERM/Ctrl-C through the caller)."""
        asyncio.run(self._main())

    def stop(self) -> None:
        self._stop.set()
        loop, socket = self._loop, self._socket
        if loop is not None and socket is not None:
            asyncio.run_coroutine_threadsafe(socket.close(), loop)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        backoff = 1.0
        while not self._stop.is_set():
            try:
                await self._connection()
                backoff = 1.0
            except (TimeoutError, OSError, websockets.WebSocketException, SocketUnavailable, CommandRefused) as error:
                log.warning("wecom aibot long connection: %s: %s (reconnecting in %.0f s)",
                            type(error).__name__, error, backoff)
            finally:
                self.subscribed.clear()
                self._socket = None
            if self._stop.is_set():
                break
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _connection(self) -> None:
        async with websockets.connect(self.url, max_size=MAX_FRAME_BYTES, open_timeout=self.timeout) as socket:
            self._socket = socket
            reader = asyncio.create_task(self._read(socket))
            try:
                await self._command("aibot_subscribe", new_req_id("aibot_subscribe"),
                                    {"bot_id": self.bot_id, "secret": self.secret})
                self.subscribed.set()
                log.info("wecom aibot long connection subscribed")
                while not reader.done() and not self._stop.is_set():
                    await asyncio.wait({reader}, timeout=self.heartbeat)
                    if not reader.done() and not self._stop.is_set():
                        await self._command("ping", new_req_id("ping"), None)
                        # Answers left behind (a dropped connection, a worker restart): off the loop.
                        await asyncio.get_running_loop().run_in_executor(None, self._after)
            finally:
                reader.cancel()
                for future in self._pending.values():
                    if not future.done():
                        future.set_exception(SocketUnavailable("连接已断开"))
                self._pending.clear()

    async def _read(self, socket) -> None:
        async for raw in socket:
            try:
                frame = json.loads(raw)
            except ValueError:
                log.warning("wecom aibot long connection: a frame that is not JSON, ignored")
                continue
            if not isinstance(frame, dict):
                continue
            headers = frame.get("headers") if isinstance(frame.get("headers"), dict) else {}
            req_id = str(headers.get("req_id") or "")
            cmd = frame.get("cmd")
            if not cmd:
                future = self._pending.pop(req_id, None)
                if future is not None and not future.done():
                    future.set_result(frame)
                continue
            if cmd == "aibot_msg_callback" and isinstance(frame.get("body"), dict) and req_id:
                asyncio.get_running_loop().run_in_executor(None, self._handle, frame["body"], req_id)
            else:
                log.info("wecom aibot long connection: %s acknowledged only", cmd)

    async def _command(self, cmd: str, req_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        socket = self._socket
        if socket is None:
            raise SocketUnavailable("没有可用的长连接")
        future = asyncio.get_running_loop().create_future()
        self._pending[req_id] = future
        frame: dict[str, Any] = {"cmd": cmd, "headers": {"req_id": req_id}}
        if body is not None:
            frame["body"] = body
        await socket.send(json.dumps(frame, ensure_ascii=False))
        try:
            answer = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            self._pending.pop(req_id, None)
            raise SocketUnavailable(f"{cmd} 未在 {self.timeout:.0f} 秒内得到确认") from None
        errcode = answer.get("errcode") or 0
        if errcode != 0:
            raise CommandRefused(errcode if isinstance(errcode, int) else -1, str(answer.get("errmsg") or ""))
        return answer

    # -- messages (off the event loop) ---------------------------------------------------------
    def _handle(self, body: dict[str, Any], req_id: str) -> None:
        try:
            check_message(body)
            self.on_message({"message": body, "ws_req_id": req_id})
        except CallbackRejected as rejected:
            log.warning("wecom aibot long connection: message refused: %s", rejected)
            return
        except Exception:
            log.exception("wecom aibot long connection: message %s failed", body.get("msgid"))
            return
        self._after()

    def _after(self) -> None:
        if self.after_message is None:
            return
        try:
            self.after_message(self)
        except Exception:
            log.exception("wecom aibot long connection: delivering the answers failed")

    def respond(self, req_id: str, body: dict[str, Any]) -> None:
        """Send ``aibot_respond_msg`` from any thread but the loop's, and wait for WeCom's answer."""
        loop = self._loop
        if loop is None or not self.subscribed.is_set():
            raise SocketUnavailable("长连接尚未建立")
        future = asyncio.run_coroutine_threadsafe(self._command("aibot_respond_msg", req_id, body), loop)
        future.result(self.timeout + 1)


class AibotSocketAdapter(ChatAdapter):
    """The outbox rows of channel ``wecom_ws``: answers sent back over the long connection."""

    name = WS_CHANNEL

    def __init__(self, worker: AibotSocketWorker, base_url: str = ""):
        self.worker = worker
        self.base_url = base_url

    def deliver(self, message: OutboundView, session: Session, *, now: datetime) -> DeliveryResult:
        payload = message.payload
        text = str(payload.get("text") or "").strip()
        req_id = str(payload.get("ws_req_id") or "")
        if not text or not req_id:
            raise PermanentError("回复内容或 req_id 为空")
        body = cards.response_markdown(text, str(payload.get("mention_userid") or ""), self.base_url)
        try:
            self.worker.respond(req_id, body)
        except CommandRefused as refused:
            raise PermanentError(str(refused)) from refused
        except Exception as error:  # not connected, no acknowledgement: later, over the next connection
            raise TransientError(f"长连接暂不可用：{error}") from error
        return DeliveryResult(detail="已经长连接在企业微信群内回复")
