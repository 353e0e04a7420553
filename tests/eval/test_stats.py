"""damos eval's statistics on fixed numbers."""
import math

import pytest

from damos_lang.eval.stats import change, pareto_front, summarize


def test_mean_and_sample_spread():
    s = summarize([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.n == 3 and math.isclose(s.spread, 1.0)
    one = summarize([5.0])
    assert (one.mean, one.spread, one.n) == (5.0, 0.0, 1)
    with pytest.raises(ValueError):
        summarize([])


def test_change_and_the_spread_judgement():
    base = summarize([100.0, 110.0, 90.0])          # sd 10
    near = summarize([105.0, 115.0, 95.0])          # +5: inside 10 + 10
    far = summarize([150.0, 151.0, 149.0])          # +50: outside
    assert change(near, base).inside_spread is True
    c = change(far, base)
    assert c.inside_spread is False and math.isclose(c.percent, 50.0) and c.delta == 50.0
    assert change(summarize([1.0]), base).inside_spread is None     # one run: unknown
    assert change(base, summarize([0.0, 0.0])).percent is None       # no percent of 0


def test_pareto_front_of_fixed_points():
    # (memory saved %, runtime lost %)
    pts = [(10, 1), (20, 5), (15, 6), (30, 20), (5, 0.5), (30, 25), (20, 5)]
    # (15, 6) is beaten by (20, 5); (30, 25) by (30, 20); the two (20, 5) tie
    assert pareto_front(pts) == [0, 1, 3, 4, 6]
    assert pareto_front([]) == []
    assert pareto_front([(0, 0)]) == [0]
    assert pareto_front([(1, 1), (2, 0)]) == [1]
