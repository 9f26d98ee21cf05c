"""The input boundary of every request: what no view should ever have to look at.

* ``check_request`` (run before every view): query parameters, form fields and path values with a
  NUL, a lone surrogate or another control character where none belongs, absurdly long or many
  values, and oversized JSON bodies are refused with 400/413 and a Chinese message naming the
  parameter. Refusals are logged, not audited: an audit row per hostile request would let anyone
  fill the audit table.
* ``IdConverter`` replaces Werkzeug's ``int`` converter: ASCII digits only (Werkzeug's ``\\d``
  matches ``²`` and ``١``) and within the database's integer range, otherwise the route does not
  match (404) instead of failing in the database.
* ``StrictJSONProvider``: ``request.get_json()`` refuses NaN/Infinity, lone surrogates and NUL
  (``services.inputs.loads_json``), so no view stores what the database cannot hold.
"""

from __future__ import annotations

import logging
import re

from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import BaseConverter, ValidationError

from handlers.errors import render_error
from services import inputs

log = logging.getLogger("youxubiying.boundary")

MAX_ARG_LENGTH = 2000
MAX_ARGS = 200
MAX_KEY_LENGTH = 100
MAX_FORM_FIELD_LENGTH = 100_000
MAX_FORM_FIELDS = 2000
MAX_JSON_BYTES = 1024 * 1024

# Form fields are typed in text areas: tab and line breaks belong there; other C0 controls and DEL do not.
_FORM_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# A query parameter or path value is a single line.
_LINE_CONTROL = re.compile("[\x00-\x1f\x7f]")


class IdConverter(BaseConverter):
    """``<int:name>``: a positive database id in ASCII digits."""

    regex = r"[0-9]+"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = inputs.to_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        return str(int(value))


class PositionConverter(BaseConverter):
    """``<position:name>``: a place in a short ordered list (0, 1, …), in ASCII digits."""

    regex = r"[0-9]{1,4}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(int(value))


class StrictJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs) -> object:
        return inputs.loads_json(s)


def _problem(value: str, control: re.Pattern, limit: int) -> str | None:
    if len(value) > limit:
        return f"过长（超过 {limit} 个字符）"
    found = control.search(value)
    if found:
        return "含有空字符（\\0）" if found.group() == "\x00" else "含有不允许的控制字符"
    return inputs.text_problem(value)


def _refuse(where: str, name: str, problem: str):
    shown = name if name and len(name) <= 40 and _problem(name, _LINE_CONTROL, 40) is None else ""
    subject = f"{where}「{shown}」" if shown else where
    log.warning("refused %s %s: %s %r %s", request.method, request.path[:200], where, shown, problem)
    return render_error(400, "invalid_input", f"{subject}{problem}，请求已被拒绝", {shown or where: problem})


def check_request():
    """The first ``before_request``: the answer when the request carries something no view may read."""
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            problem = _problem(value, _LINE_CONTROL, MAX_ARG_LENGTH)
            if problem:
                return _refuse("地址中的参数", name, problem)
    args = request.args
    if len(args) > MAX_ARGS:
        return _refuse("查询参数", "", f"个数过多（超过 {MAX_ARGS} 个）")
    for name, value in args.items(multi=True):
        problem = _problem(name, _LINE_CONTROL, MAX_KEY_LENGTH) or _problem(value, _LINE_CONTROL, MAX_ARG_LENGTH)
        if problem:
            return _refuse("查询参数", name, problem)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = request.form
            if len(form) > MAX_FORM_FIELDS:
                return _refuse("表单字段", "", f"个数过多（超过 {MAX_FORM_FIELDS} 个）")
            for name, value in form.items(multi=True):
                problem = (_problem(name, _LINE_CONTROL, MAX_KEY_LENGTH)
                           or _problem(value, _FORM_CONTROL, MAX_FORM_FIELD_LENGTH))
                if problem:
                    return _refuse("表单字段", name, problem)
            for name, upload in request.files.items(multi=True):
                problem = inputs.text_problem(upload.filename or "") or (
                    "含有不允许的控制字符" if _LINE_CONTROL.search(upload.filename or "") else None)
                if problem:
                    return _refuse("上传文件名", name, problem)
        elif request.is_json and (request.content_length or 0) > MAX_JSON_BYTES:
            return render_error(413, "too_large", f"JSON 请求体不能超过 {MAX_JSON_BYTES // 1024} KB")
    return None


# --------------------------------------------------------------------------------------------
# Numbers in query strings and forms, the one way views read them
# --------------------------------------------------------------------------------------------
def arg_id(name: str, source=None) -> int | None:
    """A database id from the query string (or ``source``, e.g. ``request.form``); ``None`` when
    absent or not an id — a filter that cannot match anything is no filter."""
    return inputs.to_id((request.args if source is None else source).get(name))


def arg_ids(name: str, source=None) -> list[int]:
    """The ids among a repeated parameter (checkboxes), unreadable ones left out."""
    return inputs.ids((request.form if source is None else source).getlist(name))


def arg_page(name: str = "page", source=None) -> int:
    """A page number: 1 when absent or unreadable, capped (a page past the end shows the last one)."""
    return inputs.page_number((request.args if source is None else source).get(name))
