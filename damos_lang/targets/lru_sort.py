"""DAMON_LRU_SORT module parameters (module.name=value lines), when the scheme fits."""
from __future__ import annotations

from .. import catalog
from ..units import UINT_MAX
from ._module_params import LRU_SORT, cannot_express, check_plain, compile_target, shared_params, wmark_params

NAME, INTERFACE = "lru-sort", None
MODULE = LRU_SORT
# the module's actions, by their kernel enum (the catalog holds the names)
_BY_ENUM = {a.c_enum: name for name, a in catalog.ACTIONS.items()}
HOT, COLD = (_BY_ENUM[e] for e in ("DAMOS_LRU_PRIO", "DAMOS_LRU_DEPRIO"))


def params(unit) -> list[tuple[str, str]]:
    """DAMON_LRU_SORT's parameters: one lru_prio and one lru_deprio scheme."""
    m = LRU_SORT
    ctx = unit.context
    out = shared_params(m, unit)
    by = {s.action: (i, s) for i, s in enumerate(ctx.schemes)}
    if len(ctx.schemes) != 2 or set(by) != {HOT, COLD}:
        raise cannot_express(m, "those schemes", ctx.loc,
                  f"it runs exactly one {HOT} scheme (hot) and one {COLD} scheme (cold)")
    (hi, hot), (ci, cold) = by[HOT], by[COLD]
    for i, s in ((hi, hot), (ci, cold)):
        check_plain(m, s, i)
        if s.filters:
            raise cannot_express(m, f"scheme {i}'s filters", s.filters[0].loc or s.loc)
    hp, cp = hot.pattern, cold.pattern
    if hp.nr_accesses_max != UINT_MAX or hp.age_min != 0 or hp.age_max != UINT_MAX:
        raise cannot_express(m, f"scheme {hi}'s pattern", hot.loc,
                  "the hot scheme is 'access N..max' at any age")
    if cp.nr_accesses_min or cp.nr_accesses_max or cp.age_max != UINT_MAX:
        raise cannot_express(m, f"scheme {ci}'s pattern", cold.loc,
                  "the cold scheme is 'access 0..0' and 'age N..max'")
    iv = ctx.intervals
    most = min(iv.aggr_us // iv.sample_us, UINT_MAX)
    freq = -(-hp.nr_accesses_min * 1000 // most) if most else 0
    if most == 0 or most * freq // 1000 != hp.nr_accesses_min:
        raise cannot_express(m, f"a hot threshold of {hp.nr_accesses_min} samples", hot.loc_of("access"),
                  f"it is a permil of the {most} samples per aggregation")
    out += [("hot_thres_access_freq", str(freq)),
            ("cold_min_age", str(cp.age_min * iv.aggr_us))]
    qs = [hot.quota, cold.quota]
    if any(q is not None for q in qs):
        if any(q is None for q in qs) or qs[0].ms != qs[1].ms or qs[0].sz or qs[1].sz \
                or qs[0].reset_interval_ms != qs[1].reset_interval_ms \
                or qs[0].goals or qs[1].goals:
            raise cannot_express(m, "those quotas", hot.loc,
                      "both schemes share one time quota, split in half, with the same reset "
                      "interval and no size quota or goals")
        for q, s in zip(qs, (hot, cold)):
            w = q.weights
            if w is not None and (w.sz or w.age or not w.nr_accesses):
                raise cannot_express(m, "those quota weights", q.loc or s.loc,
                          "it prioritizes by access frequency: 'weights size 0 access 1 age 0'")
        out += [("quota_ms", str(qs[0].ms * 2)),
                ("quota_reset_interval_ms", str(qs[0].reset_interval_ms))]
    else:
        out += [("quota_ms", "0"), ("quota_reset_interval_ms", "1000")]
    wh, wc = wmark_params(m, hot, hi), wmark_params(m, cold, ci)
    if wh != wc:
        raise cannot_express(m, "different watermarks for the two schemes", cold.loc)
    return out + wh



def compile(unit, options) -> str:
    return compile_target(unit, MODULE, NAME.replace("-", "_"), params(unit))
