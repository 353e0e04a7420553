"""A DAMON sysfs tree read back (never written): kdamonds, each context as
the kernel-unit model, scheme stats and tried regions, all through the
layout table (:mod:`.layout`).

Each row is read by its kind and put under its model field; a file the tree
lacks reads as its fresh default.  The plan's ``write`` rules are inverted:
an ``if set`` row whose file holds its default reads as None (``target_nid``
-1, goal ``nid`` 0, ``goal_tuner`` consist, an empty goal path).  What else
the kernel cannot tell from a default reads as absent (see :func:`normalize`
for the full list): a quota of zeros is no quota, weights 0/0/0 are none,
``none`` watermarks at 0 are none, an intervals goal with ``aggrs`` 0 is off.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

from .. import catalog, model
from ..units import UINT_MAX
from . import layout as L
from .plan import Region


@dataclass
class Kdamond:
    index: int
    state: str
    pid: int
    nr_contexts: int
    refresh_ms: int = 0          # the kernel refreshes the stats files itself (6.17)

    @property
    def path(self) -> str:
        return L.kdamond_dir(self.index)


@dataclass
class SchemeStats:
    """A scheme's counters as its ``stats`` files (and ``effective_bytes``)
    last showed them; None where this kernel has no such file."""

    nr_tried: int = 0
    sz_tried: int = 0
    nr_applied: int = 0
    sz_applied: int = 0
    qt_exceeds: int = 0
    sz_ops_filter_passed: int | None = None
    nr_snapshots: int | None = None
    effective_bytes: int | None = None

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


@dataclass
class TriedRegion:
    start: int
    end: int
    nr_accesses: int
    age: int
    sz_filter_passed: int | None = None
    # each probe's hits in the region (7.2: tried_regions/<R>/probes/<P>/hits)
    probe_hits: list[int] | None = None

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


# -- rows --------------------------------------------------------------------------

def _parse(row: L.File, text: str):
    if row.kind in (L.NUMBER, L.SIGNED, L.COUNT):
        n = int(text) if text not in ("", None) else int(row.default or 0)
        return n & UINT_MAX if row.kernel_bits == 32 else n
    if row.kind == L.BOOL:
        return text == "Y"
    if row.kind == L.TEXT and text.endswith("\n"):
        # the kernel keeps a written path with its newline and shows one more
        return text[:-1]
    return text


def read_row(fs, base: str, row: L.File):
    """The value of ``row`` of the entity at ``base`` (its default if missing)."""
    text = fs.read_or(f"{base}/{row.path}" if base else row.path)
    value = _parse(row, row.default if text is None else text)
    if row.write == L.IF_SET and value == _parse(row, row.default):
        return None
    return value


def _put(out: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for p in parents:
        out = out.setdefault(p, {})
    out[last] = value


def _lookup(out: dict, dotted: str):
    for p in dotted.split("."):
        if not isinstance(out, dict) or p not in out:
            return None
        out = out[p]
    return out


def read_fields(fs, base: str, entity: L.Entity, arg=None) -> dict:
    """{field: value} (nested by the dotted field names) of ``entity`` at
    ``base``; a COUNT row gives the list of its children (rows of one field,
    such as the three filter directories, add up in table order)."""
    out: dict = {}
    for row in entity.files:
        if row.field is None or (row.arg is not None and row.arg is not arg):
            continue
        if row.kind == L.COUNT:
            n = read_row(fs, base, row) or 0
            kids = [read_child(fs, row, f"{base}/{row.dir}/{i}") for i in range(n)]
            _put(out, row.field, (_lookup(out, row.field) or []) + kids)
        else:
            _put(out, row.field, read_row(fs, base, row))
    return out


def read_child(fs, row: L.File, base: str):
    """One child of a COUNT row, as the model holds it."""
    child = row.child
    if child is L.FILTER:
        return read_filter(fs, base)
    if child is L.PROBE_FILTER:
        t = read_row(fs, base, L.PROBE_FILTER.file("type"))
        return model.ProbeFilter(**read_fields(fs, base, L.PROBE_FILTER,
                                               catalog.PROBE_FILTER_TYPES[t].arg))
    if child is L.PROBE:
        d = read_fields(fs, base, child)
        return model.Probe(d["weight"], tuple(d.get("filters", [])))
    if child is L.SCHEME:
        return read_scheme(fs, base)
    d = read_fields(fs, base, child)
    if child is L.REGION:
        return Region(**d)
    if child is L.DEST:
        return model.Dest(**d)
    if child is L.GOAL:
        return model.QuotaGoal(**d)
    return d


def read_filter(fs, base: str) -> model.Filter:
    t = read_row(fs, base, L.FILTER.file("type"))
    d = read_fields(fs, base, L.FILTER, catalog.FILTER_TYPES[t].arg)
    return model.Filter(**d)


# -- kdamonds ----------------------------------------------------------------------

def nr_kdamonds(fs) -> int:
    return int(fs.read(L.NR_KDAMONDS))


def kdamonds(fs) -> list[Kdamond]:
    out = []
    for k in range(nr_kdamonds(fs)):
        kb = L.kdamond_dir(k)
        out.append(Kdamond(k, fs.read_or(L.state_path(k), "?"),
                           int(fs.read_or(L.path_of(kb, L.KDAMOND, "pid"), "-1")),
                           int(fs.read_or(L.nr_contexts_path(k), "0")),
                           read_row(fs, kb, L.KDAMOND.file("refresh_ms"))))
    return out


# -- a context as the model ----------------------------------------------------------

def read_scheme(fs, sb: str) -> model.Scheme:
    d = read_fields(fs, sb, L.SCHEME)
    q = d["quota"]
    weights = model.Weights(**q.pop("weights"))
    quota = model.Quota(weights=weights if weights != model.Weights() else None,
                        goals=tuple(q.pop("goals", [])), **q)
    if quota == model.Quota():
        quota = None
    wm = model.Watermarks(**d["watermarks"])
    return model.Scheme(d["action"], model.AccessPattern(**d["pattern"]),
                        d["apply_interval_us"], quota,
                        None if wm == model.Watermarks() else wm,
                        tuple(d.get("filters", [])), d["target_nid"],
                        tuple(d.get("dests", [])), d["max_snapshots"])


def read_context(fs, cb: str) -> model.Context:
    d = read_fields(fs, cb, L.CONTEXT)
    ops = d["ops"]
    goal = model.IntervalsGoal(**d["intervals_goal"])
    targets = tuple(model.Target(t["pid"] if catalog.OPS[ops].takes_pid else None,
                                 tuple(t.get("regions", [])), obsolete=t["obsolete"])
                    for t in d.get("targets", []))
    schemes = tuple(d.get("schemes", []))
    # the kdamond's refresh_ms rides on its (one) context
    kb = cb.rsplit("/" + L.KDAMOND.file("contexts").dir + "/", 1)[0]
    refresh = read_row(fs, kb, L.KDAMOND.file("refresh_ms")) if kb != cb else 0
    return model.Context(ops, model.Intervals(**d["intervals"]), d["nr_regions_min"],
                         d["nr_regions_max"], goal if goal.aggrs else None, targets, schemes,
                         pause=d["pause"], addr_unit=d["addr_unit"], refresh_ms=refresh,
                         probes=tuple(d.get("probes", [])))


def read_ops(fs, cb: str) -> str | None:
    return fs.read_or(L.path_of(cb, L.CONTEXT, "ops"))


def read_target_pids(fs, cb: str) -> list[int]:
    row = L.CONTEXT.file("targets")
    n = int(fs.read_or(f"{cb}/{row.path}", "0") or 0)
    pid = L.TARGET.file("pid")
    return [int(fs.read_or(f"{cb}/{row.dir}/{t}/{pid.path}", "-1")) for t in range(n)]


def nr_schemes(fs, cb: str) -> int:
    return int(fs.read_or(L.path_of(cb, L.CONTEXT, "schemes"), "0") or 0)


# -- counters ----------------------------------------------------------------------

def read_stats(fs, sb: str) -> SchemeStats:
    out = SchemeStats()
    for row in L.SCHEME.files:
        if row.stat and hasattr(out, row.stat):
            text = fs.read_or(f"{sb}/{row.path}")
            if text is not None:
                setattr(out, row.stat, int(text or 0))
    return out


def read_tried_regions(fs, sb: str) -> list[TriedRegion]:
    base = L.tried_regions_dir(sb)
    out = []
    for r in sorted((d for d in fs.listdir(base) if d.isdigit()), key=int):
        vals = {}
        for f in L.TRIED_REGION.files:
            if f.stat:
                text = fs.read_or(f"{base}/{r}/{f.path}")
                if text is not None:
                    vals[f.stat] = int(text or 0)
            elif f.child is L.TRIED_PROBE and fs.exists(f"{base}/{r}/{f.path}"):
                vals["probe_hits"] = _probe_hits(fs, f"{base}/{r}/{f.path}")
        out.append(TriedRegion(**vals))
    return out


def _probe_hits(fs, base: str) -> list[int]:
    """Each probe's hits below a tried region's probes directory, in probe order."""
    row = L.TRIED_PROBE.file("hits")
    return [int(fs.read_or(f"{base}/{p}/{row.path}", "0") or 0)
            for p in sorted((d for d in fs.listdir(base) if d.isdigit()), key=int)]


# -- what the kernel can tell apart ----------------------------------------------------

def normalize(ctx: model.Context, kernel=None) -> model.Context:
    """``ctx`` as the kernel stores it: the settings it cannot tell from their
    defaults become the defaults, and what an older kernel has no file for
    (reject filters' allow before 6.14) is dropped."""
    schemes = []
    for s in ctx.schemes:
        q = s.quota
        if q is not None:
            w = q.weights if q.weights != model.Weights() else None
            goals = tuple(replace(g, nid=g.nid or None, path=g.path or None) for g in q.goals)
            q = replace(q, weights=w, goals=goals,
                        goal_tuner=None if q.goal_tuner in (None, "consist") else q.goal_tuner,
                        fail_charge_num=q.fail_charge_num if q.fail_charge_denom else 0)
            if q == model.Quota():
                q = None
        wm = s.watermarks if s.watermarks != model.Watermarks() else None
        filters = tuple(_norm_filter(f) for f in s.filters)
        schemes.append(replace(s, quota=q, watermarks=wm, filters=filters,
                               target_nid=None if s.target_nid == -1 else s.target_nid,
                               name=None, locs={}))
    ig = ctx.intervals_goal if ctx.intervals_goal and ctx.intervals_goal.aggrs else None
    ops = catalog.OPS[ctx.ops]
    # vaddr replaces initial regions with its own (the plan writes none)
    targets = tuple(model.Target(t.pid if ops.takes_pid else None,
                                 t.regions if ops.needs_regions else (), obsolete=t.obsolete)
                    for t in ctx.targets)
    if not ops.takes_pid:
        regions = tuple(sorted(r for t in ctx.targets for r in t.regions))
        targets = (model.Target(None, regions),)
    probes = tuple(model.Probe(p.weight, tuple(
        model.ProbeFilter(f.type, f.matching, f.allow,
                          (f.memcg_path or "") if catalog.PROBE_FILTER_TYPES[f.type].arg
                          is catalog.ARG_PATH else None) for f in p.filters))
        for p in ctx.probes)
    return replace(ctx, intervals_goal=ig, targets=targets, schemes=tuple(schemes),
                   probes=probes)


_FILTER_ARGS = tuple(f for a in (catalog.ARG_PATH, catalog.ARG_ADDR_RANGE, catalog.ARG_INDEX,
                                 catalog.ARG_SIZE_RANGE) for f in a.fields)


def _norm_filter(f: model.Filter) -> model.Filter:
    arg = catalog.FILTER_TYPES[f.type].arg
    kw = {k: ((getattr(f, k) or (0 if k != "memcg_path" else "")) if k in arg.fields else None)
          for k in _FILTER_ARGS}
    return model.Filter(f.type, f.matching, f.allow, **kw)


def is_admin_root(fs) -> bool:
    return os.path.abspath(fs.root) == L.ADMIN_ROOT
