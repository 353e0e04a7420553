"""A full idle-page scan of one process: the baseline the monitor is compared
with (cpu_bench.py runs it inside the VM; no part of the product).

Every aggregation interval it reads the target's whole pagemap (every VMA of
/proc/PID/maps, re-read once per update interval like the monitor's), sets the
page_idle bit of every present PFN, and at the end of the interval reads the
bits back: the pages whose bit was cleared were accessed, and their size is
the working set of that interval.  Done as a careful implementation would
(wss-v2 style, but only the target's bits): pagemap in large preads, the idle
bits coalesced into 64-bit bitmap words, runs of adjacent words moved in one
syscall of at most 4 KiB (kernfs moves no more per call), small gaps between
runs bridged with zero words (a zero bit is a no-op for the kernel).

Plain Python plus os.pread/os.pwrite; CPU time is the process's utime+stime
(resource.getrusage), so the kernel's rmap walks behind every bit set and
every idle bit read are counted too.

usage (standalone): idle_scan.py PID SECS [HOT_ADDR(hex) HOT_BYTES]"""
import json
import os
import resource
import sys
import time
from array import array
from typing import Dict, List, Optional, Tuple

PAGE = 4096
PM_PRESENT = 1 << 63
PM_PFN_MASK = (1 << 55) - 1
BITMAP = "/sys/kernel/mm/page_idle/bitmap"
IO_MAX = 4096                    # bytes per bitmap syscall (kernfs: one page)
WORDS_PER_IO = IO_MAX // 8
GAP_WORDS = 4                    # bridge gaps up to this many zero words
PAGEMAP_CHUNK = 1 << 16          # pagemap entries per pread (512 KiB)
USER_END = 1 << 47


def read_maps(pid: int) -> List[Tuple[int, int]]:
    vmas = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split(None, 5)
            if not fields or (len(fields) == 6 and fields[5].strip() == "[vsyscall]"):
                continue
            start, _, end = fields[0].partition("-")
            s, e = int(start, 16), int(end, 16)
            if e <= USER_END:
                vmas.append((s, e))
    return vmas


def runs(words: List[int]) -> List[Tuple[int, int]]:
    """[first, last] word index of each syscall, from sorted word indexes."""
    out: List[Tuple[int, int]] = []
    for w in words:
        if out and w - out[-1][1] <= GAP_WORDS + 1 and w - out[-1][0] < WORDS_PER_IO:
            out[-1] = (out[-1][0], w)
        else:
            out.append((w, w))
    return out


class FullScan:
    def __init__(self, pid: int, hot: Optional[Tuple[int, int]] = None) -> None:
        self.pid = pid
        self.hot = hot                                   # (addr, bytes): split the WSS
        self.pagemap = os.open(f"/proc/{pid}/pagemap", os.O_RDONLY)
        self.bitmap = os.open(BITMAP, os.O_RDWR)
        self.vmas: List[Tuple[int, int]] = []
        self.masks: Dict[int, int] = {}                  # word -> bits of the target's PFNs
        self.hot_masks: Dict[int, int] = {}
        self.runs: List[Tuple[int, int]] = []
        self.syscalls = 0

    def close(self) -> None:
        os.close(self.pagemap)
        os.close(self.bitmap)

    def mark(self) -> None:
        """Read the pagemap, set the idle bit of every present page."""
        masks: Dict[int, int] = {}
        hot_masks: Dict[int, int] = {}
        h0, h1 = (self.hot[0], self.hot[0] + self.hot[1]) if self.hot else (0, 0)
        for start, end in self.vmas:
            for s in range(start, end, PAGEMAP_CHUNK * PAGE):
                n = min(PAGEMAP_CHUNK, (end - s) // PAGE)
                data = os.pread(self.pagemap, 8 * n, 8 * (s // PAGE))
                self.syscalls += 1
                ents = array("Q")
                ents.frombytes(data[:len(data) // 8 * 8])
                # the hot part's pages go to their own masks too (only to
                # split the working set for the test; a slice, no per-page cost)
                i0 = min(max(0, (h0 - s) // PAGE), len(ents))
                i1 = min(max(0, (h1 - s) // PAGE), len(ents))
                add_pfns(ents[:i0], masks)
                add_pfns(ents[i1:], masks)
                if i1 > i0:
                    add_pfns(ents[i0:i1], hot_masks)
        for w, m in hot_masks.items():
            masks[w] = masks.get(w, 0) | m
        self.masks, self.hot_masks = masks, hot_masks
        self.runs = runs(sorted(masks))
        for first, last in self.runs:
            buf = array("Q", [masks.get(w, 0) for w in range(first, last + 1)]).tobytes()
            off = first * 8
            while buf:
                try:
                    n = os.pwrite(self.bitmap, buf, off)
                except OSError:              # ENXIO: past max_pfn
                    break
                self.syscalls += 1
                if n <= 0:
                    break
                buf, off = buf[n:], off + n

    def read_back(self) -> Dict[str, int]:
        """Read the bits of the pages marked last: accessed (bit cleared),
        idle, and unknown (the kernel returned no word for them: the last,
        partial 64-page word below max_pfn)."""
        accessed = hot_accessed = unknown = 0
        masks, hot_masks = self.masks, self.hot_masks
        for first, last in self.runs:
            want = (last - first + 1) * 8
            off, got = first * 8, bytearray()
            while len(got) < want:
                data = os.pread(self.bitmap, want - len(got), off)
                self.syscalls += 1
                if not data:
                    break
                got += data
                off += len(data)
            words = array("Q")
            words.frombytes(bytes(got[:len(got) // 8 * 8]))
            for j in range(last - first + 1):
                w = first + j
                m = masks.get(w)
                if not m:
                    continue
                if j >= len(words):
                    unknown += m.bit_count()
                    continue
                acc = m & ~words[j]
                accessed += acc.bit_count()
                hm = hot_masks.get(w)
                if hm:
                    hot_accessed += (hm & acc).bit_count()
        marked = sum(m.bit_count() for m in masks.values())
        hot_marked = sum(m.bit_count() for m in hot_masks.values())
        return {"marked": marked, "accessed": accessed, "unknown": unknown,
                "hot_marked": hot_marked, "hot_accessed": hot_accessed}


def add_pfns(ents: array, masks: Dict[int, int]) -> None:
    """OR the bit of each present entry's PFN into its 64-bit word's mask."""
    get = masks.get
    for e in ents:
        if e & PM_PRESENT:
            p = e & PM_PFN_MASK
            if p:
                w = p >> 6
                masks[w] = get(w, 0) | (1 << (p & 63))


def cpu_s() -> Tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def full_scan(pid: int, secs: float, aggr_us: int = 100_000, update_us: int = 1_000_000,
              hot: Optional[Tuple[int, int]] = None) -> dict:
    """Scan for `secs` seconds of wall time, one mark and one read-back per
    aggregation interval (paced by the wall clock; when a scan takes longer
    than the interval the next starts at once: the interval stretches)."""
    aggr, update = aggr_us / 1e6, update_us / 1e6
    scan = FullScan(pid, hot)
    per: List[dict] = []
    u0, s0 = cpu_s()
    w0 = time.monotonic()
    deadline = w0 + secs
    next_maps = w0
    boundary = last_mark = w0
    late = 0
    try:
        while True:
            now = time.monotonic()
            if scan.masks:
                r = scan.read_back()
                r["interval_s"] = now - last_mark
                per.append(r)
            if now >= deadline:
                break
            if now >= next_maps:
                scan.vmas = read_maps(pid)
                next_maps = now + update
            scan.mark()
            last_mark = now
            boundary += aggr
            now = time.monotonic()
            if boundary <= now:
                late += 1
                boundary = now
            delay = min(boundary, deadline) - now
            if delay > 0:
                time.sleep(delay)
    finally:
        scan.close()
    u1, s1 = cpu_s()
    wall = time.monotonic() - w0
    cpu = (u1 - u0) + (s1 - s0)
    n = len(per)
    wss = sorted(r["accessed"] * PAGE for r in per)
    hot_wss = sorted(r["hot_accessed"] * PAGE for r in per)
    return {
        "aggr_us": aggr_us, "cpu_s": cpu, "utime_s": u1 - u0, "stime_s": s1 - s0,
        "wall_s": wall, "intervals": n, "intervals_due": int(secs / aggr), "late": late,
        "mean_interval_s": sum(r["interval_s"] for r in per) / n if n else 0.0,
        "cpu_per_interval_ms": 1000.0 * cpu / n if n else 0.0,
        "syscalls": scan.syscalls, "vmas": len(scan.vmas),
        "pages_marked": per[-1]["marked"] if per else 0,
        "unknown_pages": max((r["unknown"] for r in per), default=0),
        "wss_bytes_median": wss[n // 2] if n else 0,
        "wss_bytes_min": wss[0] if n else 0, "wss_bytes_max": wss[-1] if n else 0,
        "hot_pages": per[-1]["hot_marked"] if per else 0,
        "hot_wss_bytes_median": hot_wss[n // 2] if n else 0,
        "cold_wss_bytes_max": max(((r["accessed"] - r["hot_accessed"]) * PAGE for r in per),
                                  default=0),
        "cpu_share_percent": 100.0 * cpu / wall,
    }


if __name__ == "__main__":
    pid_, secs_ = int(sys.argv[1]), float(sys.argv[2])
    hot_ = (int(sys.argv[3], 16), int(sys.argv[4])) if len(sys.argv) > 4 else None
    print(json.dumps(full_scan(pid_, secs_, hot=hot_), indent=2))
