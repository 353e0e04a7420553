"""Benchmark of `damos run` (damos_lang.run) on the simulator.

run(quick) -> rows of {name, value, unit, goal, baseline, ratio, note}:
  * CPU time per aggregation interval of a whole `damos run` session (monitor,
    simulated workload, DAMOS engine with a quota and prioritisation) at 10,
    100 and 1000 regions (min = max), next to the monitor alone in the same
    run: the ratio is what the engine adds;
  * peak RSS of a `damos run` process at 1000 regions with --record
    (subprocess, its VmHWM), next to the monitor alone.
`python -m bench.bench_run` prints the rows."""
import functools
import os
import sys
import tempfile
import time
from typing import Dict, List

from bench import common
from damos_lang.catalog import USERSPACE
from damos_lang.monitor import Monitor, SimulatorSource
from damos_lang.pipeline import unit_from_text
from damos_lang.run import workloads
from damos_lang.run.session import RunOptions, Session, attrs_of

SCHEME = """monitor {{ sample 5ms; aggr 100ms; update 1s; nr_regions {n}..{n} }}
scheme {{
    action pageout
    access 0%..0%
    age 1s..max
    quota {{ size 64M; reset 1s; weights size 0 access 3 age 7 }}
}}
"""


# every row of this module has every field (tests/run/test_bench_run.py reads them)
row = functools.partial(common.row, goal="", baseline=None, ratio=None, note="")


def cpu_per_aggregation_rows(quick: bool) -> List[Dict]:
    rows = []
    simulated_us = 5_000_000 if quick else 30_000_000
    for n in (10, 100, 1000):
        ctx = unit_from_text(SCHEME.format(n=n), interface=USERSPACE).context
        # the monitor alone, same workload, attributes and seed
        mon = Monitor(attrs_of(ctx), SimulatorSource(workloads.load("zigzag"), seed=1), seed=1)
        c0 = time.process_time()
        aggs = len(mon.run_until(simulated_us))
        monitor_ms = (time.process_time() - c0) * 1000 / max(1, aggs)
        session = Session(ctx, RunOptions(sim="zigzag", seed=1, duration_us=simulated_us))
        c0 = time.process_time()
        s = session.run()
        run_ms = (time.process_time() - c0) * 1000 / max(1, s.aggregations)
        st = s.schemes[0]
        rows.append(row(f"run.cpu_per_aggregation.sim.{n}_regions", round(run_ms, 3), "ms",
                        goal="< 5 ms (5% of a 100 ms interval)" if n <= 100 else "",
                        baseline=round(monitor_ms, 3), ratio=round(run_ms / monitor_ms, 2),
                        note=f"damos run (monitor + engine, pageout with quota and weights) vs "
                             f"the monitor alone; zigzag, {simulated_us // 1_000_000} s simulated, "
                             f"{s.regions} regions at the end, {st['nr_tried']} regions tried"))
    return rows


MONITOR_ONLY = """import sys
from damos_lang.monitor import Monitor, MonitorAttrs, SimulatorSource
from damos_lang.run import workloads
m = Monitor(MonitorAttrs(min_nr_regions=1000, max_nr_regions=1000),
            SimulatorSource(workloads.load("zigzag"), seed=0), seed=0)
end = int(sys.argv[1])
while m.now_us < end:          # step(), not run_until(): keep no snapshots
    m.step()
"""


def _peak_rss_mib(args) -> float:
    """The process's peak RSS (VmHWM: see common.Run)."""
    return common.run_command(args).peak_rss_mib


def peak_rss_rows(quick: bool) -> List[Dict]:
    seconds = 5 if quick else 60
    with tempfile.TemporaryDirectory(prefix="bench-run-") as d:
        src = os.path.join(d, "s.damos")
        with open(src, "w") as f:
            f.write(SCHEME.format(n=1000))
        rec = os.path.join(d, "r.jsonl")
        rss = _peak_rss_mib([sys.executable, "-m", "damos_lang", "run", src, "--sim", "zigzag",
                             "--duration", f"{seconds}s", "-q", "--record", rec])
        size = os.path.getsize(rec)
    base = _peak_rss_mib([sys.executable, "-c", MONITOR_ONLY, str(seconds * 1_000_000)])
    return [row("run.peak_rss.sim.1000_regions", round(rss, 1), "MiB", baseline=round(base, 1),
                ratio=round(rss / base, 2),
                note=f"damos run --sim zigzag --duration {seconds}s --record (subprocess, "
                     f"VmHWM) vs the monitor alone; both grow with simulated time because "
                     f"the simulator keeps every masim iteration; record file "
                     f"{size / (1 << 20):.1f} MiB")]


def run(quick: bool) -> List[Dict]:
    return cpu_per_aggregation_rows(quick) + peak_rss_rows(quick)


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        ratio = f"{r['ratio']}x" if r["ratio"] is not None else ""
        print(f"{r['name']:42} {r['value']:>10} {r['unit']:3} {ratio:>8}  {r['note']}")
