"""``damos status``: every kdamond of a tree, its context read back from the
kernel's files (:mod:`damos_lang.sysfs.read`) and printed as DAMOS source
(:mod:`damos_lang.model_to_ir`), with its stats.

The kernel stores kernel units, so the source it prints is in kernel units:
sizes in bytes, access frequencies in ``samples``, ages in
``aggr_intervals``, times in us/ms, watermarks in permil, goals in bp.  What
the kernel cannot tell apart is printed in one way (see
:func:`damos_lang.sysfs.read.normalize`).
"""
from __future__ import annotations

from dataclasses import fields

from ..fmt import format_program
from ..model_to_ir import to_program
from ..sysfs import layout as L
from ..sysfs.read import SchemeStats, TriedRegion, kdamonds, read_context, read_stats, read_tried_regions
from ..sysfs.root import tree
from ..units import format_bytes
from .owners import Owners


# -- the status of a tree -----------------------------------------------------------

def snapshot(root: str | None = None, *, refresh: bool = True, regions: bool = False) -> list:
    """One dict per kdamond: index, state, pid, owned, context (model), source
    (DAMOS text), schemes (stats, tried regions).  The stats of kdamonds
    damos-lang started are refreshed first (a state command); others' are
    read as they are (they change only when their owner refreshes them)."""
    fs = tree(root)
    owners = Owners(fs)
    out = []
    for k in kdamonds(fs):
        owned = owners.owns(fs, k)
        if refresh and owned and k.state == L.ON:
            for cmd in _refresh_commands(fs, k.index, regions, k.refresh_ms):
                try:
                    fs.write(L.state_path(k.index), cmd)
                except OSError:
                    pass
        entry = {"index": k.index, "state": k.state, "pid": k.pid, "owned": owned,
                 "refreshed": bool(refresh and owned and k.state == L.ON)
                 or bool(k.refresh_ms and k.state == L.ON),
                 "refresh_ms": k.refresh_ms,
                 "origin": (owners.get(k.index) or {}).get("source") if owned else None,
                 "context": None, "source": None, "schemes": []}
        if k.nr_contexts == 1:
            ctx = read_context(fs, L.context_dir(k.index))
            entry["context"] = ctx
            entry["source"] = format_program(to_program(ctx))
            for s in range(len(ctx.schemes)):
                sb = L.scheme_dir(k.index, s)
                d = {"action": ctx.schemes[s].action, "stats": read_stats(fs, sb).as_dict()}
                if regions:
                    d[L.TRIED_REGIONS.name] = [r.as_dict() for r in read_tried_regions(fs, sb)]
                entry["schemes"].append(d)
        out.append(entry)
    return out


def _refresh_commands(fs, k: int, regions: bool, refresh_ms: int = 0) -> tuple:
    """The state commands that make a kdamond's files show what it holds now:
    the counters, the effective quotas where the kernel has them (6.9), and
    the tried regions when asked.  A kdamond with ``refresh_ms`` (6.17)
    refreshes its counters and effective quotas itself every refresh_ms, so
    those commands are not written (only the tried regions, which it does not
    refresh)."""
    cmds = []
    if not refresh_ms:
        cmds.append(L.UPDATE_SCHEMES_STATS)
        sb = L.scheme_dir(k, 0)
        if fs.exists(L.path_of(sb, L.SCHEME, "effective_bytes")):
            cmds.append(L.UPDATE_EFFECTIVE_QUOTAS)
    if regions:
        cmds.append(L.UPDATE_TRIED_REGIONS)
    return tuple(cmds)


def damon_stat(module_root: str | None):
    """DAMON_STAT's state (None when this kernel has none)."""
    from .exclusive import DAMON_STAT, module_state
    return module_state(module_root, DAMON_STAT)


def _bytes(n: int) -> str:
    return format_bytes(n)


def stats_line(i: int, action: str | None, st: SchemeStats, effective: bool = True) -> str:
    """One scheme's counters in words."""
    head = f"scheme {i} ({action})" if action else f"scheme {i}"
    line = (f"{head}: tried {st.nr_tried} regions / {_bytes(st.sz_tried)}, "
            f"applied {st.nr_applied} / {_bytes(st.sz_applied)}, qt_exceeds {st.qt_exceeds}")
    if effective and st.effective_bytes:
        line += f", effective quota {_bytes(st.effective_bytes)}"
    if effective and st.sz_ops_filter_passed is not None:
        line += f", passed ops filters {_bytes(st.sz_ops_filter_passed)}"
    if effective and st.nr_snapshots is not None:
        line += f", snapshots {st.nr_snapshots}"
    return line


def damon_stat_lines(stat) -> list[str]:
    """DAMON_STAT in words: state, kdamond, and what it measured."""
    if stat is None:
        return []
    if not stat.enabled:
        return ["# DAMON_STAT: off (damon_stat is not running)"]
    out = [f"# DAMON_STAT: on, kdamond pid {stat.kdamond_pid}; it holds DAMON exclusively "
           "(a sysfs kdamond cannot start: damos apply --stop-damon-stat)"]
    if stat.estimated_memory_bandwidth is not None:
        out.append(f"#   estimated memory bandwidth {_bytes(stat.estimated_memory_bandwidth)}/s")
    p = stat.memory_idle_ms_percentiles
    if p:
        picks = [(q, p[q]) for q in (0, 25, 50, 75, 90, 99, 100) if q < len(p)]
        out.append("#   memory idle time percentiles: " +
                   ", ".join(f"p{q} {v} ms" for q, v in picks))
    return out


def _hits_words(hits) -> str:
    """A tried region's probe hits, each probe by its index (7.2)."""
    if not hits:
        return ""
    return ", probe hits " + " ".join(f"{i}:{h}" for i, h in enumerate(hits))


def render(kds: list, stat=None) -> str:
    """The status as DAMOS source: DAMON_STAT (when given), then one commented
    section per kdamond."""
    head = damon_stat_lines(stat)
    if not kds:
        return "\n".join(head + ["# no kdamonds (nr_kdamonds is 0)"]) + "\n"
    out = head + ([""] if head else [])
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
        if e.get("refresh_ms") and e["state"] == "on":
            note += f" (refreshed by the kernel every {e['refresh_ms']} ms)"
        for i, s in enumerate(e["schemes"]):
            out.append("# " + stats_line(i, s["action"], SchemeStats(**s["stats"])) + note)
            for r in s.get(L.TRIED_REGIONS.name, []):
                r = TriedRegion(**r)
                out.append(f"#   tried {r.start:#x}..{r.end:#x} "
                           f"({_bytes(r.end - r.start)}) nr_accesses {r.nr_accesses} "
                           f"age {r.age}" + _hits_words(r.probe_hits))
        out.append(e["source"].rstrip("\n"))
        out.append("")
    return "\n".join(out)


def to_json(kds: list, stat=None) -> str:
    import json
    data = {"kdamonds": [{k: v for k, v in e.items() if k != "context"} for e in kds]}
    if stat is not None:
        data["damon_stat"] = stat.as_dict()
    return json.dumps(data, indent=2) + "\n"


def table(kds: list, stat=None):
    """A rich Table of every scheme's stats (for --watch)."""
    from rich.table import Table
    title = "DAMON kdamonds"
    if stat is not None:
        title += f" (DAMON_STAT {'on, pid ' + str(stat.kdamond_pid) if stat.enabled else 'off'})"
    t = Table(title=title)
    for col in ("kdamond", "state", "pid", "scheme", "action"):
        t.add_column(col)
    for col in _COUNTER_COLUMNS:
        t.add_column(col, justify="right")
    for e in kds:
        if not e["schemes"]:
            t.add_row(str(e["index"]), e["state"], str(e["pid"]), "-", "-",
                      *[""] * len(_COUNTER_COLUMNS))
        for i, s in enumerate(e["schemes"]):
            st = SchemeStats(**s["stats"])
            t.add_row(str(e["index"]), e["state"], str(e["pid"]), str(i), s["action"],
                      str(st.nr_tried), _bytes(st.sz_tried), str(st.nr_applied),
                      _bytes(st.sz_applied), str(st.qt_exceeds))
    return t


# the counters of the --watch table, as the kernel names them
_COUNTER_COLUMNS = tuple(f.name for f in fields(SchemeStats))[:5]


def watch(root: str | None, interval: float = 1.0, count: int | None = None,
          module_root: str | None = None) -> None:
    """Refresh the table every ``interval`` seconds (``count`` times, or until ^C)."""
    import time
    from rich.live import Live
    n = 0
    with Live(table(snapshot(root), damon_stat(module_root)), refresh_per_second=4) as live:
        while count is None or n < count:
            time.sleep(interval)
            live.update(table(snapshot(root), damon_stat(module_root)))
            n += 1
