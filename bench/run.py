"""Benchmarks for the work-order core. Each prints its time and its ratio to a baseline measured
in the same run on the same database, so machines and databases can be compared fairly.

    python bench/run.py [--orders 300] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text  # noqa: E402

from database import make_engine, make_session_factory, session_scope  # noqa: E402
from models import Base, Enterprise, Person, Role, WorkOrder, Zone  # noqa: E402
from services.demo.reference import seed_reference  # noqa: E402
from services.messaging.notify import Channels  # noqa: E402
from services.orders.operations import NewOrder, OpContext, create_order  # noqa: E402


def prepare(url: str, *, reuse: bool = False):
    """A fresh benchmark database (PostgreSQL: the schema is dropped first); ``reuse`` keeps one
    prepared earlier (new tables are created, existing rows stay)."""
    engine = make_engine(url)
    if reuse:
        Base.metadata.create_all(engine)
        factory = make_session_factory(engine)
        with factory() as session:
            staff = session.query(Person).filter_by(name="基准测试员").first()
            enterprise = session.query(Enterprise).filter_by(reg_no="BENCH-1").first()
        if staff is not None and enterprise is not None:
            return engine, factory, (staff.id, enterprise.id, staff.zone_id)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        seed_reference(session)
        zone = session.query(Zone).filter_by(code="tianmu").one()
        staff = Person(name="基准测试员", role=Role.SERVICE_STAFF, zone=zone)
        session.add(staff)
        session.flush()
        enterprise = Enterprise(name="天津基准测试有限公司", uscc=None, reg_no="BENCH-1", zone=zone, service_staff=staff)
        session.add(enterprise)
        session.flush()
        ids = staff.id, enterprise.id, zone.id
    return engine, factory, ids


def bench_create_orders(factory, ids, count: int) -> tuple[float, float]:
    staff_id, enterprise_id, zone_id = ids
    start_at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    t0 = time.perf_counter()
    for i in range(count):
        with session_scope(factory) as session:
            session.execute(
                insert(WorkOrder).values(
                    number=f"RAW-{i:06d}", enterprise_id=enterprise_id, submitter_id=staff_id, zone_id=zone_id,
                    channel="bench", title="基线", content="基线插入", state="processing", level=1,
                    created_at=start_at, updated_at=start_at, version_id=1,
                )
            )
    baseline = time.perf_counter() - t0

    t0 = time.perf_counter()
    for i in range(count):
        with session_scope(factory) as session:
            staff = session.get(Person, staff_id)
            ctx = OpContext(session, staff, start_at + timedelta(seconds=i), "bench", Channels(sandbox=True))
            create_order(
                ctx,
                NewOrder(enterprise_id=enterprise_id, content="企业厂区门前道路破损，影响货车通行，请协调修复", level=2,
                         department_id=None),
            )
    full = time.perf_counter() - t0
    return baseline, full


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine, factory, ids = prepare(url)
    print(f"数据库 / database: {engine.dialect.name}")
    baseline, full = bench_create_orders(factory, ids, args.orders)
    print(
        f"create_order ×{args.orders}: {full:.2f} s ({args.orders / full:.0f}/s); "
        f"baseline raw INSERT+commit: {baseline:.2f} s; ratio {full / baseline:.1f}×"
    )
    for extra in _extra_benchmarks():
        extra(factory, ids)
    engine.dispose()


def best_of(fn, repeat: int = 5) -> tuple[float, object]:
    """The fastest of ``repeat`` timed calls of ``fn`` and the last result."""
    best, result = None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - t0
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def run_alone(benchmark) -> None:
    """``python bench/bench_<name>.py [--database-url URL]``: one benchmark on a fresh database."""
    parser = argparse.ArgumentParser(description=(benchmark.__module__ or "").rsplit(".", 1)[-1])
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    engine, factory, ids = prepare(url, reuse=bool(os.environ.get("BENCH_STATISTICS_REUSE")))
    benchmark(factory, ids)
    engine.dispose()


def _extra_benchmarks():
    """Benchmarks added by later features register here (bench/<name>.py exposing ``run``)."""
    found = []
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        module = __import__(f"bench.{path.stem}", fromlist=["run"])
        found.append(module.run)
    return found


if __name__ == "__main__":
    main()
