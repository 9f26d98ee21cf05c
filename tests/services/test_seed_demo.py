"""The demo seed: every state and level, a sound organisation, valid codes, and idempotence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
    ReturnVisit,
    Role,
    Satisfaction,
    WorkOrder,
    WorkOrderEvent,
    Zone,
)
from services.lifecycle import State
from services.notify import Channels
from services.seed_demo import DemoClock, build_stories, seed_demo
from services.sla import WorkCalendar

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


def _second_run_changes_nothing(session, now):
    tables = (Person, Enterprise, WorkOrder, WorkOrderEvent, OutboundMessage, ConsoleLogin)
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
