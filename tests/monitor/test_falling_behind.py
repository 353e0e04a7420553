"""A monitor that cannot keep its sampling interval: it skips the slots
already past (aggregations keep their length in time), scales each region's
nr_accesses to the samples the aggregation should have had, and says how
many it took.  The slowness is a seam: each check costs the test's wall
clock a fixed time; no real time is measured."""
from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.monitor import Monitor, scale_count
from damos_lang.monitor.sources.base import AccessSource

PAGE = 4096
HOT, HALF, COLD = (0x10000000, 0x10100000), (0x20000000, 0x20100000), (0x30000000, 0x30100000)


class WallClock:
    """The test's wall clock: waiting moves it to the deadline; the slow
    source moves it on by what a sample costs."""
    origin_s = None

    def __init__(self):
        self.wall = 0
        self.now_us = 0

    def elapsed_us(self):
        return self.wall

    def wait_until(self, t_us):
        self.wall = max(self.wall, t_us)
        self.now_us = t_us


class SlowSource(AccessSource):
    """Three VMAs: every sample of HOT is accessed, every other one of HALF,
    none of COLD; every check costs ``cost_us`` of the clock."""

    def __init__(self, clock, cost_us):
        self.clock, self.cost_us = clock, cost_us
        self.checks = 0

    def target_ids(self):
        return [1]

    def mappings(self, target_id, now_us):
        return [HOT, HALF, COLD]

    def prepare(self, target_id, addrs, now_us):
        pass

    def check(self, target_id, addrs, accessed, now_us):
        self.checks += 1
        for i, a in enumerate(addrs):
            accessed[i] = (HOT[0] <= a < HOT[1]
                           or (HALF[0] <= a < HALF[1] and self.checks % 2 == 0))
        self.clock.wall += self.cost_us


def run(cost_us, until_us=1_000_000):
    clock = WallClock()
    attrs = MonitorAttrs(sample_us=5000, aggr_us=100_000, update_us=1_000_000,
                         min_nr_regions=3, max_nr_regions=3)
    monitor = Monitor(attrs, SlowSource(clock, cost_us), seed=1, clock=clock)
    return monitor, monitor.run_until(until_us)


def nr_of(snap, vma):
    (r,) = [r for r in snap.targets[0].regions if vma[0] <= r.start and r.end <= vma[1]]
    return r.nr_accesses


def test_on_schedule_every_sample_is_taken_and_counts_are_plain():
    monitor, snaps = run(cost_us=1000)           # a sample costs 1 ms of 5: on time
    assert monitor.samples_taken == monitor.passed == 200
    assert len(snaps) == 10 and all(s.samples is None for s in snaps)
    assert all(nr_of(s, HOT) == 20 and nr_of(s, COLD) == 0 and nr_of(s, HALF) == 10
               for s in snaps)


def test_behind_it_skips_slots_and_scales_the_counts():
    monitor, snaps = run(cost_us=15_000)         # a sample costs 3 sampling intervals
    # the aggregations keep their length: 10 in 1 s of the schedule, at 100 ms steps
    assert [s.time_us for s in snaps] == [100_000 * (k + 1) for k in range(10)]
    assert monitor.passed == 200 and monitor.samples_taken < 100
    for s in snaps:
        assert s.samples is not None and 2 <= s.samples < 20
        # accessed at every sample taken: all 20 of the aggregation's samples
        assert nr_of(s, HOT) == 20
        assert nr_of(s, COLD) == 0
        # every other sample: about half of 20 (one sample's worth of rounding)
        assert abs(nr_of(s, HALF) - 10) <= 20 / s.samples
    assert sum(s.samples for s in snaps) == monitor.samples_taken


def test_it_never_skips_an_aggregation_or_an_update():
    monitor, snaps = run(cost_us=400_000, until_us=2_000_000)   # a sample costs 4 aggregations
    # every aggregation and its hooks still happen (later than their time):
    # one sample each (two in the first, whose first sample was on time)
    assert [s.time_us for s in snaps] == [100_000 * (k + 1) for k in range(20)]
    assert [s.samples for s in snaps] == [2] + [1] * 19
    assert all(nr_of(s, HOT) == 20 and nr_of(s, COLD) == 0 for s in snaps)
    assert monitor.samples_taken == 21


def test_scaling_rounds():
    assert scale_count(3, 20, 6) == 10 and scale_count(1, 20, 3) == 7 and scale_count(0, 20, 7) == 0
    assert scale_count(7, 20, 7) == 20


def test_the_moving_sum_mid_window_is_scaled_too():
    """nr' (what a scheme with a short apply interval matches mid-window)
    counts the window's samples so far at the full rate as well."""
    monitor, _ = run(cost_us=15_000, until_us=300_000)
    monitor.step()
    monitor.step()                                   # into the next window, samples skipped
    monitor.sync_regions()
    assert 0 < monitor._window_taken < monitor.passed - monitor._window_start
    (hot,) = [r for r in monitor.targets[0].regions if HOT[0] <= r.start < HOT[1]]
    assert monitor.moving_nr_accesses(hot) == 20
