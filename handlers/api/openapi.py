"""The OpenAPI 3.1 document of /api/v1, written by hand as Python dicts.

Request bodies and query parameters come from the same ``Field`` tables the handlers parse
with; response schemas mirror ``services.orders.serializers`` (a test checks real responses against
them, so a field added there must be added here).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from handlers.api.actions import ACTIONS
from handlers.api.base import LINE_PATTERN, TEXT_PATTERN, Field, bp
from handlers.api.orders import CREATE_FIELDS, LIST_PARAMETERS
from handlers.api.statistics import PARAMETERS as STATISTICS_PARAMETERS
from models import Role, Satisfaction
from services.orders import ladder, screening
from services.orders.lifecycle import Action, State
from services.orders.operations import CHANNEL_LABELS, PRIORITIES
from services.orders.serializers import EXTENSION_STATUS, VISIT_METHODS
from services.statistics import kpis as stats

API_VERSION = "1.0.0"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    schema = dict(schema)
    schema["type"] = [schema["type"], "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _obj(properties: dict[str, dict], *, required: list[str] | None = None, description: str = "") -> dict:
    """A closed object: every property is listed, and (unless told) every one is always present."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


S = {"type": "string"}
I = {"type": "integer"}  # noqa: E741
B = {"type": "boolean"}
DT = {"type": "string", "format": "date-time", "description": "北京时间 ISO 8601，如 2026-03-02T10:00:00+08:00"}
D = {"type": "string", "format": "date"}
NS, NI, NDT, ND = _nullable(S), _nullable(I), _nullable(DT), _nullable(D)


def _enum(values, description: str = "") -> dict:
    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def _labels(mapping: dict) -> str:
    return "；".join(f"{k}={v}" for k, v in mapping.items())


STATE = _enum(State.ALL, _labels(State.LABELS))
PRIORITY = _enum(PRIORITIES, _labels(PRIORITIES))
SATISFACTION = _enum(Satisfaction.ALL, "好差评五级")
ACTION_NAMES = _enum(ACTIONS, "；".join(f"{name}={spec.summary}" for name, spec in ACTIONS.items()))
EVENT_ACTION = _enum(Action.LABELS, _labels(Action.LABELS))


def _schemas() -> dict[str, dict]:
    summary_props = {
        "id": I,
        "number": {"type": "string", "pattern": r"^BC-\d{8}-\d{4}$", "description": "工单编号 BC-YYYYMMDD-NNNN"},
        "title": S,
        "state": STATE,
        "state_label": S,
        "level": {"type": "integer", "enum": list(ladder.LEVELS), "description": _labels(ladder.LEVELS)},
        "level_label": S,
        "priority": PRIORITY,
        "priority_label": S,
        "is_complex": B,
        "green_channel": B,
        "channel": _enum(CHANNEL_LABELS, _labels(CHANNEL_LABELS)),
        "channel_label": S,
        "enterprise": _nullable(_ref("EnterpriseRef")),
        "zone": _nullable(_ref("Ref")),
        "domain": _nullable(_ref("Ref")),
        "stage": _nullable(_ref("Ref")),
        "assigned_department": _nullable(_ref("Ref")),
        "department_name": {"type": ["string", "null"], "description": "承办部门名称（单位带上级部门）"},
        "dispatch_rule": {"type": ["string", "null"], "description": "受理时决定去向的派单目录规则；人工选择时为空"},
        "assigned_person": _nullable(_ref("PersonRef")),
        "designated": B,
        "return_count": I,
        "reopen_count": I,
        "created_at": DT,
        "sign_due_at": NDT,
        "due_at": NDT,
        "overdue": {"type": "boolean", "description": "待派单、待签收或办理中且已过办理时限"},
    }
    detail_props = {
        "content": S,
        "contact_name": S,
        "contact_phone": S,
        "contact_external_userid": NS,
        "source": {**NS, "description": "热线来源（12345 / 86912345），其他渠道为 null"},
        "external_ticket_id": {**NS, "description": "热线平台的工单编号"},
        "fields": {"type": "object", "additionalProperties": True,
                   "description": "自定义字段的取值（键为字段键）；表单后来删去的字段仍保留原值"},
        "submitter": _nullable(_ref("PersonRef")),
        "screening": _nullable(_ref("Screening")),
        "reject_reason": NS,
        "reject_channel": NS,
        "result": NS,
        "feedback_note": NS,
        "accepted_at": NDT,
        "dispatched_at": NDT,
        "signed_at": NDT,
        "resolved_at": NDT,
        "feedback_at": NDT,
        "visited_at": NDT,
        "archived_at": NDT,
        "updated_at": NDT,
        "deadlines": _ref("Deadlines"),
        "events": {"type": "array", "items": _ref("Event"), "description": "时间线，按发生先后"},
        "visits": {"type": "array", "items": _ref("Visit")},
        "extension_requests": {"type": "array", "items": _ref("ExtensionRequest")},
        "city_escalations": {"type": "array", "items": _ref("CityEscalation")},
        "joint_meetings": {"type": "array", "items": _ref("JointMeeting")},
        "attachments": {"type": "array", "items": _ref("Attachment")},
        "allowed_actions": {
            "type": "array", "items": _ref("AllowedAction"),
            "description": "当前状态下调用者有权执行的操作",
        },
        "duplicate_of": {"type": ["string", "null"], "description": "提交人关联的原工单号（重复诉求）"},
        "merged_into": {"type": ["string", "null"], "description": "本单已并入的工单号（状态为 merged 时）"},
        "merged_orders": {"type": "array", "items": S, "description": "并入本单的重复诉求工单号"},
        "possible_duplicates": {
            "type": "array", "items": _ref("PossibleDuplicate"),
            "description": "同一企业（或来电号码）在比对天数内内容相似的较早工单（调用者可见的），最相似的在前；"
                           "提交时即返回，可用 link_to 或 link 操作关联",
        },
        "resolved_from": {"type": ["string", "null"],
                          "description": "按已合并工单的单号查询时，所查的单号（返回的是它并入的工单）"},
    }
    labelled = _obj({"value": {"type": ["string", "integer"]}, "label": S})
    department = {"id": I, "code": S, "name": S, "kind": _enum(("department", "unit", "hub"))}
    schemas: dict[str, dict] = {
        "Ref": _obj({"id": I, "name": S}),
        "PersonRef": _obj({"id": I, "name": S, "role": _enum(Role.ALL, _labels(Role.LABELS)), "role_label": S,
                           "unit": S}),
        "EnterpriseRef": _obj({"id": I, "name": S, "uscc": NS, "reg_no": NS}),
        "WorkOrderSummary": _obj(summary_props, description="列表中的工单"),
        "WorkOrder": _obj(summary_props | detail_props, description="工单详情"),
        "Event": _obj(
            {
                "id": I, "action": EVENT_ACTION, "action_label": S, "actor_id": NI,
                "actor_label": {"type": "string", "description": "操作人及单位；系统自动操作为“系统”"},
                "channel": S, "channel_label": S, "from_state": _nullable(STATE), "from_state_label": NS,
                "to_state": _nullable(STATE), "to_state_label": NS, "note": S,
                "data": {"type": "object", "description": "操作的附加数据（如 department_id、satisfaction）"},
                "created_at": DT,
            },
            description="一次不可更改的工单操作记录",
        ),
        "Screening": _obj({
            "category": _enum(screening.CATEGORIES, _labels(screening.CATEGORIES)), "category_label": S,
            "reason": S, "proper_channel": S, "decision": _enum(("", "confirmed", "overridden")),
            "decision_label": S, "override_reason": S,
        }),
        "Deadlines": _obj({
            "clock_started_at": NDT, "sign_due_at": NDT, "due_at": NDT, "city_deadline": ND,
            "overdue": B, "sign_overdue": B,
            "time_left": {"type": ["string", "null"], "description": "剩余或超期的工作时间，如“剩余 2 个工作日 3 小时”"},
            "suspended_at": NDT, "suspend_reason": NS, "deadline_version": I,
        }),
        "Visit": _obj({
            "round": I, "satisfaction": SATISFACTION, "resolved": B, "comment": S,
            "method": _enum(VISIT_METHODS, _labels(VISIT_METHODS)), "method_label": S, "recorded_by_id": NI,
            "created_at": DT,
        }),
        "ExtensionRequest": _obj({
            "id": I, "days": I, "reason": S, "status": _enum(EXTENSION_STATUS, _labels(EXTENSION_STATUS)),
            "status_label": S, "requested_by": _nullable(_ref("PersonRef")), "decided_by_id": NI,
            "decided_at": NDT, "decision_note": S, "created_at": DT,
        }),
        "CityEscalation": _obj({
            "route": _enum(ladder.CITY_ROUTES, _labels(ladder.CITY_ROUTES)), "route_label": S,
            "city_department": S, "city_reference": S, "city_deadline": ND, "note": S, "escalated_by_id": NI,
            "created_at": DT,
        }),
        "JointMeeting": _obj({
            "id": I, "held_on": D, "decisions": S, "departments": {"type": "array", "items": _ref("Ref")},
            "convened_by_id": NI, "created_at": DT,
        }),
        "Attachment": _obj({
            "id": I, "filename": S, "content_type": S, "size": I, "sha256": S, "created_at": DT,
        }),
        "AllowedAction": _obj({"action": ACTION_NAMES, "label": S}),
        "PossibleDuplicate": _obj({
            "number": S, "title": S, "state": STATE, "state_label": S, "created_at": DT,
            "similarity": {"type": "integer", "minimum": 0, "maximum": 100, "description": "内容相似度（%）"},
        }, description="可能重复的较早工单"),
        "Pagination": _obj({"page": I, "per_page": I, "total": I, "pages": I, "has_next": B}),
        "WorkOrderPage": _obj({"items": {"type": "array", "items": _ref("WorkOrderSummary")},
                               "pagination": _ref("Pagination")}),
        "Labelled": labelled,
        "Department": _obj(department),
        "Reference": _obj({
            "zones": {"type": "array", "items": _obj({"id": I, "code": S, "name": S, "kind": S})},
            "departments": {"type": "array", "items": _obj(
                department | {"units": {"type": "array", "items": _ref("Department")}})},
            "hubs": {"type": "array", "items": _ref("Department")},
            "stages": {"type": "array", "items": _obj({"id": I, "code": S, "name": S, "lead_department_id": NI})},
            "domains": {"type": "array", "items": _obj({"id": I, "code": S, "name": S})},
            "enums": _obj({
                name: {"type": "array", "items": _ref("Labelled")}
                for name in ("states", "levels", "priorities", "actions", "satisfaction", "reject_categories",
                             "city_routes", "visit_methods")
            }),
        }),
        "Error": _obj({
            "code": {"type": "string", "description": "机器可读的错误码，如 validation_failed、invalid_transition"},
            "message": {"type": "string", "description": "可直接展示给用户的中文说明"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "出错的字段及原因"},
        }),
        "ErrorResponse": _obj({"ok": {"const": False}, "error": _ref("Error")}),
        "CreateWorkOrder": _request_schema(CREATE_FIELDS, "提交诉求；enterprise_id 与 enterprise_uscc 二选一") | {
            "anyOf": [{"required": ["enterprise_id"]}, {"required": ["enterprise_uscc"]}],
        },
    }
    schemas.update(_statistics_schemas())
    for name, spec in ACTIONS.items():
        body = _request_schema(spec.fields, spec.summary)
        body["properties"] = {"action": {"const": name}} | body["properties"]
        body["required"] = ["action", *body["required"]]
        schemas[_transition_schema(name)] = body
    schemas["TransitionRequest"] = {
        "description": "工单操作：action 决定其余字段",
        "oneOf": [_ref(_transition_schema(name)) for name in ACTIONS],
        "discriminator": {
            "propertyName": "action",
            "mapping": {name: f"#/components/schemas/{_transition_schema(name)}" for name in ACTIONS},
        },
    }
    return schemas


_COUNT_DESCRIPTIONS = {
    "overdue_open": "超期数中截至期末仍未办结的部分（本期含今天时即当前超期的工单）",
    "overdue_resolved": "超期数中超过时限才办结的部分",
    "dispatched": "统计期内的派单（吹哨）次数，退单率的分母",
    "returned": "统计期内的退单次数",
    "visits": "统计期内的回访评价次数，解决率与满意率的分母",
}


def _statistics_schemas() -> dict[str, dict]:
    number_or_null = {"type": ["number", "null"]}
    kpis = {}
    for key in stats.COUNT_KEYS:
        kpi = stats.KPI_BY_KEY.get(key)
        kpis[key] = {"type": "integer", "description": f"{kpi.label}：{kpi.definition}" if kpi else _COUNT_DESCRIPTIONS[key]}
    for key in stats.RATIO_KEYS:
        kpi = stats.KPI_BY_KEY[key]
        kpis[key] = _ref("Ratio") | {"description": f"{kpi.label}（{kpi.numerator}/{kpi.denominator}）：{kpi.definition}"}
    average = stats.KPI_BY_KEY["avg_handling_workdays"]
    kpis["avg_handling_workdays"] = number_or_null | {"description": f"{average.label}（工作日，保留一位小数）："
                                                                     f"{average.definition} 没有办结的工单时为 null"}
    return {
        "Ratio": _obj({
            "numerator": I, "denominator": I,
            "percent": number_or_null | {"description": "百分比，保留一位小数；分母为 0 时为 null（页面显示“—”）"},
            "below_threshold": {"type": "boolean", "description": "未达到目标值（见 definitions 的 threshold）"},
        }, description="比率：分子与分母"),
        "StatisticsKpis": _obj(kpis, description="一行的各项指标"),
        "StatisticsRow": _obj({
            "key": _nullable(I) | {"description": "片区、部门、诉求领域的 ID 或层级 1–4；“无承办部门”等行、合计和绿色通道为 null"},
            "label": S,
            "kind": _enum(("group", "total", "subset"), "group=分组行；total=合计；subset=其中（绿色通道，不另计入合计）"),
            "kpis": _ref("StatisticsKpis"),
        }),
        "StatisticsReport": _obj({
            "group": S | {"description": _labels(stats.GROUPS) + "；或 field.<字段键>（表单单选字段）"},
            "group_label": S,
            "period": _obj({
                "preset": _enum((*stats.PRESETS, stats.CUSTOM)), "label": S, "from": D, "to": D,
                "as_of": DT | {"description": "统计截至（期末与当前时间中较早者），北京时间"},
            }),
            "scope": _obj({"kind": _enum(("district", "zone", "department"), "全区、本片区、本部门（含下属单位）"),
                           "label": S}),
            "rows": {"type": "array", "items": _ref("StatisticsRow")},
            "total": _ref("StatisticsRow"),
            "subsets": {"type": "array", "items": _ref("StatisticsRow")},
            "definitions": {"type": "array", "items": _obj({
                "key": S, "label": S, "definition": S, "threshold": number_or_null, "higher_is_better": B,
            })},
        }, description="统计表：各分组行、合计，以及各指标的口径"),
    }


def _transition_schema(action: str) -> str:
    return "Transition_" + action


def _request_schema(fields: tuple[Field, ...], description: str) -> dict:
    return {
        "type": "object",
        "description": description,
        "properties": {f.name: f.schema() for f in fields},
        "required": [f.name for f in fields if f.required],
        "additionalProperties": False,
    }


def _envelope(data_schema: dict, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"ok": {"const": True}, "data": data_schema},
            "required": ["ok", "data"],
            "additionalProperties": False,
        }}},
    }


ERRORS = {
    "BadRequest": ("400", "请求格式有误（如 JSON 不合法、未知的操作）"),
    "Unauthorized": ("401", "缺少访问令牌，或令牌无效、已吊销、所属账号已停用"),
    "Forbidden": ("403", "无权执行此操作"),
    "NotFound": ("404", "工单不存在或无权查看（不区分，避免泄露工单是否存在）"),
    "Conflict": ("409", "当前状态不允许该操作，或与他人操作冲突"),
    "Unprocessable": ("422", "字段缺失、类型或取值有误；error.fields 指明字段"),
}


def _errors(*names: str) -> dict:
    return {ERRORS[n][0]: {"$ref": f"#/components/responses/{n}"} for n in ("BadRequest", "Unauthorized", *names)}


def _number_parameter() -> dict:
    return {
        "name": "number", "in": "path", "required": True,
        "description": "工单编号，如 BC-20260302-0001（也可用工单 ID）",
        "schema": {"type": "string", "pattern": "^[0-9A-Za-z-]{1,40}$"},
    }


def _query_parameter(f: Field) -> dict:
    schema = f.schema()
    description = schema.pop("description")
    if schema.get("pattern") == TEXT_PATTERN:
        schema["pattern"] = LINE_PATTERN
    # A query string has no null: the parameter is given or not.
    if isinstance(schema["type"], list):
        schema["type"] = schema["type"][0]
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    return {"name": f.name, "in": "query", "required": False, "description": description, "schema": schema}


HOTLINE_TICKET = {
    "type": "object",
    "required": ["source", "ticket_id", "received_at", "caller_name", "caller_phone", "enterprise_name", "content"],
    "properties": {
        "source": {"type": "string", "enum": ["12345", "86912345"]},
        "ticket_id": {"type": "string", "maxLength": 64, "description": "平台工单编号"},
        "received_at": {"type": "string", "description": "ISO 8601 受理时间"},
        "caller_name": {"type": "string", "maxLength": 64}, "caller_phone": {"type": "string", "maxLength": 32},
        "enterprise_name": {"type": "string", "maxLength": 200},
        "uscc": {"type": "string", "maxLength": 18, "description": "统一社会信用代码（可选）"},
        "content": {"type": "string", "minLength": 5, "maxLength": 5000},
        "deadline": {"type": "string", "description": "市级时限 YYYY-MM-DD（可选）"},
    },
}
HOTLINE_NUMBER = {"type": "object", "required": ["number"], "properties": {"number": {"type": "string"}}}
HOTLINE_STATUS = {"type": "object", "required": ["number", "state", "state_label", "result", "updated_at"],
                  "properties": {k: {"type": "string"} for k in ("number", "state", "state_label", "result", "updated_at")}}


def build_document(server_url: str = "/api/v1") -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "有需必应 工单接口",
            "version": API_VERSION,
            "description": (
                "北辰区“政企同行·有需必应”企业诉求工单的 JSON 接口。"
                "以令牌所属人员的角色和数据范围访问；成功返回 {\"ok\": true, \"data\": ...}，"
                "失败返回 {\"ok\": false, \"error\": {\"code\", \"message\", \"fields\"}}。"
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": {
            "/work-orders": {
                "get": {
                    "operationId": "listWorkOrders",
                    "summary": "调用者可见的工单列表（最新在前）",
                    "parameters": [_query_parameter(f) for f in LIST_PARAMETERS],
                    "responses": {"200": _envelope(_ref("WorkOrderPage"), "工单列表及分页"), **_errors("Unprocessable")},
                },
                "post": {
                    "operationId": "createWorkOrder",
                    "summary": "提交诉求（渠道记为“接口”）",
                    "parameters": [{
                        "name": "Idempotency-Key", "in": "header", "required": False,
                        "description": "客户端生成的提交编号（1–80 个可见 ASCII 字符）。同一调用者以同一编号重发同一诉求，"
                                       "返回第一次创建的工单（200，响应头 Idempotent-Replayed: true），不会重复建单；"
                                       "同一编号用于不同内容返回 409。",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 80},
                    }],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref("CreateWorkOrder")}}},
                    "responses": {
                        "201": _envelope(_ref("WorkOrder"), "已创建的工单"),
                        "200": _envelope(_ref("WorkOrder"), "同一 Idempotency-Key 的重发：第一次创建的工单"),
                        **_errors("Forbidden", "Conflict", "Unprocessable"),
                    },
                },
            },
            "/work-orders/{number}": {
                "get": {
                    "operationId": "getWorkOrder",
                    "summary": "工单详情：时间线、时限、回访、市级提级、联席会商及调用者可执行的操作",
                    "parameters": [_number_parameter()],
                    "responses": {"200": _envelope(_ref("WorkOrder"), "工单详情"), **_errors("NotFound")},
                },
            },
            "/work-orders/{number}/transitions": {
                "post": {
                    "operationId": "transitionWorkOrder",
                    "summary": "对工单执行一个操作（受理、派单、签收、办结、回访……）",
                    "parameters": [_number_parameter()],
                    "requestBody": {"required": True, "content": {"application/json": {
                        "schema": _ref("TransitionRequest")}}},
                    "responses": {
                        "200": _envelope(_ref("WorkOrder"), "操作后的工单详情"),
                        **_errors("Forbidden", "NotFound", "Conflict", "Unprocessable"),
                    },
                },
            },
            "/statistics": {
                "get": {
                    "operationId": "getStatistics",
                    "summary": "统计：按片区、部门、层级或诉求领域分组的受理、办结、响应率、按时办结率、满意率等指标",
                    "description": "数据范围随令牌所属人员的角色：区领导、区营商环境办、区网格中心、系统管理员为全区；"
                                   "片区管理员、为企服务人员为本片区；首席帮办、部门领导为本部门（含下属单位）。"
                                   "参数有误时返回 400。",
                    "parameters": [_query_parameter(f) for f in STATISTICS_PARAMETERS],
                    "responses": {"200": _envelope(_ref("StatisticsReport"), "统计表"), **_errors("Forbidden")},
                },
            },
            "/reference": {
                "get": {
                    "operationId": "getReference",
                    "summary": "片区、部门（含下属单位）、服务阶段、诉求领域及各类枚举",
                    "responses": {"200": _envelope(_ref("Reference"), "参考数据"), **_errors()},
                },
            },
            "/hotline/tickets": {
                "post": {
                    "operationId": "receiveHotlineTicket",
                    "summary": "12345 / 86912345 平台推送工单（签名调用，见 docs/hotline.md）",
                    "description": "请求头 X-Hotline-Timestamp（Unix 秒，±300 秒）与 X-Hotline-Signature = "
                                   "hex(HMAC-SHA256(HOTLINE_SECRET, 时间戳 + \"\\n\" + 原始请求体))。同一 (source, ticket_id) "
                                   "再次推送返回 200 与同一编号，不保存任何内容；签名无效 401、过大 413、非 JSON 400、缺字段 422，均不保存。",
                    "security": [{"hotlineSignature": [], "hotlineTimestamp": []}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": HOTLINE_TICKET}}},
                    "responses": {
                        "201": {"description": "已建单", "content": {"application/json": {"schema": HOTLINE_NUMBER}}},
                        "200": {"description": "重复推送：第一次建的工单", "content": {"application/json": {
                            "schema": HOTLINE_NUMBER}}},
                        "400": {"$ref": "#/components/responses/BadRequest"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "413": {"description": "请求体过大", "content": {"application/json": {"schema": _ref("ErrorResponse")}}},
                        "422": {"$ref": "#/components/responses/Unprocessable"},
                    },
                },
            },
            "/hotline/tickets/{source}/{ticket_id}": {
                "get": {
                    "operationId": "getHotlineTicket",
                    "summary": "平台查询热线工单状态（签名内容为 时间戳 + \"\\n\" + \"GET \" + 路径）",
                    "security": [{"hotlineSignature": [], "hotlineTimestamp": []}],
                    "parameters": [
                        {"name": "source", "in": "path", "required": True, "schema": {"type": "string", "enum": ["12345", "86912345"]}},
                        {"name": "ticket_id", "in": "path", "required": True,
                         "schema": {"type": "string", "pattern": "^[A-Za-z0-9_\\-.:]{1,64}$"}},
                    ],
                    "responses": {
                        "200": {"description": "工单状态", "content": {"application/json": {"schema": HOTLINE_STATUS}}},
                        "400": {"$ref": "#/components/responses/BadRequest"},
                        "401": {"$ref": "#/components/responses/Unauthorized"},
                        "404": {"$ref": "#/components/responses/NotFound"},
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "getOpenApiDocument",
                    "summary": "本接口文档（无需令牌）",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1 文档",
                                          "content": {"application/json": {"schema": {"type": "object"}}}}},
                },
            },
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "yxb_…",
                    "description": "由系统管理员签发：flask --app wsgi api-token PERSON_ID NAME",
                },
                "hotlineSignature": {"type": "apiKey", "in": "header", "name": "X-Hotline-Signature",
                                     "description": "HMAC-SHA256 签名（HOTLINE_SECRET），见 docs/hotline.md"},
                "hotlineTimestamp": {"type": "apiKey", "in": "header", "name": "X-Hotline-Timestamp",
                                     "description": "Unix 时间戳（秒），与服务器时钟相差不超过 300 秒"},
            },
            "schemas": _schemas(),
            "responses": {
                name: {"description": description, "content": {"application/json": {"schema": _ref("ErrorResponse")}}}
                for name, (_, description) in ERRORS.items()
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_document(bp.url_prefix))
