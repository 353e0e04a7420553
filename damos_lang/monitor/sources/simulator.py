"""A masim-compatible workload in simulated time, with per-page ground truth.

The model (workloads.md §1-2): masim runs its phases back to back; each
iteration it picks one access pattern by weight and makes
`accesses_per_iteration` accesses, at `accesses_per_ms`. An iteration touches:
  * sequential, stride s: the next k*s bytes from the pattern's cursor
    (wrapping), every page if s <= page size, else a page/s share of them;
  * random: every page of the region with probability 1-(1-1/pages)^k.
A page counts as accessed in (prepare, check] if an iteration overlapping that
window touched it. Which pages of a partial span are touched is a hash of
(page, iteration), so checks, residency and truth agree and are deterministic.
Only the masim regions are ever accessed; the other mappings (text, heap,
libraries, stack) exist so that the three-region layout looks like a process.
"""
import bisect
from array import array
from typing import List, Optional, Sequence, Tuple

from .. import fastpath as default_fastpath
from ..errors import TargetGone
from ..masim import MasimConfig
from ..rng import MASK64, Rng, mix64
from .base import AccessSource

PAGE = 4096
MALLOC_HEADER = 16  # glibc serves big malloc()s with mmap + a 16-byte header
TEXT_BASE = 0x555555554000
MMAP_BASE = 0x7F0000000000
STACK = (0x7FFFFFFDE000, 0x7FFFFFFFF000)

# (start, end, threshold, salt): a span of addresses an iteration touched;
# threshold MASK64 means every page, else a page is touched iff its hash <= it
Span = Tuple[int, int, int, int]


def _threshold(probability: float) -> int:
    if probability >= 1.0:
        return MASK64
    return min(MASK64 - 1, int(probability * 2.0 ** 64))


class _Iteration:
    __slots__ = ("start_us", "end_us", "region_index", "spans")

    def __init__(self, start_us: int, end_us: int, region_index: int, spans: List[Span]):
        self.start_us = start_us
        self.end_us = end_us
        self.region_index = region_index
        self.spans = spans


class SimulatorSource(AccessSource):
    """One simulated process running a masim config. The target id is `pid`."""

    def __init__(self, config: MasimConfig, seed: int = 0, pid: int = 4242,
                 accesses_per_ms: int = 100_000, accesses_per_iteration: int = 131_072,
                 repeat: bool = False, fastpath=default_fastpath) -> None:
        self.config = config
        self.pid = pid
        self.repeat = repeat
        self.seed = seed
        self.accesses_per_iteration = accesses_per_iteration
        self.iteration_us = max(1, accesses_per_iteration * 1000 // accesses_per_ms)
        self._fast = fastpath
        self._rng = Rng(mix64(seed ^ 0x6D6173696D))  # pattern choice, apart from sampling
        self._layout()
        self._iterations: List[_Iteration] = []
        self._iteration_starts: List[int] = []
        self._generated_until = 0
        self._phase_index = 0
        self._phase_start_us = 0
        self._cursors = [0] * len(config.regions)
        self._applied = 0  # iterations whose touches reached the residency map
        self._prepared_at = 0
        self.cold_bytes = 0  # MADV_COLD advice received (no residency change)

    # --- the simulated address space ---------------------------------------
    def _layout(self) -> None:
        self.region_ranges: List[Tuple[int, int]] = []  # masim's [ptr, ptr + size)
        self._map_ranges: List[Tuple[int, int]] = []
        addr = MMAP_BASE
        for region in self.config.regions:
            map_len = (region.size + MALLOC_HEADER + PAGE - 1) // PAGE * PAGE
            self._map_ranges.append((addr, addr + map_len))
            self.region_ranges.append((addr + MALLOC_HEADER, addr + MALLOC_HEADER + region.size))
            addr += map_len
        self._resident = [bytearray((e - s) // PAGE) for s, e in self._map_ranges]
        self._nonresident = [len(r) for r in self._resident]
        self._region_by_name = {r.name: i for i, r in enumerate(self.config.regions)}
        lib = addr + 0x1000000  # libraries above the heap of masim regions
        self._vmas = [
            (TEXT_BASE, TEXT_BASE + 0x2000), (TEXT_BASE + 0x2000, TEXT_BASE + 0x6000),
            (TEXT_BASE + 0x6000, TEXT_BASE + 0x8000), (TEXT_BASE + 0x9000, TEXT_BASE + 0x2A000),
            *self._map_ranges,
            (lib, lib + 0x28000), (lib + 0x28000, lib + 0x1BD000), (lib + 0x1BD000, lib + 0x215000),
            STACK,
        ]

    @property
    def end_us(self) -> Optional[int]:
        """When the workload exits (None with repeat)."""
        return None if self.repeat else self.config.duration_ms * 1000

    def _alive(self, now_us: int, target_id: int) -> None:
        if target_id != self.pid:
            raise TargetGone(target_id, "no such simulated process")
        if self.end_us is not None and now_us > self.end_us:
            raise TargetGone(target_id, "the workload finished its last phase")

    # --- the masim run, generated lazily in time order ----------------------
    def _extend_to(self, t_us: int) -> None:
        phases = self.config.phases
        while self._generated_until < t_us:
            if self._phase_index >= len(phases):
                if not self.repeat:
                    return
                self._phase_index = 0
            phase = phases[self._phase_index]
            phase_end = self._phase_start_us + phase.duration_ms * 1000
            start = self._generated_until
            if start >= phase_end or not phase.patterns:
                self._phase_index += 1
                self._phase_start_us = phase_end
                self._generated_until = max(start, phase_end)
                continue
            end = min(start + self.iteration_us, phase_end)
            self._add_iteration(start, end, phase.patterns)
            self._generated_until = end

    def _add_iteration(self, start: int, end: int, patterns) -> None:
        total = sum(p.weight for p in patterns)
        pick = self._rng.below(total) if total > 0 else 0
        for pattern in patterns:
            if pick < pattern.weight:
                break
            pick -= pattern.weight
        index = self._region_by_name[pattern.region]
        region_start, region_end = self.region_ranges[index]
        size = region_end - region_start
        salt = mix64(self.seed ^ (len(self._iterations) * 0x9E3779B97F4A7C15 & MASK64))
        k = self.accesses_per_iteration
        spans: List[Span] = []
        if pattern.random:
            pages = max(1, (size + PAGE - 1) // PAGE)
            spans.append((region_start, region_end, _threshold(1.0 - (1.0 - 1.0 / pages) ** k), salt))
        else:
            stride = max(1, pattern.stride)
            thr = MASK64 if stride <= PAGE else _threshold(PAGE / stride)
            swept = k * stride
            cursor = self._cursors[index]
            if swept >= size:
                spans.append((region_start, region_end, thr, salt))
            else:
                stop = cursor + swept
                spans.append((region_start + cursor, region_start + min(stop, size), thr, salt))
                if stop > size:
                    spans.append((region_start, region_start + stop - size, thr, salt))
            self._cursors[index] = (cursor + swept) % size
        self._iterations.append(_Iteration(start, end, index, spans))
        self._iteration_starts.append(start)

    def _iterations_in(self, t0: int, t1: int) -> List[_Iteration]:
        """Iterations overlapping the window (t0, t1]."""
        self._extend_to(t1)
        lo = max(0, bisect.bisect_right(self._iteration_starts, t0) - 1)
        hi = bisect.bisect_left(self._iteration_starts, t1)
        return [it for it in self._iterations[lo:hi] if it.end_us > t0]

    def touched_spans(self, t0: int, t1: int) -> List[Span]:
        return [s for it in self._iterations_in(t0, t1) for s in it.spans]

    # --- AccessSource -------------------------------------------------------
    def target_ids(self) -> Sequence[int]:
        return [self.pid]

    def mappings(self, target_id: int, now_us: int) -> List[Tuple[int, int]]:
        self._alive(now_us, target_id)
        return list(self._vmas)

    def prepare(self, target_id: int, addrs: array, now_us: int) -> None:
        self._alive(now_us, target_id)
        self._prepared_at = now_us

    def check(self, target_id: int, addrs: array, accessed: bytearray, now_us: int) -> None:
        if target_id != self.pid:
            raise TargetGone(target_id, "no such simulated process")
        spans = self.touched_spans(self._prepared_at, now_us)
        self._fast.accessed_in_spans(
            addrs, array("Q", [s[0] for s in spans]), array("Q", [s[1] for s in spans]),
            array("Q", [s[2] for s in spans]), array("Q", [s[3] for s in spans]), PAGE, accessed)

    # --- ground truth ---------------------------------------------------------
    def working_set_bytes(self, t0: int, t1: int) -> int:
        """Bytes of the pages touched in (t0, t1]: exact for whole-page spans,
        the expectation for partial ones."""
        dense: List[Tuple[int, int]] = []
        expected = 0.0
        for start, end, thr, _ in self.touched_spans(t0, t1):
            first, last = start // PAGE, (end + PAGE - 1) // PAGE
            if thr == MASK64:
                dense.append((first, last))
            else:
                expected += (last - first) * PAGE * (thr / 2.0 ** 64)
        dense.sort()
        pages = 0
        cur_start = cur_end = None
        for first, last in dense:
            if cur_end is None or first > cur_end:
                if cur_end is not None:
                    pages += cur_end - cur_start
                cur_start, cur_end = first, last
            else:
                cur_end = max(cur_end, last)
        if cur_end is not None:
            pages += cur_end - cur_start
        return pages * PAGE + int(expected)

    # --- residency and actions (what an action engine changes) ---------------
    def _apply_touches(self, now_us: int) -> None:
        """Pages an iteration touches become resident (paged-out ones fault in)."""
        self._extend_to(now_us)
        while self._applied < len(self._iterations) and \
                self._iterations[self._applied].start_us <= now_us:
            it = self._iterations[self._applied]
            self._applied += 1
            i = it.region_index
            if self._nonresident[i] == 0:
                continue
            base = self._map_ranges[i][0]
            resident = self._resident[i]
            for start, end, thr, salt in it.spans:
                first, last = (start - base) // PAGE, (end - base + PAGE - 1) // PAGE
                if thr == MASK64:
                    resident[first:last] = b"\x01" * (last - first)
                else:
                    for p in range(first, last):
                        if not resident[p] and mix64((base // PAGE + p) ^ salt) <= thr:
                            resident[p] = 1
            self._nonresident[i] = resident.count(0)

    def _pages_within(self, start: int, end: int):
        """(mapping index, first page, last page) of whole pages inside [start, end)."""
        for i, (m_start, m_end) in enumerate(self._map_ranges):
            lo, hi = max(start, m_start), min(end, m_end)
            first = (lo - m_start + PAGE - 1) // PAGE
            last = (hi - m_start) // PAGE
            if last > first:
                yield i, first, last

    def pageout(self, start: int, end: int, now_us: int) -> int:
        """MADV_PAGEOUT: resident pages in [start, end) leave memory until touched.
        Returns the bytes paged out."""
        self._apply_touches(now_us)
        freed = 0
        for i, first, last in self._pages_within(start, end):
            freed += self._resident[i].count(1, first, last) * PAGE
            self._resident[i][first:last] = bytes(last - first)
            self._nonresident[i] = self._resident[i].count(0)
        return freed

    def willneed(self, start: int, end: int, now_us: int) -> int:
        """MADV_WILLNEED: paged-out pages in [start, end) are read back in."""
        self._apply_touches(now_us)
        loaded = 0
        for i, first, last in self._pages_within(start, end):
            loaded += self._resident[i].count(0, first, last) * PAGE
            self._resident[i][first:last] = b"\x01" * (last - first)
            self._nonresident[i] = self._resident[i].count(0)
        return loaded

    def cold(self, start: int, end: int, now_us: int) -> int:
        """MADV_COLD only deactivates pages: residency does not change."""
        self._apply_touches(now_us)
        advised = sum((last - first) * PAGE for _, first, last in self._pages_within(start, end))
        self.cold_bytes += advised
        return advised

    def resident_bytes(self, now_us: int) -> int:
        self._apply_touches(now_us)
        return sum(r.count(1) for r in self._resident) * PAGE
