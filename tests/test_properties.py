"""Properties over generated programs: fmt round-trips and is idempotent, and
the model's Scheme.matches agrees with an independent oracle (damo's own unit
conversion plus brute-force inclusive range membership)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from damos_lang.fmt import format_program, format_source
from damos_lang.ir import Program
from damos_lang.model import Intervals
from damos_lang.convert import to_context
from damos_lang.lower import parse

from strategies import legacy_lines, programs, schemes

ULONG_MAX = 2**64 - 1
UINT_MAX = 2**32 - 1
FAST = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- fmt -------------------------------------------------------------------

@FAST
@given(programs())
def test_format_then_parse_is_identity_and_fmt_is_idempotent(program):
    text = format_program(program)
    assert parse(text) == program, text
    assert format_source(text) == text


def _noise(draw, text: str) -> tuple[str, list[str]]:
    """Sprinkle comments, blank lines and blanks over a valid text."""
    comment_text = st.text(st.characters(blacklist_categories=("Cs",),
                                         blacklist_characters="\n"), max_size=10)
    out, comments = [], []
    for line in text.split("\n")[:-1]:
        if draw(st.integers(0, 5)) == 0:
            c = "#" + draw(comment_text)
            comments.append(c)
            out.append(draw(st.sampled_from(["", "  ", "\t"])) + c)
        if draw(st.integers(0, 6)) == 0:
            out.append(draw(st.sampled_from(["", "   ", "\t"])))
        lead = draw(st.sampled_from(["", " ", "\t", "        "]))
        if draw(st.integers(0, 4)) == 0:
            c = "#" + draw(comment_text)
            comments.append(c)
            line = line + draw(st.sampled_from([" ", "\t", "   "])) + c
        out.append(lead + line + draw(st.sampled_from(["", " ", "\r"])))
    if draw(st.booleans()):
        c = "# the end " + draw(comment_text)
        comments.append(c)
        out.append(c)
    return "\n".join(out) + "\n", comments


@FAST
@given(st.data())
def test_fmt_is_idempotent_and_keeps_every_comment(data):
    program = data.draw(programs())
    text, comments = _noise(data.draw, format_program(program))
    once = format_source(text)
    assert parse(once) == program
    assert format_source(once) == once
    lines = once.split("\n")
    # every comment comes out, whole: as a line of its own or at a line's end
    for c in comments:
        c = c.rstrip()
        assert any(line.strip() == c or line.endswith("  " + c) for line in lines), (c, once)


@FAST
@given(st.lists(legacy_lines(), min_size=1, max_size=4))
def test_legacy_spellings_parse_and_format(lines):
    text = "\n".join(t for t, _ in lines) + "\n"
    program = parse(text)
    assert program.schemes == tuple(s for _, s in lines)
    once = format_source(text)
    assert parse(once) == program
    assert format_source(once) == once
    # same field count; a field starts in the same column on every line
    # (fields are placed in the columns of the 18-field layout)
    out = once.splitlines()
    assert [len(line.split()) for line in out] == [s.legacy_fields for _, s in lines]
    columns = {}
    for line in out:
        starts = [i for i, ch in enumerate(line) if ch != " " and (i == 0 or line[i - 1] == " ")]
        slots = list(range(7)) + ([7] if len(starts) == 18 else []) + list(range(8, 18))
        for slot, col in zip(slots, starts):
            assert columns.setdefault(slot, col) == col, once


# -- matching semantics ------------------------------------------------------

def _damo():
    pkg = Path(pytest.importorskip("damo").__file__).parent
    if str(pkg) not in sys.path:
        sys.path.insert(0, str(pkg))  # damo's modules import each other top-level
    import _damo_fmt_str
    import _damon
    return _damon, _damo_fmt_str


class _Iv:
    def __init__(self, sample, aggr):
        self.sample, self.aggr = sample, aggr


def oracle_bounds(scheme, sample_us, aggr_us):
    """Kernel bounds from damo's own converters, with the 'unbounded' max
    policy: max is ULONG_MAX for sizes and UINT_MAX for nr_accesses/age,
    everything clamped to its field."""
    damon, fmt_str = _damo()
    iv = _Iv(sample_us, aggr_us)
    p = scheme.pattern

    def size(v):
        if v.keyword:
            return 0 if v.keyword == "min" else ULONG_MAX
        return min(ULONG_MAX, int(fmt_str.text_to_bytes(v.text())))

    def nr(v, unit):
        if v.keyword:
            return 0 if v.keyword == "min" else UINT_MAX
        if unit == "samples":
            return min(UINT_MAX, int(v.number))
        x = damon.DamonNrAccesses(v.text(), "percent")
        x.add_unset_unit(iv)
        return min(UINT_MAX, x.samples)

    def age(v, unit):
        if v.keyword:
            return 0 if v.keyword == "min" else UINT_MAX
        if unit == "aggr_intervals":
            return min(UINT_MAX, int(v.number))
        x = damon.DamonAge(v.text(), "usec")
        x.add_unset_unit(iv)
        return min(UINT_MAX, x.aggr_intervals)

    sz = (0, ULONG_MAX) if p.size is None else (size(p.size.lo), size(p.size.hi))
    ac = (0, UINT_MAX) if p.access is None else (nr(p.access.lo, p.access.unit),
                                                  nr(p.access.hi, p.access.unit))
    ag = (0, UINT_MAX) if p.age is None else (age(p.age.lo, p.age.unit),
                                               age(p.age.hi, p.age.unit))
    return sz, ac, ag


def inside(x, lo, hi):
    """Brute force: enumerate small ranges, compare the ends of big ones."""
    if hi < lo:
        return False
    if hi - lo <= 2048:
        return any(x == v for v in range(lo, hi + 1))
    return not (x < lo or x > hi)


def _around(bounds, top):
    lo, hi = bounds
    return sorted({max(0, min(top, v)) for v in (0, 1, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1,
                                                 (lo + hi) // 2, top - 1, top)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_matches_agrees_with_oracle(data):
    scheme = data.draw(schemes())
    sample = data.draw(st.integers(1, 20_000))
    aggr = data.draw(st.integers(sample, 2_000_000))
    k = to_context(Program(schemes=(scheme,)), intervals=Intervals(sample, aggr, 1_000_000))
    (ks,) = k.schemes   # the model's own matching rule
    sz, ac, ag = oracle_bounds(scheme, sample, aggr)
    p = ks.pattern
    assert (p.sz_min, p.sz_max) == sz
    assert (p.nr_accesses_min, p.nr_accesses_max) == ac
    assert (p.age_min, p.age_max) == ag
    for _ in range(8):
        r_sz = data.draw(st.sampled_from(_around(sz, ULONG_MAX)) | st.integers(0, ULONG_MAX))
        r_nr = data.draw(st.sampled_from(_around(ac, UINT_MAX)) | st.integers(0, UINT_MAX))
        r_age = data.draw(st.sampled_from(_around(ag, UINT_MAX)) | st.integers(0, UINT_MAX))
        expect = inside(r_sz, *sz) and inside(r_nr, *ac) and inside(r_age, *ag)
        assert ks.matches(r_sz, r_nr, r_age) == expect, (r_sz, r_nr, r_age, sz, ac, ag)


def test_matches_edges_are_inclusive():
    """max and min edges: a full-range scheme matches the extreme regions,
    and a one-point range matches only that point."""
    (full,) = to_context(parse("scheme { action stat }\n")).schemes
    for sz in (0, ULONG_MAX):
        for nr in (0, UINT_MAX):
            for age in (0, UINT_MAX):
                assert full.matches(sz, nr, age)
    (maxed,) = to_context(parse("min max min max min max stat\n")).schemes
    assert maxed.matches(ULONG_MAX, UINT_MAX, UINT_MAX) and maxed.matches(0, 0, 0)
    (point,) = to_context(parse("scheme { action stat; size 4K..4K; access 3..3 samples; "
                               "age 7..7 aggr_intervals }\n")).schemes
    assert point.matches(4096, 3, 7)
    for args in ((4095, 3, 7), (4097, 3, 7), (4096, 2, 7), (4096, 4, 7), (4096, 3, 6),
                 (4096, 3, 8)):
        assert not point.matches(*args)
