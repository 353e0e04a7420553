"""The DAMON sysfs write plan: the ordered list of (file, value) writes that
sets up one kdamond for a program (sysfs.md §6), derived from the layout
table (:mod:`.layout`).

Both the ``sysfs`` script target and ``damos apply`` write exactly this
list, in order, stopping at the first failure.  Paths are relative to the
admin root; values are the exact text to write, without the trailing newline.

Each entity's rows are written in table order; a row is written by its
``write`` rule (always, when set, when nonzero, ...), and a COUNT row writes
its number and then each child entity below it.  Why only non-default values
are written: every ``nr_*`` write recreates the directories below it with
fresh defaults (sysfs.md §7 trap 3), and the plan writes the counts first, so
every file the plan leaves alone holds its documented default.  Skipping
defaults keeps the plan runnable on every kernel that has the features the
program uses (a file a kernel lacks is never touched unless the program
needs it).  The six access-pattern bounds are always written: their fresh
default is 0/0, which matches nothing (§7 trap 4).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

from .. import catalog, model
from ..convert import LegacyNumbers, output_numbers
from ..errors import DamosError
from ..features import require
from ..model import Context
from . import layout as L

# the pid the plan writes when the caller supplies it later (the sh script's $1)
PID_FROM_CALLER = "\0pid\0"


@dataclass(frozen=True)
class Write:
    """Write ``value`` (plus a newline) to ``<admin root>/<path>``; ``what``
    names the setting for error messages."""

    path: str
    value: str
    what: str


class Region(NamedTuple):
    """A target region as the layout's rows name its two numbers."""

    start: int
    end: int


def num(n: int) -> str:
    """Plain decimal: a leading 0 would make the kernel read octal (§3)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"not an integer: {n!r}")
    return str(n)


def yn(b: bool) -> str:
    return "Y" if b else "N"


def _text(s: str, what: str) -> str:
    if "\0" in s:
        raise DamosError(f"{what} contains a NUL character, which sysfs cannot take")
    if s.endswith("\n"):
        # the kernel drops one trailing newline (the one every write adds)
        raise DamosError(f"{what} ends with a newline, which sysfs would drop")
    return s


_MISSING = object()


def _get(record, dotted: str):
    """``record``'s field at the dotted path; _MISSING when a record on the way is None."""
    for part in dotted.split("."):
        if record is None:
            return _MISSING
        record = getattr(record, part)
    return record


def _value_text(row: L.File, value, what: str) -> str:
    if value == PID_FROM_CALLER:
        return value
    if row.kind == L.BOOL:
        return yn(value)
    if row.kind == L.KEYWORD:
        return value
    if row.kind == L.TEXT:
        return _text(value or "", what)
    if row.kind == L.COUNT:
        return num(len(value))
    return num(value)


class _Writer:
    def __init__(self, kernel, over: bool = False):
        self.kernel = tuple(kernel) if kernel is not None else None
        self.over = over          # writing over an existing kdamond's files
        self.out: list[Write] = []

    def w(self, path: str, value: str, what: str) -> None:
        self.out.append(Write(path, value, what))

    def _wanted(self, row: L.File, record, value) -> bool:
        rule = row.write
        if rule == L.NEVER or row.field is None or value is _MISSING:
            return False
        if rule == L.ALWAYS:
            return True
        if rule == L.IF_SET:
            return value is not None
        if rule == L.IF_NONZERO:
            probe = _get(record, row.when_field) if row.when_field else value
            return bool(probe) and probe is not _MISSING
        if rule == L.IF_TRUE_OR_KNOWN:
            return bool(value) or (self.kernel is not None and self.kernel >= row.since)
        if rule == L.IF_CHANGED_OR_KNOWN:
            return (_value_text(row, value, row.label) != row.default
                    or (self.over and self.kernel is not None and self.kernel >= row.since))
        raise ValueError(rule)

    def entity(self, entity: L.Entity, record, base: str, what: str, arg=None) -> None:
        """The writes of one ``entity`` directory at ``base`` holding ``record``;
        ``what`` prefixes every message name; ``arg`` is a filter's argument kind."""
        for row in entity.files:
            if row.arg is not None and row.arg is not arg:
                continue
            self.row(row, record, base, what)

    def row(self, row: L.File, record, base: str, what: str) -> None:
        """The writes of one ``row`` (a COUNT row: with its children)."""
        value = _get(record, row.field) if row.field else _MISSING
        if not self._wanted(row, record, value):
            return
        label = what + row.label
        path = f"{base}/{row.path}" if base else row.path
        if row.kind == L.COUNT:
            self.w(path, num(len(value)), label)
            for i, child in enumerate(value):
                self.child(row, child, f"{base}/{row.dir}/{i}" if base else
                           f"{row.dir}/{i}", what + row.child.prefix.format(i=i))
        else:
            self.w(path, _value_text(row, value, label), label)

    def child(self, row: L.File, record, base: str, what: str) -> None:
        arg = (catalog.FILTER_TYPES[record.type].arg if row.child is L.FILTER else
               catalog.PROBE_FILTER_TYPES[record.type].arg if row.child is L.PROBE_FILTER
               else None)
        if row.child is L.REGION:
            record = Region(*record)
        self.entity(row.child, record, base, what, arg)


def _targets(ctx: Context, pid_from_caller: bool) -> tuple[model.Target, ...]:
    """The targets as the kernel takes them: physical memory is one target
    with every region of the file, sorted; a process target has its pid
    (or the caller's placeholder) and, for fvaddr, its regions."""
    ops = catalog.OPS[ctx.ops]
    if not ops.takes_pid:
        regions = tuple(sorted(r for t in ctx.targets for r in t.regions))
        if not regions:
            # sysfs has no default region: the gate's own refusal, for a caller
            # that did not build the unit for the sysfs interface
            require(ctx, catalog.SYSFS)
        return (model.Target(None, regions),)
    if pid_from_caller:
        regions = ctx.targets[0].regions if ctx.targets and ops.needs_regions else ()
        return (model.Target(PID_FROM_CALLER, regions),)
    if not ctx.targets:
        raise DamosError(f"{ctx.ops} monitors a process: write 'target pid N' or pass --pid",
                         ctx.loc)
    out = []
    for i, t in enumerate(ctx.targets):
        if t.pid is None:
            raise DamosError(f"target {i} has no pid; {ctx.ops} monitors a process: "
                             "write 'target pid N'", t.loc or ctx.loc)
        out.append(model.Target(t.pid, t.regions if ops.needs_regions else (),
                                obsolete=t.obsolete))
    return tuple(out)


def with_numbers(s: model.Scheme, n: LegacyNumbers) -> model.Scheme:
    """``s`` with the numbers an output writes under a ``max`` policy."""
    pattern = model.AccessPattern(n.sz_min, n.sz_max, n.nr_accesses_min, n.nr_accesses_max,
                                  n.age_min, n.age_max)
    q = s.quota
    if q is not None:
        weights = (model.Weights(n.weight_sz, n.weight_nr_accesses, n.weight_age)
                   if q.weights is not None else None)
        q = replace(q, ms=n.quota_ms, sz=n.quota_bytes, reset_interval_ms=n.quota_reset_ms,
                    weights=weights)
    wm = s.watermarks
    if wm is not None:
        wm = model.Watermarks(n.wmark_metric, n.wmark_interval_us, n.wmark_high, n.wmark_mid,
                              n.wmark_low)
    return replace(s, pattern=pattern, quota=q, watermarks=wm)


def plan(ctx: model.Context, options=None, *, numbers: list[LegacyNumbers] | None = None,
         pid_from_caller: bool = False, kdamond: int = 0, create: bool = True,
         final: str | None = L.ON) -> list[Write]:
    """The ordered writes that start kdamond ``kdamond`` running ``ctx``.

    ``options.kernel`` (a :class:`damos_lang.targets.Options` or None) decides
    whether reject filters may write ``allow``; ``numbers`` are the
    legacy-layout numbers under a ``max`` policy (default: the model's own).
    With ``pid_from_caller`` the single vaddr/fvaddr target's pid is the
    placeholder :data:`PID_FROM_CALLER`, to be filled in at write time.
    ``create`` writes ``nr_kdamonds`` (and ``nr_contexts``) first: a new
    kdamond; without it the writes go into an existing kdamond directory.
    ``final`` is the state command written last (``on``, ``commit``, or None).
    Raises DamosError when the plan cannot be made (no pid)."""
    if numbers is None:
        numbers = [LegacyNumbers.of(s) for s in ctx.schemes]
    view = replace(ctx, targets=_targets(ctx, pid_from_caller),
                   schemes=tuple(with_numbers(s, n) for s, n in zip(ctx.schemes, numbers)))
    wr = _Writer(getattr(options, "kernel", None), over=not create)
    kb = L.kdamond_dir(kdamond)
    if create:
        wr.w(L.NR_KDAMONDS, "1", L.ADMIN.file("kdamonds").label)
    if create or final == L.ON:
        wr.w(L.nr_contexts_path(kdamond), "1", L.KDAMOND.file("contexts").label)
    wr.entity(L.CONTEXT, view, L.context_dir(kdamond), "")
    # the kdamond's own setting, carried by its one context
    wr.row(L.KDAMOND.file("refresh_ms"), view, kb, "")
    if final == L.ON:
        wr.w(L.state_path(kdamond), final, f"start kdamond {kdamond}")
    elif final is not None:
        wr.w(L.state_path(kdamond), final, f"{final} to kdamond {kdamond}")
    return wr.out


def targets_plan(ctx: model.Context, kdamond: int = 0) -> list[Write]:
    """The writes that set kdamond ``kdamond``'s target files to ``ctx``'s
    targets (``nr_targets`` and each target), and nothing else: after a commit
    with obsolete targets the kernel has dropped them, but its files still show
    them (sysfs.md, a target's obsolete file), so they are written again as they now are."""
    wr = _Writer(None)
    wr.row(L.CONTEXT.file("targets"), replace(ctx, targets=_targets(ctx, False)),
           L.context_dir(kdamond), "")
    return wr.out


def takes_pid_from_caller(ctx: model.Context) -> bool:
    """Whether a script of this context takes the target pid as an argument."""
    return catalog.OPS[ctx.ops].takes_pid and len(ctx.targets) <= 1


def plan_for(unit, options=None, *, pid_from_caller: bool = False, **kw) -> list[Write]:
    """:func:`plan` for a Unit, with ``options.max_policy``'s numbers."""
    policy = getattr(options, "max_policy", "unbounded")
    numbers = [n.capped() for n in output_numbers(unit.program, unit.context, policy)]
    return plan(unit.context, options, numbers=numbers, pid_from_caller=pid_from_caller, **kw)


def plan_to_json(writes: list[Write]) -> str:
    """``{"root": ..., "writes": [{"path", "value", "what"}, ...]}``."""
    return json.dumps({"root": L.ADMIN_ROOT, "writes": [asdict(w) for w in writes]},
                      indent=2) + "\n"


def plan_from_json(text: str) -> list[Write]:
    data = json.loads(text)
    return [Write(str(d["path"]), str(d["value"]), str(d["what"])) for d in data["writes"]]
