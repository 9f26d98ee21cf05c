"""Custom request-form fields end to end: the service validates and stores them, people read them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import RequestDomain, Role, WorkOrderEvent
from services.errors import ValidationFailed
from services.orders import operations as wo
from services.studio import store

FORM = [
    {"key": "employees", "label": "涉及人数", "type": "number", "required": True, "min": 1, "unit": "人"},
    {"key": "kind", "label": "问题类别", "type": "choice", "options": ["用工", "社保"], "public": True},
    {"key": "deadline", "label": "期望日期", "type": "date"},
]


def set_form(session, fields, domain="公共服务", now=None):
    from models import utcnow

    store.apply(session, None, {"forms": {domain: fields}}, reason="表单", now=now or utcnow())
    session.flush()


def domain_id(session, name="公共服务"):
    return session.scalar(select(RequestDomain.id).where(RequestDomain.name == name))


def test_required_field_missing_names_the_label_and_writes_nothing(session, factory, now):
    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF)
    with pytest.raises(ValidationFailed) as error:
        factory.order(staff, now, domain_id=domain_id(session), fields={"kind": "用工"})
    assert error.value.fields == {"employees": "请填写「涉及人数」"}
    assert "请填写「涉及人数」" in error.value.message
    with pytest.raises(ValidationFailed) as error:
        factory.order(staff, now, domain_id=domain_id(session), fields={"employees": "0", "kind": "其他"})
    assert error.value.fields["employees"] == "「涉及人数」不能小于 1人"
    assert "「问题类别」应为以下之一：用工、社保" in error.value.fields["kind"]


def test_values_are_stored_and_the_creation_event_mentions_them(session, factory, now):
    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF)
    order = factory.order(staff, now, domain_id=domain_id(session), fields={"employees": "12", "kind": "社保"})
    assert order.custom_fields == {"employees": 12, "kind": "社保"}
    created = session.scalar(select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id)
                             .order_by(WorkOrderEvent.id))
    assert "涉及人数：12人" in created.note and "问题类别：社保" in created.note


def test_a_classified_domain_is_validated_against_its_own_form(session, factory, now):
    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF)
    content = "厂区门前道路破损，影响货车通行，请协调修复"
    domain, fields = wo.order_form(session, None, content=content)
    assert domain.name == "公共服务" and [f.key for f in fields] == ["employees", "kind", "deadline"]
    with pytest.raises(ValidationFailed, match="涉及人数"):
        factory.order(staff, now, content=content)
    assert factory.order(staff, now, content=content, fields={"employees": 2}).custom_fields == {"employees": 2}


def test_a_removed_field_keeps_its_value_readable(session, factory, now):
    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF)
    order = factory.order(staff, now, domain_id=domain_id(session), fields={"employees": 3, "deadline": "2026-04-01"})
    set_form(session, [FORM[0]])
    rows = wo.field_values(session, order)
    assert ("employees", "涉及人数", "3人") in rows and ("deadline", "deadline", "2026-04-01") in rows


def test_public_form_asks_only_public_fields(session, factory, now):
    set_form(session, FORM)
    _domain, fields = wo.order_form(session, domain_id(session), public_only=True)
    assert [f.key for f in fields] == ["kind"]


# --------------------------------------------------------------------------------------------
# API
def test_api_accepts_fields_and_answers_422_naming_the_label(client, factory, session, now):
    from tests.handlers.test_api import World

    set_form(session, FORM)
    world = World(factory, session, now)
    public_service = domain_id(session)
    session.commit()
    body = {"enterprise_id": world.enterprise_id, "content": "厂区门前道路破损，影响货车通行，请协调修复",
            "domain_id": public_service}
    missing = client.post("/api/v1/work-orders", json=body, headers=world.headers("staff"))
    assert missing.status_code == 422
    error = missing.get_json()["error"]
    assert error["fields"] == {"employees": "请填写「涉及人数」"} and "涉及人数" in error["message"]
    wrong = client.post("/api/v1/work-orders", json={**body, "fields": {"employees": "多"}},
                        headers=world.headers("staff"))
    assert wrong.status_code == 422 and wrong.get_json()["error"]["fields"]["employees"] == "「涉及人数」应为数字"
    not_object = client.post("/api/v1/work-orders", json={**body, "fields": [1]}, headers=world.headers("staff"))
    assert not_object.status_code == 422 and "fields" in not_object.get_json()["error"]["fields"]
    made = client.post("/api/v1/work-orders", json={**body, "fields": {"employees": 30, "kind": "用工"}},
                       headers=world.headers("staff"))
    assert made.status_code == 201, made.get_data(as_text=True)
    assert made.get_json()["data"]["fields"] == {"employees": 30, "kind": "用工"}
    number = made.get_json()["data"]["number"]
    shown = client.get(f"/api/v1/work-orders/{number}", headers=world.headers("staff")).get_json()["data"]
    assert shown["fields"] == {"employees": 30, "kind": "用工"}
    spec = client.get("/api/v1/openapi.json").get_json()
    create = spec["components"]["schemas"]
    assert any("fields" in (s.get("properties") or {}) and s["properties"]["fields"]["type"] == "object"
               for s in create.values())


# --------------------------------------------------------------------------------------------
# Console form and detail
def test_console_form_shows_the_fields_refuses_missing_ones_and_the_detail_lists_them(
        client, factory, session, session_factory):
    from tests.handlers.test_console import login, page_token

    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF, name="张为企", login="staff")
    enterprise = factory.enterprise(staff=staff)
    public_service, enterprise_id = domain_id(session), enterprise.id
    session.commit()
    login(client, "staff")
    page = client.get("/orders/new").get_data(as_text=True)
    assert "公共服务 · 补充信息" in page and f'name="f.{public_service}.employees"' in page
    assert "form-fields.js" in page and "<script>" not in page
    token = page_token(client, "/orders/new")
    data = {"csrf_token": token, "enterprise_id": str(enterprise_id), "level": "1", "priority": "normal",
            "content": "厂区门前道路破损，影响货车通行，请协调修复", f"f.{public_service}.kind": "社保"}
    refused = client.post("/orders/new", data=data)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请填写「涉及人数」" in html
    # Classified automatically: the form comes back with that domain selected and its values kept.
    assert f'<option value="{public_service}" selected' in html and 'value="社保" selected' in html
    done = client.post("/orders/new", data={**data, f"f.{public_service}.employees": "8"})
    assert done.status_code == 302, done.get_data(as_text=True)
    detail = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "涉及人数" in detail and "8人" in detail and "问题类别" in detail
    with session_factory() as s:
        set_form(s, [FORM[0]])  # 问题类别 removed later: its value stays, labelled by its key
        s.commit()
    store.invalidate()
    detail = client.get(done.headers["Location"]).get_data(as_text=True)
    assert 'data-field-key="kind">kind</dt><dd>社保' in detail


def test_h5_form_asks_the_chosen_domain_fields_and_shows_them(client, factory, session, session_factory):
    from tests.handlers.test_console import login, page_token

    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF, name="张为企", login="staff")
    enterprise = factory.enterprise(staff=staff)
    public_service, enterprise_id = domain_id(session), enterprise.id
    session.commit()
    login(client, "staff")
    page = client.get(f"/m/orders/new?domain_id={public_service}").get_data(as_text=True)
    assert f'name="f.{public_service}.employees"' in page and "涉及人数（必填）" in page
    token = page_token(client, "/m/orders/new")
    data = {"csrf_token": token, "enterprise_id": str(enterprise_id), "level": "1", "priority": "normal",
            "domain_id": str(public_service), "content": "企业希望了解稳岗补贴的申请条件和材料"}
    refused = client.post("/m/orders/new", data=data)
    assert refused.status_code == 422 and "请填写「涉及人数」" in refused.get_data(as_text=True)
    done = client.post("/m/orders/new", data={**data, f"f.{public_service}.employees": "5",
                                              f"f.{public_service}.deadline": "2026-05-01"})
    assert done.status_code == 302, done.get_data(as_text=True)
    detail = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "涉及人数" in detail and "5人" in detail and "2026-05-01" in detail


def test_order_list_filters_by_a_choice_field(client, factory, session):
    from tests.handlers.test_console import login

    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF, name="张为企", login="staff")
    social = factory.order(staff, factory_now(), domain_id=domain_id(session), fields={"employees": 1, "kind": "社保"},
                           title="社保那一单")
    labour = factory.order(staff, factory_now(), domain_id=domain_id(session), fields={"employees": 1, "kind": "用工"},
                           title="用工那一单")
    numbers = (social.number, labour.number)
    session.commit()
    login(client, "staff")
    page = client.get("/orders").get_data(as_text=True)
    assert 'name="field.kind"' in page and "问题类别" in page
    filtered = client.get("/orders?field.kind=社保").get_data(as_text=True)
    assert numbers[0] in filtered and numbers[1] not in filtered
    assert 'value="社保" selected' in filtered
    ignored = client.get("/orders?field.Bad-Key=x").get_data(as_text=True)  # not a field key: no filter
    assert numbers[0] in ignored and numbers[1] in ignored


def factory_now():
    from datetime import UTC, datetime

    return datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_statistics_group_by_a_choice_field(client, factory, session):
    from services.statistics import kpis
    from tests.handlers.test_console import login

    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF, name="张为企")
    factory.person(Role.SYSADMIN, name="周管理", login="admin")
    now = factory_now()
    for kind in ("社保", "社保", "用工", None):
        values = {"employees": 1, **({"kind": kind} if kind else {})}
        factory.order(staff, now, domain_id=domain_id(session), fields=values)
    session.commit()
    admin = session.scalar(select(kpis.Person).where(kpis.Person.name == "周管理"))
    assert kpis.groups_for(session)["field.kind"] == "问题类别"
    group, period = kpis.parse_query({"group": "field.kind"}, now)
    report = kpis.build_report(session, kpis.scope_for(admin), group, period, now)
    received = {row.label: row.counts.received for row in report.rows}
    assert received == {"用工": 1, "社保": 2, "未填写": 1} and report.group_label == "问题类别"
    with pytest.raises(kpis.InvalidQuery):
        kpis.parse_query({"group": "field.Bad Key"}, now)
    session.rollback()
    import time_machine

    from services.admin.api_tokens import issue_token

    token = issue_token(session, admin, "统计接口", now)
    session.commit()
    with time_machine.travel(now, tick=True):
        login(client, "admin")
        page = client.get("/statistics/?group=field.kind").get_data(as_text=True)
        api = client.get("/api/v1/statistics?group=field.kind", headers={"Authorization": f"Bearer {token}"})
    assert 'data-group="field.kind"' in page and "按问题类别" in page and "field.kind=%E7%A4%BE%E4%BF%9D" in page
    data = api.get_json()["data"]
    assert data["group"] == "field.kind" and data["group_label"] == "问题类别"
    assert {row["label"]: row["kpis"]["received"] for row in data["rows"]} == {"用工": 1, "社保": 2, "未填写": 1}


# --------------------------------------------------------------------------------------------
# Chat
def test_chat_request_takes_pairs_and_asks_for_the_missing_fields(session, factory):
    from datetime import timedelta

    from models import KvEntry, WorkOrder
    from tests.services.test_commands import say

    set_form(session, [*FORM[:2], {"key": "road", "label": "道路名称", "type": "text", "required": True}])
    staff = factory.person(Role.SERVICE_STAFF, name="王服务")
    factory.enterprise(staff=staff, name="天津北辰甲科技有限公司")
    now = factory_now()
    asked = say(factory, staff, now, "诉求 甲科技 厂区门前道路破损，影响货车通行 问题类别=用工 涉及人数=零")
    assert not asked.ok and "还需补充" in asked.reply and "道路名称" in asked.reply
    assert "涉及人数（数字，单位人）：「涉及人数」应为数字" in asked.reply
    assert session.scalar(select(WorkOrder)) is None and session.get(KvEntry, f"chat-pending:{staff.id}:sandbox")
    # An ordinary command in between is answered as usual and the request keeps waiting.
    assert "可用命令" in say(factory, staff, now, "帮助").reply
    still = say(factory, staff, now + timedelta(minutes=1), "涉及人数=12")
    assert not still.ok and "道路名称" in still.reply and "涉及人数" not in still.reply.split("\n", 1)[1]
    done = say(factory, staff, now + timedelta(minutes=2), "道路名称=北辰道")
    assert done.ok and done.order_number, done.reply
    order = session.scalar(select(WorkOrder))
    assert order.custom_fields == {"employees": 12, "kind": "用工", "road": "北辰道"}
    assert order.content == "厂区门前道路破损，影响货车通行"
    assert session.get(KvEntry, f"chat-pending:{staff.id}:sandbox") is None


def test_chat_pending_request_expires_and_can_be_cancelled(session, factory):
    from datetime import timedelta

    from models import WorkOrder
    from tests.services.test_commands import say

    set_form(session, FORM)
    staff = factory.person(Role.SERVICE_STAFF, name="王服务")
    factory.enterprise(staff=staff, name="天津北辰甲科技有限公司")
    now = factory_now()
    assert not say(factory, staff, now, "诉求 甲科技 厂区门前道路破损，影响货车通行").ok
    assert say(factory, staff, now, "取消").reply == "已取消这次诉求提交。"
    assert not say(factory, staff, now, "诉求 甲科技 厂区门前道路破损，影响货车通行").ok
    late = say(factory, staff, now + timedelta(minutes=31), "涉及人数=3")
    assert not late.ok and "没有识别到命令" in late.reply
    assert session.scalar(select(WorkOrder)) is None
    by_key = say(factory, staff, now, "诉求 甲科技 厂区门前道路破损，影响货车通行 employees=4")
    assert by_key.ok and session.scalar(select(WorkOrder)).custom_fields == {"employees": 4}
