from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from models import OutboundMessage, Role, WorkOrderAlert, WorkOrderEvent
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders.alerts import run_sla_watchdog
from services.orders.lifecycle import Action, State

BJ = ZoneInfo("Asia/Shanghai")
CHANNELS = Channels(sandbox=True)


def bj(month, day, hour, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=BJ)


@pytest.fixture
def cast(factory):
    dept = factory.department("rsj")
    return {
        "staff": factory.person(Role.SERVICE_STAFF, name="张服务"),
        "dept": dept,
        "helper": factory.person(Role.CHIEF_HELPER, department=dept, name="王帮办"),
        "leader": factory.person(Role.DEPT_LEADER, department=dept, name="李局长"),
        "dispatcher": factory.person(Role.DISPATCHER, name="赵调度"),
        "bizenv": factory.person(Role.BIZENV_OFFICE, name="钱营商"),
    }


def alerts(session, order):
    rows = session.execute(
        select(WorkOrderAlert.kind, WorkOrderAlert.deadline_version)
        .where(WorkOrderAlert.work_order_id == order.id).order_by(WorkOrderAlert.id)
    )
    return [tuple(r) for r in rows]


def alert_events(session, order):
    return list(session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.work_order_id == order.id, WorkOrderEvent.action == Action.ALERT)
        .order_by(WorkOrderEvent.id)
    ))


def messages(session, order, *, kind=None, target_type="person", target_ref=None):
    query = select(OutboundMessage).where(OutboundMessage.work_order_id == order.id,
                                          OutboundMessage.target_type == target_type)
    if kind:
        query = query.where(OutboundMessage.kind == kind)
    if target_ref is not None:
        query = query.where(OutboundMessage.target_ref == str(target_ref))
    return list(session.scalars(query.order_by(OutboundMessage.id)))


def watch(session, at, times=2):
    """Run the watchdog several times at the same instant: only the first may fire anything."""
    results = [run_sla_watchdog(session, at, CHANNELS) for _ in range(times)]
    assert all(r == 0 for r in results[1:])
    return results[0]


def test_reminders_and_escalation_fire_exactly_once(session, factory, cast, now):
    # Dispatched Monday 2 March 10:00: sign by Tue 10:00, done within 5 working days (Mon 9 March 10:00).
    order = factory.order(cast["staff"], now, level=2, department_id=cast["dept"].id)
    wo.sign(factory.ctx(cast["helper"], bj(3, 2, 11)), order)
    v = order.deadline_version

    assert watch(session, bj(3, 3, 12)) == 0
    assert watch(session, bj(3, 5, 0)) == 1  # half of 5 working days passed on Wed 22:00
    assert alerts(session, order) == [("remind_50", v)]
    assert watch(session, bj(3, 5, 9)) == 0
    assert watch(session, bj(3, 6, 11)) == 1  # 80 %: Fri 10:00
    assert watch(session, bj(3, 7, 11)) == 0  # the weekend adds no working time
    assert watch(session, bj(3, 9, 11)) == 1  # overdue since Mon 10:00
    assert watch(session, bj(3, 10, 11)) == 1  # 1 working day overdue: the department leader
    assert watch(session, bj(3, 11, 11)) == 1  # 2 working days overdue: the business-environment office
    assert watch(session, bj(3, 20, 11)) == 0
    kinds = ["remind_50", "remind_80", "overdue_supervise", "overdue_leader", "overdue_bizenv"]
    assert alerts(session, order) == [(k, v) for k in kinds]

    events = alert_events(session, order)
    assert [e.data["kind"] for e in events] == kinds
    assert [e.note for e in events] == ["办理时限已过半", "办理时限已过80%", "超期督办", "超期督办（部门领导）",
                                        "超期通报区营商环境办"]
    assert all(e.actor_id is None and e.actor_label == "系统" and e.channel == "system" for e in events)

    helper, leader, bizenv = cast["helper"], cast["leader"], cast["bizenv"]
    assert [m.payload["title"] for m in messages(session, order, kind="reminder", target_ref=helper.id)] == [
        "办理时限已过半", "办理时限已过80%"
    ]
    assert [m.payload["title"] for m in messages(session, order, kind="supervise", target_ref=helper.id)] == ["超期督办"]
    group = messages(session, order, kind="status", target_type="group", target_ref=cast["dept"].id)
    assert any("【超期督办】" in m.payload["text"] for m in group)
    assert [m.payload["title"] for m in messages(session, order, kind="supervise", target_ref=leader.id)] == [
        "超期督办（部门领导）"
    ]
    assert [m.payload["title"] for m in messages(session, order, kind="supervise", target_ref=bizenv.id)] == [
        "超期通报区营商环境办"
    ]
    assert order.state == State.PROCESSING  # alerts never move the order


def test_unsigned_order_alerts_helpers_and_dispatchers(session, factory, cast, now):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["dept"].id)
    assert watch(session, bj(3, 3, 9)) == 0
    assert watch(session, bj(3, 3, 11)) == 1
    assert alerts(session, order) == [("sign_overdue", order.deadline_version)]
    for person in (cast["helper"], cast["dispatcher"]):
        [notice] = messages(session, order, kind="supervise", target_ref=person.id)
        assert notice.payload["title"] == "超时未签收"
    # Nobody signed, so the half-way reminder goes to the department's chief helpers.
    assert watch(session, bj(3, 5, 0)) == 1
    [reminder] = messages(session, order, kind="reminder", target_ref=cast["helper"].id)
    assert reminder.payload["title"] == "办理时限已过半"


def test_nothing_fires_while_suspended(session, factory, cast, now):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["dept"].id)
    wo.sign(factory.ctx(cast["helper"], bj(3, 2, 11)), order)
    wo.suspend(factory.ctx(cast["helper"], bj(3, 2, 12)), order, reason="等待企业补充营业执照")
    assert watch(session, bj(3, 12, 11)) == 0
    assert alerts(session, order) == []
    # Resumed two weeks later with 2 h of 5 working days used: half-way is 2.5 working days
    # after Mon 16 March 07:00, i.e. Wed 18 March 19:00 — the pause counts for nothing.
    wo.resume(factory.ctx(cast["helper"], bj(3, 16, 9)), order)
    assert watch(session, bj(3, 16, 10)) == 0
    assert watch(session, bj(3, 18, 18)) == 0
    assert watch(session, bj(3, 18, 20)) == 1
    assert [k for k, _ in alerts(session, order)] == ["remind_50"]


def test_a_reopened_order_starts_a_new_cycle(session, factory, cast, now):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["dept"].id)
    helper, staff = cast["helper"], cast["staff"]
    wo.sign(factory.ctx(helper, bj(3, 2, 11)), order)
    assert watch(session, bj(3, 5, 0)) == 1
    first = order.deadline_version
    wo.resolve(factory.ctx(helper, bj(3, 5, 10)), order, result="已对接区人才市场，安排专场招聘会")
    wo.feedback(factory.ctx(staff, bj(3, 5, 11)), order)
    assert watch(session, bj(3, 20, 11)) == 0  # fed back: no clock
    wo.visit(factory.ctx(staff, bj(3, 12, 10)), order, satisfaction="不满意", comment="招聘会岗位不匹配")
    assert order.state == State.PROCESSING and order.deadline_version > first
    # New 5-working-day cycle from Thu 12 March 10:00: half-way on Mon 16 March 22:00.
    assert watch(session, bj(3, 16, 21)) == 0
    assert watch(session, bj(3, 17, 0)) == 1
    assert alerts(session, order) == [("remind_50", first), ("remind_50", order.deadline_version)]


def test_overdue_order_skips_reminders_it_missed(session, factory, cast, now):
    order = factory.order(cast["staff"], now, level=2, department_id=cast["dept"].id)
    wo.sign(factory.ctx(cast["helper"], bj(3, 2, 11)), order)
    # The watchdog was down all week: only the overdue steps are sent, the reminders marked done.
    assert watch(session, bj(3, 9, 11)) == 1
    assert sorted(k for k, _ in alerts(session, order)) == ["overdue_supervise", "remind_50", "remind_80"]
    assert [e.data["kind"] for e in alert_events(session, order)] == ["overdue_supervise"]
    assert messages(session, order, kind="reminder") == []


def test_two_watchdogs_racing_fire_once(session_factory, factory, session, cast, now):
    import threading

    from database import session_scope

    order = factory.order(cast["staff"], now, level=2, department_id=cast["dept"].id)
    wo.sign(factory.ctx(cast["helper"], bj(3, 2, 11)), order)
    session.commit()
    fired, errors = [], []
    barrier = threading.Barrier(2)

    def work():
        try:
            barrier.wait()
            with session_scope(session_factory) as s:
                fired.append(run_sla_watchdog(s, bj(3, 11, 11), CHANNELS))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(fired) == 3  # supervise, leader, bizenv — once in total
    with session_factory() as s:
        assert len(alert_events(s, order)) == 3
