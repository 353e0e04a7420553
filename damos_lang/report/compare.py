"""Two records of the same workload side by side (e.g. kernel DAMON's trace
and a ``damos run`` record) and how far they agree on the working set.

Each aggregation of the first record is paired with the second record's
aggregation closest in time (after ``shift``; pairs further apart than half
an aggregation interval are left out).  For each pair, only the addresses
both records cover count, and a byte is *hot* where its region has
``nr_accesses > 0`` (the working set, as ``report wss`` counts it).

* **hot-set agreement**: bytes hot in both / bytes hot in either, summed over
  the pairs (a Jaccard index: 1 is the same working set everywhere, 0 none
  in common).  This is the headline figure: most of an address space is
  cold, so counting cold bytes that both call cold would say little;
* **classification agreement**: the share of covered bytes both call hot or
  both call cold;
* each side's working-set size, per pair and its median.

Time alignment: by default each record's time 0 is its first aggregation's
start.  ``shift`` (seconds) is added to the second record's times, for
records whose starts differ by a known amount (tests/kernel/
test_kernel_accuracy.py takes it from the workload's own phase log)."""
from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, replace
from typing import List

from ..units import format_bytes
from .records import Aggregation, Record
from .spans import intersect, merge, size
from .wss import clip, percentiles, select


def shifted(rec: Record, shift_us: int) -> Record:
    """The record with every aggregation ``shift_us`` later."""
    if not shift_us:
        return rec
    return replace(rec, aggregations=[replace(a, time_us=a.time_us + shift_us)
                                      for a in rec.aggregations])


@dataclass
class Pair:
    time_us: int                 # the first record's aggregation time
    covered: int                 # bytes both cover
    hot_a: int
    hot_b: int
    hot_both: int
    hot_either: int


def pairs(a: Record, b: Record, addr_range=None, time_range=None) -> List[Pair]:
    tol = max(a.aggr_us or 0, b.aggr_us or 0) // 2 or 1
    b_times = [x.time_us for x in b.aggregations]
    out = []
    for pos in select(a, time_range):
        x = a.aggregations[pos]
        k = bisect.bisect_left(b_times, x.time_us)
        near = [i for i in (k - 1, k) if 0 <= i < len(b_times)]
        if not near:
            continue
        i = min(near, key=lambda i: abs(b_times[i] - x.time_us))
        if abs(b_times[i] - x.time_us) > tol:
            continue
        out.append(_pair(x, b.aggregations[i], addr_range))
    return out


def _pair(x: Aggregation, y: Aggregation, addr_range) -> Pair:
    rx, ry = clip(x.regions(), addr_range), clip(y.regions(), addr_range)
    common = intersect(merge((s, e) for s, e, _, _ in rx), merge((s, e) for s, e, _, _ in ry))
    hx = intersect(merge((s, e) for s, e, acc, _ in rx if acc > 0), common)
    hy = intersect(merge((s, e) for s, e, acc, _ in ry if acc > 0), common)
    both = size(intersect(hx, hy))
    return Pair(x.time_us, size(common), size(hx), size(hy), both, size(hx) + size(hy) - both)


def summary(a: Record, b: Record, addr_range=None, time_range=None) -> dict:
    ps = pairs(a, b, addr_range, time_range)
    either = sum(p.hot_either for p in ps)
    covered = sum(p.covered for p in ps)
    alike = sum(p.covered - (p.hot_either - p.hot_both) for p in ps)
    wa, wb = [p.hot_a for p in ps], [p.hot_b for p in ps]
    med_a, med_b = percentiles(wa, (50,)).get(50), percentiles(wb, (50,)).get(50)
    return {
        "a": {"record": a.path, "kind": a.kind, "aggregations": len(a.aggregations),
              "median_wss_bytes": med_a},
        "b": {"record": b.path, "kind": b.kind, "aggregations": len(b.aggregations),
              "median_wss_bytes": med_b},
        "pairs": len(ps),
        "hot_set_agreement": round(sum(p.hot_both for p in ps) / either, 4) if either else None,
        "classification_agreement": round(alike / covered, 4) if covered else None,
        "median_wss_ratio": round(med_b / med_a, 4) if med_a else None,
        "time_us": [p.time_us for p in ps], "wss_a_bytes": wa, "wss_b_bytes": wb,
    }


def text(a: Record, b: Record, s: dict) -> str:
    """``s``: summary(a, b, ...)."""
    if not s["pairs"]:
        return ("no aggregations of the two records are within half an interval of each "
                "other: nothing to compare (use --shift to align them)\n")

    def pct(v):
        return "n/a" if v is None else f"{100 * v:.1f} %"

    def size(v):
        return "n/a" if v is None else format_bytes(v)
    out = [f"A: {a.path} ({a.kind}, {len(a.aggregations)} aggregations)",
           f"B: {b.path} ({b.kind}, {len(b.aggregations)} aggregations)",
           f"{s['pairs']} aggregations paired in time",
           "",
           f"hot-set agreement        {pct(s['hot_set_agreement'])}  "
           "(bytes hot in both / hot in either)",
           f"classification agreement {pct(s['classification_agreement'])}  "
           "(covered bytes both call hot, or both cold)",
           f"median working set       A {size(s['a']['median_wss_bytes'])}, "
           f"B {size(s['b']['median_wss_bytes'])}"
           + (f" (B/A {s['median_wss_ratio']:.2f})" if s["median_wss_ratio"] else "")]
    return "\n".join(out) + "\n"


def to_json(s: dict) -> str:
    return json.dumps(s, indent=1) + "\n"


def png(a: Record, b: Record, s: dict, output: str, addr_range=None, time_range=None,
        rows: int = 256, max_cols: int = 1200, dpi: int = 100) -> None:
    """The two heatmaps one above the other on the same axes, and both
    working-set sizes over time below them (``s``: summary(a, b, ...) over
    the same ranges)."""
    from .heatmap import draw_map, grid
    from .plot import pyplot
    plt = pyplot()
    ga = grid(a, rows, max_cols, addr_range, time_range)
    gb = grid(b, rows, max_cols, addr_range, time_range)
    fig = plt.figure(figsize=(10, 9), dpi=dpi)
    t0 = min(ga.col_times_us[0][0], gb.col_times_us[0][0]) / 1e6
    t1 = max(ga.col_times_us[-1][1], gb.col_times_us[-1][1]) / 1e6
    cax = fig.add_axes([0.88, 0.40, 0.02, 0.52])
    for k, (rec, g) in enumerate(((a, ga), (b, gb))):
        ax = fig.add_axes([0.14, 0.68 - 0.28 * k, 0.72, 0.24])
        im = draw_map(ax, g)
        ax.set_xlim(t0, t1)
        ax.set_ylabel("address (gaps collapsed)", fontsize=8)
        ax.set_title(f"{'AB'[k]}: {rec.path} ({rec.kind})", fontsize=9)
        ax.tick_params(labelbottom=False)
    fig.colorbar(im, cax=cax).set_label("access frequency (% of samples)")
    wx = fig.add_axes([0.14, 0.08, 0.72, 0.24])
    ts = [t / 1e6 for t in s["time_us"]]
    wx.plot(ts, [w / (1 << 20) for w in s["wss_a_bytes"]], lw=1, label=f"A ({a.kind})")
    wx.plot(ts, [w / (1 << 20) for w in s["wss_b_bytes"]], lw=1, label=f"B ({b.kind})")
    wx.set_xlim(t0, t1)
    wx.set_xlabel("time (s)")
    wx.set_ylabel("working set (MiB)")
    wx.legend(loc="upper right", fontsize=8, frameon=False)
    agree = s["hot_set_agreement"]
    wx.set_title("working-set size; hot-set agreement "
                 + ("n/a" if agree is None else f"{100 * agree:.1f} %"), fontsize=9)
    fig.savefig(output, dpi=dpi, metadata={"Software": None})
    plt.close(fig)
