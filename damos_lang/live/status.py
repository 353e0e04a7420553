"""``damos status``: every kdamond of a tree, its context read back from the
kernel's files into the IR and printed as DAMOS source, with its stats.

The kernel stores kernel units, so the source it prints is in kernel units:
sizes in bytes, access frequencies in ``samples``, ages in
``aggr_intervals``, times in us/ms, watermarks in permil, goals in bp.  What
the kernel cannot tell apart is printed in one way: a quota of zeros is no
quota, weights 0/0/0 are no weights, ``none`` watermarks at 0 are no
watermarks, goal nid 0 and an empty path are unset, tuner ``consist`` is the
default (see :func:`normalize` for the full list).
"""
from __future__ import annotations

from dataclasses import replace

from .. import catalog, model
from ..fmt import format_program
from ..ir import (AccessPattern, Dest, Filter, Goal, IntervalsGoal, Monitor, Program, Quota,
                  Range, Scheme, Target, Value, Watermarks, Weights, AddrRange)
from ..units import UINT_MAX, ULONG_MAX
from . import tree as T


def _n(n: int, unit: str = "") -> Value:
    return Value(str(n), unit)


_SIZES = (("E", 1 << 60), ("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20),
          ("K", 1 << 10))


def _bytes_v(n: int) -> Value:
    """A size in the largest unit that divides it (4096 -> 4K)."""
    for unit, div in _SIZES:
        if n and n % div == 0:
            return _n(n // div, unit)
    return _n(n, "B")


def _size(n: int) -> Value:
    return Value.kw("max") if n >= ULONG_MAX else _bytes_v(n)


def _us(n: int) -> Value:
    """Microseconds in the largest unit that divides them exactly."""
    if n and n < 10**12:
        for unit, div in (("s", 1_000_000), ("ms", 1000)):
            if n % div == 0:
                return _n(n // div, unit)
    return _n(n, "us")


def _ms(n: int) -> Value:
    if n and n < 10**9 and n % 1000 == 0:
        return _n(n // 1000, "s")
    return _n(n, "ms")


def _u32(n: int, unit: str = "") -> Value:
    return Value.kw("max") if n >= UINT_MAX else _n(n, unit)


def _goal_value(metric: str, n: int) -> Value:
    unit = catalog.GOAL_METRICS[metric].unit
    if unit == "time":
        return _us(n)
    return _n(n, "" if unit == "number" else "bp")


def to_program(ctx: model.Context) -> Program:
    """The IR of a context as the kernel holds it, in kernel units."""
    iv = ctx.intervals
    ig = None
    if ctx.intervals_goal is not None:
        g = ctx.intervals_goal
        ig = IntervalsGoal(_n(g.access_bp, "bp"), g.aggrs, _us(g.min_sample_us),
                           _us(g.max_sample_us))
    mon = Monitor(ctx.ops, _us(iv.sample_us), _us(iv.aggr_us), _us(iv.update_us),
                  (ctx.nr_regions_min, ctx.nr_regions_max), ig)
    targets = tuple(Target(t.pid, tuple(AddrRange(Value(hex(s)), Value(hex(e)))
                                        for s, e in t.regions))
                    for t in ctx.targets if t.pid is not None or t.regions)
    return Program(mon, targets, tuple(_scheme(s) for s in ctx.schemes))


def _scheme(s: model.Scheme) -> Scheme:
    p = s.pattern
    pattern = AccessPattern(
        Range(_bytes_v(p.sz_min), _size(p.sz_max)),
        Range(_n(p.nr_accesses_min), _u32(p.nr_accesses_max), "samples"),
        Range(_n(p.age_min), _u32(p.age_max), "aggr_intervals"))
    quota = None
    if s.quota is not None:
        q = s.quota
        w = q.weights
        quota = Quota(_ms(q.ms) if q.ms else None, _bytes_v(q.sz) if q.sz else None,
                      _ms(q.reset_interval_ms),
                      Weights(_n(w.sz), _n(w.nr_accesses), _n(w.age))
                      if w is not None else None,
                      tuple(Goal(g.metric, _goal_value(g.metric, g.target_value),
                                 _goal_value(g.metric, g.current_value) if g.current_value
                                 else None, g.nid, g.path) for g in q.goals),
                      q.goal_tuner,
                      (q.fail_charge_num, q.fail_charge_denom) if q.fail_charge_denom else None)
    wm = None
    if s.watermarks is not None:
        w = s.watermarks
        wm = Watermarks(w.metric, _us(w.interval_us), _n(w.high, "permil"),
                        _n(w.mid, "permil"), _n(w.low, "permil"))
    return Scheme(s.action, pattern,
                  apply_interval=_us(s.apply_interval_us) if s.apply_interval_us else None,
                  quota=quota, watermarks=wm, filters=tuple(_filter(f) for f in s.filters),
                  target_nid=s.target_nid, dests=tuple(Dest(d.nid, d.weight) for d in s.dests),
                  max_snapshots=s.max_nr_snapshots or None)


def _filter(f: model.Filter) -> Filter:
    kw = {}
    if f.type == "memcg":
        kw["memcg_path"] = f.memcg_path or ""
    elif f.type == "addr":
        kw["addr"] = Range(Value(hex(f.addr_start or 0)), Value(hex(f.addr_end or 0)))
    elif f.type == "target":
        kw["target_idx"] = f.target_idx or 0
    elif f.type == "hugepage_size":
        kw["hugepage"] = Range(_bytes_v(f.sz_min or 0), _bytes_v(f.sz_max or 0))
    return Filter(f.allow, f.type, f.matching, **kw)


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
                                 t.regions if ops.needs_regions else ())
                    for t in ctx.targets)
    if not ops.takes_pid:
        regions = tuple(sorted(r for t in ctx.targets for r in t.regions))
        targets = (model.Target(None, regions),)
    return replace(ctx, intervals_goal=ig, targets=targets, schemes=tuple(schemes))


def _norm_filter(f: model.Filter) -> model.Filter:
    args = catalog.FILTER_TYPES[f.type].args
    kw = {k: (getattr(f, k) or (0 if k != "memcg_path" else "")) if k in args else None
          for k in ("memcg_path", "addr_start", "addr_end", "target_idx", "sz_min", "sz_max")}
    return model.Filter(f.type, f.matching, f.allow, **kw)


# -- the status of a tree -----------------------------------------------------------

def snapshot(root: str | None = None, *, refresh: bool = True, regions: bool = False) -> list:
    """One dict per kdamond: index, state, pid, owned, context (model), source
    (DAMOS text), schemes (stats, tried regions).  The stats of kdamonds
    damos-lang started are refreshed first (a state command); others' are
    read as they are (they change only when their owner refreshes them)."""
    fs = T.tree(root)
    owners = T.Owners(fs)
    out = []
    for k in T.kdamonds(fs):
        owned = owners.owns(fs, k)
        kb = f"kdamonds/{k.index}"
        if refresh and owned and k.state == "on":
            for cmd in ("update_schemes_stats",) + (("update_schemes_tried_regions",)
                                                     if regions else ()):
                try:
                    fs.write(f"{kb}/state", cmd)
                except OSError:
                    pass
        entry = {"index": k.index, "state": k.state, "pid": k.pid, "owned": owned,
                 "refreshed": bool(refresh and owned and k.state == "on"),
                 "origin": (owners.get(k.index) or {}).get("source") if owned else None,
                 "context": None, "source": None, "schemes": []}
        if k.nr_contexts == 1:
            cb = f"{kb}/contexts/0"
            ctx = T.read_context(fs, cb)
            entry["context"] = ctx
            entry["source"] = format_program(to_program(ctx))
            for s in range(len(ctx.schemes)):
                sb = f"{cb}/schemes/{s}"
                d = {"action": ctx.schemes[s].action, "stats": T.read_stats(fs, sb)}
                if regions:
                    d["tried_regions"] = T.read_tried_regions(fs, sb)
                entry["schemes"].append(d)
        out.append(entry)
    return out


def _bytes(n: int) -> str:
    for unit, div in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def render(kds: list) -> str:
    """The status as DAMOS source: one commented section per kdamond."""
    if not kds:
        return "# no kdamonds (nr_kdamonds is 0)\n"
    out = []
    for e in kds:
        who = (f"started by damos-lang from {e['origin']}" if e["owned"]
               else "not started by damos-lang")
        head = f"# kdamond {e['index']}: {e['state']}"
        if e["state"] == "on":
            head += f", pid {e['pid']}"
        out.append(f"{head}; {who}")
        if e["source"] is None:
            out.append("# (no context)")
            out.append("")
            continue
        note = "" if e["refreshed"] else " (as last refreshed by its owner)"
        for i, s in enumerate(e["schemes"]):
            st = s["stats"]
            line = (f"# scheme {i} ({s['action']}): tried {st['nr_tried']} regions / "
                    f"{_bytes(st['sz_tried'])}, applied {st['nr_applied']} / "
                    f"{_bytes(st['sz_applied'])}, qt_exceeds {st['qt_exceeds']}")
            if "effective_bytes" in st and st["effective_bytes"]:
                line += f", effective quota {_bytes(st['effective_bytes'])}"
            out.append(line + note)
            for r in s.get("tried_regions", []):
                out.append(f"#   tried {r['start']:#x}..{r['end']:#x} "
                           f"({_bytes(r['end'] - r['start'])}) nr_accesses {r['nr_accesses']} "
                           f"age {r['age']}")
        out.append(e["source"].rstrip("\n"))
        out.append("")
    return "\n".join(out)


def to_json(kds: list) -> str:
    import json
    return json.dumps({"kdamonds": [{k: v for k, v in e.items() if k != "context"}
                                    for e in kds]}, indent=2) + "\n"


def table(kds: list):
    """A rich Table of every scheme's stats (for --watch)."""
    from rich.table import Table
    t = Table(title="DAMON kdamonds")
    for col in ("kdamond", "state", "pid", "scheme", "action", "nr_tried", "sz_tried",
                "nr_applied", "sz_applied", "qt_exceeds"):
        t.add_column(col, justify="right" if col.startswith(("nr_", "sz_", "qt_")) else "left")
    for e in kds:
        if not e["schemes"]:
            t.add_row(str(e["index"]), e["state"], str(e["pid"]), "-", "-", "", "", "", "", "")
        for i, s in enumerate(e["schemes"]):
            st = s["stats"]
            t.add_row(str(e["index"]), e["state"], str(e["pid"]), str(i), s["action"],
                      str(st["nr_tried"]), _bytes(st["sz_tried"]), str(st["nr_applied"]),
                      _bytes(st["sz_applied"]), str(st["qt_exceeds"]))
    return t


def watch(root: str | None, interval: float = 1.0, count: int | None = None) -> None:
    """Refresh the table every ``interval`` seconds (``count`` times, or until ^C)."""
    import time
    from rich.live import Live
    n = 0
    with Live(table(snapshot(root)), refresh_per_second=4) as live:
        while count is None or n < count:
            time.sleep(interval)
            live.update(table(snapshot(root)))
            n += 1
