"""Monitoring records in memory: a ``damos run --record`` file or a kernel
``damon:damon_aggregated`` trace (see trace.py), read into one structure.

A record is a list of aggregations; each has its time (µs), and per target
the regions as ``(start, end, nr_accesses, age)`` tuples and the resident
bytes (None when unknown); plus the cumulative per-scheme stats (a kernel
trace has them from 7.0's damos_stat_after_apply_interval event) and, from
a trace, the regions each scheme acted on and the tuned sampling interval."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

RegionT = Tuple[int, int, int, int]          # start, end, nr_accesses, age


class RecordError(Exception):
    """Bad input: the message is one line, ``file:line: error: ...``."""

    def __init__(self, path: str, line: Optional[int], message: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: error: {message}")


@dataclass
class TargetSnapshot:
    id: int
    regions: List[RegionT]
    resident_bytes: Optional[int] = None
    # per region, each data-attribute probe's hits (a 7.2+ trace's
    # damon_region_aggregated), None when the record has none
    probe_hits: Optional[List[Optional[Tuple[int, ...]]]] = None


@dataclass(frozen=True)
class Acted:
    """A region a scheme was about to act on (a trace's damos_before_apply)."""
    context: int
    scheme: int
    target: int                               # the target's index in its context
    start: int
    end: int
    nr_accesses: int
    age: int


@dataclass
class Aggregation:
    time_us: int
    index: int                                # 1-based
    targets: List[TargetSnapshot]
    stats: List[dict] = field(default_factory=list)   # cumulative, per scheme
    acted: List[Acted] = field(default_factory=list)  # regions schemes acted on (traces)
    # the intervals this aggregation ran at, where the line says (a damos run
    # whose intervals_goal or --max-cpu retunes them); None: the record's
    sample_us: Optional[int] = None
    aggr_us: Optional[int] = None

    def regions(self) -> List[RegionT]:
        return [r for t in self.targets for r in t.regions]


@dataclass
class Record:
    path: str
    kind: str                                 # "damos run" or "kernel trace"
    aggregations: List[Aggregation]
    sample_us: Optional[int] = None
    aggr_us: Optional[int] = None
    update_us: Optional[int] = None
    schemes: List[dict] = field(default_factory=list)
    workload: Optional[str] = None
    dropped: int = 0                          # trace: incomplete aggregations left out
    # the clock reading (seconds) at time_us 0: CLOCK_MONOTONIC for a damos run
    # record of a real process, the trace clock for a kernel trace; None when
    # unknown (simulated time)
    origin_s: Optional[float] = None
    # (time_us, sample_us) each time the intervals_goal tuner set the sampling
    # interval (a trace's damon_monitor_intervals_tune)
    tuned: List[Tuple[int, int]] = field(default_factory=list)
    events: List[str] = field(default_factory=list)   # a trace's DAMON events read

    @property
    def max_nr_accesses(self) -> int:
        """The top of the nr_accesses scale: aggr/sample when known, else the
        highest value seen."""
        if self.sample_us and self.aggr_us:
            return max(1, self.aggr_us // self.sample_us)
        return max((r[2] for a in self.aggregations for r in a.regions()), default=0) or 1

    def aggr_us_of(self, agg: Aggregation) -> int:
        """The aggregation interval ``agg`` ran at (0 when unknown)."""
        return agg.aggr_us or self.aggr_us or 0

    def scheme_label(self, i: int) -> str:
        s = self.schemes[i] if i < len(self.schemes) else {}
        name = s.get("name")
        action = s.get("action")
        if action is None:              # a kernel trace names no actions
            return f"scheme {i}"
        return f"scheme {i} ({name}: {action})" if name else f"scheme {i} ({action})"


def _int(obj: dict, key: str, path: str, line: int, what: str, nullable: bool = False):
    v = obj.get(key)
    if v is None and nullable:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise RecordError(path, line, f"{what}: '{key}' must be a non-negative integer, "
                                      f"not {json.dumps(v)}")
    return v


def parse_record(text: str, path: str = "<record>") -> Record:
    """The lines of a ``damos run --record`` file (docs/damos-run.md)."""
    rec = Record(path=path, kind="damos run", aggregations=[])
    seen_header = False
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise RecordError(path, n, f"not a JSON line ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise RecordError(path, n, "a record line must be a JSON object")
        kind = obj.get("type")
        if kind == "header":
            if seen_header:
                raise RecordError(path, n, "a second header line")
            seen_header = True
            fmt = obj.get("format")
            if fmt != 1:
                raise RecordError(path, n, f"record format {json.dumps(fmt)} is not supported "
                                           "(this version reads format 1)")
            attrs = obj.get("attrs")
            if not isinstance(attrs, dict):
                raise RecordError(path, n, "header: 'attrs' must be an object")
            rec.sample_us = _int(attrs, "sample_us", path, n, "header attrs")
            rec.aggr_us = _int(attrs, "aggr_us", path, n, "header attrs")
            rec.update_us = _int(attrs, "update_us", path, n, "header attrs", nullable=True)
            schemes = obj.get("schemes", [])
            if not isinstance(schemes, list) or not all(isinstance(s, dict) for s in schemes):
                raise RecordError(path, n, "header: 'schemes' must be a list of objects")
            rec.schemes = schemes
            rec.workload = obj.get("workload")
            origin = obj.get("clock_origin_s")
            if origin is not None and (not isinstance(origin, (int, float)) or isinstance(origin, bool)):
                raise RecordError(path, n, "header: 'clock_origin_s' must be a number or null")
            rec.origin_s = origin
        elif kind == "aggregation":
            rec.aggregations.append(_aggregation(obj, path, n))
        elif kind == "summary":
            pass
        else:
            raise RecordError(path, n, f"unknown line type {json.dumps(kind)} "
                                       "(expected header, aggregation or summary)")
    if not rec.aggregations:
        raise RecordError(path, None, "no aggregation lines: nothing to report")
    rec.tuned = _tunings(rec)
    return rec


def _tunings(rec: Record) -> List[Tuple[int, int]]:
    """(time_us, sample_us) wherever a line's sampling interval differs from
    the one before it (the header's to begin with), as a trace's
    damon_monitor_intervals_tune events give them."""
    out, cur = [], rec.sample_us
    for a in rec.aggregations:
        if a.sample_us is not None and a.sample_us != cur:
            out.append((a.time_us, a.sample_us))
            cur = a.sample_us
    return out


def _aggregation(obj: dict, path: str, n: int) -> Aggregation:
    time_us = _int(obj, "time_us", path, n, "aggregation")
    if "wall_us" in obj:
        # when the aggregation really ended: what a report's time axis means
        time_us = _int(obj, "wall_us", path, n, "aggregation")
    index = obj.get("aggregation", 0)
    targets = obj.get("targets")
    if not isinstance(targets, list):
        raise RecordError(path, n, "aggregation: 'targets' must be a list")
    snaps = []
    for t in targets:
        if not isinstance(t, dict) or not isinstance(t.get("regions"), list):
            raise RecordError(path, n, "aggregation: each target needs a 'regions' list")
        regions = []
        for r in t["regions"]:
            if not isinstance(r, dict):
                raise RecordError(path, n, "aggregation: a region must be an object")
            s = _int(r, "start", path, n, "region")
            e = _int(r, "end", path, n, "region")
            if e <= s:
                raise RecordError(path, n, f"region: end {e:#x} is not above start {s:#x}")
            regions.append((s, e, _int(r, "nr_accesses", path, n, "region"),
                            _int(r, "age", path, n, "region")))
        snaps.append(TargetSnapshot(t.get("id", len(snaps)), regions,
                                    _int(t, "resident_bytes", path, n, "target", nullable=True)))
    stats = obj.get("stats", [])
    if not isinstance(stats, list) or not all(isinstance(s, dict) for s in stats):
        raise RecordError(path, n, "aggregation: 'stats' must be a list of objects")
    return Aggregation(time_us, index if isinstance(index, int) else 0, snaps, stats,
                       sample_us=_int(obj, "sample_us", path, n, "aggregation", nullable=True),
                       aggr_us=_int(obj, "aggr_us", path, n, "aggregation", nullable=True))


def applied_deltas(rec: Record) -> Dict[int, List[Tuple[int, int]]]:
    """Per scheme index: ``(aggregation position, bytes applied)`` for every
    aggregation in which the cumulative ``sz_applied`` grew."""
    out: Dict[int, List[Tuple[int, int]]] = {}
    prev: Dict[int, int] = {}
    for pos, agg in enumerate(rec.aggregations):
        for i, st in enumerate(agg.stats):
            idx = st.get("index", i)
            cur = st.get("sz_applied")
            if not isinstance(cur, int):
                continue
            if cur > prev.get(idx, 0):
                out.setdefault(idx, []).append((pos, cur - prev.get(idx, 0)))
            prev[idx] = cur
    return out


def matches_pattern(scheme: dict, region: RegionT) -> bool:
    """Whether a region is in the scheme's access pattern (kernel units)."""
    p = scheme.get("pattern") or {}
    s, e, acc, age = region
    sz = e - s
    try:
        return (p.get("sz_min", 0) <= sz <= p.get("sz_max", 1 << 64)
                and p.get("nr_accesses_min", 0) <= acc <= p.get("nr_accesses_max", 1 << 32)
                and p.get("age_min", 0) <= age <= p.get("age_max", 1 << 32))
    except TypeError:
        return False


def parse_span(text: str, what: str, unit: str) -> Tuple[float, float]:
    """``A-B`` for --range (addresses: decimal or 0x hex) or --time (seconds,
    with an optional s/ms/us suffix)."""
    parts = text.split("-")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise ValueError(f"{what} must be START-END, not '{text}'")

    def one(tok: str) -> float:
        tok = tok.strip()
        if unit == "address":
            return int(tok, 0)
        for suffix, mul in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0)):
            if tok.endswith(suffix):
                return float(tok[: -len(suffix)]) * mul
        return float(tok)
    try:
        lo, hi = one(parts[0]), one(parts[1])
    except ValueError:
        raise ValueError(f"{what} must be START-END "
                         f"({'addresses, decimal or 0x hex' if unit == 'address' else 'seconds'}), "
                         f"not '{text}'") from None
    if hi <= lo:
        raise ValueError(f"{what}: the end must be above the start in '{text}'")
    return lo, hi
