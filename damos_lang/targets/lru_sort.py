"""DAMON_LRU_SORT module parameters (module.name=value lines), when the scheme fits."""
from __future__ import annotations

from .. import catalog
from ..units import UINT_MAX
from ._module_params import (LRU_SORT, cannot_express, check_plain, compile_target, needs,
                             shared_params, wmark_params)

NAME, INTERFACE = "lru-sort", None
MODULE = LRU_SORT
# the module's actions, by their kernel enum (the catalog holds the names)
_BY_ENUM = {a.c_enum: name for name, a in catalog.ACTIONS.items()}
HOT, COLD = (_BY_ENUM[e] for e in ("DAMOS_LRU_PRIO", "DAMOS_LRU_DEPRIO"))


def params(unit, options=None) -> list[tuple[str, str]]:
    """DAMON_LRU_SORT's parameters: one lru_prio and one lru_deprio scheme."""
    m = LRU_SORT
    ctx = unit.context
    out = shared_params(m, unit, options)
    by = {s.action: (i, s) for i, s in enumerate(ctx.schemes)}
    if len(ctx.schemes) != 2 or set(by) != {HOT, COLD}:
        raise cannot_express(m, "those schemes", ctx.loc,
                  f"it runs exactly one {HOT} scheme (hot) and one {COLD} scheme (cold)")
    (hi, hot), (ci, cold) = by[HOT], by[COLD]
    for i, s in ((hi, hot), (ci, cold)):
        check_plain(m, s, i)
    young = _young_filters(hot, cold, hi, ci)
    if young:
        needs(m, "filter_young_pages", options, "the young page filters", hot.filters[0].loc)
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
    active_bp = 0
    if any(q is not None for q in qs):
        if any(q is None for q in qs) or qs[0].ms != qs[1].ms or qs[0].sz or qs[1].sz \
                or qs[0].reset_interval_ms != qs[1].reset_interval_ms:
            raise cannot_express(m, "those quotas", hot.loc,
                      "both schemes share one time quota, split in half, with the same reset "
                      "interval and no size quota")
        active_bp = _active_mem_goal(qs[0], qs[1], hot, hi, ci)
        if active_bp:
            needs(m, "active_mem_bp", options, "the active/inactive memory goals",
                  qs[0].goals[0].loc or qs[0].loc)
        for q, s in zip(qs, (hot, cold)):
            w = q.weights
            if w is not None and (w.sz or w.age or not w.nr_accesses):
                raise cannot_express(m, "those quota weights", q.loc or s.loc,
                          "it prioritizes by access frequency: 'weights size 0 access 1 age 0'")
        out += [("quota_ms", str(qs[0].ms * 2)),
                ("quota_reset_interval_ms", str(qs[0].reset_interval_ms))]
    else:
        out += [("quota_ms", "0"), ("quota_reset_interval_ms", "1000")]
    if active_bp:
        out.append(("active_mem_bp", str(active_bp)))
    if young:
        out.append(("filter_young_pages", "Y"))
    wh, wc = wmark_params(m, hot, hi), wmark_params(m, cold, ci)
    if wh != wc:
        raise cannot_express(m, "different watermarks for the two schemes", cold.loc)
    return out + wh


def _young_filters(hot, cold, hi: int, ci: int) -> bool:
    """filter_young_pages (7.0): the hot scheme rejects pages that are not
    young, the cold one rejects young pages; no other filter."""
    if not hot.filters and not cold.filters:
        return False
    want = ((hot, hi, False), (cold, ci, True))
    for s, i, matching in want:
        f = s.filters[0] if len(s.filters) == 1 else None
        if f is None or f.type != "young" or f.allow or f.matching != matching:
            raise cannot_express(LRU_SORT, f"scheme {i}'s filters",
                                 (s.filters[0].loc if s.filters else None) or s.loc,
                                 "its only filters are filter_young_pages' two: 'filter reject not "
                                 "young' on the hot scheme and 'filter reject young' on the cold one")
    return True


def _active_mem_goal(hq, cq, hot, hi: int, ci: int) -> int:
    """active_mem_bp (7.0): the hot scheme's quota aims at active_mem_bp X,
    the cold one's at inactive_mem_bp 10000 - X + 2 (the module's 0.02 %
    overlap keeps the two from ping-ponging); 0 for no goals."""
    if not hq.goals and not cq.goals:
        return 0
    h = hq.goals[0] if len(hq.goals) == 1 else None
    c = cq.goals[0] if len(cq.goals) == 1 else None
    if (h is None or c is None or h.metric != "active_mem_bp" or c.metric != "inactive_mem_bp"
            or not 0 < h.target_value <= 10000 or c.target_value != 10000 - h.target_value + 2):
        x = h.target_value if h is not None and h.metric == "active_mem_bp" else None
        hint = (f"scheme {ci} then needs 'goal inactive_mem_bp {10000 - x + 2}'" if x else
                "its only goals are active_mem_bp X on the hot scheme and inactive_mem_bp "
                "10000-X+2 on the cold one (active_mem_bp)")
        raise cannot_express(LRU_SORT, "those quota goals", (hq.goals or cq.goals)[0].loc or hot.loc,
                             hint)
    return h.target_value




def compile(unit, options) -> str:
    return compile_target(unit, MODULE, NAME.replace("-", "_"), params(unit, options))
