"""What each scheme did over time, and how the monitoring intervals were
tuned: from a record's cumulative per-scheme stats (a ``damos run`` record,
or a 7.0+ kernel trace's damos_stat_after_apply_interval and damos_esz), the
regions a trace's damos_before_apply names, and its
damon_monitor_intervals_tune events."""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Tuple

from ..units import format_bytes
from .records import Record
from .wss import select

COUNTERS = ("nr_tried", "sz_tried", "nr_applied", "sz_applied", "sz_ops_filter_passed",
            "qt_exceeds")
STRETCHES = 20


def per_scheme(rec: Record, time_range=None) -> Dict[int, List[dict]]:
    """Per scheme index, one entry per selected aggregation: its time, the
    growth of each counter since the aggregation before, the effective quota
    (esz, when known), and the regions and bytes it acted on (traces)."""
    out: Dict[int, List[dict]] = {}
    prev: Dict[int, dict] = {}
    chosen = set(select(rec, time_range))
    for pos, agg in enumerate(rec.aggregations):
        acted: Dict[int, Tuple[int, int]] = {}
        for a in agg.acted:
            n, b = acted.get(a.scheme, (0, 0))
            acted[a.scheme] = (n + 1, b + a.end - a.start)
        for i, st in enumerate(agg.stats):
            idx = st.get("index", i)
            before = prev.get(idx, {})
            if pos in chosen:
                e = {"time_us": agg.time_us}
                for c in COUNTERS:
                    cur = st.get(c)
                    e[c] = cur - before.get(c, 0) if isinstance(cur, int) else None
                e["esz"] = st.get("esz")
                e["acted_regions"], e["acted_bytes"] = acted.get(idx, (0, 0))
                out.setdefault(idx, []).append(e)
            prev[idx] = st
    return out


def _sum(entries: List[dict], key: str) -> Optional[int]:
    vals = [e[key] for e in entries if e[key] is not None]
    return sum(vals) if vals else None


def report(rec: Record, time_range=None) -> dict:
    schemes = per_scheme(rec, time_range)
    return {"record": rec.path, "kind": rec.kind, "events": rec.events,
            "schemes": [{"index": idx, "label": rec.scheme_label(idx),
                         "totals": {c: _sum(es, c) for c in (*COUNTERS, "acted_bytes")},
                         "aggregations": es} for idx, es in sorted(schemes.items())],
            "tuned": [{"time_us": t, "sample_us": s} for t, s in rec.tuned
                      if time_range is None or time_range[0] <= t / 1e6 <= time_range[1]]}


def to_json(rec: Record, addr_range=None, time_range=None) -> str:
    return json.dumps(report(rec, time_range), indent=1) + "\n"


def _b(v: Optional[int]) -> str:
    return "-" if v is None else format_bytes(v)


def text(rec: Record, addr_range=None, time_range=None) -> str:
    r = report(rec, time_range)
    out = [f"{rec.path}: {rec.kind}; {len(select(rec, time_range))} aggregations"]
    if not r["schemes"]:
        why = ("the trace has no damos_stat_after_apply_interval events (Linux 7.0+; enable "
               "events/damon/damos_stat_after_apply_interval)" if rec.kind == "kernel trace"
               else "the record has no schemes")
        out.append(f"no scheme stats: {why}")
    for s in r["schemes"]:
        t = s["totals"]
        out.append("")
        out.append(f"{s['label']}: tried {_b(t['sz_tried'])} in {t['nr_tried'] or 0} regions, "
                   f"applied {_b(t['sz_applied'])} in {t['nr_applied'] or 0}, "
                   f"quota exceeded {t['qt_exceeds'] or 0} times"
                   + (f"; acted on {_b(t['acted_bytes'])} (damos_before_apply)"
                      if t["acted_bytes"] else ""))
        es = s["aggregations"]
        step = max(1, -(-len(es) // STRETCHES))
        out.append(f"  {'time (s)':>15}  {'tried':>10}  {'applied':>10}  {'qt_exceeds':>10}  "
                   f"{'esz':>10}")
        for i in range(0, len(es), step):
            chunk = es[i:i + step]
            span = f"{chunk[0]['time_us'] / 1e6:.1f}-{chunk[-1]['time_us'] / 1e6:.1f}"
            esz = next((e["esz"] for e in reversed(chunk) if e["esz"] is not None), None)
            out.append(f"  {span:>15}  {_b(_sum(chunk, 'sz_tried')):>10}  "
                       f"{_b(_sum(chunk, 'sz_applied')):>10}  "
                       f"{_sum(chunk, 'qt_exceeds') if _sum(chunk, 'qt_exceeds') is not None else '-':>10}  "
                       f"{_b(esz):>10}")
    if r["tuned"]:
        out.append("")
        by = ("intervals_goal" if rec.kind == "kernel trace"
              else "intervals_goal or --max-cpu; aggr/sample kept")
        out.append(f"sampling interval tuned ({by}): " + ", ".join(
            f"{x['sample_us'] / 1000:g} ms at {x['time_us'] / 1e6:.1f} s" for x in r["tuned"]))
    return "\n".join(out) + "\n"
