"""The issue-12 security probe, reproduced: every route of the url_map, with hostile values in every
query parameter, form field, JSON field and path part, as an anonymous visitor, a signed-in
dispatcher and a system administrator (and an API client), on the database the suite runs on.
No answer may be a 5xx. See ``tests/handlers/hostile.py`` for how parameters are found and which
values are sent; the crawl stays around two thousand requests.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from models import (
    HolidayOverride,
    InboundMessage,
    OutboundMessage,
    PolicyPush,
    Role,
    ScreeningRule,
    SlaPolicy,
    StaffAssignmentRule,
    ZoneAddressRule,
)
from services.admin.api_tokens import issue_token
from services.knowledge import entries as knowledge
from services.knowledge.entries import KnowledgeContext
from services.messaging import inbox
from services.orders import operations as wo
from services.policies import library as policies
from services.policies import push as policy_push
from services.policies import training
from services.policies.library import PolicyContext
from services.policies.training import TrainingContext, local_input
from tests.handlers.hostile import Crawl, recording_request_class

pytestmark = pytest.mark.slow

# Logging out ends the crawl's session; the health check answers 503 on purpose when the database is gone.
SKIP = frozenset({"console.logout", "health.healthz", "health.readyz", "health.metrics"})
# Password checks hash on purpose (slowly): only the values the guard refuses.
LIGHT = frozenset({"console.login"})
# The crawl takes about 40 s on SQLite and 60 s on PostgreSQL on a loaded two-core machine.
BUDGET_SECONDS = 150


def _json_fields() -> dict[str, list[str]]:
    from handlers.api.actions import ACTIONS
    from handlers.api.orders import CREATE_FIELDS

    return {"api.create_order": [f.name for f in CREATE_FIELDS],
            "api.transition": sorted({"action"} | {f.name for spec in ACTIONS.values() for f in spec.fields})}


def _first(session, model, *where) -> str:
    return str(session.scalar(select(func.min(model.id)).where(*where)) or 1)


def build_world(session, factory, now) -> dict[str, str]:
    """People, orders in several states, a policy with an item, a campaign, a push, a training event
    with a registration and a question, a knowledge entry and the grid's rules: a sample for every
    kind of path value the url_map has."""
    rsj, gxj = factory.department("rsj"), factory.department("gxj")
    tianmu = factory.zone("tianmu")
    admin = factory.person(Role.SYSADMIN, name="周管理")
    dispatcher = factory.person(Role.DISPATCHER, name="王调度")
    staff = factory.person(Role.SERVICE_STAFF, zone=tianmu, name="张为企")
    helper = factory.person(Role.CHIEF_HELPER, department=rsj, name="赵帮办")
    leader = factory.person(Role.DEPT_LEADER, department=gxj, name="工信局长")
    enterprise = factory.enterprise(staff=staff, name="天津北辰精工机械有限公司", industry_code="C3484",
                                    key_industry=True, established_on=date(2015, 5, 1))
    dispatched = factory.order(staff, now, enterprise=enterprise, level=2, department_id=rsj.id)
    fed_back = factory.order(staff, now, enterprise=enterprise, level=2, department_id=rsj.id)
    ctx = factory.ctx(helper, now)
    wo.sign(ctx, fed_back)
    wo.resolve(ctx, fed_back, result="已协调人社局专场招聘会，企业招到 30 名技术工人")
    wo.feedback(factory.ctx(staff, now), fed_back, note="已电话告知企业")

    pctx = PolicyContext(session, leader, now)
    policy = policies.create_policy(pctx, {"title": "装备制造业奖励政策", "owner_department_id": gxj.id})
    item = policies.add_item(pctx, policy.id, {"title": "技术改造奖励", "apply_until": "2099-01-01",
                                               "conditions": {"industries": "C34"}})
    policies.publish(pctx, policies.submit(pctx, policy.id).id)
    campaign = policy_push.create_campaign(pctx, [item.id])
    push = PolicyPush(enterprise_id=enterprise.id, item_id=item.id, campaign_id=campaign.id, staff_id=staff.id,
                      zone_id=tianmu.id, open_token=secrets.token_urlsafe(24), created_at=now)
    session.add(push)
    real_now = datetime.now(UTC)
    tctx = TrainingContext(session, leader, real_now)
    event = training.save_event(tctx, None, {
        "title": "技术改造政策培训", "kind": "培训", "place": "区政务服务中心会议室", "department_id": str(gxj.id),
        "policy_id": str(policy.id), "starts_at": local_input(real_now + timedelta(days=2)),
        "ends_at": local_input(real_now + timedelta(days=2, hours=1))}, {"industries": "C34"})
    training.set_status(tctx, event, "open")
    registration = training.register(TrainingContext(session, staff, real_now), event, enterprise,
                                     {"contact_name": "张经理", "contact_phone": "13800001111"})
    question = training.ask(TrainingContext(session, staff, real_now), {"question": "技术改造奖励如何申报？"},
                            event_id=event.id)
    entry = knowledge.create_entry(KnowledgeContext(session, admin, now), {
        "title": "稳岗补贴如何申请", "answer": "登录人社局网上办事大厅提交申请。"})
    session.add_all([
        HolidayOverride(day=date(2026, 10, 8), is_workday=False, note="测试"),
        ZoneAddressRule(zone_id=tianmu.id, pattern="天穆"),
        StaffAssignmentRule(zone_id=tianmu.id, person_id=staff.id, pattern="精工"),
    ])
    inbox.store(session, "wecom", "msg:1", {"message": {"MsgType": "text", "Content": "帮助"}}, now)
    session.flush()

    samples = {
        "department_id": str(rsj.id), "person_id": str(staff.id), "zone_id": str(tianmu.id),
        "holiday_id": _first(session, HolidayOverride), "rule_id": _first(session, ScreeningRule),
        "grid.rule_update:rule_id": _first(session, ZoneAddressRule),
        "grid.staff_rule_update:rule_id": _first(session, StaffAssignmentRule),
        "admin.inbound_retry:message_id": _first(session, InboundMessage),
        "admin.outbox_retry:message_id": _first(session, OutboundMessage),
        "policy_id": str(policy.id), "item_id": str(item.id), "campaign_id": str(campaign.id), "push_id": str(push.id),
        "event_id": str(event.id), "registration_id": str(registration.id), "question_id": str(question.id),
        "entry_id": str(entry.id), "enterprise_id": str(enterprise.id), "number": dispatched.number,
        "platform": "wecom", "target": "contact", "action": "sign", "api.transition:action": "comment",
        "public.survey:token": fed_back.survey_token, "public.survey_submit:token": fed_back.survey_token,
        "token": push.open_token, "sha256": "0" * 64,
    }
    for name in ("admin.sla_edit", "admin.sla_update", "admin.sla_delete"):
        samples[f"{name}:policy_id"] = _first(session, SlaPolicy)
    ids = {"admin": admin.id, "dispatcher": dispatcher.id}
    samples["__api_token__"] = issue_token(session, dispatcher, "探测", now)
    session.commit()
    return samples | {f"__{k}__": str(v) for k, v in ids.items()}


@pytest.fixture
def crawling_app(app, monkeypatch, tmp_path):
    # CSRF is its own concern (tests/handlers/test_*); here every form must reach its parser.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    monkeypatch.setitem(app.config, "UPLOAD_ROOT", str(tmp_path / "uploads"))
    monkeypatch.setattr(app, "request_class", recording_request_class(app.request_class))
    # Thousands of refusals are logged as warnings by design; the crawl reads the errors only.
    monkeypatch.setattr(logging.getLogger("youxubiying.boundary"), "disabled", True)
    return app


def test_no_hostile_value_gets_a_server_error(crawling_app, session, factory, now):
    app = crawling_app
    with time_machine.travel(now, tick=True):
        samples = build_world(session, factory, now)
    from models import Person, utcnow
    from services.admin import sessions

    # The sessions the login page would give, made before the crawl (the test's own transaction is
    # released here: on SQLite it would hold the write lock the app needs).
    signed_in = {who: sessions.new_session(session.get(Person, int(samples[f"__{who}__"])), utcnow())
                 for who in ("dispatcher", "admin")}
    session.commit()
    started = time.monotonic()
    failures, total, refused_by_dispatcher = [], 0, set()
    errors_logger = logging.getLogger("youxubiying.errors")

    def crawl(role: str, only=None, headers=None, person: str | None = None):
        nonlocal total
        client = app.test_client()
        if person:
            with client.session_transaction() as cookie:
                cookie.clear()
                cookie.update(signed_in[person])
        crawler = Crawl(app, client, role, samples, skip_endpoints=SKIP, light_endpoints=LIGHT,
                        json_fields=_json_fields(), headers=headers or {})
        errors_logger.addHandler(crawler.errors)
        try:
            crawler.run(only)
        finally:
            errors_logger.removeHandler(crawler.errors)
        failures.extend(crawler.failures)
        total += crawler.requests
        return crawler

    api = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    pages = {r.endpoint for r in app.url_map.iter_rules()} - api
    crawl("anonymous", pages)
    dispatcher = crawl("dispatcher", pages, person="dispatcher")
    refused_by_dispatcher = dispatcher.refused
    # The administrator takes the pages the dispatcher may not use (the admin pages, the sandbox, …).
    admin = crawl("admin", refused_by_dispatcher, person="admin")
    crawl("api", api, headers={"Authorization": f"Bearer {samples['__api_token__']}"})
    elapsed = time.monotonic() - started

    assert not failures, f"{len(failures)} server errors in {total} requests:\n" + "\n".join(
        str(f) for f in failures[:60])
    # The crawl reached the pages, not only their login redirect.
    assert len(pages - dispatcher.refused) > 100 and "admin.people" not in admin.refused
    assert total < 5000 and elapsed < BUDGET_SECONDS, (total, elapsed)
