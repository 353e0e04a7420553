"""The benchmark's rows measured in the rig's VM (never boots one itself).

tests/kernel/test_kernel_cpu_bench.py (jobs/cpu-bench.sh) measures, in the
custom 6.12 kernel under qemu/TCG, on the rig workload (64 MiB, 8 MiB hot)
at 5 ms / 100 ms: a kdamond's CPU time (/proc/PID/stat) next to `damos
run`'s with the same stat scheme and attributes, and the monitor's CPU share
on the real page_idle source at 10, 100 and 1000 regions; it copies its
JSON to build/vm-cpu-bench.json, which run(quick) reports.  Without that
file: one row saying how to produce it."""
import datetime
import json
import os
from typing import Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = os.path.join(ROOT, "build", "vm-cpu-bench.json")
HOWTO = "./dev test -m kernel tests/kernel/test_kernel_cpu_bench.py"


def row(name, value, unit, ratio=None, note="") -> Dict:
    return {"name": name, "value": value, "unit": unit, "ratio": ratio, "note": note}


def run(quick: bool) -> List[Dict]:
    if not os.path.exists(RESULT):
        return [row("vm.cpu", "n/a", "", note=f"no {os.path.relpath(RESULT, ROOT)}: run {HOWTO} "
                                              "(boots the rig's custom 6.12 VM) to measure it")]
    with open(RESULT) as f:
        data = json.load(f)
    when = datetime.datetime.fromtimestamp(os.path.getmtime(RESULT), datetime.timezone.utc)
    where = (f"measured in the rig's custom 6.12 VM under qemu/TCG by "
             f"tests/kernel/test_kernel_cpu_bench.py at {when:%Y-%m-%d %H:%M UTC}; emulated CPUs")
    k, d = data["kdamond"], data["damos_run"]
    k_share, d_share = k["cpu_share_percent"], d["cpu_share_percent"]
    rows = [
        row("vm.kdamond.cpu_share", round(k_share, 2), "%",
            note=f"kdamond utime+stime {k['cpu_s']:.2f} s ({k['ticks']} ticks of 10 ms) over "
                 f"{k['wall_s']:.1f} s; stat scheme, "
                 f"5 ms / 100 ms, nr_regions {k['nr_regions']}; {where}"),
        row("vm.damos_run.cpu_share", round(d_share, 2), "%",
            ratio=round(d_share / k_share, 1) if k_share else None,
            note=f"damos run CPU {d['cpu_s']:.2f} s over {d['wall_s']:.1f} s wall, "
                 f"{d['aggregations']} aggregations (ratio: vs the kdamond); same scheme, "
                 f"attributes and workload; {where}"),
    ]
    for m in data["monitor_page_idle"]:
        rows.append(row(f"vm.monitor.cpu_share.page_idle.{m['regions']}_regions",
                        round(m["cpu_share_percent"], 1), "%",
                        note=f"monitor alone, {m['cpu_s']:.2f} s CPU over {m['wall_s']:.1f} s wall; "
                             f"{m['samples']} samples (200/s due), {m['monitored_s']:.1f} s monitored, "
                             f"{m['mean_regions']:.0f} regions on average; {where}"))
    return rows


if __name__ == "__main__":
    for r in run(False):
        ratio = f"{r['ratio']}x" if r["ratio"] is not None else ""
        print(f"{r['name']:44} {r['value']:>8} {r['unit']:2} {ratio:>7}  {r['note']}")
