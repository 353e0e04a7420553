"""Semantic checks beyond what the parser rejects: warnings for schemes that
will not do what they appear to say at the file's monitoring intervals."""
from __future__ import annotations

from .errors import Report
from .features import minimum_version, vstr
from .ir import Program, Scheme
from .kernel import intervals_of, percent_of, time_us, to_kernel
from .units import AGGR_INTERVALS, SAMPLES

# what each operations set can apply (mm/damon/{vaddr,paddr}.c)
OPS_ACTIONS = {
    "vaddr": {"willneed", "cold", "pageout", "hugepage", "nohugepage", "collapse",
              "migrate_hot", "migrate_cold", "stat"},
    "paddr": {"pageout", "lru_prio", "lru_deprio", "migrate_hot", "migrate_cold", "stat"},
}
OPS_ACTIONS["fvaddr"] = OPS_ACTIONS["vaddr"]
# advice process_madvise(2) accepts for another process (algorithm.md §11)
USERSPACE_ACTIONS = {"willneed", "cold", "pageout", "collapse", "stat"}
HUGEPAGE_SIZE = 2 << 20


def _fmt_num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def check(program: Program, userspace: bool = False) -> Report:
    """Warnings for ``program``; ``userspace`` adds what ``damos run`` cannot apply."""
    report = Report()
    iv = intervals_of(program)
    kctx = to_kernel(program)
    max_samples = iv.aggr_us / iv.sample_us
    m = program.monitor

    if iv.sample_us > iv.aggr_us:
        report.warn(f"sampling interval ({iv.sample_us} us) is longer than the aggregation "
                    f"interval ({iv.aggr_us} us): the kernel refuses this at 'on'",
                    m.loc if m else None)
    if kctx.nr_regions_min < 3 or kctx.nr_regions_min > kctx.nr_regions_max:
        report.warn(f"nr_regions {kctx.nr_regions_min}..{kctx.nr_regions_max}: the kernel needs "
                    "3 <= min <= max and refuses this at 'on'", m.loc if m else None)
    if not program.schemes:
        report.warn("the file has no schemes: a kdamond started from it only monitors")
    if kctx.ops == "paddr" and any(t.pid for t in kctx.targets):
        report.warn("paddr monitors physical memory: a target pid is ignored",
                    program.targets[0].loc)

    for i, (s, ks) in enumerate(zip(program.schemes, kctx.schemes)):
        label = f"scheme {s.name!r}" if s.name else f"scheme {i}"
        _check_ranges(report, s, ks, label, max_samples, iv.aggr_us)
        able = OPS_ACTIONS[kctx.ops]
        if s.action not in able:
            report.warn(f"{label}: the {kctx.ops} operations set cannot apply {s.action!r}; the "
                        "kernel accepts the scheme and applies 0 bytes",
                        s.action_loc or s.loc,
                        hint=f"{kctx.ops} can do: {' '.join(sorted(able))}")
        if userspace and s.action not in USERSPACE_ACTIONS:
            report.warn(f"{label}: {s.action!r} cannot be applied from user space "
                        "(process_madvise allows cold, pageout, willneed and collapse): "
                        "'damos run' only counts it", s.action_loc or s.loc)
        if s.action in ("hugepage", "collapse") and ks.sz_max < HUGEPAGE_SIZE:
            report.warn(f"{label}: {s.action} on regions of at most {ks.sz_max} bytes can never "
                        "form a 2 MiB huge page", s.pattern.size.loc if s.pattern.size else s.loc)
        if s.quota:
            for g, kg in zip(s.quota.goals, ks.goals):
                if kg.target_value == 0:
                    report.warn(f"{label}: a quota goal with target 0 is silently dropped by the "
                                "kernel", g.loc)
        if s.watermarks and not (ks.wmark_high >= ks.wmark_mid >= ks.wmark_low):
            report.warn(f"{label}: watermarks must be high >= mid >= low "
                        f"({ks.wmark_high} {ks.wmark_mid} {ks.wmark_low} permil)",
                        s.watermarks.loc)
    return report


def _check_ranges(report, s: Scheme, ks, label, max_samples, aggr_us):
    p = s.pattern
    dims = (("size", p.size, ks.sz_min, ks.sz_max),
            ("access", p.access, ks.nr_accesses_min, ks.nr_accesses_max),
            ("age", p.age, ks.age_min, ks.age_max))
    for name, r, lo, hi in dims:
        if lo > hi:
            report.warn(f"{label}: {name} min is above max ({lo} > {hi} in kernel units): "
                        "the scheme can never match", (r.loc if r else None) or s.loc)
    if ks.nr_accesses_min > max_samples:
        report.warn(f"{label}: access min is {ks.nr_accesses_min} samples but an aggregation "
                    f"interval holds at most {_fmt_num(max_samples)}: the scheme can never match",
                    p.access.loc if p.access else s.loc)
    if p.access is not None and p.access.unit != SAMPLES:
        for bound, v in (("min", p.access.lo), ("max", p.access.hi)):
            if v.keyword:
                continue
            exact = percent_of(v) * max_samples / 100
            if exact != int(exact):
                report.warn(f"{label}: access {bound} {v.text()} of {_fmt_num(max_samples)} samples "
                            f"is {_fmt_num(exact)}, truncated to {int(exact)}",
                            v.loc or p.access.loc)
    if p.age is not None and p.age.unit != AGGR_INTERVALS:
        for bound, v in (("min", p.age.lo), ("max", p.age.hi)):
            if v.keyword:
                continue
            us = time_us(v)
            exact = us / aggr_us
            if 0 < us < aggr_us and bound == "min":
                report.warn(f"{label}: min age {v.text()} is below one aggregation interval "
                            f"({_fmt_num(aggr_us / 1000)} ms): it becomes 0, which matches regions "
                            "of any age", v.loc or p.age.loc)
            elif exact != int(exact):
                report.warn(f"{label}: age {bound} {v.text()} is {_fmt_num(exact)} aggregation "
                            f"intervals, truncated to {int(exact)}", v.loc or p.age.loc)


def min_version_line(program: Program) -> str:
    f = minimum_version(program)
    if f is None:
        return "needs any kernel with DAMON"
    return f"needs Linux >= {vstr(f.since)}: {f.name}"
