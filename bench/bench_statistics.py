"""Statistics benchmark: the KPI report over 50,000 generated orders and their event logs.

Prints, on the database ``bench/run.py`` was given (SQLite by default, ``--database-url`` for
PostgreSQL), the time of ``services.statistics.kpis.build_report`` for

* a **past year by zone** (the state at the period's end rebuilt from the event log — the heaviest),
* a **past year by department** (dispatch / sign / return attribution over the event stream),
* the **current month by level** (the current state, no rebuilding),

each against a baseline measured in the same run: one hand-written ``GROUP BY`` counting the
period's orders per zone. ``BENCH_STATISTICS_ORDERS=5000`` for a quick run. The generated rows
are removed afterwards.
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, select, text  # noqa: E402

from bench.run import best_of  # noqa: E402
from database import session_scope  # noqa: E402
from models import (  # noqa: E402
    Department,
    DepartmentKind,
    RequestDomain,
    ReturnVisit,
    Satisfaction,
    WorkOrder,
    WorkOrderEvent,
    Zone,
)
from services.orders.lifecycle import Action, State  # noqa: E402
from services.statistics import kpis as statistics  # noqa: E402

DEFAULT_ORDERS = 50_000
PREFIX = "BST-"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
FIRST = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
SPAN_SECONDS = int((NOW - FIRST).total_seconds()) - 3600
CHUNK = 5_000
D = timedelta(days=1)
H = timedelta(hours=1)


def _order_story(n: int, rng: random.Random, zones, departments, domains, staff_id, enterprise_id):
    """One order and its events (and visit): a plausible life, cut short where ``rng`` says."""
    created = FIRST + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    level = rng.choices((1, 2, 3, 4), (40, 45, 10, 5))[0]
    green = level == 3 and rng.random() < 0.4
    department = rng.choice(departments) if level >= 2 else None
    order = {
        "number": f"{PREFIX}{n:07d}", "enterprise_id": enterprise_id, "submitter_id": staff_id,
        "zone_id": rng.choice(zones), "channel": "bench", "domain_id": rng.choice(domains),
        "title": "基准诉求", "content": "基准诉求内容", "level": level, "green_channel": green, "priority": "normal",
        "created_at": created, "updated_at": created, "accepted_at": created, "version_id": 1,
        "assigned_department_id": department, "sign_due_at": created + D if department else None,
        "due_at": created + 5 * D, "clock_started_at": created, "return_count": 0,
    }
    events = [(Action.CREATE, created, None, State.RECEIVED, {})]
    visit = None
    if rng.random() < 0.03:
        order["state"] = State.REJECTED
        order.update(assigned_department_id=None, accepted_at=None, sign_due_at=None, due_at=None)
        events.append((Action.REJECT, created + H, State.RECEIVED, State.REJECTED, {"category": "litigation"}))
        return order, events, visit
    t = created + H
    if department is None:
        events.append((Action.ACCEPT, t, State.RECEIVED, State.PROCESSING, {"level": level}))
        state = State.PROCESSING
    else:
        if rng.random() < 0.08:  # a first department returns it
            wrong = rng.choice(departments)
            events.append((Action.ACCEPT, t, State.RECEIVED, State.DISPATCHED, {"department_id": wrong}))
            events.append((Action.RETURN, t + 2 * H, State.DISPATCHED, State.PENDING_DISPATCH,
                           {"department_id": wrong, "return_count": 1}))
            order["return_count"] = 1
            t += 3 * H
            events.append((Action.DISPATCH, t, State.PENDING_DISPATCH, State.DISPATCHED,
                           {"department_id": department}))
        else:
            events.append((Action.ACCEPT, t, State.RECEIVED, State.DISPATCHED, {"department_id": department}))
        if t + 2 * D > NOW or rng.random() < 0.05:
            order["state"] = State.DISPATCHED
            return order, events, visit
        signed = t + timedelta(hours=rng.choice((1, 3, 8, 30)))
        events.append((Action.SIGN, signed, State.DISPATCHED, State.PROCESSING,
                       {"late": True} if signed > order["sign_due_at"] else {}))
        order["signed_at"] = signed
        state = State.PROCESSING
        t = signed
    resolved = t + timedelta(hours=rng.randrange(2, 24 * 9))
    if resolved > NOW or rng.random() < 0.1:
        order["state"] = state
        if order["due_at"] < NOW and rng.random() < 0.5:
            events.append((Action.ALERT, order["due_at"] + H, state, state, {"kind": "overdue_supervise"}))
        return order, events, visit
    order["resolved_at"] = resolved
    events.append((Action.RESOLVE, resolved, state, State.RESOLVED,
                   {"overdue": True} if resolved > order["due_at"] else {}))
    if resolved + D > NOW or rng.random() < 0.2:
        order["state"] = State.RESOLVED
        return order, events, visit
    order["feedback_at"] = resolved + 2 * H
    events.append((Action.FEEDBACK, resolved + 2 * H, State.RESOLVED, State.FED_BACK, {}))
    if rng.random() < 0.3:
        order["state"] = State.FED_BACK
        return order, events, visit
    visited = resolved + D
    satisfaction = rng.choices(Satisfaction.ALL, (50, 30, 12, 6, 2))[0]
    order.update(visited_at=visited, archived_at=visited, state=State.ARCHIVED)
    events.append((Action.VISIT, visited, State.FED_BACK, State.VISITED, {"satisfaction": satisfaction}))
    events.append((Action.ARCHIVE, visited, State.VISITED, State.ARCHIVED, {}))
    visit = {"round": 1, "satisfaction": satisfaction, "resolved": satisfaction in Satisfaction.POSITIVE,
             "comment": "", "method": "phone", "created_at": visited}
    return order, events, visit


def _generate(session_factory, ids, count: int) -> tuple[float, int]:
    staff_id, enterprise_id, _zone_id = ids
    rng = random.Random(20260302)
    with session_scope(session_factory) as session:
        zones = session.scalars(select(Zone.id).order_by(Zone.id)).all()
        departments = session.scalars(
            select(Department.id).where(Department.kind != DepartmentKind.HUB).order_by(Department.id)).all()
        domains = session.scalars(select(RequestDomain.id).order_by(RequestDomain.id)).all()
    t0 = time.perf_counter()
    event_count = 0
    for start in range(0, count, CHUNK):
        stories = [_order_story(n, rng, zones, departments, domains, staff_id, enterprise_id)
                   for n in range(start, min(count, start + CHUNK))]
        with session_scope(session_factory) as session:
            defaults = {"signed_at": None, "resolved_at": None, "feedback_at": None, "visited_at": None,
                        "archived_at": None}
            session.execute(insert(WorkOrder), [defaults | order for order, _, _ in stories])
            numbers = [order["number"] for order, _, _ in stories]
            query = select(WorkOrder.number, WorkOrder.id).where(WorkOrder.number.in_(numbers))
            id_of = {number: order_id for number, order_id in session.execute(query)}
            event_rows, visit_rows = [], []
            # Events in time order, so ids grow with time as they do in production.
            for order, events, visit in stories:
                for action, at, before, after, data in events:
                    event_rows.append({"work_order_id": id_of[order["number"]], "action": action, "actor_id": None,
                                       "actor_label": "基准", "channel": "bench", "from_state": before,
                                       "to_state": after, "note": "", "data": data, "created_at": at})
                if visit is not None:
                    visit_rows.append(visit | {"work_order_id": id_of[order["number"]]})
            event_rows.sort(key=lambda e: e["created_at"])
            session.execute(insert(WorkOrderEvent), event_rows)
            if visit_rows:
                session.execute(insert(ReturnVisit), visit_rows)
            event_count += len(event_rows)
    with session_scope(session_factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            for table in ("work_order", "work_order_event", "return_visit"):
                session.execute(text(f"ANALYZE {table}"))
        else:
            session.execute(text("ANALYZE"))
    return time.perf_counter() - t0, event_count


def _cleanup(session_factory) -> None:
    with session_scope(session_factory) as session:
        generated = select(WorkOrder.id).where(WorkOrder.number.like(f"{PREFIX}%"))
        session.execute(delete(WorkOrderEvent).where(WorkOrderEvent.work_order_id.in_(generated)))
        session.execute(delete(ReturnVisit).where(ReturnVisit.work_order_id.in_(generated)))
        session.execute(delete(WorkOrder).where(WorkOrder.number.like(f"{PREFIX}%")))


def run(session_factory, ids) -> None:
    count = int(os.environ.get("BENCH_STATISTICS_ORDERS") or DEFAULT_ORDERS)
    _cleanup(session_factory)
    generated, events = _generate(session_factory, ids, count)
    district = statistics.Scope("district", "全区")
    past_year = statistics.Period(date(2025, 1, 1), date(2025, 12, 31))
    this_month = statistics.preset_period("this_month", NOW)
    cases = (("上一年度·按片区", "zone", past_year), ("上一年度·按部门", "department", past_year),
             ("本月·按层级", "level", this_month))
    with session_factory() as session:
        dialect = session.get_bind().dialect.name
        print(f"\n统计 / statistics: {count} 件工单、{events} 条事件（生成 {generated:.1f} s），数据库 {dialect}")
        for label, group, period in cases:
            hand = text("SELECT zone_id, count(*) FROM work_order WHERE created_at >= :s AND created_at < :e "
                        "GROUP BY zone_id")
            params = {"s": period.start.replace(tzinfo=None), "e": period.end.replace(tzinfo=None)}
            session.execute(hand, params).all()  # warm the caches
            statistics.build_report(session, district, group, period, NOW)
            hand_t, _ = best_of(lambda hand=hand, params=params: session.execute(hand, params).all())
            ours_t, report = best_of(lambda group=group, period=period:
                                     statistics.build_report(session, district, group, period, NOW), repeat=3)
            total = report.total.counts
            print(f"  {label}: {ours_t:.3f} s = {ours_t / hand_t:.0f}× 手写 GROUP BY 计数 {hand_t * 1000:.1f} ms"
                  f"（受理 {total.received}、办结 {total.resolved}、派单 {total.dispatched}、积压 {total.backlog}）")
        session.rollback()
    _cleanup(session_factory)


if __name__ == "__main__":
    from bench.run import run_alone

    run_alone(run)
