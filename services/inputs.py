"""Reading what people and other systems send: integers, ids, dates, text and JSON, strictly.

Every boundary (pages, forms, the API, chat, imports) reads numbers and dates through these
functions, so one rule holds everywhere:

* an integer is ASCII digits with an optional sign, within the database's ``INTEGER`` range.
  Python's own ``int()`` also takes ``"١٢"`` (Arabic-Indic), ``"１２"`` (full width), ``"1_000"`` and
  ``" 7 "``, and ``"²".isdigit()`` is true although ``int("²")`` raises: none of them is a number here;
* a date is ``YYYY-MM-DD`` in ASCII digits between 1900 and 2099, so that adding a day, a time zone
  or a deadline to it can never leave Python's date range;
* text carries no NUL (PostgreSQL refuses it) and no lone surrogate (UTF-8 cannot encode it);
* JSON has no ``NaN``/``Infinity`` (not JSON, and not a number any column can hold).

Each parser raises ``ValueError`` with a short Chinese reason ("须为整数", "不能大于 30"), which the
caller puts after the field's label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

# PostgreSQL ``integer``: every id, count and number column of the schema.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2099, 12, 31)
# A generous cap for one JSON document's nesting; deeper is an attack, not a request.
MAX_JSON_DEPTH = 32

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_int(raw: Any, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int:
    """An integer typed as text (surrounding spaces allowed) or given as a JSON integer."""
    if isinstance(raw, bool):
        raise ValueError("须为整数")
    if isinstance(raw, int):
        value = raw
    else:
        text = raw.strip() if isinstance(raw, str) else ""
        if not _INTEGER.fullmatch(text) or len(text) > 20:
            raise ValueError("须为整数")
        value = int(text)
    if value < minimum:
        raise ValueError(f"不能小于 {minimum}")
    if value > maximum:
        raise ValueError(f"不能大于 {maximum}")
    return value


def optional_int(raw: Any, *, minimum: int = INT_MIN, maximum: int = INT_MAX) -> int | None:
    """``parse_int`` where an empty value means "not given"."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_int(raw, minimum=minimum, maximum=maximum)


def to_id(raw: Any) -> int | None:
    """A database id (1 … INT_MAX) from text or an integer; ``None`` for anything else."""
    try:
        return parse_int(raw, minimum=1)
    except ValueError:
        return None


def ids(values: Iterable[Any]) -> list[int]:
    """The ids among ``values`` (texts or integers), in order, without repeats; others are left out."""
    result: list[int] = []
    for value in values if not isinstance(values, str | bytes | dict) else ():
        number = to_id(value)
        if number is not None and number not in result:
            result.append(number)
    return result


def page_number(raw: Any, *, maximum: int = 100_000) -> int:
    """A page number from a query string: 1 when absent or unreadable, never past ``maximum``."""
    try:
        return parse_int(raw, minimum=1, maximum=maximum)
    except ValueError:
        return maximum if isinstance(raw, str) and _INTEGER.fullmatch(raw.strip()) and raw.strip()[0] != "-" else 1


def parse_date(raw: Any, *, earliest: date = EARLIEST_DATE, latest: date = LATEST_DATE) -> date:
    """A calendar date written ``YYYY-MM-DD``."""
    text = raw.strip() if isinstance(raw, str) else ""
    match = _DATE.fullmatch(text)
    if not match:
        raise ValueError("日期格式应为 YYYY-MM-DD")
    try:
        value = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError("日期不存在") from None
    if not earliest <= value <= latest:
        raise ValueError(f"日期应在 {earliest.year} 年至 {latest.year} 年之间")
    return value


def optional_date(raw: Any, **bounds: date) -> date | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return parse_date(raw, **bounds)


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, in Chinese; ``None`` when it can."""
    if "\x00" in value:
        return "含有空字符（\\0）"
    if _LONE_SURROGATE.search(value):
        return "含有无效的 Unicode 字符（孤立的代理项）"
    return None


class InvalidJson(ValueError):
    """The body is not JSON this service accepts; ``str`` is a Chinese reason."""


def _refuse_constant(name: str):
    raise InvalidJson(f"JSON 中不能使用 {name}（不是合法的 JSON 数值）")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise InvalidJson(f"JSON 数值超出范围：{text[:20]}")
    return value


def loads_json(raw: bytes | str) -> Any:
    """JSON as RFC 8259 has it: UTF-8, no ``NaN``/``Infinity``, no NUL or lone surrogate in any
    string or key, at most ``MAX_JSON_DEPTH`` levels deep."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidJson("JSON 编码无效，请使用 UTF-8 编码") from None
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except InvalidJson:
        raise
    except json.JSONDecodeError as error:
        raise InvalidJson(f"JSON 格式有误（第 {error.lineno} 行第 {error.colno} 列附近）") from None
    except RecursionError:
        raise InvalidJson("JSON 嵌套层数过多") from None
    except ValueError:  # an integer literal of thousands of digits
        raise InvalidJson("JSON 数值过长") from None
    _check_json(data, 0)
    return data


def _check_json(value: Any, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise InvalidJson("JSON 嵌套层数过多")
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise InvalidJson(f"JSON 字符串{problem}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
