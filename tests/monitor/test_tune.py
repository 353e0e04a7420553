"""Interval tuning (monitor/tune.py): the kernel's intervals_goal
(mm/damon/core.c kdamond_tune_intervals, damon_set_attrs) and the --max-cpu
budget, on the simulator.

The vectors below were computed by hand from the kernel's formulas:
  score_bp = access_events * 10000 / max(1, max_access_events * access_bp / 10000)
  adapt    = feed_loop_next_input(1e8, score_bp) / 10000; adapt <= 10000 -> 5000 + adapt / 2
  sample   = max(min_sample, min(max_sample, sample * adapt / 10000)), aggr = sample * aggr_samples
"""
import pytest

from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.errors import MonitorError
from damos_lang.monitor.masim import parse_masim
from damos_lang.monitor.monitor import Monitor
from damos_lang.monitor.sources.simulator import SimulatorSource
from damos_lang.monitor import fastpath
from damos_lang.monitor.tune import (CpuBudget, IntervalsGoal, adaptation_bp,
                                     feed_loop_next_input, intervals_score_bp, tuned_sample_us)

# a 64 MiB process touching a few pages of 4 MiB now and then: far below a 4 % goal
IDLE = """#regions
hot, 4000000
cold, 60000000

#phases
idle
600000
hot, 0, 65536, 1
"""
# every page of a 2 MiB region touched all the time: far above a 4 % goal
BUSY = """#regions
hot, 2000000

#phases
busy
600000
hot, 0, 4096, 1
"""
# idle for 20 s, then busy
CHANGING = """#regions
a, 4000000
b, 60000000

#phases
quiet
20000
a, 0, 65536, 1

busy
40000
b, 0, 4096, 1
"""

GOAL = IntervalsGoal(access_bp=400, aggrs=3, min_sample_us=5_000, max_sample_us=1_000_000)


def monitor(cfg, goal=GOAL, sample_us=5_000, aggr_us=100_000, impl="cython", seed=1,
            update_us=1_000_000):
    fp = fastpath.get(impl)
    attrs = MonitorAttrs(sample_us=sample_us, aggr_us=aggr_us, update_us=update_us,
                         intervals_goal=goal)
    source = SimulatorSource(parse_masim(cfg), seed=seed, fastpath=fp)
    return Monitor(attrs, source, seed=seed, fastpath=fp)


# --- the formula, KUnit style ------------------------------------------------------

@pytest.mark.parametrize("score, expected", [
    (10000, 100_000_000),          # met: unchanged
    (0, 200_000_000),              # nothing seen: + last * 10000 / 10000
    (5000, 150_000_000),           # half: + last * 5000 / 10000
    (15000, 50_000_000),           # 1.5x: - last * 5000 / 10000
    (10001, 99_990_000),           # - 1e8 * 1 / 10000
    (19999, 10_000),               # - 99_990_000, floored at the minimum input 10000
    (20000, 10_000),               # >= 2x the goal: the minimum input
    (987654, 10_000),
])
def test_feed_loop_next_input_vectors(score, expected):
    assert feed_loop_next_input(100_000_000, score) == expected


@pytest.mark.parametrize("score, adapt", [
    (0, 20000),        # 2e8 / 1e4: doubles
    (5000, 15000),
    (9999, 10001),     # 1e8 + 1e8 * 1 / 1e4 = 100_010_000 -> 10001
    (10000, 10000),    # exactly met: no change
    (10001, 9999),     # 99_990_000 / 1e4 = 9999 -> 5000 + 4999
    (15000, 7500),     # 5e7 / 1e4 = 5000 -> 5000 + 2500
    (19999, 5000),     # 10000 / 1e4 = 1 -> 5000 + 0
    (40000, 5000),     # never below half
])
def test_adaptation_vectors(score, adapt):
    assert adaptation_bp(score) == adapt


def test_score_vectors():
    # two regions of 12 KiB (nr 4) and 4 KiB (nr 0), 20 samples per aggregation, goal 4 %:
    # max events 16384 * 20 = 327680, target 327680 * 400 / 10000 = 13107 (13107.2),
    # events 12288 * 4 = 49152, score 491_520_000 / 13107 = 37500 (37500.57)
    assert intervals_score_bp([(12288, 4), (4096, 0)], 20, 400) == 37500
    # 40 KiB at nr 2 of 20 (10 %) against 4 %: 81920 * 10000 / 32768 = 25000
    assert intervals_score_bp([(40960, 2)], 20, 400) == 25000
    # exactly the goal: 1 of 25 samples on every byte against 4 %
    assert intervals_score_bp([(10000, 1)], 25, 400) == 10000
    # no regions, or a zero goal: the target is 1, not 0
    assert intervals_score_bp([], 20, 400) == 0
    assert intervals_score_bp([(4096, 3)], 20, 0) == 4096 * 3 * 10000


def test_tuned_sample_vectors():
    assert tuned_sample_us(5000, 20000, 5000, 1_000_000) == 10000
    assert tuned_sample_us(7000, 15000, 5000, 1_000_000) == 10500
    assert tuned_sample_us(5000, 5000, 5000, 1_000_000) == 5000       # 2500, clamped to min
    assert tuned_sample_us(800_000, 20000, 5000, 1_000_000) == 1_000_000
    assert tuned_sample_us(9999, 9999, 5000, 1_000_000) == 9998      # 99_980_001 / 1e4
    # min above max: min wins (the kernel's max(min, min(max, x)))
    assert tuned_sample_us(5000, 20000, 50_000, 20_000) == 50_000


def test_attrs_reject_a_goal_the_kernel_rejects():
    with pytest.raises(MonitorError, match="above its max_sample"):
        MonitorAttrs(intervals_goal=IntervalsGoal(400, 3, 10_000, 5_000))
    with pytest.raises(MonitorError, match="outside intervals_goal"):
        MonitorAttrs(sample_us=5_000, intervals_goal=IntervalsGoal(400, 3, 10_000, 50_000))
    # aggrs 0: no tuning, nothing checked (damon_valid_intervals_goal)
    assert not MonitorAttrs(intervals_goal=IntervalsGoal(400, 0, 10_000, 5_000)).tuning


# --- the monitor ---------------------------------------------------------------------

def run_tunings(m, until_us):
    m.run_until(until_us)
    return m.tunings


def test_low_access_ratio_lengthens_the_interval_up_to_max_sample():
    m = monitor(IDLE)
    tunings = run_tunings(m, 300_000_000)   # ~8 doublings: 0.3 s x (1 + 2 + ... + 128) in
    samples = [t.sample_us for t in tunings]
    assert samples[0] > 5000 and samples == sorted(samples)
    assert samples[-1] == 1_000_000 and m.attrs.sample_us == 1_000_000     # reached, and held
    for t in tunings:
        assert t.by == "intervals_goal" and t.score_bp < 10000
        assert t.sample_us <= 2 * t.old_sample_us        # at most doubles per tuning
        assert t.aggr_us == 20 * t.sample_us             # aggr/sample ratio kept
    assert m.attrs.aggr_us == 20 * m.attrs.sample_us


def test_high_access_ratio_shortens_it_never_below_min_nor_faster_than_half():
    goal = IntervalsGoal(400, 3, 5_000, 1_000_000)
    m = monitor(BUSY, goal=goal, sample_us=200_000, aggr_us=4_000_000)
    tunings = run_tunings(m, 120_000_000)
    assert tunings and tunings[-1].sample_us == 5_000 and m.attrs.sample_us == 5_000
    for t in tunings:
        assert t.score_bp > 10000
        assert t.sample_us < t.old_sample_us
        assert t.sample_us >= max(5_000, t.old_sample_us // 2)
        assert t.aggr_us == 20 * t.sample_us
    # halving from 200 ms: 100, 50, 25, 12.5, 6.25, then 5 (clamped)
    assert [t.sample_us for t in tunings] == [100_000, 50_000, 25_000, 12_500, 6_250, 5_000]


def test_a_changing_workload_moves_the_interval_both_ways():
    m = monitor(CHANGING, goal=IntervalsGoal(400, 3, 5_000, 10_000_000))
    m.run_until(20_000_000)
    quiet_peak = m.attrs.sample_us
    assert quiet_peak > 100_000
    m.run_until(60_000_000)
    assert m.attrs.sample_us < quiet_peak / 4


def test_first_tuning_at_aggrs_aggregations_then_every_aggrs_aggregations():
    m = monitor(IDLE)
    seen = []
    m.on_attrs_changed.append(lambda mon, old, ch: seen.append((mon.aggregations, ch.passed)))
    m.run_until(10_000_000)
    aggrs = [a for a, _ in seen]
    assert aggrs[:4] == [3, 6, 9, 12]
    # in sampling intervals: 60 (20 x 3), then 60 more each time whatever the interval
    assert [p for _, p in seen[:4]] == [60, 120, 180, 240]


def test_the_kernels_set_attrs_bookkeeping():
    """At a tuning: next aggregation aggr/sample samples on, the time continues,
    ages are scaled by old/new aggr, the completed window's counts are kept
    (converted through bp), the update interval keeps its time (not tuned)."""
    m = monitor(IDLE)
    m.run_until(300_000)             # aggregation 3 ends at 300 ms: the first tuning
    assert len(m.tunings) == 1
    t = m.tunings[0]
    assert m.passed == 60 and m.now_us == 300_000 == t.time_us
    assert m.next_aggr == 60 + 20
    # the update was due 1 s in (sample 200); 700 ms left, now in samples of the new interval
    assert m.next_update == 60 + -(-700_000 // t.sample_us)
    m.step()
    assert m.now_us == 300_000 + t.sample_us


def test_set_intervals_scales_ages_and_converts_counts():
    m = monitor(IDLE, goal=None)
    m.start()
    m.run_until(100_000)                 # one aggregation done: at the reset point
    r = m.targets[0].regions[0]
    r.age, r.nr_accesses, r.last_nr_accesses = 9, 7, 5
    m.next_aggr = m.passed                # as at a boundary (not aggregating)
    m.set_intervals(15_000)               # aggr 100 ms -> 300 ms
    assert (r.age, r.nr_accesses, r.last_nr_accesses) == (3, 7, 5)
    assert m.attrs.aggr_us == 300_000 and m.next_aggr == m.passed + 20
    # in the middle of an aggregation: the window restarts (counts 0, last converted)
    r.age, r.nr_accesses, r.last_nr_accesses = 8, 3, 6
    m.next_aggr = m.passed + 5
    m.set_intervals(5_000)                # aggr 300 ms -> 100 ms
    assert (r.age, r.nr_accesses, r.last_nr_accesses) == (24, 0, 6)


def test_a_ratio_that_does_not_divide_10000_loses_counts_as_the_kernel_does():
    m = monitor(IDLE, goal=None, sample_us=30_000, aggr_us=100_000)   # 3 samples per aggr
    m.run_until(90_000)
    r = m.targets[0].regions[0]
    r.nr_accesses = 1
    m.next_aggr = m.passed
    m.set_intervals(60_000)
    # 1 * 10000 / 3 = 3333, * 3 / 10000 = 0
    assert r.nr_accesses == 0 and m.attrs.aggr_us == 180_000


def test_the_reference_and_the_fast_path_tune_alike():
    a = monitor(CHANGING, impl="python")
    b = monitor(CHANGING, impl="cython")
    ta, tb = run_tunings(a, 30_000_000), run_tunings(b, 30_000_000)
    assert ta and ta == tb


def test_no_goal_no_tuning():
    m = monitor(IDLE, goal=None)
    m.run_until(5_000_000)
    assert m.tunings == [] and m.attrs.sample_us == 5_000


# --- the CPU budget ----------------------------------------------------------------

class FakeCpu:
    """CPU time as a cost per sample taken (seconds), so the budget's view is
    exact: 0.4 ms a sample is 8 % at 5 ms sampling, 2 % at 20 ms."""

    def __init__(self, cost_s=0.0004):
        self.cost_s = cost_s
        self.cpu = 0.0
        self.monitor = None
        self._taken = 0

    def __call__(self):
        m = self.monitor
        if m is not None:
            self.cpu += (m.samples_taken - self._taken) * self.cost_s
            self._taken = m.samples_taken
        return self.cpu


def budgeted(cfg, percent, cost_s=0.0004, goal=None, sample_us=5_000):
    m = monitor(cfg, goal=goal, sample_us=sample_us)
    cpu = FakeCpu(cost_s)
    cpu.monitor = m
    base = goal.min_sample_us if goal else sample_us
    max_us = goal.max_sample_us if goal else 10_000_000
    budget = CpuBudget(percent, base, max_sample_us=max_us, cpu_time=cpu)
    m.set_cpu_budget(budget)
    return m, budget, cpu


def test_over_budget_widens_the_interval_until_within_it():
    m, budget, _ = budgeted(IDLE, 2.0)
    m.run_until(30_000_000)
    assert m.attrs.sample_us >= 20_000                  # 0.4 ms / 20 ms = 2 %
    assert budget.last_percent <= 2.0
    assert m.attrs.aggr_us == 20 * m.attrs.sample_us
    first = m.tunings[0]
    assert first.by == "max_cpu" and first.old_sample_us == 5_000
    assert first.cpu_percent == pytest.approx(8.0)
    assert first.sample_us <= 4 * 5_000                 # at most 4x per window
    # the budget's windows (3 aggregations each): 8 %, then at the budget (20 ms), which
    # it widens once more to aim at 80 % of it (25 ms: 1.6 %), and there it stays
    pcts = [p for _, p, _ in budget.history]
    assert pcts[0] == pytest.approx(8.0) and pcts[1] == pytest.approx(2.0)
    assert all(p == pytest.approx(1.6) for p in pcts[3:])
    assert [t.sample_us for t in m.tunings] == [20_000, 25_000]


def test_well_under_budget_narrows_back_but_never_below_the_files_interval():
    m, budget, cpu = budgeted(IDLE, 2.0)
    m.run_until(20_000_000)
    wide = m.attrs.sample_us
    assert wide >= 20_000
    cpu.cost_s = 0.00001                                # the cost drops 40x
    m.run_until(120_000_000)
    assert m.attrs.sample_us == 5_000                   # back at the file's, not below
    narrowing = [t for t in m.tunings if t.sample_us < t.old_sample_us]
    assert narrowing and all(t.sample_us >= t.old_sample_us // 2 for t in narrowing)


def test_within_budget_nothing_moves():
    m, budget, _ = budgeted(IDLE, 50.0)
    m.run_until(20_000_000)
    assert m.tunings == [] and budget.windows > 5


def test_with_a_goal_the_budget_is_a_floor_under_the_goal_tuner():
    # a busy workload makes the goal tuner want min_sample; the budget holds it up
    goal = IntervalsGoal(400, 3, 5_000, 1_000_000)
    m, budget, _ = budgeted(BUSY, 2.0, goal=goal)
    calls = []       # every damon_set_attrs, also those clamped to the same interval
    m.on_attrs_changed.append(lambda mon, old, ch: calls.append(ch))
    m.run_until(60_000_000)
    assert budget.floor_us == 25_000 and m.attrs.sample_us == 25_000
    late = [c for c in calls if c.time_us > 10_000_000]
    assert late and all(c.by == "intervals_goal" and c.score_bp > 10000 for c in late)
    assert all(c.sample_us == 25_000 for c in late)     # it wants less; the floor holds
    # without the budget the same workload sits at min_sample
    free = monitor(BUSY, goal=goal)
    free.run_until(60_000_000)
    assert free.attrs.sample_us == 5_000


def test_with_a_goal_an_idle_workload_still_grows_past_the_floor():
    goal = IntervalsGoal(400, 3, 5_000, 1_000_000)
    m, budget, _ = budgeted(IDLE, 2.0, goal=goal)
    m.run_until(300_000_000)
    assert m.attrs.sample_us == 1_000_000
