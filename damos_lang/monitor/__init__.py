"""DAMON's monitoring in user space: regions, sampling, and access sources.

This package imports nothing from the rest of damos_lang, so an engine or a
tool can use it alone.

    from damos_lang.monitor import Monitor, MonitorAttrs, SimulatorSource, load_masim
    source = SimulatorSource(load_masim("examples/workloads/stairs.cfg"), seed=1)
    for snapshot in Monitor(MonitorAttrs(), source, seed=1).snapshots(until_us=5_000_000):
        print(snapshot.time_us, snapshot.bytes_with_accesses())
"""
from .attrs import PAGE_SIZE, MonitorAttrs
from .clock import RealtimeClock, SimulatedClock, make_clock
from .errors import MonitorError, TargetGone
from .fastpath import IMPLEMENTATION
from .masim import MasimConfig, load_masim, parse_masim
from .monitor import Monitor, RegionSnapshot, Snapshot, TargetSnapshot, moving_sum
from .regions import Region, Target
from .sources import AccessSource, PageIdleSource, SimulatorSource

__all__ = [
    "PAGE_SIZE", "MonitorAttrs", "RealtimeClock", "SimulatedClock", "make_clock",
    "MonitorError", "TargetGone", "IMPLEMENTATION", "MasimConfig", "load_masim",
    "parse_masim", "Monitor", "RegionSnapshot", "Snapshot", "TargetSnapshot", "moving_sum",
    "Region", "Target", "AccessSource", "PageIdleSource", "SimulatorSource",
]
