"""Regions and the kernel's region algorithms (algorithm.md §5-§8, Linux 7.3).

Everything here is integer arithmetic on plain lists of Region, in address
order, so it can be compared line by line with mm/damon/core.c and vaddr.c."""
from typing import List, Optional, Sequence, Tuple

from .rng import Rng

AddrRange = Tuple[int, int]


class Region:
    """A monitoring region [start, end) with the kernel's counters."""

    __slots__ = ("start", "end", "nr_accesses", "last_nr_accesses", "age", "sampling_addr")

    def __init__(self, start: int, end: int, nr_accesses: int = 0, age: int = 0,
                 last_nr_accesses: int = 0) -> None:
        self.start = start
        self.end = end
        self.nr_accesses = nr_accesses
        self.last_nr_accesses = last_nr_accesses
        self.age = age
        self.sampling_addr = start

    @property
    def size(self) -> int:
        return self.end - self.start

    def as_tuple(self) -> Tuple[int, int, int, int, int]:
        return (self.start, self.end, self.nr_accesses, self.age, self.last_nr_accesses)

    def __repr__(self) -> str:
        return (f"Region({self.start:#x}-{self.end:#x} nr={self.nr_accesses} "
                f"last={self.last_nr_accesses} age={self.age})")


class Target:
    """One monitored address space (a pid for the real source)."""

    def __init__(self, target_id: int, regions: Optional[List[Region]] = None) -> None:
        self.target_id = target_id
        self.regions: List[Region] = regions if regions is not None else []

    def total_bytes(self) -> int:
        return sum(r.end - r.start for r in self.regions)


def align_up(x: int, a: int) -> int:
    return (x + a - 1) // a * a


def align_down(x: int, a: int) -> int:
    return x // a * a


# --- §8: the three-region layout and damon_set_regions ---------------------

def three_regions(vmas: Sequence[AddrRange], align: int = 4096) -> Optional[List[AddrRange]]:
    """__damon_va_three_regions: cut out the two largest gaps between VMAs.

    `vmas` are (start, end) in address order, without [vsyscall]. Returns None
    (the kernel's -EINVAL) when either gap is empty."""
    first_gap = (0, 0)
    second_gap = (0, 0)
    start = None
    prev_end = None
    for vma_start, vma_end in vmas:
        if prev_end is None:
            start = vma_start
        else:
            gap = vma_start - prev_end
            if gap > first_gap[1] - first_gap[0]:
                second_gap = first_gap
                first_gap = (prev_end, vma_start)
            elif gap > second_gap[1] - second_gap[0]:
                second_gap = (prev_end, vma_start)
        prev_end = vma_end
    if first_gap[1] == first_gap[0] or second_gap[1] == second_gap[0]:
        return None
    if first_gap[0] > second_gap[0]:
        first_gap, second_gap = second_gap, first_gap
    return [(align_up(start, align), align_up(first_gap[0], align)),
            (align_up(first_gap[1], align), align_up(second_gap[0], align)),
            (align_up(second_gap[1], align), align_up(prev_end, align))]


def _intersects(r: Region, start: int, end: int) -> bool:
    return r.start < end and start < r.end


def set_regions(target: Target, ranges: Sequence[AddrRange], min_region_sz: int) -> None:
    """damon_set_regions: fit the target's regions to `ranges` (sorted, disjoint).

    Regions outside every range go; the first and last region meeting a range
    are stretched to its (aligned) bounds; holes inside a range get new
    regions with zero counters; survivors keep their counters."""
    regions = [r for r in target.regions
               if any(_intersects(r, s, e) for s, e in ranges)]
    cursor = 0
    for range_start, range_end in ranges:
        first = last = None
        while cursor < len(regions):
            r = regions[cursor]
            if _intersects(r, range_start, range_end):
                if first is None:
                    first = cursor
                last = cursor
            if r.start >= range_end:
                break
            cursor += 1
        aligned_start = align_down(range_start, min_region_sz)
        aligned_end = align_up(range_end, min_region_sz)
        if first is None:
            regions.insert(cursor, Region(aligned_start, aligned_end))
            cursor += 1
            continue
        regions[first].start = aligned_start
        regions[last].end = aligned_end
        # damon_fill_regions_holes(first, last)
        i = first
        while i < last:
            left, right = regions[i], regions[i + 1]
            if left.end != right.start:
                regions.insert(i + 1, Region(left.end, right.start))
                last += 1
                cursor += 1
                i += 1
            i += 1
    target.regions = regions


# --- §5, §6: age and merge --------------------------------------------------

def update_age(r: Region, thres: int) -> None:
    """Age counts aggregations with a similar access frequency (7.0+ rule)."""
    cur, prev = r.nr_accesses, r.last_nr_accesses
    if abs(cur - prev) > thres or (cur == 0) != (prev == 0):
        r.age = 0
    else:
        r.age += 1


def merge_two(prev: Region, r: Region) -> None:
    """damon_merge_two_regions: size-weighted counters; prev keeps last_nr_accesses."""
    sz_prev, sz_r = prev.end - prev.start, r.end - r.start
    total = sz_prev + sz_r
    prev.nr_accesses = (prev.nr_accesses * sz_prev + r.nr_accesses * sz_r) // total
    prev.age = (prev.age * sz_prev + r.age * sz_r) // total
    prev.end = r.end


def merge_target(target: Target, thres: int, sz_limit: int, count_age: bool) -> None:
    kept: List[Region] = []
    prev: Optional[Region] = None
    for r in target.regions:
        if count_age:
            update_age(r, thres)
        if (prev is not None and prev.end == r.start
                and abs(r.nr_accesses - prev.nr_accesses) <= thres
                and (prev.end - prev.start) + (r.end - r.start) <= sz_limit):
            merge_two(prev, r)
        else:
            kept.append(r)
            prev = r
    target.regions = kept


def merge_regions(targets: Sequence[Target], thres: int, sz_limit: int,
                  max_nr_regions: int, samples_per_aggr: int) -> None:
    """kdamond_merge_regions: merge with a doubling threshold until under max."""
    max_thres = samples_per_aggr
    first_pass = True
    while True:
        for t in targets:
            merge_target(t, thres, sz_limit, count_age=first_pass)
        first_pass = False
        total = sum(len(t.regions) for t in targets)
        if total <= max_nr_regions or thres >= max_thres:
            break
        thres = max(1, thres * 2) if thres < max_thres // 2 else max_thres


# --- §7: split and the min_nr_regions bound ---------------------------------

def split_at(target: Target, index: int, sz: int) -> Region:
    """damon_split_region_at: cut regions[index] `sz` bytes after its start;
    both pieces keep nr_accesses, last_nr_accesses and age. Returns the right piece."""
    r = target.regions[index]
    right = Region(r.start + sz, r.end, r.nr_accesses, r.age, r.last_nr_accesses)
    r.end = r.start + sz
    target.regions.insert(index + 1, right)
    return right


def _random_cut(r: Region, rng: Rng, min_region_sz: int) -> int:
    """The cut offset: 10-90 % of the region, page aligned; 0 means no cut."""
    sz = r.end - r.start
    cut = align_down(rng.between(1, 10) * sz // 10, min_region_sz)
    return cut if 0 < cut < sz else 0


class Splitter:
    """kdamond_split_regions, with the kernel's static state (last count, rotation)."""

    def __init__(self) -> None:
        self.last_nr_regions = 0
        self.rotation = 0

    def split(self, targets: Sequence[Target], max_nr_regions: int, min_region_sz: int,
              rng: Rng) -> None:
        n = sum(len(t.regions) for t in targets)
        if n >= max_nr_regions:
            pass
        elif n > max_nr_regions // 2:
            # 7.3: cut one region of every `step` so the count creeps towards max
            step = max_nr_regions // (max_nr_regions - n)
            offset = self.rotation % step
            self.rotation += 1
            idx = 0
            for t in targets:
                originals = list(t.regions)
                for r in originals:
                    if idx % step == offset and r.end - r.start >= 2 * min_region_sz:
                        cut = _random_cut(r, rng, min_region_sz)
                        if cut:
                            split_at(t, t.regions.index(r), cut)
                    idx += 1
        else:
            pieces = 3 if (n == self.last_nr_regions and n < max_nr_regions // 3) else 2
            for t in targets:
                _split_target(t, pieces, min_region_sz, rng)
        self.last_nr_regions = n


def _split_target(t: Target, pieces: int, min_region_sz: int, rng: Rng) -> None:
    out: List[Region] = []
    for r in t.regions:
        # cut r, then cut its left piece again for a 3-way split (right pieces stay)
        rights: List[Region] = []
        size = r.end - r.start
        for _ in range(pieces - 1):
            if size <= 2 * min_region_sz:
                break
            cut = align_down(rng.between(1, 10) * size // 10, min_region_sz)
            if cut == 0 or cut >= size:
                continue
            rights.append(Region(r.start + cut, r.end, r.nr_accesses, r.age, r.last_nr_accesses))
            r.end = r.start + cut
            size = cut
        out.append(r)
        out.extend(reversed(rights))
    t.regions = out


def apply_min_nr_regions(targets: Sequence[Target], min_nr_regions: int,
                         min_region_sz: int) -> int:
    """damon_apply_min_nr_regions: cut every region above the size limit into
    limit-sized chunks from its start; return the (aligned) limit."""
    total = sum(t.total_bytes() for t in targets)
    limit = align_up(max(min_region_sz, total // min_nr_regions), min_region_sz)
    for t in targets:
        if all(r.end - r.start <= limit for r in t.regions):
            continue
        out: List[Region] = []
        for r in t.regions:
            while r.end - r.start > limit:
                out.append(Region(r.start, r.start + limit, r.nr_accesses, r.age,
                                  r.last_nr_accesses))
                r.start += limit
            out.append(r)
        t.regions = out
    return limit


def sz_limit_of(targets: Sequence[Target], min_nr_regions: int, min_region_sz: int) -> int:
    total = sum(t.total_bytes() for t in targets)
    return align_up(max(min_region_sz, total // min_nr_regions), min_region_sz)
