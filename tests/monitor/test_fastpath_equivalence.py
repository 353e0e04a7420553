"""The Cython hot loop and the plain-Python reference agree, function by
function on random inputs and on whole region histories, in one process."""
import os
import struct
from array import array

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from damos_lang.monitor import fastpath, reference
from damos_lang.monitor.rng import MASK64, Rng

from .helpers import simulated_monitor

compiled = fastpath.get("cython")  # ImportError here means the extension is not built
PAGE = 4096


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**47), st.integers(1, 2**30)), max_size=50),
       st.integers(0, MASK64))
def test_sampling_addresses_agree_and_follow_the_rng(bounds, seed):
    starts = array("Q", [s for s, _ in bounds])
    ends = array("Q", [s + n for s, n in bounds])
    results = []
    for impl in (compiled, reference):
        out, state = array("Q", bytes(8 * len(bounds))), array("Q", [seed])
        impl.pick_sampling_addresses(starts, ends, out, state)
        results.append((list(out), state[0]))
    assert results[0] == results[1]
    rng = Rng(seed)
    assert results[0][0] == [rng.between(s, e) for s, e in zip(starts, ends)]
    assert all(s <= a < e for s, a, e in zip(starts, results[0][0], ends))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), max_size=60))
def test_count_accesses_agree(spec):
    results = []
    for impl in (compiled, reference):
        nr = array("I", [n for n, _ in spec])
        best = impl.count_accesses(nr, bytearray(int(a) for _, a in spec))
        results.append((list(nr), best))
    assert results[0] == results[1]
    assert results[0][0] == [n + a for n, a in spec]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 2**24), max_size=60),
       st.lists(st.tuples(st.integers(0, 2**24), st.integers(1, 2**20),
                          st.sampled_from([MASK64, 0, 2**63, 2**60]), st.integers(0, MASK64)),
                max_size=6))
def test_accessed_in_spans_agree(addrs, spans):
    args = (array("Q", addrs), array("Q", [s for s, _, _, _ in spans]),
            array("Q", [s + n for s, n, _, _ in spans]), array("Q", [t for _, _, t, _ in spans]),
            array("Q", [x for _, _, _, x in spans]), PAGE)
    outs = []
    for impl in (compiled, reference):
        out = bytearray(len(addrs))
        impl.accessed_in_spans(*args, out)
        outs.append(out)
    assert outs[0] == outs[1]
    for a, hit in zip(addrs, outs[0]):
        page = a - a % PAGE
        if any(t == MASK64 and page < s + n and page + PAGE > s for s, n, t, _ in spans):
            assert hit
        if not any(page < s + n and page + PAGE > s for s, n, _, _ in spans):
            assert not hit


def write_u64s(path, values):
    with open(path, "wb") as f:
        f.write(struct.pack(f"<{len(values)}Q", *values))


class FakeKernel:
    """pagemap, page_idle bitmap and kpageflags as regular files."""

    def __init__(self, tmp_path, entries, kflags):
        self.pagemap = tmp_path / "pagemap"
        self.bitmap = tmp_path / "bitmap"
        self.kpageflags = tmp_path / "kpageflags"
        write_u64s(self.pagemap, entries)
        write_u64s(self.kpageflags, kflags)
        write_u64s(self.bitmap, [0] * (len(kflags) // 64 + 1))
        self.fds = [os.open(p, os.O_RDWR) for p in (self.pagemap, self.bitmap, self.kpageflags)]

    def bitmap_words(self):
        data = self.bitmap.read_bytes()
        return list(struct.unpack(f"<{len(data) // 8}Q", data))

    def set_bitmap(self, words):
        write_u64s(self.bitmap, words)

    def close(self):
        for fd in self.fds:
            os.close(fd)


PRESENT = 1 << 63


# pages 0..9: page 3 not present, pages 5-7 a THP (head PFN 512 + 0), 8 moves later
PFN_OF = {0: 100, 1: 101, 2: 164, 4: 230, 5: 512, 6: 513, 7: 514, 8: 300, 9: 101}
ENTRIES = [PRESENT | PFN_OF[p] if p in PFN_OF else 0 for p in range(10)]
KFLAGS = [0] * 1024
KFLAGS[512] = reference.KPF_COMPOUND_HEAD | reference.KPF_THP
KFLAGS[513] = KFLAGS[514] = reference.KPF_COMPOUND_TAIL | reference.KPF_THP
ADDRS = array("Q", [p * PAGE + 123 for p in range(10)])


def _between_prepare_and_check(k, moves=None):
    """The workload touches PFN 101 (pages 1 and 9) and the THP: the kernel
    clears their idle bits.  Page 8 migrates to another PFN, page 3 faults
    in, and ``moves`` (page -> new PFN) change too."""
    words = k.bitmap_words()
    words[101 >> 6] &= ~(1 << (101 & 63))
    words[512 >> 6] &= ~(1 << (512 & 63))
    k.set_bitmap(words)
    moved = list(ENTRIES)
    for page, pfn in {8: 301, 3: 170, **(moves or {})}.items():
        moved[page] = PRESENT | pfn
    write_u64s(k.pagemap, moved)


def test_idle_prepare_and_check_semantics_agree(tmp_path):
    results = []
    for impl in (compiled, reference):
        k = FakeKernel(tmp_path, ENTRIES, KFLAGS)
        pfns = array("Q", bytes(80))
        impl.idle_prepare(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE)
        words_after_prepare = k.bitmap_words()
        _between_prepare_and_check(k)
        accessed = bytearray(10)
        impl.idle_check(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, accessed)
        results.append((list(pfns), words_after_prepare, list(accessed)))
        k.close()
    assert results[0] == results[1]
    pfns, words, accessed = results[0]
    assert pfns == [100, 101, 164, 0, 230, 512, 512, 512, 300, 101]  # tails map to the head
    expected_words = {1: 1 << (100 - 64) | 1 << (101 - 64), 2: 1 << (164 - 128),
                      3: 1 << (230 - 192), 4: 1 << (300 - 256), 8: 1}
    assert {i: w for i, w in enumerate(words) if w} == expected_words
    assert accessed == [0, 1, 0, 1, 0, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("impl", [compiled, reference], ids=["cython", "python"])
def test_check_with_the_raw_pfns_needs_no_kpageflags_and_says_the_same(tmp_path, impl):
    """idle_prepare's raw PFNs let idle_check skip the THP head lookup for
    pages that did not move: the same answers with kpageflags unreadable."""
    answers = []
    for with_raw in (False, True):
        (tmp_path / str(with_raw)).mkdir()
        k = FakeKernel(tmp_path / str(with_raw), ENTRIES, KFLAGS)
        pfns, raw = array("Q", bytes(80)), array("Q", bytes(80))
        impl.idle_prepare(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, raw)
        assert list(raw) == [PFN_OF.get(p, 0) for p in range(10)]    # before the head lookup
        _between_prepare_and_check(k, {6: 512})   # a THP tail now maps the head: it moved
        accessed = bytearray(10)
        if with_raw:
            impl.idle_check(k.fds[0], k.fds[1], -1, ADDRS, pfns, PAGE, accessed, raw)
        else:
            impl.idle_check(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, accessed)
        answers.append(list(accessed))
        k.close()
    assert answers[0] == answers[1] == [0, 1, 0, 1, 0, 1, 1, 1, 1, 1]


def test_region_histories_agree_on_the_simulator():
    histories = []
    for impl in ("cython", "python"):
        monitor, _ = simulated_monitor("zigzag", seed=11, impl=impl)
        histories.append(list(monitor.snapshots(until_us=14_000_000)))
    assert len(histories[0]) == 140
    assert histories[0] == histories[1]
    # and the history is not trivial: regions moved and counted accesses
    assert len({len(s.targets[0].regions) for s in histories[0]}) > 1
    assert any(r.nr_accesses for s in histories[0] for r in s.targets[0].regions)


def test_same_seed_same_history_other_seed_differs():
    def history(seed):
        monitor, _ = simulated_monitor("mixed", seed=seed)
        return list(monitor.snapshots(until_us=2_000_000))
    assert history(5) == history(5)
    assert history(5) != history(6)


def test_kernel_crossings_are_counted_alike(tmp_path):
    """Both paths count every pread and pwrite by kind (pagemap, bitmap
    write, bitmap read, kpageflags), the same way."""
    results = []
    for impl in (compiled, reference):
        (tmp_path / impl.__name__).mkdir()
        k = FakeKernel(tmp_path / impl.__name__, ENTRIES, KFLAGS)
        pfns, raw, counts = array("Q", bytes(80)), array("Q", bytes(80)), array("Q", bytes(32))
        impl.idle_prepare(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, raw, counts)
        after_prepare = list(counts)
        _between_prepare_and_check(k)
        accessed = bytearray(10)
        impl.idle_check(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, accessed, raw, counts)
        results.append((after_prepare, list(counts), list(accessed)))
        k.close()
    assert results[0] == results[1]
    after_prepare, after_check, accessed = results[0]
    # prepare: the 10 pages in one pagemap read; kpageflags for the 9 present
    # pages plus one look back from each of the 2 THP tails; words 1-4 and 8
    # in one write (zero words 5-7 fill the gap)
    assert after_prepare == [1, 1, 0, 11]
    # check: one pagemap read, no kpageflags (raw PFNs); words 1-4, then 8
    # (a read run bridges only a 1-word gap)
    assert after_check == [2, 1, 2, 11]
    assert accessed == [0, 1, 0, 1, 0, 1, 1, 1, 1, 1]


def _kernel_like_sample(k, moves=(), faults=(), touched=(101, 512)):
    """Between prepare and check, as the kernel would: the touched PFNs lose
    their idle bit; a page that moves (migration, reclaim and refault) frees
    its old PFN, whose idle flag goes with it; faults make pages present."""
    words = k.bitmap_words()
    entries = list(k.entries)
    for pfn in touched:
        words[pfn >> 6] &= ~(1 << (pfn & 63))
    for page, pfn in moves:
        old = entries[page] & ((1 << 55) - 1)
        words[old >> 6] &= ~(1 << (old & 63))
        entries[page] = PRESENT | pfn if pfn else 0
    for page, pfn in faults:
        entries[page] = PRESENT | pfn
    k.set_bitmap(words)
    write_u64s(k.pagemap, entries)
    k.entries = entries


# a whole chunk of pagemap, as the kernel's covers every address (a chunk read
# of a shorter file takes a second pread to see its end)
CHUNK_ENTRIES = ENTRIES + [0] * (reference.CHUNK_PAGES - len(ENTRIES))


def _cached_samples(tmp_path, impl, rounds):
    """Several samples of ADDRS through one TranslationCache: per round the
    accessed flags and the counts of that round."""
    k = FakeKernel(tmp_path, CHUNK_ENTRIES, KFLAGS)
    k.entries = list(CHUNK_ENTRIES)
    cache = reference.TranslationCache()
    out = []
    for kw in rounds:
        counts = array("Q", bytes(32))
        pfns, raw = array("Q", bytes(80)), array("Q", bytes(80))
        impl.idle_prepare(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, raw, counts, cache)
        _kernel_like_sample(k, **kw)
        accessed = bytearray(10)
        impl.idle_check(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, accessed, raw, counts,
                        cache)
        out.append((list(pfns), list(accessed), list(counts)))
    k.close()
    return out, (dict(cache.slots), list(cache.raw), list(cache.head))


ROUNDS = [{},                                   # the first sample: the chunk is read
          {"moves": [(8, 301)], "faults": [(3, 170)]},
          {"touched": ()},                     # nothing touched: nothing re-read
          {"moves": [(2, 0)], "touched": (101,)}]   # page 2 reclaimed


def test_cached_translation_agrees_and_saves_reads(tmp_path):
    results = []
    for impl in (compiled, reference):
        (tmp_path / impl.__name__).mkdir()
        results.append(_cached_samples(tmp_path / impl.__name__, impl, ROUNDS))
    assert results[0] == results[1]
    rounds, (slots, raw, head) = results[0]
    (p0, a0, c0), (p1, a1, c1), (p2, a2, c2), (p3, a3, c3) = rounds
    # round 0: one 4 KiB pagemap read fills the chunk; the heads looked up in
    # kpageflags runs (100-101, 164, 230, 300, 512-514 and the 2 tails' looks back)
    assert p0 == [100, 101, 164, 0, 230, 512, 512, 512, 300, 101]
    assert a0 == [0, 1, 0, 0, 0, 1, 1, 1, 0, 1]
    # pagemap: the chunk, then one run for the 6 re-checked (bit cleared or not
    # present); bitmap words 1-4 and 8: one write, two reads
    assert c0 == [1 + 1, 1, 2, 5 + 2]
    # round 1: no pagemap read at prepare (all cached), nor kpageflags;
    # page 8 moved (its old PFN freed) and page 3 faulted in: both accessed
    assert p1 == p0
    assert a1 == [0, 1, 0, 1, 0, 1, 1, 1, 1, 1]
    assert c1[0] == 1 and c1[3] == 0            # one pagemap run for the re-checked pages
    # round 2: page 3 (PFN 170) and page 8 (301) now come from the cache,
    # their heads looked up once; nothing touched: no pagemap read at all
    assert p2 == [100, 101, 164, 170, 230, 512, 512, 512, 301, 101]
    assert a2 == [0] * 10 and c2[0] == 0 and c2[3] == 2
    # round 3: page 2 was reclaimed: its check fails, the re-read finds it gone
    assert a3 == [0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert slots == {0: 0} and raw[2] == 0 and raw[3] == 170 and raw[8] == 301
    assert head[5:8] == [512, 512, 512]


@pytest.mark.parametrize("impl", [compiled, reference], ids=["cython", "python"])
def test_cached_and_fresh_translation_say_the_same_on_a_kernel_like_history(tmp_path, impl):
    """The cache changes what is read, not what a sample says, as long as the
    kernel clears the idle flag of a page that leaves its PFN."""
    answers = []
    for use_cache in (False, True):
        d = tmp_path / str(use_cache)
        d.mkdir()
        k = FakeKernel(d, CHUNK_ENTRIES, KFLAGS)
        k.entries = list(CHUNK_ENTRIES)
        cache = reference.TranslationCache() if use_cache else None
        got = []
        for kw in ROUNDS:
            pfns, raw = array("Q", bytes(80)), array("Q", bytes(80))
            impl.idle_prepare(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, raw, None, cache)
            _kernel_like_sample(k, **kw)
            accessed = bytearray(10)
            impl.idle_check(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, accessed, raw,
                            None, cache)
            got.append(list(accessed))
        answers.append(got)
        k.close()
    assert answers[0] == answers[1]


def test_a_full_cache_makes_room_before_a_batch_by_dropping_the_oldest_chunks():
    cache = reference.TranslationCache(capacity=4)
    cache.begin(1)
    assert cache.capacity == 4 and cache.new_slot(7) == 0
    cache.clear()
    assert cache.slots == {}
    cache.begin(3)                      # a batch of 3 may need 3 new chunks: 2n = 6
    assert cache.capacity == 6
    for chunk in range(5):
        cache.new_slot(chunk)
    cache.head[1 * reference.CHUNK_PAGES] = 99
    cache.begin(3)                      # 5 cached + 3 more > 6: the 2 oldest go
    assert cache.slots == {2: 2, 3: 3, 4: 4}
    assert cache.new_slot(9) == 1 and cache.head[1 * reference.CHUNK_PAGES] == 0
    assert cache.new_slot(10) == 0 and cache.new_slot(11) == 5


def test_samples_outside_the_mappings_cost_nothing(tmp_path):
    """With the target's mappings known, a sample in a hole has no page (as
    the kernel's page walk finds none): no chunk read, no slot, no re-read."""
    results = []
    holes = array("Q", [p * PAGE for p in range(10)] + [(1 << 30) + 5 * PAGE])
    for impl in (compiled, reference):
        (tmp_path / impl.__name__).mkdir()
        k = FakeKernel(tmp_path / impl.__name__, CHUNK_ENTRIES, KFLAGS)
        cache = reference.TranslationCache()
        cache.set_vmas([(0, 3 * PAGE), (4 * PAGE, 10 * PAGE)])   # page 3 and 1 GiB: holes
        counts = array("Q", bytes(32))
        pfns, raw = array("Q", bytes(88)), array("Q", bytes(88))
        impl.idle_prepare(k.fds[0], k.fds[1], k.fds[2], holes, pfns, PAGE, raw, counts, cache)
        accessed = bytearray(11)
        impl.idle_check(k.fds[0], k.fds[1], k.fds[2], holes, pfns, PAGE, accessed, raw, counts,
                        cache)
        results.append((list(pfns), list(accessed), list(counts), dict(cache.slots)))
        k.close()
    assert results[0] == results[1]
    pfns, accessed, counts, slots = results[0]
    assert pfns[3] == 0 and pfns[10] == 0 and slots == {0: 0}     # no slot for the 1 GiB hole
    # pagemap: the one chunk, nothing else (nothing was touched; page 3, not
    # present but in a hole, is not re-read as a not present page would be)
    assert counts[0] == 1 and accessed == [0] * 11


MOVABLE = (0, 2, 4, 8)          # pages with a PFN of their own (1 and 9 share 101)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "touched": st.lists(st.sampled_from([100, 101, 164, 230, 300, 512]), unique=True),
    "moves": st.lists(st.tuples(st.sampled_from(MOVABLE), st.integers(600, 700) | st.just(0)),
                      max_size=2, unique_by=lambda m: m[0]),
    "faults": st.lists(st.tuples(st.just(3), st.integers(800, 900)), max_size=1)}),
    min_size=1, max_size=6))
def test_random_kernel_like_histories_read_alike_cached_or_not(tmp_path_factory, rounds):
    """On random histories (touches, migrations, reclaims, faults) the kept
    translation answers every sample as reading it afresh does, and both
    paths agree on the answers, the counts and the cache."""
    results = {}
    for impl in (compiled, reference):
        for use_cache in (False, True):
            d = tmp_path_factory.mktemp("k")
            k = FakeKernel(d, CHUNK_ENTRIES, KFLAGS)
            k.entries = list(CHUNK_ENTRIES)
            cache = reference.TranslationCache() if use_cache else None
            got = []
            for kw in rounds:
                # only a present page moves (a reclaimed one faults in instead),
                # only a page not present faults in
                moves = [(p, pfn) for p, pfn in kw["moves"] if k.entries[p]]
                faults = [(p, pfn) for p, pfn in kw["faults"] + [m for m in kw["moves"] if m[1]]
                          if not k.entries[p]]
                counts = array("Q", bytes(32))
                pfns, raw = array("Q", bytes(80)), array("Q", bytes(80))
                impl.idle_prepare(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, raw,
                                  counts, cache)
                _kernel_like_sample(k, moves=moves, faults=faults, touched=kw["touched"])
                accessed = bytearray(10)
                impl.idle_check(k.fds[0], k.fds[1], k.fds[2], ADDRS, pfns, PAGE, accessed, raw,
                                counts, cache)
                got.append((list(accessed), list(counts) if use_cache else None))
            results[impl.__name__, use_cache] = (
                got, (dict(cache.slots), list(cache.raw), list(cache.head)) if cache else None)
            k.close()
    c, p = compiled.__name__, reference.__name__
    assert results[c, True] == results[p, True]
    assert [a for a, _ in results[c, False][0]] == [a for a, _ in results[p, False][0]]
    assert [a for a, _ in results[p, True][0]] == [a for a, _ in results[p, False][0]]
