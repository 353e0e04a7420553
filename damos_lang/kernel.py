"""The one place where user units become kernel units.

Given the monitoring intervals, every Value of a Program is turned into the
integer the kernel stores, with damo's float-then-truncate semantics
(legacy-format.md §3), so the conversion vectors there come out exactly.

What ``max`` becomes is a policy:

* ``unbounded`` (the default): the largest value the kernel field holds, so
  the kernel reads it as "no upper bound": ``18446744073709551615`` for the
  ``unsigned long`` fields (sizes, quotas), ``4294967295`` for the
  ``unsigned int`` ones (``nr_accesses`` and ``age`` bounds, which sysfs
  truncates mod 2^32 and debugfs parses with ``%u``).  Every other value is
  clamped to its field the same way, never wrapped.
* ``damo``: what damo 3.4.3 computes (``max`` is ULONG_MAX percent or
  microseconds, converted like any other number, then capped at ULONG_MAX).
"""
from __future__ import annotations

from dataclasses import dataclass

from .ir import Program, Scheme, Value
from .units import (AGGR_INTERVALS, PERCENT, SAMPLES, SIZE_UNITS, TIME_UNITS_NS,
                    UINT_MAX, ULONG_MAX, damo_number)

DEFAULT_OPS = "vaddr"
DEFAULT_SAMPLE_US = 5_000
DEFAULT_AGGR_US = 100_000
DEFAULT_UPDATE_US = 1_000_000
DEFAULT_NR_REGIONS = (10, 1000)
DEFAULT_QUOTA_RESET_MS = 1000   # when a quota is set without a reset interval
MAX_POLICIES = ("unbounded", "damo")


@dataclass(frozen=True)
class Intervals:
    sample_us: int = DEFAULT_SAMPLE_US
    aggr_us: int = DEFAULT_AGGR_US
    update_us: int = DEFAULT_UPDATE_US


@dataclass(frozen=True)
class KGoal:
    metric: str
    target_value: int
    current_value: int
    nid: int | None
    path: str | None


@dataclass(frozen=True)
class KFilter:
    type: str
    matching: bool
    allow: bool
    memcg_path: str | None = None
    addr_start: int | None = None
    addr_end: int | None = None
    target_idx: int | None = None
    min: int | None = None
    max: int | None = None


@dataclass(frozen=True)
class KScheme:
    action: str
    sz_min: int
    sz_max: int
    nr_accesses_min: int
    nr_accesses_max: int
    age_min: int
    age_max: int
    apply_interval_us: int = 0
    quota_ms: int = 0
    quota_bytes: int = 0
    quota_reset_ms: int = 0
    weight_sz: int = 0
    weight_nr_accesses: int = 0
    weight_age: int = 0
    goals: tuple[KGoal, ...] = ()
    goal_tuner: str | None = None
    wmark_metric: str = "none"
    wmark_interval_us: int = 0
    wmark_high: int = 0
    wmark_mid: int = 0
    wmark_low: int = 0
    filters: tuple[KFilter, ...] = ()
    target_nid: int | None = None
    dests: tuple[tuple[int, int], ...] = ()
    fail_charge_num: int = 0
    fail_charge_denom: int = 0
    max_nr_snapshots: int = 0
    has_quota: bool = False
    has_weights: bool = False
    has_watermarks: bool = False

    def matches(self, sz: int, nr_accesses: int, age: int) -> bool:
        """DAMOS matching (algorithm.md §9.2): every range is inclusive."""
        return (self.sz_min <= sz <= self.sz_max
                and self.nr_accesses_min <= nr_accesses <= self.nr_accesses_max
                and self.age_min <= age <= self.age_max)


@dataclass(frozen=True)
class KIntervalsGoal:
    access_bp: int
    aggrs: int
    min_sample_us: int
    max_sample_us: int


@dataclass(frozen=True)
class KTarget:
    pid: int | None
    regions: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class KContext:
    ops: str
    intervals: Intervals
    nr_regions_min: int
    nr_regions_max: int
    intervals_goal: KIntervalsGoal | None
    targets: tuple[KTarget, ...]
    schemes: tuple[KScheme, ...]


# -- scalar conversions (damo semantics) ----------------------------------

def size_bytes(v: Value) -> int:
    if v.is_min:
        return 0
    if v.is_max:
        return ULONG_MAX
    return min(ULONG_MAX, int(damo_number(v.number) * SIZE_UNITS.get(v.unit or "B", 1)))


def time_us(v: Value, bare_unit: str = "us"):
    """Microseconds as damo's text_to_us gives them (int or float)."""
    if v.is_min:
        return 0
    if v.is_max:
        return ULONG_MAX
    n = damo_number(v.number)
    if not v.unit:
        return n * TIME_UNITS_NS[bare_unit] / 1000 if bare_unit != "us" else n
    return n * TIME_UNITS_NS[v.unit] / 1000


def time_ms(v: Value) -> int:
    """damo's text_to_ms: a bare number is already ms."""
    if v.is_max:
        return ULONG_MAX
    if not v.unit and v.keyword is None:
        return min(ULONG_MAX, int(damo_number(v.number)))
    return min(ULONG_MAX, int(time_us(v) / 1000))


def percent_of(v: Value) -> float | int:
    """damo's text_to_percent."""
    if v.is_min:
        return 0
    if v.is_max:
        return ULONG_MAX
    n = damo_number(v.number)
    if v.unit == PERCENT:
        return n / 100.0 * 100
    return n


def _per_percent(v: Value, scale: int) -> int:
    """A permil or bp value: ``N%`` is scaled by ``scale``, a bare number kept."""
    n = damo_number(v.number)
    return min(ULONG_MAX, int(n * scale if v.unit == PERCENT else n))


def permil_of(v: Value) -> int:
    return _per_percent(v, 10)


def bp_of(v: Value) -> int:
    return _per_percent(v, 100)


class Converter:
    def __init__(self, intervals: Intervals, max_policy: str = "unbounded"):
        if max_policy not in MAX_POLICIES:
            raise ValueError(max_policy)
        self.iv = intervals
        self.policy = max_policy

    def _u32(self, n: int) -> int:
        return min(n, UINT_MAX) if self.policy == "unbounded" else min(n, ULONG_MAX)

    def _bound(self, v: Value, in_kernel_unit: bool, convert) -> int:
        """A u32 pattern bound: written in the kernel unit, or converted."""
        if v.is_min:
            return 0
        if v.is_max and (in_kernel_unit or self.policy == "unbounded"):
            return UINT_MAX if self.policy == "unbounded" else ULONG_MAX
        if in_kernel_unit:
            return self._u32(int(v.number))
        return self._u32(int(convert(v)))

    def nr_accesses(self, v: Value, unit: str) -> int:
        max_samples = self.iv.aggr_us / self.iv.sample_us
        return self._bound(v, unit == SAMPLES, lambda v: percent_of(v) * max_samples / 100)

    def age(self, v: Value, unit: str) -> int:
        return self._bound(v, unit == AGGR_INTERVALS, lambda v: time_us(v) / self.iv.aggr_us)

    def scheme(self, s: Scheme) -> KScheme:
        p = s.pattern
        sz = (0, ULONG_MAX) if p.size is None else (size_bytes(p.size.lo), size_bytes(p.size.hi))
        if p.access is None:
            nr = (0, UINT_MAX)
        else:
            nr = (self.nr_accesses(p.access.lo, p.access.unit),
                  self.nr_accesses(p.access.hi, p.access.unit))
        if p.age is None:
            age = (0, UINT_MAX)
        else:
            age = (self.age(p.age.lo, p.age.unit), self.age(p.age.hi, p.age.unit))
        kw = {}
        q = s.quota
        if q is not None:
            kw.update(has_quota=True,
                      quota_ms=time_ms(q.time) if q.time else 0,
                      quota_bytes=size_bytes(q.size) if q.size else 0)
            if q.reset is not None:
                kw["quota_reset_ms"] = time_ms(q.reset)
            else:
                kw["quota_reset_ms"] = ULONG_MAX if self.policy == "damo" else DEFAULT_QUOTA_RESET_MS
            if q.weights is not None:
                kw.update(has_weights=True,
                          weight_sz=self._u32(int(q.weights.size.number)),
                          weight_nr_accesses=self._u32(int(q.weights.access.number)),
                          weight_age=self._u32(int(q.weights.age.number)))
            kw["goals"] = tuple(KGoal(g.metric, self.goal_value(g.metric, g.target),
                                      self.goal_value(g.metric, g.current) if g.current else 0,
                                      g.nid, g.path) for g in q.goals)
            kw["goal_tuner"] = q.tuner
            if q.fail_charge is not None:
                kw["fail_charge_num"], kw["fail_charge_denom"] = (
                    min(UINT_MAX, n) for n in q.fail_charge)
        elif self.policy == "damo" and s.legacy_fields:
            kw["quota_reset_ms"] = ULONG_MAX
        w = s.watermarks
        if w is not None:
            kw.update(has_watermarks=True, wmark_metric=w.metric,
                      wmark_interval_us=min(ULONG_MAX, int(time_us(w.interval))),
                      wmark_high=permil_of(w.high), wmark_mid=permil_of(w.mid),
                      wmark_low=permil_of(w.low))
        if s.apply_interval is not None:
            kw["apply_interval_us"] = min(ULONG_MAX, int(time_us(s.apply_interval)))
        kw["filters"] = tuple(self.filter(f) for f in s.filters)
        kw["target_nid"] = s.target_nid
        kw["dests"] = tuple((d.nid, d.weight) for d in s.dests)
        kw["max_nr_snapshots"] = min(ULONG_MAX, s.max_snapshots or 0)
        return KScheme(s.action, sz[0], sz[1], nr[0], nr[1], age[0], age[1], **kw)

    @staticmethod
    def goal_value(metric: str, v: Value) -> int:
        if metric == "some_mem_psi_us":
            return min(ULONG_MAX, int(time_us(v)))
        if metric == "user_input":
            return int(v.number)
        return bp_of(v)

    @staticmethod
    def filter(f) -> KFilter:
        kw = dict(type=f.type, matching=f.matching, allow=f.allow)
        if f.type == "memcg":
            kw["memcg_path"] = f.memcg_path
        elif f.type == "addr":
            kw.update(addr_start=size_bytes(f.addr.lo), addr_end=size_bytes(f.addr.hi))
        elif f.type == "target":
            kw["target_idx"] = f.target_idx
        elif f.type == "hugepage_size":
            kw.update(min=size_bytes(f.hugepage.lo), max=size_bytes(f.hugepage.hi))
        return KFilter(**kw)


def intervals_of(program: Program) -> Intervals:
    m = program.monitor
    if m is None:
        return Intervals()
    return Intervals(
        int(time_us(m.sample)) if m.sample else DEFAULT_SAMPLE_US,
        int(time_us(m.aggr)) if m.aggr else DEFAULT_AGGR_US,
        int(time_us(m.update)) if m.update else DEFAULT_UPDATE_US)


def to_kernel(program: Program, max_policy: str = "unbounded",
              intervals: Intervals | None = None) -> KContext:
    """Convert a Program to kernel units at its own (or the given) intervals."""
    iv = intervals or intervals_of(program)
    conv = Converter(iv, max_policy)
    m = program.monitor
    nr_regions = (m.nr_regions if m and m.nr_regions else DEFAULT_NR_REGIONS)
    goal = None
    if m and m.intervals_goal:
        g = m.intervals_goal
        goal = KIntervalsGoal(bp_of(g.access), g.aggrs, int(time_us(g.min_sample)),
                              int(time_us(g.max_sample)))
    targets = tuple(KTarget(t.pid, tuple((size_bytes(r.start), size_bytes(r.end))
                                         for r in t.regions))
                    for t in program.targets)
    return KContext(ops=(m.ops if m and m.ops else DEFAULT_OPS), intervals=iv,
                    nr_regions_min=nr_regions[0], nr_regions_max=nr_regions[1],
                    intervals_goal=goal, targets=targets,
                    schemes=tuple(conv.scheme(s) for s in program.schemes))

