"""The kernel's ``damon:damon_aggregated`` tracepoint, as tracefs text
(``/sys/kernel/tracing/trace``; tests/kernel/jobs/trace.sh captures one),
read into the same structure as a ``damos run --record`` file.

Each line is one region at the end of an aggregation interval::

    kdamond.0-85 [001] ..... 12.345678: damon_aggregated: target_id=0 nr_regions=3 4096-8192: 5 2

The kernel emits all the regions of an aggregation back to back, so lines
are grouped into aggregations by their timestamps: a group ends when every
target in it has its ``nr_regions`` lines, or when the timestamp jumps (a
gap of more than 1 ms between two lines, which only an aggregation boundary
makes).  An incomplete group (the ring buffer dropped its first lines) is
left out and counted in ``Record.dropped``."""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

from .records import Aggregation, Record, RecordError, TargetSnapshot

# format: target_id=%lu nr_regions=%u %lu-%lu: %u %u   (start-end: nr_accesses age)
# (the same pattern as tests/kernel/trace_summary.py)
PATTERN = re.compile(r"\s([\d.]+): damon_aggregated: target_id=(\d+) nr_regions=(\d+) "
                     r"(\d+)-(\d+): (\d+) (\d+)")
GAP_S = 0.001


def parse_trace(text: str, path: str = "<trace>") -> Record:
    groups: List[Tuple[float, Dict[int, Tuple[int, list]]]] = []
    cur: Dict[int, Tuple[int, list]] = {}
    cur_ts = last_ts = None
    dropped = 0

    def complete(g) -> bool:
        return all(len(regs) == nr for nr, regs in g.values())

    def close():
        nonlocal cur, dropped
        if cur:
            if complete(cur):
                groups.append((cur_ts, cur))
            else:
                dropped += 1
        cur = {}

    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = PATTERN.search(line)
        if not m:
            if "damon_aggregated:" in line:
                raise RecordError(path, n, "not a damon_aggregated line: expected "
                                           "'TIMESTAMP: damon_aggregated: target_id=N nr_regions=N "
                                           "START-END: NR_ACCESSES AGE'")
            continue                      # other events in the same buffer
        ts_s, tid_s, nr_s, s_s, e_s, acc_s, age_s = m.groups()
        try:
            ts = float(ts_s)
        except ValueError:
            raise RecordError(path, n, f"bad timestamp '{ts_s}'") from None
        tid, nr, start, end = int(tid_s), int(nr_s), int(s_s), int(e_s)
        if end <= start:
            raise RecordError(path, n, f"region end {end:#x} is not above start {start:#x}")
        if nr == 0:
            raise RecordError(path, n, "nr_regions=0 with a region on the line")
        if last_ts is not None and (ts - last_ts > GAP_S or ts < last_ts):
            close()
        entry = cur.get(tid)
        if entry is not None and len(entry[1]) >= entry[0]:
            close()                          # this target is complete: a new aggregation
            entry = None
        if not cur:
            cur_ts = ts
        if entry is None:
            entry = cur[tid] = (nr, [])
        entry[1].append((start, end, int(acc_s), int(age_s)))
        last_ts = ts
    close()
    if not groups:
        raise RecordError(path, None, "no complete damon_aggregated aggregation in the trace "
                                      "(is it tracefs text with the damon:damon_aggregated event?)")
    diffs = sorted(b[0] - a[0] for a, b in zip(groups, groups[1:]))
    aggr_us = None
    if diffs:
        # the median gap, to the ms (the kernel's own jitter is microseconds)
        median = diffs[len(diffs) // 2] * 1e6
        grain = 1000 if median >= 10_000 else 100
        aggr_us = max(grain, int(round(median / grain)) * grain)
    t0 = groups[0][0]
    aggs = []
    for i, (ts, g) in enumerate(groups):
        time_us = round((ts - t0) * 1e6) + (aggr_us or 0)
        aggs.append(Aggregation(time_us, i + 1,
                                [TargetSnapshot(tid, sorted(regs)) for tid, (_, regs) in sorted(g.items())]))
    return Record(path=path, kind="kernel trace", aggregations=aggs, aggr_us=aggr_us,
                  dropped=dropped, origin_s=t0 - (aggr_us or 0) / 1e6)
