"""A masim-compatible workload in simulated time, with per-page ground truth.

The model (workloads.md §1-2): masim runs its phases back to back; each
iteration it picks one access pattern by weight and makes
`accesses_per_iteration` accesses, at `accesses_per_ms`. An iteration touches:
  * sequential, stride s <= page size: the next k*s bytes from the region's
    cursor (wrapping), every page of them;
  * sequential, stride s > page size (or 0): what masim's loop touches --
    the offsets 0, s, 2s, ... below the region size, one access each, the
    next k of them after the pattern's last one (masim's `offset += stride;
    if (offset >= sz) offset = 0`), so a sparse sweep touches at most k
    pages and the same ones each time round;
  * random: every page of the region with probability 1-(1-1/pages)^k.
A page counts as accessed in (prepare, check] if an iteration overlapping that
window touched it. Which pages of a random span are touched is a hash of
(page, iteration), so checks, residency and truth agree and are deterministic.
Only the masim regions are ever accessed; the other mappings (text, heap,
libraries, stack) exist so that the three-region layout looks like a process.

Costs follow the pages touched, not the region sizes: a sparse sweep is a
lattice of offsets (checked by arithmetic, applied to the residency map as
strided slices), and residency is brought up to date only when an action or
a reading needs it, the random spans of all the iterations since then in one
batch.  ``pages_visited`` counts the residency-map entries those updates
read or wrote, for tests that bound the work.
"""
import bisect
from array import array
from math import gcd
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from .. import fastpath as default_fastpath
from ..errors import MonitorError, TargetGone
from ..masim import MAX_SIMULATED_BYTES, MasimConfig
from ..rng import MASK64, Rng, mix64
from .base import AccessSource

PAGE = 4096
MALLOC_HEADER = 16  # glibc serves big malloc()s with mmap + a 16-byte header
TEXT_BASE = 0x555555554000
MMAP_BASE = 0x7F0000000000
STACK = (0x7FFFFFFDE000, 0x7FFFFFFFF000)

RANDOM_CHUNK_PAGES = 1 << 20  # random spans are hashed this many pages at a time

# (start, end, threshold, salt): a span of addresses an iteration touched;
# threshold MASK64 means every page, else a page is touched iff its hash <= it
Span = Tuple[int, int, int, int]


def _threshold(probability: float) -> int:
    if probability >= 1.0:
        return MASK64
    return min(MASK64 - 1, int(probability * 2.0 ** 64))


class Lattice:
    """The accesses of a sparse sequential sweep: the addresses base + j*stride
    for j in ``ranges`` (sorted, disjoint [lo, hi) index ranges), j < count.
    No two of them share a page (stride > page size)."""
    __slots__ = ("region_index", "base", "stride", "count", "ranges")

    def __init__(self, region_index: int, base: int, stride: int, count: int,
                 ranges: Tuple[Tuple[int, int], ...]) -> None:
        self.region_index = region_index
        self.base = base
        self.stride = stride
        self.count = count
        self.ranges = ranges

    @property
    def key(self) -> Tuple[int, int]:
        return self.base, self.stride

    def touched(self) -> int:
        return sum(hi - lo for lo, hi in self.ranges)

    def index_in_page(self, page: int) -> Optional[int]:
        """The j whose address is in the page at ``page`` (an address), if any."""
        if self.count == 1:
            return 0 if page <= self.base < page + PAGE else None
        j = max(0, -(-(page - self.base) // self.stride))
        if j < self.count and self.base + j * self.stride < page + PAGE:
            return j
        return None

    def hits(self, page: int) -> bool:
        j = self.index_in_page(page)
        if j is None:
            return False
        k = bisect.bisect_right(self.ranges, (j, MASK64)) - 1
        return k >= 0 and self.ranges[k][0] <= j < self.ranges[k][1]

    def page_runs(self, map_start: int) -> Iterator[Tuple[int, int, int]]:
        """(first, count, step): the touched pages, as page indices of the
        mapping at ``map_start``, in arithmetic progressions.  Offsets j*s and
        (j+m)*s, m = page/gcd(s, page), are a whole number of pages apart, so
        each residue of j modulo m is one progression."""
        offset = self.base - map_start
        if self.count == 1:
            yield offset // PAGE, 1, 1
            return
        m = PAGE // gcd(self.stride, PAGE)
        step = m * self.stride // PAGE
        for lo, hi in self.ranges:
            for j in range(lo, min(hi, lo + m)):
                yield (offset + j * self.stride) // PAGE, (hi - j + m - 1) // m, step

    def merged_with(self, other: "Lattice") -> "Lattice":
        return Lattice(self.region_index, self.base, self.stride, self.count,
                       _merge_ranges(self.ranges + other.ranges))


def _merge_ranges(ranges) -> Tuple[Tuple[int, int], ...]:
    out: List[List[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


class _Iteration:
    __slots__ = ("start_us", "end_us", "region_index", "spans", "lattice")

    def __init__(self, start_us: int, end_us: int, region_index: int, spans: List[Span],
                 lattice: Optional[Lattice] = None):
        self.start_us = start_us
        self.end_us = end_us
        self.region_index = region_index
        self.spans = spans
        self.lattice = lattice


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
        self._last_index: Dict[Tuple[int, int], int] = {}  # masim's last_offset, as an index
        self._applied = 0  # iterations whose touches reached the residency map
        self._prepared_at = 0
        self.cold_bytes = 0  # MADV_COLD advice received (no residency change)
        self.pages_visited = 0  # residency-map entries read or written by touches

    # --- the simulated address space ---------------------------------------
    def _layout(self) -> None:
        total = sum(r.size for r in self.config.regions)
        if total > MAX_SIMULATED_BYTES:  # parse_masim refuses it too, with the line
            raise MonitorError(f"the workload's regions add up to {total} bytes; the simulator "
                               f"models at most {MAX_SIMULATED_BYTES} (64 GiB)")
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
            # a phase whose probabilities add up to 0 makes no access (masim: randn -1)
            if start >= phase_end or not any(p.weight for p in phase.patterns):
                self._phase_index += 1
                self._phase_start_us = phase_end
                self._generated_until = max(start, phase_end)
                continue
            end = min(start + self.iteration_us, phase_end)
            self._add_iteration(start, end, phase.patterns)
            self._generated_until = end

    def _add_iteration(self, start: int, end: int, patterns) -> None:
        pick = self._rng.below(sum(p.weight for p in patterns))
        for number, pattern in enumerate(patterns):
            if pick < pattern.weight:
                break
            pick -= pattern.weight
        index = self._region_by_name[pattern.region]
        region_start, region_end = self.region_ranges[index]
        size = region_end - region_start
        salt = mix64(self.seed ^ (len(self._iterations) * 0x9E3779B97F4A7C15 & MASK64))
        k = self.accesses_per_iteration
        spans: List[Span] = []
        lattice = None
        if pattern.random:
            pages = max(1, (size + PAGE - 1) // PAGE)
            spans.append((region_start, region_end, _threshold(1.0 - (1.0 - 1.0 / pages) ** k), salt))
        elif 0 < pattern.stride <= PAGE:
            stride = pattern.stride
            swept = k * stride
            cursor = self._cursors[index]
            if swept >= size:
                spans.append((region_start, region_end, MASK64, salt))
            else:
                stop = cursor + swept
                spans.append((region_start + cursor, region_start + min(stop, size), MASK64, salt))
                if stop > size:
                    spans.append((region_start, region_start + stop - size, MASK64, salt))
            self._cursors[index] = (cursor + swept) % size if size else 0
        else:
            lattice = self._sweep(index, (self._phase_index, number), pattern.stride, size, k)
        self._iterations.append(_Iteration(start, end, index, spans, lattice))
        self._iteration_starts.append(start)

    def _sweep(self, index: int, key, stride: int, size: int, k: int) -> Lattice:
        """The next k accesses of a sparse sequential pattern, from the index
        after its last one (masim keeps that offset per pattern of a phase)."""
        count = 1 if stride == 0 or size <= stride else (size - 1) // stride + 1
        last = self._last_index.get(key, 0)
        first = (last + 1) % count
        if k >= count:
            ranges: Tuple[Tuple[int, int], ...] = ((0, count),)
        elif first + k <= count:
            ranges = ((first, first + k),)
        else:
            ranges = ((0, first + k - count), (first, count))
        self._last_index[key] = (last + k) % count
        return Lattice(index, self.region_ranges[index][0], stride, count, ranges)

    def _iterations_in(self, t0: int, t1: int) -> List[_Iteration]:
        """Iterations overlapping the window (t0, t1]."""
        self._extend_to(t1)
        lo = max(0, bisect.bisect_right(self._iteration_starts, t0) - 1)
        hi = bisect.bisect_left(self._iteration_starts, t1)
        return [it for it in self._iterations[lo:hi] if it.end_us > t0]

    def _touches_in(self, t0: int, t1: int) -> Tuple[List[Span], List[Lattice]]:
        """The spans and the lattices (one per sweep, merged) of the window (t0, t1]."""
        spans: List[Span] = []
        lattices: Dict[Tuple[int, int], Lattice] = {}
        for it in self._iterations_in(t0, t1):
            spans.extend(it.spans)
            if it.lattice is not None:
                key = it.lattice.key
                seen = lattices.get(key)
                lattices[key] = it.lattice if seen is None else seen.merged_with(it.lattice)
        return spans, list(lattices.values())

    def touched_spans(self, t0: int, t1: int) -> List[Span]:
        """The window's touches as spans; a sparse sweep's are single pages (as
        many spans as pages it touched: :meth:`accessed_in` is cheaper)."""
        spans, lattices = self._touches_in(t0, t1)
        for lat in lattices:
            map_start = self._map_ranges[lat.region_index][0]
            for first, count, step in lat.page_runs(map_start):
                for page in range(first, first + count * step, step):
                    at = map_start + page * PAGE
                    spans.append((at, at + PAGE, MASK64, 0))
        return spans

    def accessed_in(self, addrs: array, t0: int, t1: int, accessed: bytearray) -> None:
        """accessed[i] = 1 if the page of addrs[i] was touched in (t0, t1], else 0."""
        spans, lattices = self._touches_in(t0, t1)
        self._fast.accessed_in_spans(
            addrs, array("Q", [s[0] for s in spans]), array("Q", [s[1] for s in spans]),
            array("Q", [s[2] for s in spans]), array("Q", [s[3] for s in spans]), PAGE, accessed)
        for lat in lattices:
            m_start, m_end = self._map_ranges[lat.region_index]
            for i, addr in enumerate(addrs):
                if not accessed[i] and m_start <= addr < m_end and lat.hits(addr - addr % PAGE):
                    accessed[i] = 1

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
        self.accessed_in(addrs, self._prepared_at, now_us, accessed)

    # --- ground truth ---------------------------------------------------------
    def working_set_bytes(self, t0: int, t1: int) -> int:
        """Bytes of the pages touched in (t0, t1]: exact for whole-page spans
        and sweeps, the expectation for random ones."""
        spans, lattices = self._touches_in(t0, t1)
        dense: List[Tuple[int, int]] = []
        expected = 0.0
        for start, end, thr, _ in spans:
            first, last = start // PAGE, (end + PAGE - 1) // PAGE
            if thr == MASK64:
                dense.append((first, last))
            else:
                expected += (last - first) * PAGE * (thr / 2.0 ** 64)
        merged = _merge_ranges(dense)
        pages = sum(last - first for first, last in merged)
        starts = [first for first, _ in merged]
        sparse = set()
        for lat in lattices:
            map_start = self._map_ranges[lat.region_index][0]
            for first, count, step in lat.page_runs(map_start):
                sparse.update(range(map_start // PAGE + first,
                                    map_start // PAGE + first + count * step, step))
        for page in sparse:
            k = bisect.bisect_right(starts, page) - 1
            if k < 0 or page >= merged[k][1]:
                pages += 1
        return pages * PAGE + int(expected)

    # --- residency and actions (what an action engine changes) ---------------
    def _apply_touches(self, now_us: int) -> None:
        """Pages the iterations begun by now touched become resident (paged-out
        ones fault in).  Touches only set pages, so those of all the iterations
        since the last call are applied together: the random spans of a
        region in one batch."""
        self._extend_to(now_us)
        random_spans: Dict[int, List[Span]] = {}
        while self._applied < len(self._iterations) and \
                self._iterations[self._applied].start_us <= now_us:
            it = self._iterations[self._applied]
            self._applied += 1
            i = it.region_index
            if self._nonresident[i] == 0:
                continue
            base = self._map_ranges[i][0]
            resident = self._resident[i]
            for span in it.spans:
                start, end, thr, _ = span
                first, last = (start - base) // PAGE, (end - base + PAGE - 1) // PAGE
                if thr == MASK64:
                    self._nonresident[i] -= resident.count(0, first, last)
                    resident[first:last] = b"\x01" * (last - first)
                    self.pages_visited += last - first
                else:
                    random_spans.setdefault(i, []).append(span)
            if it.lattice is not None:
                for first, count, step in it.lattice.page_runs(base):
                    pages = slice(first, first + (count - 1) * step + 1, step)
                    self._nonresident[i] -= resident[pages].count(0)
                    resident[pages] = b"\x01" * count
                    self.pages_visited += count
        for i, spans in random_spans.items():
            if self._nonresident[i]:
                self._apply_random(i, spans)

    def _apply_random(self, i: int, spans: List[Span]) -> None:
        """Random spans of region i: the hash decides each page, in C, a chunk
        of pages at a time (the addresses of a chunk take 8 bytes a page)."""
        base = self._map_ranges[i][0]
        resident = self._resident[i]
        first = min((s[0] - base) // PAGE for s in spans)
        last = max((s[1] - base + PAGE - 1) // PAGE for s in spans)
        columns = [array("Q", [s[c] for s in spans]) for c in range(4)]
        for lo in range(first, last, RANDOM_CHUNK_PAGES):
            if self._nonresident[i] == 0:
                return
            hi = min(last, lo + RANDOM_CHUNK_PAGES)
            hit = bytearray(hi - lo)
            self._fast.accessed_in_spans(array("Q", range(base + lo * PAGE, base + hi * PAGE, PAGE)),
                                         *columns, PAGE, hit)
            before = resident.count(0, lo, hi)
            ored = int.from_bytes(resident[lo:hi], "little") | int.from_bytes(hit, "little")
            resident[lo:hi] = ored.to_bytes(hi - lo, "little")
            self._nonresident[i] -= before - resident.count(0, lo, hi)
            self.pages_visited += hi - lo

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
            out = self._resident[i].count(1, first, last)
            self._resident[i][first:last] = bytes(last - first)
            self._nonresident[i] += out
            freed += out * PAGE
        return freed

    def willneed(self, start: int, end: int, now_us: int) -> int:
        """MADV_WILLNEED: paged-out pages in [start, end) are read back in."""
        self._apply_touches(now_us)
        loaded = 0
        for i, first, last in self._pages_within(start, end):
            absent = self._resident[i].count(0, first, last)
            self._resident[i][first:last] = b"\x01" * (last - first)
            self._nonresident[i] -= absent
            loaded += absent * PAGE
        return loaded

    def cold(self, start: int, end: int, now_us: int) -> int:
        """MADV_COLD only deactivates pages: residency does not change."""
        self._apply_touches(now_us)
        advised = sum((last - first) * PAGE for _, first, last in self._pages_within(start, end))
        self.cold_bytes += advised
        return advised

    def resident_bytes(self, now_us: int) -> int:
        self._apply_touches(now_us)
        return sum(len(r) - n for r, n in zip(self._resident, self._nonresident)) * PAGE
