"""Semantic checks beyond what the parser rejects: warnings for schemes that
will not do what they appear to say at the file's monitoring intervals.
What the kernel refuses at 'on', or takes but makes meaningless, is an
error of every command, raised before this runs (pipeline.validate).
What the conversion changed comes from the converter itself (its notes)."""
from __future__ import annotations

from . import catalog
from .catalog import SYSFS, USERSPACE, vstr
from .convert import fmt_number
from .errors import Loc, Report
from .features import blockers, minimum_version

HUGEPAGE_SIZE = 2 << 20


def scheme_label(i: int, s) -> str:
    return f"scheme {s.name!r}" if s.name else f"scheme {i}"


def check(unit, userspace: bool = False) -> Report:
    """Warnings for a pipeline Unit; ``userspace`` adds what ``damos run`` cannot apply."""
    report = Report()
    ctx = unit.context
    m = unit.program.monitor
    if not ctx.schemes:
        # at the monitor block, where its settings are, or else the file's start
        report.warn("the file has no schemes: a kdamond started from it only monitors",
                    m.loc if m else Loc(1, 1))
    if not catalog.OPS[ctx.ops].takes_pid and any(t.pid for t in ctx.targets):
        report.warn(f"{ctx.ops} monitors {catalog.OPS[ctx.ops].words}: a target pid is ignored",
                    ctx.targets[0].loc)
    for note in unit.notes:   # what the conversion changed
        label = "" if note.scheme is None else \
            scheme_label(note.scheme, ctx.schemes[note.scheme]) + ": "
        report.warn(label + note.message, note.loc)
    spa = ctx.intervals.samples_per_aggr
    if ctx.probes and not any(p.weight for p in ctx.probes) and spa > catalog.PROBE_HITS_MAX:
        report.warn(f"an aggregation interval holds {fmt_number(spa)} samples, but the kernel "
                    f"counts probe hits in 8 bits: above {catalog.PROBE_HITS_MAX} they wrap",
                    ctx.probes[0].loc or ctx.loc)
    for i, s in enumerate(ctx.schemes):
        label = scheme_label(i, s)
        for name, lo, hi in s.pattern.ranges():
            if lo > hi:
                report.warn(f"{label}: {_dim(name)} min is above max ({lo} > {hi} in kernel "
                            "units): the scheme can never match", s.loc_of(_dim(name)))
        if s.pattern.nr_accesses_min > spa:
            report.warn(f"{label}: access min is {s.pattern.nr_accesses_min} samples but an "
                        f"aggregation interval holds at most {fmt_number(spa)}: the scheme can "
                        "never match", s.loc_of("access"))
        action = catalog.ACTIONS[s.action]
        if ctx.ops not in action.ops:
            able = sorted(a.name for a in catalog.ACTIONS.values() if ctx.ops in a.ops)
            report.warn(f"{label}: the {ctx.ops} operations set cannot apply {s.action!r}; the "
                        "kernel accepts the scheme and applies 0 bytes",
                        s.action_loc or s.loc, hint=f"{ctx.ops} can do: {' '.join(able)}")
        if catalog.NEEDS_HUGE_REGIONS in action.needs and s.pattern.sz_max < HUGEPAGE_SIZE:
            report.warn(f"{label}: {s.action} on regions of at most {s.pattern.sz_max} bytes can "
                        "never form a 2 MiB huge page", s.loc)
        if s.dests and not action.dests_ops:
            report.warn(f"{label}: dests are migration destinations and {s.action} does not "
                        "migrate: the kernel keeps them and does nothing with them",
                        s.loc_of("dests"))
        for g in (s.quota.goals if s.quota else ()):
            if g.target_value == 0:
                report.warn(f"{label}: a quota goal with target 0 is silently dropped by the "
                            "kernel", g.loc)
    if userspace:
        for f in blockers(ctx, USERSPACE):
            report.warn(f"{f.name} cannot be applied from user space: {f.why}; 'damos run' "
                        "refuses it", f.loc)
    return report


def _dim(name: str) -> str:
    return {"sz": "size", "nr_accesses": "access"}.get(name, name)


def min_version_line(ctx) -> str:
    f = minimum_version(ctx, SYSFS)
    if f is None:
        b = blockers(ctx, SYSFS)[0]
        return f"no kernel can run it through sysfs: {b.name} ({b.why})"
    return f"needs Linux >= {vstr(f.since)}: {f.name}"
