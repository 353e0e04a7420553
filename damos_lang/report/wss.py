"""Working-set size over time: per aggregation, the bytes of the regions with
``nr_accesses > 0`` (as damo's ``report wss``), and its distribution."""
from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence, Tuple

from ..units import format_bytes
from .plot import pyplot
from .records import Record

PERCENTILES = (0, 25, 50, 75, 90, 99, 100)


def clip(regions, addr_range: Optional[Tuple[int, int]]):
    """The regions cut to ``[lo, hi)``."""
    if addr_range is None:
        return regions
    lo, hi = addr_range
    out = []
    for s, e, acc, age in regions:
        s2, e2 = max(s, lo), min(e, hi)
        if e2 > s2:
            out.append((s2, e2, acc, age))
    return out


def select(rec: Record, time_range: Optional[Tuple[float, float]]):
    """Positions of the aggregations whose time (seconds) is in the window."""
    if time_range is None:
        return list(range(len(rec.aggregations)))
    lo, hi = time_range
    return [i for i, a in enumerate(rec.aggregations) if lo <= a.time_us / 1e6 <= hi]


def series(rec: Record, addr_range=None, time_range=None) -> Tuple[List[int], List[int]]:
    """(times in µs, working-set bytes) per aggregation."""
    times, wss = [], []
    for i in select(rec, time_range):
        agg = rec.aggregations[i]
        times.append(agg.time_us)
        wss.append(sum(e - s for s, e, acc, _ in clip(agg.regions(), addr_range) if acc > 0))
    return times, wss


def percentiles(values: Sequence[int], points=PERCENTILES) -> Dict[int, int]:
    """Nearest-rank percentiles of the sorted values (damo's way: no interpolation)."""
    if not values:
        return {}
    ordered = sorted(values)
    return {p: ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]
            for p in points}


def report(rec: Record, addr_range=None, time_range=None) -> dict:
    times, wss = series(rec, addr_range, time_range)
    return {"record": rec.path, "kind": rec.kind, "aggr_us": rec.aggr_us,
            "aggregations": len(times), "time_us": times, "wss_bytes": wss,
            "percentiles": {str(p): v for p, v in percentiles(wss).items()}}


def text(rec: Record, addr_range=None, time_range=None, rows: int = 20) -> str:
    times, wss = series(rec, addr_range, time_range)
    if not times:
        return f"{rec.path}: no aggregation in the time window\n"
    aggr = f"{rec.aggr_us / 1000:g} ms" if rec.aggr_us else "?"
    if rec.tuned:
        aggr += f" at first, retuned {len(rec.tuned)} time{'s' if len(rec.tuned) > 1 else ''}"
    out = [f"{rec.path}: {rec.kind}, {len(times)} aggregations of {aggr}, "
           f"{times[0] / 1e6:.1f} s .. {times[-1] / 1e6:.1f} s",
           "working-set size: bytes of the regions with nr_accesses > 0, per aggregation",
           "", "distribution", f"  {'percentile':>10}  {'wss':>11}"]
    for p, v in percentiles(wss).items():
        out.append(f"  {p:>10}  {format_bytes(v):>11}")
    step = max(1, -(-len(times) // rows))
    # retuned intervals make rows of unequal time: then each row says its own
    span = 0 if rec.tuned else step * (rec.aggr_us or 0) / 1e6
    out += ["", f"over time ({step} aggregation{'s' if step > 1 else ''} per row"
                + (f", {span:g} s" if span else "") + ")",
            f"  {'from':>8}  {'to':>8}  {'mean':>11}  {'min':>11}  {'max':>11}"]
    for i in range(0, len(times), step):
        chunk = wss[i:i + step]
        out.append(f"  {times[i] / 1e6:>7.1f}s  {times[min(i + step, len(times)) - 1] / 1e6:>7.1f}s  "
                   f"{format_bytes(sum(chunk) / len(chunk)):>11}  {format_bytes(min(chunk)):>11}  "
                   f"{format_bytes(max(chunk)):>11}")
    return "\n".join(out) + "\n"


def to_json(rec: Record, addr_range=None, time_range=None) -> str:
    return json.dumps(report(rec, addr_range, time_range), indent=1) + "\n"


def plot(rec: Record, output: str, addr_range=None, time_range=None) -> None:
    """WSS over time and its distribution, as a PNG (needs matplotlib)."""
    plt = pyplot()
    times, wss = series(rec, addr_range, time_range)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]})
    ax1.plot([t / 1e6 for t in times], [w / (1 << 20) for w in wss], lw=1)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("working set (MiB)")
    ax1.set_title(f"{rec.path}: working-set size")
    ordered = sorted(wss)
    n = len(ordered)
    ax2.plot([100 * i / max(1, n - 1) for i in range(n)], [w / (1 << 20) for w in ordered], lw=1)
    ax2.set_xlabel("percentile")
    ax2.set_ylabel("MiB")
    ax2.set_title("distribution")
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)
