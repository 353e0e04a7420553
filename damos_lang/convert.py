"""The one place where user units become kernel units.

Given the monitoring intervals, every Value of a Program becomes the integer
the kernel stores, with damo's float-then-truncate semantics
(legacy-format.md §3), so the conversion vectors there come out exactly:

    nr_accesses = int(percent * (aggr_us / sample_us) / 100)
    age         = int(age_us / aggr_us)

:func:`to_context` builds the kernel-unit model (:mod:`damos_lang.model`),
where ``max`` is the field's largest value and every value is clamped to
its C type, never wrapped.  Where the conversion loses something (a
truncated fraction, an age below one aggregation interval) it leaves a
:class:`Note`; ``check`` turns those into warnings, so they cannot drift
from what is converted.

:func:`output_numbers` gives the legacy-layout numbers an output writes
under a ``max`` policy: ``unbounded`` (the model's own values) or ``damo``
(what damo 3.4.3 computes: ``max`` is ULONG_MAX percent or microseconds,
converted like any other number, and nothing is clamped to a u32).  A
result above ULONG_MAX (``max`` frequencies at aggr/sample >= 100, a size of
2**64) is what damo's debugfs writer prints; its sysfs writer caps it at
ULONG_MAX (:meth:`LegacyNumbers.capped`), and so do our sysfs and damo JSON
outputs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import model
from .catalog import DEFAULT_OPS, GOAL_METRICS
from .ir import Program, Scheme, Value
from .units import (AGGR_INTERVALS, PERCENT, SAMPLES, SIZE_UNITS, TIME_UNITS_NS, UINT_MAX,
                    ULONG_MAX, damo_number)

DEFAULT_NR_REGIONS = (10, 1000)
DEFAULT_QUOTA_RESET_MS = 1000   # when a quota is set without a reset interval
MAX_POLICIES = ("unbounded", "damo")
DEFAULT_INTERVALS = model.Intervals()


@dataclass(frozen=True)
class Note:
    """Something the conversion changed: shown by ``check`` as a warning."""

    message: str
    loc: object = None
    scheme: int | None = None    # index of the scheme it is about


# -- scalar conversions (damo semantics; unclamped) ---------------------------

def size_bytes(v: Value) -> int:
    """Bytes, capped at ULONG_MAX as damo's text_to_bytes caps them."""
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
    unit = v.unit or bare_unit
    return n if unit == "us" else n * TIME_UNITS_NS[unit] / 1000


def time_ms(v: Value) -> int:
    """damo's text_to_ms (a bare number is already ms), capped at ULONG_MAX."""
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
    return n / 100.0 * 100 if v.unit == PERCENT else n


def per_scale(v: Value, scale: int) -> int:
    """A permil (scale 10) or bp (scale 100) value: ``N%`` scaled, a bare number kept."""
    n = damo_number(v.number)
    return int(n * scale if v.unit == PERCENT else n)


def samples_from_percent(percent, samples_per_aggr: float) -> float:
    """The nr_accesses formula, before truncation."""
    return percent * samples_per_aggr / 100


def aggrs_from_us(us, aggr_us: int) -> float:
    """The age formula, before truncation."""
    return us / aggr_us


def goal_value(metric: str, v: Value) -> int:
    unit = GOAL_METRICS[metric].unit
    if unit == "time":
        return int(time_us(v))
    if unit == "number":
        return int(v.number)
    return per_scale(v, 100)


def fmt_number(x: float) -> str:
    """A number for messages: at most two decimals, no trailing zeros."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


class Converter:
    """Converts at fixed intervals.  The ``unbounded`` policy keeps every value
    inside its C type (the model); ``damo`` reproduces damo's unclamped numbers."""

    def __init__(self, intervals: model.Intervals, policy: str = "unbounded",
                 notes: list | None = None):
        if policy not in MAX_POLICIES:
            raise ValueError(policy)
        self.iv = intervals
        self.policy = policy
        self.notes = notes
        self.scheme_index: int | None = None   # the scheme being converted, for notes

    def _note(self, message: str, loc) -> None:
        if self.notes is not None:
            self.notes.append(Note(message, loc, self.scheme_index))

    def _u32(self, n: int) -> int:
        return min(n, UINT_MAX) if self.policy == "unbounded" else n

    def _ulong(self, n: int) -> int:
        return min(n, ULONG_MAX) if self.policy == "unbounded" else n

    def _bound(self, v: Value, in_kernel_unit: bool, exact_of, describe) -> int:
        """A u32 pattern bound: written in the kernel unit, or converted."""
        if v.is_min:
            return 0
        if v.is_max and (in_kernel_unit or self.policy == "unbounded"):
            return UINT_MAX if self.policy == "unbounded" else ULONG_MAX
        if in_kernel_unit:
            return self._u32(int(v.number))
        exact = exact_of(v)
        if exact != int(exact) and not v.keyword:
            self._note(describe(v, exact), v.loc)
        return self._u32(int(exact))

    def nr_accesses(self, v: Value, unit: str, bound: str = "min") -> int:
        spa = self.iv.samples_per_aggr
        return self._bound(v, unit == SAMPLES,
                           lambda v: samples_from_percent(percent_of(v), spa),
                           lambda v, x: f"access {bound} {v.text()} of {fmt_number(spa)} samples is "
                                        f"{fmt_number(x)}, truncated to {int(x)}")

    def age(self, v: Value, unit: str, bound: str = "min") -> int:
        if unit != AGGR_INTERVALS and bound == "min" and not v.keyword:
            us = time_us(v)
            if 0 < us < self.iv.aggr_us:
                self._note(f"min age {v.text()} is below one aggregation interval "
                           f"({fmt_number(self.iv.aggr_us / 1000)} ms): it becomes 0, which matches "
                           "regions of any age", v.loc)
                return 0
        return self._bound(v, unit == AGGR_INTERVALS,
                           lambda v: aggrs_from_us(time_us(v), self.iv.aggr_us),
                           lambda v, x: f"age {bound} {v.text()} is {fmt_number(x)} aggregation "
                                        f"intervals, truncated to {int(x)}")

    def pattern(self, s: Scheme) -> model.AccessPattern:
        p = s.pattern
        out = {}
        if p.size is not None:
            out.update(sz_min=size_bytes(p.size.lo),
                       sz_max=size_bytes(p.size.hi))
        if p.access is not None:
            out.update(nr_accesses_min=self.nr_accesses(p.access.lo, p.access.unit, "min"),
                       nr_accesses_max=self.nr_accesses(p.access.hi, p.access.unit, "max"))
        if p.age is not None:
            out.update(age_min=self.age(p.age.lo, p.age.unit, "min"),
                       age_max=self.age(p.age.hi, p.age.unit, "max"))
        return model.AccessPattern(**out)

    def quota(self, s: Scheme) -> model.Quota | None:
        q = s.quota
        if q is None:
            return None
        weights = None
        if q.weights is not None:
            weights = model.Weights(self._u32(int(q.weights.size.number)),
                                    self._u32(int(q.weights.access.number)),
                                    self._u32(int(q.weights.age.number)))
        reset = (time_ms(q.reset) if q.reset is not None
                 else ULONG_MAX if self.policy == "damo" else DEFAULT_QUOTA_RESET_MS)
        goals = tuple(model.QuotaGoal(
            g.metric, self._ulong(goal_value(g.metric, g.target)),
            self._ulong(goal_value(g.metric, g.current)) if g.current else 0,
            g.nid, g.path, g.loc) for g in q.goals)
        num, denom = (self._u32(n) for n in q.fail_charge) if q.fail_charge else (0, 0)
        return model.Quota(time_ms(q.time) if q.time else 0,
                           size_bytes(q.size) if q.size else 0,
                           reset, weights, goals, q.tuner, num, denom, q.loc,
                           _locs(time=q.time, size=q.size, reset=q.reset))

    def watermarks(self, s: Scheme) -> model.Watermarks | None:
        w = s.watermarks
        if w is None:
            return None
        return model.Watermarks(w.metric, self._ulong(int(time_us(w.interval))),
                                self._ulong(per_scale(w.high, 10)),
                                self._ulong(per_scale(w.mid, 10)),
                                self._ulong(per_scale(w.low, 10)), w.loc,
                                _locs(high=w.high, mid=w.mid, low=w.low))

    def filter(self, f) -> model.Filter:
        kw = dict(type=f.type, matching=f.matching, allow=f.allow, loc=f.loc)
        if f.memcg_path is not None:
            kw["memcg_path"] = f.memcg_path
        if f.addr is not None:
            kw.update(addr_start=size_bytes(f.addr.lo),
                      addr_end=size_bytes(f.addr.hi))
        if f.target_idx is not None:
            kw["target_idx"] = f.target_idx
        if f.hugepage is not None:
            kw.update(sz_min=size_bytes(f.hugepage.lo),
                      sz_max=size_bytes(f.hugepage.hi))
        return model.Filter(**kw)

    def scheme_at(self, index: int, s: Scheme) -> model.Scheme:
        self.scheme_index = index
        return self.scheme(s)

    def scheme(self, s: Scheme) -> model.Scheme:
        return model.Scheme(
            action=s.action, pattern=self.pattern(s),
            apply_interval_us=(self._ulong(int(time_us(s.apply_interval)))
                               if s.apply_interval is not None else 0),
            quota=self.quota(s), watermarks=self.watermarks(s),
            filters=tuple(self.filter(f) for f in s.filters),
            target_nid=s.target_nid,
            dests=tuple(model.Dest(d.nid, d.weight) for d in s.dests),
            max_snapshots=self._ulong(s.max_snapshots or 0),
            name=s.name, loc=s.loc, action_loc=s.action_loc,
            locs={k: v.loc for k, v in (("apply_interval", s.apply_interval),
                                        ("size", s.pattern.size), ("access", s.pattern.access),
                                        ("age", s.pattern.age),
                                        ("dests", s.dests[0] if s.dests else None))
                  if v is not None and v.loc})


def _locs(**nodes) -> dict:
    """Where each of ``nodes`` (IR values or settings) was written, for messages."""
    return {k: v.loc for k, v in nodes.items() if v is not None and v.loc is not None}


def intervals_of(program: Program) -> model.Intervals:
    m = program.monitor
    if m is None:
        return DEFAULT_INTERVALS
    d = DEFAULT_INTERVALS
    return model.Intervals(
        min(ULONG_MAX, int(time_us(m.sample))) if m.sample else d.sample_us,
        min(ULONG_MAX, int(time_us(m.aggr))) if m.aggr else d.aggr_us,
        min(ULONG_MAX, int(time_us(m.update))) if m.update else d.update_us)


def to_context(program: Program, notes: list | None = None,
               intervals: model.Intervals | None = None) -> model.Context:
    """The kernel-unit model of ``program`` at its own (or the given) intervals;
    what the conversion changed is appended to ``notes``."""
    iv = intervals or intervals_of(program)
    conv = Converter(iv, "unbounded", notes)
    m = program.monitor
    nr_regions = m.nr_regions if m and m.nr_regions else DEFAULT_NR_REGIONS
    goal = None
    if m and m.intervals_goal:
        g = m.intervals_goal
        goal = model.IntervalsGoal(min(ULONG_MAX, per_scale(g.access, 100)), g.aggrs,
                                   min(ULONG_MAX, int(time_us(g.min_sample))),
                                   min(ULONG_MAX, int(time_us(g.max_sample))))
    targets = tuple(
        model.Target(t.pid, tuple(sorted((size_bytes(r.start), size_bytes(r.end))
                                         for r in t.regions)), t.loc)
        for t in program.targets)
    return model.Context(ops=m.ops if m and m.ops else DEFAULT_OPS, intervals=iv,
                         nr_regions_min=min(ULONG_MAX, nr_regions[0]),
                         nr_regions_max=min(ULONG_MAX, nr_regions[1]),
                         intervals_goal=goal, targets=targets,
                         schemes=tuple(conv.scheme_at(i, s)
                                       for i, s in enumerate(program.schemes)),
                         loc=m.loc if m else None, locs=_monitor_locs(m),
                         **_context_settings(m))


def _monitor_locs(m) -> dict:
    if m is None:
        return {}
    g = m.intervals_goal
    locs = _locs(sample=m.sample, aggr=m.aggr, intervals_goal=g,
                 min_sample=g and g.min_sample, max_sample=g and g.max_sample,
                 addr_unit=m.addr_unit, refresh=m.refresh)
    if m.nr_regions_loc is not None:
        locs["nr_regions"] = m.nr_regions_loc
    if m.pause_loc is not None:
        locs["pause"] = m.pause_loc
    return locs


def _context_settings(m) -> dict:
    """pause, addr_unit (bytes), refresh_ms and probes of a monitor block, in kernel units."""
    if m is None:
        return {}
    out = {}
    if m.pause:
        out["pause"] = True
    if m.addr_unit is not None:
        out["addr_unit"] = max(1, size_bytes(m.addr_unit))
    if m.refresh is not None:
        out["refresh_ms"] = min(UINT_MAX, time_ms(m.refresh))
    if m.probes:
        out["probes"] = tuple(
            model.Probe(p.weight or 0,
                        tuple(model.ProbeFilter(f.type, f.matching, f.allow, f.memcg_path, f.loc)
                              for f in p.filters), p.name, p.loc, p.weight_loc)
            for p in m.probes)
    return out


@dataclass(frozen=True)
class LegacyNumbers:
    """One scheme's numbers in the legacy 18-field layout (debugfs order),
    as an output writes them under a ``max`` policy."""

    sz_min: int
    sz_max: int
    nr_accesses_min: int
    nr_accesses_max: int
    age_min: int
    age_max: int
    quota_ms: int
    quota_bytes: int
    quota_reset_ms: int
    weight_sz: int
    weight_nr_accesses: int
    weight_age: int
    wmark_metric: str
    wmark_interval_us: int
    wmark_high: int
    wmark_mid: int
    wmark_low: int

    def capped(self) -> "LegacyNumbers":
        """Every number at most ULONG_MAX, as damo's sysfs writer writes them
        (its debugfs writer prints them as they are)."""
        return replace(self, **{k: min(v, ULONG_MAX) for k, v in vars(self).items()
                                if isinstance(v, int)})

    @staticmethod
    def of(s: model.Scheme, damo_legacy_reset: bool = False) -> "LegacyNumbers":
        p, q, w = s.pattern, s.quota, s.watermarks
        wt = q.weights if q is not None and q.weights is not None else model.Weights()
        reset = q.reset_interval_ms if q is not None else (ULONG_MAX if damo_legacy_reset else 0)
        w = w or model.Watermarks()
        return LegacyNumbers(p.sz_min, p.sz_max, p.nr_accesses_min, p.nr_accesses_max,
                             p.age_min, p.age_max, q.ms if q else 0, q.sz if q else 0, reset,
                             wt.sz, wt.nr_accesses, wt.age, w.metric, w.interval_us, w.high,
                             w.mid, w.low)


def output_numbers(program: Program, context: model.Context,
                   policy: str = "unbounded") -> list[LegacyNumbers]:
    """Each scheme's legacy-layout numbers under ``policy`` (see the module doc)."""
    if policy not in MAX_POLICIES:
        raise ValueError(policy)
    if policy == "unbounded":
        return [LegacyNumbers.of(s) for s in context.schemes]
    conv = Converter(context.intervals, "damo")
    return [LegacyNumbers.of(conv.scheme(s), damo_legacy_reset=bool(s.legacy_fields))
            for s in program.schemes]
