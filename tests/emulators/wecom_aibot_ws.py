"""A local WeCom intelligent-robot long-connection server (``wss://openws.work.weixin.qq.com``) for tests.

It plays the documented frames: ``aibot_subscribe`` answered errcode 0 for the right BotID and
Secret (40058 otherwise, then the connection is closed), ``ping`` acknowledged,
``push(message)`` sends an ``aibot_msg_callback`` with a fresh ``req_id``, and every
``aibot_respond_msg`` is recorded (``answers``) and acknowledged once per ``req_id`` (a second
answer to the same ``req_id`` is refused, as WeCom does once the turn is over).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from typing import Any

from websockets.asyncio.server import serve

BOT_ID = "aibemulatorws01"
SECRET = "emulator-aibot-secret"


class AibotSocketEmulator:
    def __init__(self, bot_id: str = BOT_ID, secret: str = SECRET):
        self.bot_id, self.secret = bot_id, secret
        self.frames: list[dict[str, Any]] = []  # everything the client sent
        self.answers: list[dict[str, Any]] = []  # aibot_respond_msg frames accepted
        self.subscriptions = 0
        self._answered: set[str] = set()
        self._clients: set = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> AibotSocketEmulator:
        self._thread = threading.Thread(target=self._run, name="aibot-ws-emulator", daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "emulator did not start"
        return self

    def __exit__(self, *_exc) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        async with serve(self._connection, "127.0.0.1", 0) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop_event.wait()

    # -- the protocol --------------------------------------------------------------------------
    async def _connection(self, websocket) -> None:
        subscribed = False
        try:
            async for raw in websocket:
                frame = json.loads(raw)
                self.frames.append(frame)
                cmd = frame.get("cmd")
                req_id = (frame.get("headers") or {}).get("req_id", "")
                if cmd == "aibot_subscribe":
                    body = frame.get("body") or {}
                    if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
                        await websocket.send(json.dumps({"headers": {"req_id": req_id}, "errcode": 40058,
                                                         "errmsg": "invalid bot_id or secret"}))
                        await websocket.close()
                        return
                    subscribed = True
                    self.subscriptions += 1
                    self._clients.add(websocket)
                    await websocket.send(json.dumps({"headers": {"req_id": req_id}, "errcode": 0, "errmsg": "ok"}))
                elif not subscribed:
                    await websocket.close()
                    return
                elif cmd == "ping":
                    await websocket.send(json.dumps({"headers": {"req_id": req_id}, "errcode": 0, "errmsg": "ok"}))
                elif cmd == "aibot_respond_msg":
                    if req_id in self._answered:
                        answer = {"headers": {"req_id": req_id}, "errcode": 40058, "errmsg": "req_id already answered"}
                    else:
                        self._answered.add(req_id)
                        self.answers.append({"req_id": req_id, **(frame.get("body") or {})})
                        answer = {"headers": {"req_id": req_id}, "errcode": 0, "errmsg": "ok"}
                    await websocket.send(json.dumps(answer))
        finally:
            self._clients.discard(websocket)

    def push(self, message: dict[str, Any]) -> str:
        """Send a message callback to the subscribed client; its ``req_id``."""
        req_id = f"aibot_msg_callback_{secrets.token_hex(6)}"
        frame = json.dumps({"cmd": "aibot_msg_callback", "headers": {"req_id": req_id}, "body": message},
                           ensure_ascii=False)

        async def send():
            for client in list(self._clients):
                await client.send(frame)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(5)
        return req_id

    def disconnect_all(self) -> None:
        async def close():
            for client in list(self._clients):
                await client.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False


def text_message(from_user: str, content: str, *, msgid: str | None = None, chatid: str = "wrgroupws01") -> dict:
    """A group text as the long connection carries it (no response_url: the answer goes back over it)."""
    return {"msgid": msgid or f"ws-{secrets.token_hex(6)}", "aibotid": BOT_ID, "chatid": chatid, "chattype": "group",
            "from": {"userid": from_user}, "msgtype": "text", "text": {"content": content}}
