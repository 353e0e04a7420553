"""Summarise damon:damon_aggregated trace lines for a monitored buffer.

Groups the lines into aggregations (one line per region, nr_regions lines
each) and computes, per aggregation, the byte-weighted nr_accesses over the
hot part [ADDR, ADDR+HOT) and the cold part [ADDR+HOT, ADDR+LEN).

usage: python trace_summary.py TRACE ADDR(hex) LEN HOT      (prints JSON)
"""
from __future__ import annotations

import json
import re
import sys

# format: target_id=%lu nr_regions=%u %lu-%lu: %u %u   (start-end: nr_accesses age)
_PAT = re.compile(r"\s([\d.]+): damon_aggregated: target_id=(\d+) nr_regions=(\d+) (\d+)-(\d+): (\d+) (\d+)")


def parse(text: str) -> list[tuple[float, list[tuple[int, int, int, int]]]]:
    aggs, cur = [], []
    for line in text.splitlines():
        m = _PAT.search(line)
        if not m:
            continue
        ts, _tid, nr, s, e, acc, age = m.groups()
        cur.append((int(s), int(e), int(acc), int(age)))
        if len(cur) == int(nr):
            aggs.append((float(ts), cur))
            cur = []
    return aggs


def weighted(regions, lo: int, hi: int) -> float | None:
    tot = acc = 0
    for s, e, a, _ in regions:
        ov = min(e, hi) - max(s, lo)
        if ov > 0:
            tot += ov
            acc += ov * a
    return acc / tot if tot else None


def summarise(text: str, addr: int, length: int, hot: int, warmup_fraction: float = 1 / 3) -> dict:
    aggs = parse(text)
    hot_acc = [weighted(r, addr, addr + hot) for _, r in aggs]
    cold_acc = [weighted(r, addr + hot, addr + length) for _, r in aggs]
    skip = int(len(aggs) * warmup_fraction)  # ignore the warm-up (regions still splitting)
    h = [x for x in hot_acc[skip:] if x is not None]
    c = [x for x in cold_acc[skip:] if x is not None]
    return {
        "aggregations": len(aggs),
        "regions_per_aggregation": [len(r) for _, r in aggs],
        "hot_per_aggregation": hot_acc,
        "cold_per_aggregation": cold_acc,
        "considered": len(aggs) - skip,
        "hot_mean": sum(h) / len(h) if h else None,
        "cold_mean": sum(c) / len(c) if c else None,
        "max_nr_accesses_seen": max((a for _, r in aggs for _, _, a, _ in r), default=None),
    }


if __name__ == "__main__":
    trace, addr, length, hot = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3]), int(sys.argv[4])
    with open(trace) as f:
        print(json.dumps(summarise(f.read(), addr, length, hot), indent=1))
