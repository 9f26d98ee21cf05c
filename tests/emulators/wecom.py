"""A local WeCom (企业微信) server for tests: the documented endpoints, answers and error codes.

The real wechatpy client talks to it over HTTP (``WECOM_API_BASE`` = ``emulator.base_url``);
nothing in the SDK is patched. Every request is recorded (method, path under ``/cgi-bin/``,
query, JSON body) for assertions. Failures happen on demand:

* ``expire_tokens()``                   — every token issued so far answers 42001 from now on;
* ``fail_next(path, errcode, times=1)`` — the next calls of ``path`` answer ``errcode``
  (130101 robot limit, 45009 API frequency, 60111 invalid user, …);
* unknown members in ``touser`` come back in ``invaliduser``; all unknown → 81013;
* ``quotas=Quotas(...)`` (off by default; ``DOCUMENTED_QUOTAS`` holds the platform's figures)
  counts sliding minutes/hours on ``clock``: a group robot beyond its quota answers 130101, the
  app beyond its calls per minute 45009, and an app message to a member beyond theirs is accepted
  but silently dropped, as WeCom does (kept in ``dropped``, not shown in ``messages``).

The intelligent robot (智能机器人) has its own keys (``AIBOT_TOKEN``/``AIBOT_AES_KEY``):
``aibot_text(...)`` writes a group message as WeCom does, handing out a single-use
``response_url`` under ``aibot/response`` that answers once within an hour (``aibot_answers``
holds what was posted there); ``encrypt_aibot(message)`` wraps it as WeCom posts it
(``{"encrypt": …}``, empty receive id) and ``aibot_verification_query()`` is its URL check.

The emulator also plays WeCom towards the desk: ``encrypt_callback(xml)`` wraps a plaintext
message exactly as WeCom posts it (``<xml><ToUserName/><Encrypt/><AgentID/></xml>`` and the
``msg_signature``/``timestamp``/``nonce`` query), with the corp's token and AES key.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from wechatpy.enterprise.crypto import WeChatCrypto

CORP_ID = "wwemulator0000001"
SECRET = "emulator-app-secret-0123456789"
AGENT_ID = 1000002
TOKEN = "EmulatorCallbackToken"
AES_KEY = base64.b64encode(hashlib.sha256(b"wecom-emulator-aes-key").digest()).decode().rstrip("=")
AIBOT_TOKEN = "EmulatorAibotToken"
AIBOT_AES_KEY = base64.b64encode(hashlib.sha256(b"wecom-emulator-aibot-key").digest()).decode().rstrip("=")
RESPONSE_URL_LIFETIME = 3600
TOKEN_LIFETIME = 7200
CODE_LIFETIME = 300
TASK_ID = re.compile(r"^[A-Za-z0-9_\-@]{1,128}$")

ERRMSG = {
    0: "ok",
    40001: "invalid credential",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40029: "invalid code",
    40056: "invalid agentid",
    40058: "invalid parameter",
    41001: "access_token missing",
    42001: "access_token expired",
    44004: "empty content",
    45009: "api freq out of limit",
    60111: "userid not found",
    60123: "invalid party id",
    81013: "user & party & tag all invalid",
    93000: "invalid webhook url",
    130101: "send too frequently",
}


@dataclass(frozen=True)
class Quotas:
    """Send limits per sliding window (None: unlimited)."""

    robot_per_minute: int | None = None  # each group robot; beyond: 130101
    member_per_minute: int | None = None  # app messages to one member; beyond: silently dropped
    member_per_hour: int | None = None  # likewise per hour
    app_per_minute: int | None = None  # ``message/send`` calls of the app; beyond: 45009


# What the documentation states: robot 20/min; a member 30/min and 1000/h; one API 10,000/min per corp.
DOCUMENTED_QUOTAS = Quotas(robot_per_minute=20, member_per_minute=30, member_per_hour=1000, app_per_minute=10_000)


def _within(times: deque, limit: int | None, window: float, now: float) -> bool:
    """True when one more event fits ``limit`` in the sliding ``window`` ending at ``now``."""
    if limit is None:
        return True
    while times and times[0] <= now - window:
        times.popleft()
    return len(times) < limit


@dataclass
class Recorded:
    method: str
    path: str  # under /cgi-bin/, e.g. "message/send"
    query: dict[str, str]
    json: Any
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.answer.get("errcode", 0) == 0


@dataclass
class Card:
    task_id: str
    touser: list[str]
    body: dict[str, Any]
    replaced_with: str | None = None  # the label once update_template_card greyed the buttons

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return self.body["template_card"].get("button_list", [])


class WeComEmulator:
    def __init__(self, corp_id: str = CORP_ID, secret: str = SECRET, agent_id: int = AGENT_ID,
                 token: str = TOKEN, aes_key: str = AES_KEY, quotas: Quotas | None = None,
                 clock: Callable[[], float] = time.time):
        self.corp_id = corp_id
        self.quotas = quotas or Quotas()
        self.clock = clock  # what the quotas and the duplicate check count time by
        self.secret = secret
        self.agent_id = agent_id
        self.token = token
        self.aes_key = aes_key
        self.requests: list[Recorded] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.departments: dict[int, dict[str, Any]] = {1: {"id": 1, "name": "北辰区", "parentid": 0}}
        self.robots: dict[str, list[dict[str, Any]]] = {}  # robot key → messages it posted
        self.cards: dict[str, Card] = {}  # task id → card
        self.messages: list[dict[str, Any]] = []  # app messages actually shown (duplicates suppressed)
        self.dropped: list[dict[str, Any]] = []  # accepted over a member's quota, never shown
        # 客户联系: external userid → the member (follow_user) who has them as a contact.
        self.external_contacts: dict[str, str] = {}
        self.msg_templates: list[dict[str, Any]] = []  # mass-sending tasks waiting for the member's confirmation
        self.response_codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, float] = {}  # token → expiry (epoch seconds)
        self.expired: set[str] = set()
        self.codes: dict[str, tuple[str, float]] = {}  # OAuth code → (userid, expiry)
        self.aibot_token = AIBOT_TOKEN
        self.aibot_aes_key = AIBOT_AES_KEY
        self.response_urls: dict[str, dict[str, Any]] = {}  # response code → {msgid, expires, used}
        self.aibot_answers: list[dict[str, Any]] = []  # bodies accepted on a response_url
        self.jsapi_tickets: dict[str, str] = {}  # "corp" / "agent" → the ticket handed out
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._recent: dict[str, float] = {}  # duplicate check: message fingerprint → time
        self._robot_sends: dict[str, deque] = {}  # quota counting: robot key → times of its messages
        self._member_sends: dict[str, tuple[deque, deque]] = {}  # userid → (last minute, last hour)
        self._app_calls: deque = deque()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> WeComEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):  # quiet
                pass

            def do_GET(self):
                emulator._handle(self, "GET")

            def do_POST(self):
                emulator._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="wecom-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WeComEmulator:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        return f"http://127.0.0.1:{self._server.server_address[1]}/cgi-bin/"

    # -- scenario set-up -----------------------------------------------------------------------
    def add_department(self, department_id: int, name: str, parent: int = 1) -> None:
        with self._lock:
            self.departments[int(department_id)] = {"id": int(department_id), "name": name, "parentid": parent}

    def add_user(self, userid: str, name: str, mobile: str = "", department: list[int] | tuple[int, ...] = (1,),
                 status: int = 1, **extra) -> dict[str, Any]:
        with self._lock:
            for dept in department:
                self.departments.setdefault(int(dept), {"id": int(dept), "name": f"部门{dept}", "parentid": 1})
            user = {"userid": userid, "name": name, "mobile": mobile, "department": [int(d) for d in department],
                    "status": status, **extra}
            self.users[userid] = user
            return user

    def remove_user(self, userid: str) -> None:
        with self._lock:
            self.users.pop(userid, None)

    def add_robot(self, key: str) -> str:
        with self._lock:
            self.robots.setdefault(key, [])
        return key

    def issue_code(self, userid: str) -> str:
        """A one-time OAuth code for ``userid`` (what WeCom appends to the redirect URI)."""
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = (userid, time.time() + CODE_LIFETIME)
        return code

    def expire_tokens(self) -> None:
        with self._lock:
            self.expired.update(self.tokens)

    def fail_next(self, path: str, errcode: int, errmsg: str | None = None, times: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(path, []).extend([(errcode, errmsg or ERRMSG.get(errcode, "error"))] * times)

    def click(self, task_id: str) -> str:
        """A new response code, as WeCom puts into the ``template_card_event`` of a click."""
        with self._lock:
            if task_id not in self.cards:
                raise KeyError(f"no card with task id {task_id}")
            return self._new_response_code(task_id)

    # -- queries for assertions ----------------------------------------------------------------
    def calls(self, path: str, *, ok: bool | None = None) -> list[Recorded]:
        with self._lock:
            found = [r for r in self.requests if r.path == path]
        return [r for r in found if ok is None or r.ok == ok]

    def robot_messages(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.robots.get(key, []))

    # -- playing WeCom towards the desk ---------------------------------------------------------
    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.corp_id)

    def encrypt_callback(self, plaintext_xml: str, *, timestamp: int | None = None, nonce: str | None = None,
                         corp_id: str | None = None) -> tuple[dict[str, str], bytes]:
        """(query, body) of WeCom's POST carrying ``plaintext_xml``; ``corp_id`` overrides the
        receive id inside the ciphertext (to play another corp)."""
        timestamp = int(time.time()) if timestamp is None else int(timestamp)
        nonce = nonce or secrets.token_hex(8)
        crypto = WeChatCrypto(self.token, self.aes_key, corp_id or self.corp_id)
        wrapped = crypto.encrypt_message(plaintext_xml, nonce, str(timestamp))
        encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", wrapped).group(1)
        signature = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]></MsgSignature>", wrapped).group(1)
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>")
        query = {"msg_signature": signature, "timestamp": str(timestamp), "nonce": nonce}
        return query, body.encode()

    def verification_query(self, echo: str = "echo-123", *, timestamp: int | None = None) -> dict[str, str]:
        """The GET query WeCom sends when the callback URL is saved in the admin console."""
        timestamp = int(time.time()) if timestamp is None else int(timestamp)
        nonce = secrets.token_hex(8)
        crypto = self.crypto()
        from wechatpy.crypto import _get_signature
        from wechatpy.enterprise.crypto import PrpCrypto

        echostr = PrpCrypto(crypto.key).encrypt(echo, self.corp_id).decode()
        signature = _get_signature(self.token, str(timestamp), nonce, echostr)
        return {"msg_signature": signature, "timestamp": str(timestamp), "nonce": nonce, "echostr": echostr}

    # -- the intelligent robot -----------------------------------------------------------------
    def aibot_text(self, from_user: str, content: str, *, msgid: str | None = None, chatid: str = "wrgroup0001",
                   chattype: str = "group", aibotid: str = "aibemulator01") -> dict[str, Any]:
        """A text message to the robot as WeCom writes it, with a fresh single-use response_url."""
        msgid = msgid or f"aibot-{next(self._ids)}-{secrets.token_hex(4)}"
        code = secrets.token_urlsafe(16)
        with self._lock:
            self.response_urls[code] = {"msgid": msgid, "expires": time.time() + RESPONSE_URL_LIFETIME, "used": False}
        message: dict[str, Any] = {
            "msgid": msgid, "aibotid": aibotid, "chattype": chattype, "from": {"userid": from_user},
            "response_url": f"{self.base_url}aibot/response?response_code={code}",
            "msgtype": "text", "text": {"content": content},
        }
        if chattype == "group":
            message["chatid"] = chatid
        return message

    def encrypt_aibot(self, message: dict[str, Any] | str, *, timestamp: int | None = None, nonce: str | None = None,
                      receive_id: str = "", token: str | None = None) -> tuple[dict[str, str], bytes]:
        """(query, body) of WeCom's POST carrying ``message`` (JSON), encrypted with the robot's keys."""
        from wechatpy.crypto import _get_signature
        from wechatpy.enterprise.crypto import PrpCrypto

        timestamp = int(time.time()) if timestamp is None else int(timestamp)
        nonce = nonce or secrets.token_hex(8)
        plaintext = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        key = base64.b64decode(self.aibot_aes_key + "=")
        encrypt = PrpCrypto(key).encrypt(plaintext, receive_id).decode()
        signature = _get_signature(token or self.aibot_token, str(timestamp), nonce, encrypt)
        query = {"msg_signature": signature, "timestamp": str(timestamp), "nonce": nonce}
        return query, json.dumps({"encrypt": encrypt}).encode()

    def aibot_verification_query(self, echo: str = "aibot-echo-1", *, timestamp: int | None = None) -> dict[str, str]:
        from wechatpy.crypto import _get_signature
        from wechatpy.enterprise.crypto import PrpCrypto

        timestamp = int(time.time()) if timestamp is None else int(timestamp)
        nonce = secrets.token_hex(8)
        echostr = PrpCrypto(base64.b64decode(self.aibot_aes_key + "=")).encrypt(echo, "").decode()
        signature = _get_signature(self.aibot_token, str(timestamp), nonce, echostr)
        return {"msg_signature": signature, "timestamp": str(timestamp), "nonce": nonce, "echostr": echostr}

    # JS-SDK tickets (wx.config: the corp's; wx.agentConfig: the app's), one each per lifetime.
    def _jsapi_ticket(self, _query, _body):
        self.jsapi_tickets.setdefault("corp", "corp-ticket-" + secrets.token_hex(6))
        return 200, {"errcode": 0, "errmsg": "ok", "ticket": self.jsapi_tickets["corp"], "expires_in": 7200}

    def _agent_ticket(self, query, _body):
        if query.get("type") != "agent_config":
            return self._error(40058, "invalid type")
        self.jsapi_tickets.setdefault("agent", "agent-ticket-" + secrets.token_hex(6))
        return 200, {"errcode": 0, "errmsg": "ok", "ticket": self.jsapi_tickets["agent"], "expires_in": 7200}

    def _aibot_response(self, query, body):
        entry = self.response_urls.get(query.get("response_code") or "")
        if entry is None or entry["used"] or entry["expires"] < time.time():
            return self._error(40058, "invalid response_code")  # unknown, used once already, or expired
        if not isinstance(body, dict) or body.get("msgtype") not in ("markdown", "text", "template_card"):
            return self._error(40058, "unsupported msgtype")
        entry["used"] = True
        self.aibot_answers.append({**body, "msgid": entry["msgid"]})
        return 200, {"errcode": 0, "errmsg": "ok"}

    # -- the server side -----------------------------------------------------------------------
    def _handle(self, http: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(http.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        path = url.path.removeprefix("/cgi-bin/")
        record = Recorded(method, path, query, body)
        with self._lock:
            self.requests.append(record)
            status, answer = self._answer(method, path, query, body, raw)
            record.answer = answer
        data = json.dumps(answer, ensure_ascii=False).encode()
        http.send_response(status)
        http.send_header("Content-Type", "application/json; charset=utf-8")
        http.send_header("Content-Length", str(len(data)))
        http.end_headers()
        http.wfile.write(data)

    @staticmethod
    def _error(errcode: int, errmsg: str | None = None) -> tuple[int, dict[str, Any]]:
        return 200, {"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "error")}

    def _injected(self, path: str) -> tuple[int, dict[str, Any]] | None:
        queue = self._failures.get(path)
        if queue:
            errcode, errmsg = queue.pop(0)
            return self._error(errcode, errmsg)
        return None

    def _check_token(self, query: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        token = query.get("access_token")
        if not token:
            return self._error(41001)
        if token not in self.tokens:
            return self._error(40014)
        if token in self.expired or self.tokens[token] <= time.time():
            return self._error(42001)
        return None

    def _answer(self, method, path, query, body, raw) -> tuple[int, dict[str, Any]]:
        routes = {
            ("GET", "gettoken"): self._gettoken,
            ("POST", "message/send"): self._message_send,
            ("POST", "message/update_template_card"): self._update_card,
            ("POST", "externalcontact/add_msg_template"): self._add_msg_template,
            ("POST", "webhook/send"): self._webhook,
            ("GET", "auth/getuserinfo"): self._getuserinfo,
            ("GET", "user/get"): self._user_get,
            ("GET", "user/list"): self._user_list,
            ("POST", "aibot/response"): self._aibot_response,
            ("GET", "get_jsapi_ticket"): self._jsapi_ticket,
            ("GET", "ticket/get"): self._agent_ticket,
        }
        route = routes.get((method, path))
        if route is None:
            return 404, {"errcode": 404, "errmsg": f"emulator: no such endpoint {method} {path}"}
        if path not in ("gettoken", "webhook/send", "aibot/response"):
            refused = self._check_token(query)
            if refused is not None:
                return refused
        injected = self._injected(path)
        if injected is not None:
            return injected
        if method == "POST" and path not in ("webhook/send", "aibot/response") and not isinstance(body, dict):
            return self._error(40058, "body is not a JSON object")
        return route(query, body)

    def _gettoken(self, query, _body):
        if query.get("corpid") != self.corp_id:
            return self._error(40013)
        if query.get("corpsecret") != self.secret:
            return self._error(40001)
        token = f"tok-{next(self._ids)}-{secrets.token_hex(8)}"
        self.tokens[token] = time.time() + TOKEN_LIFETIME
        return 200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_LIFETIME}

    def _new_response_code(self, task_id: str) -> str:
        code = f"rc-{next(self._ids)}-{secrets.token_hex(12)}"
        self.response_codes[code] = {"task_id": task_id, "used": False}
        return code

    def add_external_contact(self, external_userid: str, follow_user: str) -> None:
        with self._lock:
            self.external_contacts[external_userid] = follow_user

    def _add_msg_template(self, _query, body):
        """客户联系 · 创建企业群发: a task for ``sender``; external contacts not theirs come back in fail_list."""
        if body.get("chat_type", "single") != "single":
            return self._error(40058, "only single chats emulated")
        sender = str(body.get("sender") or "")
        if sender not in self.users:
            return self._error(60111)
        text = body.get("text") or {}
        if not str(text.get("content") or "").strip():
            return self._error(44004)
        wanted = [str(u) for u in body.get("external_userid") or []]
        fail = [u for u in wanted if self.external_contacts.get(u) != sender]
        if len(fail) == len(wanted):
            return 200, {"errcode": 0, "errmsg": "ok", "fail_list": fail, "msgid": ""}
        msgid = f"msgGAAAA{next(self._ids)}"
        self.msg_templates.append({"msgid": msgid, "sender": sender, "external_userid": [u for u in wanted if u not in fail],
                                   "text": text["content"]})
        return 200, {"errcode": 0, "errmsg": "ok", "fail_list": fail, "msgid": msgid}

    def _message_send(self, _query, body):
        now = self.clock()
        if self.quotas.app_per_minute is not None:
            if not _within(self._app_calls, self.quotas.app_per_minute, 60, now):
                return self._error(45009)
            self._app_calls.append(now)
        if str(body.get("agentid")) != str(self.agent_id):
            return self._error(40056)
        msgtype = body.get("msgtype")
        content = body.get(msgtype) if isinstance(msgtype, str) else None
        if not isinstance(content, dict):
            return self._error(40058, "missing message content")
        if msgtype == "text" and not str(content.get("content") or "").strip():
            return self._error(44004)
        if msgtype == "textcard" and not all(content.get(k) for k in ("title", "description", "url")):
            return self._error(40058, "textcard needs title, description and url")
        touser = [u for u in str(body.get("touser") or "").split("|") if u]
        valid = [u for u in touser if u in self.users and self.users[u].get("status", 1) != 5]
        invalid = [u for u in touser if u not in valid]
        if not valid:
            return self._error(81013)
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid),
                                  "invalidparty": "", "invalidtag": "", "unlicenseduser": "",
                                  "msgid": f"msg-{next(self._ids)}"}
        if msgtype == "template_card":
            problem = self._check_card(content)
            if problem:
                return self._error(40058, problem)
            self.cards[content["task_id"]] = Card(content["task_id"], valid, body)
            answer["response_code"] = self._new_response_code(content["task_id"])
        fingerprint = json.dumps([valid, msgtype, content], sort_keys=True, ensure_ascii=False)
        interval = int(body.get("duplicate_check_interval") or 1800)
        seen = self._recent.get(fingerprint)
        if body.get("enable_duplicate_check") and seen is not None and now - seen < interval:
            return 200, answer  # WeCom accepts, and shows nothing new
        self._recent[fingerprint] = now
        shown = [u for u in valid if self._member_may_receive(u, now)]
        for userid in valid:
            if userid not in shown:  # WeCom accepts, and the member never sees it
                self.dropped.append({"touser": [userid], "msgtype": msgtype, msgtype: content})
        if shown:
            self.messages.append({"touser": shown, "msgtype": msgtype, msgtype: content})
        return 200, answer

    def _member_may_receive(self, userid: str, now: float) -> bool:
        if self.quotas.member_per_minute is None and self.quotas.member_per_hour is None:
            return True
        minute, hour = self._member_sends.setdefault(userid, (deque(), deque()))
        if not (_within(minute, self.quotas.member_per_minute, 60, now)
                and _within(hour, self.quotas.member_per_hour, 3600, now)):
            return False
        minute.append(now)
        hour.append(now)
        return True

    def _check_card(self, card: dict[str, Any]) -> str:
        if card.get("card_type") != "button_interaction":
            return ""
        task_id = str(card.get("task_id") or "")
        if not TASK_ID.match(task_id):
            return "invalid task_id"
        if task_id in self.cards:
            return "task_id already used"
        buttons = card.get("button_list") or []
        if not 1 <= len(buttons) <= 6:
            return "button_list must hold 1 to 6 buttons"
        keys = [b.get("key") for b in buttons if int(b.get("type") or 0) == 0]
        if any(not k for k in keys) or len(set(keys)) != len(keys):
            return "callback buttons need unique keys"
        if any(int(b.get("type") or 0) == 1 and not b.get("url") for b in buttons):
            return "jump buttons need a url"
        return ""

    def _update_card(self, _query, body):
        if str(body.get("agentid")) != str(self.agent_id):
            return self._error(40056)
        code = self.response_codes.get(str(body.get("response_code") or ""))
        if code is None or code["used"]:
            return self._error(40058, "invalid response_code")
        code["used"] = True
        card = self.cards[code["task_id"]]
        if isinstance(body.get("button"), dict):
            card.replaced_with = str(body["button"].get("replace_name") or "")
        return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": []}

    def _webhook(self, query, body):
        key = query.get("key") or ""
        if key not in self.robots:
            return self._error(93000)
        if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown"):
            return self._error(40058, "unsupported msgtype")
        content = body[body["msgtype"]]
        if not str(content.get("content") or "").strip():
            return self._error(44004)
        if self.quotas.robot_per_minute is not None:
            now, sends = self.clock(), self._robot_sends.setdefault(key, deque())
            if not _within(sends, self.quotas.robot_per_minute, 60, now):
                return self._error(130101)
            sends.append(now)
        self.robots[key].append(body)
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _getuserinfo(self, query, _body):
        entry = self.codes.pop(query.get("code") or "", None)
        if entry is None or entry[1] < time.time():
            return self._error(40029)
        return 200, {"errcode": 0, "errmsg": "ok", "userid": entry[0]}

    def _user_get(self, query, _body):
        user = self.users.get(query.get("userid") or "")
        if user is None:
            return self._error(60111)
        return 200, {"errcode": 0, "errmsg": "ok", **user}

    def _descendants(self, department_id: int) -> set[int]:
        found = {department_id}
        changed = True
        while changed:
            changed = False
            for dept in self.departments.values():
                if dept["parentid"] in found and dept["id"] not in found:
                    found.add(dept["id"])
                    changed = True
        return found

    def _user_list(self, query, _body):
        try:
            department_id = int(query.get("department_id") or "")
        except ValueError:
            return self._error(60123)
        if department_id not in self.departments:
            return self._error(60123)
        scope = self._descendants(department_id) if query.get("fetch_child") == "1" else {department_id}
        users = [dict(u) for u in self.users.values() if scope.intersection(u["department"])]
        return 200, {"errcode": 0, "errmsg": "ok", "userlist": users}


# --- Plaintext messages as WeCom writes them ---------------------------------------------------


def _cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


def text_message(from_user: str, content: str, msg_id: int | str, *, create_time: int | None = None,
                 corp_id: str = CORP_ID, agent_id: int = AGENT_ID) -> str:
    create_time = int(time.time()) if create_time is None else create_time
    return (f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
            f"<Content>{_cdata(content)}</Content><MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>")


def image_message(from_user: str, msg_id: int | str, *, corp_id: str = CORP_ID, agent_id: int = AGENT_ID) -> str:
    return (f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{_cdata('image')}</MsgType>"
            f"<PicUrl>{_cdata('http://example.invalid/p.jpg')}</PicUrl><MediaId>{_cdata('media-1')}</MediaId>"
            f"<MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>")


def card_event(from_user: str, event_key: str, task_id: str, response_code: str, *,
               create_time: int | None = None, corp_id: str = CORP_ID, agent_id: int = AGENT_ID) -> str:
    create_time = int(time.time()) if create_time is None else create_time
    return (f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType>{_cdata('event')}</MsgType>"
            f"<Event>{_cdata('template_card_event')}</Event><EventKey>{_cdata(event_key)}</EventKey>"
            f"<TaskId>{_cdata(task_id)}</TaskId><CardType>{_cdata('button_interaction')}</CardType>"
            f"<ResponseCode>{_cdata(response_code)}</ResponseCode><AgentID>{agent_id}</AgentID></xml>")


def change_contact_event(change_type: str, userid: str, *, status: int | None = None, new_userid: str = "",
                         create_time: int | None = None, corp_id: str = CORP_ID) -> str:
    create_time = int(time.time()) if create_time is None else create_time
    extra = f"<Status>{status}</Status>" if status is not None else ""
    extra += f"<NewUserID>{_cdata(new_userid)}</NewUserID>" if new_userid else ""
    return (f"<xml><ToUserName>{_cdata(corp_id)}</ToUserName><FromUserName>{_cdata('sys')}</FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType>{_cdata('event')}</MsgType>"
            f"<Event>{_cdata('change_contact')}</Event><ChangeType>{_cdata(change_type)}</ChangeType>"
            f"<UserID>{_cdata(userid)}</UserID>{extra}</xml>")


def post_callback(client, emulator: WeComEmulator, plaintext_xml: str, **kwargs):
    """POST ``plaintext_xml`` to the desk's ``/wecom/callback`` exactly as WeCom would (Flask test client)."""
    query, body = emulator.encrypt_callback(plaintext_xml, **kwargs)
    return client.post("/wecom/callback", query_string=query, data=body, content_type="text/xml")


def post_aibot(client, emulator: WeComEmulator, message: dict[str, Any] | str, **kwargs):
    """POST ``message`` to the desk's ``/wecom/aibot`` exactly as WeCom would (Flask test client)."""
    query, body = emulator.encrypt_aibot(message, **kwargs)
    return client.post("/wecom/aibot", query_string=query, data=body, content_type="application/json")
