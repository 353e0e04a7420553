"""The real source: /proc/PID/pagemap and /sys/kernel/mm/page_idle/bitmap.

Needs root (CAP_SYS_ADMIN, or PFNs read as 0), CONFIG_IDLE_PAGE_TRACKING and
the ptrace right on each target; validate() names whichever is missing
before the first sample. `root` lets tests point it at a fake tree, and
`bitmap_path` at a stand-in for the idle bitmap (a regular file: on a host
without page_idle, every bit written stays set until the test clears it).

`counts` counts the kernel crossings (preads and pwrites) by kind:
pagemap reads, bitmap writes, bitmap reads, kpageflags reads
(``COUNT_KINDS``); `samples` counts the region-samples they served.

Each target's virtual-to-physical translation is kept between samples
(reference.TranslationCache: pagemap entries per 2 MiB chunk, THP heads),
dropped at every update interval (`refresh`), and re-read for a sample whose
check fails or whose page was not present; `translation_cache=False` reads
it afresh at every prepare and check instead."""
import errno
import os
import select
from array import array
from typing import Dict, List, Optional, Sequence, Tuple

from .. import fastpath as default_fastpath
from ..errors import MonitorError, TargetGone
from ..reference import COUNT_KINDS, TranslationCache
from ..maps import parse_maps
from .base import AccessSource

PAGE = 4096
CAP_SYS_ADMIN = 21
PM_PRESENT = 1 << 63
PM_PFN_MASK = (1 << 55) - 1
GONE_ERRNOS = (errno.ESRCH, errno.ENOENT)


class PageIdleSource(AccessSource):
    def __init__(self, pids: Sequence[int], root: str = "/", fastpath=default_fastpath,
                 use_kpageflags: bool = True, bitmap_path: Optional[str] = None,
                 translation_cache: bool = True) -> None:
        self.pids = list(pids)
        self.root = root
        self.bitmap_path = bitmap_path
        self.counts = array("Q", bytes(8 * len(COUNT_KINDS)))
        self.samples = 0
        self._use_cache = translation_cache
        self._caches: Dict[int, TranslationCache] = {}
        self._vmas: Dict[int, List[Tuple[int, int]]] = {}
        self._fast = fastpath
        self._use_kpageflags = use_kpageflags
        self._pagemap_fds: Dict[int, int] = {}
        self._pidfds: Dict[int, int] = {}
        self._pfns: Dict[int, Tuple[array, array]] = {}   # per target: (head PFNs, raw PFNs)
        self._bitmap_fd = -1
        self._kpageflags_fd = -1

    def _path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    def target_ids(self) -> Sequence[int]:
        return self.pids

    # --- before the first sample ----------------------------------------------
    def validate(self) -> None:
        for pid in self.pids:
            if not os.path.isdir(self._path("proc", str(pid))):
                raise MonitorError(f"no such process: pid {pid}")
        page_idle = self._path("sys", "kernel", "mm", "page_idle")
        if self.bitmap_path is None and not os.path.isdir(page_idle):
            raise MonitorError(f"no {page_idle}: the kernel lacks CONFIG_IDLE_PAGE_TRACKING")
        self._require_cap_sys_admin()
        bitmap = self.bitmap_path or os.path.join(page_idle, "bitmap")
        try:
            self._bitmap_fd = os.open(bitmap, os.O_RDWR)
        except OSError as e:
            raise MonitorError(f"cannot open {bitmap} for writing ({e.strerror}): run as root") from None
        if self._use_kpageflags:
            try:
                self._kpageflags_fd = os.open(self._path("proc", "kpageflags"), os.O_RDONLY)
            except OSError:
                self._kpageflags_fd = -1  # no THP head lookup: tails then look accessed
        for pid in self.pids:
            self._open_target(pid)
            self._require_pfns(pid)

    def _open_target(self, pid: int) -> None:
        pagemap = self._path("proc", str(pid), "pagemap")
        try:
            self._pagemap_fds[pid] = os.open(pagemap, os.O_RDONLY)
        except PermissionError:
            raise MonitorError(f"no ptrace right on pid {pid}: cannot read {pagemap}") from None
        except (FileNotFoundError, ProcessLookupError):
            raise MonitorError(f"no such process: pid {pid}") from None
        if self.root == "/":
            try:
                self._pidfds[pid] = os.pidfd_open(pid)  # exit detection immune to pid reuse
            except (OSError, AttributeError):
                pass

    # --- targets that come and go (after validate) ----------------------------------
    def add_target(self, pid: int) -> None:
        """Sample one more process from now on (MonitorError if it cannot be read)."""
        if pid in self._pagemap_fds:
            return
        if not os.path.isdir(self._path("proc", str(pid))):
            raise TargetGone(pid, "it exited before it was added")
        self._open_target(pid)
        self.pids.append(pid)

    def remove_target(self, pid: int) -> None:
        """Forget a process (it exited, or left the cgroup): close its files."""
        for fds in (self._pagemap_fds, self._pidfds):
            fd = fds.pop(pid, None)
            if fd is not None:
                os.close(fd)
        self._pfns.pop(pid, None)
        self._caches.pop(pid, None)
        self._vmas.pop(pid, None)
        if pid in self.pids:
            self.pids.remove(pid)

    def _require_cap_sys_admin(self) -> None:
        try:
            with open(self._path("proc", "self", "status")) as f:
                status = f.read()
        except OSError:
            return  # cannot tell here; _require_pfns still catches zero PFNs
        for line in status.splitlines():
            if line.startswith("CapEff:"):
                if not int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1:
                    raise MonitorError("no CAP_SYS_ADMIN: /proc/PID/pagemap reads every PFN as 0; run as root")
                return

    def _require_pfns(self, pid: int) -> None:
        """Present pages with PFN 0 mean the kernel hid PFNs (no CAP_SYS_ADMIN)."""
        fd = self._pagemap_fds[pid]
        for start, end in self.mappings(pid, 0)[:8]:
            count = min((end - start) // PAGE, 512)
            data = os.pread(fd, 8 * count, 8 * (start // PAGE))
            entries = array("Q", data[:len(data) // 8 * 8])
            present = [e for e in entries if e & PM_PRESENT]
            if present:
                if not any(e & PM_PFN_MASK for e in present):
                    raise MonitorError("no CAP_SYS_ADMIN: /proc/PID/pagemap reads every PFN as 0; run as root")
                return

    # --- sampling -----------------------------------------------------------------
    def _gone(self, pid: int) -> bool:
        pidfd = self._pidfds.get(pid)
        if pidfd is not None:
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            return bool(poller.poll(0))
        return not os.path.isdir(self._path("proc", str(pid)))

    def mappings(self, target_id: int, now_us: int) -> List[Tuple[int, int]]:
        try:
            with open(self._path("proc", str(target_id), "maps")) as f:
                vmas = parse_maps(f.read())
        except (FileNotFoundError, ProcessLookupError):
            raise TargetGone(target_id) from None
        if not vmas or self._gone(target_id):
            raise TargetGone(target_id, "no mappings left")
        self._vmas[target_id] = vmas         # samples outside them need no reads
        cache = self._caches.get(target_id)
        if cache is not None:
            cache.set_vmas(vmas)
        return vmas

    def _fds(self, pid: int) -> int:
        fd = self._pagemap_fds.get(pid)
        if fd is None:
            raise MonitorError("PageIdleSource.validate() must run before sampling")
        return fd

    def _cache(self, target_id: int) -> Optional[TranslationCache]:
        if not self._use_cache:
            return None
        cache = self._caches.get(target_id)
        if cache is None:
            cache = self._caches[target_id] = TranslationCache()
            cache.set_vmas(self._vmas.get(target_id, ()))
        return cache

    def refresh(self, now_us: int) -> None:
        """An update interval: mappings may have changed, translations too."""
        for cache in self._caches.values():
            cache.clear()

    def prepare(self, target_id: int, addrs: array, now_us: int) -> None:
        if self._gone(target_id):
            raise TargetGone(target_id)
        pfns, raw = self._pfns.get(target_id, (None, None))
        if pfns is None or len(pfns) != len(addrs):
            pfns, raw = array("Q", bytes(8 * len(addrs))), array("Q", bytes(8 * len(addrs)))
            self._pfns[target_id] = (pfns, raw)
        try:
            # the raw PFNs let check skip kpageflags for pages that did not move
            self._fast.idle_prepare(self._fds(target_id), self._bitmap_fd, self._kpageflags_fd,
                                    addrs, pfns, PAGE, raw, self.counts, self._cache(target_id))
            self.samples += len(addrs)
        except OSError as e:
            if e.errno in GONE_ERRNOS:
                raise TargetGone(target_id) from None
            raise

    def check(self, target_id: int, addrs: array, accessed: bytearray, now_us: int) -> None:
        try:
            pfns, raw = self._pfns[target_id]
            self._fast.idle_check(self._fds(target_id), self._bitmap_fd, self._kpageflags_fd,
                                  addrs, pfns, PAGE, accessed, raw, self.counts,
                                  self._cache(target_id))
        except OSError as e:
            if e.errno in GONE_ERRNOS:
                raise TargetGone(target_id) from None
            raise
        if self._gone(target_id):
            raise TargetGone(target_id)

    def crossings_per_sample(self) -> Dict[str, float]:
        """Kernel crossings per region-sample so far, by kind (and "total")."""
        n = max(1, self.samples)
        out = {k: c / n for k, c in zip(COUNT_KINDS, self.counts)}
        out["total"] = sum(self.counts) / n
        return out

    def close(self) -> None:
        for fd in [*self._pagemap_fds.values(), *self._pidfds.values(),
                   self._bitmap_fd, self._kpageflags_fd]:
            if fd >= 0:
                os.close(fd)
        self._pagemap_fds.clear()
        self._pidfds.clear()
        self._bitmap_fd = self._kpageflags_fd = -1
