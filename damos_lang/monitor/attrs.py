"""Monitoring attributes, as plain integers (microseconds and region counts)."""
from dataclasses import dataclass
from typing import Optional

from .errors import MonitorError
from .tune import IntervalsGoal

PAGE_SIZE = 4096
UINT_MAX = (1 << 32) - 1


@dataclass(frozen=True)
class MonitorAttrs:
    """DAMON's monitoring attributes.

    The defaults are the kernel's, except the update interval: 1 s as in damo
    (the kernel's 60 s would leave a user-space monitor blind to new mappings
    for a minute)."""

    sample_us: int = 5_000
    aggr_us: int = 100_000
    update_us: int = 1_000_000
    min_nr_regions: int = 10
    max_nr_regions: int = 1000
    min_region_sz: int = PAGE_SIZE
    # the kernel's intervals_goal (6.15+): None or aggrs 0 keeps the intervals
    intervals_goal: Optional[IntervalsGoal] = None

    def __post_init__(self) -> None:
        # the kernel's damon_set_attrs() checks, plus positivity
        if self.sample_us < 1 or self.aggr_us < 1 or self.update_us < 1:
            raise MonitorError("monitoring intervals must be at least 1 us")
        if self.min_nr_regions < 3:
            raise MonitorError(f"min_nr_regions is {self.min_nr_regions}; it must be at least 3")
        if self.max_nr_regions < self.min_nr_regions:
            raise MonitorError(f"max_nr_regions ({self.max_nr_regions}) is below "
                               f"min_nr_regions ({self.min_nr_regions})")
        if self.aggr_us < self.sample_us:
            raise MonitorError(f"aggregation interval ({self.aggr_us} us) is shorter than "
                               f"the sampling interval ({self.sample_us} us)")
        if self.min_region_sz < 1:
            raise MonitorError("min_region_sz must be at least 1")
        g = self.intervals_goal
        if g is not None and g.aggrs:      # damon_valid_intervals_goal
            if g.min_sample_us > g.max_sample_us:
                raise MonitorError(f"intervals_goal's min_sample ({g.min_sample_us} us) is "
                                   f"above its max_sample ({g.max_sample_us} us)")
            if not g.min_sample_us <= self.sample_us <= g.max_sample_us:
                raise MonitorError(f"the sampling interval ({self.sample_us} us) is outside "
                                   f"intervals_goal's min_sample..max_sample")

    @property
    def samples_per_aggr(self) -> int:
        """The largest possible nr_accesses."""
        return max(1, min(self.aggr_us // self.sample_us, UINT_MAX))

    @property
    def tuning(self) -> bool:
        return self.intervals_goal is not None and self.intervals_goal.aggrs > 0

    @property
    def update_samples(self) -> int:
        return self.update_us // self.sample_us
