"""Registry import benchmark: a 200,000-row export against a bare python-calamine read of it.

Prints, in one run: the bare read (the limit), the full import (target ≤ 4× the read), an
unchanged re-import (target ≤ 2×) and the peak memory of each (target ≤ 400 MB). Every
measurement runs in a fresh subprocess so its peak RSS (``ru_maxrss``, which also sees
calamine's Rust allocations) is its own. The read is measured before, between and after the
imports, and each import is compared with the mean of the reads around it; the CPU seconds of
each step (and of the PostgreSQL server, when it runs on this machine) are printed too, since a
machine shared with other work moves wall times more than CPU times. Run through
``bench/run.py`` (SQLite by default, ``--database-url`` for PostgreSQL);
``BENCH_REGISTRY_ROWS=20000`` for a quick run. The file is generated once with openpyxl's
write-only mode and cached under /tmp.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_ROWS = 200_000
FILE_VERSION = 1
HEADERS = ["序号", "统一社会信用代码", "市场主体名称", "市场主体类型", "登记状态", "法定代表人", "成立日期", "住所",
           "国民经济行业", "注册资本（万元）", "从业人数", "联系电话"]
TOWNS = ["天穆镇", "北仓镇", "双街镇", "双口镇", "青光镇", "宜兴埠镇", "小淀镇", "大张庄镇", "西堤头镇",
         "果园新村街道", "集贤里街道", "普东街道", "瑞景街道", "佳荣里街道", "青源街道", "双环邨街道", "经济技术开发区"]
ROADS = ["北仓道", "京津路", "龙门东道", "辰昌路", "永兴道", "宜兴路", "津霸公路", "铁东路", "引河里北道", "高新大道"]
STATUSES = ["存续"] * 90 + ["在业"] * 3 + ["注销"] * 3 + ["吊销，未注销", "迁出", "停业", "歇业"]
INDUSTRIES = ["C3311 金属结构制造", "F5292 便利店零售", "H6210 正餐服务", "I6510 软件开发", "G5430 道路货物运输",
              "E4811 房屋建筑业", "L7212 企业管理服务", "O8011 家庭服务", "F5123 批发业"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _uscc(serial: int, kind: str) -> str:
    body = f"9{kind}120113" + "".join(ALPHABET[(serial // 31 ** i) % 31] for i in range(8, -1, -1))
    total = sum(ALPHABET.index(c) * w for c, w in zip(body, WEIGHTS, strict=True))
    return body + ALPHABET[(31 - total % 31) % 31]


def bench_file(rows: int) -> Path:
    path = Path(tempfile.gettempdir()) / f"bench_registry_{rows}_v{FILE_VERSION}.xlsx"
    if path.exists():
        return path
    from openpyxl import Workbook

    rng = random.Random(20260302)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("市场主体")
    sheet.append(["北辰区市场主体名录（基准测试数据）"])
    sheet.append([])
    sheet.append(HEADERS)
    start = date(1995, 1, 1)
    for n in range(1, rows + 1):
        individual = rng.random() < 0.8
        kind = "2" if individual else "1"
        name = (f"北辰区{rng.choice(SURNAMES)}记{n}号便利店" if individual
                else f"天津{rng.choice(TOWNS)[:2]}{n}科技有限公司")
        sheet.append([
            n, _uscc(n, kind), name, "个体工商户" if individual else "有限责任公司（自然人投资或控股）",
            rng.choice(STATUSES), rng.choice(SURNAMES) + rng.choice(SURNAMES) + "某",
            start + timedelta(days=rng.randrange(11000)),
            f"天津市北辰区{rng.choice(TOWNS)}{rng.choice(ROADS)}{rng.randrange(1, 300)}号",
            rng.choice(INDUSTRIES), "" if individual else rng.choice([10, 50, 100, 500, 1000]),
            rng.randrange(1, 8) if individual else rng.randrange(5, 400), f"1{rng.randrange(3, 9)}{n:09d}",
        ])
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------------
# Measurements, each in its own process
# --------------------------------------------------------------------------------------------------
def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _child_read(path: str) -> dict:
    from python_calamine import CalamineWorkbook

    t0, cpu0 = time.perf_counter(), time.process_time()
    rows = 0
    with CalamineWorkbook.from_path(path) as book:
        for _row in book.get_sheet_by_index(0).iter_rows():
            rows += 1
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0, "rows": rows}


def _server_cpu(engine) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving this database, when the server runs on this
    machine ({} otherwise): the import's own CPU leaves out the inserts the server does for it."""
    if engine.dialect.name != "postgresql":
        return {}
    from sqlalchemy import text

    with engine.connect() as connection:
        pids = connection.scalars(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).all()
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def _child_import(path: str, url: str) -> dict:
    from database import make_engine, make_session_factory
    from services.grid import rules as zone_rules  # noqa: F401 - imported lazily by the import; a jobs process has it already
    from services.registry.importer import import_enterprises

    engine = make_engine(url)
    factory = make_session_factory(engine)
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    server_before = _server_cpu(engine)
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = import_enterprises(factory, path, job_id=None, now=now, max_bytes=1 << 40)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server = _server_cpu(engine)  # the pool still holds the connections the import used
    engine.dispose()
    return {"seconds": seconds, "cpu": cpu, "summary": result.describe(), "new": result.new,
            "unchanged": result.unchanged,
            "server_cpu": sum(v - server_before.get(pid, 0.0) for pid, v in server.items()) if server else None}


def _run_child(kind: str, *args: str) -> dict:
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); import bench.bench_registry as b; "
        f"r = b._child_{kind}(*sys.argv[1:]); r['peak_mb'] = b._peak_mb(); print(json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _seed_address_rules(session_factory) -> None:
    from database import session_scope

    try:
        from services.grid.rules import seed_address_rules
    except ImportError:
        return
    with session_scope(session_factory) as session:
        seed_address_rules(session)


def run(session_factory, ids) -> None:
    rows = int(os.environ.get("BENCH_REGISTRY_ROWS") or DEFAULT_ROWS)
    t0 = time.perf_counter()
    path = bench_file(rows)
    generated = time.perf_counter() - t0
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    _seed_address_rules(session_factory)
    size_mb = path.stat().st_size / 1048576
    print(f"\n企业名录导入 / registry import: {rows} 行, {size_mb:.1f} MB"
          + (f"（生成 {generated:.1f} s）" if generated > 1 else "（已缓存）") + f" {path}")

    load = os.getloadavg()[0]
    # The bare read before, between and after the imports; each import is held against the reads
    # on either side of it, so a machine busy with something else for a while skews less.
    reads = [_run_child("read", str(path))]
    full = _run_child("import", str(path), url)
    reads.append(_run_child("read", str(path)))
    again = _run_child("import", str(path), url)
    reads.append(_run_child("read", str(path)))
    read = min(reads, key=lambda r: r["seconds"])
    full_limit = (reads[0]["seconds"] + reads[1]["seconds"]) / 2
    again_limit = (reads[1]["seconds"] + reads[2]["seconds"]) / 2
    peak = max(full["peak_mb"], again["peak_mb"])

    def mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    def cpu(result: dict) -> str:
        # Wall time is what counts; CPU says how much of it other load on the machine took.
        server = result.get("server_cpu")
        return f"（CPU {result['cpu']:.2f} s" + (f"，数据库服务器 CPU {server:.2f} s" if server is not None else "") + "）"

    times = " / ".join(f"{r['seconds']:.2f}" for r in reads)
    print(f"  python-calamine 直接读取 (the limit): {times} s（导入前、两次导入之间、之后）{cpu(read)}, "
          f"峰值内存 {read['peak_mb']:.0f} MB；开始时系统负载 {load:.1f}（{os.cpu_count()} 核）")
    print(f"  首次导入 full import:     {full['seconds']:.2f} s = {full['seconds'] / full_limit:.1f}× "
          f"(目标 ≤ 4×) {mark(full['seconds'] <= 4 * full_limit)}{cpu(full)} — {full['summary']}")
    print(f"  重复导入 unchanged:       {again['seconds']:.2f} s = {again['seconds'] / again_limit:.1f}× "
          f"(目标 ≤ 2×) {mark(again['seconds'] <= 2 * again_limit)}{cpu(again)} — {again['summary']}")
    print(f"  峰值内存 peak memory:     导入 {full['peak_mb']:.0f} MB，重复导入 {again['peak_mb']:.0f} MB "
          f"(目标 ≤ 400 MB) {mark(peak <= 400)}")
    if again["new"] or again["unchanged"] != full["new"]:
        print("  ✗ 重复导入应当全部“无变化”")


if __name__ == "__main__":
    from bench.run import run_alone

    run_alone(run)
