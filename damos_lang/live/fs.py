"""Access to a DAMON sysfs admin tree: the kernel's, or a stand-in.

:class:`SysfsFs` reads and writes the files of a real tree (the kernel's
``/sys/kernel/mm/damon/admin``, or any directory given with
``--sysfs-root``), one ``write(2)`` per value so the kernel's errno comes
back as an :class:`OSError`.

:class:`StandIn` is a stand-in kernel over a plain directory: writes follow
the kernel's rules (sysfs.md): ``nr_*`` files recreate the directories below
them with fresh defaults, numbers are parsed like ``kstrtoul(buf, 0)``,
keywords are checked, read-only files refuse writes, and ``state`` commands
validate the whole tree at ``on``/``commit`` (a pid that is not running, a
memcg path that does not exist -> ENOMEM, sample > aggr, ...), exactly where
the kernel reports them.  A directory holding the marker file
:data:`MARKER` is a stand-in; :func:`open_root` picks the right class, so the
CLI's ``--sysfs-root`` runs the same code paths the tests do.
"""
from __future__ import annotations

import errno
import json
import os
import shutil

from .. import catalog
from ..units import UINT_MAX, ULONG_MAX

ADMIN_ROOT = "/sys/kernel/mm/damon/admin"
MODULE_ROOT = "/sys/module"
MARKER = ".damos-stand-in.json"


class SysfsFs:
    """The files of an admin tree at ``root`` (paths are relative to it)."""

    def __init__(self, root: str):
        self.root = root

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def exists(self, rel: str) -> bool:
        return os.path.exists(self.path(rel))

    def isdir(self, rel: str) -> bool:
        return os.path.isdir(self.path(rel))

    def listdir(self, rel: str) -> list[str]:
        try:
            return os.listdir(self.path(rel))
        except OSError:
            return []

    def read(self, rel: str) -> str:
        """The file's text without its one trailing newline."""
        with open(self.path(rel)) as f:
            text = f.read()
        return text[:-1] if text.endswith("\n") else text

    def read_or(self, rel: str, default: str | None = None) -> str | None:
        try:
            return self.read(rel)
        except OSError:
            return default

    def write(self, rel: str, value: str) -> None:
        """One write of ``value`` plus a newline; the kernel's errno is raised."""
        fd = os.open(self.path(rel), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, (value + "\n").encode())
        finally:
            os.close(fd)


# -- the stand-in kernel -------------------------------------------------------

def _v(version, since) -> bool:
    return tuple(version) >= tuple(since)


def _kdamond(v) -> dict:
    d = {"state": "off", "pid": "-1", "contexts/nr_contexts": "0"}
    if _v(v, (6, 17)):
        d["refresh_ms"] = "0"
    return d


def _context(v) -> dict:
    ma = "monitoring_attrs"
    d = {"operations": "vaddr", f"{ma}/intervals/sample_us": "5000",
         f"{ma}/intervals/aggr_us": "100000", f"{ma}/intervals/update_us": "60000000",
         f"{ma}/nr_regions/min": "10", f"{ma}/nr_regions/max": "1000",
         "targets/nr_targets": "0", "schemes/nr_schemes": "0"}
    if _v(v, (5, 19)):
        d["avail_operations"] = "vaddr\nfvaddr\npaddr"
    if _v(v, (6, 15)):
        for k in ("access_bp", "aggrs", "min_sample_us", "max_sample_us"):
            d[f"{ma}/intervals/intervals_goal/{k}"] = "0"
    if _v(v, (6, 18)):
        d["addr_unit"] = "1"
    if _v(v, (7, 2)):
        d["pause"] = "N"
        d[f"{ma}/probes/nr_probes"] = "0"
    return d


def _target(v) -> dict:
    d = {"pid_target": "0", "regions/nr_regions": "0"}
    if _v(v, (6, 19)):
        d["obsolete_target"] = "N"
    return d


def _scheme(v) -> dict:
    d = {"action": "stat"}
    for k in ("sz", "nr_accesses", "age"):
        d[f"access_pattern/{k}/min"] = "0"
        d[f"access_pattern/{k}/max"] = "0"
    for k in ("ms", "bytes", "reset_interval_ms"):
        d[f"quotas/{k}"] = "0"
    for k in ("sz_permil", "nr_accesses_permil", "age_permil"):
        d[f"quotas/weights/{k}"] = "0"
    d.update({"watermarks/metric": "none", "watermarks/interval_us": "0",
              "watermarks/high": "0", "watermarks/mid": "0", "watermarks/low": "0"})
    for k in ("nr_tried", "sz_tried", "nr_applied", "sz_applied", "qt_exceeds"):
        d[f"stats/{k}"] = "0"
    if _v(v, (6, 3)):
        d["filters/nr_filters"] = "0"
    if _v(v, (6, 6)):
        d["tried_regions/total_bytes"] = "0"
    if _v(v, (6, 7)):
        d["apply_interval_us"] = "0"
    if _v(v, (6, 8)):
        d["quotas/goals/nr_goals"] = "0"
    if _v(v, (6, 9)):
        d["quotas/effective_bytes"] = "0"
    if _v(v, (6, 11)):
        d["target_nid"] = "-1"
    if _v(v, (6, 14)):
        d["stats/sz_ops_filter_passed"] = "0"
    if _v(v, (6, 15)):
        d["core_filters/nr_filters"] = "0"
        d["ops_filters/nr_filters"] = "0"
    if _v(v, (6, 17)):
        d["dests/nr_dests"] = "0"
    if _v(v, (7, 0)):
        d["stats/nr_snapshots"] = "0"
        d["stats/max_nr_snapshots"] = "0"
    if _v(v, (7, 1)):
        d["quotas/goal_tuner"] = "consist"
    if _v(v, (7, 2)):
        d["quotas/fail_charge_num"] = "0"
        d["quotas/fail_charge_denom"] = "0"
    return d


def _goal(v) -> dict:
    d = {"target_value": "0", "current_value": "0"}
    if _v(v, (6, 9)):
        d["target_metric"] = "user_input"
    if _v(v, (6, 16)):
        d["nid"] = "0"
    if _v(v, (6, 19)):
        d["path"] = ""
    return d


def _filter(v) -> dict:
    d = {"type": "anon", "matching": "N", "memcg_path": ""}
    if _v(v, (6, 6)):
        d.update(addr_start="0", addr_end="0", damon_target_idx="0")
    if _v(v, (6, 14)):
        d["allow"] = "N"
    if _v(v, (6, 15)):
        d.update(min="0", max="0")
    return d


def _region(v) -> dict:
    return {"start": "0", "end": "0"}


def _dest(v) -> dict:
    return {"id": "0", "weight": "0"}


# nr_* file name (by its parent directory's name) -> the template of each child
_CHILDREN = {("kdamonds", "nr_kdamonds"): _kdamond, ("contexts", "nr_contexts"): _context,
             ("targets", "nr_targets"): _target, ("schemes", "nr_schemes"): _scheme,
             ("regions", "nr_regions"): _region, ("goals", "nr_goals"): _goal,
             ("filters", "nr_filters"): _filter, ("core_filters", "nr_filters"): _filter,
             ("ops_filters", "nr_filters"): _filter, ("dests", "nr_dests"): _dest}

_READ_ONLY = {"avail_operations", "pid", "effective_bytes", "total_bytes", "nr_tried",
              "sz_tried", "nr_applied", "sz_applied", "qt_exceeds", "sz_ops_filter_passed",
              "nr_snapshots"}
_INT_FILES = {"pid_target", "target_nid", "nid", "damon_target_idx"}   # signed
_BOOL_FILES = {"matching", "allow", "pause", "obsolete_target"}
_TEXT_FILES = {"memcg_path", "path"}
_STATE_COMMANDS = {"on": (5, 18), "off": (5, 18), "update_schemes_stats": (5, 18),
                   "commit": (5, 19), "update_schemes_tried_regions": (6, 2),
                   "clear_schemes_tried_regions": (6, 2), "update_schemes_tried_bytes": (6, 6),
                   "commit_schemes_quota_goals": (6, 8),
                   "update_schemes_effective_quotas": (6, 9), "update_tuned_intervals": (6, 15)}
_CORE_FILTERS = {"addr", "target"}


def _err(code: int, rel: str) -> OSError:
    return OSError(code, os.strerror(code), rel)


def kstrtoul(text: str, signed: bool = False, bits: int = 64) -> int:
    """The kernel's ``kstrto*(buf, 0, ...)``: base 0, one trailing newline;
    EINVAL for junk (a leading 0 is octal), ERANGE on overflow."""
    s = text[:-1] if text.endswith("\n") else text
    neg = False
    if signed and s.startswith("-"):
        neg, s = True, s[1:]
    elif s.startswith("+"):
        s = s[1:]
    try:
        if s[:2].lower() == "0x":
            n = int(s[2:], 16) if s[2:] else None
        elif s.startswith("0") and len(s) > 1:
            n = int(s[1:], 8)
        else:
            n = int(s, 10) if s.isdigit() else None
    except ValueError:
        n = None
    if n is None:
        raise ValueError(errno.EINVAL)
    if neg:
        n = -n
    hi = 2**(bits - 1) - 1 if signed else 2**bits - 1
    lo = -2**(bits - 1) if signed else 0
    if not lo <= n <= hi:
        raise ValueError(errno.ERANGE)
    return n


class StandIn(SysfsFs):
    """A stand-in DAMON sysfs tree with the kernel's write semantics (see the
    module doc).  Its configuration (kernel version, running pids, memcg
    paths) is the JSON marker file in the root, so any process sees it."""

    def __init__(self, root: str):
        super().__init__(root)
        with open(os.path.join(root, MARKER)) as f:
            cfg = json.load(f)
        self.version = tuple(cfg["version"])
        self.pids = set(cfg.get("pids", []))
        self.memcgs = set(cfg.get("memcgs", []))

    @staticmethod
    def create(root: str, version=(6, 12), pids=(), memcgs=("/",)) -> "StandIn":
        os.makedirs(os.path.join(root, "kdamonds"), exist_ok=True)
        with open(os.path.join(root, MARKER), "w") as f:
            json.dump({"version": list(version), "pids": sorted(pids),
                       "memcgs": sorted(memcgs)}, f)
        with open(os.path.join(root, "kdamonds/nr_kdamonds"), "w") as f:
            f.write("0\n")
        return StandIn(root)

    # -- helpers
    def _put(self, rel: str, text: str) -> None:
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text + "\n")

    def _running(self) -> list[str]:
        out = []
        for k in self.listdir("kdamonds"):
            if k.isdigit() and self.read_or(f"kdamonds/{k}/state") == "on":
                out.append(k)
        return out

    def _int(self, rel: str) -> int:
        return int(self.read(rel))

    # -- the kernel's write
    def write(self, rel: str, value: str) -> None:
        p = self.path(rel)
        if not os.path.isfile(p) or os.path.basename(rel) == MARKER:
            raise _err(errno.ENOENT, rel)
        name = os.path.basename(rel)
        parent = os.path.basename(os.path.dirname(rel))
        if name in _READ_ONLY or "tried_regions/" in rel:
            raise _err(errno.EACCES, rel)
        text = value[:-1] if value.endswith("\n") else value
        if name.startswith("nr_") and (parent, name) in _CHILDREN:
            self._write_nr(rel, parent, name, text)
        elif name == "state":
            self._state(rel, text)
        elif name in _BOOL_FILES:
            if text not in ("Y", "y", "1", "N", "n", "0", "on", "off"):
                raise _err(errno.EINVAL, rel)
            self._put(rel, "Y" if text in ("Y", "y", "1", "on") else "N")
        elif name in _TEXT_FILES:
            self._put(rel, text)
        elif name in ("operations", "action", "metric", "type", "target_metric", "goal_tuner"):
            if text not in self._keywords(name, rel):
                raise _err(errno.EINVAL, rel)
            self._put(rel, text)
        else:
            try:
                n = kstrtoul(text, signed=name in _INT_FILES,
                             bits=32 if name in _INT_FILES else 64)
            except ValueError as e:
                code = e.args[0]
                if name in ("ms", "bytes", "reset_interval_ms", "pid_target"):
                    code = errno.EINVAL
                raise _err(code, rel) from None
            if name == "addr_unit" and n == 0:
                raise _err(errno.EINVAL, rel)
            self._put(rel, str(n))

    def _keywords(self, name: str, rel: str) -> set:
        v = self.version
        if name == "operations":
            return set(catalog.OPS)
        if name == "action":
            return {a for a, r in catalog.ACTIONS.items() if _v(v, r.since)}
        if name == "metric":
            return set(catalog.WMARK_METRICS)
        if name == "type":
            types = {t for t, r in catalog.FILTER_TYPES.items() if _v(v, r.since)}
            if "/core_filters/" in rel:
                return types & _CORE_FILTERS
            if "/ops_filters/" in rel:
                return types - _CORE_FILTERS
            return types
        if name == "target_metric":
            return {g for g, r in catalog.GOAL_METRICS.items() if _v(v, r.since)}
        return set(catalog.GOAL_TUNERS)

    def _write_nr(self, rel: str, parent: str, name: str, text: str) -> None:
        try:
            n = kstrtoul(text, signed=True, bits=32)
        except ValueError as e:
            raise _err(e.args[0], rel) from None
        if n < 0 or (name == "nr_contexts" and n > 1):
            raise _err(errno.EINVAL, rel)
        if name == "nr_kdamonds" and self._running():
            raise _err(errno.EBUSY, rel)
        base = os.path.dirname(rel)
        for c in self.listdir(base):
            if c.isdigit():
                shutil.rmtree(self.path(f"{base}/{c}"))
        make = _CHILDREN[(parent, name)]
        for i in range(n):
            for f, default in make(self.version).items():
                self._put(f"{base}/{i}/{f}", default)
        self._put(rel, str(n))

    # -- state commands
    def _state(self, rel: str, cmd: str) -> None:
        if cmd not in _STATE_COMMANDS or not _v(self.version, _STATE_COMMANDS[cmd]):
            raise _err(errno.EINVAL, rel)
        k = os.path.dirname(rel)
        on = self.read(rel) == "on"
        if cmd == "off":
            if on:
                self._put(rel, "off")
                self._put(f"{k}/pid", "-1")
            return
        if cmd != "on" and not on:
            raise _err(errno.EINVAL, rel)
        if self._int(f"{k}/contexts/nr_contexts") != 1:
            raise _err(errno.EINVAL, rel)
        if cmd == "on":
            if on:
                raise _err(errno.EBUSY, rel)
            self._validate(rel, f"{k}/contexts/0")
            self._put(rel, "on")
            self._put(f"{k}/pid", str(4000 + int(os.path.basename(k))))
        elif cmd == "commit":
            self._validate(rel, f"{k}/contexts/0")
        elif cmd == "update_schemes_stats":
            self._tick(f"{k}/contexts/0")
        elif cmd in ("update_schemes_tried_regions", "clear_schemes_tried_regions"):
            self._tried(f"{k}/contexts/0", cmd.startswith("update"))

    def _validate(self, rel: str, c: str) -> None:
        """What the kernel checks when it builds a context at on/commit."""
        ma = f"{c}/monitoring_attrs"
        if self._int(f"{ma}/intervals/sample_us") > self._int(f"{ma}/intervals/aggr_us"):
            raise _err(errno.EINVAL, rel)
        lo, hi = self._int(f"{ma}/nr_regions/min"), self._int(f"{ma}/nr_regions/max")
        if lo < 3 or lo > hi:
            raise _err(errno.EINVAL, rel)
        ops = self.read(f"{c}/operations")
        nt = self._int(f"{c}/targets/nr_targets")
        if ops == "paddr" and nt > 1:
            raise _err(errno.EINVAL, rel)
        for t in range(nt):
            tb = f"{c}/targets/{t}"
            if catalog.OPS[ops].takes_pid and self._int(f"{tb}/pid_target") not in self.pids:
                raise _err(errno.EINVAL, rel)
            last = -1
            for r in range(self._int(f"{tb}/regions/nr_regions")):
                s, e = self._int(f"{tb}/regions/{r}/start"), self._int(f"{tb}/regions/{r}/end")
                if s >= e or s < last:
                    raise _err(errno.EINVAL, rel)
                last = e
        for s in range(self._int(f"{c}/schemes/nr_schemes")):
            sb = f"{c}/schemes/{s}"
            for d in ("filters", "core_filters", "ops_filters"):
                for i in range(int(self.read_or(f"{sb}/{d}/nr_filters", "0"))):
                    fb = f"{sb}/{d}/{i}"
                    t = self.read(f"{fb}/type")
                    if t == "memcg" and self.read(f"{fb}/memcg_path") not in self.memcgs:
                        raise _err(errno.ENOMEM, rel)
                    if t == "addr" and self._int(f"{fb}/addr_end") < self._int(f"{fb}/addr_start"):
                        raise _err(errno.ENOMEM, rel)
                    if t == "hugepage_size" and self._int(f"{fb}/min") > self._int(f"{fb}/max"):
                        raise _err(errno.ENOMEM, rel)
            for g in range(int(self.read_or(f"{sb}/quotas/goals/nr_goals", "0"))):
                path = self.read_or(f"{sb}/quotas/goals/{g}/path", "")
                if path and path not in self.memcgs:
                    raise _err(errno.ENOMEM, rel)

    def _tried(self, c: str, fill: bool) -> None:
        """One tried region per scheme: 4 MiB at 1 GiB, idle for 12 aggregations."""
        for s in range(self._int(f"{c}/schemes/nr_schemes")):
            tb = f"{c}/schemes/{s}/tried_regions"
            for d in self.listdir(tb):
                if d.isdigit():
                    shutil.rmtree(self.path(f"{tb}/{d}"))
            if fill:
                for name, v in (("start", 1 << 30), ("end", (1 << 30) + (4 << 20)),
                                ("nr_accesses", 0), ("age", 12)):
                    self._put(f"{tb}/0/{name}", str(v))

    def _tick(self, c: str) -> None:
        """update_schemes_stats: the counters move (deterministically)."""
        for s in range(self._int(f"{c}/schemes/nr_schemes")):
            st = f"{c}/schemes/{s}/stats"
            for name, step in (("nr_tried", 3), ("sz_tried", 3 << 20), ("nr_applied", 2),
                               ("sz_applied", 2 << 20)):
                self._put(f"{st}/{name}", str(self._int(f"{st}/{name}") + step))


def open_root(root: str | None) -> SysfsFs:
    """The tree at ``root`` (default: the kernel's admin root): a stand-in
    when the directory holds the stand-in marker."""
    root = root or ADMIN_ROOT
    if os.path.exists(os.path.join(root, MARKER)):
        return StandIn(root)
    return SysfsFs(root)


__all__ = ["ADMIN_ROOT", "MODULE_ROOT", "MARKER", "SysfsFs", "StandIn", "open_root",
           "kstrtoul", "UINT_MAX", "ULONG_MAX"]
