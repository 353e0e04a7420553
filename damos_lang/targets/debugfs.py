"""The legacy DAMON debugfs interface (``/sys/kernel/debug/damon/``, 5.16 to 6.12).

By default the output is the ``schemes`` file's input: one line per scheme,
tab-separated, in kernel units at the file's intervals, with the 18 fields
every kernel with a debugfs ``schemes`` file parses (sysfs.md §8)::

    min_sz max_sz min_nr_acc max_nr_acc min_age max_age action
    quota_ms quota_sz quota_reset_ms w_sz w_nr_acc w_age
    wmark_metric wmark_interval_us wmark_high wmark_mid wmark_low

``--debugfs-fields 7`` prints only the first 7 (the pre-merge layout, which
a kernel ignores).  The schemes only mean what they say at the file's
monitoring attributes, and a file's target pid belongs in ``target_ids``:
``--debugfs-file attrs|target_ids|init_regions`` prints those files, and
a file (or ``--pid``) that sets them is refused for ``schemes`` alone unless
``--debugfs-file schemes`` says the rest is taken care of.
"""
from __future__ import annotations

from .. import catalog
from ..catalog import DEBUGFS
from ..convert import output_numbers
from ..errors import DamosError
from . import TargetOption

NAME = "debugfs"
INTERFACE = DEBUGFS
FIELDS = (7, 18)
FILES = ("schemes", "attrs", "target_ids", "init_regions")
OPTIONS = (
    TargetOption("debugfs_fields", "--debugfs-fields", "N",
                 "debugfs: 18 fields (what kernels accept) or 7 (pattern and action only).",
                 int, FIELDS, "debugfs lines have 18 fields (or 7, the pre-merge layout), "
                 "not {value}"),
    TargetOption("debugfs_file", "--debugfs-file", "FILE",
                 "debugfs: print this file's content: " + ", ".join(FILES) + ".",
                 str, FILES, "--debugfs-file must be one of " + ", ".join(FILES)),
)


def _schemes(unit, options) -> str:
    fields = options.debugfs_fields
    for s in unit.context.schemes:
        if fields == 7 and (s.quota is not None or s.watermarks is not None):
            loc = (s.quota.loc if s.quota is not None else s.watermarks.loc) or s.loc
            raise DamosError("a 7-field debugfs line has no quota or watermarks; "
                             "use the 18-field lines (the default)", loc)
    lines = []
    numbers = output_numbers(unit.program, unit.context, options.max_policy)
    for s, n in zip(unit.context.schemes, numbers):
        out = [n.sz_min, n.sz_max, n.nr_accesses_min, n.nr_accesses_max, n.age_min, n.age_max,
               catalog.ACTIONS[s.action].debugfs_code]
        if fields == 18:
            out += [n.quota_ms, n.quota_bytes, n.quota_reset_ms, n.weight_sz,
                    n.weight_nr_accesses, n.weight_age,
                    catalog.WMARK_METRICS[n.wmark_metric].debugfs_code, n.wmark_interval_us,
                    n.wmark_high, n.wmark_mid, n.wmark_low]
        lines.append(out)
    # like damo: an empty schemes file is written as one newline
    return "".join("\t".join(str(x) for x in out) + "\n" for out in lines) or "\n"


def _attrs(ctx) -> str:
    iv = ctx.intervals
    return (f"{iv.sample_us} {iv.aggr_us} {iv.update_us} {ctx.nr_regions_min} "
            f"{ctx.nr_regions_max}\n")


def _target_ids(ctx) -> str:
    if not catalog.OPS[ctx.ops].takes_pid:
        return "paddr\n"
    pids = [t.pid for t in ctx.targets]
    if not pids or None in pids:
        raise DamosError("target_ids needs a pid: write 'target pid N' or pass --pid", ctx.loc)
    return " ".join(str(p) for p in pids) + "\n"


def _init_regions(ctx) -> str:
    return "".join(f"{i} {start} {end}\n" for i, t in enumerate(ctx.targets)
                   for start, end in t.regions) or "\n"


def _dropped(unit) -> list[str]:
    """What the schemes file alone would leave out."""
    out = []
    if unit.program.monitor is not None:
        out.append("attrs")
    if unit.context.targets:
        out.append("target_ids")
    if any(t.regions for t in unit.context.targets):
        out.append("init_regions")
    return out


def compile(unit, options) -> str:
    which = options.debugfs_file
    if which is None:
        dropped = _dropped(unit)
        if dropped:
            m, targets = unit.program.monitor, unit.context.targets
            loc = (m.loc if m is not None else None) or (targets[0].loc if targets else None)
            raise DamosError(
                f"the file sets DAMON's {' and '.join(dropped)}, which the debugfs schemes "
                "file does not carry (the kernel would run the schemes at its own attributes)",
                loc, hint="print each file with --debugfs-file "
                f"{'|'.join(['schemes'] + dropped)} and write it to /sys/kernel/debug/damon/")
        which = "schemes"
    if which == "schemes":
        return _schemes(unit, options)
    return {"attrs": _attrs, "target_ids": _target_ids,
            "init_regions": _init_regions}[which](unit.context)
