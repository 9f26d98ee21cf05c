"""The order list pages through the index in the list's order, and the home page counts in one query."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select, update

from models import Role, WorkOrder
from services.orders import queries
from services.orders.lifecycle import State


def test_pages_follow_green_first_then_newest_across_page_boundaries(factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF, login="staff")
    leader = factory.person(Role.DISTRICT_LEADER, login="leader")
    orders = [factory.order(staff, now + timedelta(minutes=i), level=2) for i in range(13)]
    session.flush()
    green = [orders[2].id, orders[5].id, orders[11].id]
    session.execute(update(WorkOrder).where(WorkOrder.id.in_(green)).values(green_channel=True))
    session.execute(update(WorkOrder).where(WorkOrder.id == orders[5].id).values(state=State.PROCESSING))
    session.flush()
    expected = list(session.scalars(
        select(WorkOrder.id).where(WorkOrder.number.is_not(None))
        .order_by(queries.green_first(), WorkOrder.created_at.desc(), WorkOrder.id.desc())))
    seen = []
    for page in range(1, 6):
        result = queries.search_orders(session, leader, queries.OrderFilters(page=page, per_page=3), now)
        assert result.total == 13 and result.extra == {"estimated": False}
        seen += [o.id for o in result.items]
    assert seen == expected
    assert seen[:2] == [orders[11].id, orders[2].id]  # green and waiting for dispatch, newest first
    # A page past the end shows the last one.
    last = queries.search_orders(session, leader, queries.OrderFilters(page=99, per_page=3), now)
    assert last.page == 5 and [o.id for o in last.items] == expected[12:]


def test_home_page_counts_are_one_statement_and_match_separate_counts(factory, session, now):
    staff = factory.person(Role.SERVICE_STAFF, login="staff")
    orders = [factory.order(staff, now - timedelta(days=10 * i), level=1 + i % 2) for i in range(4)]
    session.flush()
    # Late on both clocks (counted once), late on the sign-in only, late on the handling clock only.
    late = now - timedelta(hours=1)
    for order, values in zip(orders, (
            {"state": State.DISPATCHED, "due_at": late, "sign_due_at": late},
            {"state": State.DISPATCHED, "due_at": now + timedelta(days=3), "sign_due_at": late},
            {"state": State.PROCESSING, "due_at": late, "sign_due_at": None}), strict=False):
        session.execute(update(WorkOrder).where(WorkOrder.id == order.id).values(**values))
    session.flush()
    statements = []
    engine = session.get_bind()

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        counts = queries.dashboard_counts(session, staff, now)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    visible = queries.visible_orders_clause(staff)

    def separately(*clauses):
        return session.scalar(select(func.count(WorkOrder.id)).where(visible, *clauses))

    assert counts.my_open == separately(queries.mine_clause(staff), WorkOrder.state.in_(State.OPEN)) == 4
    assert counts.overdue == separately(queries.overdue_clause(now)) == 3
    assert counts.pending_dispatch == separately(WorkOrder.state == State.PENDING_DISPATCH)
    assert counts.extensions == 0


def test_a_search_lists_the_enterprises_it_names_or_asks_for_them_when_there_are_many(
        factory, session, now, monkeypatch):
    staff = factory.person(Role.SERVICE_STAFF, login="staff")
    leader = factory.person(Role.DISTRICT_LEADER, login="leader")
    zone = staff.zone
    for i in range(3):
        enterprise = factory.enterprise(zone=zone, staff=staff, name=f"天津数控{i}有限公司")
        factory.order(staff, now - timedelta(hours=i), enterprise=enterprise, level=1)
    factory.order(staff, now, level=1, content="企业门前道路破损，请协调修复")
    session.flush()

    def found():
        page = queries.search_orders(session, leader, queries.OrderFilters(q="天津数控"), now)
        return [o.id for o in page.items]

    listed = found()
    assert len(listed) == 3
    monkeypatch.setattr(queries, "LISTED_ENTERPRISES", 1)  # more enterprises match than are listed
    assert found() == listed
