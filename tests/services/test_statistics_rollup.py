"""The rollups (days, months, open orders at months' ends) give exactly the numbers of the live
computation, survive a crash mid-update, follow a change of the holidays, and are rebuilt
idempotently (``services.statistics.rollup``)."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from database import session_scope
from models import (
    Department,
    HolidayOverride,
    Person,
    RequestDomain,
    Role,
    StatDaily,
    StatDirtyDay,
    StatDirtyMonth,
    StatMonthly,
    StatStockDay,
    StatStockMember,
    WorkOrder,
    Zone,
)
from services.errors import DomainError
from services.messaging.notify import Channels
from services.orders import operations as wo
from services.orders.alerts import run_sla_watchdog
from services.statistics import kpis as st
from services.statistics import rollup
from services.statistics.kpis import LOCAL_TZ, Period
from tests.services.test_statistics import APRIL_10, MARCH, Story

GROUPS = ("zone", "department", "level", "domain")


@pytest.fixture
def story(factory, session):
    return Story(factory, session)


def snapshot(report: st.Report) -> list:
    """Every number of every row, handling time rounded (floats summed in another order)."""
    result = []
    for row in report.all_rows():
        numbers = asdict(row.counts)
        numbers["handling_seconds"] = round(numbers["handling_seconds"], 3)
        result.append((row.key, row.label, row.kind, numbers))
    return result


def assert_same(session, people, periods, now, *, expect_rollup=True):
    used = False
    for person in people:
        scope = st.scope_for(person)
        for period in periods:
            used |= rollup.plan(session, period, now) is not None
            for group in GROUPS:
                live = st.build_report(session, scope, group, period, now, use_rollups=False)
                rolled = st.build_report(session, scope, group, period, now)
                for a, b in zip(snapshot(rolled), snapshot(live), strict=True):
                    assert a == b, (person.name, period, group, {k: (v, b[3][k]) for k, v in a[3].items() if v != b[3][k]})
    assert used or not expect_rollup


def refresh(session, session_factory, now):
    session.commit()  # SQLite: no read transaction held while the job writes
    result = rollup.refresh(session_factory, now)
    session.commit()
    return result


def test_story_rollup_matches_live(story, session, session_factory):
    session.commit()
    result = refresh(session, session_factory, APRIL_10)
    assert result.computed > 30 and result.remaining == 0
    session.commit()
    people = [story.dispatcher, story.zone_admin, story.rsj_leader, story.gxj_helper]
    periods = [MARCH, Period(date(2026, 2, 1), date(2026, 4, 30)), Period(date(2026, 3, 3), date(2026, 3, 3)),
               st.preset_period("this_year", APRIL_10)]
    assert_same(session, people, periods, APRIL_10)
    # The exact numbers of test_statistics hold through the rollup.
    report = st.build_report(session, st.scope_for(story.dispatcher), "zone", MARCH, APRIL_10)
    tianmu = next(r for r in report.rows if r.label == "天穆镇").counts
    assert (tianmu.received, tianmu.refused, tianmu.resolved, tianmu.backlog) == (5, 1, 4, 4)
    assert rollup.plan(session, MARCH, APRIL_10).live == []
    # February and March were added up, and the open orders at their ends kept; a past month's
    # stocks come from them.
    assert session.scalar(select(func.count()).select_from(StatDirtyMonth)) == 0
    assert {date(2026, 2, 1), date(2026, 3, 1)} <= set(session.scalars(select(StatMonthly.month)))
    assert st.stock_snapshot(session, MARCH, APRIL_10) == st.StockSnapshot(date(2026, 3, 31), counted=True)
    assert session.get(StatStockDay, date(2026, 3, 31)).orders == tianmu.backlog + sum(
        r.counts.backlog for r in report.rows if r.label != "天穆镇")


def test_changes_after_the_last_run_are_read_live_until_the_next(story, session, session_factory):
    session.commit()
    refresh(session, session_factory, APRIL_10)
    # O6 (created 03-16) is resolved and visited on 04-10: its March days change under the rollup.
    f_ctx = story.session
    o6 = f_ctx.get(WorkOrder, story.o6.id)
    from tests.factories import Factory

    ctx = Factory(session).ctx
    wo.resolve(ctx(story.staff, APRIL_10), o6, result="道路已修复完毕")
    session.commit()
    plan = rollup.plan(session, MARCH, APRIL_10)
    assert plan is not None and (date(2026, 3, 16), date(2026, 3, 16)) in plan.live
    # O6 was open at the end of March: March's stocks are counted from its members again until the next run.
    assert st.stock_snapshot(session, MARCH, APRIL_10) == st.StockSnapshot(date(2026, 3, 31), counted=False)
    assert_same(session, [story.dispatcher, story.zone_admin], [MARCH, Period(date(2026, 3, 1), date(2026, 4, 10))],
                APRIL_10)
    refresh(session, session_factory, APRIL_10 + timedelta(minutes=1))
    session.commit()
    assert rollup.plan(session, MARCH, APRIL_10).live == []
    assert st.stock_snapshot(session, MARCH, APRIL_10) == st.StockSnapshot(date(2026, 3, 31), counted=True)
    assert_same(session, [story.dispatcher], [MARCH], APRIL_10)


def test_a_crash_mid_update_leaves_dirty_days_read_live_and_the_rerun_completes(
        story, session, session_factory, monkeypatch):
    session.commit()
    real = rollup.compute_day
    calls = []

    def crashing(s, day, now):
        calls.append(day)
        if len(calls) == 10:
            real(s, day, now)  # the work is done, then the process dies before the commit
            raise SystemExit("killed")
        return real(s, day, now)

    monkeypatch.setattr(rollup, "compute_day", crashing)
    with pytest.raises(SystemExit):
        refresh(session, session_factory, APRIL_10)
    monkeypatch.setattr(rollup, "compute_day", real)
    with session_scope(session_factory) as s:
        dirty = set(s.scalars(select(StatDirtyDay.day)))
        assert calls[9] in dirty and calls[8] not in dirty
    # Meanwhile every report is still exact: the dirty days are computed live.
    assert_same(session, [story.dispatcher, story.rsj_leader], [MARCH], APRIL_10)
    result = refresh(session, session_factory, APRIL_10)
    assert result.remaining == 0
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(StatDirtyDay)) == 0
        before = s.scalar(select(func.count()).select_from(StatDaily))
    # A rebuild of any range is idempotent: same rows, same numbers.
    session.commit()
    assert rollup.rebuild(session_factory, date(2026, 2, 1), date(2026, 4, 9), APRIL_10) == 68
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(StatDaily)) == before
    session.commit()
    assert_same(session, [story.dispatcher, story.rsj_leader], [MARCH], APRIL_10)


# --------------------------------------------------------------------------------------------------
# A random history
# --------------------------------------------------------------------------------------------------
def random_history(factory, session, seed: int, start: datetime, days: int):
    rng = random.Random(seed)
    zones = session.scalars(select(Zone).order_by(Zone.id).limit(3)).all()
    departments = [factory.department(c) for c in ("rsj", "czj", "zjw", "gxj")]
    helpers = {d.id: factory.person(Role.CHIEF_HELPER, department=d, name=f"帮办{d.id}") for d in departments}
    staff = {z.id: factory.person(Role.SERVICE_STAFF, zone=z, name=f"服务员{z.id}") for z in zones}
    dispatcher = factory.person(Role.DISPATCHER, department=factory.department("grid_center"), name="调度")
    enterprises = {z.id: factory.enterprise(zone=z, staff=staff[z.id], name=f"天津随机{z.id}有限公司") for z in zones}
    domains = list(session.scalars(select(RequestDomain).order_by(RequestDomain.id).limit(4)))
    orders: list[WorkOrder] = []
    contents = ["企业扩产急需招聘数控技术工人，请协助对接", "企业门前道路破损影响通行，请协调修复",
                "企业咨询社保补缴政策，需要部门答复", "企业申请电力增容，请协调供电部门"]
    moments = sorted(start + timedelta(minutes=rng.randrange(days * 24 * 60)) for _ in range(days * 5))
    for when in moments:
        roll = rng.random()
        try:
            if roll < 0.3 or not orders:
                zone = rng.choice(zones)
                kw = {"level": rng.choice((1, 2, 2))}
                if kw["level"] == 2 and rng.random() < 0.7:
                    kw["department_id"] = rng.choice(departments).id
                if domains:
                    kw["domain_id"] = rng.choice(domains).id
                orders.append(factory.order(staff[zone.id], when, enterprise=enterprises[zone.id],
                                            content=rng.choice(contents), **kw))
                continue
            order = rng.choice(orders)
            session.refresh(order)
            state = order.state
            department = order.assigned_department_id
            helper = helpers.get(department) if department else None
            owner = staff.get(order.zone_id)
            ctx = factory.ctx
            if state == st.State.PENDING_DISPATCH:
                wo.dispatch(ctx(dispatcher, when), order, department_id=rng.choice(departments).id)
            elif state == st.State.DISPATCHED and helper is not None:
                if rng.random() < 0.25:
                    wo.return_order(ctx(helper, when), order, reason="不属于本部门职责")
                else:
                    wo.sign(ctx(helper, when), order)
            elif state == st.State.PROCESSING:
                if rng.random() < 0.15:
                    wo.supervise(ctx(dispatcher, when), order, note="请抓紧办理")
                else:
                    wo.resolve(ctx(helper or owner, when), order, result="已协调解决企业诉求")
            elif state == st.State.RESOLVED:
                wo.feedback(ctx(owner, when), order, note="电话告知")
            elif state == st.State.FED_BACK:
                wo.visit(ctx(owner, when), order, satisfaction=rng.choice(st.Satisfaction.ALL))
            elif rng.random() < 0.1:
                run_sla_watchdog(session, when, Channels(sandbox=True))
        except DomainError:
            pass
    session.flush()
    return orders


@pytest.mark.parametrize("seed", [1, 2])
def test_random_history_rollup_matches_live(factory, session, session_factory, seed):
    start = datetime(2026, 1, 10, 8, 0, tzinfo=LOCAL_TZ)
    now = datetime(2026, 3, 10, 15, 0, tzinfo=LOCAL_TZ)
    random_history(factory, session, seed, start, 54)
    session.commit()
    # The jobs process ran every few days during the history's last weeks: roll up, then add more.
    refresh(session, session_factory, now)
    session.commit()
    people = [session.scalar(select(Person).where(Person.role == Role.DISPATCHER))]
    people += list(session.scalars(select(Person).where(Person.role == Role.CHIEF_HELPER).limit(1)))
    people += list(session.scalars(select(Person).where(Person.role == Role.SERVICE_STAFF).limit(1)))
    periods = [Period(date(2026, 1, 1), date(2026, 3, 31)), st.preset_period("last_30_days", now),
               Period(date(2026, 2, 14), date(2026, 2, 20)), Period(date(2026, 2, 1), date(2026, 2, 28))]
    assert_same(session, people, periods, now)
    # More history on top (touching closed days) without a run, then with one.
    random_history(factory, session, seed + 100, datetime(2026, 3, 9, 8, 0, tzinfo=LOCAL_TZ), 1)
    session.commit()
    later = now + timedelta(hours=2)
    assert_same(session, people, periods, later)
    refresh(session, session_factory, later)
    session.commit()
    assert_same(session, people, periods, later)
    # Each month's end kept from the previous one holds exactly the orders the whole log says were open.
    for day in session.scalars(select(StatStockDay.day)):
        as_of = st._local_midnight(day + timedelta(days=1))
        kept = set(session.execute(select(StatStockMember.work_order_id, StatStockMember.state)
                                   .where(StatStockMember.day == day)))
        assert kept == set(session.execute(st.stock_members(as_of))), day
        assert kept == set(session.execute(select(st.stock_members_since(None, as_of).subquery()))), day
    session.commit()
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(StatDaily)) > 0
        assert s.scalar(select(func.count()).select_from(Department)) > 0


def test_whole_months_of_day_stretches():
    assert rollup_months([(date(2026, 1, 1), date(2026, 12, 31))]) == (
        [date(2026, m, 1) for m in range(1, 13)], [])
    assert rollup_months([(date(2026, 1, 15), date(2026, 3, 10)), (date(2026, 3, 12), date(2026, 4, 30))]) == (
        [date(2026, 2, 1), date(2026, 4, 1)],
        [(date(2026, 1, 15), date(2026, 1, 31)), (date(2026, 3, 1), date(2026, 3, 10)),
         (date(2026, 3, 12), date(2026, 3, 31))])


rollup_months = st.whole_months


def test_a_crash_while_adding_up_a_month_or_keeping_a_months_end(story, session, session_factory, monkeypatch):
    session.commit()
    real_month, real_stocks = rollup.compute_month, rollup.compute_stocks

    def dies(real):
        def run(s, *args):
            real(s, *args)
            raise SystemExit("killed")
        return run

    monkeypatch.setattr(rollup, "compute_month", dies(real_month))
    with pytest.raises(SystemExit):
        refresh(session, session_factory, APRIL_10)
    monkeypatch.setattr(rollup, "compute_month", real_month)
    # Every day is rolled up, no month is added up: the reports read the days, and are exact.
    assert session.scalar(select(func.count()).select_from(StatDirtyMonth)) >= 2
    assert session.scalar(select(func.count()).select_from(StatMonthly)) == 0
    assert_same(session, [story.dispatcher, story.zone_admin], [MARCH, st.preset_period("this_year", APRIL_10)],
                APRIL_10)
    session.commit()
    monkeypatch.setattr(rollup, "compute_stocks", dies(real_stocks))
    with pytest.raises(SystemExit):
        refresh(session, session_factory, APRIL_10)
    monkeypatch.setattr(rollup, "compute_stocks", real_stocks)
    assert session.scalar(select(func.count()).select_from(StatDirtyMonth)) == 0
    assert session.scalar(select(func.count()).select_from(StatStockDay)) == 0
    assert session.scalar(select(func.count()).select_from(StatStockMember)) == 0
    assert st.stock_snapshot(session, MARCH, APRIL_10) is None
    assert_same(session, [story.dispatcher], [MARCH], APRIL_10)
    session.commit()
    result = refresh(session, session_factory, APRIL_10)
    assert result.stocks >= 2
    assert st.stock_snapshot(session, MARCH, APRIL_10) == st.StockSnapshot(date(2026, 3, 31), counted=True)
    assert_same(session, [story.dispatcher, story.zone_admin], [MARCH], APRIL_10)
    # Keeping a month's end again changes nothing.
    session.commit()
    before = sorted(session.execute(select(StatStockMember.day, StatStockMember.work_order_id, StatStockMember.state)))
    session.commit()
    rollup.rebuild(session_factory, date(2026, 3, 1), date(2026, 3, 31), APRIL_10)
    assert sorted(session.execute(select(StatStockMember.day, StatStockMember.work_order_id,
                                         StatStockMember.state))) == before


def test_a_change_of_the_holidays_recomputes_the_handling_time_from_that_day(story, session, session_factory):
    session.commit()
    refresh(session, session_factory, APRIL_10)
    session.commit()
    # 2026-03-09 (a Monday) becomes a day off: every order resolved since handled one working day less.
    session.add(HolidayOverride(day=date(2026, 3, 9), is_workday=False, note="调休"))
    session.commit()
    plan = rollup.plan(session, MARCH, APRIL_10)
    assert plan is not None and plan.live == [(date(2026, 3, 9), date(2026, 3, 31))]
    assert_same(session, [story.dispatcher, story.zone_admin], [MARCH], APRIL_10)
    result = refresh(session, session_factory, APRIL_10 + timedelta(minutes=1))
    assert result.marked >= 23 and result.remaining == 0
    session.commit()
    assert rollup.plan(session, MARCH, APRIL_10).live == []
    assert_same(session, [story.dispatcher, story.zone_admin, story.rsj_leader], [MARCH], APRIL_10)
