"""The compiler as people use it: CLI start-up, and checking and compiling
large files end to end (each a separate ``damos`` process), a 1000-scheme
file to every target.  bench_damo.py compares the same file with damo."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench.common import damos_cmd, load_note, median_of, row, run_command
from damos_lang.targets import names


def block_file(n: int) -> str:
    out = ["monitor { sample 5ms; aggr 100ms }"]
    for i in range(n):
        out.append(f"scheme s{i} {{\n    action pageout\n    size 4K..max\n    access 0%..0%\n"
                   f"    age {i % 50 + 1}s..max\n    quota {{ size 128M; reset 1s }}\n}}")
    return "\n".join(out) + "\n"


def scheme_file(n: int) -> str:
    """``block_file(n)`` for physical memory (``ops paddr``, a fixed 4G..8G
    region, no pid): every target's input, so that only the number of schemes
    stops a target (DAMON_RECLAIM and DAMON_LRU_SORT monitor paddr)."""
    _, rest = block_file(n).split("\n", 1)
    return "monitor { ops paddr; sample 5ms; aggr 100ms }\ntarget region 4G..8G\n" + rest


def compiler_error(stderr: str, path: str) -> str:
    """The compiler's own one-line error (its first ``error:`` line), with the
    temporary directory dropped from the file name."""
    lines = stderr.splitlines()
    line = next((x for x in lines if ": error: " in x), lines[0] if lines else "no message")
    return line.replace(os.path.dirname(path) + os.sep, "")


def run(quick: bool, m: int = 1000) -> list[dict]:
    """The rows; ``m`` is the size of the file compiled to every target."""
    damos = damos_cmd()
    rows = []
    repeat = 3 if quick else 10
    python_start = median_of([sys.executable, "-c", "pass"], repeat).wall_s
    start = median_of(damos + ["compile", "examples/ethp.damos", "--target", "sysfs"], repeat)
    rows.append(row("CLI start-up: compile ethp.damos -t sysfs", start.wall_s * 1000, "ms",
                    goal="<= 150 ms", baseline=python_start * 1000,
                    ratio=start.wall_s / python_start,
                    note=f"wall, median of {repeat}; CPU {start.cpu_s * 1000:.0f} ms; bare "
                         f"python {python_start * 1000:.0f} ms (ratio baseline); {load_note()}"))
    n = 1000 if quick else 10_000
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, f"big{n}.damos")
        Path(path).write_text(block_file(n))
        check = median_of(damos + ["check", path], 1 if quick else 3)
        t = check.wall_s
        rows.append(row(f"check a {n}-scheme block file", t, "s",
                        goal="<= 2 s at 10000" if not quick else "",
                        note=f"wall; CPU {check.cpu_s:.2f} s; {t / n * 1e6:.0f} us per "
                             f"scheme; {load_note()}"))
        # damos check on a file full of warnings: printing them must stay linear
        lines = 1000 if quick else 5000
        walls = []
        for k in (1, 4):
            warn = os.path.join(d, f"warn{k}.damos")
            Path(warn).write_text("min max 7% max 150ms max stat\n" * (lines * k))
            cmd = damos + ["check", warn]
            n_warn = run_command(cmd).stderr.count(": warning: ")
            walls.append((median_of(cmd, 1).wall_s, n_warn))
        (t1, w1), (t4, w4) = walls
        rows.append(row(f"check with {w1} warnings, then {w4} (4x the lines)", t4, "s",
                        goal="ratio ~4 (linear)", baseline=t1, ratio=t4 / t1,
                        note=f"{t1:.2f} s for {lines} lines, {t4:.2f} s for {4 * lines}"))
        # every target (damos_lang/targets/) on one m-scheme file, 1000 in quick
        # mode too: each compile is one ~0.25 s process, and the whole quick run
        # of this module takes ~8 s on 2 cores; targets that cannot express the
        # file get a row carrying the compiler's own error line
        src = os.path.join(d, f"big{m}.damos")
        Path(src).write_text(scheme_file(m))
        front = median_of(damos + ["check", src], repeat)
        for target in names():
            out = os.path.join(d, f"out-{target}")
            cmd = damos + ["compile", src, "-t", target, "-o", out]
            if target == "debugfs":      # the file sets attrs and targets too
                cmd += ["--debugfs-file", "schemes"]
            name = f"compile {m} schemes -t {target}"
            r = run_command(cmd, check=False)
            if r.returncode != 0:
                rows.append(row(name, "n/a", "",
                                note=f"cannot express it (exit {r.returncode}): "
                                     f"{compiler_error(r.stderr, src)}"))
                continue
            t = median_of(cmd, repeat)
            rows.append(row(name, t.wall_s, "s", baseline=front.wall_s,
                            ratio=t.wall_s / front.wall_s,
                            note=f"wall, median of {repeat}; CPU {t.cpu_s:.2f} s; "
                                 f"{t.wall_s / m * 1e6:.0f} us per scheme; ratio to `damos "
                                 f"check` of the same file ({front.wall_s:.2f} s wall, "
                                 f"{front.cpu_s:.2f} s CPU: start-up and front end), so ratio - 1 "
                                 f"is the target's own share; paddr 4G..8G file; {load_note()}"))
    return rows
