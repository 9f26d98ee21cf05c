"""The 派单目录 at intake: a request nobody routed goes where the catalogue says, on every channel."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import DispatchRuleHit, Role, WorkOrderEvent
from services.messaging import chat
from services.orders import catalogue
from services.orders.lifecycle import State
from services.orders.operations import NewOrder, confirm_request, create_order, lead_department_for
from services.studio import store

RULES = [
    {"name": "招工用工", "when": {"keywords": ["招工", "用工"]},
     "then": {"department": "人社局", "level": 2, "priority": "urgent", "note": "先联系人社局就业科"}},
    {"name": "重点企业融资", "when": {"keywords": ["融资", "贷款"], "key_industry": True},
     "then": {"level": 3, "green_channel": True, "lead_department": "人社局"}},
]
HIRING = "企业扩产急需招工五十人，请协助对接"


def _rules(session, now, rules=RULES):
    store.apply(session, None, {"dispatch_rules": rules}, reason="派单目录", now=now)


def test_console_order_without_a_choice_follows_the_catalogue(session, factory, now):
    _rules(session, now)
    staff = factory.person(Role.SERVICE_STAFF, name="张为企")
    order = factory.order(staff, now, content=HIRING, auto_dispatch=True)
    assert order.level == 2 and order.state == State.DISPATCHED and order.assigned_department.name == "人社局"
    assert order.priority == "urgent" and order.dispatch_rule == "招工用工"
    note = session.scalar(select(WorkOrderEvent.note).where(WorkOrderEvent.work_order_id == order.id,
                                                           WorkOrderEvent.data["dispatch_rule"].as_string() == "招工用工"))
    assert "命中派单目录第 1 条「招工用工」" in note and "关键词：招工" in note and "先联系人社局就业科" in note
    hit = session.scalar(select(DispatchRuleHit))
    assert (hit.rule_name, hit.hits, hit.day) == ("招工用工", 1, catalogue.local_day(now))


def test_a_chosen_level_or_no_match_keeps_todays_behaviour(session, factory, now):
    _rules(session, now)
    staff = factory.person(Role.SERVICE_STAFF)
    chosen = factory.order(staff, now, content=HIRING, level=1)  # the submitter chose 1 级
    assert chosen.level == 1 and chosen.dispatch_rule == ""
    unmatched = factory.order(staff, now, content="企业门前道路破损，影响货车通行", auto_dispatch=True)
    assert unmatched.level == 1 and unmatched.state == State.PROCESSING and unmatched.dispatch_rule == ""
    assert session.scalar(select(DispatchRuleHit)) is None


def test_level_three_green_channel_and_lead_department(session, factory, now):
    _rules(session, now)
    staff = factory.person(Role.SERVICE_STAFF)
    enterprise = factory.enterprise(staff=staff, key_industry=True)
    order = factory.order(staff, now, enterprise=enterprise, content="企业申请技改贷款，需要融资担保支持", auto_dispatch=True)
    assert order.level == 3 and order.green_channel and order.state == State.PENDING_DISPATCH
    assert order.dispatch_rule == "重点企业融资" and lead_department_for(order).name == "人社局"
    # The same words from an enterprise outside "2+3": the rule does not hold.
    plain = factory.order(staff, now, content="企业申请技改贷款，需要融资担保支持", auto_dispatch=True)
    assert plain.level == 1 and plain.dispatch_rule == ""


def test_chat_submission_follows_the_catalogue(session, factory, now):
    _rules(session, now)
    staff = factory.person(Role.SERVICE_STAFF, name="张为企")
    enterprise = factory.enterprise(staff=staff, name="天津北辰招工测试有限公司")
    result = chat.handle_text(factory.ctx(staff, now, channel="sandbox"), f"诉求 {enterprise.name} {HIRING}")
    assert result.ok, result
    order = session.scalar(select(WorkOrderEvent).where(WorkOrderEvent.channel == "sandbox")).work_order
    assert order.dispatch_rule == "招工用工" and order.assigned_department.name == "人社局"


def test_public_request_is_routed_by_the_catalogue_once_confirmed(session, factory, now):
    _rules(session, now)
    staff = factory.person(Role.SERVICE_STAFF)
    enterprise = factory.enterprise(staff=staff)
    order = create_order(factory.ctx(None, now, channel="public"), NewOrder(
        enterprise_id=enterprise.id, content=HIRING, await_confirmation=True, auto_dispatch=True))
    assert order.state == State.RECEIVED and order.dispatch_rule == "招工用工"
    confirm_request(factory.ctx(staff, now), order)
    assert order.state == State.DISPATCHED and order.assigned_department.name == "人社局"


def test_channel_condition(session, factory, now):
    _rules(session, now, [{"name": "接口来的", "when": {"channel": ["api"]}, "then": {"level": 3}}])
    staff = factory.person(Role.SERVICE_STAFF)
    console = factory.order(staff, now, content=HIRING, auto_dispatch=True)
    assert console.level == 1
    enterprise = factory.enterprise(staff=staff)
    api = create_order(factory.ctx(staff, now, channel="api"),
                       NewOrder(enterprise_id=enterprise.id, content=HIRING, auto_dispatch=True))
    assert api.level == 3 and api.dispatch_rule == "接口来的"


def test_hits_are_counted_per_beijing_day_and_summed(session, factory, now):
    catalogue.count_hit(session, "招工用工", now)
    catalogue.count_hit(session, "招工用工", now)
    catalogue.count_hit(session, "招工用工", now - timedelta(days=10))
    catalogue.count_hit(session, "旧规则", now - timedelta(days=40))
    session.flush()
    counts = catalogue.hit_counts(session, now)
    assert counts == {"招工用工": {7: 2, 30: 3}}
    assert session.scalar(select(DispatchRuleHit.hits).where(DispatchRuleHit.day == catalogue.local_day(now))) == 2
