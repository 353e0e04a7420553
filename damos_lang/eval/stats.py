"""The statistics of ``damos eval``: mean and spread of repeated runs, the
change against a reference, whether that change is inside the run-to-run
spread, and the Pareto front of memory saved against runtime lost.

* spread: the sample standard deviation (0 for one run, which says nothing
  about spread: ``Summary.n`` tells);
* a change is *inside the spread* when |mean_a - mean_b| <= sd_a + sd_b, and
  unknown (None) when either side has fewer than two runs."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Summary:
    mean: float
    spread: float
    n: int


def summarize(values: Sequence[float]) -> Summary:
    n = len(values)
    if n == 0:
        raise ValueError("no runs to summarize")
    mean = math.fsum(values) / n
    if n < 2:
        return Summary(mean, 0.0, n)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return Summary(mean, math.sqrt(var), n)


@dataclass(frozen=True)
class Change:
    delta: float                 # mean - reference mean
    percent: Optional[float]     # None when the reference mean is 0
    inside_spread: Optional[bool]


def change(a: Summary, ref: Summary) -> Change:
    delta = a.mean - ref.mean
    percent = 100.0 * delta / ref.mean if ref.mean else None
    inside = None if min(a.n, ref.n) < 2 else abs(delta) <= a.spread + ref.spread
    return Change(delta, percent, inside)


def pareto_front(points: Sequence[Tuple[float, float]]) -> List[int]:
    """Indices of the points (memory saved, runtime lost) that no other point
    dominates: saving at least as much for at most as much lost, strictly
    better in one.  Equal points are all on the front."""
    front = []
    for i, (saved, lost) in enumerate(points):
        dominated = any(s >= saved and l <= lost and (s > saved or l < lost)
                        for j, (s, l) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front
