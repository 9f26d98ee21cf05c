"""The API blueprint, bearer authentication, and strict parsing of JSON bodies and query strings.

Every failure is a ``DomainError`` rendered as ``{"ok": false, "error": {...}}`` by
``handlers.errors``; a success is ``{"ok": true, "data": ...}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, g, jsonify, request

from application import csrf
from handlers.context import db, now
from handlers.errors import render_error
from models import Person
from services import inputs
from services.admin.api_tokens import Unauthenticated, authenticate
from services.errors import DomainError, ValidationFailed

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer tokens, never cookies, authenticate this blueprint, so there is no cross-site request to forge.
csrf.exempt(bp)

# Endpoints a client may read before it holds a token.
PUBLIC_ENDPOINTS = {"api.openapi_document"}


class MalformedRequest(DomainError):
    code = "malformed_request"
    http_status = 400


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise Unauthenticated("缺少访问令牌，请在请求头中提供 Authorization: Bearer <令牌>")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("认证方式无效，请使用 Authorization: Bearer <令牌>")
    # Shared helpers that ask for the current person get the token's person, never a cookie's.
    g.person = authenticate(db(), token, now())


@bp.errorhandler(Unauthenticated)
def _unauthenticated(error: Unauthenticated):
    response, status = render_error(error.http_status, error.code, error.message, error.fields)
    response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response, status


def caller() -> Person:
    return g.person


def ok(data: Any, status: int = 200, headers: dict | None = None):
    return jsonify({"ok": True, "data": data}), status, headers or {}


def json_body() -> dict:
    """The request body as a JSON object; an empty body is an empty object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = inputs.loads_json(raw)
    except inputs.InvalidJson as error:
        raise MalformedRequest(f"请求体有误：{error}") from None
    if not isinstance(data, dict):
        raise MalformedRequest("请求体必须是 JSON 对象，例如 {\"action\": \"sign\"}")
    return data


# --------------------------------------------------------------------------------------------
# Fields: one description drives parsing, error messages and the OpenAPI schema
# --------------------------------------------------------------------------------------------
STRING, INTEGER, BOOLEAN, DATE, INTEGER_LIST = "string", "integer", "boolean", "date", "integer_list"
OBJECT = "object"
# The dates ``services.inputs.parse_date`` accepts: YYYY-MM-DD from 1900 to 2099.
DATE_PATTERN = r"^(19|20)[0-9]{2}-[0-9]{2}-[0-9]{2}$"
# Text the database can store (no NUL); a query string or path value is one line (no control characters),
# as the request guard (handlers/boundary.py) holds.
TEXT_PATTERN = "^[^\\u0000]*$"
LINE_PATTERN = "^[^\\u0000-\\u001f\\u007f]*$"
TYPE_NAMES = {STRING: "字符串", INTEGER: "整数", BOOLEAN: "布尔值 true/false", DATE: "日期 YYYY-MM-DD",
              INTEGER_LIST: "整数数组", OBJECT: "JSON 对象"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: str
    required: bool = False
    default: Any = None
    enum: tuple | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str = ""

    @property
    def lowest(self) -> int:
        return self.minimum if self.minimum is not None else (1 if self.is_id else inputs.INT_MIN)

    @property
    def highest(self) -> int:
        return self.maximum if self.maximum is not None else inputs.INT_MAX

    @property
    def is_id(self) -> bool:
        return self.name.endswith(("_id", "_ids"))

    def schema(self) -> dict:
        if self.kind == DATE:
            schema: dict[str, Any] = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
        elif self.kind == INTEGER_LIST:
            schema = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": inputs.INT_MAX}}
        elif self.kind == OBJECT:
            # Custom field values: text (no NUL, as the request guard holds), numbers, yes/no, lists of text.
            text = {"type": "string", "pattern": TEXT_PATTERN}
            schema = {"type": "object", "propertyNames": {"pattern": TEXT_PATTERN}, "additionalProperties": {
                "anyOf": [text, {"type": "number"}, {"type": "boolean"}, {"type": "array", "items": text}]}}
        else:
            schema = {"type": self.kind}
        if self.enum is not None:
            schema["enum"] = list(self.enum)
        if self.kind == INTEGER:
            # Every integer is stored in a database INTEGER; ids start at 1.
            schema["minimum"], schema["maximum"] = self.lowest, self.highest
        if self.min_length is not None:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.kind == STRING and self.enum is None:
            schema["pattern"] = self.pattern or TEXT_PATTERN
        if self.default is not None:
            schema["default"] = self.default
        schema["description"] = self.label + (f"。{self.description}" if self.description else "")
        if not self.required:  # null is taken as "not given"
            schema["type"] = [schema["type"], "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        return schema

    def convert(self, value: Any) -> Any:
        """The value in Python form; ``ValueError`` with a Chinese reason when it does not fit."""
        if self.kind == STRING:
            if not isinstance(value, str):
                raise ValueError("须为字符串")
            if self.max_length is not None and len(value) > self.max_length:
                raise ValueError(f"不能超过 {self.max_length} 个字")
            if self.min_length is not None and len(value) < self.min_length:
                raise ValueError(f"至少 {self.min_length} 个字")
        elif self.kind == BOOLEAN:
            if not isinstance(value, bool):
                raise ValueError("须为 true 或 false")
        elif self.kind == INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("须为整数")
            value = inputs.parse_int(value, minimum=self.lowest, maximum=self.highest)
        elif self.kind == DATE:
            if not isinstance(value, str):
                raise ValueError("须为日期字符串 YYYY-MM-DD")
            value = inputs.parse_date(value)
        elif self.kind == INTEGER_LIST:
            if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
                raise ValueError("须为整数数组")
            try:
                value = [inputs.parse_int(v, minimum=1) for v in value]
            except ValueError as reason:
                raise ValueError(f"中的编号{reason}") from None
        elif self.kind == OBJECT and not isinstance(value, dict):
            raise ValueError("须为 JSON 对象")
        if self.enum is not None and value not in self.enum:
            raise ValueError("可选值：" + "、".join(str(v) for v in self.enum))
        return value


def parse_fields(fields: tuple[Field, ...], body: dict, *, ignore: tuple[str, ...] = ()) -> dict:
    """Check ``body`` against ``fields``; unknown keys, wrong types and missing values are 422."""
    errors: dict[str, str] = {}
    known = {f.name for f in fields} | set(ignore)
    for key in body:
        if key not in known:
            errors[key] = "不支持的字段"
    values: dict[str, Any] = {}
    for f in fields:
        value = body.get(f.name)
        if value is None:
            if f.required:
                errors[f.name] = "必填"
            values[f.name] = f.default
            continue
        try:
            values[f.name] = f.convert(value)
        except ValueError as reason:
            errors[f.name] = str(reason)
    if errors:
        labels = {f.name: f.label for f in fields}
        parts = [f"{labels.get(name, name)}（{name}）{reason}" for name, reason in errors.items()]
        raise ValidationFailed("请求参数有误：" + "；".join(parts), fields=errors)
    return values
