"""Which processes ``damos run`` monitors: the ones given (``--pid``, the
``-- CMD`` it started), every process of a cgroup v2 (``--cgroup PATH``: its
``cgroup.procs``), and with ``--include-children`` their descendants.
Membership is re-read at every update interval; each process is its own
target.

Children are read from ``/proc/PID/task/*/children`` (CONFIG_PROC_CHILDREN);
on a kernel without those files, from the parent pid in every
``/proc/PID/stat`` (one pass over /proc), as ``ps --ppid`` (damo) does.
``proc`` and ``mountinfo`` let tests point at fake trees."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set


class TargetError(Exception):
    """The targets cannot be found (one line, for the user)."""


# --- cgroups ---------------------------------------------------------------------

def _mount_of(path: str, mountinfo: str) -> Optional[tuple]:
    """(mount point, filesystem type) of the mount holding ``path``."""
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    best = None
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields = left.split()
        if not sep or len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        fstype = right.split()[0] if right.split() else ""
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if best is None or len(point) >= len(best[0]):
                best = (point, fstype)
    return best


def check_cgroup(path: str, mountinfo: str = "/proc/self/mountinfo") -> str:
    """The cgroup v2 directory ``path`` (absolute, symlinks resolved), or a
    TargetError naming what is wrong: missing, cgroup v1, not a cgroup."""
    real = os.path.realpath(path)
    if not os.path.isdir(real):
        raise TargetError(f"--cgroup {path}: no such directory")
    mount = _mount_of(real, mountinfo)
    v1 = (mount is not None and mount[1] == "cgroup") or (
        os.path.exists(os.path.join(real, "tasks"))
        and not os.path.exists(os.path.join(real, "cgroup.controllers")))
    if v1:
        raise TargetError(f"--cgroup {path}: a cgroup v1 directory; --cgroup needs cgroup v2 "
                          "(the unified hierarchy, e.g. under /sys/fs/cgroup or "
                          "/sys/fs/cgroup/unified)")
    if not os.path.isfile(os.path.join(real, "cgroup.procs")):
        raise TargetError(f"--cgroup {path}: not a cgroup directory (no cgroup.procs)")
    return real


def cgroup_pids(path: str) -> List[int]:
    """The pids in ``path``/cgroup.procs (empty if it cannot be read now)."""
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for word in text.split():
        try:
            out.append(int(word))
        except ValueError:
            pass
    return out


# --- children ----------------------------------------------------------------------

def _children_files(pid: int, proc: str) -> Optional[List[int]]:
    """Children of ``pid`` from /proc/PID/task/*/children; None when the
    kernel has no such files (or the process is gone: then [])."""
    task = os.path.join(proc, str(pid), "task")
    try:
        tids = sorted(os.listdir(task), key=lambda t: int(t) if t.isdigit() else 0)
    except OSError:
        return []
    out: List[int] = []
    seen_file = False
    for tid in tids:
        try:
            with open(os.path.join(task, tid, "children")) as f:
                text = f.read()
        except FileNotFoundError:
            continue
        except OSError:
            continue
        seen_file = True
        out.extend(int(w) for w in text.split() if w.isdigit())
    if not seen_file and tids:
        return None
    return out


def parent_map(proc: str = "/proc") -> Dict[int, List[int]]:
    """ppid -> children pids, from every /proc/PID/stat."""
    kids: Dict[int, List[int]] = {}
    try:
        names = os.listdir(proc)
    except OSError:
        return kids
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat")) as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        rest = stat[stat.rfind(")") + 2:].split()
        if len(rest) >= 2 and rest[1].isdigit():
            kids.setdefault(int(rest[1]), []).append(int(name))
    return kids


def descendants(roots: Iterable[int], proc: str = "/proc") -> List[tuple]:
    """Every descendant of ``roots`` (children, their children, ...) as
    (pid, parent pid), in the order found, without the roots themselves."""
    roots = list(roots)
    found: List[tuple] = []
    seen: Set[int] = set(roots)
    queue = list(roots)
    kids_of = None
    while queue:
        pid = queue.pop(0)
        kids = None if kids_of is not None else _children_files(pid, proc)
        if kids is None:
            if kids_of is None:
                kids_of = parent_map(proc)
            kids = kids_of.get(pid, [])
        for k in kids:
            if k not in seen:
                seen.add(k)
                found.append((k, pid))
                queue.append(k)
    return found


# --- names -------------------------------------------------------------------------

def describe(pid: int, proc: str = "/proc", width: int = 60) -> str:
    """The process's command line (or its comm), cut to ``width``."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as f:
            words = [w.decode(errors="replace") for w in f.read().split(b"\0") if w]
    except OSError:
        words = []
    text = " ".join(" ".join(words).split())      # one line: no newlines or tabs
    if not text:
        try:
            with open(os.path.join(proc, str(pid), "comm")) as f:
                text = f"[{f.read().strip()}]"
        except OSError:
            text = "?"
    return text if len(text) <= width else text[:width - 3] + "..."


@dataclass
class TargetInfo:
    """One target of a run: what it is, why it is one, when it came and went."""

    pid: int
    name: str
    origin: str                    # "--pid", "command", "cgroup PATH", "child of N"
    start_us: int = 0
    end_us: Optional[int] = None
    end: Optional[str] = None      # why it dropped out (None: monitored to the end)

    def as_dict(self) -> dict:
        return {"id": self.pid, "name": self.name, "origin": self.origin,
                "start_us": self.start_us, "end_us": self.end_us, "end": self.end}


class Membership:
    """The processes a run should monitor now: ``roots`` (given), the
    cgroup's processes, and the descendants of both with ``children``."""

    def __init__(self, roots: Sequence[int], origin: str = "--pid",
                 cgroup: Optional[str] = None, children: bool = False,
                 proc: str = "/proc") -> None:
        self.roots = list(roots)
        self.root_origin = origin
        self.cgroup = cgroup
        self.children = children
        self.proc = proc

    def scan(self, current: Sequence[int] = ()) -> Dict[int, str]:
        """pid -> origin of every process that belongs now.  With children,
        the descendants of ``current`` targets count too (a child whose parent
        exited is re-parented, but stays a target)."""
        want: Dict[int, str] = {}
        for pid in self.roots:
            want[pid] = self.root_origin
        if self.cgroup is not None:
            for pid in cgroup_pids(self.cgroup):
                want.setdefault(pid, f"cgroup {self.cgroup}")
        if self.children:
            parents = list(dict.fromkeys([*want, *current]))
            for kid, parent in descendants(parents, self.proc):
                want.setdefault(kid, f"child of {parent}")
        return want
