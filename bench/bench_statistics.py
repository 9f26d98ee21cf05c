"""Statistics benchmark at city scale: up to 1,000,000 orders with their event logs.

    python bench/bench_statistics.py --database-url postgresql+psycopg://…/bench   # 1,000,000 orders
    BENCH_STATISTICS_ORDERS=50000 python bench/bench_statistics.py --database-url …   # smaller

On PostgreSQL the orders, events and visits are written with COPY (minutes, not hours), the daily
rollup is built once (``services.statistics.rollup.refresh``, as the jobs process would), then on
one connection, 20 runs each (p95):

* ``year_by_zone`` / ``year_by_department`` — last year's report (rollup for its days, stocks live);
* ``month_by_zone`` — this month (closed days from the rollup, today live);
* ``baseline_group_by`` — a bare ``GROUP BY zone_id`` summing last year over the rollup table;

and through the app (Flask test client, a dispatcher signed in): the order list, a text search, page
5000 and the home page's counts; and the order list's query with psycopg's default prepare threshold
(5: generic plans after a few runs) against ``DB_PREPARE_THRESHOLD`` none. The last line is
``statistics: orders=N year_by_zone_ms=… year_by_department_ms=… month_by_zone_ms=… baseline_group_by_ms=…``.
SQLite (``bench/run.py``'s default) gets 50,000 orders by plain INSERTs. ``BENCH_STATISTICS_KEEP=1`` keeps
the generated orders; a later run with ``BENCH_STATISTICS_REUSE=1`` measures them again without generating.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, insert, select, text  # noqa: E402

from database import session_scope  # noqa: E402
from models import (  # noqa: E402
    Department,
    DepartmentKind,
    Enterprise,
    Person,
    RequestDomain,
    ReturnVisit,
    Role,
    Satisfaction,
    WorkOrder,
    WorkOrderEvent,
    Zone,
)
from services.orders.lifecycle import Action, State  # noqa: E402
from services.statistics import kpis as statistics  # noqa: E402

DEFAULT_ORDERS_POSTGRES = 1_000_000
DEFAULT_ORDERS_SQLITE = 50_000
RUNS = 20
PREFIX = "BST-"
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
FIRST = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
SPAN_SECONDS = int((NOW - FIRST).total_seconds()) - 3600
CHUNK = 5_000
D = timedelta(days=1)
H = timedelta(hours=1)


TITLES = (
    "企业扩产急需招聘数控技术工人", "厂区门前道路破损影响货车通行", "申请电力增容需协调供电部门", "咨询出口退税办理进度",
    "新建厂房涉及规划调整和施工许可", "咨询一般纳税人资格登记流程", "企业用工社保补缴政策咨询", "园区污水管网堵塞需疏通",
    "申请高新技术企业认定辅导", "企业融资需对接银行贷款", "燃气管道接入报装进度缓慢", "员工子女入学咨询",
    "消防验收需要部门指导", "申请人才公寓租住", "厂区周边路灯损坏", "企业网络宽带提速需求",
)
def _order_story(n: int, rng: random.Random, zones, departments, domains, staff_id, enterprise_id):
    """One order and its events (and visit): a plausible life, cut short where ``rng`` says."""
    created = FIRST + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    level = rng.choices((1, 2, 3, 4), (40, 45, 10, 5))[0]
    green = level == 3 and rng.random() < 0.4
    department = rng.choice(departments) if level >= 2 else None
    order = {
        "number": f"{PREFIX}{n:07d}", "enterprise_id": enterprise_id, "submitter_id": staff_id,
        "zone_id": rng.choice(zones), "channel": "bench", "domain_id": rng.choice(domains),
        "title": rng.choice(TITLES), "content": "基准诉求内容", "level": level, "green_channel": green, "priority": "normal",
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
        order["dispatched_at"] = t
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


ENTERPRISES = 5_000
ENTERPRISE_WORDS = ("辰新", "天穆", "北仓", "双街", "青光", "宜兴埠", "西堤头", "大张庄", "小淀", "双口", "津北", "华辰")
ENTERPRISE_KINDS = ("机械", "食品", "生物医药", "新材料", "物流", "电子", "汽车配件", "包装", "化工", "软件")


def _column_defaults(table) -> dict:
    """What the ORM would fill in for a column left out (COPY applies no Python defaults)."""
    result = {}
    for column in table.columns:
        default = column.default
        if default is not None and default.is_scalar:
            result[column.name] = default.arg
        elif default is not None and default.is_callable and column.name != "id":
            result[column.name] = default.arg(None) if column.name not in ("created_at", "updated_at") else None
        else:
            result[column.name] = None
    return result


def _db_value(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


class _Writer:
    """Rows into a table: COPY on PostgreSQL, executemany INSERTs on SQLite."""

    def __init__(self, session, table):
        self.session = session
        self.table = table
        self.columns = [c.name for c in table.columns]
        self.defaults = _column_defaults(table)
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        if self.postgres:
            raw = self.session.connection().connection.driver_connection
            statement = f"COPY {self.table.name} ({', '.join(self.columns)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([_db_value(row.get(c, self.defaults[c])) for c in self.columns])
        else:
            self.session.execute(insert(self.table), [{c: row.get(c, self.defaults[c]) for c in self.columns}
                                                      for row in rows])


def _next_id(session, table) -> int:
    return int(session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1


def _generate(session_factory, ids, count: int) -> tuple[float, int]:
    staff_id, _enterprise_id, _zone_id = ids
    rng = random.Random(20260302)
    t0 = time.perf_counter()
    with session_scope(session_factory) as session:
        zones = session.scalars(select(Zone.id).order_by(Zone.id)).all()
        departments = session.scalars(
            select(Department.id).where(Department.kind != DepartmentKind.HUB).order_by(Department.id)).all()
        domains = session.scalars(select(RequestDomain.id).order_by(RequestDomain.id)).all()
        first_enterprise = _next_id(session, Enterprise.__table__)
        enterprises = []
        for i in range(ENTERPRISES):
            name = f"天津{rng.choice(ENTERPRISE_WORDS)}{rng.choice(ENTERPRISE_KINDS)}{i:04d}有限公司"
            enterprises.append({"id": first_enterprise + i, "name": name, "uscc": f"91120113{i:09d}X",
                                "reg_no": f"120113{i:09d}", "zone_id": rng.choice(zones), "created_at": FIRST,
                                "updated_at": FIRST})
        _Writer(session, Enterprise.__table__).write(enterprises)
    enterprise_ids = [e["id"] for e in enterprises]
    event_count = 0
    with session_scope(session_factory) as session:
        next_order = _next_id(session, WorkOrder.__table__)
        next_event = _next_id(session, WorkOrderEvent.__table__)
        next_visit = _next_id(session, ReturnVisit.__table__)
    for start in range(0, count, CHUNK):
        with session_scope(session_factory) as session:
            orders, events, visits = [], [], []
            for n in range(start, min(count, start + CHUNK)):
                order, story, visit = _order_story(n, rng, zones, departments, domains, staff_id,
                                                   rng.choice(enterprise_ids))
                order.update(id=next_order, updated_at=max(at for _a, at, *_ in story))
                orders.append(order)
                for action, at, before, after, data in story:
                    events.append({"id": next_event, "work_order_id": next_order, "action": action,
                                   "actor_label": "基准", "channel": "bench", "from_state": before, "to_state": after,
                                   "note": "", "data": data, "created_at": at})
                    next_event += 1
                if visit is not None:
                    visits.append(visit | {"id": next_visit, "work_order_id": next_order})
                    next_visit += 1
                next_order += 1
            _Writer(session, WorkOrder.__table__).write(orders)
            _Writer(session, WorkOrderEvent.__table__).write(events)
            _Writer(session, ReturnVisit.__table__).write(visits)
            event_count += len(events)
    with session_scope(session_factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            for table in ("enterprise", "work_order", "work_order_event", "return_visit"):
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))
    engine = session_factory.kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if connection.dialect.name == "postgresql":
            for table in ("enterprise", "work_order", "work_order_event", "return_visit"):
                connection.execute(text(f"VACUUM ANALYZE {table}"))
        else:
            connection.execute(text("ANALYZE"))
    return time.perf_counter() - t0, event_count


def _trigram_indexes(session_factory) -> None:
    """The migration's PostgreSQL-only indexes (bench/run.py builds the schema from the models)."""
    path = ROOT / "migrations" / "versions" / "0016_statistics_rollups_and_search_indexes.py"
    spec = importlib.util.spec_from_file_location("migration_0016", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with session_scope(session_factory) as session:
        if session.get_bind().dialect.name != "postgresql":
            return
        session.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        for name, table, column in module.TRIGRAM_INDEXES:
            session.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"))


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] * 1000


def timed(func, runs: int = RUNS) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = func()
        samples.append(time.perf_counter() - t0)
    return p95(samples), result


def _dispatcher(session) -> Person:
    dispatcher = session.scalar(select(Person).where(Person.role == Role.DISPATCHER))
    if dispatcher is None:
        hub = session.scalar(select(Department).where(Department.kind == DepartmentKind.HUB))
        dispatcher = Person(name="基准调度员", role=Role.DISPATCHER, department_id=hub.id if hub else None)
        session.add(dispatcher)
        session.flush()
    return dispatcher


def _pages(session_factory, count: int) -> dict[str, float]:
    """Page-level times through the app: a dispatcher (district-wide) on the order list and home page."""
    from application import create_app
    from config import load_settings
    from services.admin import sessions

    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    settings = load_settings({"DATABASE_URL": url, "SECRET_KEY": "b" * 40, "INSTANCE_DIR": tempfile.mkdtemp(),
                              "APP_ENV": "development"}, read_dotenv=False)
    app = create_app(settings=settings)
    with session_scope(app.extensions["db_sessionmaker"]) as session:
        cookie = sessions.new_session(_dispatcher(session), datetime.now(UTC))
    client = app.test_client()
    with client.session_transaction() as cookie_session:
        cookie_session.update(cookie)
    deep = min(5000, max(1, count // 20))
    pages = {"order_list": "/orders", "text_search": "/orders?q=数控技术", "number_search": "/orders?q=BST-00123",
             f"page_{deep}": f"/orders?page={deep}", "home": "/"}
    result = {}
    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        result[name], _ = timed(lambda path=path: client.get(path))
    app.extensions["db_engine"].dispose()
    return result


def _prepare_threshold(session_factory) -> dict[str, float]:
    """The order list's query 25 times on one long-lived connection, prepared after 5 runs vs never."""
    from database import make_engine, make_session_factory
    from services.orders import queries

    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    result = {}
    for label, threshold in (("prepare_5", 5), ("prepare_none", None)):
        engine = make_engine(url, prepare_threshold=threshold)
        factory = make_session_factory(engine)
        with factory() as session:
            person = _dispatcher(session)
            now = NOW

            def one(session=session, person=person, now=now):
                statistics.build_report(session, statistics.Scope("district", "全区"), "zone",
                                        statistics.preset_period("this_month", now), now)
                return queries.search_orders(session, person, queries.OrderFilters(), now)

            result[label], _ = timed(one, runs=25)
            session.rollback()
        engine.dispose()
    return result


def run(session_factory, ids) -> None:
    from services.statistics import rollup

    with session_factory() as session:
        dialect = session.get_bind().dialect.name
    default = DEFAULT_ORDERS_POSTGRES if dialect == "postgresql" else DEFAULT_ORDERS_SQLITE
    count = int(os.environ.get("BENCH_STATISTICS_ORDERS") or default)
    with session_factory() as session:
        present = session.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.number.like(f"{PREFIX}%")))
        events = session.scalar(select(func.count()).select_from(WorkOrderEvent)) if present == count else 0
    if os.environ.get("BENCH_STATISTICS_REUSE") and present == count:
        generated = 0.0  # the orders of an earlier run kept with BENCH_STATISTICS_KEEP=1
    else:
        _cleanup(session_factory)
        _trigram_indexes(session_factory)
        generated, events = _generate(session_factory, ids, count)
    t0 = time.perf_counter()
    built = rollup.refresh(session_factory, NOW)
    rollup_s = time.perf_counter() - t0
    print(f"\n统计 / statistics: {count} 件工单、{events} 条事件（生成 {generated:.1f} s），数据库 {dialect}；"
          f"日汇总首次建立 {built.computed} 天 {rollup_s:.1f} s", flush=True)
    district = statistics.Scope("district", "全区")
    past_year = statistics.Period(date(2025, 1, 1), date(2025, 12, 31))
    this_month = statistics.preset_period("this_month", NOW)
    figures = {}
    with session_factory() as session:
        cases = (("year_by_zone", "zone", past_year), ("year_by_department", "department", past_year),
                 ("month_by_zone", "zone", this_month))
        for name, group, period in cases:
            figures[name], report = timed(lambda group=group, period=period:
                                          statistics.build_report(session, district, group, period, NOW))
            total = report.total.counts
            print(f"  {name}: p95 {figures[name]:.1f} ms（受理 {total.received}、办结 {total.resolved}、"
                  f"派单 {total.dispatched}、积压 {total.backlog}）", flush=True)
        bare = text("SELECT zone_id, sum(received), sum(resolved), sum(dispatched) FROM stat_daily "
                    "WHERE day >= :a AND day <= :b GROUP BY zone_id")
        figures["baseline_group_by"], _ = timed(lambda: session.execute(
            bare, {"a": past_year.first_day, "b": past_year.last_day}).all())
        print(f"  baseline_group_by (rollup table): p95 {figures['baseline_group_by']:.1f} ms", flush=True)
        if os.environ.get("BENCH_STATISTICS_LIVE"):
            live, _ = timed(lambda: statistics.build_report(session, district, "zone", past_year, NOW,
                                                            use_rollups=False), runs=3)
            print(f"  year_by_zone live (no rollup): p95 {live:.1f} ms", flush=True)
        session.rollback()
    if dialect == "postgresql":
        for name, ms in _prepare_threshold(session_factory).items():
            print(f"  本月统计 + 工单列表 ×25 同一连接 {name}: p95 {ms:.1f} ms", flush=True)
    for name, ms in _pages(session_factory, count).items():
        print(f"  page {name}: p95 {ms:.1f} ms", flush=True)
    if not os.environ.get("BENCH_STATISTICS_KEEP"):
        _cleanup(session_factory)
    print(f"statistics: orders={count} year_by_zone_ms={figures['year_by_zone']:.1f} "
          f"year_by_department_ms={figures['year_by_department']:.1f} month_by_zone_ms={figures['month_by_zone']:.1f} "
          f"baseline_group_by_ms={figures['baseline_group_by']:.1f}")


def _cleanup(session_factory) -> None:
    with session_scope(session_factory) as session:
        for table in ("stat_daily", "stat_monthly", "stat_dirty_day", "stat_dirty_month", "stat_stock_member",
                      "stat_stock_day", "stat_rollup_state"):
            session.execute(text(f"DELETE FROM {table}"))
        generated = select(WorkOrder.id).where(WorkOrder.number.like(f"{PREFIX}%"))
        session.execute(delete(WorkOrderEvent).where(WorkOrderEvent.work_order_id.in_(generated)))
        session.execute(delete(ReturnVisit).where(ReturnVisit.work_order_id.in_(generated)))
        session.execute(delete(WorkOrder).where(WorkOrder.number.like(f"{PREFIX}%")))


if __name__ == "__main__":
    from bench.run import run_alone

    run_alone(run)
