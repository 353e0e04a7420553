"""How the cost of finding a working set grows with memory, in the rig's VM.

The full run (`./dev bench bench_vm_scale`, about 4 minutes) boots the
custom 6.12 kernel with a 3 GiB guest (tests/kernel/jobs/cpu-scale.sh,
tests/kernel/cpu_scale.py) and measures, on the rig workload at 64 MiB,
512 MiB and 2 GiB (its first eighth written all the time), one after the
other over the same wall time: a kdamond, `damos run` with the same stat
scheme and attributes (5 ms / 100 ms / 1 s, nr_regions 10..1000), and the
full idle-page scan (every page marked and read back each 100 ms); at
64 MiB also the kdamond and `damos run` with nr_regions fixed at 10, 100
and 1000.  It keeps the figures in bench/results/vm-cpu-scale.json, a
committed file that tests/test_bench_vm_scale.py checks; --quick (CI)
reports that file and boots nothing.

Rows: each monitor's CPU share per size, with its ratio to the kdamond's at
the same size (the full scan's to damos run's as well), and damos run's
samples taken on time."""
import datetime
import functools
import json
import os
import sys
from typing import Dict, List

from bench import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT = os.path.join(ROOT, "bench", "results", "vm-cpu-scale.json")
SIZES_MIB = (64, 512, 2048)
REGIONS = (10, 100, 1000)
SECS = 5
GUEST_MIB = 3072
SCHEME = """# cpu scale bench: a stat scheme (prcl's pattern, age 2 s) at the kernel's defaults
monitor { sample 5ms; aggr 100ms; update 1s; nr_regions 10..1000 }
scheme {
    action stat
    size 4K..max
    access 0%..0%
    age 2s..max
}
"""

row = functools.partial(common.row, ratio=None, note="")


def measure() -> Dict:
    """Boot the VM once and return what cpu_scale.py measured."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "kernel"))
    import kernelrig
    kernel = kernelrig.ensure_custom()
    out = os.path.join(ROOT, "build", "vm-cpu-scale")
    r = kernelrig.run_vm(kernel, kernelrig.job("cpu-scale.sh"), timeout=900,
                         cmdline=kernelrig.ACCESS_CMDLINE, out=out, mem_mib=GUEST_MIB,
                         env={"HOSTRUN_ENV": f"PYTHONPATH={kernelrig.PROJECT_ROOT}",
                              "SIZES": " ".join(map(str, SIZES_MIB)), "SECS": str(SECS),
                              "REGIONS": " ".join(map(str, REGIONS))},
                         files={"scheme.damos": SCHEME})
    if r.rc != 0:
        raise SystemExit(f"bench_vm_scale: the VM job failed:\n{r.describe()}")
    kv = kernelrig.parse_kv(r.text("result.txt"))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    data = {"date": when, "guest_mib": GUEST_MIB, "cpus": int(kv["cpus"]), "secs": SECS,
            "attrs": "sample 5 ms, aggr 100 ms, update 1 s", "runs": json.loads(r.text("cpu-scale.json"))}
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    with open(RESULT, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    return data


def find(runs: List[Dict], monitor: str, mib: int, nr_regions) -> Dict:
    for e in runs:
        if e["monitor"] == monitor and e["total_mib"] == mib and e["nr_regions"] == nr_regions:
            return e
    raise KeyError((monitor, mib, nr_regions))


def rows_of(data: Dict) -> List[Dict]:
    runs = data["runs"]
    where = (f"rig VM (custom 6.12, qemu/TCG, {data['guest_mib']} MiB, {data['cpus']} CPU(s)), "
             f"{data['attrs']}, {data['secs']} s each, measured {data['date']} by "
             f"./dev bench bench_vm_scale")
    out = []
    for mib in SIZES_MIB:
        k = find(runs, "kdamond", mib, "10..1000")
        d = find(runs, "damos_run", mib, "10..1000")
        s = find(runs, "full_scan", mib, None)
        ks = k["cpu_share_percent"]
        wl = f"workload {mib} MiB, {mib // 8} MiB hot"
        out.append(row(f"vm.scale.{mib}MiB.kdamond.cpu_share", round(ks, 2), "%",
                       note=f"kdamond utime+stime {k['cpu_s']:.2f} s over {k['wall_s']:.1f} s "
                            f"({k['ticks']} ticks of 10 ms); {wl}; {where}"))
        out.append(row(f"vm.scale.{mib}MiB.damos_run.cpu_share",
                       round(d["cpu_share_percent"], 2), "%",
                       ratio=round(d["cpu_share_percent"] / ks, 1) if ks else None,
                       note=f"damos run CPU {d['cpu_s']:.2f} s over {d['wall_s']:.1f} s, "
                            f"{d['samples_taken']} of {d['samples_due']} samples taken "
                            f"({100 * d['on_time']:.0f} % on time); ratio: vs the kdamond"
                            f"{' (0 ticks: no ratio)' if not ks else ''}; {wl}; {where}"))
        out.append(row(f"vm.scale.{mib}MiB.full_scan.cpu_share", round(s["cpu_share_percent"], 1),
                       "%", ratio=round(s["cpu_share_percent"] / d["cpu_share_percent"], 1)
                       if d["cpu_share_percent"] else None,
                       note=f"full idle-page scan: {s['cpu_s']:.2f} s CPU over {s['wall_s']:.1f} s, "
                            f"{s['intervals']} of {s['intervals_due']} 100 ms intervals, "
                            f"{s['pages_marked']} pages marked each, "
                            f"{s['cpu_per_interval_ms']:.0f} ms CPU per interval; ratio: vs damos "
                            f"run; {wl}; {where}"))
    for n in REGIONS:
        k = find(runs, "kdamond", SIZES_MIB[0], str(n))
        d = find(runs, "damos_run", SIZES_MIB[0], str(n))
        ks = k["cpu_share_percent"]
        out.append(row(f"vm.scale.regions.{n}.damos_run.cpu_share",
                       round(d["cpu_share_percent"], 2), "%",
                       ratio=round(d["cpu_share_percent"] / ks, 1) if ks else None,
                       note=f"nr_regions {n}..{n}: damos run {d['cpu_s']:.2f} s CPU, "
                            f"{d['samples_taken']} of {d['samples_due']} samples taken; the "
                            f"kdamond {k['cpu_s']:.2f} s ({ks:.2f} %) (ratio: damos run / "
                            f"kdamond); workload {SIZES_MIB[0]} MiB; {where}"))
    return out


def run(quick: bool) -> List[Dict]:
    if quick:
        if not os.path.exists(RESULT):
            return [row("vm.scale", "n/a", "", note=f"no {os.path.relpath(RESULT, ROOT)}: run "
                                                    "./dev bench bench_vm_scale (boots the VM)")]
        with open(RESULT) as f:
            return rows_of(json.load(f))
    return rows_of(measure())


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r["name"], r["value"], r["unit"], r["ratio"] or "", r["note"])
