"""A flat view of the kernel-unit model for tests that compare outputs field by
field: one record per scheme with the legacy 18-field numbers under a ``max``
policy (what an output writes) plus the model's other fields, and whether
each optional part (quota, weights, watermarks) is present.

It reads only the public API (convert.to_context, convert.output_numbers),
so the outputs are checked against the model, not against themselves."""
from __future__ import annotations

from dataclasses import dataclass

from damos_lang.convert import output_numbers, to_context
from damos_lang.model import Filter, Intervals, IntervalsGoal, QuotaGoal, Target


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
    goals: tuple[QuotaGoal, ...] = ()
    goal_tuner: str | None = None
    wmark_metric: str = "none"
    wmark_interval_us: int = 0
    wmark_high: int = 0
    wmark_mid: int = 0
    wmark_low: int = 0
    filters: tuple[Filter, ...] = ()
    target_nid: int | None = None
    dests: tuple[tuple[int, int], ...] = ()
    fail_charge_num: int = 0
    fail_charge_denom: int = 0
    max_snapshots: int = 0
    has_quota: bool = False
    has_weights: bool = False
    has_watermarks: bool = False

    def matches(self, sz: int, nr_accesses: int, age: int) -> bool:
        return (self.sz_min <= sz <= self.sz_max
                and self.nr_accesses_min <= nr_accesses <= self.nr_accesses_max
                and self.age_min <= age <= self.age_max)


@dataclass(frozen=True)
class KContext:
    ops: str
    intervals: Intervals
    nr_regions_min: int
    nr_regions_max: int
    intervals_goal: IntervalsGoal | None
    targets: tuple[Target, ...]
    schemes: tuple[KScheme, ...]
    probes: tuple = ()                 # model.Probe records (7.2)


def to_kernel(program, max_policy: str = "unbounded", intervals=None,
              capped: bool = True) -> KContext:
    """``capped``: numbers as sysfs writes and damo JSON carry them (at most
    ULONG_MAX); debugfs lines carry damo's uncapped numbers."""
    ctx = to_context(program, intervals=intervals)
    schemes = []
    for s, n in zip(ctx.schemes, output_numbers(program, ctx, max_policy)):
        n = n.capped() if capped else n
        q = s.quota
        schemes.append(KScheme(
            s.action, n.sz_min, n.sz_max, n.nr_accesses_min, n.nr_accesses_max, n.age_min,
            n.age_max, s.apply_interval_us, n.quota_ms, n.quota_bytes, n.quota_reset_ms,
            n.weight_sz, n.weight_nr_accesses, n.weight_age, q.goals if q else (),
            q.goal_tuner if q else None, n.wmark_metric, n.wmark_interval_us, n.wmark_high,
            n.wmark_mid, n.wmark_low, s.filters, s.target_nid,
            tuple((d.nid, d.weight) for d in s.dests),
            q.fail_charge_num if q else 0, q.fail_charge_denom if q else 0,
            s.max_snapshots, q is not None, q is not None and q.weights is not None,
            s.watermarks is not None))
    return KContext(ctx.ops, ctx.intervals, ctx.nr_regions_min, ctx.nr_regions_max,
                    ctx.intervals_goal, ctx.targets, tuple(schemes), ctx.probes)
