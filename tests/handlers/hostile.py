"""A crawler that sends hostile values to every route of the app and collects the server errors.

It reproduces the security probe of issue 12: every rule of the url_map is requested with sample
path values, then with each hostile value in turn as a query parameter, a form field, a JSON field
and a path integer. Which parameters a view reads is learned, not listed: the request's
``args``/``form`` and ``get_json()`` record every key a view asks for, and a first request per route
collects them. The API's JSON fields come from the same ``Field`` tables the API parses with.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from flask import Flask
from werkzeug.datastructures import ImmutableMultiDict

# Sent to every parameter one at a time: an integer past INTEGER (PostgreSQL) and past 64 bits (SQLite),
# a digit that str.isdigit() takes and int() refuses, and a date whose next day does not exist.
PER_KEY = ("99999999999999999999", "²", "9999-12-31")
# Rotated over a route's parameters (each parameter gets each once, with the others hostile too).
ROTATED = ("2147483648", "-2147483649", "١٢", "１２", "NaN", "Infinity", "1e309", "-1", "0", "0x10", "2026-02-30", "0000-01-01",
           "99999-12-31", "0001-01-01")
# Sent to all parameters at once: the guard refuses the first three in a query string; forms keep the long one.
AT_ONCE = ("a\x00b", "\ud800", "/x\r\nX-Injected: 1", "x" * 2001)
HOSTILE = (*PER_KEY, *ROTATED, *AT_ONCE)
PATH_NUMBERS = ("99999999999999999999", "2147483648", "²")
PATH_TEXT = ("99999999999999999999", "²", "a\x00b", "\ud800")
# JSON carries more than text: numbers out of range, floats where integers belong, nesting, nulls.
JSON_PER_KEY = (10**20, 2**31, -(2**31) - 1, 1.5, "²", "9999-12-31", "0001-01-01", [], {"a": 1}, True)
JSON_RAW = ('{"days": NaN, "level": Infinity, "department_id": -Infinity}', '{"text": "\\ud800", "reason": "\\ud800"}',
            '{"content": "a\\u0000b"}', '{"level": 1e999}', "[" * 40 + "]" * 40)

_PATH_PART = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")


class _Recorder:
    """The keys views asked for during the current request."""

    def __init__(self) -> None:
        self.args: set[str] = set()
        self.form: set[str] = set()
        self.json: set[str] = set()
        self.active = False

    def clear(self) -> None:
        self.args, self.form, self.json = set(), set(), set()


RECORDER = _Recorder()


class _RecordingMultiDict(ImmutableMultiDict):
    """``request.args`` / ``request.form``: records which keys a view reads."""

    kind = "args"

    def _note(self, key) -> None:
        if RECORDER.active and isinstance(key, str):
            getattr(RECORDER, self.kind).add(key)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002  (MultiDict's own signature)
        self._note(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        self._note(key)
        return super().getlist(key, type)

    def __contains__(self, key) -> bool:
        self._note(key)
        return super().__contains__(key)


class _RecordingDict(dict):
    def get(self, key, default=None):
        if RECORDER.active:
            RECORDER.json.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        if RECORDER.active:
            RECORDER.json.add(key)
        return super().__getitem__(key)


def _query(values: dict) -> str:
    # Lone surrogates travel as the bytes a careless client would send: invalid UTF-8.
    return urlencode(values, errors="surrogatepass")


def _form(values: dict) -> dict:
    return {"data": _query(values).encode("ascii"), "content_type": "application/x-www-form-urlencoded"}


def recording_request_class(base):
    """A request class whose args, form and JSON object record the keys a view reads."""

    class _Form(_RecordingMultiDict):
        kind = "form"

    class RecordingRequest(base):
        @property
        def args(self):
            if "_recording_args" not in self.__dict__:
                self.__dict__["_recording_args"] = _RecordingMultiDict(super().args)
            return self.__dict__["_recording_args"]

        @property
        def form(self):
            if "_recording_form" not in self.__dict__:
                self.__dict__["_recording_form"] = _Form(super().form)
            return self.__dict__["_recording_form"]

        def get_json(self, *a, **kw):
            data = super().get_json(*a, **kw)
            return _RecordingDict(data) if isinstance(data, dict) else data

    return RecordingRequest


class ServerErrors(logging.Handler):
    """Collects the exceptions the app's last-resort error handler logs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def last(self) -> str:
        if not self.records:
            return ""
        record = self.records[-1]
        if record.exc_info and record.exc_info[1] is not None:
            return _describe(record.exc_info[1])
        return record.getMessage()[:300]


def _describe(error: BaseException) -> str:
    """The exception and the innermost project frame it came through."""
    tb, where = error.__traceback__, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if "site-packages" not in filename and "/tests/" not in filename:
            where = f"{filename.rsplit('/', 2)[-2]}/{filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return f"{type(error).__name__}: {str(error)[:160]!r} at {where}"


@dataclass
class Failure:
    role: str
    method: str
    url: str
    where: str
    value: object
    status: int
    error: str

    def __str__(self) -> str:
        return (f"{self.role} {self.method} {self.url[:120]} [{self.where}={self.value!r:.40}] → "
                f"{self.status} {self.error}")


@dataclass
class Crawl:
    """One crawl of the url_map as one role. ``samples`` name a valid value for each path variable."""

    app: Flask
    client: object
    role: str
    samples: dict[str, str]
    skip_endpoints: frozenset[str] = frozenset()
    # Endpoints too slow to take every value (password hashing): only the guarded values.
    light_endpoints: frozenset[str] = frozenset()
    refused: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    json_fields: dict[str, Iterable[str]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0
    _addresses: itertools.count = field(default_factory=lambda: itertools.count(1))
    headers: dict[str, str] = field(default_factory=dict)
    errors: ServerErrors = field(default_factory=ServerErrors)

    # ---- plumbing -----------------------------------------------------------------------------
    def _send(self, method: str, url: str, where: str, value, **kw):
        # A fresh client address per request, so the public pages' rate limits do not hide the parsing.
        n = next(self._addresses)
        environ = {"REMOTE_ADDR": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}
        self.errors.records.clear()
        self.requests += 1
        try:
            response = self.client.open(url, method=method, environ_base=environ, headers=self.headers, **kw)
        except Exception as error:  # raised past the error handlers: a bare 500 in production
            self.failures.append(Failure(self.role, method, url, where, value, 500, _describe(error)))
            return None
        try:
            # Streamed answers (the xlsx exports) run their generator here: fail here, not in the next request.
            body = response.get_data().decode("utf-8", "replace")
        except Exception as error:
            self.failures.append(Failure(self.role, method, url, where, value, 500, _describe(error)))
            return None
        finally:
            response.close()
        if response.status_code >= 500:
            self.failures.append(Failure(self.role, method, url, where, value, response.status_code,
                                         self.errors.last() or body[:200]))
        self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
        return response

    def _path(self, rule, override: dict[str, str] | None = None) -> str | None:
        def part(match: re.Match) -> str:
            name, converter, args = match["name"], match["converter"], match["args"]
            if override and name in override:
                return override[name]
            if converter == "any":
                return args.split(",")[0].strip().strip("'\"")
            return quote(str(self.samples.get(f"{rule.endpoint}:{name}", self.samples.get(name, "1"))), safe="/")

        return _PATH_PART.sub(part, rule.rule)

    def _discover(self, method: str, url: str, data: dict | None = None):
        RECORDER.clear()
        RECORDER.active = True
        try:
            if method == "GET":
                response = self._send(method, url, "discover", None)
            else:
                response = self._send(method, url, "discover", None, **_form(data or {}))
        finally:
            RECORDER.active = False
        return response, (set(RECORDER.args), set(RECORDER.form), set(RECORDER.json))

    # ---- the crawl ----------------------------------------------------------------------------
    def rules(self, only: set[str] | None = None):
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            if rule.endpoint in self.skip_endpoints or rule.endpoint == "static":
                continue
            if only is not None and rule.endpoint not in only:
                continue
            yield rule

    def run(self, only: set[str] | None = None) -> None:
        for rule in self.rules(only):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                self.route(rule, method)

    def route(self, rule, method: str) -> None:
        url = self._path(rule)
        response, (args, form, json_keys) = self._discover(method, url)
        if _refused(response):
            # This role may not use the route: the guard and the converter still stand in front of it,
            # but no parameter is read, so the next role is asked (see ``refused``).
            self.refused.add(rule.endpoint)
            return
        if args or form:  # keys read only once the first ones have a value
            _, (more_args, more_form, more_json) = self._discover(
                method, url + ("?" + _query(dict.fromkeys(args, "1")) if args else ""), dict.fromkeys(form, "1"))
            args, form, json_keys = args | more_args, form | more_form, json_keys | more_json
        light = rule.endpoint in self.light_endpoints
        if args:
            self._values(method, url, "args", sorted(args), light)
        if method == "POST" and form:
            self._values(method, url, "form", sorted(form), light)
        json_keys |= set(self.json_fields.get(rule.endpoint, ()))
        if method == "POST" and json_keys and not light:
            self._json_values(rule, method, url, sorted(json_keys))
        if not light:
            self._path_values(rule, method)

    def _request(self, method: str, url: str, where: str, location: str, values: dict, shown) -> None:
        if location == "args":
            self._send(method, url + "?" + _query(values), where, shown)
        else:
            self._send(method, url, where, shown, **_form(values))

    def _values(self, method: str, url: str, location: str, keys: list[str], light: bool) -> None:
        for value in AT_ONCE:
            self._request(method, url, f"{location}.*", location, dict.fromkeys(keys, value), value)
        if light:
            return
        for key in keys:
            for value in PER_KEY:
                self._request(method, url, f"{location}.{key}", location, {key: value}, value)
        for turn in range(len(ROTATED)):
            values = {key: ROTATED[(i + turn) % len(ROTATED)] for i, key in enumerate(keys)}
            self._request(method, url, f"{location}.rotated", location, values, values)

    def _json_values(self, rule, method: str, url: str, keys: list[str]) -> None:
        action = self.samples.get(f"{rule.endpoint}:action")
        for key in keys:
            for value in JSON_PER_KEY:
                body = {key: value}
                if action and key != "action":
                    body["action"] = action
                self._json(method, url, f"json.{key}", value, body)
        for raw in JSON_RAW:
            self._json(method, url, "json", raw, raw)

    def _path_values(self, rule, method: str) -> None:
        for match in _PATH_PART.finditer(rule.rule):
            name, converter = match["name"], match["converter"]
            if converter == "any":
                continue
            for value in PATH_NUMBERS if converter == "int" else PATH_TEXT:
                encoded = quote(value, safe="", errors="surrogatepass")
                self._send(method, self._path(rule, {name: encoded}), f"<{name}>", value)

    def _json(self, method: str, url: str, where: str, value, body) -> None:
        raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=True, allow_nan=True)
        self._send(method, url, where, value, data=raw.encode("utf-8"), content_type="application/json")


def _refused(response) -> bool:
    if response is None:
        return False
    if response.status_code in (401, 403):
        return True
    return response.status_code in (301, 302, 303) and "/login" in response.headers.get("Location", "")
