"""DAMON_STAT's module parameters (``mm/damon/stat.c``), read through
:func:`damos_lang.live.exclusive.module_state`:

* 6.17: ``enabled``, ``estimated_memory_bandwidth`` (bytes per second),
  ``memory_idle_ms_percentiles`` (101 comma-separated values, ms, >= 0);
* 6.18: ``aggr_interval_us`` (the tuned aggregation interval, us), and the
  idle time of an accessed region is negative (minus how long it has been
  accessed); the array became ``long`` with "keep sign for negative idle
  time", before which a negative value showed as its unsigned 64-bit
  twin, so values of 2**63 and more are taken back as negative here.

The module refreshes them at most every 5 s while it runs."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..live.exclusive import module_state
from ..sysfs.modules import DAMON_STAT


@dataclass
class StatReading:
    enabled: bool
    bandwidth: int | None = None                 # bytes per second
    idle_ms: list = field(default_factory=list)  # percentile -> ms
    aggr_us: int | None = None


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= (1 << 63) else v


def read(module_root: str | None) -> StatReading | None:
    """None where the kernel (or the module tree given) has no DAMON_STAT."""
    try:
        st = module_state(module_root, DAMON_STAT)
    except (OSError, ValueError):
        return None
    if st is None:
        return None
    return StatReading(st.enabled, st.estimated_memory_bandwidth,
                       [_signed(v) for v in st.memory_idle_ms_percentiles],
                       st.aggr_interval_us)
