"""damo's kdamonds JSON (``damo start --kdamonds FILE``, damo 3.4.3).

Every number is written in kernel units, so that damo writes exactly the
numbers :func:`damos_lang.kernel.to_kernel` gives (and the sysfs plan
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

from ..errors import DamosError
from ..features import require_version
from ..ir import Program
from ..kernel import KContext, KFilter, KGoal, KScheme, KTarget, to_kernel

NAME = "damo-json"

# damo writes nid only for these metrics, and a path only for the memcg ones;
# a missing nid would make damo crash ('%d' % None)
NID_METRICS = ("node_mem_used_bp", "node_mem_free_bp", "node_memcg_used_bp",
               "node_memcg_free_bp")
PATH_METRICS = ("node_memcg_used_bp", "node_memcg_free_bp")


def _goal(g: KGoal) -> dict:
    d = OrderedDict(metric=g.metric, target_value=g.target_value,
                    current_value=g.current_value)
    if g.nid is not None or g.metric in NID_METRICS:
        d["nid"] = g.nid if g.nid is not None else 0
    if g.path is not None or g.metric in PATH_METRICS:
        d["memcg_path"] = g.path if g.path is not None else ""
    return d


def _filter(f: KFilter) -> dict:
    d = OrderedDict(filter_type=f.type, matching=f.matching, allow=f.allow)
    if f.type == "memcg":
        d["memcg_path"] = f.memcg_path or ""
    elif f.type == "addr":
        d["address_range"] = OrderedDict(start=f.addr_start, end=f.addr_end)
    elif f.type == "target":
        d["damon_target_idx"] = f.target_idx
    elif f.type == "hugepage_size":
        d["hugepage_size"] = [f.min, f.max]
    return d


def scheme_kvpairs(k: KScheme) -> dict:
    s = OrderedDict()
    s["action"] = k.action
    s["access_pattern"] = OrderedDict(
        sz_bytes=OrderedDict(min=k.sz_min, max=k.sz_max),
        nr_accesses=OrderedDict(min=f"{k.nr_accesses_min} samples",
                                max=f"{k.nr_accesses_max} samples"),
        age=OrderedDict(min=f"{k.age_min} aggr_intervals", max=f"{k.age_max} aggr_intervals"))
    s["apply_interval_us"] = k.apply_interval_us
    if k.target_nid is not None:
        s["target_nid"] = k.target_nid
    s["dests"] = [OrderedDict(id=nid, weight=w) for nid, w in k.dests]
    q = OrderedDict(time_ms=k.quota_ms, sz_bytes=k.quota_bytes,
                    reset_interval_ms=k.quota_reset_ms,
                    weights=OrderedDict(sz_permil=k.weight_sz,
                                        nr_accesses_permil=k.weight_nr_accesses,
                                        age_permil=k.weight_age),
                    goals=[_goal(g) for g in k.goals])
    if k.goal_tuner is not None:
        q["goal_tuner"] = k.goal_tuner
    if k.fail_charge_denom:
        q["fail_charge_num"] = k.fail_charge_num
        q["fail_charge_denom"] = k.fail_charge_denom
    s["quotas"] = q
    s["watermarks"] = OrderedDict(metric=k.wmark_metric, interval_us=k.wmark_interval_us,
                                  high_permil=k.wmark_high, mid_permil=k.wmark_mid,
                                  low_permil=k.wmark_low)
    s["filters"] = [_filter(f) for f in k.filters]
    return s


def context_kvpairs(kctx: KContext, pid: int | None = None) -> dict:
    targets = list(kctx.targets)
    if pid is not None and kctx.ops != "paddr":
        if len(targets) > 1:
            raise DamosError(f"the file has {len(targets)} targets, so the pid cannot be given "
                             "on the command line; write 'target pid N' for each")
        targets = [KTarget(pid, targets[0].regions if targets else ())]
    iv = kctx.intervals
    intervals = OrderedDict(sample_us=iv.sample_us, aggr_us=iv.aggr_us,
                            ops_update_us=iv.update_us)
    g = kctx.intervals_goal
    if g is not None and (g.access_bp, g.aggrs, g.min_sample_us, g.max_sample_us) != (0,) * 4:
        # (all zero is the kernel's default, no tuning; damo reads it so too)
        intervals["intervals_goal"] = OrderedDict(access_bp=g.access_bp, aggrs=g.aggrs,
                                                  min_sample_us=g.min_sample_us,
                                                  max_sample_us=g.max_sample_us)
    return OrderedDict(
        ops=kctx.ops,
        targets=[OrderedDict(pid=t.pid if kctx.ops != "paddr" else None,
                             regions=[OrderedDict(start=s, end=e) for s, e in sorted(t.regions)])
                 for t in targets],
        intervals=intervals,
        nr_regions=OrderedDict(min=kctx.nr_regions_min, max=kctx.nr_regions_max),
        schemes=[scheme_kvpairs(k) for k in kctx.schemes])


def kvpairs(kctx: KContext, pid: int | None = None) -> dict:
    return OrderedDict(kdamonds=[OrderedDict(state=None, pid=None,
                                             contexts=[context_kvpairs(kctx, pid)])])


def compile(program: Program, options=None) -> str:
    kernel = getattr(options, "kernel", None)
    if kernel is not None:
        require_version(program, tuple(kernel))
    from ..kernel import intervals_of
    iv = intervals_of(program)
    if iv.sample_us <= 0 or iv.aggr_us <= 0:
        m = program.monitor
        raise DamosError("damo needs sampling and aggregation intervals of at least 1us "
                         "(it divides by them)", m.loc if m else None)
    for s in program.schemes:
        if s.max_snapshots is not None:
            raise DamosError("damo 3.4.3's JSON cannot express max_snapshots; "
                             "use the sysfs target", s.loc)
    kctx = to_kernel(program, getattr(options, "max_policy", "unbounded"))
    return json.dumps(kvpairs(kctx, getattr(options, "pid", None)), indent=4) + "\n"
