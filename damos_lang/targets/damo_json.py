"""damo's kdamonds JSON (``damo start --kdamonds FILE``, damo 3.4.3).

Every number is written in kernel units, so that damo writes exactly the
numbers :func:`damos_lang.convert.to_context` gives (and the sysfs plan
writes), whatever damo's own unit conversion would do:

* sizes, addresses and quota bytes as JSON integers;
* ``nr_accesses`` bounds as ``"N samples"`` and ``age`` bounds as
  ``"N aggr_intervals"`` (damo takes them as they are; both bounds of one
  range use the same unit, as damo requires);
* target regions in address order (as the kernel wants them, and as the
  sysfs plan writes them);
* intervals in microseconds, quota times in milliseconds, weights and
  watermarks in permil, goal values in the metric's unit, all integers.

Quotas and watermarks are always written, with the values the kernel would
hold: damo's own defaults differ (its quota ``reset_interval_ms`` default
is ``max``).  Read it back with :func:`damos_lang.damo_input.parse_damo_json`.
"""
from __future__ import annotations

import json
from collections import OrderedDict

from ..catalog import ARG_ADDR_RANGE, ARG_SIZE_RANGE, FILTER_TYPES, GOAL_METRICS, OPS, SYSFS
from ..convert import LegacyNumbers, output_numbers
from ..errors import DamosError
from ..model import Context, Filter, QuotaGoal, Scheme

NAME = "damo-json"
INTERFACE = SYSFS   # damo drives the sysfs interface

# damo's key of each model.Filter argument field
_FILTER_KEYS = {"memcg_path": "memcg_path", "target_idx": "damon_target_idx"}


def _goal(g: QuotaGoal) -> dict:
    d = OrderedDict(metric=g.metric, target_value=g.target_value,
                    current_value=g.current_value)
    # damo writes nid for node metrics and a path for memcg ones; a missing
    # nid would make damo crash ('%d' % None)
    keys = GOAL_METRICS[g.metric].damo_keys
    if g.nid is not None or "nid" in keys:
        d["nid"] = g.nid if g.nid is not None else 0
    if g.path is not None or "memcg_path" in keys:
        d["memcg_path"] = g.path if g.path is not None else ""
    return d


def _filter(f: Filter) -> dict:
    d = OrderedDict(filter_type=f.type, matching=f.matching, allow=f.allow)
    arg = FILTER_TYPES[f.type].arg
    if arg is ARG_ADDR_RANGE:
        d["address_range"] = OrderedDict(start=f.addr_start, end=f.addr_end)
    elif arg is ARG_SIZE_RANGE:
        d["hugepage_size"] = [f.sz_min, f.sz_max]
    else:
        d.update((_FILTER_KEYS[k], v if v is not None else "") for k, v in f.args().items())
    return d


def scheme_kvpairs(k: Scheme, n: LegacyNumbers) -> dict:
    s = OrderedDict()
    s["action"] = k.action
    s["access_pattern"] = OrderedDict(
        sz_bytes=OrderedDict(min=n.sz_min, max=n.sz_max),
        nr_accesses=OrderedDict(min=f"{n.nr_accesses_min} samples",
                                max=f"{n.nr_accesses_max} samples"),
        age=OrderedDict(min=f"{n.age_min} aggr_intervals", max=f"{n.age_max} aggr_intervals"))
    s["apply_interval_us"] = k.apply_interval_us
    if k.target_nid is not None:
        s["target_nid"] = k.target_nid
    s["dests"] = [OrderedDict(id=d.nid, weight=d.weight) for d in k.dests]
    q = k.quota
    quotas = OrderedDict(time_ms=n.quota_ms, sz_bytes=n.quota_bytes,
                         reset_interval_ms=n.quota_reset_ms,
                         weights=OrderedDict(sz_permil=n.weight_sz,
                                             nr_accesses_permil=n.weight_nr_accesses,
                                             age_permil=n.weight_age),
                         goals=[_goal(g) for g in q.goals] if q else [])
    if q is not None and q.goal_tuner is not None:
        quotas["goal_tuner"] = q.goal_tuner
    if q is not None and q.fail_charge_denom:
        quotas["fail_charge_num"] = q.fail_charge_num
        quotas["fail_charge_denom"] = q.fail_charge_denom
    s["quotas"] = quotas
    s["watermarks"] = OrderedDict(metric=n.wmark_metric, interval_us=n.wmark_interval_us,
                                  high_permil=n.wmark_high, mid_permil=n.wmark_mid,
                                  low_permil=n.wmark_low)
    s["filters"] = [_filter(f) for f in k.filters]
    return s


def context_kvpairs(ctx: Context, numbers: list[LegacyNumbers]) -> dict:
    iv = ctx.intervals
    intervals = OrderedDict(sample_us=iv.sample_us, aggr_us=iv.aggr_us,
                            ops_update_us=iv.update_us)
    g = ctx.intervals_goal
    if g is not None and (g.access_bp, g.aggrs, g.min_sample_us, g.max_sample_us) != (0,) * 4:
        # (all zero is the kernel's default, no tuning; damo reads it so too)
        intervals["intervals_goal"] = OrderedDict(access_bp=g.access_bp, aggrs=g.aggrs,
                                                  min_sample_us=g.min_sample_us,
                                                  max_sample_us=g.max_sample_us)
    takes_pid = OPS[ctx.ops].takes_pid
    out = OrderedDict(ops=ctx.ops)
    # damo's names and forms (DamonCtx.to_kvpairs): written only when not the default
    if ctx.addr_unit != 1:
        out["addr_unit"] = ctx.addr_unit
    out.update(
        targets=[OrderedDict(pid=t.pid if takes_pid else None,
                             regions=[OrderedDict(start=s, end=e) for s, e in t.regions])
                 for t in ctx.targets],
        intervals=intervals,
        nr_regions=OrderedDict(min=ctx.nr_regions_min, max=ctx.nr_regions_max))
    if ctx.pause:
        out["pause"] = True
    if ctx.probes:
        # damo's DamonProbe / DamonFilter keys (every filter key is required by its reader)
        out["probes"] = [OrderedDict(
            filters=[OrderedDict(filter_type=f.type, matching=f.matching, allow=f.allow,
                                 path=f.memcg_path) for f in p.filters],
            weight=p.weight) for p in ctx.probes]
    out["schemes"] = [scheme_kvpairs(k, n) for k, n in zip(ctx.schemes, numbers)]
    return out


def kvpairs(ctx: Context, numbers: list[LegacyNumbers] | None = None) -> dict:
    numbers = numbers or [LegacyNumbers.of(s) for s in ctx.schemes]
    kd = OrderedDict(state=None, pid=None)
    if ctx.refresh_ms:
        kd["refresh_ms"] = ctx.refresh_ms      # damo's Kdamond key (a number is ms)
    kd["contexts"] = [context_kvpairs(ctx, numbers)]
    return OrderedDict(kdamonds=[kd])


def compile(unit, options) -> str:
    for s in unit.context.schemes:
        if s.max_snapshots:
            raise DamosError("damo 3.4.3's JSON cannot express max_snapshots; "
                             "use the sysfs target", s.loc)
    # damo caps what it writes to sysfs at ULONG_MAX; so do we
    numbers = [n.capped() for n in output_numbers(unit.program, unit.context,
                                                  options.max_policy)]
    return json.dumps(kvpairs(unit.context, numbers), indent=4) + "\n"
