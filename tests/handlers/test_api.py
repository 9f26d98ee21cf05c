"""The JSON API /api/v1 through the test client, with real tokens and real commits."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import ApiToken, Role, WorkOrder
from services.admin.api_tokens import TOKEN_PREFIX, authenticate, hash_token, issue_token
from services.orders.lifecycle import State

CONTENT = "企业急需招聘 30 名技术工人，请协助对接招聘会"


@pytest.fixture(autouse=True)
def frozen(now):
    # Monday 10:00 in Beijing, the clock running: deadlines and numbers are predictable.
    with time_machine.travel(now, tick=True):
        yield


class World:
    """People, an enterprise and tokens, committed so the app's own sessions see them."""

    def __init__(self, factory, session, now):
        self.session = session
        self.now = now
        self.rsj = factory.department("rsj")
        self.other_zone = factory.zone("beicang")
        self.staff = factory.person(Role.SERVICE_STAFF, name="张为企")
        self.stranger = factory.person(Role.SERVICE_STAFF, zone=self.other_zone, name="李北仓")
        self.dispatcher = factory.person(Role.DISPATCHER, name="王调度")
        self.helper = factory.person(Role.CHIEF_HELPER, department=self.rsj, name="赵帮办")
        self.other_helper = factory.person(Role.CHIEF_HELPER, department=factory.department("tax"), name="钱税务")
        self.enterprise = factory.enterprise(staff=self.staff, name="天津北辰精工机械有限公司")
        self.tokens = {
            who: issue_token(session, getattr(self, who), f"{who} 客户端", now)
            for who in ("staff", "stranger", "dispatcher", "helper", "other_helper")
        }
        self.rsj_id, self.enterprise_id, self.uscc = self.rsj.id, self.enterprise.id, self.enterprise.uscc
        session.commit()

    def headers(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(factory, session, now):
    return World(factory, session, now)


def _create(client, world, **body):
    payload = {"enterprise_id": world.enterprise_id, "content": CONTENT, "level": 2} | body
    return client.post("/api/v1/work-orders", json=payload, headers=world.headers("staff"))


def _act(client, world, who, number, action, **args):
    return client.post(f"/api/v1/work-orders/{number}/transitions", json={"action": action, **args},
                       headers=world.headers(who))


def _error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] is False
    assert set(body["error"]) == {"code", "message", "fields"}
    assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"]), body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------
def test_issue_stores_only_the_hash_and_authenticate_records_use(factory, session, now):
    person = factory.person(Role.DISPATCHER)
    plaintext = issue_token(session, person, "区数据平台", now)
    assert plaintext.startswith(TOKEN_PREFIX) and len(plaintext) > 40
    token = session.scalar(select(ApiToken).where(ApiToken.person_id == person.id))
    assert token.token_hash == hash_token(plaintext) and plaintext not in token.token_hash
    assert token.last_used_at is None
    assert authenticate(session, plaintext, now + timedelta(hours=1)) is person
    assert token.last_used_at == now + timedelta(hours=1)


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer yxb_not-a-real-token",
                                    "Bearer some-other-token"])
def test_missing_or_invalid_token_is_401_json(client, world, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/work-orders", headers=headers)
    _error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_and_inactive_person_are_401(client, world, session):
    assert client.get("/api/v1/reference", headers=world.headers("staff")).status_code == 200
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(world.tokens["staff"])))
    token.revoked = True
    world.helper.active = False
    session.commit()
    error = _error(client.get("/api/v1/reference", headers=world.headers("staff")), 401, "unauthenticated")
    assert "吊销" in error["message"]
    error = _error(client.get("/api/v1/reference", headers=world.headers("helper")), 401, "unauthenticated")
    assert "停用" in error["message"]


def test_successful_call_records_last_used(client, world, session):
    assert client.get("/api/v1/work-orders", headers=world.headers("dispatcher")).status_code == 200
    session.expire_all()
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(world.tokens["dispatcher"])))
    assert token.last_used_at is not None
    session.rollback()


# --------------------------------------------------------------------------------------------
# The level-2 loop
# --------------------------------------------------------------------------------------------
def test_level2_loop_create_list_detail_and_transitions(client, world, session):
    created = _create(client, world, title="招聘用工对接", contact_name="周经理", contact_phone="13800000000")
    assert created.status_code == 201, created.get_data(as_text=True)
    order = created.get_json()["data"]
    number = order["number"]
    assert re.fullmatch(r"BC-20260302-\d{4}", number)
    assert created.headers["Location"].endswith(f"/api/v1/work-orders/{number}")
    assert order["state"] == State.PENDING_DISPATCH and order["channel"] == "api"
    assert order["state_label"] == "待派单" and order["level"] == 2
    assert [e["action"] for e in order["events"]] == ["create", "accept"]
    assert order["events"][0]["channel"] == "api"
    # Handed to the grid center (no department chosen): the dispatcher dispatches, not the zone.
    assert "dispatch" not in {a["action"] for a in order["allowed_actions"]}

    listed = client.get("/api/v1/work-orders", headers=world.headers("staff")).get_json()["data"]
    assert [o["number"] for o in listed["items"]] == [number]
    assert listed["pagination"] == {"page": 1, "per_page": 20, "total": 1, "pages": 1, "has_next": False}

    detail = client.get(f"/api/v1/work-orders/{number}", headers=world.headers("dispatcher")).get_json()["data"]
    dispatcher_actions = {a["action"] for a in detail["allowed_actions"]}
    assert {"dispatch", "transfer", "escalate", "supervise", "reject", "comment"} <= dispatcher_actions
    assert "sign" not in dispatcher_actions and "resolve" not in dispatcher_actions

    response = _act(client, world, "dispatcher", number, "dispatch", department_id=world.rsj_id, note="请人社局对接")
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert data["state"] == State.DISPATCHED and data["assigned_department"]["name"] == "人社局"
    assert data["deadlines"]["sign_due_at"] is not None

    helper_view = client.get(f"/api/v1/work-orders/{number}", headers=world.headers("helper")).get_json()["data"]
    assert {a["action"] for a in helper_view["allowed_actions"]} >= {"sign", "return"}

    data = _act(client, world, "helper", number, "sign").get_json()["data"]
    assert data["state"] == State.PROCESSING and data["assigned_person"]["name"] == "赵帮办"

    data = _act(client, world, "helper", number, "reply", text="已联系企业，本周五专场招聘会").get_json()["data"]
    assert data["events"][-1]["action"] == "reply"

    data = _act(client, world, "helper", number, "resolve", result="已组织专场招聘会，企业招到 32 人").get_json()["data"]
    assert data["state"] == State.RESOLVED and data["result"].startswith("已组织")

    data = _act(client, world, "staff", number, "feedback", note="已电话告知企业").get_json()["data"]
    assert data["state"] == State.FED_BACK

    response = _act(client, world, "staff", number, "visit", satisfaction="满意", comment="很及时", method="phone")
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert data["state"] == State.ARCHIVED and data["archived_at"] is not None
    assert data["visits"][0]["satisfaction"] == "满意"
    assert data["allowed_actions"] == []
    actions = [e["action"] for e in data["events"]]
    assert actions == ["create", "accept", "dispatch", "sign", "reply", "resolve", "feedback", "visit", "archive"]
    assert {e["channel"] for e in data["events"]} == {"api"}

    session.expire_all()
    stored = session.scalar(select(WorkOrder).where(WorkOrder.number == number))
    assert stored.state == State.ARCHIVED and stored.channel == "api"
    session.rollback()


def test_create_by_uscc_and_list_filters(client, world):
    first = _create(client, world, level=1, content="企业门前道路破损，影响货车通行，请协调修复").get_json()["data"]
    second_resp = client.post(
        "/api/v1/work-orders", headers=world.headers("staff"),
        json={"enterprise_uscc": world.uscc.lower(), "content": CONTENT, "level": 2, "department_id": world.rsj_id},
    )
    assert second_resp.status_code == 201, second_resp.get_data(as_text=True)
    second = second_resp.get_json()["data"]
    assert first["state"] == State.PROCESSING and second["state"] == State.DISPATCHED

    def numbers(query, who="staff"):
        response = client.get(f"/api/v1/work-orders?{query}", headers=world.headers(who))
        assert response.status_code == 200, response.get_data(as_text=True)
        return [o["number"] for o in response.get_json()["data"]["items"]]

    assert numbers("") == [second["number"], first["number"]]  # newest first
    assert numbers("state=dispatched") == [second["number"]]
    assert numbers("state=processing,dispatched") == [second["number"], first["number"]]
    assert numbers("level=1") == [first["number"]]
    assert numbers(f"department_id={world.rsj_id}") == [second["number"]]
    assert numbers("q=北辰精工") == [second["number"], first["number"]]
    assert numbers(f"q={first['number'][-4:]}") == [first["number"]]
    assert numbers("q=道路破损") == [first["number"]]
    assert numbers("q=100%25") == []
    assert numbers("green_channel=true") == []
    assert numbers("overdue=true") == []
    assert numbers("overdue=false") == [second["number"], first["number"]]
    assert numbers("per_page=1&page=2") == [first["number"]]
    page = client.get("/api/v1/work-orders?per_page=1", headers=world.headers("staff")).get_json()["data"]
    assert page["pagination"] == {"page": 1, "per_page": 1, "total": 2, "pages": 2, "has_next": True}
    # The chief helper sees only what his department was sent.
    assert numbers("", who="helper") == [second["number"]]


def test_overdue_filter(client, world, now):
    number = _create(client, world, department_id=world.rsj_id).get_json()["data"]["number"]
    with time_machine.travel(now + timedelta(days=14), tick=False):
        response = client.get("/api/v1/work-orders?overdue=true", headers=world.headers("dispatcher"))
        assert [o["number"] for o in response.get_json()["data"]["items"]] == [number]
        detail = client.get(f"/api/v1/work-orders/{number}", headers=world.headers("dispatcher")).get_json()["data"]
        assert detail["overdue"] and detail["deadlines"]["sign_overdue"]
        assert detail["deadlines"]["time_left"].startswith("已超期")


@pytest.mark.parametrize("query, field", [
    ("level=9", "level"), ("level=two", "level"), ("overdue=maybe", "overdue"), ("state=closed", "state"),
    ("per_page=101", "per_page"), ("page=0", "page"),
])
def test_bad_list_parameters_are_422(client, world, query, field):
    error = _error(client.get(f"/api/v1/work-orders?{query}", headers=world.headers("staff")), 422)
    assert field in error["fields"]


# --------------------------------------------------------------------------------------------
# Errors: role, state, fields, JSON, scope
# --------------------------------------------------------------------------------------------
def test_wrong_role_is_403_and_illegal_transition_is_409(client, world):
    number = _create(client, world, department_id=world.rsj_id).get_json()["data"]["number"]
    error = _error(_act(client, world, "staff", number, "sign"), 403, "permission_denied")
    assert "签收报到" in error["message"]
    error = _error(_act(client, world, "other_helper", number, "sign"), 404, "not_found")
    error = _error(_act(client, world, "helper", number, "resolve", result="已经办好了"), 409, "invalid_transition")
    assert "待签收" in error["message"]
    assert _act(client, world, "helper", number, "sign").status_code == 200
    error = _error(_act(client, world, "other_helper", number, "sign"), 404)
    error = _error(_act(client, world, "helper", number, "sign"), 409)


def test_missing_and_wrong_typed_fields_are_422(client, world):
    error = _error(client.post("/api/v1/work-orders", json={}, headers=world.headers("staff")), 422,
                   "validation_failed")
    assert set(error["fields"]) == {"content"}
    error = _error(_create(client, world, content="太短"), 422)
    assert "content" in error["fields"]
    error = _error(client.post("/api/v1/work-orders", json={"content": CONTENT}, headers=world.headers("staff")), 422)
    assert "enterprise_id" in error["fields"]
    error = _error(_create(client, world, enterprise_id=None, enterprise_uscc="911201130000000000"), 422)
    assert "enterprise_uscc" in error["fields"]
    error = _error(_create(client, world, level="2", is_complex="yes", priority="asap", colour="red"), 422)
    assert set(error["fields"]) == {"level", "is_complex", "priority", "colour"}

    number = _create(client, world).get_json()["data"]["number"]
    error = _error(_act(client, world, "dispatcher", number, "dispatch"), 422)
    assert error["fields"] == {"department_id": "必填"}
    error = _error(_act(client, world, "dispatcher", number, "dispatch", department_id="rsj"), 422)
    assert "department_id" in error["fields"]
    error = _error(_act(client, world, "dispatcher", number, "dispatch", department_id=True), 422)
    assert "department_id" in error["fields"]
    error = _error(_act(client, world, "dispatcher", number, "transfer", department_id=world.rsj_id, reason="x"), 422)
    assert "reason" in error["fields"]
    assert _act(client, world, "dispatcher", number, "dispatch", department_id=world.rsj_id).status_code == 200
    _act(client, world, "helper", number, "sign")
    error = _error(_act(client, world, "helper", number, "request_extension", days="3", reason="需要企业补材料"), 422)
    assert "days" in error["fields"]
    error = _error(_act(client, world, "helper", number, "request_extension", days=45, reason="需要企业补材料"), 422)
    assert "days" in error["fields"]


def test_unknown_action_and_malformed_json_are_400(client, world):
    number = _create(client, world).get_json()["data"]["number"]
    url = f"/api/v1/work-orders/{number}/transitions"
    headers = world.headers("dispatcher") | {"Content-Type": "application/json"}
    error = _error(client.post(url, json={"action": "teleport"}, headers=world.headers("dispatcher")), 400,
                   "unknown_action")
    assert "teleport" in error["message"]
    error = _error(client.post(url, data='{"action": "sign",', headers=headers), 400, "malformed_request")
    assert "JSON" in error["message"]
    _error(client.post(url, data="[1, 2]", headers=headers), 400, "malformed_request")
    _error(client.post(url, data=b"\xff\xfe\x00garbage", headers=headers), 400, "malformed_request")
    _error(client.post(url, data="[" * 100_000, headers=headers), 400, "malformed_request")
    _error(client.post("/api/v1/work-orders", data="{content: 1}", headers=headers), 400, "malformed_request")
    error = _error(client.post(url, json={}, headers=world.headers("dispatcher")), 422)
    assert "action" in error["fields"]


def test_other_zone_staff_cannot_see_the_order(client, world):
    number = _create(client, world).get_json()["data"]["number"]
    items = client.get("/api/v1/work-orders", headers=world.headers("stranger")).get_json()["data"]["items"]
    assert items == []
    error = _error(client.get(f"/api/v1/work-orders/{number}", headers=world.headers("stranger")), 404, "not_found")
    missing = _error(client.get("/api/v1/work-orders/BC-20990101-0001", headers=world.headers("stranger")), 404)
    assert error["message"].replace(number, "X") == missing["message"].replace("BC-20990101-0001", "X")
    _error(_act(client, world, "stranger", number, "comment", text="我也看看"), 404)
    # Nor create one for an enterprise outside the zone.
    error = _error(client.post("/api/v1/work-orders", headers=world.headers("stranger"),
                               json={"enterprise_id": world.enterprise_id, "content": CONTENT}), 403)


def test_unknown_route_and_method_are_json(client, world):
    _error(client.get("/api/v1/nothing-here", headers=world.headers("staff")), 404)
    _error(client.delete("/api/v1/work-orders", headers=world.headers("staff")), 405)


# --------------------------------------------------------------------------------------------
# Reference data and the OpenAPI document
# --------------------------------------------------------------------------------------------
def test_reference_lists_ids_and_names(client, world):
    data = client.get("/api/v1/reference", headers=world.headers("staff")).get_json()["data"]
    assert len(data["zones"]) == 17 and data["zones"][0]["name"] == "天穆镇"
    by_name = {d["name"]: d for d in data["departments"]}
    assert by_name["人社局"]["id"] == world.rsj_id
    assert {u["name"] for u in by_name["工信局"]["units"]} == {"通信公司", "城东供电"}
    assert "区网格中心" not in by_name and "区网格中心" in {h["name"] for h in data["hubs"]}
    assert [s["name"] for s in data["stages"]] == ["企业开办", "项目建设", "生产经营", "发展壮大", "市场退出"]
    assert {d["name"] for d in data["domains"]} == {"经济调节", "市场监管", "社会管理", "公共服务", "生态环境保护"}
    assert "visit" in {a["value"] for a in data["enums"]["actions"]}


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        node = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "object": dict, "array": list,
          "null": type(None)}


def _validate(document: dict, schema: dict, value, path="$") -> list[str]:
    """The subset of JSON Schema the document uses; returns the problems found."""
    schema = _resolve(document, schema)
    if "oneOf" in schema:
        matches = [s for s in schema["oneOf"] if not _validate(document, s, value, path)]
        return [] if len(matches) == 1 else [f"{path}: matches {len(matches)} of oneOf"]
    problems = []
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: {value!r} != const {schema['const']!r}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(value, _TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool))
                 for t in types)
        if not ok:
            return [f"{path}: {value!r} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in enum")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{path}: missing {key}")
        for key, item in value.items():
            if key in properties:
                problems += _validate(document, properties[key], item, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}: undocumented property {key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                problems += _validate(document, schema["additionalProperties"], item, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            problems += _validate(document, schema["items"], item, f"{path}[{i}]")
    return problems


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_document_covers_every_route(app, client):
    response = client.get("/api/v1/openapi.json")  # public: no token needed
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0" and document["info"]["title"] and document["info"]["version"]
    assert document["servers"] == [{"url": "/api/v1"}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"], "type": "http", "scheme": "bearer",
    }
    assert document["security"] == [{"bearerAuth": []}]

    registered = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            registered.add((path, method.lower()))
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert registered and registered == documented

    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["operationId"] and operation["summary"] and operation["responses"], (path, method)
            names = re.findall(r"{([^}]+)}", path)
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(names), (path, method)
    for ref in _refs(document):
        assert _resolve(document, {"$ref": ref}), ref

    schemas = document["components"]["schemas"]
    from handlers.api.actions import ACTIONS

    assert set(schemas["TransitionRequest"]["discriminator"]["mapping"]) == set(ACTIONS)
    assert schemas["AllowedAction"]["properties"]["action"]["enum"] == list(ACTIONS)
    assert set(schemas["WorkOrder"]["properties"]["state"]["enum"]) == set(State.ALL)
    assert schemas["WorkOrder"]["properties"]["priority"]["enum"] == ["normal", "urgent", "emergency"]
    assert schemas["Transition_visit"]["properties"]["satisfaction"]["enum"] == [
        "非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    for name in ("WorkOrder", "Event", "Error", "CreateWorkOrder"):
        assert name in schemas


def test_responses_match_the_openapi_document(client, world):
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]

    def check(response, schema_name, status=200):
        assert response.status_code == status, response.get_data(as_text=True)
        body = response.get_json()
        assert body["ok"] is True
        problems = _validate(document, schemas[schema_name], body["data"])
        assert problems == [], problems

    created = _create(client, world)
    check(created, "WorkOrder", 201)
    number = created.get_json()["data"]["number"]
    _act(client, world, "dispatcher", number, "dispatch", department_id=world.rsj_id)
    _act(client, world, "helper", number, "sign")
    _act(client, world, "helper", number, "request_extension", days=2, reason="等待企业补充用工需求清单")
    check(_act(client, world, "dispatcher", number, "decide_extension", approve=True, note="同意"), "WorkOrder")
    check(_act(client, world, "helper", number, "escalate", reason="涉及市级用工政策，需提级办理", level=4,
               route="12345", city_reference="TJ12345-0001", city_deadline="2026-03-20"), "WorkOrder")
    check(client.get(f"/api/v1/work-orders/{number}", headers=world.headers("helper")), "WorkOrder")
    check(client.get("/api/v1/work-orders", headers=world.headers("dispatcher")), "WorkOrderPage")
    check(client.get("/api/v1/reference", headers=world.headers("dispatcher")), "Reference")
    error = client.get("/api/v1/work-orders", headers={"Authorization": "Bearer nope"}).get_json()
    assert _validate(document, schemas["ErrorResponse"], error) == []

    # Request bodies the tests send are valid against the documented request schemas.
    body = {"action": "escalate", "reason": "涉及市级用工政策", "level": 4, "route": "12345",
            "city_deadline": "2026-03-20"}
    assert _validate(document, schemas["TransitionRequest"], body) == []
    assert _validate(document, schemas["TransitionRequest"], {"action": "sign"}) == []
    assert _validate(document, schemas["TransitionRequest"], {"action": "teleport"}) != []


# --------------------------------------------------------------------------------------------
# Every other action reaches its operation
# --------------------------------------------------------------------------------------------
def _ok(response) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["data"]


def test_screening_accept_reject_and_archive(client, world):
    flagged = _create(client, world, content="企业想了解申请劳动仲裁前的社保缴费政策，请帮忙解答").get_json()["data"]
    assert flagged["state"] == State.RECEIVED and flagged["screening"]["category"] == "litigation"
    assert {a["action"] for a in flagged["allowed_actions"]} >= {"accept", "reject"}
    data = _ok(_act(client, world, "staff", flagged["number"], "accept", reason="只咨询社保政策，不涉及仲裁案件本身"))
    assert data["state"] == State.PENDING_DISPATCH and data["screening"]["decision"] == "overridden"

    second = _create(client, world, content="公司被供应商起诉，希望政府出面让法院判我们赢").get_json()["data"]
    data = _ok(_act(client, world, "dispatcher", second["number"], "reject", reason="属于正在进行的诉讼案件"))
    assert data["state"] == State.REJECTED and data["reject_channel"]
    assert {a["action"] for a in data["allowed_actions"]} == {"archive"}
    data = _ok(_act(client, world, "dispatcher", second["number"], "archive"))
    assert data["state"] == State.ARCHIVED


def test_handling_actions_joint_meeting_and_reopen(client, world, factory, session):
    bizenv = factory.person(Role.BIZENV_OFFICE, name="孙营商")
    tax = factory.department("tax")
    world.tokens["bizenv"] = issue_token(session, bizenv, "营商环境办", world.now)
    tax_id = tax.id
    session.commit()

    number = _create(client, world, department_id=world.rsj_id).get_json()["data"]["number"]
    _ok(_act(client, world, "helper", number, "sign"))
    assert _ok(_act(client, world, "helper", number, "suspend", reason="等待企业提供岗位清单"))["state"] == State.SUSPENDED
    assert _ok(_act(client, world, "helper", number, "resume", note="企业已补充"))["state"] == State.PROCESSING
    _ok(_act(client, world, "dispatcher", number, "supervise", note="请加快办理进度"))
    _ok(_act(client, world, "staff", number, "comment", text="企业再次来电询问"))
    data = _ok(_act(client, world, "helper", number, "return", reason="涉及税收优惠，应由税务局办理"))
    assert data["state"] == State.PENDING_DISPATCH and data["return_count"] == 1

    data = _ok(_act(client, world, "dispatcher", number, "escalate", reason="涉及多个部门，需区级会商", level=3))
    assert data["level"] == 3
    bizenv_view = _ok(client.get(f"/api/v1/work-orders/{number}", headers=world.headers("bizenv")))
    assert "joint_meeting" in {a["action"] for a in bizenv_view["allowed_actions"]}
    data = _ok(_act(client, world, "bizenv", number, "joint_meeting", held_on="2026-03-03",
                    department_ids=[world.rsj_id, tax_id], decisions="人社局牵头，税务局配合落实优惠",
                    lead_department_id=world.rsj_id))
    assert data["state"] == State.DISPATCHED and data["joint_meetings"][0]["held_on"] == "2026-03-03"
    assert {d["id"] for d in data["joint_meetings"][0]["departments"]} == {world.rsj_id, tax_id}

    _ok(_act(client, world, "helper", number, "sign"))
    for round_no in (1, 2):
        _ok(_act(client, world, "helper", number, "resolve", result=f"第 {round_no} 次办理：已落实招聘与税收优惠"))
        _ok(_act(client, world, "staff", number, "feedback"))
        data = _ok(_act(client, world, "staff", number, "visit", satisfaction="不满意", comment="招聘人数不够"))
    assert data["state"] == State.VISITED and data["reopen_count"] == 1 and len(data["visits"]) == 2
    error = _error(_act(client, world, "staff", number, "visit", satisfaction="不满意", comment="x"), 409)
    assert error["code"] == "invalid_transition"
    data = _ok(_act(client, world, "dispatcher", number, "reopen", reason="再协调一次专场招聘"))
    assert data["state"] == State.PROCESSING and data["reopen_count"] == 2


def test_city_escalation_and_reference(client, world):
    number = _create(client, world, department_id=world.rsj_id).get_json()["data"]["number"]
    _ok(_act(client, world, "helper", number, "sign"))
    error = _error(_act(client, world, "helper", number, "escalate", reason="需市级协调跨区用工", level=4), 422)
    assert "route" in error["fields"]
    data = _ok(_act(client, world, "helper", number, "escalate", reason="需市级协调跨区用工", level=4, route="12345"))
    assert data["level"] == 4 and data["city_escalations"][0]["city_reference"] == ""
    assert "city_reference" in {a["action"] for a in data["allowed_actions"]}
    data = _ok(_act(client, world, "helper", number, "city_reference", city_reference="TJ-2026-000123",
                    city_deadline="2026-03-31"))
    assert data["city_escalations"][0]["city_reference"] == "TJ-2026-000123"
    assert data["deadlines"]["city_deadline"] == "2026-03-31"
    error = _error(_act(client, world, "helper", number, "city_reference", city_reference="TJ-1",
                        city_deadline="31/03/2026"), 422)
    assert "city_deadline" in error["fields"]


def test_only_the_sides_of_a_city_level_order_move_its_deadline(client, world, factory, session):
    """A colleague who may see the order (same zone) may comment on it, but not move its city deadline."""
    colleague = factory.person(Role.SERVICE_STAFF, name="孙同事")
    world.tokens["colleague"] = issue_token(session, colleague, "同事客户端", world.now)
    session.commit()
    number = _create(client, world, department_id=world.rsj_id).get_json()["data"]["number"]
    _ok(_act(client, world, "helper", number, "sign"))
    _ok(_act(client, world, "helper", number, "escalate", reason="需市级协调跨区用工", level=4, route="12345"))
    _ok(_act(client, world, "helper", number, "city_reference", city_reference="TJ-2026-000123",
             city_deadline="2026-03-31"))

    seen = client.get(f"/api/v1/work-orders/{number}", headers=world.headers("colleague")).get_json()["data"]
    assert "comment" in {a["action"] for a in seen["allowed_actions"]}
    assert "city_reference" not in {a["action"] for a in seen["allowed_actions"]}
    _error(_act(client, world, "colleague", number, "city_reference", city_reference="FAKE-1",
                city_deadline="2030-12-31"), 403)
    data = client.get(f"/api/v1/work-orders/{number}", headers=world.headers("dispatcher")).get_json()["data"]
    assert data["city_escalations"][0]["city_reference"] == "TJ-2026-000123"
    assert data["deadlines"]["city_deadline"] == "2026-03-31"
    # The hub keeps tracking it.
    _ok(_act(client, world, "dispatcher", number, "city_reference", city_reference="TJ-2026-000124"))


def test_a_zone_admin_cannot_file_for_another_zones_enterprise(client, world, factory, session, session_factory):
    """The web form refuses another zone's enterprise; the API, H5 and chat go through the same check."""
    admin = factory.person(Role.ZONE_ADMIN, name="周片管")
    elsewhere = factory.enterprise(staff=world.stranger, zone=world.other_zone, name="天津北仓远方商贸有限公司")
    world.tokens["zone_admin"] = issue_token(session, admin, "片区管理员客户端", world.now)
    session.commit()
    _error(_create(client, world, enterprise_id=elsewhere.id), 403)
    response = client.post("/api/v1/work-orders", json={"enterprise_id": elsewhere.id, "content": CONTENT, "level": 2},
                           headers=world.headers("zone_admin"))
    assert "不在您的片区" in _error(response, 403)["message"]
    with session_factory() as fresh:
        assert fresh.scalar(select(func.count(WorkOrder.id))) == 0
    # Their own zone's enterprise is fine, and the grid center files for any zone.
    assert client.post("/api/v1/work-orders", json={"enterprise_id": world.enterprise_id, "content": CONTENT},
                       headers=world.headers("zone_admin")).status_code == 201
    assert client.post("/api/v1/work-orders", json={"enterprise_id": elsewhere.id, "content": CONTENT},
                       headers=world.headers("dispatcher")).status_code == 201


def test_the_same_idempotency_key_makes_one_order(app, client, world, session_factory):
    import threading

    body = {"enterprise_id": world.enterprise_id, "content": CONTENT, "level": 2}
    headers = {**world.headers("staff"), "Idempotency-Key": "client-7f3a-0001"}
    results, barrier = [], threading.Barrier(10)

    def post():
        barrier.wait()
        response = app.test_client().post("/api/v1/work-orders", json=body, headers=headers)
        results.append((response.status_code, response.get_json()["data"]["number"],
                        response.headers.get("Idempotent-Replayed")))

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _, _ in results) == [200] * 9 + [201]
    assert len({number for _, number, _ in results}) == 1
    assert sum(1 for _, _, replayed in results if replayed == "true") == 9
    with session_factory() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 1
    # The key used for other content is a client bug: refused, nothing created.
    _error(client.post("/api/v1/work-orders", json={**body, "content": CONTENT + "（另一件事）"}, headers=headers), 409)
    _error(client.post("/api/v1/work-orders", json=body, headers={**world.headers("staff"), "Idempotency-Key": "键"}),
           422)
    # Without a key every call is a new order, as before.
    assert _create(client, world).status_code == 201
    with session_factory() as s:
        assert s.scalar(select(func.count(WorkOrder.id))) == 2


def test_an_order_naming_neither_level_nor_department_follows_the_dispatch_catalogue(client, world, session):
    from services.studio import store

    store.apply(session, None, {"dispatch_rules": [
        {"name": "招工用工", "when": {"keywords": ["招工"]}, "then": {"department": "人社局", "level": 2}}]},
        reason="派单目录", now=world.now)
    session.commit()
    payload = {"enterprise_id": world.enterprise_id, "content": "企业扩产急需招工五十人，请协助对接"}
    response = client.post("/api/v1/work-orders", json=payload, headers=world.headers("staff"))
    assert response.status_code == 201, response.get_data(as_text=True)
    data = response.get_json()["data"]
    assert (data["level"], data["department_name"], data["dispatch_rule"]) == (2, "人社局", "招工用工")
    fetched = client.get(f"/api/v1/work-orders/{data['number']}", headers=world.headers("staff")).get_json()["data"]
    assert (fetched["level"], fetched["department_name"], fetched["dispatch_rule"]) == (2, "人社局", "招工用工")
    # Naming a level is a choice: the catalogue stays out of it.
    chosen = client.post("/api/v1/work-orders", json=payload | {"level": 1}, headers=world.headers("staff"))
    data = chosen.get_json()["data"]
    assert (data["level"], data["department_name"], data["dispatch_rule"]) == (1, None, None)
