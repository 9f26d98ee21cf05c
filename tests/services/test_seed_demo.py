"""The demo seed: every state and level, a sound organisation, valid codes, registry profiles that
agree with the size rules, policies pushed to exactly the enterprises they match, and idempotence."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from models import (
    CityEscalation,
    ConsoleLogin,
    Department,
    DepartmentKind,
    Enterprise,
    ExtensionRequest,
    JointMeeting,
    OutboundMessage,
    Person,
    Policy,
    PolicyItem,
    PolicyPush,
    PolicyQuestion,
    PolicyStatus,
    PushCampaign,
    ReturnVisit,
    Role,
    Satisfaction,
    TrainingEvent,
    TrainingRegistration,
    TrainingStatus,
    WorkOrder,
    WorkOrderEvent,
    Zone,
)
from models.policy import CampaignKind, CampaignStatus, ItemStatus
from services.demo import data as demo_data
from services.demo.seed import DemoClock, band_figures, build_stories, seed_demo
from services.messaging.notify import Channels
from services.orders.lifecycle import State
from services.orders.sla import WorkCalendar
from services.policies.matching import match_select, matches, parse_conditions
from services.policies.push import DIGEST_KIND
from services.registry.size_band import BANDS, classify, industry_of, parse_industry_code

BEIJING = ZoneInfo("Asia/Shanghai")
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _uscc_ok(code: str) -> bool:
    # Independent of the module under test: GB 32100-2015 check character.
    if len(code) != 18 or any(c not in ALPHABET for c in code):
        return False
    total = sum(ALPHABET.index(c) * w for c, w in zip(code[:17], WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31] == code[17]


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_demo_seed(session, now):
    """One seed (about two seconds on SQLite), checked from several sides."""
    demo = seed_demo(session, channels=Channels(sandbox=True), now=now)
    _every_state_and_level(session, demo, now)
    _the_interesting_orders_are_there(session, now)
    _organisation(session, demo)
    _enterprises(session)
    _registry_profiles(session)
    _policies(session, demo, now)
    _trainings(session, now)
    _knowledge(session, demo)
    _second_run_changes_nothing(session, now)


def _every_state_and_level(session, demo, now):
    states = dict(session.execute(select(WorkOrder.state, func.count()).group_by(WorkOrder.state)).all())
    assert set(State.ALL) <= set(states), f"missing states: {set(State.ALL) - set(states)}"
    levels = set(session.scalars(select(WorkOrder.level).distinct()))
    assert {1, 2, 3, 4} <= levels
    assert demo.orders == sum(states.values()) >= 60
    # Every event happened in the past, in Beijing working hours on the order's own timeline.
    events = session.scalars(select(WorkOrderEvent)).all()
    assert all(e.created_at <= now for e in events)
    assert all(8 <= e.created_at.astimezone(BEIJING).hour < 18 for e in events)
    # Every step was taken by a real person with the rights to take it (never as "the system").
    assert all(e.actor_id is not None for e in events)


def _the_interesting_orders_are_there(session, now):
    orders = session.scalars(select(WorkOrder)).all()
    by_state: dict[str, list[WorkOrder]] = {}
    for order in orders:
        by_state.setdefault(order.state, []).append(order)

    received = by_state[State.RECEIVED]
    assert any(o.screening_category for o in received)
    assert any(o.reject_reason and o.reject_channel for o in by_state[State.REJECTED])

    pending = by_state[State.PENDING_DISPATCH]
    assert any(o.green_channel and o.level == 3 for o in pending)
    assert any(o.return_count == 2 for o in pending)

    dispatched = by_state[State.DISPATCHED]
    assert any(o.sign_due_at < now for o in dispatched)
    assert any(o.sign_due_at > now for o in dispatched)

    processing = by_state[State.PROCESSING]
    assert any(o.due_at is not None and o.due_at < now for o in processing)
    pending_ext = session.scalars(select(ExtensionRequest).where(ExtensionRequest.status == "pending")).all()
    assert any(r.work_order_id in {o.id for o in processing} for r in pending_ext)

    visited = by_state[State.VISITED]
    assert visited and all(o.reopen_count >= 1 for o in visited)
    last_visits = [session.scalars(select(ReturnVisit).where(ReturnVisit.work_order_id == o.id)
                                   .order_by(ReturnVisit.round.desc())).first() for o in visited]
    assert all(v.satisfaction not in Satisfaction.POSITIVE for v in last_visits)

    city = session.scalars(select(CityEscalation).where(CityEscalation.route == "12345")).all()
    assert any(c.city_reference and c.city_deadline for c in city)
    level4 = [o for o in orders if o.level == 4]
    assert level4 and all(o.due_at is not None for o in level4)
    meeting_orders = set(session.scalars(select(JointMeeting.work_order_id)))
    assert any(o.level == 3 for o in orders if o.id in meeting_orders)
    assert any(o.priority == "urgent" for o in orders)
    assert _count(session, OutboundMessage) > 0
    numbers = [o.number for o in sorted(orders, key=lambda o: o.created_at)]
    assert numbers == sorted(numbers)  # numbered in time order


def _organisation(session, demo):
    for zone in session.scalars(select(Zone)):
        staff = _count(session, Person, Person.zone_id == zone.id, Person.role == Role.SERVICE_STAFF)
        admins = _count(session, Person, Person.zone_id == zone.id, Person.role == Role.ZONE_ADMIN)
        assert staff == 2 and admins == 1, zone.name
    for department in session.scalars(select(Department).where(Department.kind != DepartmentKind.HUB)):
        helpers = session.scalars(select(Person).where(Person.department_id == department.id,
                                                       Person.role == Role.CHIEF_HELPER)).all()
        assert 1 <= len(helpers) <= 2, department.name
        assert all(h.stages for h in helpers), department.name
        assert _count(session, Person, Person.department_id == department.id, Person.role == Role.DEPT_LEADER) == 1
    grid = session.scalar(select(Department).where(Department.code == "grid_center"))
    assert _count(session, Person, Person.role == Role.DISPATCHER, Person.department_id == grid.id) == 2
    for role in (Role.BIZENV_OFFICE, Role.DISTRICT_LEADER, Role.SYSADMIN):
        assert _count(session, Person, Person.role == role) == 1
    logins = {login.username: login.person for login in session.scalars(select(ConsoleLogin))}
    assert logins["admin"].role == Role.SYSADMIN
    assert logins["dispatcher"].role == Role.DISPATCHER
    assert logins["bizenv"].role == Role.BIZENV_OFFICE
    assert logins["staff"].role == Role.SERVICE_STAFF and logins["staff"].zone.name == "天穆镇"
    assert logins["helper"].role == Role.CHIEF_HELPER and logins["helper"].department.name == "人社局"
    assert logins["leader"].role == Role.DISTRICT_LEADER
    text = demo.describe()
    assert "demo1234" in text and all(u in text for u in logins)
    assert f"政策 {len(demo_data.DEMO_POLICIES)} 项" in text and f"推送 {demo.pushes} 家次" in text


def _enterprises(session):
    enterprises = session.scalars(select(Enterprise)).all()
    assert 180 <= len(enterprises) <= 220
    for e in enterprises:
        assert e.service_staff is not None and e.service_staff.role == Role.SERVICE_STAFF
        assert e.service_staff.zone_id == e.zone_id, e.name
        assert _uscc_ok(e.uscc), e.uscc
        assert e.uscc[1] == {"enterprise": "1", "individual": "2", "cooperative": "3"}[e.entity_type]
        assert e.zone.name in e.address or e.zone.code == "kaifaqu"
    kinds = {e.entity_type for e in enterprises}
    assert kinds == {"enterprise", "individual", "cooperative"}
    key = [e for e in enterprises if e.is_key_industry]
    assert len(key) >= 20 and any(e.industry_tag.is_key_industry for e in key)
    assert len({e.name for e in enterprises}) == len(enterprises)
    # Orders belong to enterprises of the submitter's zone.
    for order in session.scalars(select(WorkOrder)):
        assert order.zone_id == order.enterprise.zone_id


def _registry_profiles(session):
    enterprises = session.scalars(select(Enterprise)).all()
    for e in enterprises:
        assert parse_industry_code(e.industry_code) == (e.industry_code, ""), e.name
        assert len(e.industry_code) == 5 and e.industry_name, e.name
        # The stored band is exactly what the 2017 size rules make of the stored figures.
        assert classify(e.industry_code, e.employees, e.revenue, e.assets) == e.size_band, e.name
        assert e.market_type and e.registered_capital and e.registered_capital > 0, e.name
        assert e.stage is not None, e.name
        if e.industry_tag.is_key_industry:  # a "2+3" tag: the class lies in the tag's GB/T 4754 codes
            assert any(e.industry_code.startswith(p) for p in e.industry_tag.gbt_sections.split(",")), e.name
    by_type = {t: [e for e in enterprises if e.entity_type == t] for t in ("enterprise", "individual", "cooperative")}
    assert all(e.market_type == "个体工商户" and e.industry_code[0] in "FHO" for e in by_type["individual"])
    assert all(e.market_type == "农民专业合作社" and e.industry_code.startswith("A") for e in by_type["cooperative"])
    assert all(e.assets is not None for e in by_type["enterprise"])
    assert {"中", "小", "微"} <= {e.size_band for e in by_type["enterprise"]}
    assert any(e.qualifications for e in enterprises if e.is_key_industry)


def _policies(session, demo, now):
    statuses = {p.title: p.status for p in session.scalars(select(Policy))}
    assert len(statuses) == len(demo_data.DEMO_POLICIES) == demo.policies
    assert set(statuses.values()) == {PolicyStatus.PUBLISHED, PolicyStatus.REVIEW, PolicyStatus.DRAFT}
    assert "示例" in "".join(p.doc_number for p in session.scalars(select(Policy)))
    campaigns = session.scalars(select(PushCampaign).order_by(PushCampaign.id)).all()
    assert [(c.kind, c.status) for c in campaigns] == [
        (CampaignKind.MANUAL, CampaignStatus.RUNNING),  # approved and run by the job; digests in the outbox
        (CampaignKind.NEW_ITEM, CampaignStatus.RUNNING),  # created by the daily job after publication
        (CampaignKind.MANUAL, CampaignStatus.DRAFT),  # waiting for the department leader
    ]
    assert campaigns[0].approved_by is not None and campaigns[0].created_by is not None
    assert _count(session, OutboundMessage, OutboundMessage.kind == DIGEST_KIND) == sum(c.digests for c in campaigns) > 0

    pushes = session.scalars(select(PolicyPush)).all()
    assert len(pushes) == demo.pushes > 0
    pushed_items = {p.item_id for p in pushes}
    assert pushed_items == {i.id for c in campaigns[:2] for i in c.items}
    for item in session.scalars(select(PolicyItem).where(PolicyItem.id.in_(pushed_items))):
        assert item.status == ItemStatus.PUBLISHED and item.policy.status == PolicyStatus.PUBLISHED
        conditions = parse_conditions(item.conditions)
        mine = [p for p in pushes if p.item_id == item.id]
        # Each target met the item's conditions when it was pushed (the matcher's own rule) …
        for p in mine:
            assert matches(conditions, p.enterprise, p.created_at.astimezone(BEIJING).date()), (item.title, p.enterprise.name)
            assert p.staff_id == p.enterprise.service_staff_id and p.digest_key
        # … and by now every enterprise the item matches has been told (the weekly cap only delays).
        matched = set(session.scalars(match_select(conditions, now.astimezone(BEIJING).date(), session, Enterprise.id)))
        assert {p.enterprise_id for p in mine} == matched, item.title
    assert any(p.opened_at for p in pushes) and any(p.applied_at for p in pushes)
    granted = [p for p in pushes if p.granted_at]
    assert any(p.item.no_application and p.applied_at is None for p in granted)
    assert any(p.applied_by_label == "企业自行标记" for p in pushes)
    for p in pushes:
        steps = [t for t in (p.created_at, p.opened_at, p.applied_at, p.granted_at) if t is not None]
        assert all(t <= now for t in steps) and p.created_at == min(steps), p.id
        if p.applied_at and p.opened_at:
            assert p.opened_at <= p.applied_at


def _trainings(session, now):
    events = {e.status: e for e in session.scalars(select(TrainingEvent))}
    held, upcoming = events[TrainingStatus.DONE], events[TrainingStatus.OPEN]
    assert held.starts_at < now < upcoming.starts_at
    for event in (held, upcoming):
        assert _count(session, TrainingRegistration, TrainingRegistration.event_id == event.id) > 0
    attended = set(session.scalars(select(TrainingRegistration.attended)
                                   .where(TrainingRegistration.event_id == held.id)))
    assert True in attended and None not in attended  # attendance was recorded for everyone
    questions = session.scalars(select(PolicyQuestion)).all()
    assert questions and all(q.answer and q.published_to_kb and q.answered_at <= now for q in questions)


def test_band_figures_fit_every_band_of_every_demo_industry():
    """Whatever band the demo draws, the figures put the firm in it by the industry's own rule."""
    rnd = random.Random(7)
    cases = [(code, BANDS, "enterprise") for *_, code, _name in demo_data.COMPANY_INDUSTRIES]
    cases += [(code, ("微",), "individual") for *_, code, _name in demo_data.SHOPS]
    cases += [(code, ("小", "微"), "cooperative") for _, code, _name in demo_data.COOP_PRODUCTS]
    for code, bands, entity_type in cases:
        assert industry_of(code) is not None, code
        for band in bands:
            for _ in range(40):
                f = band_figures(code, band, rnd, entity_type=entity_type)
                assert classify(code, f["employees"], f["revenue"], f["assets"]) == band, (code, band, f)
                assert (f["assets"] is not None) == (entity_type == "enterprise" or industry_of(code) == "construction")


@pytest.mark.parametrize("table", [demo_data.COMPANY_INDUSTRIES, demo_data.SHOPS, demo_data.COOP_PRODUCTS])
def test_demo_industry_codes_are_gbt4754_classes(table):
    for row in table:
        code, name = row[-2], row[-1]
        assert parse_industry_code(f"{code} {name}") == (code, name)


def _knowledge(session, demo):
    """Answers published through review, one waiting, a typical case, the handbook and chat find them."""
    from models import AuditLog, CaseStudy, HandbookTopic, KnowledgeEntry, KnowledgeStatus, Role, TopicStatus
    from services.knowledge import cases
    from services.knowledge import entries as knowledge

    statuses = dict(session.execute(select(KnowledgeEntry.status, func.count()).group_by(KnowledgeEntry.status)).all())
    assert statuses.get(KnowledgeStatus.PUBLISHED, 0) >= 5 and statuses.get(KnowledgeStatus.REVIEW) == 1
    actions = set(session.scalars(select(AuditLog.action).where(AuditLog.target_type == "knowledge_entry")))
    assert {"knowledge.submit", "knowledge.send_back", "knowledge.publish"} <= actions
    # Every submission told 营商环境办 (a notice each, in the outbox).
    bizenv = session.scalar(select(Person).where(Person.role == Role.BIZENV_OFFICE))
    told = [m.payload["title"] for m in session.scalars(select(OutboundMessage).where(
        OutboundMessage.kind == "notice", OutboundMessage.target_ref == str(bizenv.id)))]
    assert told.count("知识条目待审核") >= 5 and "案例待审核" in told
    # 查 社保补贴 in chat finds the answer; /cases and /faq have something to show.
    assert "招用高校毕业生可以申请哪些社保补贴？" in knowledge.chat_answer(session, "社保补贴", base_url="http://127.0.0.1:5000")
    [typical] = cases.public_cases(session).items
    assert typical.anonymised and typical.is_typical and typical.status == KnowledgeStatus.PUBLISHED
    assert "某企业" in typical.public_situation and typical.work_order.enterprise.name not in typical.public_situation
    topic = session.scalar(select(HandbookTopic).where(HandbookTopic.status == TopicStatus.PUBLISHED))
    assert topic is not None and topic.entry.status == KnowledgeStatus.PUBLISHED
    assert demo.published_entries >= 5 and demo.typical_cases == 1 and demo.handbook_topics >= 1
    assert "知识库已发布问答" in demo.describe()
    assert session.scalar(select(func.count()).select_from(CaseStudy)) == 1


def _second_run_changes_nothing(session, now):
    from models import CaseStudy, HandbookTopic, KnowledgeEntry

    tables = (Person, Enterprise, WorkOrder, WorkOrderEvent, OutboundMessage, ConsoleLogin, Policy, PolicyItem,
              PushCampaign, PolicyPush, TrainingEvent, TrainingRegistration, PolicyQuestion, KnowledgeEntry, CaseStudy,
              HandbookTopic)
    before = {m.__name__: _count(session, m) for m in tables}
    again = seed_demo(session, channels=Channels(sandbox=True), now=now + timedelta(days=3))
    assert again.already_seeded
    assert "未做任何改动" in again.describe() and "demo1234" in again.describe()
    assert {m.__name__: _count(session, m) for m in tables} == before


def test_schedule_fits_any_now():
    """Whatever the real clock says, every step is in the past, in office hours, and in order."""
    calendar = WorkCalendar()
    start = datetime(2026, 1, 20, 0, 5, tzinfo=UTC)
    for hours in range(0, 24 * 50, 5):  # five weeks around the Spring Festival, every five hours
        now = start + timedelta(hours=hours)
        clock = DemoClock(now, calendar)
        for story in build_stories(clock):
            times = [step.at for step in story.steps]
            assert times == sorted(times), story.key
            assert times[-1] <= now, (story.key, now)
            for t in times:
                local = t.astimezone(BEIJING)
                assert calendar.is_workday(local.date()), (story.key, local)
                assert (8, 30) <= (local.hour, local.minute) <= (17, 30), (story.key, local)
