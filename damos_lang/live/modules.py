"""DAMON_RECLAIM and DAMON_LRU_SORT: a program as module parameters.

Each module runs one fixed shape of scheme on physical memory
(``mm/damon/reclaim.c``, ``lru_sort.c``, Linux 6.12) and exposes its knobs
under ``/sys/module/<module>/parameters``.  :func:`reclaim_params` and
:func:`lru_sort_params` give the parameters that make the module run
exactly the program's scheme(s), or a DamosError naming the part the module
cannot express.  :func:`write_params` writes them all or nothing and turns
the module on (or commits to it when it is already on).
"""
from __future__ import annotations

import errno
import os
import time

from .. import catalog
from ..errors import DamosError
from ..units import UINT_MAX, ULONG_MAX

PAGE_SIZE = 4096
RECLAIM = "damon_reclaim"
LRU_SORT = "damon_lru_sort"
LABEL = {RECLAIM: "DAMON_RECLAIM", LRU_SORT: "DAMON_LRU_SORT"}
# the module's actions, by their kernel enum (the catalog holds the names)
_BY_ENUM = {a.c_enum: name for name, a in catalog.ACTIONS.items()}
PAGEOUT, HOT, COLD = (_BY_ENUM[e] for e in ("DAMOS_PAGEOUT", "DAMOS_LRU_PRIO", "DAMOS_LRU_DEPRIO"))


def _no(module: str, what: str, loc=None, hint: str = "") -> DamosError:
    return DamosError(f"{LABEL[module]} cannot express {what}" + (f": {hint}" if hint else ""),
                      loc)


def _common(module: str, unit) -> list[tuple[str, str]]:
    """Monitoring attributes and the region: what both modules share."""
    ctx, prog = unit.context, unit.program
    if ctx.ops != "paddr":
        raise _no(module, f"ops {ctx.ops}", ctx.loc,
                  "it monitors physical memory; write 'monitor { ops paddr }'")
    if ctx.intervals_goal is not None:
        raise _no(module, "intervals_goal (interval auto-tuning)", ctx.loc)
    if prog.monitor is not None and prog.monitor.update is not None:
        raise _no(module, "an update interval", prog.monitor.loc,
                  "it does not use one on physical memory; leave 'update' out")
    regions = [r for t in ctx.targets for r in t.regions]
    if len(regions) > 1:
        raise _no(module, f"{len(regions)} regions", ctx.targets[0].loc,
                  "it monitors one physical address range")
    start, end = regions[0] if regions else (0, 0)
    iv = ctx.intervals
    return [("sample_interval", str(iv.sample_us)), ("aggr_interval", str(iv.aggr_us)),
            ("min_nr_regions", str(ctx.nr_regions_min)),
            ("max_nr_regions", str(ctx.nr_regions_max)),
            ("monitor_region_start", str(start)), ("monitor_region_end", str(end))]


def _plain(module: str, s, index: int) -> None:
    """What neither module's schemes have."""
    for name, bad in (("apply_interval", s.apply_interval_us), ("target_nid", s.target_nid is not None),
                      ("dests", s.dests), ("max_snapshots", s.max_nr_snapshots)):
        if bad:
            raise _no(module, f"scheme {index}'s {name}", s.loc)
    p = s.pattern
    if p.sz_min != PAGE_SIZE or p.sz_max != ULONG_MAX:
        raise _no(module, f"scheme {index}'s size range", s.loc_of("size"),
                  f"its schemes take regions of {PAGE_SIZE} bytes or more: write 'size 4K..max'")
    q = s.quota
    if q is not None and (q.goal_tuner is not None or q.fail_charge_denom):
        raise _no(module, f"scheme {index}'s goal tuner or fail_charge", q.loc or s.loc)


def _wmarks(module: str, s, index: int) -> list[tuple[str, str]]:
    w = s.watermarks
    if w is None or w.metric != "free_mem_rate":
        raise _no(module, f"scheme {index} without free_mem_rate watermarks", s.loc,
                  "the module always uses them; add 'watermarks { metric free_mem_rate ... }' "
                  "(high 100% mid 100% low 0% keeps it active)")
    return [("wmarks_interval", str(w.interval_us)), ("wmarks_high", str(w.high)),
            ("wmarks_mid", str(w.mid)), ("wmarks_low", str(w.low))]


def reclaim_params(unit) -> list[tuple[str, str]]:
    """DAMON_RECLAIM's parameters for the unit (enabled last)."""
    m = RECLAIM
    ctx = unit.context
    out = _common(m, unit)
    if len(ctx.schemes) != 1:
        raise _no(m, f"{len(ctx.schemes)} schemes", ctx.loc, "it runs exactly one")
    s = ctx.schemes[0]
    if s.action != PAGEOUT:
        raise _no(m, f"action {s.action}", s.action_loc or s.loc, "it only pages out")
    _plain(m, s, 0)
    p = s.pattern
    if p.nr_accesses_min != 0 or p.nr_accesses_max != 0:
        raise _no(m, "an access range other than 0..0", s.loc_of("access"),
                  "it reclaims regions not accessed at all")
    if p.age_max != UINT_MAX:
        raise _no(m, "a maximum age", s.loc_of("age"), "write 'age N..max'")
    out.append(("min_age", str(p.age_min * ctx.intervals.aggr_us)))
    q = s.quota
    pressure = feedback = 0
    if q is not None:
        w = q.weights
        if w is not None and (w.sz or w.nr_accesses or not w.age):
            raise _no(m, "those quota weights", q.loc or s.loc,
                      "it prioritizes by age only: 'weights size 0 access 0 age 1'")
        for g in q.goals:
            if g.metric == "some_mem_psi_us":
                pressure = g.target_value
            elif g.metric == "user_input" and g.target_value == 10000 and g.current_value:
                feedback = g.current_value
            else:
                raise _no(m, f"goal {g.metric} {g.target_value}", g.loc or q.loc,
                          "it takes a some_mem_psi_us goal and a user_input goal of 10000 "
                          "with a current value")
        out += [("quota_ms", str(q.ms)), ("quota_sz", str(q.sz)),
                ("quota_reset_interval_ms", str(q.reset_interval_ms))]
    else:
        out += [("quota_ms", "0"), ("quota_sz", "0"), ("quota_reset_interval_ms", "1000")]
    out += [("quota_mem_pressure_us", str(pressure)), ("quota_autotune_feedback", str(feedback))]
    out += _wmarks(m, s, 0)
    skip_anon = False
    for f in s.filters:
        if f.type == "anon" and f.matching and not f.allow and not skip_anon:
            skip_anon = True
        else:
            raise _no(m, f"filter {'allow' if f.allow else 'reject'} "
                         f"{'' if f.matching else 'not '}{f.type}", f.loc or s.loc,
                      "its only filter is 'filter reject anon' (skip_anon)")
    out.append(("skip_anon", "Y" if skip_anon else "N"))
    return out


def lru_sort_params(unit) -> list[tuple[str, str]]:
    """DAMON_LRU_SORT's parameters: one lru_prio and one lru_deprio scheme."""
    m = LRU_SORT
    ctx = unit.context
    out = _common(m, unit)
    by = {s.action: (i, s) for i, s in enumerate(ctx.schemes)}
    if len(ctx.schemes) != 2 or set(by) != {HOT, COLD}:
        raise _no(m, "those schemes", ctx.loc,
                  f"it runs exactly one {HOT} scheme (hot) and one {COLD} scheme (cold)")
    (hi, hot), (ci, cold) = by[HOT], by[COLD]
    for i, s in ((hi, hot), (ci, cold)):
        _plain(m, s, i)
        if s.filters:
            raise _no(m, f"scheme {i}'s filters", s.filters[0].loc or s.loc)
    hp, cp = hot.pattern, cold.pattern
    if hp.nr_accesses_max != UINT_MAX or hp.age_min != 0 or hp.age_max != UINT_MAX:
        raise _no(m, f"scheme {hi}'s pattern", hot.loc,
                  "the hot scheme is 'access N..max' at any age")
    if cp.nr_accesses_min or cp.nr_accesses_max or cp.age_max != UINT_MAX:
        raise _no(m, f"scheme {ci}'s pattern", cold.loc,
                  "the cold scheme is 'access 0..0' and 'age N..max'")
    iv = ctx.intervals
    most = min(iv.aggr_us // iv.sample_us, UINT_MAX)
    freq = -(-hp.nr_accesses_min * 1000 // most) if most else 0
    if most == 0 or most * freq // 1000 != hp.nr_accesses_min:
        raise _no(m, f"a hot threshold of {hp.nr_accesses_min} samples", hot.loc_of("access"),
                  f"it is a permil of the {most} samples per aggregation")
    out += [("hot_thres_access_freq", str(freq)),
            ("cold_min_age", str(cp.age_min * iv.aggr_us))]
    qs = [hot.quota, cold.quota]
    if any(q is not None for q in qs):
        if any(q is None for q in qs) or qs[0].ms != qs[1].ms or qs[0].sz or qs[1].sz \
                or qs[0].reset_interval_ms != qs[1].reset_interval_ms \
                or qs[0].goals or qs[1].goals:
            raise _no(m, "those quotas", hot.loc,
                      "both schemes share one time quota, split in half, with the same reset "
                      "interval and no size quota or goals")
        for q, s in zip(qs, (hot, cold)):
            w = q.weights
            if w is not None and (w.sz or w.age or not w.nr_accesses):
                raise _no(m, "those quota weights", q.loc or s.loc,
                          "it prioritizes by access frequency: 'weights size 0 access 1 age 0'")
        out += [("quota_ms", str(qs[0].ms * 2)),
                ("quota_reset_interval_ms", str(qs[0].reset_interval_ms))]
    else:
        out += [("quota_ms", "0"), ("quota_reset_interval_ms", "1000")]
    wh, wc = _wmarks(m, hot, hi), _wmarks(m, cold, ci)
    if wh != wc:
        raise _no(m, "different watermarks for the two schemes", cold.loc)
    return out + wh


PARAMS = {RECLAIM: reclaim_params, LRU_SORT: lru_sort_params}


def render(module: str, params: list[tuple[str, str]], header: list[str]) -> str:
    """``module.name=value`` lines (kernel command line syntax), enabled last."""
    out = [f"# {h}" for h in header]
    out += [f"{module}.{k}={v}" for k, v in params]
    out.append(f"{module}.enabled=Y")
    return "\n".join(out) + "\n"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)


def write_params(module_root: str, module: str, params: list[tuple[str, str]],
                 sleep=time.sleep) -> dict:
    """Write the parameters, then ``enabled`` Y (or ``commit_inputs`` Y when
    the module already runs); on any failure put every old value back."""
    base = os.path.join(module_root, module, "parameters")
    if not os.path.isdir(base):
        raise DamosError(f"no {base}: this kernel has no {LABEL[module]} "
                         f"(CONFIG_{LABEL[module]}=y)")
    enabled_path = os.path.join(base, "enabled")
    was_on = _read(enabled_path) == "Y"
    journal: list[tuple[str, str]] = []
    final = ("commit_inputs", "Y") if was_on else ("enabled", "Y")
    for name, value in params + [final]:
        path = os.path.join(base, name)
        old = _read(path)
        if old is None:
            _restore(journal)
            raise DamosError(f"no {path}: this kernel's {LABEL[module]} has no parameter "
                             f"{name}; nothing was changed")
        try:
            _write(path, value)
        except OSError as e:
            _restore(journal)
            hint = ""
            if name == "enabled" and e.errno == errno.EBUSY:
                hint = "; a DAMON sysfs kdamond (or another exclusive DAMON user) is running"
            elif name == "enabled" and e.errno == errno.EINVAL:
                hint = "; the module refused the parameters when it built its scheme"
            raise DamosError(f"failed to write '{value}' to {path}: "
                             f"{os.strerror(e.errno)}{hint}\nnothing was changed: every "
                             "parameter before it was restored") from None
        if name != "commit_inputs":
            journal.append((path, old))
    pid = None
    for _ in range(20):
        pid = _read(os.path.join(base, "kdamond_pid"))
        if pid not in (None, "-1"):
            break
        sleep(0.1)
    return {"module": module, "enabled": _read(enabled_path), "kdamond_pid": pid}


def _restore(journal) -> None:
    for path, old in reversed(journal):
        try:
            _write(path, old)
        except OSError:
            pass


def compile_target(unit, module: str, target: str) -> str:
    """The ``reclaim``/``lru-sort`` targets' output: the parameters that make
    ``module`` run the unit's scheme(s), with a header saying how to use them;
    a DamosError names the part the module cannot express."""
    from .. import __version__
    title = module.upper()
    header = [f"Generated by damos-lang {__version__} from {unit.source_name}; do not edit.",
              f"{title} parameters: write each value to "
              f"/sys/module/{module}/parameters/NAME (enabled last),",
              "or put the lines on the kernel command line; "
              f"'damos apply --target {target}' writes them."]
    return render(module, PARAMS[module](unit), header)
