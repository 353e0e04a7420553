"""load -> check -> version gate -> kernel units, once per command.

Every command and every target goes through here: a target receives the
:class:`~damos_lang.unit.Unit` (the kernel-unit model plus where it came
from) and its options, and does only its own job.
"""
from __future__ import annotations

from dataclasses import replace

from . import catalog, model
from .convert import Note, to_context
from .errors import DamosError
from .features import require
from .ir import Program
from .source import Source, load, read_source
from .unit import Unit


def validate(ctx: model.Context) -> None:
    """What every kernel refuses at 'on', as errors with a location."""
    iv = ctx.intervals
    if iv.sample_us > iv.aggr_us:
        raise DamosError(f"the sampling interval ({iv.sample_us} us) is longer than the "
                         f"aggregation interval ({iv.aggr_us} us): the kernel refuses this",
                         ctx.loc, hint="make 'sample' at most 'aggr'")
    for s in ctx.schemes:
        for g in (s.quota.goals if s.quota else ()):
            gm = catalog.GOAL_METRICS[g.metric]
            if ctx.ops not in gm.ops:
                raise DamosError(f"goal metric {g.metric} on {ctx.ops}: {gm.ops_why}",
                                 g.loc or s.loc,
                                 hint=f"use it in a {' or '.join(sorted(gm.ops))} context")
        dests_ops = catalog.ACTIONS[s.action].dests_ops
        if s.dests and dests_ops and ctx.ops not in dests_ops:
            raise DamosError(_dests_refusal(ctx.ops), s.loc_of("dests"))
        texts = [(g.path, "goal path", g.loc) for g in (s.quota.goals if s.quota else ())]
        texts += [(f.memcg_path, "memcg path", f.loc) for f in s.filters]
        for text, what, loc in texts:
            _check_sysfs_text(text, what, loc or s.loc)
    ops = catalog.OPS[ctx.ops]
    if ops.needs_regions:
        if not ctx.targets:
            raise DamosError(_needs_regions(ctx.ops), ctx.loc)
        for i, t in enumerate(ctx.targets):
            if not t.regions:
                raise DamosError(_needs_regions(ctx.ops, i), t.loc or ctx.loc)


def _check_sysfs_text(text: str | None, what: str, loc) -> None:
    """A path sysfs would cut (at a NUL) or change (one trailing newline dropped)."""
    if text is None:
        return
    if "\0" in text:
        raise DamosError(f"the {what} contains a NUL character; sysfs would cut it there", loc)
    if text.endswith("\n"):
        raise DamosError(f"the {what} ends with a newline, which sysfs drops", loc,
                         hint="remove the trailing newline")


def _dests_refusal(ops: str) -> str:
    return (f"dests on {ops}: the kernel would write them and ignore them ({ops}'s "
            "damon_pa_migrate() uses only target_nid; on stock 7.3 a paddr scheme with dests "
            "migrated 0 bytes); write 'target_nid N' (weighted dests work on vaddr, 6.17+)")


def _needs_regions(ops: str, i: int | None = None) -> str:
    if ops == "paddr":
        return ("paddr needs the physical address range to monitor: write 'target region "
                "START..END' (e.g. the largest 'System RAM' range of /proc/iomem)")
    return (f"fvaddr monitors fixed address ranges: give target {i or 0} a region, e.g. "
            "'target pid N region START..END'")


def with_pid(ctx: model.Context, pid: int | None) -> model.Context:
    """The context with ``pid`` (e.g. --pid) as its single process target."""
    if pid is None or not catalog.OPS[ctx.ops].takes_pid:
        return ctx   # physical memory has no pid (check says so)
    if len(ctx.targets) > 1:
        raise DamosError(f"the file has {len(ctx.targets)} targets, so the pid cannot be given "
                         "on the command line; write 'target pid N' for each",
                         ctx.targets[1].loc)
    regions = ctx.targets[0].regions if ctx.targets else ()
    return replace(ctx, targets=(model.Target(pid, regions),))


def build(source: Source, program: Program, *, interface: str | None = None,
          kernel: tuple[int, int] | None = None, pid: int | None = None) -> Unit:
    """Check ``program``, convert it and gate it for ``interface`` at ``kernel``."""
    notes: list[Note] = []
    ctx = to_context(program, notes)
    try:
        validate(ctx)
    except DamosError as e:
        d = e.diagnostic
        if source.kind == "damo-json" and d.loc is None and d.path is None:
            d.path = "kdamonds[0].contexts[0]"   # the context as a whole is at fault
        raise
    ctx = with_pid(ctx, pid)
    if interface is not None:
        require(ctx, interface, kernel)
    return Unit(source, program, ctx, tuple(notes))


def compile_path(path: str, **kw) -> Unit:
    """:func:`build` from a file name (``-`` is standard input)."""
    src = read_source(path)
    return build(src, load(src), **kw)


def unit_of(program: Program, options=None, *, interface: str | None = None,
            source: Source | str | None = None) -> Unit:
    """:func:`build` with a target's ``options`` (``kernel`` and ``pid``);
    ``source`` is the input (or just its name)."""
    if not isinstance(source, Source):
        source = Source(source or "<program>", "", "damos")
    return build(source, program, interface=interface,
                 kernel=getattr(options, "kernel", None), pid=getattr(options, "pid", None))


def unit_from_text(text: str, name: str = "<text>", **kw) -> Unit:
    """:func:`build` from DAMOS source text (for tests and embedding)."""
    src = Source(name, text, "damos")
    return build(src, load(src), **kw)


# -- for command bodies: bad input prints its diagnostic and stops (exit 2) ---------

def source_or_exit(path: str) -> Source:
    """The source at ``path``; an unreadable file stops the command."""
    from .console import fail
    try:
        return read_source(path)
    except DamosError as e:
        fail(e, path)


def text_of(src: Source) -> str | None:
    """The text carets point into (damo JSON errors name a JSON path instead)."""
    return src.text if src.kind == "damos" else None


def unit_or_exit(path: str, **kw) -> Unit:
    """:func:`build` on ``path``; bad input stops the command with a diagnostic."""
    from .console import fail
    src = source_or_exit(path)
    try:
        return build(src, load(src), **kw)
    except DamosError as e:
        fail(e, src.name, text_of(src))


def kernel_or_exit(kernel: str | None):
    """``--kernel X.Y`` as a version tuple (None when not given)."""
    from .console import fail
    from .features import parse_version
    if not kernel:
        return None
    try:
        return parse_version(kernel)
    except DamosError as e:
        fail(e, "damos")
