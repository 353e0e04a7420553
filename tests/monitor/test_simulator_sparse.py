"""The simulator on sparse workloads (issue 14): its work follows the pages
a pattern touches, not the size of the region (a 256 MiB region swept with
a 1 MiB stride cost 6.6 s of CPU per simulated second, every page visited
each iteration), and a sparse sweep touches what masim's loop touches.

Work is counted (``SimulatorSource.pages_visited``: residency-map entries
read or written by touches), never timed."""
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.masim import AccessPattern, MasimConfig, MasimRegion, Phase, parse_masim
from damos_lang.monitor.monitor import Monitor
from damos_lang.monitor.rng import mix64
from damos_lang.monitor.sources.simulator import PAGE, SimulatorSource

MiB, GiB = 1 << 20, 1 << 30


def config(size: int, stride: int, random: bool = False, weight: int = 1,
           duration_ms: int = 10_000) -> MasimConfig:
    return MasimConfig((MasimRegion("r", size),),
                       (Phase("p", duration_ms, (AccessPattern("r", random, stride, weight),)),))


def masim_sweep(size: int, stride: int, last: int, k: int):
    """masim's do_seq_wo, literally: the offsets of k accesses after `last`."""
    offsets, offset = [], last
    for _ in range(k):
        offset += stride
        if offset >= size:
            offset = 0
        offsets.append(offset)
    return offsets, offset


def visits_per_iteration(source: SimulatorSource, iterations: int):
    """pages_visited by each of the first iterations, brought in one by one."""
    out = []
    for i in range(iterations):
        before = source.pages_visited
        source.resident_bytes(i * source.iteration_us + 1)  # iteration i has begun
        out.append(source.pages_visited - before)
    return out


@pytest.mark.parametrize("stride", [MiB, 4 * GiB, 8192, 4097 * 3])
@pytest.mark.parametrize("size", [64 * MiB, 256 * MiB, GiB])
def test_pages_visited_are_the_pages_the_stride_touches(size, stride):
    source = SimulatorSource(config(size, stride))
    k = source.accesses_per_iteration
    lattice_points = 1 if stride >= size else (size - 1) // stride + 1
    visits = visits_per_iteration(source, 40)
    touched = [it.lattice.touched() for it in source._iterations[:40]]
    assert visits == touched
    assert all(t == min(k, lattice_points) for t in touched)
    region_pages = size // PAGE
    assert max(visits) <= min(k, region_pages)


def test_a_huge_stride_visits_one_page_whatever_the_region_size():
    visits = {size: visits_per_iteration(SimulatorSource(config(size, 4 * GiB)), 30)
              for size in (MiB, 256 * MiB, 4 * GiB)}
    assert all(v == [1] * 30 for v in visits.values()), visits


def test_a_simulated_second_of_a_sparse_sweep_visits_what_it_touches():
    """The issue's workload: 256 MiB, 1 MiB stride, monitored for 1 s with
    the residency read at each aggregation (as ``damos run`` does)."""
    source = SimulatorSource(config(256 * MiB, MiB))
    monitor = Monitor(MonitorAttrs(), source, seed=1)
    for _ in monitor.snapshots(until_us=1_000_000):
        source.resident_bytes(monitor.now_us)
    iterations = len(source._iterations)
    assert iterations >= 700
    assert source.pages_visited <= iterations * 256          # the lattice: 256 pages
    assert source.resident_bytes(monitor.now_us) == 256 * PAGE


@pytest.mark.parametrize("size,stride,k", [(MiB + 123, 12345, 7), (MiB + 123, 12345, 200),
                                           (300_000, 4097, 50), (5 * PAGE, 3 * PAGE, 4),
                                           (10_000, 0, 5), (10_000, 20_000, 5)])
def test_a_sparse_sweep_touches_what_masim_touches(size, stride, k):
    source = SimulatorSource(config(size, stride), accesses_per_iteration=k)
    base, _ = source.region_ranges[0]
    map_start, map_end = source._map_ranges[0]
    pages = array("Q", range(map_start, map_end, PAGE))
    last, union = 0, set()
    for i in range(12):
        offsets, last = masim_sweep(size, stride, last, k)
        truth = {(base + o) // PAGE * PAGE for o in offsets}
        union |= truth
        t0, t1 = i * source.iteration_us, (i + 1) * source.iteration_us
        seen = bytearray(len(pages))
        source.accessed_in(pages, t0, t1, seen)           # what check() reports
        assert {pages[j] for j in range(len(pages)) if seen[j]} == truth, i
        assert {s[0] for s in source.touched_spans(t0, t1)} == truth
        assert source.working_set_bytes(t0, t1) == len(truth) * PAGE
        # residency: the pages of every iteration begun so far
        assert source.resident_bytes(t0) == len(union) * PAGE
    assert source.pageout(map_start, map_end, 12 * source.iteration_us) > 0
    assert source.resident_bytes(12 * source.iteration_us) == 0


def test_random_touches_batched_agree_with_the_hash_of_each_iteration():
    """Random spans reach the residency map in one batch per reading; the
    pages are those whose hash passes for some iteration, as check() says."""
    size = 3 * MiB + 100
    source = SimulatorSource(config(size, 64, random=True), accesses_per_iteration=200)
    map_start, _ = source._map_ranges[0]
    t = 9 * source.iteration_us
    resident = source.resident_bytes(t)
    expected = set()
    for it in source._iterations[:10]:
        ((start, end, thr, salt),) = it.spans
        for page in range(start // PAGE, (end + PAGE - 1) // PAGE):
            if mix64(page ^ salt) <= thr:
                expected.add(page)
    assert 0 < len(expected) < size // PAGE
    assert resident == len(expected) * PAGE
    # a reading per iteration gives the same map as one reading at the end
    again = SimulatorSource(config(size, 64, random=True), accesses_per_iteration=200)
    for i in range(10):
        again.resident_bytes(i * again.iteration_us)
    assert again._resident[0] == source._resident[0]


def test_a_phase_of_zero_probabilities_makes_no_access():
    cfg = parse_masim("r, 65536\n\nidle\n100\nr, 0, 4096, 0\n\nbusy\n100\nr, 0, 4096, 1\n")
    source = SimulatorSource(cfg)
    assert source.working_set_bytes(0, 100_000) == 0
    assert source.resident_bytes(99_000) == 0
    assert source.working_set_bytes(100_000, 200_000) > 0


# -- fuzz: any stride, any size, bounded work ---------------------------------------

STRIDES = [0, 1, 64, 4095, 4096, 4097, 8191, 12345, MiB, 3 * MiB + 1, 4 * GiB, 1 << 40]
SIZES = [1, 100, 4096, 5000, MiB + 17, 256 * MiB, 4 * GiB + 3, 1 << 34]
# a reading of a random region hashes each of its pages (in C): kept small here
RANDOM_SIZES = SIZES[:6]


@st.composite
def workloads(draw):
    random = draw(st.booleans())
    size = draw(st.sampled_from(RANDOM_SIZES if random else SIZES))
    return size, draw(st.sampled_from(STRIDES)), random


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(workloads(), st.sampled_from([1, 7, 1000, 131_072]), st.integers(1, 12))
def test_fuzzed_workloads_do_bounded_work(workload, k, iterations):
    size, stride, random = workload
    source = SimulatorSource(config(size, stride, random=random), accesses_per_iteration=k)
    map_pages = len(source._resident[0])
    visits = visits_per_iteration(source, iterations)
    if random:
        # one batch per reading, over the region: never more than its pages
        assert all(v <= map_pages for v in visits), visits
    else:
        # each access touches one page at most (a dense span: two part pages more)
        assert all(v <= min(map_pages, k + 2) for v in visits), visits
    start, end = source._map_ranges[0]
    resident = source.resident_bytes(iterations * source.iteration_us)
    # a random page is touched with a probability: maybe none, in a short run
    assert (0 if random else PAGE) <= resident <= map_pages * PAGE
    assert source.pageout(start, end, iterations * source.iteration_us) == resident
    assert source.resident_bytes(iterations * source.iteration_us) == 0
