"""One scrape's reading of the sysfs kdamonds (through :mod:`damos_lang.sysfs.read`
and the layout table), with the kernel's counters refreshed first where
nothing else refreshes them.

Refresh: a running kdamond whose refresh interval (``refresh_ms``, 6.17+) is
0 or absent shows stats only as of the last ``update_schemes_stats``, so the
exporter writes that command (and ``update_schemes_effective_quotas`` where
the kernel has effective quotas, ``update_tuned_intervals`` where an
intervals goal tunes them) before reading; a kdamond with a refresh
interval is read as it is, and ``refresh=False`` writes nothing at all.
The commands only copy the kdamond's counters into its files: they change
nothing DAMON does.

A kdamond that stops, restarts or vanishes while it is read is left out of
this scrape (never a failure, never a counter read as 0): its pid and the
number of its schemes are read again after its counters and must match.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..sysfs import layout as L
from ..sysfs.read import kdamonds as list_kdamonds
from ..sysfs.read import nr_schemes, read_ops, read_row


@dataclass
class SchemeReading:
    index: int
    action: str
    stats: dict                      # the kernel's stat name -> value (present files only)


@dataclass
class KdamondReading:
    index: int
    running: bool
    pid: int
    refresh_ms: int | None           # None: this kernel has no such file
    ops: str | None = None
    sample_us: int | None = None
    aggr_us: int | None = None
    schemes: list = field(default_factory=list)


class Vanished(Exception):
    """The kdamond changed while it was read."""


# the stats rows of a scheme: (stat name, row); the first five exist on every kernel
_STAT_ROWS = tuple((f.stat, f) for f in L.SCHEME.files
                   if f.stat and f.child is None and not f.path.startswith(L.TRIED_REGIONS.dir))
_REQUIRED = {"nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds"}
_SAMPLE = L.CONTEXT.file("intervals.sample_us")
_AGGR = L.CONTEXT.file("intervals.aggr_us")
_GOAL_AGGRS = L.CONTEXT.file("intervals_goal.aggrs")
_ACTION = L.SCHEME.file("action")

# one refresh at a time: two scrapes at once must not interleave state commands
_LOCK = threading.Lock()


def _int(fs, rel: str) -> int:
    return int(fs.read(rel))          # OSError / ValueError: vanished mid-read


def refresh_commands(fs, k: int) -> list[str]:
    """The state commands that bring kdamond ``k``'s files up to date."""
    cmds = [L.UPDATE_SCHEMES_STATS]
    cb = L.context_dir(k)
    if nr_schemes(fs, cb) and fs.exists(L.path_of(L.scheme_dir(k, 0), L.SCHEME,
                                                   "effective_bytes")):
        cmds.append(L.UPDATE_EFFECTIVE_QUOTAS)
    goal = fs.read_or(f"{cb}/{_GOAL_AGGRS.path}")
    if goal not in (None, "", "0"):
        cmds.append(L.UPDATE_TUNED_INTERVALS)
    return cmds


def _refresh(fs, k: int) -> None:
    for cmd in refresh_commands(fs, k):
        try:
            fs.write(L.state_path(k), cmd)
        except OSError:
            # stopped meanwhile (EINVAL; 7.3 may say ECANCELED) or busy: read as it is
            return


def read_kdamond(fs, k, refresh: bool) -> KdamondReading:
    kb = L.kdamond_dir(k.index)
    rtext = fs.read_or(f"{kb}/{L.REFRESH_MS.path}")
    refresh_ms = int(rtext) if rtext not in (None, "") else None
    running = k.state == L.ON
    out = KdamondReading(k.index, running, k.pid, refresh_ms)
    if k.nr_contexts != 1:
        return out
    if refresh and running and not refresh_ms:
        with _LOCK:
            _refresh(fs, k.index)
    cb = L.context_dir(k.index)
    out.ops = read_ops(fs, cb)
    out.sample_us = _int(fs, f"{cb}/{_SAMPLE.path}")
    out.aggr_us = _int(fs, f"{cb}/{_AGGR.path}")
    n = nr_schemes(fs, cb)
    for s in range(n):
        sb = L.scheme_dir(k.index, s)
        stats = {}
        for name, row in _STAT_ROWS:
            text = fs.read_or(f"{sb}/{row.path}")
            if text is None:
                if name in _REQUIRED:
                    raise Vanished(sb)
                continue
            stats[name] = int(text)
        out.schemes.append(SchemeReading(s, read_row(fs, sb, _ACTION), stats))
    # the same kdamond still, with the same schemes?
    pid = fs.read_or(L.path_of(kb, L.KDAMOND, "pid"))
    if pid is None or int(pid) != k.pid or nr_schemes(fs, cb) != n:
        raise Vanished(kb)
    return out


def read_all(fs, refresh: bool = True) -> tuple[list[KdamondReading], int]:
    """Every kdamond that held still while it was read, and how many did not."""
    try:
        kds = list_kdamonds(fs)
    except (OSError, ValueError):
        return [], 0
    out, skipped = [], 0
    for k in kds:
        try:
            out.append(read_kdamond(fs, k, refresh))
        except (OSError, ValueError, Vanished):
            skipped += 1
    return out, skipped
