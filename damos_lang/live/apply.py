"""``damos apply`` / ``update`` / ``stop``: the sysfs write plan performed
directly on a live tree, all or nothing.

The writes are :func:`damos_lang.sysfs_writes.plan_for`'s -- the same list
the ``sysfs`` script target writes -- moved to the kdamond slot used.  Every
write is journalled with the file's previous value; on any failure,
including an error that only shows at ``on`` or ``commit``, the journal is
undone in reverse: a started kdamond is turned off, and each ``nr_*`` file
that was changed gets its old number back (which removes every directory
the apply created, so the leaf files below need no restoring).  The tree is
then as it was before, and the error names the file, the value and the
kernel's errno in words.

Which kdamond: a slot this command creates (``nr_kdamonds`` 0 -> 1) or a free
one (off, with no context).  A kdamond that runs, or that holds someone's
context, is never written: writing ``nr_kdamonds`` would recreate every
kdamond directory and wipe them, so then the apply refuses and says why.
"""
from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass

from .. import catalog
from ..catalog import vstr
from ..errors import DamosError
from ..sysfs_writes import Write, plan_for
from . import tree as T
from .fs import MODULE_ROOT, StandIn, SysfsFs

EXCLUSIVE_MODULES = ("damon_stat", "damon_reclaim", "damon_lru_sort")
# files written under the kernel's trylock: -EBUSY means "try again"
RETRY_NAMES = {"nr_kdamonds", "nr_contexts", "nr_targets", "nr_regions", "nr_schemes",
               "nr_filters", "nr_goals", "nr_dests", "memcg_path", "path"}
RETRIES = 5
KEYWORD_FILES = {"action": "action", "type": "filter type", "target_metric": "goal metric",
                 "operations": "operations set", "metric": "watermark metric",
                 "goal_tuner": "goal tuner"}


@dataclass
class Entry:
    path: str
    old: str | None


def _is_nr(path: str) -> bool:
    return os.path.basename(path).startswith("nr_")


def move_to_slot(writes: list[Write], slot: int, create: bool) -> list[Write]:
    """The plan for kdamond ``slot``; without ``create`` the existing slot is
    used as it is (no ``nr_kdamonds`` write)."""
    out = []
    for w in writes:
        if w.path == "kdamonds/nr_kdamonds":
            if create:
                out.append(w)
            continue
        path = w.path
        if path.startswith("kdamonds/0/"):
            path = f"kdamonds/{slot}/" + path[len("kdamonds/0/"):]
        what = w.what.replace("kdamond 0", f"kdamond {slot}")
        out.append(Write(path, w.value, what))
    return out


def _why(e: OSError, w: Write, fs: SysfsFs) -> str:
    """The kernel's error in words, with what it usually means there."""
    code = e.errno
    words = os.strerror(code) if code else str(e)
    name = os.path.basename(w.path)
    hint = ""
    if code == errno.ENOENT:
        feat = T.feature_of_path(w.path)
        hint = "; this kernel lacks the file"
        if feat in T.SINCE:
            hint = f"; this kernel lacks {feat} (first in Linux {vstr(T.SINCE[feat])})"
    elif code in (errno.EACCES, errno.EPERM):
        hint = "; DAMON's files are writable by root only (run with sudo)"
    elif name == "state" and w.value in ("on", "commit"):
        if code == errno.ENOMEM:
            hint = ("; building a scheme failed at '" + w.value + "': usually a memcg path that "
                    "does not exist, or a filter range whose end is below its start "
                    "(the kernel reports those as ENOMEM)")
        elif code == errno.EINVAL:
            hint = ("; the kernel checks every value at '" + w.value + "': a target pid that is "
                    "not running, sample > aggr, nr_regions min < 3 or min > max, "
                    "unsorted regions, or a missing goal path")
        elif code == errno.EBUSY:
            hint = ("; another DAMON user runs exclusively (DAMON_RECLAIM, DAMON_LRU_SORT, "
                    "DAMON_STAT) or the kdamond is already running")
    elif code == errno.EINVAL and name in KEYWORD_FILES:
        since = _keyword_since(name, w.value)
        hint = f"; this kernel does not know the {KEYWORD_FILES[name]} '{w.value}'"
        if since:
            hint += f" (first in Linux {vstr(since)})"
    elif code == errno.EBUSY:
        hint = "; another writer holds DAMON's lock, or a kdamond runs"
    return words + hint


def _keyword_since(name: str, value: str):
    table = {"action": catalog.ACTIONS, "type": catalog.FILTER_TYPES,
             "target_metric": catalog.GOAL_METRICS}.get(name)
    rec = table.get(value) if table else None
    return getattr(rec, "since", None)


class Transaction:
    """Writes with a journal; :meth:`undo` puts back what they changed."""

    def __init__(self, fs: SysfsFs, sleep=time.sleep):
        self.fs = fs
        self.journal: list[Entry] = []
        self.started: str | None = None    # the state file turned on
        self.sleep = sleep

    def write(self, w: Write) -> None:
        fs = self.fs
        if not fs.exists(w.path):
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), w.path)
        name = os.path.basename(w.path)
        old = None if name == "state" else fs.read_or(w.path)
        tries = 0
        while True:
            try:
                fs.write(w.path, w.value)
                break
            except OSError as e:
                tries += 1
                if e.errno == errno.EBUSY and (name in RETRY_NAMES or name == "state") \
                        and tries < RETRIES:
                    self.sleep(0.2)
                    continue
                raise
        if name == "state":
            if w.value == "on":
                self.started = w.path
        else:
            self.journal.append(Entry(w.path, old))

    def undo(self) -> list[str]:
        """Restore; returns what could not be restored (empty when all was)."""
        problems = []
        fs = self.fs
        if self.started:
            try:
                fs.write(self.started, "off")
            except OSError as e:
                problems.append(f"could not turn {fs.path(self.started)} off: {e.strerror}")
            self.started = None
        # a directory recreated by an nr_* write goes away when that write is undone
        recreated: list[str] = []
        keep = []
        for ent in self.journal:
            if any(ent.path.startswith(d + "/") for d in recreated):
                continue
            keep.append(ent)
            if _is_nr(ent.path):
                recreated.append(os.path.dirname(ent.path))
        for ent in reversed(keep):
            if ent.old is None:
                continue
            for attempt in range(RETRIES):
                try:
                    fs.write(ent.path, ent.old)
                    break
                except OSError as e:
                    if e.errno == errno.EBUSY and attempt + 1 < RETRIES:
                        self.sleep(0.2)
                        continue
                    problems.append(f"could not restore {fs.path(ent.path)} to "
                                    f"'{ent.old}': {e.strerror}")
                    break
        self.journal = []
        return problems

    def run(self, writes: list[Write]) -> None:
        """Perform ``writes`` in order; on a failure undo and raise DamosError."""
        for w in writes:
            try:
                self.write(w)
            except OSError as e:
                problems = self.undo()
                msg = (f"failed to write '{w.value}' to {self.fs.path(w.path)} ({w.what}): "
                       f"{_why(e, w, self.fs)}")
                if problems:
                    msg += "\nthe undo was incomplete: " + "; ".join(problems)
                else:
                    msg += "\nnothing was changed: every write before it was undone"
                raise DamosError(msg) from None


# -- pre-flight -----------------------------------------------------------------

def check_root(fs: SysfsFs) -> None:
    if isinstance(fs, StandIn):
        return
    f = fs.path("kdamonds/nr_kdamonds")
    if not os.access(f, os.W_OK):
        who = "root" if os.geteuid() != 0 else "a writer"
        raise DamosError(f"cannot write {f}: DAMON's sysfs files are writable by {who} only; "
                         "run as root (sudo damos ...)")


def check_exclusive(module_root: str) -> None:
    for m in EXCLUSIVE_MODULES:
        f = os.path.join(module_root, m, "parameters", "enabled")
        try:
            with open(f) as fh:
                on = fh.read().strip() == "Y"
        except OSError:
            continue
        if on:
            raise DamosError(f"{m} is running DAMON exclusively, so a sysfs kdamond cannot "
                             f"start; stop it first (echo N > {f})")


def choose_slot(fs: SysfsFs) -> tuple[int, bool]:
    """(kdamond index, whether nr_kdamonds must be written to create it)."""
    ks = T.kdamonds(fs)
    if not ks:
        return 0, True
    for k in ks:
        if k.state == "off" and k.nr_contexts == 0:
            return k.index, False
    owners = T.Owners(fs)
    def why(k):
        mine = owners.owns(fs, k)
        text = f"kdamond {k.index} is {k.state}" + (f" (pid {k.pid})" if k.state == "on"
                                                    else " with a context")
        if not mine:
            return text + ", not started by damos-lang"
        if k.state != "on":
            return text + f" (damos-lang's, its target gone: 'damos stop {k.index}' clears it)"
        return text
    desc = "; ".join(why(k) for k in ks)
    raise DamosError(f"no free kdamond: {desc}. A new one needs a write to nr_kdamonds, which "
                     "recreates every kdamond directory and would wipe their settings (the "
                     "kernel also refuses it while one runs); refusing to touch them. "
                     "Stop yours with 'damos stop', or free a slot")


def _plan(unit, options) -> list[Write]:
    return plan_for(unit, options)


def apply(unit, options=None, *, root: str | None = None, module_root: str = MODULE_ROOT,
          sleep=time.sleep) -> dict:
    """Start one kdamond running ``unit``; returns its ownership record."""
    fs = T.tree(root)
    check_root(fs)
    check_exclusive(module_root)
    writes = _plan(unit, options)
    missing = T.missing_features(unit.context, T.probe(fs), fs)
    if missing:
        raise DamosError("this kernel cannot run the file: " + "; ".join(missing))
    slot, create = choose_slot(fs)
    writes = move_to_slot(writes, slot, create)
    tx = Transaction(fs, sleep)
    tx.run(writes)
    state_path = f"kdamonds/{slot}/state"
    state = fs.read_or(state_path, "?")
    if state != "on":
        problems = tx.undo()
        raise DamosError(f"kdamond {slot} is not running after 'on' (state: {state}); its "
                         "target process may have exited" + ("; " + "; ".join(problems)
                                                             if problems else ""))
    kpid = int(fs.read_or(f"kdamonds/{slot}/pid", "-1"))
    ctx = unit.context
    info = {"kdamond_pid": kpid, "ops": ctx.ops, "source": unit.source_name,
            "targets": [t.pid for t in ctx.targets], "created_slot": create,
            "started": time.time()}
    owners = T.Owners(fs)
    try:
        owners.record(slot, info)
    except OSError as e:
        # a kdamond nobody could stop or update later: undo it too
        problems = tx.undo()
        raise DamosError(f"cannot record the kdamond in {owners.path}: {e.strerror}; "
                         "it was stopped and removed again"
                         + ("; " + "; ".join(problems) if problems else "")) from None
    return {"index": slot, **info}


# -- update and stop --------------------------------------------------------------

def owned_kdamond(fs: SysfsFs, index: int | None, running: bool = True) -> T.Kdamond:
    owners = T.Owners(fs)
    mine = [k for k in T.kdamonds(fs) if owners.owns(fs, k)]
    if index is not None:
        for k in mine:
            if k.index == index:
                break
        else:
            raise DamosError(f"kdamond {index} was not started by damos-lang (or no longer "
                             "exists); refusing to touch it")
    elif len(mine) == 1:
        k = mine[0]
    elif not mine:
        raise DamosError("no kdamond started by damos-lang is there")
    else:
        raise DamosError("several kdamonds were started by damos-lang: give the one to use "
                         f"({', '.join(str(k.index) for k in mine)})")
    if running and k.state != "on":
        raise DamosError(f"kdamond {k.index} is off (its target may have exited); "
                         "'commit' needs a running kdamond: use 'damos apply'")
    return k


def update(unit, options=None, *, root: str | None = None, index: int | None = None,
           sleep=time.sleep) -> dict:
    """Commit ``unit`` to a running kdamond damos-lang started (online)."""
    fs = T.tree(root)
    check_root(fs)
    k = owned_kdamond(fs, index)
    owners = T.Owners(fs)
    info = owners.get(k.index)
    cb = f"kdamonds/{k.index}/contexts/0"
    pr = T.probe(fs)
    if not fs.exists(f"{cb}/avail_operations") and pr.release is not None \
            and pr.release < (5, 19):
        raise DamosError("this kernel has no 'commit' (first in Linux 5.19)")
    ctx = unit.context
    if catalog.OPS[ctx.ops].takes_pid and not ctx.targets and info.get("targets"):
        from dataclasses import replace
        from .. import model
        ctx = replace(ctx, targets=tuple(model.Target(p) for p in info["targets"]))
        unit = replace(unit, context=ctx)
    missing = T.missing_features(ctx, pr, fs)
    if missing:
        raise DamosError("this kernel cannot run the file: " + "; ".join(missing))
    old = T.read_context(fs, cb)
    writes = [w for w in move_to_slot(_plan(unit, options), k.index, False)
              if not w.path.endswith(("nr_kdamonds", "contexts/nr_contexts"))]
    writes[-1] = Write(writes[-1].path, "commit", f"commit to kdamond {k.index}")
    tx = Transaction(fs, sleep)
    try:
        tx.run(writes)
    except DamosError:
        # put the files back as the running kdamond has them (it kept running)
        restore = [w for w in move_to_slot(_plan(_unit_of(old), None), k.index, False)
                   if not w.path.endswith(("nr_kdamonds", "contexts/nr_contexts", "/state"))]
        Transaction(fs, sleep).run(restore)
        raise
    pid = int(fs.read_or(f"kdamonds/{k.index}/pid", "-1"))
    info.update(ops=ctx.ops, source=unit.source_name, targets=[t.pid for t in ctx.targets])
    owners.record(k.index, info)
    return {"index": k.index, "kdamond_pid": pid}


def _unit_of(ctx):
    """A bare Unit around a context read back from the tree."""
    from ..ir import Program
    from ..pipeline import Unit
    from ..source import Source
    return Unit(Source("<kernel>", "", "damos"), Program(), ctx)


def stop(*, root: str | None = None, index: int | None = None) -> list[dict]:
    """Stop kdamonds damos-lang started (``index``, or every one); read their
    last stats first; leave their slots free (no context)."""
    fs = T.tree(root)
    check_root(fs)
    owners = T.Owners(fs)
    if index is None:
        targets = [k for k in T.kdamonds(fs) if owners.owns(fs, k)]
        if not targets:
            raise DamosError("no kdamond started by damos-lang is there")
    else:
        targets = [owned_kdamond(fs, index, running=False)]
    out = []
    for k in targets:
        kb = f"kdamonds/{k.index}"
        stats = []
        if k.state == "on":
            try:
                fs.write(f"{kb}/state", "update_schemes_stats")
            except OSError:
                pass
            n = int(fs.read_or(f"{kb}/contexts/0/schemes/nr_schemes", "0"))
            stats = [T.read_stats(fs, f"{kb}/contexts/0/schemes/{s}") for s in range(n)]
            try:
                fs.write(f"{kb}/state", "off")
            except OSError as e:
                raise DamosError(f"failed to write 'off' to {fs.path(kb + '/state')}: "
                                 f"{e.strerror}") from None
        try:
            fs.write(f"{kb}/contexts/nr_contexts", "0")
        except OSError:
            pass
        info = owners.get(k.index) or {}
        owners.forget(k.index)
        out.append({"index": k.index, "kdamond_pid": k.pid, "stats": stats})
        # the slot this command created goes away again when nothing else is there
        rest = T.kdamonds(fs)
        if info.get("created_slot") and all(x.state == "off" and x.nr_contexts == 0
                                            for x in rest) and len(rest) == k.index + 1 \
                and k.index == 0:
            try:
                fs.write("kdamonds/nr_kdamonds", "0")
            except OSError:
                pass
    return out
