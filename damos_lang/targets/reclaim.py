"""DAMON_RECLAIM module parameters (module.name=value lines), when the scheme fits."""
from __future__ import annotations

from .. import catalog
from ..units import UINT_MAX
from ._module_params import RECLAIM, cannot_express, check_plain, compile_target, shared_params, wmark_params

NAME, INTERFACE = "reclaim", None
MODULE = RECLAIM
# the module's action, by its kernel enum (the catalog holds the names)
PAGEOUT = next(n for n, a in catalog.ACTIONS.items() if a.c_enum == "DAMOS_PAGEOUT")


def params(unit, options=None) -> list[tuple[str, str]]:
    """DAMON_RECLAIM's parameters for the unit (enabled last)."""
    m = RECLAIM
    ctx = unit.context
    out = shared_params(m, unit, options)
    if len(ctx.schemes) != 1:
        raise cannot_express(m, f"{len(ctx.schemes)} schemes", ctx.loc, "it runs exactly one")
    s = ctx.schemes[0]
    if s.action != PAGEOUT:
        raise cannot_express(m, f"action {s.action}", s.action_loc or s.loc, "it only pages out")
    check_plain(m, s, 0)
    p = s.pattern
    if p.nr_accesses_min != 0 or p.nr_accesses_max != 0:
        raise cannot_express(m, "an access range other than 0..0", s.loc_of("access"),
                  "it reclaims regions not accessed at all")
    if p.age_max != UINT_MAX:
        raise cannot_express(m, "a maximum age", s.loc_of("age"), "write 'age N..max'")
    out.append(("min_age", str(p.age_min * ctx.intervals.aggr_us)))
    q = s.quota
    pressure = feedback = 0
    if q is not None:
        w = q.weights
        if w is not None and (w.sz or w.nr_accesses or not w.age):
            raise cannot_express(m, "those quota weights", q.loc or s.loc,
                      "it prioritizes by age only: 'weights size 0 access 0 age 1'")
        for g in q.goals:
            if g.metric == "some_mem_psi_us":
                pressure = g.target_value
            elif g.metric == "user_input" and g.target_value == 10000 and g.current_value:
                feedback = g.current_value
            else:
                raise cannot_express(m, f"goal {g.metric} {g.target_value}", g.loc or q.loc,
                          "it takes a some_mem_psi_us goal and a user_input goal of 10000 "
                          "with a current value")
        out += [("quota_ms", str(q.ms)), ("quota_sz", str(q.sz)),
                ("quota_reset_interval_ms", str(q.reset_interval_ms))]
    else:
        out += [("quota_ms", "0"), ("quota_sz", "0"), ("quota_reset_interval_ms", "1000")]
    out += [("quota_mem_pressure_us", str(pressure)), ("quota_autotune_feedback", str(feedback))]
    out += wmark_params(m, s, 0)
    skip_anon = False
    for f in s.filters:
        if f.type == "anon" and f.matching and not f.allow and not skip_anon:
            skip_anon = True
        else:
            raise cannot_express(m, f"filter {'allow' if f.allow else 'reject'} "
                         f"{'' if f.matching else 'not '}{f.type}", f.loc or s.loc,
                      "its only filter is 'filter reject anon' (skip_anon)")
    out.append(("skip_anon", "Y" if skip_anon else "N"))
    return out



def compile(unit, options) -> str:
    return compile_target(unit, MODULE, NAME.replace("-", "_"), params(unit, options))
