"""Actuators: what a scheme's action does to the target.

* :class:`MadviseActuator`: ``process_madvise(2)`` on a pidfd (so PID reuse
  cannot redirect it), one iovec per region piece, the pieces being the
  region cut at the VMA boundaries of /proc/PID/maps read at the start of
  every apply pass: a hole between mappings is never advised (and cannot
  turn the call into -ENOMEM), nothing outside the current mappings is
  touched.  Special mappings ([vvar], [vdso], [vsyscall]) are left out.  A
  piece the kernel refuses (e.g. -EINVAL on a VM_LOCKED or hugetlb VMA) is
  skipped and the rest of the batch goes on.
* :class:`SimulatorActuator`: changes the simulator's state (pageout pages
  out, willneed pages in, cold is recorded).
* ``dry_run`` on either: everything but the change; the bytes that would be
  advised are counted as applied (the summary says "dry run").
Both return the bytes advised, as the kernel's vaddr does (all or nothing
per piece)."""
from __future__ import annotations

import ctypes
import errno
import os
from typing import Dict, List, Sequence, Tuple

from .. import catalog
from ..monitor.maps import parse_maps

PAGE = 4096
IOV_MAX = 1024
NR_PROCESS_MADVISE = 440                 # x86-64, arm64 and the generic table
SPECIAL = ("[vvar]", "[vdso]", "[vsyscall]", "[vvar_vclock]")

Range = Tuple[int, int]


class ActionError(Exception):
    """The action cannot be applied at all (no permission, no syscall)."""


def intersect(ranges: Sequence[Range], vmas: Sequence[Range]) -> List[Range]:
    """The parts of ``ranges`` inside ``vmas`` (both sorted), cut at every VMA
    boundary, page aligned inwards."""
    out = []
    j = 0
    for start, end in ranges:
        while j < len(vmas) and vmas[j][1] <= start:
            j += 1
        k = j
        while k < len(vmas) and vmas[k][0] < end:
            lo = max(start, vmas[k][0])
            hi = min(end, vmas[k][1])
            lo = (lo + PAGE - 1) // PAGE * PAGE
            hi = hi // PAGE * PAGE
            if hi > lo:
                out.append((lo, hi))
            k += 1
    return out


def read_vmas(pid: int, root: str = "/") -> List[Range]:
    """(start, end) of the process's mappings except special ones, sorted."""
    with open(os.path.join(root, "proc", str(pid), "maps")) as f:
        return parse_maps(f.read(), skip=SPECIAL)


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


_libc = None


def _syscall():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc.syscall


def process_madvise(pidfd: int, ranges: Sequence[Range], advice: int) -> int:
    """One process_madvise(2) call; returns the bytes advised or raises OSError."""
    iov = (_IoVec * len(ranges))(*[_IoVec(s, e - s) for s, e in ranges])
    ret = _syscall()(ctypes.c_long(NR_PROCESS_MADVISE), ctypes.c_int(pidfd), iov,
                     ctypes.c_size_t(len(ranges)), ctypes.c_int(advice), ctypes.c_uint(0))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


class MadviseActuator:
    """process_madvise on real processes; ``pids[i]`` is target ``i``."""

    def __init__(self, pids: Sequence[int], dry_run: bool = False, root: str = "/") -> None:
        self.pids = list(pids)
        self.dry_run = dry_run
        self.root = root
        self._pidfds: Dict[int, int] = {}
        self._vmas: Dict[int, List[Range]] = {}
        self.calls = 0
        self.refused: Dict[str, int] = {}     # errno name -> pieces the kernel refused
        self.gone = False

    def add_target(self, pid: int) -> None:
        """A new target: its pidfd now, while it is the process meant (a
        process gone already gets none, and nothing is advised to it)."""
        if pid not in self.pids:
            self.pids.append(pid)
        try:
            self._pidfds.setdefault(pid, os.pidfd_open(pid))
        except (AttributeError, OSError):
            pass

    def remove_target(self, pid: int) -> None:
        fd = self._pidfds.pop(pid, None)
        if fd is not None:
            os.close(fd)
        self._vmas.pop(pid, None)
        if pid in self.pids:
            self.pids.remove(pid)

    def open(self) -> None:
        """Take a pidfd of every target now, while they are the processes meant."""
        for pid in self.pids:
            if pid not in self._pidfds:
                try:
                    self._pidfds[pid] = os.pidfd_open(pid)
                except ProcessLookupError:
                    raise ActionError(f"no such process: pid {pid}") from None
                except (AttributeError, OSError) as e:
                    raise ActionError(f"cannot pidfd_open({pid}): "
                                      f"{getattr(e, 'strerror', e)}") from None

    def begin_pass(self, now_us: int) -> None:
        self._vmas.clear()                    # mappings change: re-read them each pass

    def vmas(self, pid: int) -> List[Range]:
        v = self._vmas.get(pid)
        if v is None:
            try:
                v = read_vmas(pid, self.root)
            except OSError:
                v = []
                self.gone = True
            self._vmas[pid] = v
        return v

    def apply(self, action: str, target_index: int, pid: int, ranges: Sequence[Range],
              now_us: int) -> int:
        advice = catalog.ACTIONS[action].madvise_value
        if advice is None:
            return 0
        pieces = intersect(ranges, self.vmas(pid))
        if not pieces:
            return 0
        if self.dry_run:
            return sum(e - s for s, e in pieces)
        fd = self._pidfds.get(pid)
        if fd is None:
            self.gone = True                  # no pidfd: never advise what may be another process
            return 0
        done = 0
        while pieces:
            batch = pieces[:IOV_MAX]
            self.calls += 1
            try:
                n = process_madvise(fd, batch, advice)
            except OSError as e:
                if e.errno in (errno.ESRCH,):
                    self.gone = True
                    return done
                if e.errno in (errno.EPERM, errno.ENOSYS):
                    raise ActionError(f"process_madvise({action}) on pid {pid}: {e.strerror}"
                                      + (" (needs CAP_SYS_NICE and the ptrace right)"
                                         if e.errno == errno.EPERM else "")) from None
                self.refused[errno.errorcode.get(e.errno, str(e.errno))] = \
                    self.refused.get(errno.errorcode.get(e.errno, str(e.errno)), 0) + 1
                pieces = pieces[1:]           # the first piece failed: skip it
                continue
            done += n
            # the call stops at the first piece that fails: skip that one
            k, acc = 0, 0
            while k < len(batch) and acc + (batch[k][1] - batch[k][0]) <= n:
                acc += batch[k][1] - batch[k][0]
                k += 1
            if k < len(batch):
                done -= n - acc               # a partly advised piece counts nothing
                self.refused["stopped"] = self.refused.get("stopped", 0) + 1
                pieces = pieces[k + 1:]
            else:
                pieces = pieces[len(batch):]
        return done

    def close(self) -> None:
        for fd in self._pidfds.values():
            os.close(fd)
        self._pidfds.clear()


class SimulatorActuator:
    """Actions on a :class:`~damos_lang.monitor.SimulatorSource`."""

    def __init__(self, source, dry_run: bool = False) -> None:
        self.source = source
        self.dry_run = dry_run
        self.paged_out = 0        # bytes that left memory
        self.paged_in = 0
        self.cold = 0

    def begin_pass(self, now_us: int) -> None:
        pass

    def apply(self, action: str, target_index: int, target_id: int, ranges: Sequence[Range],
              now_us: int) -> int:
        pieces = intersect(ranges, self.source.mappings(target_id, now_us))
        advised = sum(e - s for s, e in pieces)
        if self.dry_run:
            return advised
        for s, e in pieces:
            if action == "pageout":
                self.paged_out += self.source.pageout(s, e, now_us)
            elif action == "willneed":
                self.paged_in += self.source.willneed(s, e, now_us)
            elif action == "cold":
                self.cold += self.source.cold(s, e, now_us)
        return advised

    def close(self) -> None:
        pass
