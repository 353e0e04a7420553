# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The per-sample hot loop in C (Cython). reference.py is its specification:
same functions, same signatures, same results."""
from libc.stdint cimport uint64_t, uint32_t, int64_t
from libc.stdlib cimport malloc, free, qsort
from libc.string cimport memset
from libc.errno cimport errno
from posix.unistd cimport pread, pwrite

cdef uint64_t MASK64 = 0xFFFFFFFFFFFFFFFF
cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15
cdef uint64_t PM_PRESENT = 1ULL << 63
cdef uint64_t PM_PFN_MASK = (1ULL << 55) - 1
cdef uint64_t KPF_COMPOUND_HEAD = 1ULL << 15
cdef uint64_t KPF_COMPOUND_TAIL = 1ULL << 16
cdef uint64_t KPF_THP = 1ULL << 22
cdef uint64_t MOVED = 1ULL << 63      # idle_check: the PFN changed since prepare
cdef uint64_t PAGEMAP_GAP_PAGES = 8
cdef uint64_t MAX_RUN_WORDS = 512
cdef uint64_t BITMAP_WRITE_GAP_WORDS = 4
cdef uint64_t BITMAP_READ_GAP_WORDS = 1
cdef uint64_t KPAGEFLAGS_GAP_PFNS = 8
cdef uint64_t CHUNK_PAGES = 512
cdef uint64_t UNMAPPED = 0xFFFFFFFFFFFFFFFF   # a cache index: outside the mappings


cdef inline bint mapped(const uint64_t[::1] starts, const uint64_t[::1] ends,
                        uint64_t addr) noexcept nogil:
    """As TranslationCache.mapped: inside one of the sorted (start, end)."""
    cdef Py_ssize_t lo = 0, hi = starts.shape[0], mid
    if hi == 0:
        return True
    while lo < hi:                       # the first start > addr
        mid = (lo + hi) // 2
        if starts[mid] <= addr:
            lo = mid + 1
        else:
            hi = mid
    return lo > 0 and addr < ends[lo - 1]
# kernel crossings (reference.PAGEMAP_READS ...): one per pread/pwrite, in
# the optional ``counts`` argument of idle_prepare and idle_check
cdef enum:
    PAGEMAP_READS = 0
    BITMAP_WRITES = 1
    BITMAP_READS = 2
    KPAGEFLAGS_READS = 3


cdef inline uint64_t *counter(uint64_t *counts, int kind) noexcept nogil:
    return NULL if counts == NULL else counts + kind


cdef inline uint64_t mix64(uint64_t z) nogil:
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


def pick_sampling_addresses(const uint64_t[::1] starts, const uint64_t[::1] ends,
                            uint64_t[::1] out, uint64_t[::1] rng_state):
    cdef Py_ssize_t i, n = starts.shape[0]
    cdef uint64_t s = rng_state[0]
    with nogil:
        for i in range(n):
            s = s + GOLDEN
            out[i] = starts[i] + mix64(s) % (ends[i] - starts[i])
    rng_state[0] = s


def count_accesses(uint32_t[::1] nr_accesses, const unsigned char[::1] accessed):
    cdef Py_ssize_t i, n = nr_accesses.shape[0]
    cdef uint32_t best = 0
    with nogil:
        for i in range(n):
            if accessed[i]:
                nr_accesses[i] += 1
            if nr_accesses[i] > best:
                best = nr_accesses[i]
    return best


def accessed_in_spans(const uint64_t[::1] addrs, const uint64_t[::1] span_starts,
                      const uint64_t[::1] span_ends, const uint64_t[::1] span_thresholds,
                      const uint64_t[::1] span_salts, uint64_t page_size,
                      unsigned char[::1] out):
    cdef Py_ssize_t i, j, n = addrs.shape[0], nspans = span_starts.shape[0]
    cdef uint64_t page, thr
    cdef unsigned char hit
    with nogil:
        for i in range(n):
            page = addrs[i] - addrs[i] % page_size
            hit = 0
            for j in range(nspans):
                if page < span_ends[j] and page + page_size > span_starts[j]:
                    thr = span_thresholds[j]
                    if thr == MASK64 or mix64((page // page_size) ^ span_salts[j]) <= thr:
                        hit = 1
                        break
            out[i] = hit


# --- page_idle ---------------------------------------------------------------

cdef int cmp_u64(const void *a, const void *b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t *>a)[0], y = (<const uint64_t *>b)[0]
    return (x > y) - (x < y)


ctypedef struct pair_t:
    uint64_t key
    uint64_t idx


cdef int cmp_pair(const void *a, const void *b) noexcept nogil:
    cdef const pair_t *x = <const pair_t *>a
    cdef const pair_t *y = <const pair_t *>b
    if x.key != y.key:
        return (x.key > y.key) - (x.key < y.key)
    return (x.idx > y.idx) - (x.idx < y.idx)


cdef int read_u64s(int fd, uint64_t index, uint64_t count, uint64_t *buf,
                   uint64_t *ctr) noexcept nogil:
    """count entries from `index` into buf; past EOF reads 0; each pread
    counted in *ctr (unless NULL). Returns errno or 0."""
    cdef Py_ssize_t got = 0, r
    cdef char *p = <char *>buf
    cdef uint64_t want = 8 * count
    while got < <Py_ssize_t>want:
        r = pread(fd, p + got, want - got, <long>(8 * index + got))
        if ctr != NULL:
            ctr[0] += 1
        if r < 0:
            return errno
        if r == 0:
            break
        got += r
    if got < <Py_ssize_t>want:
        memset(p + got, 0, want - got)
    return 0


cdef int write_u64s(int fd, uint64_t index, uint64_t count, uint64_t *buf,
                    uint64_t *ctr) noexcept nogil:
    cdef Py_ssize_t done = 0, r
    cdef char *p = <char *>buf
    cdef uint64_t want = 8 * count
    while done < <Py_ssize_t>want:
        r = pwrite(fd, p + done, want - done, <long>(8 * index + done))
        if ctr != NULL:
            ctr[0] += 1
        if r < 0:
            return errno
        if r == 0:
            # page_idle accepts only whole 64-PFN words below max_pfn: the
            # last, partial word of memory writes 0 bytes (as the reference's
            # single pwrite leaves it); looping on it would never end
            break
        done += r
    return 0


cdef int head_pfn(int kfd, uint64_t pfn, uint64_t *out, uint64_t *scratch,
                  uint64_t *ctr) noexcept nogil:
    cdef uint64_t flags, base
    cdef int err = read_u64s(kfd, pfn, 1, &flags, ctr)
    out[0] = pfn
    if err:
        return err
    if not ((flags & KPF_COMPOUND_TAIL) and (flags & KPF_THP)):
        return 0
    return tail_head(kfd, pfn, out, scratch, ctr)


cdef int tail_head(int kfd, uint64_t pfn, uint64_t *out, uint64_t *scratch,
                   uint64_t *ctr) noexcept nogil:
    """A THP tail's head: the last compound head before it in its 512 PFNs."""
    cdef uint64_t base = pfn - pfn % 512
    cdef Py_ssize_t back
    cdef int err
    out[0] = pfn
    if pfn == base:
        return 0
    err = read_u64s(kfd, base, pfn - base, scratch, ctr)
    if err:
        return err
    for back in range(<Py_ssize_t>(pfn - base) - 1, -1, -1):
        if scratch[back] & KPF_COMPOUND_HEAD:
            out[0] = base + back
            return 0
    return 0


cdef int pfns_of(int pagemap_fd, int kfd, const uint64_t *addrs, Py_ssize_t n,
                 uint64_t page_size, uint64_t *pfns, uint64_t *raw,
                 uint64_t *counts) noexcept nogil:
    """As reference._pfns_of; pfns has n entries; raw (if not NULL) gets the
    pagemap's PFNs before the THP head lookup. Returns errno or 0."""
    cdef Py_ssize_t k, end, m, i
    cdef uint64_t first, last, page, idx
    cdef uint64_t *keys = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *entries = <uint64_t *>malloc(MAX_RUN_WORDS * sizeof(uint64_t))
    cdef int err = 0
    if keys == NULL or entries == NULL:
        free(keys); free(entries)
        return 12  # ENOMEM
    # sort sample indices by page: key = page << 21 | index (n < 2**21)
    for i in range(n):
        keys[i] = ((addrs[i] // page_size) << 21) | <uint64_t>i
    qsort(keys, n, sizeof(uint64_t), cmp_u64)
    k = 0
    while k < n:
        first = keys[k] >> 21
        last = first
        end = k + 1
        while end < n:
            page = keys[end] >> 21
            if page - last > PAGEMAP_GAP_PAGES or page - first >= MAX_RUN_WORDS:
                break
            last = page
            end += 1
        err = read_u64s(pagemap_fd, first, last - first + 1, entries,
                        counter(counts, PAGEMAP_READS))
        if err:
            break
        for m in range(k, end):
            idx = keys[m] & ((1 << 21) - 1)
            page = keys[m] >> 21
            if entries[page - first] & PM_PRESENT:
                pfns[idx] = entries[page - first] & PM_PFN_MASK
            else:
                pfns[idx] = 0
        k = end
    if not err and raw != NULL:
        for i in range(n):
            raw[i] = pfns[i]
    if not err and kfd >= 0:
        for i in range(n):
            if pfns[i]:
                err = head_pfn(kfd, pfns[i], &pfns[i], entries,
                               counter(counts, KPAGEFLAGS_READS))
                if err:
                    break
    free(keys)
    free(entries)
    return err


cdef Py_ssize_t unique_words(uint64_t *pfns, Py_ssize_t n, uint64_t *sorted_pfns,
                             uint64_t *words) noexcept nogil:
    """Sorted distinct bitmap words of the non-zero, not MOVED pfns;
    sorted_pfns is scratch."""
    cdef Py_ssize_t i, m = 0, nw = 0
    for i in range(n):
        if pfns[i] and not (pfns[i] & MOVED):
            sorted_pfns[m] = pfns[i]
            m += 1
    qsort(sorted_pfns, m, sizeof(uint64_t), cmp_u64)
    for i in range(m):
        if nw == 0 or words[nw - 1] != sorted_pfns[i] >> 6:
            words[nw] = sorted_pfns[i] >> 6
            nw += 1
    return nw


cdef Py_ssize_t find_word(uint64_t *words, Py_ssize_t nw, uint64_t w) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = nw, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if words[mid] < w:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef Py_ssize_t run_end(uint64_t *words, Py_ssize_t nw, Py_ssize_t k,
                        uint64_t max_gap) noexcept nogil:
    """As reference._word_runs: the run from words[k] takes words[k + 1 ...]
    while each is at most max_gap words after the run's end and within 4 KiB
    of its first word; returns the index after the run's last word."""
    cdef Py_ssize_t e = k + 1
    while e < nw and words[e] - words[e - 1] - 1 <= max_gap and words[e] - words[k] < MAX_RUN_WORDS:
        e += 1
    return e


cdef int write_masks(int bitmap_fd, uint64_t *words, uint64_t *masks, Py_ssize_t nw,
                     uint64_t *counts) noexcept nogil:
    """Write masks[k] at words[k] (sorted, distinct), in runs across
    BITMAP_WRITE_GAP_WORDS-word gaps filled with zero words."""
    cdef Py_ssize_t k = 0, e, m
    cdef uint64_t span
    cdef int err = 0
    cdef uint64_t *buf = <uint64_t *>malloc(MAX_RUN_WORDS * sizeof(uint64_t))
    if buf == NULL:
        return 12
    while k < nw:
        e = run_end(words, nw, k, BITMAP_WRITE_GAP_WORDS)
        span = words[e - 1] - words[k] + 1
        memset(buf, 0, span * sizeof(uint64_t))
        for m in range(k, e):
            buf[words[m] - words[k]] = masks[m]
        err = write_u64s(bitmap_fd, words[k], span, buf, counter(counts, BITMAP_WRITES))
        if err:
            break
        k = e
    free(buf)
    return err


cdef int read_words(int bitmap_fd, uint64_t *words, uint64_t *values, Py_ssize_t nw,
                    uint64_t *counts) noexcept nogil:
    """values[k] = the bitmap word words[k] (sorted, distinct), read in runs
    across BITMAP_READ_GAP_WORDS-word gaps."""
    cdef Py_ssize_t k = 0, e, m
    cdef uint64_t span
    cdef int err = 0
    cdef uint64_t *buf = <uint64_t *>malloc(MAX_RUN_WORDS * sizeof(uint64_t))
    if buf == NULL:
        return 12
    while k < nw:
        e = run_end(words, nw, k, BITMAP_READ_GAP_WORDS)
        span = words[e - 1] - words[k] + 1
        err = read_u64s(bitmap_fd, words[k], span, buf, counter(counts, BITMAP_READS))
        if err:
            break
        for m in range(k, e):
            values[m] = buf[words[m] - words[k]]
        k = e
    free(buf)
    return err


cdef int mark_idle(int bitmap_fd, uint64_t *pfns, Py_ssize_t n, uint64_t *counts) noexcept nogil:
    """Set the idle bit of every non-zero pfn."""
    cdef Py_ssize_t i, nw
    cdef int err
    cdef uint64_t *scratch = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *words = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *masks = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if scratch == NULL or words == NULL or masks == NULL:
        free(scratch); free(words); free(masks)
        return 12
    nw = unique_words(pfns, n, scratch, words)
    memset(masks, 0, (nw + 1) * sizeof(uint64_t))
    for i in range(n):
        if pfns[i]:
            masks[find_word(words, nw, pfns[i] >> 6)] |= 1ULL << (pfns[i] & 63)
    err = write_masks(bitmap_fd, words, masks, nw, counts)
    free(scratch); free(words); free(masks)
    return err


cdef raise_errno(int err):
    import os
    raise OSError(err, os.strerror(err))


cdef check_sortable(const uint64_t[::1] addrs, uint64_t page_size):
    """pfns_of packs (page, index) into one u64: page < 2**43, index < 2**21."""
    cdef Py_ssize_t i
    if addrs.shape[0] >= (1 << 21):
        raise ValueError("more than 2**21 samples in one batch")
    for i in range(addrs.shape[0]):
        if addrs[i] // page_size >= (1ULL << 43):
            raise ValueError(f"address {addrs[i]:#x} is above the 2**55 the fast path sorts")


cdef uint64_t *counts_of(uint64_t[::1] counts) except? NULL:
    if counts is None:
        return NULL
    if counts.shape[0] < 4:
        raise ValueError("counts needs 4 entries (pagemap, bitmap write, bitmap read, kpageflags)")
    return &counts[0]


def idle_prepare(int pagemap_fd, int bitmap_fd, int kpageflags_fd, const uint64_t[::1] addrs,
                 uint64_t[::1] pfns_out, uint64_t page_size, uint64_t[::1] raw_out=None,
                 uint64_t[::1] counts=None, cache=None):
    cdef Py_ssize_t n = addrs.shape[0], i
    check_sortable(addrs, page_size)
    cdef int err = 0
    cdef uint64_t *cnt = counts_of(counts)
    cdef uint64_t *raw = NULL
    if raw_out is not None:
        if raw_out.shape[0] < n:
            raise ValueError("raw_out is shorter than addrs")
        raw = &raw_out[0] if n else NULL
    if cache is not None:
        _prepare_cached(pagemap_fd, bitmap_fd, kpageflags_fd, addrs, pfns_out, page_size,
                        raw, cnt, cache)
        return
    cdef uint64_t *pfns = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if pfns == NULL:
        raise MemoryError()
    with nogil:
        err = pfns_of(pagemap_fd, kpageflags_fd, &addrs[0] if n else NULL, n, page_size,
                      pfns, raw, cnt)
        if not err:
            for i in range(n):
                pfns_out[i] = pfns[i]
            err = mark_idle(bitmap_fd, pfns, n, cnt)
    free(pfns)
    if err:
        raise_errno(err)


cdef uint64_t *cache_index(cache, const uint64_t[::1] addrs, uint64_t page_size,
                           uint64_t *fresh, Py_ssize_t *nfresh) except NULL:
    """As reference._cached_entries' lookups: each sample's cache index;
    fresh gets (chunk, slot) pairs of chunks to read (not read here)."""
    cdef Py_ssize_t n = addrs.shape[0], i
    cdef uint64_t page, chunk, slot
    cdef dict slots = cache.slots
    cdef const uint64_t[::1] vs = cache.vma_starts
    cdef const uint64_t[::1] ve = cache.vma_ends
    cdef uint64_t *index = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if index == NULL:
        raise MemoryError()
    nfresh[0] = 0
    for i in range(n):
        if not mapped(vs, ve, addrs[i]):
            index[i] = UNMAPPED
            continue
        page = addrs[i] // page_size
        chunk = page // CHUNK_PAGES
        obj = slots.get(chunk)
        if obj is None:
            slot = cache.new_slot(chunk)
            fresh[2 * nfresh[0]] = chunk
            fresh[2 * nfresh[0] + 1] = slot
            nfresh[0] += 1
        else:
            slot = obj
        index[i] = slot * CHUNK_PAGES + page % CHUNK_PAGES
    return index


cdef int resolve_heads(int kfd, uint64_t *craw, uint64_t *chead, uint64_t *index,
                       Py_ssize_t n, uint64_t *counts) noexcept nogil:
    """As reference._resolve_heads."""
    cdef Py_ssize_t i, m = 0, k, end, g, q
    cdef uint64_t first, last, pfn, head, f
    cdef int err = 0
    cdef pair_t *todo = <pair_t *>malloc((n + 1) * sizeof(pair_t))
    cdef uint64_t *flags = <uint64_t *>malloc(MAX_RUN_WORDS * sizeof(uint64_t))
    cdef uint64_t *scratch = <uint64_t *>malloc(MAX_RUN_WORDS * sizeof(uint64_t))
    if todo == NULL or flags == NULL or scratch == NULL:
        free(todo); free(flags); free(scratch)
        return 12
    for i in range(n):
        if index[i] == UNMAPPED:
            continue
        pfn = craw[index[i]]
        if pfn and not chead[index[i]]:
            todo[m].key = pfn
            todo[m].idx = index[i]
            m += 1
    if kfd < 0:
        for i in range(m):
            chead[todo[i].idx] = todo[i].key
        free(todo); free(flags); free(scratch)
        return 0
    qsort(todo, m, sizeof(pair_t), cmp_pair)
    k = 0
    while k < m:
        first = last = todo[k].key
        end = k + 1
        while end < m:
            pfn = todo[end].key
            if pfn != last and (pfn - last > KPAGEFLAGS_GAP_PFNS or pfn - first >= MAX_RUN_WORDS):
                break
            last = pfn
            end += 1
        err = read_u64s(kfd, first, last - first + 1, flags, counter(counts, KPAGEFLAGS_READS))
        if err:
            break
        g = k
        while g < end:
            pfn = todo[g].key
            head = pfn
            f = flags[pfn - first]
            if (f & KPF_COMPOUND_TAIL) and (f & KPF_THP) and pfn % 512:
                err = tail_head(kfd, pfn, &head, scratch, counter(counts, KPAGEFLAGS_READS))
                if err:
                    break
            q = g
            while q < end and todo[q].key == pfn:
                chead[todo[q].idx] = head
                q += 1
            g = q
        if err:
            break
        k = end
    free(todo); free(flags); free(scratch)
    return err


cdef _prepare_cached(int pagemap_fd, int bitmap_fd, int kfd, const uint64_t[::1] addrs,
                     uint64_t[::1] pfns_out, uint64_t page_size, uint64_t *raw,
                     uint64_t *cnt, cache):
    cdef Py_ssize_t n = addrs.shape[0], i, nfresh = 0, j
    cdef int err = 0
    cdef uint64_t chunk, base, e
    cache.begin(n)
    cdef uint64_t *fresh = <uint64_t *>malloc((2 * n + 2) * sizeof(uint64_t))
    if fresh == NULL:
        raise MemoryError()
    cdef uint64_t *index = NULL
    try:
        index = cache_index(cache, addrs, page_size, fresh, &nfresh)
    except BaseException:
        free(fresh)
        raise
    cdef uint64_t[::1] raw_v = cache.raw
    cdef uint64_t[::1] head_v = cache.head
    cdef uint64_t *craw = &raw_v[0] if raw_v.shape[0] else NULL
    cdef uint64_t *chead = &head_v[0] if head_v.shape[0] else NULL
    cdef uint64_t *pfns = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if pfns == NULL:
        free(fresh); free(index)
        raise MemoryError()
    with nogil:
        for i in range(nfresh):
            chunk = fresh[2 * i]
            base = fresh[2 * i + 1] * CHUNK_PAGES
            err = read_u64s(pagemap_fd, chunk * CHUNK_PAGES, CHUNK_PAGES, &craw[base],
                            counter(cnt, PAGEMAP_READS))
            if err:
                break
            for j in range(<Py_ssize_t>CHUNK_PAGES):
                e = craw[base + j]
                craw[base + j] = (e & PM_PFN_MASK) if (e & PM_PRESENT) else 0
        if not err:
            err = resolve_heads(kfd, craw, chead, index, n, cnt)
        if not err:
            for i in range(n):
                e = 0 if index[i] == UNMAPPED else craw[index[i]]
                pfns[i] = chead[index[i]] if e else 0
                pfns_out[i] = pfns[i]
                if raw != NULL:
                    raw[i] = e
            err = mark_idle(bitmap_fd, pfns, n, cnt)
    free(fresh); free(index); free(pfns)
    if err:
        raise_errno(err)


def idle_check(int pagemap_fd, int bitmap_fd, int kpageflags_fd, const uint64_t[::1] addrs,
               const uint64_t[::1] pfns_prepared, uint64_t page_size,
               unsigned char[::1] accessed_out, const uint64_t[::1] raw_prepared=None,
               uint64_t[::1] counts=None, cache=None):
    cdef Py_ssize_t n = addrs.shape[0], i, nw
    check_sortable(addrs, page_size)
    cdef int err = 0
    cdef uint64_t pfn, value
    cdef uint64_t *cnt = counts_of(counts)
    cdef bint use_raw = raw_prepared is not None
    if use_raw and raw_prepared.shape[0] < n:
        raise ValueError("raw_prepared is shorter than addrs")
    if cache is not None:
        _check_cached(pagemap_fd, bitmap_fd, addrs, pfns_prepared, page_size, accessed_out,
                      cnt, cache)
        return
    cdef uint64_t *pfns = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *scratch = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *words = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *values = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if pfns == NULL or scratch == NULL or words == NULL or values == NULL:
        free(pfns); free(scratch); free(words); free(values)
        raise MemoryError()
    with nogil:
        if use_raw:
            # an unchanged pagemap PFN keeps its prepared head: no kpageflags
            err = pfns_of(pagemap_fd, -1, &addrs[0] if n else NULL, n, page_size, pfns, NULL, cnt)
            if not err:
                for i in range(n):
                    if pfns[i] and pfns[i] == raw_prepared[i]:
                        pfns[i] = pfns_prepared[i]
                    elif pfns[i]:
                        pfns[i] |= MOVED
        else:
            err = pfns_of(pagemap_fd, kpageflags_fd, &addrs[0] if n else NULL, n, page_size,
                          pfns, NULL, cnt)
        if not err:
            nw = unique_words(pfns, n, scratch, words)
            err = read_words(bitmap_fd, words, values, nw, cnt)
        if not err:
            for i in range(n):
                pfn = pfns[i]
                if pfn == 0:
                    accessed_out[i] = 0
                elif pfn != pfns_prepared[i]:
                    accessed_out[i] = 1
                else:
                    value = values[find_word(words, nw, pfn >> 6)]
                    accessed_out[i] = 0 if (value >> (pfn & 63)) & 1 else 1
    free(pfns); free(scratch); free(words); free(values)
    if err:
        raise_errno(err)


cdef _check_cached(int pagemap_fd, int bitmap_fd, const uint64_t[::1] addrs,
                   const uint64_t[::1] pfns_prepared, uint64_t page_size,
                   unsigned char[::1] accessed_out, uint64_t *cnt, cache):
    """As reference._check_cached."""
    cdef Py_ssize_t n = addrs.shape[0], i, nw, nr = 0
    cdef int err = 0
    cdef uint64_t pfn, page, slot, j
    cdef uint64_t[::1] raw_v, head_v
    cdef dict slots
    cdef const uint64_t[::1] vs = cache.vma_starts
    cdef const uint64_t[::1] ve = cache.vma_ends
    cdef uint64_t *prepared = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *scratch = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *words = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *values = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *which = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *again = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    cdef uint64_t *now = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    if (prepared == NULL or scratch == NULL or words == NULL or values == NULL or which == NULL
            or again == NULL or now == NULL):
        free(prepared); free(scratch); free(words); free(values); free(which); free(again); free(now)
        raise MemoryError()
    with nogil:
        for i in range(n):
            prepared[i] = pfns_prepared[i]
        nw = unique_words(prepared, n, scratch, words)
        err = read_words(bitmap_fd, words, values, nw, cnt)
        if not err:
            for i in range(n):
                pfn = prepared[i]
                if pfn and (values[find_word(words, nw, pfn >> 6)] >> (pfn & 63)) & 1:
                    accessed_out[i] = 0           # still idle: not accessed
                elif not pfn and not mapped(vs, ve, addrs[i]):
                    accessed_out[i] = 0           # no mapping, no page
                else:
                    which[nr] = i
                    again[nr] = addrs[i]
                    nr += 1
            err = pfns_of(pagemap_fd, -1, again, nr, page_size, now, NULL, cnt)
    if not err:
        slots = cache.slots
        raw_v = cache.raw
        head_v = cache.head
        for i in range(nr):
            accessed_out[which[i]] = 1 if now[i] else 0
            page = again[i] // page_size
            obj = slots.get(page // CHUNK_PAGES)
            if obj is not None:
                slot = obj
                j = slot * CHUNK_PAGES + page % CHUNK_PAGES
                if raw_v[j] != now[i]:
                    raw_v[j] = now[i]
                    head_v[j] = 0
    free(prepared); free(scratch); free(words); free(values); free(which); free(again); free(now)
    if err:
        raise_errno(err)
