"""The legacy DAMON debugfs ``schemes`` file input (sysfs.md §8).

One line per scheme, tab-separated, in kernel units at the file's intervals
(:func:`damos_lang.kernel.to_kernel` with ``options.max_policy``).  By
default each line has the 18 fields that every kernel with a debugfs
``schemes`` file (5.16 .. 6.12) parses::

    min_sz max_sz min_nr_acc max_nr_acc min_age max_age action
    quota_ms quota_sz quota_reset_ms w_sz w_nr_acc w_age
    wmark_metric wmark_interval_us wmark_high wmark_mid wmark_low

``options.debugfs_fields == 7`` prints only the first 7 (the pre-merge
"v0" layout; a kernel given 7-field lines installs nothing, §8).

What debugfs cannot express is a DamosError pointing at the scheme:
actions other than the six debugfs ones, filters, quota goals and tuners,
apply_interval, target_nid, dests, intervals_goal, more than 256 schemes.
The output is only the ``schemes`` file content; the monitoring intervals
it was converted at are those of the program's ``monitor`` block.
"""
from __future__ import annotations

from ..errors import DamosError
from ..features import vstr
from ..ir import Program
from ..kernel import KScheme, to_kernel
from ..units import UINT_MAX

NAME = "debugfs"

ACTION_CODES = {"willneed": 0, "cold": 1, "pageout": 2, "hugepage": 3, "nohugepage": 4,
                "stat": 5}
METRIC_CODES = {"none": 0, "free_mem_rate": 1}
MAX_SCHEMES = 256
FIELDS = (7, 18)
SCHEMES_SINCE = (5, 16)   # the debugfs schemes file
LAST_KERNEL = (6, 13)     # debugfs DAMON is gone from 6.14 (sysfs.md §8)


def _unsupported(program: Program, fields: int) -> None:
    m = program.monitor
    if m is not None and m.intervals_goal is not None:
        raise DamosError("debugfs has no intervals_goal (interval auto-tuning); use the "
                         "sysfs target", m.intervals_goal.loc or m.loc)
    if len(program.schemes) > MAX_SCHEMES:
        s = program.schemes[MAX_SCHEMES]
        raise DamosError(f"debugfs takes at most {MAX_SCHEMES} schemes, this program has "
                         f"{len(program.schemes)}", s.loc)
    for s in program.schemes:
        if s.action not in ACTION_CODES:
            raise DamosError(f"debugfs cannot apply action {s.action!r}; it knows only "
                             f"{', '.join(ACTION_CODES)}", s.action_loc or s.loc,
                             hint="use the sysfs target for newer actions")
        if s.filters:
            f = s.filters[0]
            raise DamosError("debugfs schemes have no filters", f.loc or s.loc)
        if s.apply_interval is not None:
            raise DamosError("debugfs schemes have no apply_interval",
                             s.apply_interval.loc or s.loc)
        if s.target_nid is not None:
            raise DamosError("debugfs schemes have no target_nid", s.loc)
        if s.dests:
            raise DamosError("debugfs schemes have no dests", s.loc)
        q = s.quota
        if q is not None:
            if q.goals:
                raise DamosError("debugfs quotas have no goals", q.goals[0].loc or q.loc or s.loc)
            if q.tuner is not None:
                raise DamosError("debugfs quotas have no goal tuner", q.loc or s.loc)
            if q.fail_charge is not None:
                raise DamosError("debugfs quotas have no fail_charge", q.loc or s.loc)
        if s.max_snapshots is not None:
            raise DamosError("debugfs schemes have no max_snapshots", s.loc)
        if fields == 7 and (q is not None or s.watermarks is not None):
            raise DamosError("a 7-field debugfs line has no quota or watermarks; "
                             "use the 18-field lines (the default)",
                             (q.loc if q is not None else s.watermarks.loc) or s.loc)


def line(k: KScheme, fields: int = 18) -> str:
    """One scheme's tab-separated debugfs input."""
    out = [k.sz_min, k.sz_max, k.nr_accesses_min, k.nr_accesses_max, k.age_min, k.age_max,
           ACTION_CODES[k.action]]
    if fields == 18:
        out += [k.quota_ms, k.quota_bytes, k.quota_reset_ms,
                k.weight_sz, k.weight_nr_accesses, k.weight_age,
                METRIC_CODES[k.wmark_metric], k.wmark_interval_us,
                k.wmark_high, k.wmark_mid, k.wmark_low]
    return "\t".join(str(int(x)) for x in out)


# the fields the kernel parses with %u (sysfs.md §8): bounds, action, weights, metric
U32_FIELDS = (2, 3, 4, 5, 6, 10, 11, 12, 13)


def compile(program: Program, options=None) -> str:
    fields = getattr(options, "debugfs_fields", 18)
    if fields not in FIELDS:
        raise DamosError(f"debugfs lines have 18 fields (or 7, the pre-merge layout), not {fields}")
    kernel = getattr(options, "kernel", None)
    if kernel is not None:
        kernel = tuple(kernel)
        if kernel < SCHEMES_SINCE:
            raise DamosError(f"Linux {vstr(kernel)} has no debugfs schemes file "
                             f"(first in Linux {vstr(SCHEMES_SINCE)})")
        if kernel > LAST_KERNEL:
            raise DamosError(f"Linux {vstr(kernel)} has no DAMON debugfs interface "
                             "(removed in 6.14); use the sysfs target")
    _unsupported(program, fields)
    policy = getattr(options, "max_policy", "unbounded")
    kctx = to_kernel(program, policy)
    lines = [line(k, fields) for k in kctx.schemes]
    if policy == "unbounded":
        for s, text in zip(program.schemes, lines):
            vals = [int(x) for x in text.split("\t")]
            for i in U32_FIELDS:
                if i < len(vals) and vals[i] > UINT_MAX:
                    # kernel.py clamps these; a value past it would wrap in %u
                    raise DamosError(f"debugfs field {i + 1} would be {vals[i]}, above "
                                     f"{UINT_MAX} (the kernel reads it with %u)", s.loc)
    # like damo: an empty schemes file is written as one newline
    return "".join(t + "\n" for t in lines) or "\n"
