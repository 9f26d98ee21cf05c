"""Policy matching benchmark: one item against 200,000 generated enterprises, set-based in SQL.

Prints, on the database ``bench/run.py`` was given (SQLite by default, ``--database-url`` for
PostgreSQL):

* **match** — ``services.policies.matching.match_select`` fetching every matched enterprise id,
  against a hand-written single SQL query for the same conditions (target ≤ 2 s and ≤ 2×);
* **preview** — the console preview (total, per zone, per staff member, a 20-row sample with
  explanations), against the hand-written query grouped by (zone, staff member) plus the sample;
* **push targets** — the campaign's ``INSERT … SELECT … ON CONFLICT DO NOTHING`` (weekly cap
  included) that queues one push per matched enterprise (for information).

``BENCH_POLICY_ROWS=20000`` for a quick run. The generated rows are removed afterwards so later
benchmarks see the database as they expect.
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

from bench.run import best_of as _best  # noqa: E402
from database import session_scope  # noqa: E402
from models import Enterprise, Person, Role, ServiceStage, Zone  # noqa: E402

DEFAULT_ROWS = 200_000
PREFIX = "BENCHPOL-"
ON = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CONDITIONS = {
    "industries": ["C"], "size_bands": ["中", "小", "微"], "qualifications": ["高新技术企业", "专精特新"],
    "age_min_years": 2, "exclude_abnormal": True,
}
INDUSTRIES = ["C3311", "C3411", "C2710", "I6510", "F5123", "H6210", "G5430", "E4811", "L7212", "M7320"]
QUALS = ["高新技术企业", "专精特新", "科技型中小企业", "瞪羚企业"]
STATUSES = ["存续"] * 85 + ["在业"] * 5 + ["注销"] * 5 + ["吊销", "迁出", "停业", "歇业", "清算"]


def _generate(session_factory, rows: int) -> float:
    rng = random.Random(20260302)
    t0 = time.perf_counter()
    with session_scope(session_factory) as session:
        zones = session.scalars(select(Zone.id).order_by(Zone.id)).all()
        stages = session.scalars(select(ServiceStage.id)).all()
        staff = []
        for zone in zones:
            for i in range(12):
                person = Person(name=f"{PREFIX}专员{zone}-{i}", role=Role.SERVICE_STAFF, zone_id=zone)
                session.add(person)
                staff.append(person)
        session.flush()
        staff_zone = [(p.id, p.zone_id) for p in staff]
    chunk = 10_000
    for start in range(0, rows, chunk):
        batch = []
        for n in range(start, min(rows, start + chunk)):
            person_id, zone_id = staff_zone[rng.randrange(len(staff_zone))]
            batch.append({
                "reg_no": f"{PREFIX}{n:08d}", "name": f"基准企业{n}", "entity_type": "enterprise",
                "status": rng.choice(STATUSES), "zone_id": zone_id,
                "service_staff_id": person_id if rng.random() > 0.05 else None,
                "is_key_industry": rng.random() < 0.2, "chain_position": rng.choice(["", "", "", "链主", "核心配套"]),
                "size_band": rng.choice(["大", "中", "小", "小", "微", "微", ""]),
                "industry_code": rng.choice(INDUSTRIES), "stage_id": rng.choice(stages),
                "qualifications": rng.sample(QUALS, rng.choice((0, 0, 0, 1, 1, 2))),
                "status_flags": ["经营异常"] if rng.random() < 0.05 else [],
                "established_on": ON - timedelta(days=rng.randrange(30, 365 * 20)),
                "legal_representative": "", "address": "", "contact_name": "", "contact_phone": "", "market_type": "",
                "capital_currency": "", "industry_name": "", "missing_from_full_export": False,
                "created_at": NOW, "updated_at": NOW,
            })
        with session_scope(session_factory) as session:
            session.execute(insert(Enterprise), batch)
    with session_scope(session_factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE enterprise"))
        else:
            session.execute(text("ANALYZE"))
    return time.perf_counter() - t0


def _hand_written(dialect: str) -> tuple[str, dict]:
    params = {"d": (ON.replace(year=ON.year - 2)).isoformat()}
    if dialect == "postgresql":
        quals = "qualifications::jsonb ?| array['高新技术企业','专精特新']"
        abnormal = "NOT (status_flags::jsonb ? '经营异常')"
        params["d"] = ON.replace(year=ON.year - 2)
    else:
        quals = "EXISTS (SELECT 1 FROM json_each(qualifications) WHERE value IN ('高新技术企业','专精特新'))"
        abnormal = "NOT EXISTS (SELECT 1 FROM json_each(status_flags) WHERE value = '经营异常')"
    where = (f"status IN ('存续','在业','开业','在营','迁入') AND industry_code LIKE 'C%' "
             f"AND size_band IN ('中','小','微') AND established_on <= :d AND {quals} AND {abnormal}")
    return where, params


def _cleanup(session_factory) -> None:
    from models.policy import Policy, PolicyPush, PushCampaign

    with session_scope(session_factory) as session:
        session.execute(delete(PolicyPush))
        session.execute(delete(PushCampaign))
        session.execute(delete(Policy).where(Policy.title.like(f"{PREFIX}%")))
        session.execute(delete(Enterprise).where(Enterprise.reg_no.like(f"{PREFIX}%")))
        session.execute(delete(Person).where(Person.name.like(f"{PREFIX}%")))


def run(session_factory, ids) -> None:
    from services.policies.matching import match_select, parse_conditions, preview

    rows = int(os.environ.get("BENCH_POLICY_ROWS") or DEFAULT_ROWS)
    _cleanup(session_factory)
    generated = _generate(session_factory, rows)
    conditions = parse_conditions(CONDITIONS)
    with session_factory() as session:
        dialect = session.get_bind().dialect.name
        where, params = _hand_written(dialect)
        hand_sql = text(f"SELECT id FROM enterprise WHERE {where}")
        ours = match_select(conditions, ON, session, Enterprise.id)

        session.execute(hand_sql, params).all()  # warm the page cache and the statement caches
        session.execute(ours).all()
        hand_t, hand_ids = _best(lambda: session.execute(hand_sql, params).scalars().all())
        ours_t, our_ids = _best(lambda: session.execute(ours).scalars().all())
        if set(hand_ids) != set(our_ids):
            print(f"  ✗ 结果不一致 / results differ: {len(our_ids)} vs {len(hand_ids)}")

        def hand_preview():
            groups = session.execute(text(f"SELECT zone_id, service_staff_id, count(*) FROM enterprise WHERE {where} "
                                          "GROUP BY zone_id, service_staff_id"), params).all()
            session.execute(text(f"SELECT * FROM enterprise WHERE {where} ORDER BY id LIMIT 20"), params).all()
            return sum(n for _, _, n in groups)

        hand_p, _ = _best(hand_preview)
        ours_p, result = _best(lambda: preview(session, conditions, ON, sample_size=20))
        session.rollback()

    push_t = _bench_push(session_factory)

    def mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    print(f"\n政策匹配 / policy match: {rows} 家企业（生成 {generated:.1f} s），匹配 {len(our_ids)} 家，数据库 {dialect}")
    print(f"  手写 SQL hand-written:    {hand_t:.3f} s")
    print(f"  match_select:             {ours_t:.3f} s = {ours_t / hand_t:.2f}× "
          f"(目标 ≤ 2 s 且 ≤ 2×) {mark(ours_t <= 2 and ours_t <= 2 * hand_t)}")
    print(f"  预览 preview（片区 {len(result.by_zone)}、专员 {len(result.by_staff)}、样例 {len(result.sample)}）: "
          f"{ours_p:.3f} s = {ours_p / hand_p:.2f}× 手写分组查询 {hand_p:.3f} s "
          f"{mark(ours_p <= 2 and ours_p <= 2 * hand_p)}")
    print(f"  推送选定 push targets (INSERT … SELECT，含每周上限): {push_t:.3f} s")
    _cleanup(session_factory)


def _bench_push(session_factory) -> float:
    from models import Department
    from models.policy import CampaignStatus, ItemStatus, Policy, PolicyItem, PolicyStatus, PushCampaign
    from services.policies.push import PushSettings, select_targets

    with session_scope(session_factory) as session:
        department = session.scalars(select(Department).order_by(Department.id)).first()
        policy = Policy(title=f"{PREFIX}政策", owner_department_id=department.id, status=PolicyStatus.PUBLISHED,
                        attachments=[], created_at=NOW, updated_at=NOW)
        item = PolicyItem(title="基准事项", conditions=CONDITIONS, status=ItemStatus.PUBLISHED, published_at=NOW,
                          created_at=NOW, updated_at=NOW)
        policy.items = [item]
        campaign = PushCampaign(title="基准推送", owner_department_id=department.id, status=CampaignStatus.RUNNING,
                                notes=[], created_at=NOW, updated_at=NOW)
        campaign.items = [item]
        session.add_all([policy, campaign])
        session.flush()
        t0 = time.perf_counter()
        select_targets(session, campaign, item, NOW, PushSettings())
        return time.perf_counter() - t0


if __name__ == "__main__":
    from bench.run import run_alone

    run_alone(run)
