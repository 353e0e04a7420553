"""The kernel's DAMON tracepoints, as tracefs text (``/sys/kernel/tracing/trace``;
tests/kernel/jobs/trace.sh and stock73-trace.sh capture them), read into the
same structure as a ``damos run --record`` file.

Events read (formats as Debian's 7.3 prints them; the version each came in):

* ``damon_aggregated`` (5.15): one region at the end of an aggregation::

    kdamond.0-85 [001] ..... 12.345678: damon_aggregated: target_id=0 nr_regions=3 4096-8192: 5 2

* ``damon_region_aggregated`` (7.2): the same, plus each data-attribute
  probe's hits (``probe_hits=`` one hex byte per probe, space-separated);
  read instead of ``damon_aggregated`` when the trace has it;
* ``damos_stat_after_apply_interval`` (7.0): a scheme's cumulative stats
  after each of its apply intervals: they become the aggregations' ``stats``,
  so a trace's heatmap shows when each scheme acted, as a record's does;
* ``damos_esz`` (6.17): a scheme's effective quota, the ``esz`` of its stats;
* ``damos_before_apply`` (6.7): each region a scheme is about to act on:
  the aggregation's ``acted`` regions (where, not only when);
* ``damon_monitor_intervals_tune`` (6.17): the sampling interval the
  intervals_goal tuner set: ``Record.tuned`` (time, sample_us).

The kernel emits all the regions of an aggregation back to back, so region
lines are grouped into aggregations by their timestamps: a group ends when
every target in it has its ``nr_regions`` lines, or when the timestamp jumps
(a gap of more than 1 ms between two region lines, which only an aggregation
boundary makes).  An incomplete group (the ring buffer dropped its first
lines) is left out and counted in ``Record.dropped``.  A scheme event is
charged to the first aggregation that ends at or after it."""
from __future__ import annotations

import bisect
import re
from typing import Dict, List, Optional, Tuple

from .records import Acted, Aggregation, Record, RecordError, TargetSnapshot

LINE = re.compile(r"\s([\d.]+): (damon\w*|damos\w*): (.*)$")
# target_id=%lu nr_regions=%u %lu-%lu: %u %u   (start-end: nr_accesses age)
REGION = re.compile(r"target_id=(\d+) nr_regions=(\d+) (\d+)-(\d+): (\d+) (\d+)"
                    r"(?: probe_hits=([0-9a-f ]*))?$")
BEFORE_APPLY = re.compile(r"ctx_idx=(\d+) scheme_idx=(\d+) target_idx=(\d+) nr_regions=(\d+) "
                          r"(\d+)-(\d+): (\d+) (\d+)$")
STAT_FIELDS = ("nr_tried", "sz_tried", "nr_applied", "sz_applied", "sz_ops_filter_passed",
               "qt_exceeds", "nr_snapshots")
STAT = re.compile(r"ctx_idx=(\d+) scheme_idx=(\d+) "
                  + " ".join(rf"{f}=(\d+)" for f in STAT_FIELDS) + "$")
ESZ = re.compile(r"ctx_idx=(\d+) scheme_idx=(\d+) esz=(\d+)$")
TUNE = re.compile(r"sample_us=(\d+)$")
REGION_EVENTS = ("damon_aggregated", "damon_region_aggregated")
FORMATS = {
    "damon_aggregated": "target_id=N nr_regions=N START-END: NR_ACCESSES AGE",
    "damon_region_aggregated": "target_id=N nr_regions=N START-END: NR_ACCESSES AGE "
                               "probe_hits=XX ...",
    "damos_before_apply": "ctx_idx=N scheme_idx=N target_idx=N nr_regions=N START-END: "
                          "NR_ACCESSES AGE",
    "damos_stat_after_apply_interval": "ctx_idx=N scheme_idx=N " + " ".join(
        f"{f}=N" for f in STAT_FIELDS),
    "damos_esz": "ctx_idx=N scheme_idx=N esz=N",
    "damon_monitor_intervals_tune": "sample_us=N",
}
GAP_S = 0.001


class _Lines:
    """The trace's DAMON events by name: (line number, timestamp, fields match)."""

    def __init__(self, text: str, path: str) -> None:
        self.by_event: Dict[str, List[Tuple[int, float, re.Match]]] = {}
        patterns = {"damon_aggregated": REGION, "damon_region_aggregated": REGION,
                    "damos_before_apply": BEFORE_APPLY, "damos_stat_after_apply_interval": STAT,
                    "damos_esz": ESZ, "damon_monitor_intervals_tune": TUNE}
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = LINE.search(line)
            if not m or m.group(2) not in patterns:
                continue                  # other events in the same buffer, or newer ones
            event = m.group(2)
            f = patterns[event].match(m.group(3))
            if not f:
                raise RecordError(path, n, f"not a {event} line: expected 'TIMESTAMP: {event}: "
                                           f"{FORMATS[event]}'")
            try:
                ts = float(m.group(1))
            except ValueError:
                raise RecordError(path, n, f"bad timestamp '{m.group(1)}'") from None
            self.by_event.setdefault(event, []).append((n, ts, f))

    def get(self, event: str) -> List[Tuple[int, float, re.Match]]:
        return self.by_event.get(event, [])


def _group_regions(lines, path: str):
    """Region lines into complete aggregations: [(timestamp, {target: regions})]."""
    groups: List[Tuple[float, Dict[int, Tuple[int, list, list]]]] = []
    cur: Dict[int, Tuple[int, list, list]] = {}
    cur_ts = last_ts = None
    dropped = 0

    def close():
        nonlocal cur, dropped
        if cur:
            if all(len(regs) == nr for nr, regs, _ in cur.values()):
                groups.append((cur_ts, cur))
            else:
                dropped += 1
        cur = {}

    for n, ts, f in lines:
        tid_s, nr_s, s_s, e_s, acc_s, age_s, hits = f.groups()
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
            entry = cur[tid] = (nr, [], [])
        entry[1].append((start, end, int(acc_s), int(age_s)))
        entry[2].append(tuple(int(b, 16) for b in hits.split()) if hits is not None else None)
        last_ts = ts
    close()
    return groups, dropped


def parse_trace(text: str, path: str = "<trace>") -> Record:
    lines = _Lines(text, path)
    event = next((e for e in reversed(REGION_EVENTS) if lines.get(e)), REGION_EVENTS[0])
    groups, dropped = _group_regions(lines.get(event), path)
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
    origin = t0 - (aggr_us or 0) / 1e6

    def us(ts: float) -> int:
        return round((ts - origin) * 1e6)

    aggs = []
    for i, (ts, g) in enumerate(groups):
        targets = []
        for tid, (_, regs, hits) in sorted(g.items()):
            order = sorted(range(len(regs)), key=regs.__getitem__)
            probe_hits = [hits[j] for j in order] if any(h is not None for h in hits) else None
            targets.append(TargetSnapshot(tid, [regs[j] for j in order], probe_hits=probe_hits))
        aggs.append(Aggregation(us(ts), i + 1, targets))
    ends = [ts for ts, _ in groups]

    def owner(ts: float) -> Optional[Aggregation]:
        """The aggregation that ends at or after ts (scheme events come just
        before the region lines of their aggregation)."""
        i = bisect.bisect_left(ends, ts - GAP_S)
        return aggs[i] if i < len(aggs) else None

    # cumulative stats: the newest line per scheme at each aggregation
    latest: Dict[Tuple[int, int], dict] = {}
    stat_lines = sorted([(ts, "stat", f) for _, ts, f in lines.get("damos_stat_after_apply_interval")]
                        + [(ts, "esz", f) for _, ts, f in lines.get("damos_esz")],
                        key=lambda x: x[0])
    si = 0
    for agg, end in zip(aggs, ends):
        while si < len(stat_lines) and stat_lines[si][0] <= end + GAP_S:
            _, kind, f = stat_lines[si]
            key = (int(f.group(1)), int(f.group(2)))
            st = latest.setdefault(key, {"index": key[1], "context": key[0]})
            if kind == "stat":
                st.update(zip(STAT_FIELDS, map(int, f.groups()[2:])))
            else:
                st["esz"] = int(f.group(3))
            si += 1
        agg.stats = [dict(latest[k]) for k in sorted(latest)]
    for _, ts, f in lines.get("damos_before_apply"):
        agg = owner(ts)
        if agg is not None:
            ctx, scheme, tidx, _, s, e, acc, age = map(int, f.groups())
            agg.acted.append(Acted(ctx, scheme, tidx, s, e, acc, age))
    tuned = [(us(ts), int(f.group(1))) for _, ts, f in lines.get("damon_monitor_intervals_tune")]
    return Record(path=path, kind="kernel trace", aggregations=aggs, aggr_us=aggr_us,
                  dropped=dropped, origin_s=origin, tuned=tuned, events=sorted(lines.by_event))
