"""派单目录 in the console: the new-request form's 自动 choice, the dispatcher's hint, the editor."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import WorkOrder
from services.orders.lifecycle import State
from services.studio import store
from tests.handlers.test_console import login, new_order_form, pending_order, people  # noqa: F401


def _rules(session, now, department="人社局"):
    store.apply(session, None, {"dispatch_rules": [
        {"name": "招聘用工", "when": {"keywords": ["招聘", "用工"]}, "then": {"department": department, "level": 2}},
    ]}, reason="派单目录", now=now)
    session.commit()


def test_new_request_form_defaults_to_the_catalogue(client, people, session, session_factory, now):  # noqa: F811
    _rules(session, now)
    login(client, "staff")
    page = client.get("/orders/new").get_data(as_text=True)
    assert re.search(r'value="auto"[^>]*checked', page) and "由派单目录决定" in page
    data = new_order_form(client, people.enterprise.id)
    del data["level"]  # nothing chosen is the same as 自动
    assert client.post("/orders/new", data=data, content_type="multipart/form-data").status_code == 302
    data = new_order_form(client, people.enterprise.id, level="auto", content="企业需要对接用工补贴政策，请协助")
    assert client.post("/orders/new", data=data, content_type="multipart/form-data").status_code == 302
    with session_factory() as s:
        orders = list(s.scalars(select(WorkOrder).order_by(WorkOrder.id)))
        assert [(o.dispatch_rule, o.state, o.assigned_department.name) for o in orders] == [
            ("招聘用工", State.DISPATCHED, "人社局")] * 2


def test_dispatcher_sees_the_catalogue_suggestion_preselected(client, app, people, pending_order, session,  # noqa: F811
                                                              factory, now):
    tax = factory.department("tax")
    _rules(session, now, department=tax.name)
    login(client, "dispatcher")
    page = client.get(f"/orders/{pending_order.number}").get_data(as_text=True)
    assert f"派单目录建议：招聘用工（命中：关键词招聘、用工），交{tax.name}" in page
    assert re.search(rf'<option value="{tax.id}" selected>', page)
    mobile = app.test_client()
    login(mobile, "dispatcher")
    h5 = mobile.get(f"/m/orders/{pending_order.number}").get_data(as_text=True)
    assert "派单目录建议：招聘用工" in h5
