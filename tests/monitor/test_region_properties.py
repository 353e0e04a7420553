"""Properties of the region algorithms (hypothesis), checked against the
kernel's guarantees."""
from hypothesis import given, settings
from hypothesis import strategies as st

from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.regions import (Region, Splitter, Target, apply_min_nr_regions,
                                        merge_regions, set_regions, three_regions)
from damos_lang.monitor.rng import Rng

from .helpers import simulated_monitor

PAGE = 4096


@st.composite
def adjacent_regions(draw, max_regions=40):
    sizes = draw(st.lists(st.integers(1, 64), min_size=1, max_size=max_regions))
    nrs = draw(st.lists(st.integers(0, 20), min_size=len(sizes), max_size=len(sizes)))
    ages = draw(st.lists(st.integers(0, 100), min_size=len(sizes), max_size=len(sizes)))
    regions, addr = [], 0
    for size, nr, age in zip(sizes, nrs, ages):
        if draw(st.booleans()) and draw(st.booleans()):
            addr += PAGE * draw(st.integers(1, 4))  # sometimes a gap
        regions.append(Region(addr, addr + size * PAGE, nr, age, draw(st.integers(0, 20))))
        addr += size * PAGE
    return regions


def covered(regions):
    """Union of the regions' ranges, as sorted maximal intervals."""
    out = []
    for r in sorted(regions, key=lambda r: r.start):
        if out and out[-1][1] == r.start:
            out[-1] = (out[-1][0], r.end)
        else:
            out.append((r.start, r.end))
    return out


@settings(max_examples=150, deadline=None)
@given(adjacent_regions(), st.integers(0, 20), st.integers(1, 200), st.integers(1, 40))
def test_merge_preserves_coverage_and_weighted_accesses(regions, thres, limit_pages, max_nr):
    before = [(r.start, r.end, r.nr_accesses) for r in regions]
    t = Target(1, [Region(s, e, n) for s, e, n in before])
    merge_regions([t], thres, limit_pages * PAGE, max_nr, samples_per_aggr=20)
    assert covered(t.regions) == covered([Region(s, e) for s, e, _ in before])
    assert sum(r.end - r.start for r in t.regions) == sum(e - s for s, e, _ in before)
    for r in t.regions:
        pieces = [(s, e, n) for s, e, n in before if r.start <= s and e <= r.end]
        weighted = sum((e - s) * n for s, e, n in pieces)
        # each merge floors the size-weighted mean once: never above it, less than one per merge below
        assert r.nr_accesses * (r.end - r.start) <= weighted
        assert weighted < (r.nr_accesses + len(pieces)) * (r.end - r.start)
        assert min(n for _, _, n in pieces) <= r.nr_accesses <= max(n for _, _, n in pieces)
        # a merge never builds a region above the size limit from several pieces
        assert len(pieces) == 1 or r.end - r.start <= limit_pages * PAGE


@settings(max_examples=150, deadline=None)
@given(adjacent_regions(), st.integers(3, 60), st.integers(0, 2**32))
def test_split_preserves_coverage_counters_and_page_alignment(regions, max_nr, seed):
    before = [r.as_tuple() for r in regions]
    t = Target(1, regions)
    Splitter().split([t], max_nr, PAGE, Rng(seed))
    assert covered(t.regions) == covered([Region(b[0], b[1]) for b in before])
    assert len(t.regions) >= len(before)
    if len(before) < max_nr:
        assert len(t.regions) <= max(max_nr, len(before))
    for r in t.regions:
        assert r.start % PAGE == 0 and r.end - r.start >= PAGE
        (origin,) = [b for b in before if b[0] <= r.start and r.end <= b[1]]
        assert (r.nr_accesses, r.age, r.last_nr_accesses) == origin[2:]


@settings(max_examples=100, deadline=None)
@given(adjacent_regions(), st.integers(3, 30))
def test_apply_min_nr_regions_bounds_region_size(regions, min_nr):
    total = sum(r.end - r.start for r in regions)
    t = Target(1, regions)
    limit = apply_min_nr_regions([t], min_nr, PAGE)
    assert limit % PAGE == 0 and limit >= total // min_nr
    assert all(r.end - r.start <= limit for r in t.regions)
    assert sum(r.end - r.start for r in t.regions) == total


@st.composite
def sorted_ranges(draw):
    points = sorted(set(draw(st.lists(st.integers(0, 200), min_size=2, max_size=10))))
    pairs = [(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2)]
    return [(a * PAGE, b * PAGE) for a, b in pairs]


@settings(max_examples=150, deadline=None)
@given(adjacent_regions(), sorted_ranges())
def test_set_regions_covers_exactly_the_ranges(regions, ranges):
    t = Target(1, regions)
    set_regions(t, ranges, PAGE)
    starts = [r.start for r in t.regions]
    assert starts == sorted(starts)
    assert all(a.end <= b.start for a, b in zip(t.regions, t.regions[1:]))
    want = []
    for s, e in ranges:
        if want and want[-1][1] == s:
            want[-1] = (want[-1][0], e)
        else:
            want.append((s, e))
    assert covered(t.regions) == want


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 50)), min_size=1, max_size=12))
def test_three_regions_lie_inside_the_vmas_span(spec):
    vmas, addr = [], 0
    for gap, size in spec:
        addr += gap * PAGE
        vmas.append((addr, addr + size * PAGE))
        addr += size * PAGE
    result = three_regions(vmas)
    gaps = sorted((b[0] - a[1] for a, b in zip(vmas, vmas[1:])), reverse=True)
    if len(gaps) < 2 or gaps[1] == 0:
        assert result is None
        return
    assert result[0][0] == vmas[0][0] and result[2][1] == vmas[-1][1]
    assert all(s < e for s, e in result)
    assert result[0][1] <= result[1][0] and result[1][1] <= result[2][0]
    # what is left out is exactly the two largest gaps
    left_out = result[1][0] - result[0][1] + result[2][0] - result[1][1]
    assert left_out == gaps[0] + gaps[1]


@settings(max_examples=12, deadline=None)
@given(st.integers(3, 20), st.integers(2, 6), st.integers(1, 8), st.integers(0, 1000))
def test_monitor_regions_partition_the_three_ranges(min_nr, max_factor, aggr_samples, seed):
    attrs = MonitorAttrs(sample_us=5000, aggr_us=5000 * aggr_samples, update_us=200_000,
                         min_nr_regions=min_nr, max_nr_regions=min_nr * max_factor)
    monitor, source = simulated_monitor("mixed", seed=seed, attrs=attrs)
    ranges = three_regions(source.mappings(source.pid, 0))
    for snap in monitor.snapshots(until_us=600_000):
        regions = snap.targets[0].regions
        assert [(r.start, r.end) for r in regions] == sorted((r.start, r.end) for r in regions)
        assert covered([Region(r.start, r.end) for r in regions]) == ranges
        assert all(r.start % PAGE == 0 and r.size >= PAGE for r in regions)
        assert all(r.size <= monitor.sz_limit for r in regions)
        assert min_nr <= len(regions) <= attrs.max_nr_regions
        assert all(0 <= r.nr_accesses <= attrs.samples_per_aggr for r in regions)
