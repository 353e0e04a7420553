"""The front end: loading (parse + lower) large files, its peak memory,
the import and first parse a command pays at start-up, and rendering many
diagnostics against one source (must be linear)."""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))     # also as `python bench/bench_parse.py`

from bench.common import row, run_command  # noqa: E402


def block_file(n: int) -> str:
    out = ["monitor {\n    sample 5ms\n    aggr 100ms\n}"]
    for i in range(n):
        out.append(f"scheme s{i} {{\n    action pageout\n    size 4K..max\n    access 0%..0%\n"
                   f"    age {i % 50 + 1}s..max\n    quota {{\n        size 128M\n"
                   f"        reset 1s\n    }}\n    filter reject anon   # comment {i}\n}}")
    return "\n\n".join(out) + "\n"


def legacy_file(n: int) -> str:
    return "".join(f"4K max {i % 7}% max {i % 90 + 1}ms max pageout   # line {i}\n"
                   for i in range(n))


# The child: read one file, then load it (or, with "bare", do not), and print
# seconds, its peak RSS (VmHWM, KiB) and tracemalloc's peak (bytes) of the load.
# The load's memory is the loading child's VmHWM minus a bare child's that read
# the same file with the same imports: a difference of two whole processes'
# peaks, so a peak reached before the load (start-up, reading the text) cannot
# hide it.  VmHWM, not ru_maxrss: ru_maxrss starts at the high-water mark of
# the parent this child was forked from.  tracemalloc runs in a third child
# (it slows the load and adds its own memory): it counts Python objects only.
_LOAD = """
import sys, time, tracemalloc
from damos_lang.source import load, read_source
def hwm():
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmHWM:"))
src = read_source(sys.argv[1])
mode = sys.argv[2]
if mode == "traced":
    tracemalloc.start()
t0 = time.perf_counter()
if mode != "bare":
    program = load(src)
t = time.perf_counter() - t0
traced = tracemalloc.get_traced_memory()[1] if mode == "traced" else 0
print(t, hwm(), traced)
"""


def _child(path: str, mode: str) -> tuple[float, int, int]:
    t, peak, traced = run_command([sys.executable, "-c", _LOAD, path, mode]).stdout.split()
    return float(t), int(peak), int(traced)


def load_in_child(path: str) -> tuple[float, float]:
    """(seconds, MiB the load added to peak RSS) in fresh interpreters."""
    t, peak, _ = _child(path, "load")
    _, bare, _ = _child(path, "bare")
    return t, (peak - bare) / 1024


def traced_peak_mib(path: str) -> float:
    """tracemalloc's peak of the load: the Python objects it allocates at once."""
    return _child(path, "traced")[2] / 2**20


def load_rows(name: str, text: str, n: int, what: str, goal: str, repeat: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"{name}.damos")
        Path(path).write_text(text)
        runs = [load_in_child(path) for _ in range(repeat)]
        traced = traced_peak_mib(path)
    t = statistics.median(r[0] for r in runs)
    mem = statistics.median(r[1] for r in runs)
    return [row(f"load (parse + lower) {n} {what}", t, "s", goal=goal,
                note=f"{t / n * 1e6:.0f} us per {what.rstrip('s').split()[-1]}; "
                     f"{len(text) / 1e6:.1f} MB of text"),
            row(f"peak memory of that load ({n} {what})", round(mem, 1), "MiB",
                note=f"VmHWM of a fresh interpreter that read and loaded the file minus one "
                     f"that only read it (same imports), median of {repeat}; tracemalloc's "
                     f"peak of the load {traced:.1f} MiB (Python objects only)")]


# the child: import the front end and read one small example, as a command does
_START = """
import sys, time
t0 = time.perf_counter()
from damos_lang.source import load, read_source
load(read_source("examples/ethp.damos"))
t = time.perf_counter() - t0
print(t, int("lark" in sys.modules))
"""


def startup_row(repeat: int) -> dict:
    times, lark = [], 0
    for _ in range(repeat):
        t, lark = run_command([sys.executable, "-c", _START]).stdout.split()
        times.append(float(t))
    t = statistics.median(times)
    return row("import the front end + load ethp.damos", t * 1000, "ms",
               goal="<= 20 ms (the CLI's whole budget is 150 ms)",
               note="lark imported" if int(lark) else "lark not imported (only syntax errors need it)")


def render_seconds(lines: int, per_line: int) -> float:
    from damos_lang.errors import Diagnostic, Loc
    source = legacy_file(lines)
    diags = [Diagnostic("warning", f"scheme {i}: truncated", Loc(i // per_line + 1, 8, 10),
                        hint="a hint") for i in range(lines * per_line)]
    t0 = time.perf_counter()
    for d in diags:
        d.render("big.damos", source)
    return time.perf_counter() - t0


def render_rows(lines: int) -> list[dict]:
    per_line = 4
    one = render_seconds(lines, per_line)
    four = render_seconds(4 * lines, per_line)
    return [row(f"render {lines * per_line} warnings on {lines} lines", one, "s"),
            row(f"render {4 * lines * per_line} warnings on {4 * lines} lines", four, "s",
                goal="ratio ~4 (linear), not ~16", baseline=one, ratio=four / one,
                note="4x the diagnostics and 4x the source")]


def run(quick: bool) -> list[dict]:
    n = 1000 if quick else 10_000
    repeat = 1 if quick else 3
    rows = []
    rows += load_rows("blocks", block_file(n), n, "block schemes",
                      "<= 1 s at 10000 (check's whole budget is 2 s)", repeat)
    rows += load_rows("legacy", legacy_file(n), n, "legacy lines", "", repeat)
    rows.append(startup_row(3 if quick else 10))
    rows += render_rows(1000 if quick else 5000)
    return rows


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r)
