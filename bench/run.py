"""One command for every benchmark: ``python bench/run.py [--quick] [--json FILE]``.

Each ``bench/bench_*.py`` module exposes ``run(quick: bool) -> list[dict]``
rows (name, value, unit, and optionally goal, baseline, ratio, note).  The
rows are printed as one table, with the machine and date, and written as
JSON.  Ratios are measured against a baseline in the same run, never
against numbers from another machine; no goal here fails a test.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CI: keeps it from rotting)")
    ap.add_argument("--json", default="build/bench.json", help="where to write the rows")
    ap.add_argument("only", nargs="*", help="module names to run (default: all)")
    args = ap.parse_args(argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if any(o in n for o in args.only)]
    rows = []
    for name in names:
        t0 = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        mod = importlib.import_module(f"bench.{name}")
        for row in mod.run(args.quick):
            rows.append({"bench": name, **row})
        print(f"bench: {name} done in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"machine: {machine()}\ndate: {when}\nmode: {'quick' if args.quick else 'full'}\n")
    head = ("benchmark", "value", "unit", "goal", "ratio", "note")
    table = [head] + [(r["name"], fmt_value(r["value"]), r.get("unit", ""), r.get("goal", ""),
                       fmt_value(r["ratio"]) if r.get("ratio") is not None else "",
                       r.get("note", "")) for r in rows]
    widths = [max(len(str(t[i])) for t in table) for i in range(len(head))]
    for i, t in enumerate(table):
        print("  ".join(str(c).ljust(w) for c, w in zip(t, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "date": when, "quick": args.quick,
                               "rows": rows}, indent=2) + "\n")
    print(f"\nwrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
