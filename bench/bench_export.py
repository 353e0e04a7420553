"""damos export: its cost per scrape and its memory.  A real exporter
process (``python -m damos_lang export --listen 127.0.0.1:0``) over a
stand-in tree on tmpfs with 1 and 16 running kdamonds of 8 schemes each;
it is scraped over HTTP; the rows are its own CPU time per scrape (utime +
stime from /proc/PID/stat across the scrapes, refresh commands included)
and its resident memory after them; and 16 x 8 with --no-refresh (the
stand-in emulates the refresh commands in the exporter's own process,
which on a real node is the kernel's work).  On a real kernel each refresh command
also waits for the kdamond's next wake-up (wall time, not CPU)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))     # also as `python bench/bench_export.py`

from bench.common import row  # noqa: E402

EIGHT = "".join(f"scheme s{i} {{\n    action stat\n    access 0%..0%\n    age {i + 1}s..max\n}}\n\n"
                for i in range(8))


def build_tree(base: str, kdamonds: int) -> str:
    from damos_lang.live import apply as A
    from damos_lang.pipeline import compile_path
    from damos_lang.sysfs import layout as L
    from damos_lang.sysfs.standin import StandIn
    root = os.path.join(base, "admin")
    StandIn.create(root, (7, 3), pids={os.getpid()})
    StandIn(root).write(L.NR_KDAMONDS, str(kdamonds))
    src = os.path.join(base, "eight.damos")
    Path(src).write_text(EIGHT)
    unit = compile_path(src, pid=os.getpid())
    for _ in range(kdamonds):
        A.apply(unit, root=root, module_root=None, sleep=lambda s: None)
    return root


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith(key + ":"))


def measure(kdamonds: int, scrapes: int, refresh: bool = True) -> dict:
    base = tempfile.mkdtemp(prefix="damos-bench-export-",
                            dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    p = None
    try:
        root = build_tree(base, kdamonds)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        p = subprocess.Popen([sys.executable, "-m", "damos_lang", "export", "--sysfs-root", root,
                              "--listen", "127.0.0.1:0"] + ([] if refresh else ["--no-refresh"]), stderr=subprocess.PIPE, text=True,
                             env=env, cwd=ROOT)
        m = re.search(r"http://127\.0\.0\.1:\d+/metrics", p.stderr.readline())
        if not m:
            raise RuntimeError("damos export did not start")
        url = m.group(0)
        series = 0
        for _ in range(3):                                   # warm up
            body = urllib.request.urlopen(url, timeout=30).read().decode()
            series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
        cpu0, t0 = _cpu_s(p.pid), time.perf_counter()
        for _ in range(scrapes):
            urllib.request.urlopen(url, timeout=30).read()
        wall = (time.perf_counter() - t0) / scrapes
        cpu = (_cpu_s(p.pid) - cpu0) / scrapes
        return {"cpu_ms": cpu * 1000, "wall_ms": wall * 1000, "series": series,
                "rss_mib": _status_kib(p.pid, "VmRSS") / 1024,
                "hwm_mib": _status_kib(p.pid, "VmHWM") / 1024, "bytes": len(body)}
    finally:
        if p is not None:
            p.terminate()
            p.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def run(quick: bool) -> list[dict]:
    n = 20 if quick else 200
    rows = []
    for k in (1, 16):
        m = measure(k, n)
        what = f"{k} kdamond{'s' if k > 1 else ''} x 8 schemes"
        rows.append(row(f"damos export: CPU per scrape, {what}", round(m["cpu_ms"], 2), "ms",
                        note=f"{m['series']} series, {m['bytes']} bytes of text; wall "
                             f"{m['wall_ms']:.1f} ms per scrape; {n} scrapes over HTTP, "
                             "exporter's utime+stime"))
        rows.append(row(f"damos export: RSS, {what}", round(m["rss_mib"], 1), "MiB",
                        note=f"VmRSS after {n + 3} scrapes (VmHWM {m['hwm_mib']:.1f} MiB)"))
    # the reading alone: the stand-in's emulated refresh commands (Python rewriting
    # its counter files) are work the kernel does on a real node
    m = measure(16, n, refresh=False)
    rows.append(row("damos export --no-refresh: CPU per scrape, 16 kdamonds x 8 schemes",
                    round(m["cpu_ms"], 2), "ms",
                    note=f"wall {m['wall_ms']:.1f} ms per scrape; reads only"))
    return rows


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r)
