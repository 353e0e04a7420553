"""Prioritisation under a quota (algorithm.md §9.4): the kernel's hot and
cold scores in integers, and the min_score threshold from the histogram."""
from __future__ import annotations

from typing import Iterable, Tuple

from .. import catalog

DAMOS_MAX_SCORE = 99
DAMON_MAX_SUBSCORE = 100
DAMON_MAX_AGE_IN_LOG = 32


def mult_frac(x: int, n: int, d: int) -> int:
    return (x // d) * n + ((x % d) * n) // d


def hot_score(nr_accesses: int, age: int, aggr_us: int, samples_per_aggr: int,
              w_nr: int, w_age: int) -> int:
    """damon_hot_score: 0 (cold) .. 99 (hot).  ``nr_accesses`` is the moving sum nr'."""
    freq = mult_frac(nr_accesses, DAMON_MAX_SUBSCORE, samples_per_aggr)
    asec = age * aggr_us // 1_000_000
    alog = min(asec.bit_length(), DAMON_MAX_AGE_IN_LOG)
    if freq == 0:
        alog = -alog
    agesub = (alog + DAMON_MAX_AGE_IN_LOG) * DAMON_MAX_SUBSCORE // DAMON_MAX_AGE_IN_LOG // 2
    num = w_nr * freq + w_age * agesub
    hot = num // (w_nr + w_age) if w_nr + w_age else num
    hot = hot * DAMOS_MAX_SCORE // DAMON_MAX_SUBSCORE
    return max(0, min(hot, DAMOS_MAX_SCORE))


def cold_score(*args) -> int:
    return DAMOS_MAX_SCORE - hot_score(*args)


def scheme_score(action: str, nr_accesses: int, age: int, aggr_us: int,
                 samples_per_aggr: int, w_nr: int, w_age: int) -> int:
    """damon_va_scheme_score: by the action's score in the catalog (pageout
    colder first), everything without one 99."""
    kind = catalog.ACTIONS[action].score
    if kind is None:
        return DAMOS_MAX_SCORE
    hot = hot_score(nr_accesses, age, aggr_us, samples_per_aggr, w_nr, w_age)
    return DAMOS_MAX_SCORE - hot if kind == catalog.COLD else hot


def min_score(sized_scores: Iterable[Tuple[int, int]], esz: int) -> int:
    """The score where walking the size histogram down from the top first
    covers ``esz`` bytes (or 0): regions scoring at least this are eligible."""
    hist = [0] * (DAMOS_MAX_SCORE + 1)
    top = 0
    for sz, score in sized_scores:
        hist[score] += sz
        top = max(top, score)
    total = 0
    score = top
    while True:
        total += hist[score]
        if total >= esz or score == 0:
            return score
        score -= 1
