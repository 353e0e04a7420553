"""Tuning the monitoring intervals while the monitor runs.

Two tuners move the sampling interval (and the aggregation interval with it:
the aggr/sample ratio of the file is kept, as the kernel keeps
``attrs.aggr_samples``).  Both run at an aggregation boundary after the
schemes were applied and before the counters are reset, the goal tuner
first:

* :class:`IntervalsTuner`, the kernel's ``intervals_goal`` (6.15+,
  mm/damon/core.c kdamond_tune_intervals, algorithm.md §10).  Every
  ``aggrs`` aggregations::

      score_bp = Σ size·nr_accesses · 10000 / max(1, Σ size·aggr_samples · access_bp / 10000)
      adapt = feed_loop_next_input(100_000_000, score_bp) // 10000     # 1..20000
      if adapt <= 10000: adapt = 5000 + adapt // 2                    # at most halve
      if adapt != 10000: sample = clamp(sample·adapt // 10000, min_sample, max_sample)

  The first tuning is at sample interval number ``aggr_samples·aggrs`` (the
  end of aggregation ``aggrs``); each tuning moves the next one
  ``aggr_samples·aggrs`` samples on *before* the new interval takes effect
  (the kernel's next_intervals_tune_sis), so it is every ``aggrs``
  aggregations whatever the interval.

* :class:`CpuBudget`, ``damos run --max-cpu PCT``: the monitor's own CPU
  time over a window of a few aggregations, against the monitor's time (the
  sampling schedule).  Over the budget, the sampling interval widens in
  proportion (a sample costs about the same at any interval, so CPU is
  about proportional to 1/sample), at most 4x per window; well under it
  (below half), it narrows back in proportion, at most halving per window,
  never below the file's sampling interval.  With an intervals goal the
  budget does not set the interval itself: it is a floor under the goal
  tuner's min_sample (the goal tuner may go anywhere between the floor and
  max_sample; a floor above the current interval raises it at once).

This module imports nothing of the compiler: goals and budgets are plain
numbers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, List, Optional, Tuple

ULONG_MAX = (1 << 64) - 1
FEED_GOAL = 10000
FEED_MIN_INPUT = 10000
ADAPT_INPUT = 100_000_000     # the kernel feeds the loop 1e8 and reads the answer in bp of it


def feed_loop_next_input(last: int, score: int) -> int:
    """damon_feed_loop_next_input: the next input of DAMON's goal feedback loop
    (score in bp of the goal; 10000 means met)."""
    if score == FEED_GOAL:
        return last
    if score >= FEED_GOAL * 2:
        return FEED_MIN_INPUT
    diff = abs(score - FEED_GOAL)
    if last < ULONG_MAX // diff:
        comp = last * diff // FEED_GOAL
    else:
        comp = last // FEED_GOAL * diff
    if score > FEED_GOAL:
        return max(last - comp, FEED_MIN_INPUT)
    return last + comp if last < ULONG_MAX - comp else ULONG_MAX


@dataclass(frozen=True)
class IntervalsGoal:
    """``struct damon_intervals_goal``: aggrs 0 disables tuning."""

    access_bp: int
    aggrs: int
    min_sample_us: int
    max_sample_us: int


def intervals_score_bp(regions: Iterable[Tuple[int, int]], aggr_samples: int,
                       access_bp: int) -> int:
    """damon_get_intervals_score: the observed access events, in bp of the goal's.
    ``regions`` yields (size, nr_accesses)."""
    max_events = events = 0
    for size, nr in regions:
        max_events += size * aggr_samples
        events += size * nr
    target = max_events * access_bp // 10000 or 1
    return events * 10000 // target


def adaptation_bp(score_bp: int) -> int:
    """damon_get_intervals_adaptation_bp: the factor (bp) for the sampling interval."""
    adapt = feed_loop_next_input(ADAPT_INPUT, score_bp) // 10000
    if adapt <= 10000:
        adapt = 5000 + adapt // 2
    return adapt


def tuned_sample_us(sample_us: int, adapt_bp: int, min_sample_us: int, max_sample_us: int) -> int:
    """kdamond_tune_intervals: the new sampling interval (min wins over max, as
    the kernel's max(min, min(max, x)))."""
    return max(min_sample_us, min(max_sample_us, sample_us * adapt_bp // 10000))


@dataclass
class Tuning:
    """One change of the intervals, for the record and the summary."""

    passed: int           # sampling intervals done when it happened
    time_us: int          # monitor time then
    by: str               # "intervals_goal" or "max_cpu"
    old_sample_us: int
    sample_us: int
    aggr_us: int
    score_bp: Optional[int] = None       # intervals_goal: the score it saw
    cpu_percent: Optional[float] = None  # max_cpu: the window's CPU


class IntervalsTuner:
    """The kernel's intervals_goal tuner for one monitor."""

    def __init__(self, goal: IntervalsGoal, aggr_samples: int) -> None:
        self.goal = goal
        self.aggr_samples = aggr_samples
        self.floor_us = 0                  # --max-cpu's floor under min_sample
        self.next_tune = aggr_samples * goal.aggrs    # kdamond_init_ctx
        self.last_score_bp: Optional[int] = None
        self.last_adapt_bp: Optional[int] = None

    @property
    def min_sample_us(self) -> int:
        return max(self.goal.min_sample_us, min(self.floor_us, self.goal.max_sample_us))

    def due(self, passed: int) -> bool:
        return self.goal.aggrs > 0 and passed >= self.next_tune

    def tune(self, sample_us: int, regions: Iterable[Tuple[int, int]]) -> Optional[int]:
        """Advance the schedule and return the new sampling interval, or None
        when the adaptation is exactly 1 (the kernel then changes nothing)."""
        self.next_tune += self.aggr_samples * self.goal.aggrs
        score = intervals_score_bp(regions, self.aggr_samples, self.goal.access_bp)
        adapt = adaptation_bp(score)
        self.last_score_bp, self.last_adapt_bp = score, adapt
        if adapt == 10000:
            return None
        return tuned_sample_us(sample_us, adapt, self.min_sample_us, self.goal.max_sample_us)


# a CPU budget's default ceiling without a goal: damo's max_sample for autotuning
CPU_MAX_SAMPLE_US = 10_000_000


@dataclass
class CpuBudget:
    """``--max-cpu PCT``: keep the monitor's own CPU time at most ``percent`` of
    its time.  ``cpu_time`` (seconds, default time.process_time) is the seam
    tests replace."""

    percent: float
    base_sample_us: int                   # the file's (never narrower)
    max_sample_us: int = CPU_MAX_SAMPLE_US
    window_aggrs: int = 3                 # measure over this many aggregations
    cpu_time: Callable[[], float] = time.process_time
    widen_max: float = 4.0                # at most this factor wider per window
    target: float = 0.8                   # aim at this fraction of the budget
    floor_us: int = 0                     # the sampling interval the budget asks for
    last_percent: Optional[float] = None  # the CPU of the last full window
    peak_us: int = 0                      # the widest floor it set
    windows: int = 0
    _t0_us: Optional[int] = None
    _cpu0: float = 0.0
    _aggrs: int = 0
    history: List[Tuple[int, float, int]] = field(default_factory=list)  # (time_us, pct, floor)

    def __post_init__(self) -> None:
        self.floor_us = self.base_sample_us
        self.peak_us = self.base_sample_us
        self.max_sample_us = max(self.max_sample_us, self.base_sample_us)

    def start(self, now_us: int) -> None:
        self._t0_us, self._cpu0, self._aggrs = now_us, self.cpu_time(), 0

    def observe(self, now_us: int, sample_us: int) -> Optional[int]:
        """At an aggregation boundary: the new floor when a window ends and the
        floor moves, else None."""
        if self._t0_us is None:
            self.start(now_us)
            return None
        self._aggrs += 1
        if self._aggrs < self.window_aggrs or now_us <= self._t0_us:
            return None
        cpu = self.cpu_time()
        pct = 100.0 * (cpu - self._cpu0) / ((now_us - self._t0_us) / 1e6)
        self._t0_us, self._cpu0, self._aggrs = now_us, cpu, 0
        self.last_percent = pct
        self.windows += 1
        cur = max(sample_us, 1)
        new = self.floor_us
        if pct > self.percent:
            factor = min(self.widen_max, pct / (self.percent * self.target))
            new = max(self.floor_us, -(-int(cur * factor) // 1))
        elif pct < self.percent / 2 and self.floor_us > self.base_sample_us:
            factor = max(0.5, pct / (self.percent * self.target))
            new = int(self.floor_us * factor)
        new = max(self.base_sample_us, min(self.max_sample_us, new))
        self.history.append((now_us, pct, new))
        if new == self.floor_us:
            return None
        self.floor_us = new
        self.peak_us = max(self.peak_us, new)
        return new
