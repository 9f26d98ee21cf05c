"""A local DingTalk for tests: the legacy oapi, the custom group robot, session webhooks, the new
API's accessToken, and a Stream gateway — all on 127.0.0.1, driven by the real SDK clients.

It behaves like DingTalk where our code depends on it: tokens expire and are refused with the
topapi wrapper error 88/40014; robot messages are signed and the sign is recomputed and checked
(310000 otherwise, also for a stale timestamp or a missing keyword); more than 20 robot messages
in a sliding minute, or an order from the test, answers 130101 and bans the robot 10 minutes; an
identical work notification to the same user on the same day is accepted but dropped; an IP
outside the whitelist gets 60020. Every request is recorded.

The Stream gateway speaks the protocol of the ``dingtalk-stream`` package: ``POST
/v1.0/gateway/connections/open`` on the HTTP side returns a websocket endpoint and a ticket; the
gateway then pushes ``CALLBACK``/``EVENT``/``SYSTEM`` frames and collects the client's acks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import queue
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.exceptions import ConnectionClosed
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from models import ChatGroup, Person, Role, WorkOrder
from services.messaging.notify import Channels
from services.orders.operations import NewOrder, OpContext, create_order

ROBOT_PER_MINUTE = 20
ROBOT_BAN_SECONDS = 600
TOKEN_TTL = 7200


def sign(secret: str, timestamp_ms: int | str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    answer: dict[str, Any] = field(default_factory=dict)


@dataclass
class Robot:
    token: str
    secret: str = ""
    keyword: str = ""
    sent: list[dict[str, Any]] = field(default_factory=list)
    recent: deque = field(default_factory=deque)
    banned_until: float = 0.0


@dataclass
class User:
    userid: str
    name: str
    mobile: str
    dept_ids: list[int]


class DingTalkEmulator:
    def __init__(self, *, app_key: str, app_secret: str, agent_id: str, clock=time.time):
        self.app_key = app_key
        self.app_secret = app_secret
        self.agent_id = str(agent_id)
        self.clock = clock
        self._lock = threading.RLock()
        self._server = None
        self._thread = None
        self.gateway: FakeStreamGateway | None = None
        self.tokens: dict[str, float] = {}
        self.jsapi_ticket = ""  # the app's ticket for dd.config, one per lifetime (like the token)
        self.new_api_tokens: dict[str, float] = {}
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> DingTalkEmulator:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="dingtalk-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
        if self._server is not None:
            self._server.shutdown()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/"

    def reset(self) -> None:
        """Forget everything a test did; issued access tokens stay valid (they live 2 hours)."""
        with self._lock:
            self.requests: list[Recorded] = []
            self.users: dict[str, User] = {}
            self.codes: dict[str, str] = {}
            self.robots: dict[str, Robot] = {}
            self.sessions: dict[str, dict[str, Any]] = {}
            self.session_replies: list[dict[str, Any]] = []
            self.work_notices: list[dict[str, Any]] = []
            self.failures: dict[str, list[tuple[int, str]]] = {}
            self.ip_whitelisted = True
            self.token_fetches = 0
            self.new_token_fetches = 0
            self._task_ids = itertools.count(1000)
        if self.gateway is not None:
            self.gateway.reset()

    # -- test set-up -------------------------------------------------------------------------------
    def add_user(self, userid: str, name: str, mobile: str = "", dept: int | list[int] = 1) -> User:
        user = User(userid, name, mobile, [dept] if isinstance(dept, int) else list(dept))
        with self._lock:
            self.users[userid] = user
        return user

    def issue_code(self, userid: str) -> str:
        """A 免登 code as ``dd.requestAuthCode`` would hand the H5 page (single use)."""
        code = "code-" + secrets.token_hex(8)
        with self._lock:
            self.codes[code] = userid
        return code

    def add_robot(self, token: str, secret: str = "", keyword: str = "") -> Robot:
        robot = Robot(token, secret, keyword)
        with self._lock:
            self.robots[token] = robot
        return robot

    def open_session(self, conversation_id: str, ttl_seconds: int = 5400) -> tuple[str, int]:
        """A sessionWebhook as a robot callback carries it: (url, expiry in ms)."""
        session = secrets.token_hex(12)
        expires_ms = int((self.clock() + ttl_seconds) * 1000)
        with self._lock:
            self.sessions[session] = {"conversation_id": conversation_id, "expires_ms": expires_ms}
        return f"{self.url}robot/sendBySession?session={session}", expires_ms

    def fail_next(self, path: str, errcode: int, errmsg: str = "", times: int = 1) -> None:
        """The next ``times`` calls to ``path`` (e.g. "robot/send") answer ``errcode``."""
        with self._lock:
            self.failures.setdefault(path.strip("/"), []).extend([(errcode, errmsg or f"error {errcode}")] * times)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()
            self.new_api_tokens.clear()

    # -- what was received ---------------------------------------------------------------------------
    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path.strip("/")]

    def robot_messages(self, token: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.robots[token].sent)

    def notices_for(self, userid: str, *, delivered_only: bool = True) -> list[dict[str, Any]]:
        with self._lock:
            return [n for n in self.work_notices if userid in n["userids"] and (n["delivered"] or not delivered_only)]

    def attach_gateway(self) -> FakeStreamGateway:
        if self.gateway is None:
            self.gateway = FakeStreamGateway(self.app_key).start()
        return self.gateway

    # -- the HTTP side -------------------------------------------------------------------------------
    @Request.application
    def _wsgi(self, request: Request) -> Response:
        path = request.path.strip("/")
        query = {k: v for k, v in request.args.items()}
        body: Any = None
        if request.method == "POST":
            raw = request.get_data()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
        record = Recorded(request.method, path, query, body, self.clock())
        with self._lock:
            self.requests.append(record)
            answer, status = self._route(path, query, body)
            record.answer = answer
        return Response(json.dumps(answer, ensure_ascii=False), status=status, content_type="application/json")

    def _route(self, path: str, query: dict[str, str], body: Any) -> tuple[dict[str, Any], int]:
        forced = self.failures.get(path)
        if forced:
            errcode, errmsg = forced.pop(0)
            return {"errcode": errcode, "errmsg": errmsg}, 200
        routes = {
            "gettoken": self._gettoken,
            "topapi/v2/user/getuserinfo": self._getuserinfo,
            "topapi/v2/user/list": self._user_list,
            "topapi/message/corpconversation/asyncsend_v2": self._asyncsend,
            "robot/send": self._robot_send,
            "robot/sendBySession": self._send_by_session,
            "v1.0/oauth2/accessToken": self._new_token,
            "get_jsapi_ticket": self._jsapi_ticket,
            "v1.0/gateway/connections/open": self._open_connection,
        }
        handler = routes.get(path)
        if handler is None:
            return {"errcode": 404, "errmsg": f"emulator: no route {path}"}, 404
        return handler(query, body if isinstance(body, dict) else {})

    def _gettoken(self, query, _body):
        if not self.ip_whitelisted:
            return {"errcode": 60020, "errmsg": "访问ip不在白名单之中"}, 200
        if query.get("appkey") != self.app_key or query.get("appsecret") != self.app_secret:
            return {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"}, 200
        token = "at-" + secrets.token_hex(10)
        self.tokens[token] = self.clock() + TOKEN_TTL
        self.token_fetches += 1
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_TTL}, 200

    def _token_error(self, query) -> dict[str, Any] | None:
        if not self.ip_whitelisted:
            return {"errcode": 60020, "errmsg": "访问ip不在白名单之中"}
        token = query.get("access_token", "")
        if self.tokens.get(token, 0) <= self.clock():
            return {"errcode": 88, "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]",
                    "sub_code": "40014", "sub_msg": "不合法的access_token", "request_id": uuid.uuid4().hex}
        return None

    def _jsapi_ticket(self, query, _body):
        if (error := self._token_error(query)) is not None:
            return error, 200
        if not self.jsapi_ticket:
            self.jsapi_ticket = "dd-ticket-" + secrets.token_hex(8)
        return {"errcode": 0, "errmsg": "ok", "ticket": self.jsapi_ticket, "expires_in": TOKEN_TTL}, 200

    def _getuserinfo(self, query, body):
        if (error := self._token_error(query)) is not None:
            return error, 200
        userid = self.codes.pop(str(body.get("code") or ""), None)
        if userid is None or userid not in self.users:
            return {"errcode": 40078, "errmsg": "不存在的临时授权码"}, 200
        user = self.users[userid]
        return {"errcode": 0, "errmsg": "ok", "request_id": uuid.uuid4().hex, "result": {
            "userid": user.userid, "name": user.name, "device_id": "emulator", "sys": False, "sys_level": 0,
            "unionid": "union-" + user.userid, "associated_unionid": ""}}, 200

    def _user_list(self, query, body):
        if (error := self._token_error(query)) is not None:
            return error, 200
        try:
            dept_id, cursor, size = int(body["dept_id"]), int(body.get("cursor") or 0), int(body["size"])
        except (KeyError, TypeError, ValueError):
            return {"errcode": 400002, "errmsg": "无效的参数"}, 200
        if size < 1 or size > 100:
            return {"errcode": 400002, "errmsg": "size 须在 1~100 之间"}, 200
        members = [u for u in self.users.values() if dept_id in u.dept_ids]
        page = members[cursor: cursor + size]
        has_more = cursor + size < len(members)
        result = {"has_more": has_more, "list": [
            {"userid": u.userid, "name": u.name, "mobile": u.mobile, "dept_id_list": u.dept_ids, "active": True}
            for u in page]}
        if has_more:
            result["next_cursor"] = cursor + size
        return {"errcode": 0, "errmsg": "ok", "result": result, "request_id": uuid.uuid4().hex}, 200

    def _asyncsend(self, query, body):
        if (error := self._token_error(query)) is not None:
            return error, 200
        if str(body.get("agent_id")) != self.agent_id:
            return {"errcode": 400002, "errmsg": "无效的agent_id"}, 200
        msg = body.get("msg") or {}
        msgtype = msg.get("msgtype")
        if not msgtype or not isinstance(msg.get(msgtype), dict):
            return {"errcode": 400002, "errmsg": "消息格式不正确"}, 200
        userids = [u for u in str(body.get("userid_list") or "").split(",") if u]
        if not userids or len(userids) > 100:
            return {"errcode": 400002, "errmsg": "userid_list 无效"}, 200
        content = json.dumps(msg, sort_keys=True, ensure_ascii=False)
        today = time.strftime("%Y-%m-%d", time.gmtime(self.clock() + 8 * 3600))
        for userid in userids:
            duplicate = any(n["content"] == content and n["day"] == today and userid in n["userids"]
                            for n in self.work_notices)
            # Beyond 500 a day per user DingTalk drops notices while still answering ok.
            over_cap = sum(1 for n in self.work_notices
                           if n["day"] == today and userid in n["userids"] and n["delivered"]) >= 500
            self.work_notices.append({"userids": [userid], "msg": msg, "content": content, "day": today,
                                      "delivered": not duplicate and not over_cap})
        return {"errcode": 0, "errmsg": "ok", "task_id": next(self._task_ids), "request_id": uuid.uuid4().hex}, 200

    def _robot_send(self, query, body):
        robot = self.robots.get(query.get("access_token", ""))
        if robot is None:
            return {"errcode": 300001, "errmsg": "token is not exist"}, 200
        now = self.clock()
        if robot.secret:
            timestamp, given = query.get("timestamp", ""), query.get("sign", "")
            if not timestamp.isdigit() or not given:
                return {"errcode": 310000, "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"}, 200
            if abs(now * 1000 - int(timestamp)) > 3600 * 1000:
                return {"errcode": 310000, "errmsg": "invalid timestamp"}, 200
            if not hmac.compare_digest(sign(robot.secret, timestamp), given):
                return {"errcode": 310000, "errmsg": "sign not match"}, 200
        if robot.keyword and robot.keyword not in json.dumps(body, ensure_ascii=False):
            return {"errcode": 310000, "errmsg": "keywords not in content"}, 200
        if robot.banned_until > now:
            return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, 200
        while robot.recent and robot.recent[0] <= now - 60:
            robot.recent.popleft()
        if len(robot.recent) >= ROBOT_PER_MINUTE:
            robot.banned_until = now + ROBOT_BAN_SECONDS
            return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, 200
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "markdown", "actionCard", "link", "feedCard") or not isinstance(body.get(msgtype), dict):
            return {"errcode": 300005, "errmsg": "param error: msgtype"}, 200
        robot.recent.append(now)
        robot.sent.append(body | {"_timestamp": query.get("timestamp"), "_sign": query.get("sign")})
        return {"errcode": 0, "errmsg": "ok"}, 200

    def _send_by_session(self, query, body):
        session = self.sessions.get(query.get("session", ""))
        if session is None or session["expires_ms"] <= self.clock() * 1000:
            return {"errcode": 300001, "errmsg": "session 不存在或已过期"}, 200
        msgtype = body.get("msgtype")
        if not msgtype or not isinstance(body.get(msgtype), dict):
            return {"errcode": 300005, "errmsg": "param error: msgtype"}, 200
        self.session_replies.append({"conversation_id": session["conversation_id"], **body})
        return {"errcode": 0, "errmsg": "ok"}, 200

    def _new_token(self, _query, body):
        if body.get("appKey") != self.app_key or body.get("appSecret") != self.app_secret:
            return {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret",
                    "requestid": uuid.uuid4().hex}, 400
        token = "nt-" + secrets.token_hex(10)
        self.new_api_tokens[token] = self.clock() + TOKEN_TTL
        self.new_token_fetches += 1
        return {"accessToken": token, "expireIn": TOKEN_TTL}, 200

    def _open_connection(self, _query, body):
        if body.get("clientId") != self.app_key or body.get("clientSecret") != self.app_secret:
            return {"code": "invalidClientIdOrSecret", "message": "无效的clientId或者clientSecret"}, 400
        if self.gateway is None:
            return {"code": "gatewayUnavailable", "message": "emulator: no stream gateway attached"}, 503
        ticket = self.gateway.issue_ticket(body.get("subscriptions") or [])
        return {"endpoint": self.gateway.endpoint, "ticket": ticket}, 200


# --------------------------------------------------------------------------------------------
# Stream gateway
# --------------------------------------------------------------------------------------------
class FakeStreamGateway:
    """A websocket server speaking the Stream protocol closely enough for ``dingtalk-stream``."""

    def __init__(self, app_key: str):
        self.app_key = app_key
        self._lock = threading.Lock()
        self._server = None
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.tickets: dict[str, list[dict]] = {}
            self.connections = 0
            self.subscriptions: list[dict] = []
            self._current = None
            self._acks: dict[str, queue.Queue] = {}
            self._connected = threading.Condition(self._lock)

    def start(self) -> FakeStreamGateway:
        from websockets.sync.server import serve

        self._server = serve(self._handle, "127.0.0.1", 0)
        threading.Thread(target=self._server.serve_forever, name="dingtalk-gateway", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()

    @property
    def endpoint(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/connect"

    def issue_ticket(self, subscriptions: list[dict]) -> str:
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self.tickets[ticket] = subscriptions
        return ticket

    def _handle(self, connection) -> None:
        ticket = (parse_qs(urlparse(connection.request.path).query).get("ticket") or [""])[0]
        with self._lock:
            subscriptions = self.tickets.pop(ticket, None)
            if subscriptions is None:
                connection.close(4001, "invalid ticket")
                return
            self.subscriptions = subscriptions
            self._current = connection
            self.connections += 1
            self._connected.notify_all()
        try:
            for raw in connection:
                try:
                    frame = json.loads(raw)
                except ValueError:
                    continue
                message_id = (frame.get("headers") or {}).get("messageId")
                with self._lock:
                    waiting = self._acks.get(message_id)
                if waiting is not None:
                    waiting.put(frame)
        except ConnectionClosed:
            pass  # dropped on purpose (``drop``) or by the client

    def wait_connected(self, count: int = 1, timeout: float = 10) -> bool:
        with self._lock:
            return self._connected.wait_for(lambda: self.connections >= count, timeout)

    def _push(self, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
        message_id = frame["headers"]["messageId"]
        waiting: queue.Queue = queue.Queue()
        with self._lock:
            connection = self._current
            self._acks[message_id] = waiting
        if connection is None:
            raise RuntimeError("no stream client connected")
        connection.send(json.dumps(frame, ensure_ascii=False))
        try:
            return waiting.get(timeout=timeout)
        finally:
            with self._lock:
                self._acks.pop(message_id, None)

    def _headers(self, topic: str, **extra) -> dict[str, Any]:
        return {"appId": self.app_key, "connectionId": uuid.uuid4().hex, "contentType": "application/json",
                "messageId": uuid.uuid4().hex, "time": str(int(time.time() * 1000)), "topic": topic, **extra}

    def push_callback(self, topic: str, data: dict[str, Any], timeout: float = 15) -> dict[str, Any]:
        """Push one CALLBACK frame (e.g. a robot message) and return the client's ack."""
        frame = {"specVersion": "1.0", "type": "CALLBACK", "headers": self._headers(topic),
                 "data": json.dumps(data, ensure_ascii=False)}
        return self._push(frame, timeout)

    def push_event(self, event_type: str, data: dict[str, Any], timeout: float = 15) -> dict[str, Any]:
        now_ms = str(int(time.time() * 1000))
        headers = self._headers("*", eventType=event_type, eventId=uuid.uuid4().hex, eventBornTime=now_ms,
                                eventCorpId="ding-emulator", eventUnifiedAppId=self.app_key)
        frame = {"specVersion": "1.0", "type": "EVENT", "headers": headers, "data": json.dumps(data)}
        return self._push(frame, timeout)

    def ping(self, timeout: float = 5) -> dict[str, Any]:
        frame = {"specVersion": "1.0", "type": "SYSTEM", "headers": self._headers("ping"),
                 "data": json.dumps({"opaque": uuid.uuid4().hex})}
        return self._push(frame, timeout)

    def disconnect(self) -> None:
        """Ask the client to reconnect, as the real gateway does before it restarts."""
        with self._lock:
            connection = self._current
        frame = {"specVersion": "1.0", "type": "SYSTEM", "headers": self._headers("disconnect"),
                 "data": json.dumps({"reason": "gateway restart"})}
        connection.send(json.dumps(frame))

    def drop(self) -> None:
        """Cut the connection without a word (network trouble)."""
        with self._lock:
            connection = self._current
        connection.close(1011, "going away")


# --------------------------------------------------------------------------------------------
# Building what DingTalk sends us
# --------------------------------------------------------------------------------------------
def callback_headers(app_secret: str, timestamp_ms: int | None = None) -> dict[str, str]:
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return {"timestamp": str(timestamp_ms), "sign": sign(app_secret, timestamp_ms), "Content-Type": "application/json"}


_msg_ids = itertools.count(1)


def robot_message(emulator: DingTalkEmulator, sender: str, text: str, *, conversation_id: str = "cid-dept-group",
                  title: str = "", group: bool = True, msg_id: str | None = None, nick: str = "",
                  session_ttl: int = 5400, robot_code: str = "ding-robot-code") -> dict[str, Any]:
    """The JSON body DingTalk posts when ``sender`` writes ``@机器人 {text}`` in a conversation."""
    webhook, expires_ms = emulator.open_session(conversation_id, session_ttl)
    now_ms = int(time.time() * 1000)
    return {
        "conversationId": conversation_id,
        "atUsers": [{"dingtalkId": "$:LWCP_v1:$robot"}],
        "chatbotCorpId": "ding-emulator",
        "chatbotUserId": "$:LWCP_v1:$robot",
        "msgId": msg_id or f"msg{next(_msg_ids):06d}{secrets.token_hex(4)}",
        "senderNick": nick or sender,
        "isAdmin": False,
        "senderStaffId": sender,
        "sessionWebhookExpiredTime": expires_ms,
        "createAt": now_ms,
        "senderCorpId": "ding-emulator",
        "conversationType": "2" if group else "1",
        "senderId": f"$:LWCP_v1:${sender}",
        "conversationTitle": title,
        "isInAtList": True,
        "sessionWebhook": webhook,
        "text": {"content": " " + text},
        "robotCode": robot_code,
        "msgtype": "text",
    }


# --------------------------------------------------------------------------------------------
# A department on DingTalk, for the tests
# --------------------------------------------------------------------------------------------
ROBOT_TOKEN = "rsjrobottoken0001"
ROBOT_SECRET = "SEC" + "5f1e" * 16
BASE_URL = "http://127.0.0.1:5000"


@dataclass
class Desk:
    dept_id: int
    helper_id: int
    outsider_id: int
    staff_id: int
    group_id: int


def make_desk(session, factory, emulator) -> Desk:
    """人社局 with chief helper 王帮办 (wangbb) and its signed group robot; 李帮办 (libb) of 住建委;
    service staff 张服务 (zhangfw)."""
    dept = factory.department("rsj")
    helper = factory.person(Role.CHIEF_HELPER, department=dept, name="王帮办", dingtalk_userid="wangbb")
    outsider = factory.person(Role.CHIEF_HELPER, department=factory.department("zjw"), name="李帮办",
                              dingtalk_userid="libb")
    staff = factory.person(Role.SERVICE_STAFF, name="张服务", dingtalk_userid="zhangfw")
    group = ChatGroup(platform="dingtalk", department_id=dept.id, name="人社局为企服务群", robot_key=ROBOT_TOKEN,
                      robot_secret=ROBOT_SECRET)
    session.add(group)
    session.flush()
    emulator.add_robot(ROBOT_TOKEN, ROBOT_SECRET)
    return Desk(dept.id, helper.id, outsider.id, staff.id, group.id)


def whistled_order(session, factory, desk: Desk, at, content="企业急需招聘 30 名技术工人，请协助对接招聘会",
                   channels: Channels | None = None) -> WorkOrder:
    """A level-2 order for the desk's department, committed: the whistle waits in the outbox."""
    staff = session.get(Person, desk.staff_id)
    ctx = OpContext(session, staff, at, "console", channels or Channels(sandbox=True, dingtalk=True))
    enterprise = factory.enterprise(staff=staff)
    order = create_order(ctx, NewOrder(enterprise_id=enterprise.id, content=content, level=2,
                                       department_id=desk.dept_id))
    session.commit()
    return order
