"""The per-sample hot loop in plain Python: the specification of _fastpath.pyx.

Every function here has a twin of the same name and signature in the Cython
module; tests run both on the same inputs and require identical results.
Arrays are array('Q') (u64), array('I') (u32) and bytearray (flags)."""
import os
import struct
from array import array
from bisect import bisect_right
from itertools import islice
from typing import Dict, List, Optional, Tuple

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
PM_PRESENT = 1 << 63
PM_PFN_MASK = (1 << 55) - 1
KPF_COMPOUND_HEAD = 1 << 15
KPF_COMPOUND_TAIL = 1 << 16
KPF_THP = 1 << 22
MOVED = 1 << 63            # idle_check: a page whose PFN changed since prepare
# pagemap pages closer than this are read in one pread: reading 8 extra
# entries costs less than one more syscall (workloads.md §4)
PAGEMAP_GAP_PAGES = 8
# at most 4 KiB moves per read or write of the idle bitmap
MAX_RUN_WORDS = 512
# kernel crossings, counted in the optional ``counts`` argument (array('Q'),
# at least 4 entries) of idle_prepare and idle_check: one per pread/pwrite
PAGEMAP_READS, BITMAP_WRITES, BITMAP_READS, KPAGEFLAGS_READS = range(4)
COUNT_KINDS = ("pagemap_reads", "bitmap_writes", "bitmap_reads", "kpageflags_reads")
# bitmap runs join across gaps: a written zero word is a no-op for its 64
# PFNs (the kernel only tests each bit), so up to 4 of them cost less than
# another pwrite; an extra word read costs 64 page lookups in the kernel (an
# rmap walk for each idle one), so a read run only bridges a 1-word gap
BITMAP_WRITE_GAP_WORDS = 4
BITMAP_READ_GAP_WORDS = 1
# kpageflags entries closer than this are read in one pread (as pagemap's)
KPAGEFLAGS_GAP_PFNS = 8
# TranslationCache: pagemap entries are kept per chunk of this many pages
# (one 4 KiB pread fills a chunk)
CHUNK_PAGES = 512


def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def pick_sampling_addresses(starts: array, ends: array, out: array, rng_state: array) -> None:
    """out[i] = damon_rand(starts[i], ends[i]), drawing from the SplitMix64 state."""
    s = rng_state[0]
    for i in range(len(starts)):
        s = (s + GOLDEN) & MASK64
        out[i] = starts[i] + _mix64(s) % (ends[i] - starts[i])
    rng_state[0] = s


def count_accesses(nr_accesses: array, accessed: bytearray) -> int:
    """nr_accesses[i] += accessed[i]; return the largest nr_accesses."""
    best = 0
    for i in range(len(nr_accesses)):
        if accessed[i]:
            nr_accesses[i] += 1
        if nr_accesses[i] > best:
            best = nr_accesses[i]
    return best


def accessed_in_spans(addrs: array, span_starts: array, span_ends: array,
                      span_thresholds: array, span_salts: array, page_size: int,
                      out: bytearray) -> None:
    """The simulator's check: the page of addrs[i] was accessed if it overlaps a
    span and, for a span touching only some pages, its hash passes the span's
    threshold (MASK64: every page)."""
    nspans = len(span_starts)
    for i in range(len(addrs)):
        page = addrs[i] - addrs[i] % page_size
        hit = 0
        for j in range(nspans):
            if page < span_ends[j] and page + page_size > span_starts[j]:
                thr = span_thresholds[j]
                if thr == MASK64 or _mix64((page // page_size) ^ span_salts[j]) <= thr:
                    hit = 1
                    break
        out[i] = hit


# --- page_idle: /proc/PID/pagemap and /sys/kernel/mm/page_idle/bitmap ------

def _read_u64s(fd: int, index: int, count: int, counts: Optional[array] = None,
               kind: int = PAGEMAP_READS) -> List[int]:
    """count u64 entries from entry `index`; entries past EOF read as 0. A
    short read is continued (as the fast path does); every pread is counted
    in ``counts[kind]``."""
    data = b""
    want = 8 * count
    while len(data) < want:
        chunk = os.pread(fd, want - len(data), 8 * index + len(data))
        if counts is not None:
            counts[kind] += 1
        if not chunk:
            break
        data += chunk
    got = len(data) // 8
    values = list(struct.unpack(f"<{got}Q", data[:8 * got]))
    return values + [0] * (count - got)


def _write_u64s(fd: int, index: int, values: List[int], counts: Optional[array] = None) -> None:
    """pwrite the words from word `index`; a short write is continued, a
    0-byte write ends it (page_idle accepts only whole words below max_pfn)."""
    data = struct.pack(f"<{len(values)}Q", *values)
    done = 0
    while done < len(data):
        n = os.pwrite(fd, data[done:], 8 * index + done)
        if counts is not None:
            counts[BITMAP_WRITES] += 1
        if n == 0:
            break
        done += n


def _pfns_of(pagemap_fd: int, kpageflags_fd: int, addrs: array, page_size: int,
             counts: Optional[array] = None) -> List[int]:
    """The PFN of each address's page (the THP head's PFN for a tail page), 0
    when not present."""
    return _heads(kpageflags_fd, _raw_pfns(pagemap_fd, addrs, page_size, counts), counts)


def _raw_pfns(pagemap_fd: int, addrs: array, page_size: int,
              counts: Optional[array] = None) -> List[int]:
    """The pagemap's PFN of each address's page, 0 when not present. Nearby
    pages share one pagemap read."""
    n = len(addrs)
    order = sorted(range(n), key=lambda i: addrs[i] // page_size)
    pfns = [0] * n
    k = 0
    while k < n:
        first = addrs[order[k]] // page_size
        end = k + 1
        last = first
        while end < n:
            page = addrs[order[end]] // page_size
            if page - last > PAGEMAP_GAP_PAGES or page - first >= MAX_RUN_WORDS:
                break
            last = page
            end += 1
        entries = _read_u64s(pagemap_fd, first, last - first + 1, counts, PAGEMAP_READS)
        for m in range(k, end):
            i = order[m]
            e = entries[addrs[i] // page_size - first]
            pfns[i] = e & PM_PFN_MASK if e & PM_PRESENT else 0
        k = end
    return pfns


def _heads(kpageflags_fd: int, pfns: List[int], counts: Optional[array] = None) -> List[int]:
    """Each PFN's THP head (itself unless a THP tail); unchanged without kpageflags."""
    if kpageflags_fd < 0:
        return pfns
    return [_head_pfn(kpageflags_fd, pfn, counts) if pfn else 0 for pfn in pfns]


def _head_pfn(kpageflags_fd: int, pfn: int, counts: Optional[array] = None) -> int:
    """Only a THP's head page carries the idle flag; tails read 'not idle'."""
    (flags,) = _read_u64s(kpageflags_fd, pfn, 1, counts, KPAGEFLAGS_READS)
    if not (flags & KPF_COMPOUND_TAIL and flags & KPF_THP):
        return pfn
    base = pfn - pfn % 512  # a THP never crosses a 512-page (PMD) boundary
    before = _read_u64s(kpageflags_fd, base, pfn - base, counts, KPAGEFLAGS_READS)
    for back in range(len(before) - 1, -1, -1):
        if before[back] & KPF_COMPOUND_HEAD:
            return base + back
    return pfn


def _word_runs(words: List[int], max_gap: int = 0) -> List[Tuple[int, int]]:
    """(first word, count) runs over sorted distinct words, <= 4 KiB each; a
    run goes on across up to ``max_gap`` words that are not in ``words``."""
    runs: List[Tuple[int, int]] = []
    for w in words:
        if runs:
            first, count = runs[-1]
            if w - (first + count) <= max_gap and w - first < MAX_RUN_WORDS:
                runs[-1] = (first, w - first + 1)
                continue
        runs.append((w, 1))
    return runs


def _write_masks(bitmap_fd: int, masks: Dict[int, int], counts: Optional[array]) -> None:
    """Set the idle bits of ``masks`` (word -> bits), words in runs with zero
    words in small gaps."""
    for first, count in _word_runs(sorted(masks), BITMAP_WRITE_GAP_WORDS):
        _write_u64s(bitmap_fd, first, [masks.get(first + j, 0) for j in range(count)], counts)


def _read_words(bitmap_fd: int, words: Dict[int, int], counts: Optional[array]) -> None:
    """Fill ``words`` (word -> value) from the bitmap, in runs across 1-word gaps."""
    for first, count in _word_runs(sorted(words), BITMAP_READ_GAP_WORDS):
        values = _read_u64s(bitmap_fd, first, count, counts, BITMAP_READS)
        for j in range(count):
            if first + j in words:
                words[first + j] = values[j]


class TranslationCache:
    """One target's virtual-to-physical translation, kept between samples.

    Pagemap entries are cached per chunk of CHUNK_PAGES pages: the first
    sample in a chunk reads the whole chunk (one 4 KiB pread), later samples
    anywhere in it read nothing.  ``raw[slot * CHUNK_PAGES + page % CHUNK_PAGES]``
    is the page's pagemap PFN (0: not present), ``head[...]`` its THP head's
    PFN (0: not looked up yet).  The owner clears it at every update interval
    (mappings change); idle_check re-reads the entry of every sample whose
    check failed (idle bit cleared) or whose page was not present, so a page
    that moves, leaves or arrives is seen at its next such sample.

    ``set_vmas`` gives the target's mappings (at every update interval): a
    sample outside them (a hole inside a region) has no page, as the kernel's
    page table walk finds none, and costs no read and no cache slot.  Without
    them every address counts as mapped.

    Memory: 16 bytes per cached page, at most ``capacity`` chunks (8 KiB
    each); a batch of n samples may raise the capacity to 2n chunks.  Before
    a batch that could overflow it, the oldest chunks make room (never during
    a batch: a sample's entry stays where it was found until the check)."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self.slots: Dict[int, int] = {}    # chunk number -> slot, oldest first
        self.free: List[int] = []
        self.nslots = 0
        self.raw = array("Q")
        self.head = array("Q")
        self.vma_starts = array("Q")
        self.vma_ends = array("Q")

    def set_vmas(self, vmas) -> None:
        """The target's mappings (start, end), sorted and not overlapping."""
        self.vma_starts = array("Q", [s for s, _ in vmas])
        self.vma_ends = array("Q", [e for _, e in vmas])

    def mapped(self, addr: int) -> bool:
        if not len(self.vma_starts):
            return True
        i = bisect_right(self.vma_starts, addr) - 1
        return i >= 0 and addr < self.vma_ends[i]

    def clear(self) -> None:
        self.slots.clear()
        self.free.clear()
        self.nslots = 0

    def begin(self, n: int) -> None:
        """Before a batch of n samples: room for n new chunks."""
        if self.capacity < 2 * n:
            self.capacity = 2 * n
        over = len(self.slots) + n - self.capacity
        if over > 0:
            for chunk in list(islice(self.slots, over)):
                self.free.append(self.slots.pop(chunk))

    def new_slot(self, chunk: int) -> int:
        """A slot for ``chunk`` (not cached); its heads zero (looked up later)."""
        if self.free:
            slot = self.free.pop()
        else:
            slot = self.nslots
            self.nslots += 1
            need = (slot + 1) * CHUNK_PAGES
            if len(self.raw) < need:
                grow = max(need, 2 * len(self.raw)) - len(self.raw)
                self.raw.extend(array("Q", bytes(8 * grow)))
                self.head.extend(array("Q", bytes(8 * grow)))
        self.slots[chunk] = slot
        base = slot * CHUNK_PAGES
        self.head[base:base + CHUNK_PAGES] = _ZERO_CHUNK
        return slot


_ZERO_CHUNK = array("Q", bytes(8 * CHUNK_PAGES))
UNMAPPED = -1     # a sample outside the target's mappings: no cache entry


def _cached_entries(pagemap_fd: int, cache: TranslationCache, addrs: array, page_size: int,
                    counts: Optional[array]) -> List[int]:
    """The cache index of each sample's page (UNMAPPED outside the
    mappings); chunks not cached are read."""
    index = []
    for a in addrs:
        if not cache.mapped(a):
            index.append(UNMAPPED)
            continue
        page = a // page_size
        chunk = page // CHUNK_PAGES
        slot = cache.slots.get(chunk)
        if slot is None:
            slot = cache.new_slot(chunk)
            entries = _read_u64s(pagemap_fd, chunk * CHUNK_PAGES, CHUNK_PAGES, counts,
                                 PAGEMAP_READS)
            base = slot * CHUNK_PAGES
            for j, e in enumerate(entries):
                cache.raw[base + j] = e & PM_PFN_MASK if e & PM_PRESENT else 0
        index.append(slot * CHUNK_PAGES + page % CHUNK_PAGES)
    return index


def _resolve_heads(kpageflags_fd: int, cache: TranslationCache, index: List[int],
                   counts: Optional[array]) -> None:
    """Fill cache.head for the sampled entries not looked up yet: their
    kpageflags in runs across small gaps, then a look back from each THP tail."""
    todo: Dict[int, List[int]] = {}
    for j in index:
        if j == UNMAPPED:
            continue
        pfn = cache.raw[j]
        if pfn and not cache.head[j]:
            todo.setdefault(pfn, []).append(j)
    if not todo:
        return
    if kpageflags_fd < 0:
        for pfn, js in todo.items():
            for j in js:
                cache.head[j] = pfn
        return
    pfns = sorted(todo)
    k = 0
    while k < len(pfns):
        first = last = pfns[k]
        end = k + 1
        while (end < len(pfns) and pfns[end] - last <= KPAGEFLAGS_GAP_PFNS
               and pfns[end] - first < MAX_RUN_WORDS):
            last = pfns[end]
            end += 1
        flags = _read_u64s(kpageflags_fd, first, last - first + 1, counts, KPAGEFLAGS_READS)
        for m in range(k, end):
            pfn = pfns[m]
            head = pfn
            f = flags[pfn - first]
            if f & KPF_COMPOUND_TAIL and f & KPF_THP and pfn % 512:
                base = pfn - pfn % 512
                before = _read_u64s(kpageflags_fd, base, pfn - base, counts, KPAGEFLAGS_READS)
                for back in range(len(before) - 1, -1, -1):
                    if before[back] & KPF_COMPOUND_HEAD:
                        head = base + back
                        break
            for j in todo[pfn]:
                cache.head[j] = head
        k = end


def idle_prepare(pagemap_fd: int, bitmap_fd: int, kpageflags_fd: int, addrs: array,
                 pfns_out: array, page_size: int, raw_out: Optional[array] = None,
                 counts: Optional[array] = None, cache: Optional[TranslationCache] = None) -> None:
    """mkold: find each sample's PFN and set its idle bit. Samples that share a
    64-PFN bitmap word are one word write; nearby words one pwrite (zero words
    between them change nothing).  ``raw_out``, if given, gets the pagemap's
    own PFNs (before the THP head lookup), which lets idle_check skip
    kpageflags. ``counts`` (if given) counts the preads and pwrites by kind
    (PAGEMAP_READS ...). With ``cache`` the translation comes from it (see
    TranslationCache): no pagemap or kpageflags read for a cached page."""
    if cache is None:
        raw = _raw_pfns(pagemap_fd, addrs, page_size, counts)
        pfns = _heads(kpageflags_fd, raw, counts)
    else:
        cache.begin(len(addrs))
        index = _cached_entries(pagemap_fd, cache, addrs, page_size, counts)
        _resolve_heads(kpageflags_fd, cache, index, counts)
        raw = [0 if j == UNMAPPED else cache.raw[j] for j in index]
        pfns = [cache.head[j] if r else 0 for j, r in zip(index, raw)]
    masks: Dict[int, int] = {}
    for i, pfn in enumerate(pfns):
        pfns_out[i] = pfn
        if raw_out is not None:
            raw_out[i] = raw[i]
        if pfn:
            masks[pfn >> 6] = masks.get(pfn >> 6, 0) | (1 << (pfn & 63))
    _write_masks(bitmap_fd, masks, counts)


def idle_check(pagemap_fd: int, bitmap_fd: int, kpageflags_fd: int, addrs: array,
               pfns_prepared: array, page_size: int, accessed_out: bytearray,
               raw_prepared: Optional[array] = None, counts: Optional[array] = None,
               cache: Optional[TranslationCache] = None) -> None:
    """young check: accessed if the idle bit was cleared, or the page became
    present or moved to another PFN since prepare; not present: not accessed.
    With ``raw_prepared`` (idle_prepare's raw_out), a page whose pagemap PFN
    is unchanged keeps its prepared head PFN: no kpageflags reads.

    With ``cache`` (the one idle_prepare used) the bitmap is read first: a
    page whose idle bit is still set was not accessed (a page that is freed,
    migrated or reclaimed loses its idle flag), and its pagemap entry is not
    read again.  The others (bit cleared, or not present at prepare) are
    re-read: accessed if present now; their cache entries are updated."""
    if cache is not None:
        _check_cached(pagemap_fd, bitmap_fd, addrs, pfns_prepared, page_size, accessed_out,
                      counts, cache)
        return
    if raw_prepared is None:
        pfns = _pfns_of(pagemap_fd, kpageflags_fd, addrs, page_size, counts)
    else:
        # a page that moved: marked so it differs from any prepared PFN
        pfns = [pfns_prepared[i] if r and r == raw_prepared[i] else (r | MOVED if r else 0)
                for i, r in enumerate(_raw_pfns(pagemap_fd, addrs, page_size, counts))]
    words: Dict[int, int] = {}
    for pfn in pfns:
        if pfn and not pfn & MOVED:
            words[pfn >> 6] = 0
    _read_words(bitmap_fd, words, counts)
    for i, pfn in enumerate(pfns):
        if not pfn:
            accessed_out[i] = 0
        elif pfn != pfns_prepared[i]:
            accessed_out[i] = 1
        else:
            accessed_out[i] = 0 if words[pfn >> 6] >> (pfn & 63) & 1 else 1


def _check_cached(pagemap_fd: int, bitmap_fd: int, addrs: array, pfns_prepared: array,
                  page_size: int, accessed_out: bytearray, counts: Optional[array],
                  cache: TranslationCache) -> None:
    words: Dict[int, int] = {}
    for pfn in pfns_prepared[:len(addrs)]:
        if pfn:
            words[pfn >> 6] = 0
    _read_words(bitmap_fd, words, counts)
    recheck = array("Q")
    which = []
    for i in range(len(addrs)):
        pfn = pfns_prepared[i]
        if pfn and words[pfn >> 6] >> (pfn & 63) & 1:
            accessed_out[i] = 0                   # still idle: not accessed
        elif not pfn and not cache.mapped(addrs[i]):
            accessed_out[i] = 0                   # no mapping, no page
        else:
            recheck.append(addrs[i])
            which.append(i)
    now = _raw_pfns(pagemap_fd, recheck, page_size, counts)
    for i, a, r in zip(which, recheck, now):
        accessed_out[i] = 1 if r else 0
        page = a // page_size
        slot = cache.slots.get(page // CHUNK_PAGES)
        if slot is not None:
            j = slot * CHUNK_PAGES + page % CHUNK_PAGES
            if cache.raw[j] != r:
                cache.raw[j] = r
                cache.head[j] = 0
