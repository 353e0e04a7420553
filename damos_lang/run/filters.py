"""DAMOS filters (algorithm.md §9.7) as user space can evaluate them.

Core filters (``addr``, ``target``) decide per region, before the action, and
an ``addr`` filter splits a region that straddles its range, as the kernel
does.  Ops filters (``anon``, ``young``) decide per page, from what a
:mod:`probe <damos_lang.run.probe>` reads (pagemap flags, the idle bit, or
the simulator's state).  The first matching filter decides; when none
matches, the default is the opposite of the last filter's ``allow`` (with
ops filters present, the core default is "pass on to the ops filters").

The kernel's vaddr ignores ops filters for madvise actions; damos run
applies them page by page, so ``filter reject young`` really leaves young
pages alone."""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

from .. import catalog
from ..model import Filter
from ..monitor.regions import Target, split_at

PAGE = 4096


def split_filters(filters: Sequence[Filter]) -> Tuple[List[Filter], List[Filter]]:
    core = [f for f in filters if catalog.FILTER_TYPES[f.type].core]
    ops = [f for f in filters if not catalog.FILTER_TYPES[f.type].core]
    return core, ops


def default_reject(filters: Sequence[Filter]) -> bool:
    """damos_filters_default_reject: reject the unmatched if the last filter allows."""
    return bool(filters) and filters[-1].allow


class FilterSet:
    def __init__(self, filters: Sequence[Filter], min_region_sz: int = PAGE) -> None:
        self.core, self.ops = split_filters(filters)
        self.min_region_sz = min_region_sz
        self.core_default_reject = False if self.ops else default_reject(self.core)
        self.ops_default_reject = default_reject(self.ops)

    def _addr_range(self, f: Filter) -> Tuple[int, int]:
        a = self.min_region_sz
        return f.addr_start // a * a, f.addr_end // a * a

    def _core_match(self, f: Filter, target_index: int, t: Target, i: int, split: bool) -> bool:
        if catalog.FILTER_TYPES[f.type].arg is catalog.ARG_INDEX:     # target
            matched = target_index == f.target_idx
        else:  # addr (an address range)
            r = t.regions[i]
            start, end = self._addr_range(f)
            if start <= r.start and r.end <= end:
                matched = True
            elif r.end <= start or end <= r.start:
                matched = False
            elif r.start < start:
                if split:
                    split_at(t, i, start - r.start)
                matched = False
            else:
                if split:
                    split_at(t, i, end - r.start)
                matched = True
        return matched == f.matching

    def core_verdict(self, target_index: int, t: Target, i: int, split: bool = True):
        """(rejected, allowed) for region ``i`` of ``t``; an ``addr`` filter may
        cut the region so that its left part is the one judged (``split``)."""
        for f in self.core:
            if self._core_match(f, target_index, t, i, split):
                return (not f.allow), f.allow
        return self.core_default_reject, False

    def ops_kinds(self) -> List[str]:
        return sorted({f.type for f in self.ops})

    def ops_pass_mask(self, props: Dict[str, bytes], npages: int) -> bytearray:
        """1 for each page the ops filters let through, given each page's
        properties (``props[type][page]`` is 1 when the page has it).  Pages
        are bytes of one big integer, so each filter is a few int operations."""
        ones = int.from_bytes(b"\x01" * npages, "little")
        undecided, passed = ones, 0
        for f in self.ops:
            has = int.from_bytes(bytes(props[f.type][:npages]), "little")
            matched = (has if f.matching else ones ^ has) & undecided
            if f.allow:
                passed |= matched
            undecided &= ~matched
        if not self.ops_default_reject:
            passed |= undecided
        return bytearray(passed.to_bytes(npages, "little"))


def runs(start: int, mask: bytearray, page: int = PAGE) -> List[Tuple[int, int]]:
    """The [start, end) ranges of consecutive 1 pages in ``mask``."""
    out = []
    p, n = 0, len(mask)
    while p < n:
        if mask[p]:
            q = p
            while q < n and mask[q]:
                q += 1
            out.append((start + p * page, start + q * page))
            p = q
        else:
            p += 1
    return out
