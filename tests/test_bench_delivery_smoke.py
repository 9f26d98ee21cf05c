"""The delivery benchmark still runs end to end (tiny sizes, a few seconds, its own SQLite file):
orders whistled through the emulators with their quotas, nothing lost or sent twice, every
callback processed, and the summary line the benchmark promises."""

from __future__ import annotations

from bench import bench_delivery
from bench.run import prepare


def test_bench_delivery_runs_at_a_tiny_size(tmp_path, capsys):
    engine, factory, ids = prepare(f"sqlite:///{tmp_path / 'bench.db'}")
    try:
        sizes = bench_delivery.Sizes(minute_seconds=1, minutes=0.2, departments=2, inbox=3)
        result = bench_delivery.run(factory, ids, sizes)
    finally:
        engine.dispose()
    assert result["messages"] > 0
    assert (result["drops"], result["duplicates"], result["unrecorded"]) == (0, 0, 0)
    assert (result["inbox_processed"], result["inbox_failed"]) == (6, 0)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("delivery: messages=") and " drops=0 " in last and "inbox_baseline_ratio=" in last
