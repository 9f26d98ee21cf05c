"""Read-side queries over work orders: filtered lists, queues, dashboard counts, pickers.

Pure SQLAlchemy (no Flask): the console, the mobile pages and the API share it. Every list is
scoped by ``permissions.visible_orders_clause`` so a person only ever sees what ``can_view`` allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, exists, func, not_, or_, select, true, union
from sqlalchemy.orm import Session, selectinload

from models import (
    Department,
    DepartmentKind,
    Enterprise,
    ExtensionRequest,
    Person,
    RequestDomain,
    Role,
    WorkOrder,
    WorkOrderEvent,
    Zone,
)
from services.grid.leavers import LIVE_STATES
from services.orders.lifecycle import State
from services.paging import Page
from services.permissions import department_and_units, enterprise_scope_clause, visible_orders_clause

PER_PAGE = 20
MAX_PER_PAGE = 100
HUB_ROLES = (Role.DISPATCHER, Role.BIZENV_OFFICE, Role.SYSADMIN)


@dataclass(frozen=True)
class OrderFilters:
    state: str | None = None
    level: int | None = None
    zone_id: int | None = None
    department_id: int | None = None
    domain_id: int | None = None  # 诉求类别
    overdue: bool = False
    green: bool = False
    mine: bool = False
    q: str = ""
    page: int = 1
    per_page: int = PER_PAGE
    # Choice fields of the request forms: (field key, option) pairs, all of which must match.
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def active(self) -> bool:
        return any((self.state, self.level, self.zone_id, self.department_id, self.domain_id, self.overdue,
                    self.green, self.mine, self.q.strip(), self.fields))


# --------------------------------------------------------------------------------------------
# Clauses
# --------------------------------------------------------------------------------------------
def overdue_clause(now: datetime):
    """Past the handling deadline while the clock runs, or past the sign deadline while unsigned."""
    return or_(
        and_(WorkOrder.state.in_(State.CLOCK_RUNNING), WorkOrder.due_at.is_not(None), WorkOrder.due_at < now),
        and_(WorkOrder.state == State.DISPATCHED, WorkOrder.sign_due_at.is_not(None), WorkOrder.sign_due_at < now),
    )


def sign_overdue_clause(now: datetime):
    return and_(WorkOrder.state == State.DISPATCHED, WorkOrder.sign_due_at.is_not(None), WorkOrder.sign_due_at < now)


def mine_clause(person: Person):
    """Orders this person submitted, handles, or whose enterprise they serve: a union of three index
    lookups (as an OR, PostgreSQL would filter every row the other conditions leave)."""
    return WorkOrder.id.in_(union(
        select(WorkOrder.id).where(WorkOrder.submitter_id == person.id),
        select(WorkOrder.id).where(WorkOrder.assigned_person_id == person.id),
        select(WorkOrder.id).join(Enterprise, Enterprise.id == WorkOrder.enterprise_id)
        .where(Enterprise.service_staff_id == person.id),
    ))


def pending_extension_clause():
    return WorkOrder.id.in_(select(ExtensionRequest.work_order_id).where(ExtensionRequest.status == "pending"))


def needs_reassignment_clause():
    """Live orders still assigned to someone who has since left a platform's address book
    (``services.grid.leavers`` notes it on the order); reassigning the order clears it."""
    flagged = exists().where(
        WorkOrderEvent.work_order_id == WorkOrder.id,
        WorkOrderEvent.data["needs_reassignment"].as_boolean() == true(),
        WorkOrderEvent.data["person_id"].as_integer() == WorkOrder.assigned_person_id,
    )
    return and_(WorkOrder.state.in_(LIVE_STATES), WorkOrder.assigned_person_id.is_not(None), flagged)


def _department_clause(department_id: int):
    return department_and_units(WorkOrder.assigned_department_id, department_id)


# A search naming at most this many enterprises lists their ids in the query: an IN-subquery inside
# the OR would make PostgreSQL filter every row of the table instead of combining the index scans.
LISTED_ENTERPRISES = 1_000


def _enterprise_matches(pattern: str):
    return select(Enterprise.id).where(
        or_(Enterprise.name.ilike(pattern), Enterprise.uscc.ilike(pattern), Enterprise.reg_no.ilike(pattern))
    )


def _search_clause(q: str, session: Session | None = None):
    pattern = f"%{q.strip()}%"
    enterprises = _enterprise_matches(pattern)
    if session is not None:
        found = list(session.scalars(enterprises.limit(LISTED_ENTERPRISES + 1)))
        if len(found) <= LISTED_ENTERPRISES:
            enterprises = found
    return or_(
        WorkOrder.number.ilike(pattern),
        WorkOrder.title.ilike(pattern),
        WorkOrder.enterprise_id.in_(enterprises),
    )


def green_first():
    """Green-channel orders waiting in a hub queue come before everything else (first in line)."""
    return case((and_(WorkOrder.state == State.PENDING_DISPATCH, WorkOrder.green_channel.is_(True)), 0), else_=1)


def _with_relations(query):
    return query.options(
        selectinload(WorkOrder.enterprise),
        selectinload(WorkOrder.assigned_department).selectinload(Department.parent),
        selectinload(WorkOrder.assigned_person),
        selectinload(WorkOrder.zone),
    )


# --------------------------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------------------------
def filtered_clauses(person: Person, filters: OrderFilters, now: datetime, session: Session | None = None) -> list:
    clauses = [visible_orders_clause(person)]
    if filters.state:
        clauses.append(WorkOrder.state == filters.state)
    if filters.level:
        clauses.append(WorkOrder.level == filters.level)
    if filters.zone_id:
        clauses.append(WorkOrder.zone_id == filters.zone_id)
    if filters.department_id:
        clauses.append(_department_clause(filters.department_id))
    if filters.domain_id:
        clauses.append(WorkOrder.domain_id == filters.domain_id)
    if filters.overdue:
        clauses.append(overdue_clause(now))
    if filters.green:
        clauses.append(WorkOrder.green_channel.is_(True))
    if filters.mine:
        clauses.append(mine_clause(person))
    if filters.q.strip():
        clauses.append(_search_clause(filters.q, session))
    for key, value in filters.fields:
        clauses.append(WorkOrder.custom_fields[key].as_string() == value)
    return clauses


# Above this many rows (PostgreSQL's estimate) the list shows "约 N 件" instead of counting them all.
ESTIMATE_COUNT_ABOVE = 20_000
# At most this many matches: find them, then sort them (see search_orders).
FEW_MATCHES = 5_000


def _count(session: Session, clauses: list) -> tuple[int, bool]:
    """(rows, estimated): the planner's estimate when it is large (PostgreSQL), else an exact count."""
    if session.get_bind().dialect.name == "postgresql":
        compiled = select(WorkOrder.id).where(*clauses).compile(
            dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
        plan = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        if estimate > ESTIMATE_COUNT_ABOVE:
            return estimate, True
    return int(session.scalar(select(func.count(WorkOrder.id)).where(*clauses)) or 0), False


def search_orders(session: Session, person: Person, filters: OrderFilters, now: datetime) -> Page:
    """One page in the list's order: green-channel orders waiting in a hub queue first, then newest
    first. Two queries instead of one ``ORDER BY CASE …``: the few green ones, then the rest walking
    the (created_at, id) index — no sort of the whole table, even on a deep page."""
    clauses = filtered_clauses(person, filters, now, session)
    per_page = min(max(1, filters.per_page), MAX_PER_PAGE)
    total, estimated = _count(session, clauses)
    page = min(max(1, filters.page), max(1, math.ceil(total / per_page)))
    offset = (page - 1) * per_page
    first_in_line = and_(WorkOrder.state == State.PENDING_DISPATCH, WorkOrder.green_channel.is_(True))
    newest = (WorkOrder.created_at.desc(), WorkOrder.id.desc())
    green = session.scalar(select(func.count(WorkOrder.id)).where(*clauses, first_in_line)) or 0
    items: list[WorkOrder] = []
    if offset < green:
        query = _with_relations(select(WorkOrder)).where(*clauses, first_in_line).order_by(*newest)
        items += session.scalars(query.offset(offset).limit(per_page))
    if len(items) < per_page:
        # The page's ids first (the index alone serves them), then their rows: a deep page reads 20 rows
        # of the table, not the 100,000 it skips. When few orders match (a number, an enterprise), they
        # are found first and then sorted: walking the newest-first index would pass over the whole
        # table looking for them (PostgreSQL: a MATERIALIZED CTE keeps the planner from doing that).
        if not estimated and total <= FEW_MATCHES:
            hits = (select(WorkOrder.id, WorkOrder.created_at).where(*clauses, not_(first_in_line))
                    .cte("hits").prefix_with("MATERIALIZED", dialect="postgresql"))
            ids = select(hits.c.id).order_by(hits.c.created_at.desc(), hits.c.id.desc())
        else:
            ids = select(WorkOrder.id).where(*clauses, not_(first_in_line)).order_by(*newest)
        ids = ids.offset(max(0, offset - green)).limit(per_page - len(items))
        rest = _with_relations(select(WorkOrder)).where(WorkOrder.id.in_(ids.scalar_subquery())).order_by(*newest)
        items += session.scalars(rest)
    return Page(items, total, page, per_page, extra={"estimated": estimated})


def _queue(session: Session, person: Person, *clauses, oldest_first: bool = True, limit: int = 50) -> list[WorkOrder]:
    order_by = [green_first(), WorkOrder.created_at.asc() if oldest_first else WorkOrder.created_at.desc()]
    query = (
        _with_relations(select(WorkOrder))
        .where(visible_orders_clause(person), *clauses)
        .order_by(*order_by, WorkOrder.id)
        .limit(limit)
    )
    return list(session.scalars(query))


@dataclass
class Board:
    screening: list[WorkOrder]
    pending_dispatch: list[WorkOrder]
    waiting_sign: list[WorkOrder]
    overdue: list[WorkOrder]
    extensions: list[WorkOrder]
    max_returns: int
    needs_reassignment: list[WorkOrder] = field(default_factory=list)
    duplicates: list[WorkOrder] = field(default_factory=list)


def dispatch_board(session: Session, person: Person, now: datetime, *, max_returns: int = 3) -> Board:
    """The hubs' dispatch board: every queue that needs a decision, most urgent first."""
    return Board(
        screening=_queue(session, person, WorkOrder.state == State.RECEIVED),
        # Green channel first; among the rest, orders at the return limit (designation needed) first.
        pending_dispatch=sorted(
            _queue(session, person, WorkOrder.state == State.PENDING_DISPATCH, limit=100),
            key=lambda o: (not o.green_channel, o.return_count < max_returns),
        ),
        waiting_sign=sorted(
            _queue(session, person, WorkOrder.state == State.DISPATCHED, limit=100),
            key=lambda o: (o.sign_due_at is None, o.sign_due_at or now),
        ),
        overdue=_queue(session, person, overdue_clause(now), limit=100),
        extensions=_queue(session, person, pending_extension_clause()),
        max_returns=max_returns,
        needs_reassignment=_queue(session, person, needs_reassignment_clause(), limit=100),
        # 重复诉求: linked by their submitters to an earlier order, waiting for the grid center to merge.
        duplicates=_queue(session, person, WorkOrder.duplicate_of_id.is_not(None),
                          WorkOrder.state.in_((State.RECEIVED, *LIVE_STATES)), limit=100),
    )


# --------------------------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Counts:
    my_open: int
    waiting_sign: int
    overdue: int
    to_feedback: int
    to_visit: int
    pending_dispatch: int
    screening: int
    extensions: int


def dashboard_counts(session: Session, person: Person, now: datetime) -> Counts:
    """The home page's eight counts in one statement of eight scalar subqueries, each one an index
    range (per state, and state + deadline for the overdue), so that the cost follows the number of
    orders counted, not a pass over every open order's row."""
    visible = visible_orders_clause(person)
    department_side = person.role in Role.DEPARTMENT_ROLES

    def count(*clauses):
        return select(func.count()).select_from(WorkOrder).where(visible, *clauses).scalar_subquery()

    # A chief helper's "my open orders" are the department's; a zone's "waiting for sign" its dispatched orders.
    mine = (WorkOrder.state.in_(State.OPEN),) if department_side else (
        WorkOrder.state.in_(State.OPEN), mine_clause(person))
    # overdue_clause is "late on the handling clock, or late on the sign-in": counted as two disjoint
    # index ranges, (state, due_at) and then the unsigned ones not already late on the handling clock.
    late = and_(WorkOrder.state.in_(State.CLOCK_RUNNING), WorkOrder.due_at.is_not(None), WorkOrder.due_at < now)
    row = session.execute(
        select(
            count(*mine),
            count(WorkOrder.state == State.DISPATCHED),
            count(late) + count(sign_overdue_clause(now), or_(WorkOrder.due_at.is_(None), WorkOrder.due_at >= now)),
            count(WorkOrder.state == State.RESOLVED),
            count(WorkOrder.state == State.FED_BACK),
            count(WorkOrder.state == State.PENDING_DISPATCH),
            count(WorkOrder.state == State.RECEIVED),
            count(pending_extension_clause()),
        )
    ).one()
    numbers = [int(n or 0) for n in row]
    return Counts(my_open=numbers[0], waiting_sign=numbers[1], overdue=numbers[2], to_feedback=numbers[3],
                  to_visit=numbers[4], pending_dispatch=numbers[5], screening=numbers[6], extensions=numbers[7])


# --------------------------------------------------------------------------------------------
# Pickers
# --------------------------------------------------------------------------------------------
def search_enterprises(session: Session, person: Person, q: str, *, limit: int = 20) -> list[Enterprise]:
    query = select(Enterprise).options(selectinload(Enterprise.zone), selectinload(Enterprise.service_staff))
    scope = enterprise_scope_clause(person)
    if scope is not None:
        query = query.where(scope)
    text = (q or "").strip()
    if text:
        pattern = f"%{text}%"
        query = query.where(
            or_(Enterprise.name.ilike(pattern), Enterprise.uscc.ilike(pattern), Enterprise.reg_no.ilike(pattern))
        )
    return list(session.scalars(query.order_by(Enterprise.name, Enterprise.id).limit(limit)))


def enterprise_in_scope(session: Session, person: Person, enterprise_id: int) -> Enterprise | None:
    query = select(Enterprise).where(Enterprise.id == enterprise_id)
    scope = enterprise_scope_clause(person)
    if scope is not None:
        query = query.where(scope)
    return session.scalar(query)


def department_choices(session: Session) -> list[Department]:
    """Departments and units an order can be assigned to; each unit right after its parent."""
    rows = list(
        session.scalars(
            select(Department)
            .options(selectinload(Department.parent))
            .where(Department.active.is_(True), Department.kind != DepartmentKind.HUB)
            .order_by(Department.sort_order, Department.id)
        )
    )
    parents = [d for d in rows if d.parent_id is None]
    children: dict[int, list[Department]] = {}
    for d in rows:
        if d.parent_id is not None:
            children.setdefault(d.parent_id, []).append(d)
    result: list[Department] = []
    for parent in parents:
        result.append(parent)
        result.extend(children.pop(parent.id, []))
    for orphans in children.values():  # units whose parent is inactive
        result.extend(orphans)
    return result


def domain_choices(session: Session) -> list[RequestDomain]:
    return list(session.scalars(select(RequestDomain).order_by(RequestDomain.sort_order, RequestDomain.id)))


def zone_choices(session: Session) -> list[Zone]:
    return list(session.scalars(select(Zone).where(Zone.active.is_(True)).order_by(Zone.sort_order, Zone.id)))
