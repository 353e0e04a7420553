"""Per-page properties for the ops filters user space can evaluate
(catalog.FILTER_TYPES[...].userspace_source): ``anon`` and ``young``.

* :class:`PagemapProbe` (a real process): ``anon`` from /proc/PID/pagemap
  (present or swapped, and not bit 61 "file page or shared anon"); ``young``
  from the page_idle bitmap (a cleared idle bit), and, as the kernel's young
  filter does, a young page is then marked old again.
* :class:`SimulatorProbe`: the masim buffers are anonymous, everything else
  (text, libraries) is not; ``young`` is "touched in the last aggregation
  interval", from the simulator's ground truth.
Each returns one byte per page (1: has the property)."""
from __future__ import annotations

import os
import struct
from array import array
from typing import Dict, Sequence

from ..monitor import fastpath

PAGE = 4096
PM_PRESENT = 1 << 63
PM_SWAP = 1 << 62
PM_FILE = 1 << 61
PM_PFN_MASK = (1 << 55) - 1
BITMAP = "sys/kernel/mm/page_idle/bitmap"


class ProbeError(Exception):
    pass


class SimulatorProbe:
    def __init__(self, source, window_us: int) -> None:
        self.source = source
        self.window_us = window_us

    def properties(self, target_id: int, start: int, end: int, kinds: Sequence[str],
                   now_us: int) -> Dict[str, bytes]:
        n = (end - start) // PAGE
        out = {}
        if "anon" in kinds:
            anon = bytearray(n)
            for s, e in self.source.region_ranges:
                lo, hi = max(s // PAGE * PAGE, start), min(e, end)
                if hi > lo:
                    first, last = (lo - start) // PAGE, (hi - start + PAGE - 1) // PAGE
                    anon[first:last] = b"\x01" * (last - first)
            out["anon"] = bytes(anon)
        if "young" in kinds:
            spans = self.source.touched_spans(max(0, now_us - self.window_us), now_us)
            addrs = array("Q", range(start, start + n * PAGE, PAGE))
            young = bytearray(n)
            fastpath.accessed_in_spans(
                addrs, array("Q", [s[0] for s in spans]), array("Q", [s[1] for s in spans]),
                array("Q", [s[2] for s in spans]), array("Q", [s[3] for s in spans]), PAGE, young)
            out["young"] = bytes(young)
        return out

    def close(self) -> None:
        pass


class PagemapProbe:
    def __init__(self, pids: Sequence[int], root: str = "/") -> None:
        self.root = root
        self._pagemap: Dict[int, int] = {}
        self._bitmap = -1
        self.pids = list(pids)

    def _pagemap_fd(self, pid: int) -> int:
        fd = self._pagemap.get(pid)
        if fd is None:
            fd = self._pagemap[pid] = os.open(os.path.join(self.root, "proc", str(pid), "pagemap"),
                                              os.O_RDONLY)
        return fd

    def _entries(self, pid: int, start: int, end: int) -> array:
        n = (end - start) // PAGE
        data = b""
        fd = self._pagemap_fd(pid)
        while len(data) < 8 * n:
            chunk = os.pread(fd, 8 * n - len(data), 8 * (start // PAGE) + len(data))
            if not chunk:
                break
            data += chunk
        entries = array("Q", data[:len(data) // 8 * 8])
        entries.extend([0] * (n - len(entries)))
        return entries

    def properties(self, target_id: int, start: int, end: int, kinds: Sequence[str],
                   now_us: int) -> Dict[str, bytes]:
        try:
            entries = self._entries(target_id, start, end)
        except OSError as e:
            raise ProbeError(f"cannot read pagemap of {target_id}: {e.strerror}") from None
        out = {}
        if "anon" in kinds:
            out["anon"] = bytes(1 if (e & (PM_PRESENT | PM_SWAP)) and not e & PM_FILE else 0
                                for e in entries)
        if "young" in kinds:
            out["young"] = self._young(entries)
        return out

    def _young(self, entries: array) -> bytes:
        if self._bitmap < 0:
            try:
                self._bitmap = os.open(os.path.join(self.root, BITMAP), os.O_RDWR)
            except OSError as e:
                raise ProbeError(f"the young filter needs {BITMAP} ({e.strerror})") from None
        young = bytearray(len(entries))
        words: Dict[int, int] = {}
        for i, e in enumerate(entries):
            if e & PM_PRESENT and e & PM_PFN_MASK:
                pfn = e & PM_PFN_MASK
                w = pfn // 64
                if w not in words:
                    data = os.pread(self._bitmap, 8, w * 8)
                    words[w] = struct.unpack("Q", data)[0] if len(data) == 8 else -1
                if words[w] >= 0 and not words[w] >> (pfn % 64) & 1:
                    young[i] = 1
        # the kernel's young filter clears the young state it saw: mark them idle again
        marks: Dict[int, int] = {}
        for i, e in enumerate(entries):
            if young[i]:
                pfn = e & PM_PFN_MASK
                marks[pfn // 64] = marks.get(pfn // 64, 0) | 1 << (pfn % 64)
        for w, bits in marks.items():
            try:
                os.pwrite(self._bitmap, struct.pack("Q", bits), w * 8)
            except OSError:
                pass
        return bytes(young)

    def remove_target(self, pid: int) -> None:
        fd = self._pagemap.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for fd in [*self._pagemap.values(), self._bitmap]:
            if fd >= 0:
                os.close(fd)
        self._pagemap.clear()
        self._bitmap = -1
