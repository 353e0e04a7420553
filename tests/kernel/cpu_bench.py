"""Run inside the VM by jobs/cpu-bench.sh (host Python in the chroot):
the monitor alone on page_idle against the rig workload, then every figure
of the job in one JSON file.

usage: cpu_bench.py PID SECS OUTDIR

For 10, 100 and 1000 regions (min = max) at 5 ms / 100 ms / 1 s: a Monitor
over PageIdleSource, paced by the wall clock, runs for SECS seconds; its CPU
share is this process's CPU time over the wall time it ran (and the monitored
time: under TCG the sampling can fall behind).  The kdamond's ticks and the
`damos run` summary come from OUTDIR/result.txt and OUTDIR/run.out; the
result is OUTDIR/cpu-bench.json.

Right after the 10-region monitor (so that the two see the same load on the
host), the full-scan baseline (idle_scan.py) runs for the same SECS: every
100 ms aggregation interval it marks every present page of the workload idle
and reads all the bits back; its CPU time (utime+stime) and its working-set
estimate go to the JSON's "full_scan".  They run one after the other because
they share the page_idle bits.  Each of these four phases also records the
workload's CPU share meanwhile: the custom guest has one CPU, shared with
the workload, and how much of it the workload takes sets the cost of the
light figures (see bench/bench_vm.py); "vm" has the guest's CPU count and
timekeeping from result.txt."""
import json
import os
import re
import sys
import time

from damos_lang.monitor import Monitor, MonitorAttrs, PageIdleSource
from idle_scan import full_scan

TOTAL_MIB, HOT_MIB = 64, 8                     # jobs/cpu-bench.sh: /bin/workload 64 8 0


def monitor_alone(pid: int, regions: int, secs: float) -> dict:
    attrs = MonitorAttrs(sample_us=5000, aggr_us=100_000, update_us=1_000_000,
                         min_nr_regions=regions, max_nr_regions=regions)
    mon = Monitor(attrs, PageIdleSource([pid]), seed=1, realtime=True)
    mon.start()
    nr = []
    c0, w0 = time.process_time(), time.monotonic()
    deadline = w0 + secs
    while time.monotonic() < deadline:
        snap = mon.step()
        if snap is not None:
            nr.append(len(snap.targets[0].regions))
    cpu, wall = time.process_time() - c0, time.monotonic() - w0
    mon.close()
    return {"regions": regions, "cpu_s": cpu, "wall_s": wall, "monitored_s": mon.now_us / 1e6,
            "samples": mon.samples_taken, "samples_due": mon.passed, "aggregations": len(nr),
            "mean_regions": sum(nr) / len(nr) if nr else 0.0,
            "cpu_share_percent": 100.0 * cpu / wall}


def with_workload_cpu(pid: int, fn, *args, **kw) -> dict:
    """fn's figures plus the workload's CPU share meanwhile (utime+stime in
    clock ticks): the guest has one CPU, which the two share."""
    def ticks() -> int:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    t0, w0 = ticks(), time.monotonic()
    out = fn(*args, **kw)
    out["workload_cpu_share_percent"] = (100.0 * (ticks() - t0) / os.sysconf("SC_CLK_TCK")
                                         / (time.monotonic() - w0))
    return out


def kv(path: str) -> dict:
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.strip().split("=", 1)
                out[k] = v
    return out


def main(argv) -> int:
    pid, secs, outdir = int(argv[1]), float(argv[2]), argv[3]
    res = kv(os.path.join(outdir, "result.txt"))
    tck = os.sysconf("SC_CLK_TCK")
    k_ticks = (int(res["kd_utime1"]) + int(res["kd_stime1"])
               - int(res["kd_utime0"]) - int(res["kd_stime0"]))
    k_wall = float(res["kd_up1"]) - float(res["kd_up0"])
    with open(os.path.join(outdir, "run.out")) as f:
        summary = f.read()
    m = re.search(r"in ([0-9.]+) s wall, (\d+) aggregations, damos run CPU ([0-9.]+) s", summary)
    if not m:
        print(f"cpu_bench: no summary line in run.out:\n{summary}", file=sys.stderr)
        return 2
    run_wall, run_aggs, run_cpu = float(m.group(1)), int(m.group(2)), float(m.group(3))
    addr = int(res["addr"], 16)
    monitors = [with_workload_cpu(pid, monitor_alone, pid, 10, secs)]
    scan = with_workload_cpu(pid, full_scan, pid, secs, aggr_us=100_000, update_us=1_000_000,
                             hot=(addr, HOT_MIB << 20))
    monitors += [with_workload_cpu(pid, monitor_alone, pid, n, secs) for n in (100, 1000)]
    out = {
        "attrs": {"sample_us": 5000, "aggr_us": 100_000, "update_us": 1_000_000},
        "workload": {"pid": pid, "addr": res["addr"], "total_mib": TOTAL_MIB, "hot_mib": HOT_MIB},
        "clk_tck": tck,
        "vm": {k: res.get(k) for k in ("cpus", "clocksource", "clockevent", "hrtimer_handlers")},
        "kdamond": {"cpu_s": k_ticks / tck, "wall_s": k_wall, "ticks": k_ticks,
                    "nr_regions": "10..1000", "cpu_share_percent": 100.0 * k_ticks / tck / k_wall},
        "damos_run": {"cpu_s": run_cpu, "wall_s": run_wall, "aggregations": run_aggs,
                      "nr_regions": "10..1000", "cpu_share_percent": 100.0 * run_cpu / run_wall},
        "monitor_page_idle": monitors,
        "full_scan": scan,
    }
    with open(os.path.join(outdir, "cpu-bench.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
