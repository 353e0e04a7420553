"""bench/bench_run.py runs (quick) so it cannot rot; no timing is asserted."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_bench_run_quick_gives_its_rows():
    sys.path.insert(0, ROOT)
    from bench import bench_run
    rows = bench_run.run(quick=True)
    names = [r["name"] for r in rows]
    assert names == [f"run.cpu_per_aggregation.sim.{n}_regions" for n in (10, 100, 1000)] + \
        ["run.peak_rss.sim.1000_regions"]
    for r in rows:
        assert set(r) >= {"name", "value", "unit", "goal", "ratio", "note"}
        assert r["value"] > 0
