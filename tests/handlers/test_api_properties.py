"""Property test of the API's field parsing: any JSON body to the write endpoints is a 2xx or a 4xx
with the error shape, never a 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handlers.api.actions import ACTIONS
from handlers.api.orders import CREATE_FIELDS
from models import Role
from services.admin.api_tokens import issue_token

FIELD_NAMES = sorted({f.name for f in CREATE_FIELDS} | {f.name for s in ACTIONS.values() for f in s.fields})
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80), st.floats(),
    st.text(max_size=12), st.sampled_from(["²", "①", "١٢", "9999-12-31", "0001-01-01", "2026-02-30", "2026-03-02",
                                           "", "\x00", "\ud800", *ACTIONS, "normal", "满意"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=6)
BODIES = st.one_of(
    st.dictionaries(st.sampled_from([*FIELD_NAMES, "action"]), VALUES, max_size=6),
    st.dictionaries(st.text(max_size=8), VALUES, max_size=4),
    VALUES,
)


@pytest.fixture
def api(client, factory, session, now):
    rsj = factory.department("rsj")
    staff = factory.person(Role.SERVICE_STAFF, name="张为企")
    enterprise = factory.enterprise(staff=staff)
    order = factory.order(staff, now, enterprise=enterprise, level=2, department_id=rsj.id)
    tokens = {who: issue_token(session, person, who, now) for who, person in (
        ("staff", staff), ("dispatcher", factory.person(Role.DISPATCHER)),
        ("helper", factory.person(Role.CHIEF_HELPER, department=rsj)))}
    number = order.number
    session.commit()
    return client, tokens, number


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, who=st.sampled_from(["staff", "dispatcher", "helper"]), create=st.booleans())
# Integers the database cannot hold (SQLite past 64 bits, PostgreSQL past 32), dates that overflow.
@example({"content": "企业急需招聘 30 名技术工人，请协助对接", "enterprise_id": 2**64}, "staff", True)
@example({"content": "企业急需招聘 30 名技术工人，请协助对接", "enterprise_id": 1, "domain_id": 2**31}, "staff", True)
@example({"action": "dispatch", "department_id": 2**31}, "dispatcher", False)
@example({"action": "escalate", "reason": "需要市级协调", "level": 4, "route": "city_department",
          "city_department": "市人社局", "city_deadline": "9999-12-31"}, "helper", False)
def test_any_json_body_is_answered_without_a_server_error(api, body, who, create):
    client, tokens, number = api
    url = "/api/v1/work-orders" if create else f"/api/v1/work-orders/{number}/transitions"
    # Escaped ASCII, NaN and Infinity included: what a careless client library sends.
    response = client.post(url, data=json.dumps(body, ensure_ascii=True), content_type="application/json",
                           headers={"Authorization": f"Bearer {tokens[who]}"})
    assert response.status_code < 500, (body, response.get_data(as_text=True)[:300])
    payload = response.get_json()
    assert payload["ok"] is (response.status_code < 400)
    if not payload["ok"]:
        assert set(payload["error"]) == {"code", "message", "fields"}
