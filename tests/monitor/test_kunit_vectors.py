"""The kernel's KUnit vectors (algorithm.md §4-§8, §12)."""
import pytest

from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.errors import MonitorError
from damos_lang.monitor.monitor import moving_sum
from damos_lang.monitor.regions import (Region, Splitter, Target, apply_min_nr_regions,
                                        merge_target, merge_two, set_regions, split_at,
                                        three_regions)
from damos_lang.monitor.rng import Rng


def ranges(t: Target):
    return [(r.start, r.end) for r in t.regions]


def test_split_at_keeps_counters_in_both_pieces():
    t = Target(1, [Region(0, 100, nr_accesses=7, age=3, last_nr_accesses=5)])
    split_at(t, 0, 25)
    assert [r.as_tuple() for r in t.regions] == [(0, 25, 7, 3, 5), (25, 100, 7, 3, 5)]


def test_merge_vector():
    spec = [(0, 100, 0), (100, 112, 0), (114, 122, 10), (122, 130, 10), (130, 156, 20),
            (156, 170, 30), (170, 184, 1), (184, 230, 2), (230, 10170, 5)]
    t = Target(1, [Region(s, e, nr_accesses=n) for s, e, n in spec])
    merge_target(t, thres=9, sz_limit=9999, count_age=True)
    assert ranges(t) == [(0, 112), (114, 130), (130, 156), (156, 170), (170, 230), (230, 10170)]


def test_merge_two_regions_is_size_weighted():
    a, b = Region(0, 100, nr_accesses=10, age=9), Region(100, 300, nr_accesses=20, age=21)
    merge_two(a, b)
    assert (a.start, a.end, a.nr_accesses, a.age) == (0, 300, 16, 17)


def test_set_regions_vector():
    t = Target(1, [Region(4, 16, nr_accesses=3), Region(24, 32, nr_accesses=5)])
    set_regions(t, [(8, 28)], min_region_sz=1)
    assert ranges(t) == [(8, 16), (16, 24), (24, 28)]
    # survivors keep counters, the hole filler starts at zero
    assert [r.nr_accesses for r in t.regions] == [3, 0, 5]


def test_set_regions_creates_one_region_per_range_when_none_survive():
    t = Target(1, [Region(0, 4096)])
    set_regions(t, [(8192, 16384), (32768, 40960)], min_region_sz=4096)
    assert ranges(t) == [(8192, 16384), (32768, 40960)]


@pytest.mark.parametrize("nr,last,left,window,expected", [(3, 10, 10, 20, 8), (32, 100, 2, 20, 42),
                                                         (5, 9, 20, 20, 9), (5, 9, 0, 20, 5)])
def test_moving_sum_vectors(nr, last, left, window, expected):
    assert moving_sum(nr, last, left, window) == expected


def test_three_regions_vector():
    vmas = [(10, 20), (20, 25), (200, 210), (210, 220), (300, 305), (307, 330)]
    assert three_regions(vmas, align=1) == [(10, 25), (200, 220), (300, 330)]


def test_three_regions_needs_two_gaps():
    assert three_regions([(0, 4096), (4096, 8192)]) is None
    assert three_regions([(0, 4096), (8192, 12288)]) is None


def test_random_split_factor_stays_in_1_to_9():
    rng = Rng(7)
    assert {rng.between(1, 10) for _ in range(2000)} == set(range(1, 10))


@pytest.mark.parametrize("kwargs", [dict(min_nr_regions=2), dict(min_nr_regions=10, max_nr_regions=9),
                                    dict(sample_us=10, aggr_us=5)])
def test_bad_attrs_are_rejected(kwargs):
    with pytest.raises(MonitorError):
        MonitorAttrs(**kwargs)


def test_apply_min_nr_regions_cuts_at_the_aligned_limit():
    t = Target(1, [Region(0, 100 * 4096)])
    limit = apply_min_nr_regions([t], min_nr_regions=3, min_region_sz=4096)
    # 100/3 pages = 33.3 pages, aligned up to 34 pages
    assert limit == 34 * 4096
    assert [r.end - r.start for r in t.regions] == [34 * 4096, 34 * 4096, 32 * 4096]


def test_apply_min_nr_regions_min_region_size_wins():
    t = Target(1, [Region(0, 2 * 4096)])
    assert apply_min_nr_regions([t], min_nr_regions=10, min_region_sz=4096) == 4096
    assert len(t.regions) == 2


def test_split_grows_760_regions_and_stays_under_max():
    t = Target(1, [Region(i * 40960, (i + 1) * 40960) for i in range(760)])
    splitter, rng = Splitter(), Rng(1)
    counts = []
    for _ in range(30):
        splitter.split([t], max_nr_regions=1500, min_region_sz=4096, rng=rng)
        counts.append(len(t.regions))
    assert counts[0] > 760
    assert counts[-1] > counts[0]
    assert max(counts) <= 1500
