"""Shared builders for the monitor tests."""
import os

from damos_lang.monitor import fastpath
from damos_lang.monitor.attrs import MonitorAttrs
from damos_lang.monitor.masim import load_masim, parse_masim
from damos_lang.monitor.monitor import Monitor
from damos_lang.monitor.sources.simulator import SimulatorSource

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = os.path.join(ROOT, "examples", "workloads")

# a small mixed workload: sequential, sparse-stride and random patterns
MIXED = """#regions
hot, 3000000
warm, 5000000
cold, 8000000

#phases
mixed
1000
hot, 0, 4096, 5
warm, 1, 64, 2
cold, 0, 65536, 1

swap
1000
cold, 0, 4096, 1
warm, 1, 4096, 1
"""


def workload(name: str):
    if name == "mixed":
        return parse_masim(MIXED)
    return load_masim(os.path.join(WORKLOADS, f"{name}.cfg"))


def simulated_monitor(name: str, seed: int = 1, attrs: MonitorAttrs = MonitorAttrs(),
                      impl: str = "cython"):
    fp = fastpath.get(impl)
    source = SimulatorSource(workload(name), seed=seed, fastpath=fp)
    return Monitor(attrs, source, seed=seed, fastpath=fp), source
