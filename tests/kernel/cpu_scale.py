"""Run inside the VM by jobs/cpu-scale.sh (host Python in the chroot): how
the cost of each way of finding a working set grows with memory.

usage: cpu_scale.py PID ADDR TOTAL_MIB HOT_MIB SECS DAMOS_FILE OUT.json [REGIONS...]

Against one running rig workload (TOTAL MiB, the first HOT MiB written all
the time), one after the other (they share the accessed bits), SECS s each (ADDR: where the
workload's buffer starts, from its first line):
  kdamond    DAMON in the kernel, written to sysfs here (vaddr, the
             scheme's pattern as a stat scheme, 5 ms / 100 ms / 1 s): its
             utime+stime from /proc/PID/stat;
  damos_run  `damos run DAMOS_FILE --pid PID --duration SECS --record`: the
             record summary's CPU time (from the session's start: imports
             not counted), wall time and samples taken of due;
  full_scan  idle_scan.py: every page marked idle and read back each 100 ms.
With REGIONS (e.g. 10 100 1000) the kdamond and damos run also run with
nr_regions fixed at each (min = max).  Appends one entry per run to OUT.json
(a list), so one job can call it once per workload size."""
import json
import os
import subprocess
import sys
import time

from idle_scan import full_scan

D = "/sys/kernel/mm/damon/admin"
K = f"{D}/kdamonds/0"
C = f"{K}/contexts/0"
TCK = os.sysconf("SC_CLK_TCK")


def put(path: str, value) -> None:
    with open(path, "w") as f:
        f.write(f"{value}\n")


def ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def kdamond(pid: int, secs: float, regions) -> dict:
    lo, hi = regions
    put(f"{D}/kdamonds/nr_kdamonds", 1)
    put(f"{K}/contexts/nr_contexts", 1)
    put(f"{C}/operations", "vaddr")
    iv = f"{C}/monitoring_attrs/intervals"
    put(f"{iv}/sample_us", 5000)
    put(f"{iv}/aggr_us", 100_000)
    put(f"{iv}/update_us", 1_000_000)
    put(f"{C}/monitoring_attrs/nr_regions/max", hi)
    put(f"{C}/monitoring_attrs/nr_regions/min", lo)
    put(f"{C}/targets/nr_targets", 1)
    put(f"{C}/targets/0/pid_target", pid)
    # the stat scheme damos run applies too (prcl's pattern, age 2 s)
    put(f"{C}/schemes/nr_schemes", 1)
    s = f"{C}/schemes/0"
    put(f"{s}/action", "stat")
    put(f"{s}/access_pattern/sz/min", 4096)
    put(f"{s}/access_pattern/nr_accesses/max", 0)
    put(f"{s}/access_pattern/age/min", 20)
    put(f"{K}/state", "on")
    with open(f"{K}/pid") as f:
        kp = int(f.read())
    t0, w0 = ticks(kp), time.monotonic()
    time.sleep(secs)
    t1, w1 = ticks(kp), time.monotonic()
    put(f"{K}/state", "off")
    put(f"{D}/kdamonds/nr_kdamonds", 0)
    cpu = (t1 - t0) / TCK
    return {"cpu_s": cpu, "wall_s": w1 - w0, "ticks": t1 - t0,
            "cpu_share_percent": 100.0 * cpu / (w1 - w0)}


def damos_run(pid: int, secs: float, damos_file: str, regions, out_dir: str) -> dict:
    rec = os.path.join(out_dir, f"scale-run-{pid}-{regions[0]}-{regions[1]}.jsonl")
    text = open(damos_file).read().replace("nr_regions 10..1000",
                                           f"nr_regions {regions[0]}..{regions[1]}")
    src = os.path.join(out_dir, f"scale-{regions[0]}-{regions[1]}.damos")
    with open(src, "w") as f:
        f.write(text)
    p = subprocess.run([sys.executable, "-m", "damos_lang", "run", src, "--pid", str(pid),
                        "--duration", f"{secs:g}s", "--record", rec, "-q"],
                       capture_output=True, text=True, timeout=secs * 6 + 60)
    if p.returncode != 0:
        raise SystemExit(f"cpu_scale: damos run failed ({p.returncode}): {p.stderr}")
    with open(rec) as f:
        summary = [json.loads(line) for line in f][-1]
    os.unlink(rec)
    os.unlink(src)
    return {"cpu_s": summary["cpu_s"], "wall_s": summary["wall_s"],
            "samples_taken": summary["samples_taken"], "samples_due": summary["samples_due"],
            "on_time": summary["samples_taken"] / max(1, summary["samples_due"]),
            "cpu_share_percent": 100.0 * summary["cpu_s"] / summary["wall_s"]}


def main(argv) -> int:
    pid, addr = int(argv[1]), int(argv[2], 16)
    total, hot, secs = int(argv[3]), int(argv[4]), float(argv[5])
    damos_file, out = argv[6], argv[7]
    fixed = [int(n) for n in argv[8:]]
    out_dir = os.path.dirname(os.path.abspath(out))
    entries = json.load(open(out)) if os.path.exists(out) else []
    base = {"total_mib": total, "hot_mib": hot, "secs": secs}
    for regions in [(10, 1000)] + [(n, n) for n in fixed]:
        label = "10..1000" if regions == (10, 1000) else str(regions[0])
        entries.append({**base, "monitor": "kdamond", "nr_regions": label,
                        **kdamond(pid, secs, regions)})
        entries.append({**base, "monitor": "damos_run", "nr_regions": label,
                        **damos_run(pid, secs, damos_file, regions, out_dir)})
    scan = full_scan(pid, secs, aggr_us=100_000, update_us=1_000_000, hot=(addr, hot << 20))
    entries.append({**base, "monitor": "full_scan", "nr_regions": None,
                    **{k: scan[k] for k in ("cpu_s", "wall_s", "intervals", "intervals_due",
                                            "cpu_per_interval_ms", "cpu_share_percent",
                                            "pages_marked", "hot_wss_bytes_median")}})
    with open(out, "w") as f:
        json.dump(entries, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
