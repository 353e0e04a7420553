"""The compiler as people use it: CLI start-up, and checking and compiling
large files end to end (each a separate ``damos`` process)."""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def damos_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "damos"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "damos_lang"]


CPU = {}   # cmd -> median CPU time (user + system) of its last measurement


def wall(cmd: list[str], repeat: int) -> float:
    """Median wall time (s) of ``cmd`` (it must succeed); its median CPU time
    goes to CPU[cmd], which a loaded machine does not inflate."""
    times, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr[-500:]}")
    CPU[tuple(cmd)] = statistics.median(cpus)
    return statistics.median(times)


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def block_file(n: int) -> str:
    out = ["monitor { sample 5ms; aggr 100ms }"]
    for i in range(n):
        out.append(f"scheme s{i} {{\n    action pageout\n    size 4K..max\n    access 0%..0%\n"
                   f"    age {i % 50 + 1}s..max\n    quota {{ size 128M; reset 1s }}\n}}")
    return "\n".join(out) + "\n"


def run(quick: bool) -> list[dict]:
    damos = damos_cmd()
    rows = []
    repeat = 3 if quick else 10
    python_start = wall([sys.executable, "-c", "pass"], repeat)
    cmd = damos + ["compile", "examples/ethp.damos", "--target", "sysfs"]
    start = wall(cmd, repeat)
    rows.append({"name": "CLI start-up: compile ethp.damos -t sysfs", "value": start * 1000,
                 "unit": "ms", "goal": "<= 150 ms", "baseline": python_start * 1000,
                 "ratio": start / python_start,
                 "note": f"wall, median of {repeat}; CPU {CPU[tuple(cmd)] * 1000:.0f} ms; bare "
                         f"python {python_start * 1000:.0f} ms (ratio baseline); {load_note()}"})
    n = 1000 if quick else 10_000
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"big{n}.damos")
        Path(path).write_text(block_file(n))
        cmd = damos + ["check", path]
        t = wall(cmd, 1 if quick else 3)
        rows.append({"name": f"check a {n}-scheme block file", "value": t, "unit": "s",
                     "goal": "<= 2 s at 10000" if not quick else "",
                     "note": f"wall; CPU {CPU[tuple(cmd)]:.2f} s; {t / n * 1e6:.0f} us per "
                             f"scheme; {load_note()}"})
        # damos check on a file full of warnings: printing them must stay linear
        lines = 1000 if quick else 5000
        walls = []
        for k in (1, 4):
            warn = os.path.join(d, f"warn{k}.damos")
            Path(warn).write_text("min max 7% max 150ms max stat\n" * (lines * k))
            cmd = damos + ["check", warn]
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            n_warn = r.stderr.count(": warning: ")
            walls.append((wall(cmd, 1), n_warn))
        (t1, w1), (t4, w4) = walls
        rows.append({"name": f"check with {w1} warnings, then {w4} (4x the lines)",
                     "value": t4, "unit": "s", "goal": "ratio ~4 (linear)", "baseline": t1,
                     "ratio": t4 / t1,
                     "note": f"{t1:.2f} s for {lines} lines, {t4:.2f} s for {4 * lines}"})
        m = 100 if quick else 1000
        small = os.path.join(d, f"big{m}.damos")
        Path(small).write_text(block_file(m))
        for target in ("sysfs", "sysfs-plan", "damo-json", "damos", "c-module"):
            out = os.path.join(d, f"out-{target}")
            try:
                t = wall(damos + ["compile", small, "-t", target, "--pid", "1", "-o", out], 1)
            except RuntimeError as e:
                rows.append({"name": f"compile {m} schemes -t {target}", "value": "n/a",
                             "unit": "", "note": str(e).splitlines()[-1][:80]})
                continue
            rows.append({"name": f"compile {m} schemes -t {target}", "value": t, "unit": "s",
                         "note": f"{t / m * 1e6:.0f} us per scheme"})
    return rows
