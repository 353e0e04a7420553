"""``damos apply`` / ``update`` / ``stop``: the sysfs write plan performed
directly on a live tree, all or nothing.

The writes are :func:`damos_lang.sysfs.plan.plan_for`'s -- the same list
the ``sysfs`` script target writes -- for the kdamond slot used.  Every
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
from dataclasses import dataclass, replace

from .. import catalog, model
from ..catalog import vstr
from ..errors import DamosError
from ..sysfs import layout as L
from ..sysfs.plan import Write, plan, plan_for
from ..sysfs.probe import command_feature, feature_of_path, missing_features, probe
from ..sysfs.read import kdamonds, normalize, nr_schemes, read_context, read_stats
from ..sysfs.root import tree
from ..sysfs.standin import StandIn
from . import exclusive
from .owners import Owners

RETRIES = 5


@dataclass
class Entry:
    path: str
    old: str | None


def _row(path: str):
    found = L.locate(path)
    return found.file if found else None


def _is_count(path: str) -> bool:
    row = _row(path)
    return row is not None and row.kind == L.COUNT


def _retries(path: str) -> bool:
    row = _row(path)
    return row is not None and row.retry


def _why(e: OSError, w: Write, fs) -> str:
    """The kernel's error in words, with what it usually means there."""
    code = e.errno
    words = os.strerror(code) if code else str(e)
    row = _row(w.path)
    hint = ""
    if code == errno.ENOENT:
        feat = feature_of_path(w.path)
        hint = "; this kernel lacks the file"
        if feat:
            hint = f"; this kernel lacks {feat[0]} (first in Linux {vstr(feat[1])})"
    elif code in (errno.EACCES, errno.EPERM):
        hint = "; DAMON's files are writable by root only (run with sudo)"
    elif row is not None and row.kind == L.COMMAND and w.value in (L.ON, L.COMMIT):
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
    elif code == errno.EINVAL and row is not None and row.kind == L.KEYWORD:
        since = row.vocab.since(w.value)
        hint = f"; this kernel does not know the {row.vocab.label} '{w.value}'"
        if since:
            hint += f" (first in Linux {vstr(since)})"
    elif code == errno.EBUSY:
        hint = "; another writer holds DAMON's lock, or a kdamond runs"
    return words + hint


class Transaction:
    """Writes with a journal; :meth:`undo` puts back what they changed."""

    def __init__(self, fs, sleep=time.sleep):
        self.fs = fs
        self.journal: list[Entry] = []
        self.started: str | None = None    # the state file turned on
        self.sleep = sleep

    def write(self, w: Write) -> None:
        fs = self.fs
        if not fs.exists(w.path):
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), w.path)
        row = _row(w.path)
        is_state = row is not None and row.kind == L.COMMAND
        old = None if is_state else fs.read_or(w.path)
        tries = 0
        while True:
            try:
                fs.write(w.path, w.value)
                break
            except OSError as e:
                tries += 1
                if e.errno == errno.EBUSY and _retries(w.path) and tries < RETRIES:
                    self.sleep(0.2)
                    continue
                raise
        if is_state:
            if w.value == L.ON:
                self.started = w.path
        else:
            self.journal.append(Entry(w.path, old))

    def undo(self) -> list[str]:
        """Restore; returns what could not be restored (empty when all was)."""
        problems = []
        fs = self.fs
        if self.started:
            try:
                fs.write(self.started, L.OFF)
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
            if _is_count(ent.path):
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

def check_root(fs) -> None:
    if isinstance(fs, StandIn):
        return
    f = fs.path(L.NR_KDAMONDS)
    if not os.access(f, os.W_OK):
        who = "root" if os.geteuid() != 0 else "a writer"
        raise DamosError(f"cannot write {f}: DAMON's sysfs files are writable by {who} only; "
                         "run as root (sudo damos ...)")


def choose_slot(fs) -> tuple[int, bool]:
    """(kdamond index, whether the kdamond count must be written to create it)."""
    ks = kdamonds(fs)
    if not ks:
        return 0, True
    for k in ks:
        if k.state == L.OFF and k.nr_contexts == 0:
            return k.index, False
    owners = Owners(fs)

    def why(k):
        mine = owners.owns(fs, k)
        text = f"kdamond {k.index} is {k.state}" + (f" (pid {k.pid})" if k.state == L.ON
                                                    else " with a context")
        if not mine:
            return text + ", not started by damos-lang"
        if k.state != L.ON:
            return text + f" (damos-lang's, its target gone: 'damos stop {k.index}' clears it)"
        return text
    desc = "; ".join(why(k) for k in ks)
    raise DamosError(f"no free kdamond: {desc}. A new one needs a write to {L.NR_KDAMONDS}, which "
                     "recreates every kdamond directory and would wipe their settings (the "
                     "kernel also refuses it while one runs); refusing to touch them. "
                     "Stop yours with 'damos stop', or free a slot")


def apply(unit, options=None, *, root: str | None = None, module_root: str | None = None,
          sleep=time.sleep, stop_damon_stat: bool = False) -> dict:
    """Start one kdamond running ``unit``; returns its ownership record.

    ``module_root`` is the /sys/module of the kernel (None: no DAMON modules to
    look at, as with a stand-in tree).  With ``stop_damon_stat``, a running
    DAMON_STAT is stopped first (and started again if the apply fails); its
    ownership record remembers it, so that :func:`stop` starts it again."""
    fs = tree(root)
    check_root(fs)
    stat_runs = exclusive.refuse_unless_free(module_root, stop_damon_stat)
    plan_for(unit, options)      # a plan that cannot be made fails before anything is read
    missing = missing_features(unit.context, probe(fs), fs)
    if missing:
        raise DamosError("this kernel cannot run the file: " + "; ".join(missing))
    slot, create = choose_slot(fs)
    writes = plan_for(unit, options, kdamond=slot, create=create)
    if stat_runs:
        exclusive.stop_damon_stat(module_root, sleep)
    tx = Transaction(fs, sleep)

    def undo_all(problems: list) -> list:
        if stat_runs:
            why = exclusive.start_damon_stat(module_root)
            if why:
                problems = problems + [f"DAMON_STAT was stopped and could not be started "
                                       f"again: {why}"]
        return problems
    try:
        tx.run(writes)
    except DamosError as e:
        problems = undo_all([])
        if problems:
            e.diagnostic.message += "\n" + "; ".join(problems)
        elif stat_runs:
            e.diagnostic.message += "\nDAMON_STAT was started again"
        raise
    state = fs.read_or(L.state_path(slot), "?")
    if state != L.ON:
        problems = undo_all(tx.undo())
        raise DamosError(f"kdamond {slot} is not running after 'on' (state: {state}); its "
                         "target process may have exited" + ("; " + "; ".join(problems)
                                                             if problems else ""))
    kpid = kdamonds(fs)[slot].pid
    ctx = unit.context
    info = {"kdamond_pid": kpid, "ops": ctx.ops, "source": unit.source_name,
            "source_path": _source_path(unit), "targets": [t.pid for t in ctx.targets], "created_slot": create,
            "started": time.time(), "stopped_damon_stat": stat_runs}
    owners = Owners(fs)
    try:
        owners.record(slot, info)
    except OSError as e:
        # a kdamond nobody could stop or update later: undo it too
        problems = undo_all(tx.undo())
        raise DamosError(f"cannot record the kdamond in {owners.path}: {e.strerror}; "
                         "it was stopped and removed again"
                         + ("; " + "; ".join(problems) if problems else "")) from None
    return {"index": slot, **info}


def _source_path(unit) -> str | None:
    """The file's absolute path (None for text that is not a file): how
    ``apply --ensure`` knows the kdamond a file started, whatever the cwd."""
    name = unit.source_name
    return os.path.realpath(name) if name and os.path.isfile(name) else None


# -- update and stop --------------------------------------------------------------

def owned_kdamond(fs, index: int | None, running: bool = True):
    owners = Owners(fs)
    mine = [k for k in kdamonds(fs) if owners.owns(fs, k)]
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
    if running and k.state != L.ON:
        raise DamosError(f"kdamond {k.index} is off (its target may have exited); "
                         "'commit' needs a running kdamond: use 'damos apply'")
    return k


def update(unit, options=None, *, root: str | None = None, index: int | None = None,
           sleep=time.sleep) -> dict:
    """Commit ``unit`` to a running kdamond damos-lang started (online)."""
    fs = tree(root)
    check_root(fs)
    k = owned_kdamond(fs, index)
    owners = Owners(fs)
    info = owners.get(k.index)
    cb = L.context_dir(k.index)
    pr = probe(fs)
    feature, since = command_feature(L.COMMIT)
    # avail_operations came with commit (5.19): without it, ask the release
    if not fs.exists(L.path_of(cb, L.CONTEXT, L.AVAIL_OPERATIONS.path)) \
            and pr.release is not None and pr.release < since:
        raise DamosError(f"this kernel has no '{L.COMMIT}' (first in Linux {vstr(since)})")
    ctx = unit.context
    if catalog.OPS[ctx.ops].takes_pid and not ctx.targets and info.get("targets"):
        ctx = replace(ctx, targets=tuple(model.Target(p) for p in info["targets"]))
        unit = replace(unit, context=ctx)
    missing = missing_features(ctx, pr, fs)
    if missing:
        raise DamosError("this kernel cannot run the file: " + "; ".join(missing))
    old = read_context(fs, cb)
    writes = plan_for(unit, options, kdamond=k.index, create=False, final=L.COMMIT)
    tx = Transaction(fs, sleep)
    try:
        tx.run(writes)
    except DamosError:
        # put the files back as the running kdamond has them (it kept running)
        Transaction(fs, sleep).run(plan(old, kdamond=k.index, create=False, final=None))
        raise
    pid = kdamonds(fs)[k.index].pid
    info.update(ops=ctx.ops, source=unit.source_name, targets=[t.pid for t in ctx.targets])
    owners.record(k.index, info)
    return {"index": k.index, "kdamond_pid": pid}


def stop(*, root: str | None = None, index: int | None = None,
         module_root: str | None = None) -> list[dict]:
    """Stop kdamonds damos-lang started (``index``, or every one); read their
    last stats first; leave their slots free (no context).  When one of them
    stopped DAMON_STAT and none of damos-lang's kdamonds that did is left, start
    DAMON_STAT again (each result's ``damon_stat`` says what happened)."""
    fs = tree(root)
    check_root(fs)
    owners = Owners(fs)
    if index is None:
        targets = [k for k in kdamonds(fs) if owners.owns(fs, k)]
        if not targets:
            raise DamosError("no kdamond started by damos-lang is there")
    else:
        targets = [owned_kdamond(fs, index, running=False)]
    out = []
    for k in targets:
        state = L.state_path(k.index)
        stats = []
        if k.state == L.ON:
            try:
                fs.write(state, L.UPDATE_SCHEMES_STATS)
            except OSError:
                pass
            n = nr_schemes(fs, L.context_dir(k.index))
            stats = [read_stats(fs, L.scheme_dir(k.index, s)).as_dict() for s in range(n)]
            try:
                fs.write(state, L.OFF)
            except OSError as e:
                raise DamosError(f"failed to write '{L.OFF}' to {fs.path(state)}: "
                                 f"{e.strerror}") from None
        try:
            fs.write(L.nr_contexts_path(k.index), "0")
        except OSError:
            pass
        info = owners.get(k.index) or {}
        owners.forget(k.index)
        out.append({"index": k.index, "kdamond_pid": k.pid, "stats": stats,
                    "stopped_damon_stat": bool(info.get("stopped_damon_stat"))})
        # the slot this command created goes away again when nothing else is there
        rest = kdamonds(fs)
        if info.get("created_slot") and all(x.state == L.OFF and x.nr_contexts == 0
                                            for x in rest) and len(rest) == k.index + 1 \
                and k.index == 0:
            try:
                fs.write(L.NR_KDAMONDS, "0")
            except OSError:
                pass
    if any(d["stopped_damon_stat"] for d in out):
        still = [k for k in kdamonds(fs) if owners.owns(fs, k)
                 and (owners.get(k.index) or {}).get("stopped_damon_stat")]
        if still:
            note = ("left stopped: damos-lang's kdamond "
                    f"{', '.join(str(k.index) for k in still)} still needs it stopped")
        elif module_root is None:
            note = "left stopped: no module tree to start it in"
        else:
            why = exclusive.start_damon_stat(module_root)
            note = "started again" if why is None else f"left stopped: {why}"
        for d in out:
            if d["stopped_damon_stat"]:
                d["damon_stat"] = note
    return out


# -- apply --ensure -----------------------------------------------------------------

UNCHANGED, UPDATED, APPLIED = "unchanged", "updated", "applied"


def _of_file(info: dict, unit) -> bool:
    """Whether the ownership record ``info`` is of the file ``unit`` came from."""
    path = _source_path(unit)
    if path is not None and info.get("source_path"):
        return info["source_path"] == path
    return info.get("source") == unit.source_name


def _comparable(ctx: model.Context) -> model.Context:
    """``ctx`` as the kernel stores it, less what a running kdamond changes by
    itself: with an intervals goal the kernel tunes sample and aggr, and the
    files show the tuned values once refreshed."""
    ctx = normalize(ctx)
    if ctx.intervals_goal is not None:
        ctx = replace(ctx, intervals=replace(ctx.intervals, sample_us=0, aggr_us=0))
    return ctx


def wanted_context(unit, info: dict | None) -> model.Context:
    """The context ``update`` would commit: a pid-taking file without a target
    keeps the running kdamond's targets."""
    ctx = unit.context
    if catalog.OPS[ctx.ops].takes_pid and not ctx.targets and info and info.get("targets"):
        ctx = replace(ctx, targets=tuple(model.Target(p) for p in info["targets"]))
    return ctx


def ensure(unit, options=None, *, root: str | None = None, module_root: str | None = None,
           sleep=time.sleep, stop_damon_stat: bool = False) -> dict:
    """Converge the tree on ``unit``: ``action`` is :data:`UNCHANGED` when the
    kdamond this file started runs it as written (then nothing is written, not
    even a state command), :data:`UPDATED` when it runs something else (the
    difference is committed online, as ``update`` does), :data:`APPLIED` when
    no kdamond of this file runs (as ``apply`` does; one of this file whose
    target exited is cleared first)."""
    fs = tree(root)
    owners = Owners(fs)
    mine = [k for k in kdamonds(fs)
            if owners.owns(fs, k) and _of_file(owners.get(k.index) or {}, unit)]
    if len(mine) > 1:
        raise DamosError(f"{unit.source_name} started several kdamonds "
                         f"({', '.join(str(k.index) for k in mine)}); stop all but one "
                         "('damos stop ID')")
    if mine:
        k = mine[0]
        if k.state == L.ON:
            info = owners.get(k.index)
            have = read_context(fs, L.context_dir(k.index))
            if _comparable(have) == _comparable(wanted_context(unit, info)):
                return {"action": UNCHANGED, "index": k.index, "kdamond_pid": k.pid}
            res = update(unit, options, root=root, index=k.index, sleep=sleep)
            return {"action": UPDATED, **res}
        check_root(fs)
        stop(root=root, index=k.index, module_root=module_root)
    info = apply(unit, options, root=root, module_root=module_root, sleep=sleep,
                 stop_damon_stat=stop_damon_stat)
    return {"action": APPLIED, **info}
