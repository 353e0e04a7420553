"""The kernel-unit model back to the IR: the inverse of :mod:`damos_lang.convert`.

A context read from a kernel (``damos status``) is in kernel units, so the
IR made from it is in kernel units too: sizes in bytes (in the largest unit
that divides them), access frequencies in ``samples``, ages in
``aggr_intervals``, times in us/ms, watermarks in permil, goals in bp.
``max`` is written where a field holds its largest value.
"""
from __future__ import annotations

from . import catalog, model
from .ir import (AccessPattern, AddrRange, Dest, Filter, Goal, IntervalsGoal, Monitor, Probe,
                 ProbeFilter, Program, Quota, Range, Scheme, Target, Value, Watermarks, Weights)
from .units import UINT_MAX, ULONG_MAX


def _n(n: int, unit: str = "") -> Value:
    return Value(str(n), unit)


_SIZES = (("E", 1 << 60), ("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20),
          ("K", 1 << 10))


def _bytes_v(n: int) -> Value:
    """A size in the largest unit that divides it (4096 -> 4K)."""
    for unit, div in _SIZES:
        if n and n % div == 0:
            return _n(n // div, unit)
    return _n(n, "B")


def _size(n: int) -> Value:
    return Value.kw("max") if n >= ULONG_MAX else _bytes_v(n)


def _us(n: int) -> Value:
    """Microseconds in the largest unit that divides them exactly."""
    if n and n < 10**12:
        for unit, div in (("s", 1_000_000), ("ms", 1000)):
            if n % div == 0:
                return _n(n // div, unit)
    return _n(n, "us")


def _ms(n: int) -> Value:
    if n and n < 10**9 and n % 1000 == 0:
        return _n(n // 1000, "s")
    return _n(n, "ms")


def _u32(n: int, unit: str = "") -> Value:
    return Value.kw("max") if n >= UINT_MAX else _n(n, unit)


def _goal_value(metric: str, n: int) -> Value:
    unit = catalog.GOAL_METRICS[metric].unit
    if unit == "time":
        return _us(n)
    return _n(n, "" if unit == "number" else "bp")


def to_program(ctx: model.Context) -> Program:
    """The IR of a context as the kernel holds it, in kernel units."""
    iv = ctx.intervals
    ig = None
    if ctx.intervals_goal is not None:
        g = ctx.intervals_goal
        ig = IntervalsGoal(_n(g.access_bp, "bp"), g.aggrs, _us(g.min_sample_us),
                           _us(g.max_sample_us))
    mon = Monitor(ctx.ops, _us(iv.sample_us), _us(iv.aggr_us), _us(iv.update_us),
                  (ctx.nr_regions_min, ctx.nr_regions_max), ig,
                  pause=True if ctx.pause else None,
                  addr_unit=_n(ctx.addr_unit) if ctx.addr_unit != 1 else None,
                  refresh=_ms(ctx.refresh_ms) if ctx.refresh_ms else None,
                  probes=tuple(Probe(p.name, p.weight or None,
                                     tuple(ProbeFilter(f.allow, f.type, f.matching,
                                                       f.memcg_path if catalog.PROBE_FILTER_TYPES[
                                                           f.type].arg is catalog.ARG_PATH
                                                       else None) for f in p.filters))
                               for p in ctx.probes))
    targets = tuple(Target(t.pid, tuple(AddrRange(Value(hex(s)), Value(hex(e)))
                                        for s, e in t.regions))
                    for t in ctx.targets if t.pid is not None or t.regions)
    return Program(mon, targets, tuple(_scheme(s) for s in ctx.schemes))


def _scheme(s: model.Scheme) -> Scheme:
    p = s.pattern
    # a range that takes every value is the default ('any'): left out, as a user would
    pattern = AccessPattern(
        Range(_bytes_v(p.sz_min), _size(p.sz_max))
        if (p.sz_min, p.sz_max) != (0, ULONG_MAX) else None,
        Range(_n(p.nr_accesses_min), _u32(p.nr_accesses_max), "samples")
        if (p.nr_accesses_min, p.nr_accesses_max) != (0, UINT_MAX) else None,
        Range(_n(p.age_min), _u32(p.age_max), "aggr_intervals")
        if (p.age_min, p.age_max) != (0, UINT_MAX) else None)
    quota = None
    if s.quota is not None:
        q = s.quota
        w = q.weights
        quota = Quota(_ms(q.ms) if q.ms else None, _bytes_v(q.sz) if q.sz else None,
                      _ms(q.reset_interval_ms),
                      Weights(_n(w.sz), _n(w.nr_accesses), _n(w.age))
                      if w is not None else None,
                      tuple(Goal(g.metric, _goal_value(g.metric, g.target_value),
                                 _goal_value(g.metric, g.current_value) if g.current_value
                                 else None, g.nid, g.path) for g in q.goals),
                      q.goal_tuner,
                      (q.fail_charge_num, q.fail_charge_denom) if q.fail_charge_denom else None)
    wm = None
    if s.watermarks is not None:
        w = s.watermarks
        wm = Watermarks(w.metric, _us(w.interval_us), _n(w.high, "permil"),
                        _n(w.mid, "permil"), _n(w.low, "permil"))
    return Scheme(s.action, pattern,
                  apply_interval=_us(s.apply_interval_us) if s.apply_interval_us else None,
                  quota=quota, watermarks=wm, filters=tuple(_filter(f) for f in s.filters),
                  target_nid=s.target_nid, dests=tuple(Dest(d.nid, d.weight) for d in s.dests),
                  max_snapshots=s.max_snapshots or None)


def _filter(f: model.Filter) -> Filter:
    arg = catalog.FILTER_TYPES[f.type].arg
    kw = {}
    if arg is catalog.ARG_PATH:
        kw["memcg_path"] = f.memcg_path or ""
    elif arg is catalog.ARG_ADDR_RANGE:
        kw["addr"] = Range(Value(hex(f.addr_start or 0)), Value(hex(f.addr_end or 0)))
    elif arg is catalog.ARG_INDEX:
        kw["target_idx"] = f.target_idx or 0
    elif arg is catalog.ARG_SIZE_RANGE:
        kw["hugepage"] = Range(_bytes_v(f.sz_min or 0), _bytes_v(f.sz_max or 0))
    return Filter(f.allow, f.type, f.matching, **kw)
