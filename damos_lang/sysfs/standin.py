"""A stand-in DAMON kernel over a plain directory, derived from the layout
table (:mod:`.layout`).

Writes follow the kernel's rules (sysfs.md): ``nr_*`` files recreate the
directories below them with the files a fresh one has on the stand-in's
kernel version, numbers are parsed like ``kstrtoul(buf, 0)``, keywords are
checked against the version's vocabulary, read-only files refuse writes, and
``state`` commands validate the whole context at ``on``/``commit`` (a pid
that is not running, a memcg path that does not exist -> ENOMEM, sample >
aggr, ...), exactly where the kernel reports them.  A directory holding the
marker file :data:`MARKER` is a stand-in; :func:`damos_lang.sysfs.root.open_root`
picks it, so ``--sysfs-root`` runs the same code paths the tests do.
"""
from __future__ import annotations

import errno
import json
import os
import shutil

from .. import catalog
from ..units import UINT_MAX
from . import layout as L
from .fs import SysfsFs
from .modules import EXCLUSIVE_MODULES, enabled_path
from .read import SchemeStats, TriedRegion, read_context

MARKER = ".damos-stand-in.json"


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


_BOOL_WORDS = {"Y": True, "y": True, "1": True, "on": True,
               "N": False, "n": False, "0": False, "off": False}
# what the stand-in's counters do at each update_schemes_stats (deterministic)
_TICK = SchemeStats(nr_tried=3, sz_tried=3 << 20, nr_applied=2, sz_applied=2 << 20)
# the one region each scheme "tried" at update_schemes_tried_regions
_TRIED = TriedRegion(start=1 << 30, end=(1 << 30) + (4 << 20), nr_accesses=0, age=12)
# its hits of probe 0, 1, ...: probe P hits (P * 7 + 5) % 21 of the 20 samples of
# an aggregation, capped at them (deterministic, and apart per probe)
def _tried_hits(p: int, samples: int) -> int:
    return min((p * 7 + 5) % 21, samples, catalog.PROBE_HITS_MAX)


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
        self.module_root = cfg.get("module_root")
        self.write_log = cfg.get("write_log")

    def _log(self, rel: str, value: str) -> None:
        """With a ``write_log`` file, one JSON line per write tried (before it
        is performed, so a refused write is logged too)."""
        if self.write_log:
            with open(self.write_log, "a") as f:
                f.write(json.dumps([rel, value]) + "\n")

    @staticmethod
    def create(root: str, version=(6, 12), pids=(), memcgs=("/",),
               module_root: str | None = None, write_log: str | None = None) -> "StandIn":
        """A fresh tree; with ``module_root``, 'on' fails with EBUSY while an
        exclusive DAMON module there reads enabled Y (sysfs.md §7 trap 1); with
        ``write_log``, every later write is logged there (:meth:`_log`)."""
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, MARKER), "w") as f:
            json.dump({"version": list(version), "pids": sorted(pids),
                       "memcgs": sorted(memcgs), "module_root": module_root,
                       "write_log": write_log}, f)
        fs = StandIn(root)
        fs._populate("", L.ADMIN)
        return fs

    # -- helpers
    def _put(self, rel: str, text: str) -> None:
        p = self.path(rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text + "\n")

    def _populate(self, base: str, entity: L.Entity) -> None:
        for path, default in L.fresh(entity, self.version).items():
            self._put(f"{base}/{path}" if base else path, default)
        for row in entity.counts():
            if row.kind == L.INDEXED and row.exists_at(self.version):
                os.makedirs(self.path(f"{base}/{row.dir}"), exist_ok=True)

    def _running(self) -> list[int]:
        return [k for k in range(self._count(L.NR_KDAMONDS))
                if self.read_or(L.state_path(k)) == L.ON]

    def _count(self, rel: str) -> int:
        return int(self.read_or(rel, "0") or 0)

    # -- the kernel's write
    def write(self, rel: str, value: str) -> None:
        self._log(rel, value)
        p = self.path(rel)
        found = L.locate(rel)
        if not os.path.isfile(p) or found is None:
            raise _err(errno.ENOENT, rel)
        row = found.file
        if row.mode == L.RO:
            raise _err(errno.EACCES, rel)
        text = value[:-1] if value.endswith("\n") else value
        if row.kind == L.COUNT:
            self._write_count(rel, row, text)
        elif row.kind == L.COMMAND:
            self._state(rel, text)
        elif row.kind == L.BOOL:
            if text not in _BOOL_WORDS:
                raise _err(errno.EINVAL, rel)
            self._put(rel, "Y" if _BOOL_WORDS[text] else "N")
        elif row.kind == L.TEXT:
            # the kernel keeps the buffer as written, newline included, and
            # shows it with one more (sysfs-schemes.c memcg_path_store/_show)
            self._put(rel, value + "\n")
        elif row.kind == L.KEYWORD:
            if text not in row.vocab.at(self.version, found.scope):
                raise _err(errno.EINVAL, rel)
            self._put(rel, text)
        else:
            signed = row.kind == L.SIGNED
            try:
                n = kstrtoul(text, signed=signed, bits=32 if signed else row.parse_bits)
            except ValueError as e:
                raise _err(errno.EINVAL if row.einval else e.args[0], rel) from None
            if row.nonzero and n == 0:
                raise _err(errno.EINVAL, rel)
            self._put(rel, str(n))

    def _write_count(self, rel: str, row: L.File, text: str) -> None:
        try:
            n = kstrtoul(text, signed=True, bits=32)
        except ValueError as e:
            raise _err(e.args[0], rel) from None
        if n < 0 or (row.child is L.CONTEXT and n > 1) or (
                row.max_count is not None and n > row.max_count):
            raise _err(errno.EINVAL, rel)
        if row.child is L.KDAMOND and self._running():
            raise _err(errno.EBUSY, rel)
        base = os.path.dirname(rel)
        for c in self.listdir(base):
            if c.isdigit():
                shutil.rmtree(self.path(f"{base}/{c}"))
        for i in range(n):
            self._populate(f"{base}/{i}", row.child)
        self._put(rel, str(n))

    # -- state commands
    def _state(self, rel: str, cmd: str) -> None:
        since = L.STATE_COMMANDS.get(cmd)
        if since is None or self.version < since:
            raise _err(errno.EINVAL, rel)
        k = int(rel.split("/")[-2])
        kb = L.kdamond_dir(k)
        on = self.read(rel) == L.ON
        if cmd == L.OFF:
            if on:
                self._put(rel, L.OFF)
                self._put(L.path_of(kb, L.KDAMOND, "pid"), "-1")
                self._set_running(k, None)
            return
        if cmd != L.ON and not on:
            raise _err(errno.EINVAL, rel)
        if self._count(L.nr_contexts_path(k)) != 1:
            raise _err(errno.EINVAL, rel)
        cb = L.context_dir(k)
        if cmd == L.ON:
            if on or self._exclusive_module_runs():
                raise _err(errno.EBUSY, rel)
            self._validate(rel, cb)
            self._put(rel, L.ON)
            self._put(L.path_of(kb, L.KDAMOND, "pid"), str(4000 + k))
            self._set_running(k, [{"pid": t.pid, "state_of": t.pid}
                                  for t in read_context(self, cb).targets])
        elif cmd == L.COMMIT:
            self._validate(rel, cb, commit=True)
            self._commit_targets(rel, k, read_context(self, cb).targets)
        elif cmd == L.UPDATE_SCHEMES_STATS:
            self._tick(k)
        elif cmd in (L.UPDATE_TRIED_REGIONS, L.CLEAR_TRIED_REGIONS):
            self._tried(k, cmd == L.UPDATE_TRIED_REGIONS)

    # -- the running kdamond's targets (what the kernel holds, not its files)
    def _running_path(self, k: int) -> str:
        return os.path.join(self.root, f".damos-stand-in-running-{k}.json")

    def _set_running(self, k: int, targets: list[dict] | None) -> None:
        """Record the targets kdamond ``k`` runs (None: it stopped)."""
        if targets is None:
            if os.path.exists(self._running_path(k)):
                os.remove(self._running_path(k))
            return
        with open(self._running_path(k), "w") as f:
            json.dump(targets, f)

    def running_targets(self, k: int = 0) -> list[tuple[int | None, int | None]]:
        """(pid, state_of) of each target kdamond ``k`` runs: ``state_of`` is the
        pid whose monitoring state (regions, ages) the target holds -- its own,
        unless a commit handed it another target's by position."""
        try:
            with open(self._running_path(k)) as f:
                return [(t["pid"], t["state_of"]) for t in json.load(f)]
        except FileNotFoundError:
            return []

    def _commit_targets(self, rel: str, k: int, src) -> None:
        """damon_commit_targets(): the n-th staged target takes over the n-th
        running one (its pid changes, its monitoring state stays); an obsolete
        staged target removes the running one in its place (6.19) and is EINVAL
        where there is none; staged targets past the running ones are new."""
        dst = [{"pid": p, "state_of": s} for p, s in self.running_targets(k)]
        out = []
        for i, d in enumerate(dst):
            if i < len(src) and not src[i].obsolete:
                out.append({"pid": src[i].pid, "state_of": d["state_of"]})
        for t in src[len(dst):]:
            if t.obsolete:
                raise _err(errno.EINVAL, rel)
            out.append({"pid": t.pid, "state_of": t.pid})
        self._set_running(k, out)

    def pid_alive(self, pid: int) -> bool:
        """Whether process ``pid`` exists (the stand-in's configured pids)."""
        return pid in self.pids

    def _exclusive_module_runs(self) -> bool:
        if not self.module_root:
            return False
        for m in EXCLUSIVE_MODULES:
            try:
                with open(enabled_path(self.module_root, m)) as f:
                    if f.read().strip() == "Y":
                        return True
            except OSError:
                pass
        return False

    def _validate(self, rel: str, cb: str, commit: bool = False) -> None:
        """What the kernel checks when it builds a context at on/commit."""
        ctx = read_context(self, cb)
        iv = ctx.intervals
        if iv.sample_us > iv.aggr_us:
            raise _err(errno.EINVAL, rel)
        if ctx.nr_regions_min < 3 or ctx.nr_regions_min > ctx.nr_regions_max:
            raise _err(errno.EINVAL, rel)
        ops = catalog.OPS[ctx.ops]
        if not ops.takes_pid and len(ctx.targets) > 1:
            raise _err(errno.EINVAL, rel)
        for t in ctx.targets:
            if ops.takes_pid and t.pid not in self.pids:
                raise _err(errno.EINVAL, rel)
            last = -1
            for s, e in t.regions:
                if s >= e or s < last:
                    raise _err(errno.EINVAL, rel)
                last = e
        for s in ctx.schemes:
            for f in s.filters:
                arg = catalog.FILTER_TYPES[f.type].arg
                # paths are compared with sysfs_streq (one trailing newline ignored)
                # building a scheme fails with ENOMEM (sysfs.md §7 trap 7)
                if arg is catalog.ARG_PATH and f.memcg_path not in self.memcgs:
                    raise _err(errno.ENOMEM, rel)
                if arg is catalog.ARG_ADDR_RANGE and f.addr_end < f.addr_start:
                    raise _err(errno.ENOMEM, rel)
                if arg is catalog.ARG_SIZE_RANGE and f.sz_min > f.sz_max:
                    raise _err(errno.ENOMEM, rel)
            for g in (s.quota.goals if s.quota else ()):
                if g.path and g.path not in self.memcgs:
                    raise _err(errno.ENOMEM, rel)
        for p in ctx.probes:
            for f in p.filters:
                # damon_sysfs_memcg_path_to_id(): EINVAL (not ENOMEM) when no memcg has it
                if catalog.PROBE_FILTER_TYPES[f.type].arg is catalog.ARG_PATH and \
                        f.memcg_path not in self.memcgs:
                    raise _err(errno.EINVAL, rel)
        weights = [p.weight for p in ctx.probes]
        if commit and any(weights):
            # damon_valid_probe_params(), which only damon_commit_ctx() calls: 'on'
            # starts with any weights (and the 8-bit hits wrap)
            spa = iv.samples_per_aggr_whole
            if spa > catalog.PROBE_HITS_MAX or sum(w * spa for w in weights) > UINT_MAX:
                raise _err(errno.EINVAL, rel)

    def _schemes(self, k: int) -> list[str]:
        cb = L.context_dir(k)
        n = self._count(L.path_of(cb, L.CONTEXT, "schemes"))
        return [L.scheme_dir(k, s) for s in range(n)]

    def _tried(self, k: int, fill: bool) -> None:
        """One tried region per scheme: 4 MiB at 1 GiB, idle for 12 aggregations."""
        for sb in self._schemes(k):
            tb = L.tried_regions_dir(sb)
            for d in self.listdir(tb):
                if d.isdigit():
                    shutil.rmtree(self.path(f"{tb}/{d}"))
            if fill:
                for f in L.TRIED_REGION.files:
                    if not f.exists_at(self.version):
                        continue
                    value = getattr(_TRIED, f.stat, None) if f.stat else None
                    if value is not None:
                        self._put(f"{tb}/0/{f.path}", str(value))
                    elif f.child is L.TRIED_PROBE:
                        self._tried_probes(k, f"{tb}/0/{f.path}")

    def _tried_probes(self, k: int, base: str) -> None:
        """A tried region's probes directory: one hits file per probe of the context
        (the kernel makes the directory even when there is none)."""
        os.makedirs(self.path(base), exist_ok=True)
        cb = L.context_dir(k)
        n = self._count(L.path_of(cb, L.CONTEXT, "probes"))
        samples = read_context(self, cb).intervals.samples_per_aggr_whole
        hits = L.TRIED_PROBE.file("hits").path
        for p in range(n):
            self._put(f"{base}/{p}/{hits}", str(_tried_hits(p, samples)))

    def _tick(self, k: int) -> None:
        """update_schemes_stats: the counters move (deterministically)."""
        for sb in self._schemes(k):
            for f in L.SCHEME.files:
                step = getattr(_TICK, f.stat, 0) if f.stat else 0
                if step:
                    rel = f"{sb}/{f.path}"
                    self._put(rel, str(int(self.read(rel)) + step))
