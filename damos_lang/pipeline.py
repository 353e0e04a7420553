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
from .features import default_region, require
from .ir import Program
from .source import Source, load, read_source
from .unit import Unit
from .units import UINT_MAX


PAGE = 4096          # DAMON_MIN_REGION on x86-64: the kernel widens regions to whole pages
PERMIL_MAX = 1000    # free_mem_rate is free memory per total, in permil


def _refuse(message: str, loc, path: str | None = None, hint: str | None = None):
    """An error at ``loc``; ``path`` is where it is in damo JSON, relative to the context."""
    return DamosError(message, loc, path=path, hint=hint)


def validate(ctx: model.Context) -> None:
    """What every kernel refuses at 'on', and what it takes but makes
    meaningless, as errors with a location (tests/kernel/test_kernel_refusals.py
    shows stock 7.3 refusing each refusal here at 'on')."""
    _validate_monitor(ctx)
    _validate_regions(ctx)
    _validate_probes(ctx)
    aggr_us = ctx.intervals.aggr_us
    for i, s in enumerate(ctx.schemes):
        label, path = _scheme_label(i, s), f"schemes[{i}]"
        for g in (s.quota.goals if s.quota else ()):
            gm = catalog.GOAL_METRICS[g.metric]
            if ctx.ops not in gm.ops:
                raise DamosError(f"goal metric {g.metric} on {ctx.ops}: {gm.ops_why}",
                                 g.loc or s.loc, path=f"{path}.quotas.goals",
                                 hint=f"use it in a {' or '.join(sorted(gm.ops))} context")
        dests_ops = catalog.ACTIONS[s.action].dests_ops
        if s.dests and dests_ops and ctx.ops not in dests_ops:
            raise DamosError(_dests_refusal(ctx.ops), s.loc_of("dests"), path=f"{path}.dests")
        texts = [(g.path, "goal path", g.loc) for g in (s.quota.goals if s.quota else ())]
        texts += [(f.memcg_path, "memcg path", f.loc) for f in s.filters]
        for text, what, loc in texts:
            _check_sysfs_text(text, what, loc or s.loc)
        for j, f in enumerate(s.filters):
            _validate_filter(label, f, f"{path}.filters[{j}]", s.loc)
        if s.watermarks is not None:
            _validate_watermarks(label, s.watermarks, f"{path}.watermarks", s.loc)
        if s.quota is not None:
            _validate_quota(label, s, s.apply_interval_us or aggr_us, f"{path}.quotas")
    ops = catalog.OPS[ctx.ops]
    # paddr may leave its region to the kernel: whether the interface has a default
    # is features.py's (require() refuses it for sysfs and debugfs)
    if ops.needs_regions and default_region(ctx) is None:
        if not ctx.targets:
            raise DamosError(_needs_regions(ctx.ops), ctx.loc)
        for i, t in enumerate(ctx.targets):
            if not t.regions:
                raise DamosError(_needs_regions(ctx.ops, i), t.loc or ctx.loc,
                                 path=f"targets[{i}].regions")


def _scheme_label(i: int, s) -> str:
    return f"scheme {s.name!r}" if s.name else f"scheme {i}"


def _validate_monitor(ctx: model.Context) -> None:
    iv, locs = ctx.intervals, ctx.locs
    if iv.sample_us > iv.aggr_us:
        raise _refuse(f"the sampling interval ({iv.sample_us} us) is longer than the "
                      f"aggregation interval ({iv.aggr_us} us): the kernel refuses this at 'on' "
                      "(EINVAL)", locs.get("sample") or ctx.loc, "intervals.sample_us",
                      hint="make 'sample' at most 'aggr'")
    lo, hi = ctx.nr_regions_min, ctx.nr_regions_max
    where = locs.get("nr_regions") or ctx.loc
    if lo < 3:
        raise _refuse(f"nr_regions {lo}..{hi}: the kernel refuses a minimum below 3 at 'on' "
                      "(EINVAL)", where, "nr_regions.min", hint=f"write nr_regions 3..{max(hi, 3)}")
    if lo > hi:
        raise _refuse(f"nr_regions {lo}..{hi}: the minimum is above the maximum; the kernel "
                      "refuses this at 'on' (EINVAL)", where, "nr_regions",
                      hint=f"write nr_regions {hi}..{lo}")
    g = ctx.intervals_goal
    if g is None or not g.aggrs:      # aggrs 0: no tuning, the kernel checks nothing
        return
    gpath = "intervals.intervals_goal"
    if g.min_sample_us > g.max_sample_us:
        raise _refuse(f"intervals_goal: min_sample ({g.min_sample_us} us) is above max_sample "
                      f"({g.max_sample_us} us); the kernel refuses this at 'on' (EINVAL)",
                      locs.get("min_sample") or locs.get("intervals_goal") or ctx.loc,
                      f"{gpath}.min_sample_us")
    if not g.min_sample_us <= iv.sample_us <= g.max_sample_us:
        side = "min_sample" if iv.sample_us < g.min_sample_us else "max_sample"
        raise _refuse(f"the sampling interval ({iv.sample_us} us) is outside intervals_goal's "
                      f"min_sample..max_sample ({g.min_sample_us}..{g.max_sample_us} us): the "
                      "kernel refuses this at 'on' (EINVAL)",
                      locs.get(side) or locs.get("intervals_goal") or ctx.loc,
                      f"{gpath}.{side}_us",
                      hint="the tuner starts from 'sample': keep it within the bounds")


def _validate_probes(ctx: model.Context) -> None:
    """Probes (7.2): at most DAMON_MAX_PROBES, on paddr (the only apply_probes), and
    with a weight (7.3) hits that fit the kernel's 8-bit counters and a weighted sum
    that fits its u32 (damon_valid_probe_params(): EINVAL at 'commit'; at 'on' the
    kernel does not check, and the counters wrap)."""
    if not ctx.probes:
        return
    first = ctx.probes[0].loc or ctx.loc
    if len(ctx.probes) > catalog.MAX_PROBES:
        raise _refuse(f"{len(ctx.probes)} probes: the kernel takes at most "
                      f"{catalog.MAX_PROBES} (DAMON_MAX_PROBES; more is EINVAL)",
                      ctx.probes[catalog.MAX_PROBES].loc or ctx.loc, "probes")
    if ctx.ops not in catalog.PROBE_OPS:
        raise _refuse(f"probes on {ctx.ops}: only paddr counts probe hits (the kernel's "
                      f"{ctx.ops} has no apply_probes, so every hit would stay 0)", first,
                      "probes", hint="write 'ops paddr'")
    for p in ctx.probes:
        for f in p.filters:
            _check_sysfs_text(f.memcg_path, "memcg path", f.loc or p.loc or ctx.loc)
    weighted = [p for p in ctx.probes if p.weight]
    if not weighted:
        return
    iv = ctx.intervals
    spa = iv.samples_per_aggr_whole
    where = weighted[0].weight_loc or weighted[0].loc or ctx.loc
    if spa > catalog.PROBE_HITS_MAX:
        raise _refuse(f"a probe weight needs at most {catalog.PROBE_HITS_MAX} samples per "
                      f"aggregation interval (probe hits are 8-bit), and {iv.aggr_us} us / "
                      f"{iv.sample_us} us is {spa}: the kernel refuses it at 'commit' "
                      "(EINVAL) and lets the hits wrap at 'on'", where, "probes",
                      hint="make 'aggr' at most 255 times 'sample'")
    total = sum(p.weight * spa for p in ctx.probes)
    if total > UINT_MAX:
        raise _refuse(f"the probe weights times {spa} samples per aggregation sum to {total}, "
                      f"above {UINT_MAX}: the kernel refuses it at 'commit' (EINVAL; the "
                      "weighted hits are a u32)", where, "probes")


def _validate_regions(ctx: model.Context) -> None:
    """The regions the kernel is given must not overlap, once it has widened
    each to whole pages (start down, end up): paddr takes every target's
    regions as one target's, fvaddr each target's own; vaddr's are not written."""
    ops = catalog.OPS[ctx.ops]
    if not ops.needs_regions:
        return
    groups = ([[(r, t.loc, i) for i, t in enumerate(ctx.targets) for r in t.regions]]
              if not ops.takes_pid else
              [[(r, t.loc, i) for r in t.regions] for i, t in enumerate(ctx.targets)])
    # paddr with addr_unit (6.18): regions are in units, and the kernel's least region
    # is a page's worth of them (min_region_sz = max(PAGE / addr_unit, 1))
    page = max(PAGE // ctx.addr_unit, 1) if ctx.ops == "paddr" else PAGE
    unit = "4 KiB page" if page == PAGE else f"{page}-unit page (addr_unit {ctx.addr_unit})"
    for group in groups:
        group.sort(key=lambda x: x[0])
        for (a, _, _), (b, loc, i) in zip(group, group[1:]):
            if a[1] > b[0]:
                why = "overlap"
            elif page > 1 and -(-a[1] // page) * page > b[0] // page * page:
                why = f"share a {unit} (the kernel widens each region to whole pages)"
            else:
                continue
            raise _refuse(f"regions {a[0]:#x}..{a[1]:#x} and {b[0]:#x}..{b[1]:#x} {why}: the "
                          "kernel refuses this at 'on' (EINVAL)", loc or ctx.loc,
                          f"targets[{i}].regions",
                          hint="join them into one region, or leave a page between them")


def _validate_filter(label: str, f: model.Filter, path: str, scheme_loc) -> None:
    # building the scheme fails, and the whole 'on' returns ENOMEM (sysfs.md §7 trap 7)
    arg = catalog.FILTER_TYPES[f.type].arg
    if arg is catalog.ARG_ADDR_RANGE and f.addr_end < f.addr_start:
        raise _refuse(f"{label}: addr filter {f.addr_start:#x}..{f.addr_end:#x} ends before it "
                      "starts: the kernel refuses the scheme at 'on' (ENOMEM)",
                      f.loc or scheme_loc, path, hint="write the range start..end")
    if arg is catalog.ARG_SIZE_RANGE and f.sz_min > f.sz_max:
        raise _refuse(f"{label}: hugepage_size filter {f.sz_min}..{f.sz_max} bytes has its "
                      "minimum above its maximum: the kernel refuses the scheme at 'on' "
                      "(ENOMEM)", f.loc or scheme_loc, path, hint="write the range min..max")


# what the kernel does with a watermark above 1000 permil, which free memory never reaches
_ABOVE_ALL = {
    "low": "free memory is always below it, so the kernel keeps the scheme deactivated: "
           "it never runs",
    "mid": "an inactive scheme waits for free memory to fall below mid, so the kernel "
           "reactivates it as soon as free memory is back between low and high: mid has no "
           "effect",
    "high": "the kernel never deactivates the scheme for too much free memory, as with high "
            "100%",
}


def _validate_watermarks(label: str, w: model.Watermarks, path: str, scheme_loc) -> None:
    """Watermarks the kernel takes (sysfs checks no order) but that make the
    scheme never run, or do other than they say (damos_wmark_wait_us():
    above high or below low, deactivate; inactive and between mid and high,
    stay inactive; else activate)."""
    if w.metric == "none":
        return
    shown = f"watermarks high {w.high}, mid {w.mid}, low {w.low} permil"

    def error(key, problem, does, hint):
        return _refuse(f"{label}: {shown}: {problem}; the kernel accepts them, and {does}",
                       w.locs.get(key) or w.loc or scheme_loc, f"{path}.{key}_permil", hint)

    for key in ("low", "mid", "high"):
        v = getattr(w, key)
        if v > PERMIL_MAX:
            raise error(key, f"{key} is above 1000 permil (100 %), which free memory never "
                             "reaches", _ABOVE_ALL[key], "write at most 100%")
    order = "write them high >= mid >= low"
    if w.high < w.low:
        raise error("high", "high is below low", "deactivates the scheme whenever free memory "
                    "is above high or below low: it never runs", order)
    if w.mid > w.high:
        raise error("mid", "mid is above high", "reactivates an inactive scheme as soon as "
                    "free memory is between low and high: mid has no effect", order)
    if w.mid < w.low:
        raise error("mid", "mid is below low", "keeps a deactivated scheme waiting for free "
                    "memory to fall below mid, but deactivates it again below low: once "
                    "deactivated, it never runs again", order)


def _validate_quota(label: str, s: model.Scheme, apply_us: int, path: str) -> None:
    """A reset interval of 0 with a limit: the kernel starts a new charge
    window at every apply of the scheme (damos_adjust_quota())."""
    q = s.quota
    if q.reset_interval_ms:
        return
    limits = ([f"time {q.ms} ms"] if q.ms else []) + ([f"size {q.sz} bytes"] if q.sz else [])
    if q.goals:
        limits.append("goal-tuned size")
    if not limits:
        return
    raise _refuse(f"{label}: the quota reset interval is 0: the kernel accepts it, and starts "
                  f"a new charge window at every apply of the scheme (each "
                  f"{apply_us / 1000:g} ms), so the {' and '.join(limits)} limit is per apply, "
                  "not per interval", q.locs.get("reset") or q.loc or s.loc,
                  f"{path}.reset_interval_ms", hint="write a reset interval, like 1s")


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
    if ops == catalog.PADDR_DEFAULT_REGION.ops:
        return catalog.PADDR_DEFAULT_REGION.refusal
    return (f"fvaddr monitors fixed address ranges: give target {i or 0} a region, e.g. "
            "'target pid N region START..END'")


def _json_path(text: str, rel: str | None) -> str:
    """Where a context-relative ``rel`` is in damo JSON: a kdamonds file's
    context, or a bare list of schemes."""
    if text.lstrip().startswith("["):
        if rel and rel.startswith("schemes["):
            return rel[len("schemes"):]
        return "(top)"
    return "kdamonds[0].contexts[0]" + (f".{rel}" if rel else "")


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
        _json_located(e, source)
        raise
    ctx = with_pid(ctx, pid)
    if interface is not None:
        _require(source, ctx, interface, kernel)
    return Unit(source, program, ctx, tuple(notes))


def gate(unit: Unit, interface: str, kernel: tuple[int, int] | None = None) -> None:
    """:func:`~damos_lang.features.require` for a target that gates a built unit
    itself, its errors placed as :func:`build` places them."""
    _require(unit.source, unit.context, interface, kernel)


def _require(source: Source, ctx: model.Context, interface: str, kernel) -> None:
    try:
        require(ctx, interface, kernel)
    except DamosError as e:
        if e.diagnostic.path is not None:    # a refusal that names its place
            _json_located(e, source)
        raise


def _json_located(e: DamosError, source: Source) -> None:
    """Point a damo JSON error without a source location at its JSON path (relative to
    the context; "" is the context itself)."""
    d = e.diagnostic
    if source.kind == "damo-json" and d.loc is None:
        d.path = _json_path(source.text, d.path or None)
    elif d.path == "":
        d.path = None


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
