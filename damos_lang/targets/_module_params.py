"""DAMON_RECLAIM and DAMON_LRU_SORT: what both modules' parameter compilers share.

Each module runs one fixed shape of scheme on physical memory
(``mm/damon/reclaim.c``, ``lru_sort.c``; Linux 6.12, plus the parameters
``SINCE`` names) and exposes its knobs
under ``/sys/module/<module>/parameters``.  The ``reclaim`` and ``lru-sort``
targets give the parameters that make the module run exactly the program's
scheme(s), or a DamosError naming the part the module cannot express;
``damos apply --target reclaim`` writes them (:mod:`damos_lang.live.modules`).
"""
from __future__ import annotations

import textwrap

from .. import catalog
from ..errors import DamosError
from ..features import default_region
from ..units import ULONG_MAX

PAGE_SIZE = 4096
RECLAIM = "damon_reclaim"
LRU_SORT = "damon_lru_sort"
LABEL = {RECLAIM: "DAMON_RECLAIM", LRU_SORT: "DAMON_LRU_SORT"}


def cannot_express(module: str, what: str, loc=None, hint: str = "") -> DamosError:
    return DamosError(f"{LABEL[module]} cannot express {what}" + (f": {hint}" if hint else ""),
                      loc)


# parameters newer than 6.12, with the first Linux each module has them in
# (mm/damon/reclaim.c, lru_sort.c; seen in Debian's 7.2 and 7.3)
SINCE = {(RECLAIM, "autotune_monitoring_intervals"): (7, 2),
         (LRU_SORT, "autotune_monitoring_intervals"): (7, 0),
         (LRU_SORT, "active_mem_bp"): (7, 0),
         (LRU_SORT, "filter_young_pages"): (7, 0)}
# autotune_monitoring_intervals=Y: both modules set these attributes and goal
AUTOTUNE_SAMPLE_US, AUTOTUNE_AGGR_US = 5000, 100_000
AUTOTUNE_GOAL = dict(access_bp=40, aggrs=3, min_sample_us=5000, max_sample_us=10_000_000)


def needs(module: str, name: str, options, what: str, loc=None) -> None:
    """Refuse ``what`` when --kernel names a Linux older than ``name``."""
    since = SINCE[(module, name)]
    kernel = getattr(options, "kernel", None)
    if kernel is not None and tuple(kernel) < since:
        raise cannot_express(module, what, loc,
                             f"its {name} parameter is first in Linux {since[0]}.{since[1]} "
                             f"(--kernel {kernel[0]}.{kernel[1]})")


def shared_params(module: str, unit, options=None) -> list[tuple[str, str]]:
    """Monitoring attributes and the region: what both modules share."""
    ctx, prog = unit.context, unit.program
    if ctx.ops != "paddr":
        raise cannot_express(module, f"ops {ctx.ops}", ctx.loc,
                  "it monitors physical memory; write 'monitor { ops paddr }'")
    if ctx.probes:
        raise cannot_express(module, "probes", ctx.probes[0].loc or ctx.loc,
                  "the module has no parameters for data-attribute probes; use the sysfs "
                  "target")
    autotune = []
    if ctx.intervals_goal is not None:
        g, iv = ctx.intervals_goal, ctx.intervals
        own = all(getattr(g, k) == v for k, v in AUTOTUNE_GOAL.items())
        if not own or iv.sample_us != AUTOTUNE_SAMPLE_US or iv.aggr_us != AUTOTUNE_AGGR_US:
            raise cannot_express(module, "that intervals_goal", ctx.loc,
                                 "it auto-tunes only toward its own goal: 'sample 5ms; aggr 100ms; "
                                 "intervals_goal { access 0.4%; aggrs 3; sample 5ms..10s }'")
        needs(module, "autotune_monitoring_intervals", options,
              "intervals_goal (interval auto-tuning)", ctx.loc)
        autotune = [("autotune_monitoring_intervals", "Y")]
    if prog.monitor is not None and prog.monitor.update is not None:
        raise cannot_express(module, "an update interval", prog.monitor.loc,
                  "it does not use one on physical memory; leave 'update' out")
    regions = [r for t in ctx.targets for r in t.regions]
    if len(regions) > 1:
        raise cannot_express(module, f"{len(regions)} regions", ctx.targets[0].loc,
                  "it monitors one physical address range")
    # no region: 0 and 0 make the module pick its default region (the kernel's
    # damon_set_region_*_default()); written, not left out, because the module stores
    # the range it picked in these two parameters, where a later commit would reuse it
    start, end = regions[0] if regions else (0, 0)
    iv = ctx.intervals
    return [("sample_interval", str(iv.sample_us)), ("aggr_interval", str(iv.aggr_us)),
            *autotune,
            ("min_nr_regions", str(ctx.nr_regions_min)),
            ("max_nr_regions", str(ctx.nr_regions_max)),
            ("monitor_region_start", str(start)), ("monitor_region_end", str(end))]


def check_plain(module: str, s, index: int) -> None:
    """What neither module's schemes have."""
    for name, bad in (("apply_interval", s.apply_interval_us), ("target_nid", s.target_nid is not None),
                      ("dests", s.dests), ("max_snapshots", s.max_snapshots)):
        if bad:
            raise cannot_express(module, f"scheme {index}'s {name}", s.loc)
    p = s.pattern
    if p.sz_min != PAGE_SIZE or p.sz_max != ULONG_MAX:
        raise cannot_express(module, f"scheme {index}'s size range", s.loc_of("size"),
                  f"its schemes take regions of {PAGE_SIZE} bytes or more: write 'size 4K..max'")
    q = s.quota
    if q is not None and (q.goal_tuner is not None or q.fail_charge_denom):
        raise cannot_express(module, f"scheme {index}'s goal tuner or fail_charge", q.loc or s.loc)


def wmark_params(module: str, s, index: int) -> list[tuple[str, str]]:
    w = s.watermarks
    if w is None or w.metric != "free_mem_rate":
        raise cannot_express(module, f"scheme {index} without free_mem_rate watermarks", s.loc,
                  "the module always uses them; add 'watermarks { metric free_mem_rate ... }' "
                  "(high 100% mid 100% low 0% keeps it active)")
    return [("wmarks_interval", str(w.interval_us)), ("wmarks_high", str(w.high)),
            ("wmarks_mid", str(w.mid)), ("wmarks_low", str(w.low))]


def render(module: str, params: list[tuple[str, str]], header: list[str]) -> str:
    """``module.name=value`` lines (kernel command line syntax), enabled last."""
    out = [f"# {h}" for h in header]
    out += [f"{module}.{k}={v}" for k, v in params]
    out.append(f"{module}.enabled=Y")
    return "\n".join(out) + "\n"


def compile_target(unit, module: str, target: str, params) -> str:
    """The target's output: ``params`` (the module's parameters for the
    unit), with a header saying how to use them."""
    from .. import __version__
    title = module.upper()
    header = [f"Generated by damos-lang {__version__} from {unit.source_name}; do not edit.",
              f"{title} parameters: write each value to "
              f"/sys/module/{module}/parameters/NAME (enabled last),",
              "or put the lines on the kernel command line; "
              f"'damos apply --target {target}' writes them."]
    if default_region(unit.context) is not None:
        header += textwrap.wrap(f"No 'target region': monitor_region_start and _end 0 let "
                                f"{LABEL[module]} pick its default region: "
                                f"{catalog.default_region_words()}.", 90)
    return render(module, params, header)
