"""The version gate: which features a context uses, the first kernel version
that has each through a given interface (sysfs, debugfs, the C API, user
space), and what an interface cannot express at all.  Every fact comes from
:mod:`damos_lang.catalog`; this module only walks the model.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import catalog
from .catalog import C_API, DEBUGFS, INTERFACE_SPAN, INTERFACE_WORDS, SYSFS, USERSPACE, vstr
from .errors import DamosError, Loc
from .model import Context
from .sysfs.layout import first_version

DEBUGFS_MAX_SCHEMES = 256
INTERFACE_LABELS = {SYSFS: "sysfs", DEBUGFS: "debugfs", C_API: "c-module",
                    USERSPACE: "damos run"}

@dataclass(frozen=True)
class Feature:
    """A feature the context uses; ``since`` is None when the interface cannot
    express it at all (``why`` says so)."""

    name: str
    since: tuple[int, int] | None
    loc: Loc | None = None
    why: str | None = None
    key: str | None = None       # the catalog feature key (a setting, or GOAL_METRIC)
    # an interface that lacks it raises this error instead of "X cannot express ..."
    # (``path``: where it is in damo JSON, relative to the context; "" the context)
    message: str | None = None
    path: str | None = None
    hint: str | None = None


def parse_version(text: str) -> tuple[int, int]:
    try:
        parts = text.strip().split(".")
        major, minor = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        raise DamosError(f"bad kernel version {text!r}; write it as X.Y, e.g. 6.12") from None
    return major, minor


def default_region(ctx: Context, d: catalog.DefaultRegion = catalog.PADDR_DEFAULT_REGION):
    """(loc, damo JSON path) where the file leaves ``d``'s region to the kernel: no
    target of its ops set has a region; else None."""
    if ctx.ops != d.ops or any(t.regions for t in ctx.targets):
        return None
    if not ctx.targets:
        return ctx.loc, ""
    return ctx.targets[0].loc or ctx.loc, "targets[0].regions"


def _default_region_feature(ctx: Context, interface: str) -> list[Feature]:
    where = default_region(ctx)
    if where is None:
        return []
    d = catalog.PADDR_DEFAULT_REGION
    since = d.since.get(interface)
    if since is not None:
        return [Feature(d.name, since, where[0])]
    names = [INTERFACE_LABELS[i] for i in d.since] + list(d.modules)
    able = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return [Feature(d.name, None, where[0], f"{d.why_not}; the {able} targets leave it to the "
                    "kernel", message=d.refusal, path=where[1],
                    hint=f"the {able} targets leave the region to the kernel ('damos explain' "
                    "says which it monitors)")]


def _generic(ctx: Context):
    """(feature key, loc) of every versioned, interface-neutral feature."""
    if ctx.intervals_goal is not None:
        yield catalog.INTERVALS_GOAL, ctx.loc
    if ctx.pause:
        yield catalog.PAUSE, ctx.loc_of("pause")
    if ctx.addr_unit != 1:
        yield catalog.ADDR_UNIT, ctx.loc_of("addr_unit")
    if ctx.refresh_ms:
        yield catalog.REFRESH_MS, ctx.loc_of("refresh")
    for p in ctx.probes:
        yield catalog.PROBES, p.loc or ctx.loc
        if p.weight:
            yield catalog.PROBE_WEIGHT, p.weight_loc or p.loc or ctx.loc
    for s in ctx.schemes:
        if s.apply_interval_us:
            yield catalog.APPLY_INTERVAL, s.loc_of("apply_interval")
        if s.target_nid is not None:
            yield catalog.TARGET_NID, s.loc
        if s.dests:
            yield catalog.DESTS, s.loc
        if s.max_snapshots:
            yield catalog.MAX_SNAPSHOTS, s.loc
        for f in s.filters:
            yield catalog.FILTERS, f.loc or s.loc
            if f.allow:
                yield catalog.ALLOW_FILTERS, f.loc or s.loc
        q = s.quota
        if q is None:
            continue
        for g in q.goals:
            yield catalog.QUOTA_GOALS, g.loc or q.loc or s.loc
            if g.nid is not None:
                yield catalog.GOAL_NID, g.loc or s.loc
            if g.path is not None:
                yield catalog.GOAL_PATH, g.loc or s.loc
        if q.goal_tuner is not None:
            yield catalog.GOAL_TUNER, q.loc or s.loc
        if q.fail_charge_denom:
            yield catalog.FAIL_CHARGE, q.loc or s.loc


def setting_since(name: str, interface: str):
    """The first kernel with setting ``name`` through ``interface`` (sysfs:
    the first with the file that carries it)."""
    if interface == C_API:
        return catalog.SETTINGS[name].c_api
    return first_version(name)


_memo: dict = {}


def features_of(ctx: Context, interface: str = SYSFS) -> list[Feature]:
    """Every feature ``ctx`` uses, with its first version through ``interface``."""
    key = (id(ctx), interface)
    hit = _memo.get(key)
    if hit is not None and hit[0] is ctx:
        return hit[1]
    if len(_memo) > 16:
        _memo.clear()
    out = _features_of(ctx, interface)
    _memo[key] = (ctx, out)   # keeps ctx alive, so its id is not reused meanwhile
    return out


def _features_of(ctx: Context, interface: str) -> list[Feature]:
    out: list[Feature] = [Feature(INTERFACE_WORDS[interface], INTERFACE_SPAN[interface][0])]
    if interface == USERSPACE:
        return out + _userspace(ctx)
    out += _default_region_feature(ctx, interface)
    for s in ctx.schemes:
        a = catalog.ACTIONS[s.action]
        loc = s.action_loc or s.loc
        if interface == DEBUGFS and a.debugfs_code is None:
            out.append(Feature(f"action {s.action}", None, loc,
                               f"debugfs knows only the actions {_debugfs_actions()}"))
        else:
            out.append(Feature(f"action {s.action}", a.since, loc))
    for name, loc in _generic(ctx):
        setting = catalog.SETTINGS[name]
        if interface == DEBUGFS and not setting.in_debugfs:
            out.append(Feature(name, None, loc, "debugfs schemes lines cannot carry it"))
        elif interface == C_API and name in catalog.NOT_IN_C_MODULE:
            out.append(Feature(name, None, loc, "the c-module target does not set it; use "
                               "the sysfs target"))
        else:
            out.append(Feature(name, setting_since(name, interface), loc, key=name))
    for s in ctx.schemes:
        for f in s.filters:
            out.append(Feature(f"filter type {f.type}", catalog.FILTER_TYPES[f.type].since,
                               f.loc or s.loc))
            if interface == C_API and catalog.FILTER_TYPES[f.type].arg is catalog.ARG_PATH:
                out.append(Feature("a memcg filter", None, f.loc or s.loc, _C_NO_MEMCG))
        for g in (s.quota.goals if s.quota else ()):
            # any metric but user_input is written to the target_metric file
            key = catalog.GOAL_METRIC if g.metric != "user_input" else None
            gm = catalog.GOAL_METRICS[g.metric]
            out.append(Feature(f"goal metric {g.metric}", gm.since, g.loc or s.loc, key=key))
            if interface == C_API and g.path is not None:
                out.append(Feature("a quota goal's memcg path", None, g.loc or s.loc,
                                   _C_NO_MEMCG))

    if interface == DEBUGFS and len(ctx.schemes) > DEBUGFS_MAX_SCHEMES:
        s = ctx.schemes[DEBUGFS_MAX_SCHEMES]
        out.append(Feature(f"more than {DEBUGFS_MAX_SCHEMES} schemes", None, s.loc,
                           f"debugfs takes at most {DEBUGFS_MAX_SCHEMES} schemes"))
    return out


_C_NO_MEMCG = ("the c-module target cannot resolve a cgroup path to a memcg id yet; use the "
               "sysfs target")


def _debugfs_actions() -> str:
    return ", ".join(n for n, a in catalog.ACTIONS.items() if a.debugfs_code is not None)


def _userspace(ctx: Context) -> list[Feature]:
    out = []
    ops = catalog.OPS[ctx.ops]
    if not ops.takes_pid:
        out.append(Feature(f"ops {ctx.ops}", None, ctx.loc,
                           "damos run monitors processes, not physical memory"))
    for s in ctx.schemes:
        a = catalog.ACTIONS[s.action]
        out.append(Feature(f"action {s.action}", a.userspace_since, s.action_loc or s.loc,
                           a.userspace_why_not))
        for f in s.filters:
            ft = catalog.FILTER_TYPES[f.type]
            out.append(Feature(f"filter type {f.type}", (5, 10) if ft.userspace_source else None,
                               f.loc or s.loc,
                               None if ft.userspace_source else
                               f"user space cannot tell which pages are {f.type}"))
        for g in (s.quota.goals if s.quota else ()):
            gm = catalog.GOAL_METRICS[g.metric]
            out.append(Feature(f"goal metric {g.metric}", (5, 10) if gm.userspace_source else None,
                               g.loc or s.loc,
                               None if gm.userspace_source else
                               f"damos run cannot read {g.metric}"))
    for name, loc in _generic(ctx):
        why = catalog.SETTINGS[name].userspace_why_not
        if why is not None:
            out.append(Feature(name, None, loc, why))
    return out


def blockers(ctx: Context, interface: str) -> list[Feature]:
    """Features ``interface`` cannot express at any version."""
    return [f for f in features_of(ctx, interface) if f.since is None]


def minimum_version(ctx: Context, interface: str = SYSFS) -> Feature | None:
    """The feature that needs the newest kernel (None if one cannot be had)."""
    feats = features_of(ctx, interface)
    if any(f.since is None for f in feats):
        return None
    return max(feats, key=lambda f: f.since)


def require(ctx: Context, interface: str, version: tuple[int, int] | None = None) -> None:
    """Raise for the first thing ``interface`` (at ``version``, if given) lacks."""
    for f in blockers(ctx, interface):
        if f.message is not None:
            raise DamosError(f.message, f.loc, path=f.path, hint=f.hint)
        raise DamosError(f"{INTERFACE_LABELS[interface]} cannot express {f.name}: {f.why}",
                         f.loc)
    if version is None:
        return
    first, last = INTERFACE_SPAN[interface]
    if version < first:
        raise DamosError(f"Linux {vstr(version)} lacks {INTERFACE_WORDS[interface]} "
                         f"(first in Linux {vstr(first)})")
    if last is not None and version > last:
        raise DamosError(f"Linux {vstr(version)} has no {INTERFACE_WORDS[interface]} "
                         f"(the last kernel with it is {vstr(last)})")
    for f in features_of(ctx, interface):
        if f.since > version:
            raise DamosError(f"Linux {vstr(version)} lacks {f.name} (first in Linux "
                             f"{vstr(f.since)})", f.loc)


def interfaces_at(ctx: Context, version: tuple[int, int]) -> list[tuple[str, DamosError | None]]:
    """(interface, None or why not) for each interface at kernel ``version``."""
    out = []
    for name in INTERFACE_LABELS:
        try:
            require(ctx, name, None if name == USERSPACE else version)
            out.append((name, None))
        except DamosError as e:
            out.append((name, e))
    return out


def interfaces_line(ctx: Context, version: tuple[int, int] | None = None,
                    verdicts: list | None = None) -> str:
    """Which interfaces the context can use, and from which version (or at
    ``version``, whose :func:`interfaces_at` verdicts may be passed in)."""
    if version is not None:
        verdicts = verdicts if verdicts is not None else interfaces_at(ctx, version)
        return "; ".join(f"{INTERFACE_LABELS[n]} " + ("yes" if e is None else f"no ({e.message})")
                         for n, e in verdicts)
    parts = []
    for name, label in INTERFACE_LABELS.items():
        b = blockers(ctx, name)
        if b:
            parts.append(f"{label} no ({b[0].name})")
        else:
            f = minimum_version(ctx, name)
            last = INTERFACE_SPAN[name][1]
            span = f">= {vstr(f.since)}" + (f", <= {vstr(last)}" if last else "")
            parts.append(f"{label} {span}" if name != USERSPACE else f"{label} yes")
    return "; ".join(parts)
