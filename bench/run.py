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


README_BEGIN = "<!-- bench-table: begin (written by ./dev bench --readme; do not edit) -->"
README_END = "<!-- bench-table: end -->"
RESULTS = HERE / "results.json"


def _md(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(data: dict) -> str:
    """The README's results table for one bench run's JSON."""
    out = [README_BEGIN, "",
           f"Machine: {data['machine']}. Date: {data['date']}{_refreshed(data)}. Command: "
           f"`./dev bench{' --quick' if data['quick'] else ''} --readme` "
           f"(rows: [bench/results.json](bench/results.json)). Rows named `vm.*` were measured "
           "in the rig's VM by the kernel tests named in their notes and are reported from "
           "their last run.", "",
           "| benchmark | value | goal | ratio | what was measured |", "|---|---|---|---|---|"]
    for r in data["rows"]:
        v = r["value"]
        value = f"{fmt_value(v)} {r.get('unit', '')}".strip()
        ratio = fmt_value(r["ratio"]) if r.get("ratio") is not None else ""
        out.append(f"| {_md(r['name'])} | {_md(value)} | {_md(r.get('goal', ''))} | {ratio} "
                   f"| {_md(r.get('note', ''))} |")
    out += ["", README_END]
    return "\n".join(out)


def _refreshed(data: dict) -> str:
    """The modules re-measured alone after the whole run: when, and where."""
    later = data.get("refreshed", {})
    return "".join(f" (`{m}` rows re-measured {r['date']} on {r['machine']} by "
                   f"`./dev bench --readme {m}`)" for m, r in sorted(later.items()))


def merge_rows(old: dict, new: dict, modules: list[str]) -> dict:
    """``old``'s results with ``modules``' rows replaced by ``new``'s; the
    table then says when and on which machine those rows were measured."""
    if old["quick"] != new["quick"]:
        raise SystemExit("bench: --readme with module names refreshes rows of a run of the "
                         "same mode (--quick or not)")
    rows = [r for r in old["rows"] if r["bench"] not in modules]
    at = next((i for i, r in enumerate(old["rows"]) if r["bench"] in modules), len(old["rows"]))
    at -= sum(1 for r in old["rows"][:at] if r["bench"] in modules)
    rows[at:at] = [r for r in new["rows"] if r["bench"] in modules]
    refreshed = dict(old.get("refreshed", {}))
    refreshed.update({m: {"date": new["date"], "machine": new["machine"]} for m in modules})
    return {**old, "rows": rows, "refreshed": refreshed}


def update_readme(readme: Path, data: dict) -> None:
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        raise SystemExit(f"bench: {readme} has no '{README_BEGIN}' ... '{README_END}' block")
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + markdown(data) + tail)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CI: keeps it from rotting)")
    ap.add_argument("--json", default="build/bench.json", help="where to write the rows")
    ap.add_argument("--readme", action="store_true",
                    help="also keep the rows in bench/results.json and write the README's "
                         "results table from them; with module names, only those modules' "
                         "rows are replaced (the table says when they were re-measured)")
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
    data = {"machine": machine(), "date": when, "quick": args.quick, "rows": rows}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwrote {out}", file=sys.stderr)
    if args.readme:
        if args.only:
            data = merge_rows(json.loads(RESULTS.read_text()), data, names)
        RESULTS.write_text(json.dumps(data, indent=2) + "\n")
        update_readme(HERE.parent / "README.md", data)
        print(f"wrote {RESULTS} and the README's results table", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
