"""Hypothesis strategies for damos-lang tests (import them from any test).

* ``programs()``: valid IR Programs, exactly as ``lower.parse`` builds them
  (canonical numbers, lowercase words, weights with all three keys, ...), so
  that ``parse(format_program(p)) == p`` must hold.  They cover every IR
  feature: all actions, ranges in every unit (percent/time/samples/
  aggr_intervals, min/max), quotas with goals of every metric, watermarks,
  every filter type (allow/reject, matching or not), dests, target_nid,
  apply_interval, a monitor with intervals_goal, targets with pid and regions,
  and legacy schemes of 7/9/12/17/18 fields.
* ``schemes(legacy=None)``: one Scheme (block, legacy, or either).
* ``legacy_lines()``: (text, field_count) of a valid legacy one-line scheme,
  written with the spellings a user may use (commas, hex, %, upper-case
  actions, tabs).
* ``values`` helpers: ``sizes()``, ``times()``, ``percents()``, ``counts()``.

Everything generated is what the parser accepts: percents <= 100 where the
parser limits them, whole counts, pid >= 1, region end > start, unique
scheme names.
"""
from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from damos_lang.convert import per_scale, size_bytes, time_ms, time_us
from damos_lang.ir import (ACTIONS, FILTER_TYPES, GOAL_METRICS, GOAL_TUNERS, OPS, WMARK_METRICS,
                           AccessPattern, AddrRange, Dest, Filter, Goal, IntervalsGoal,
                           Monitor, Program, Quota, Range, Scheme, Target, Value, Watermarks,
                           Weights)
from damos_lang.units import SIZE_UNITS, TIME_UNITS_NS

ULONG_MAX = 2**64 - 1
KEYWORDS = (Value.kw("min"), Value.kw("max"))

# -- numbers (canonical text, as units.canonical_number leaves it) ---------

small_ints = st.integers(min_value=0, max_value=10_000)
ints = st.one_of(small_ints, st.integers(min_value=0, max_value=ULONG_MAX))


_fracs = st.none() | st.text("0123456789", min_size=1, max_size=3)


def numbers(max_whole=10_000, decimals=True):
    whole = st.integers(min_value=0, max_value=max_whole)
    if not decimals:
        return whole.map(str)
    return st.tuples(whole, _fracs).map(lambda t: str(t[0]) if t[1] is None else f"{t[0]}.{t[1]}")


def whole_numbers(max_value=10_000):
    return st.integers(min_value=0, max_value=max_value).map(str)


def _limited(limit):
    """A number <= limit (the parser's percent cap)."""
    return numbers(max_whole=limit).map(lambda n: str(limit) if float(n) > limit else n)


# -- values ----------------------------------------------------------------

def sizes(keywords=True):
    v = st.builds(Value, numbers(max_whole=4096), st.sampled_from([""] + list(SIZE_UNITS)))
    return st.one_of(v, st.sampled_from(KEYWORDS)) if keywords else v


def times(bare=False, keywords=False):
    units = list(TIME_UNITS_NS) + ([""] if bare else [])
    v = st.builds(Value, numbers(max_whole=100_000), st.sampled_from(units))
    return st.one_of(v, st.sampled_from(KEYWORDS)) if keywords else v


def percents(bare=False, keywords=False, units=("%",), limit=100):
    """Percent-like values; ``units`` beyond '%' (bp, permil) are not capped."""
    capped = st.builds(Value, _limited(limit), st.sampled_from(["%"] + ([""] if bare else [])))
    strategies = [capped] if "%" in units else []
    other = [u for u in units if u != "%"]
    if other:
        strategies.append(st.builds(Value, numbers(max_whole=100_000), st.sampled_from(other)))
    v = st.one_of(*strategies)
    return st.one_of(v, st.sampled_from(KEYWORDS)) if keywords else v


def counts(keywords=False, max_value=10_000):
    v = st.builds(Value, whole_numbers(max_value))
    return st.one_of(v, st.sampled_from(KEYWORDS)) if keywords else v


def ranges(values, unit=""):
    return st.builds(Range, values, values, st.just(unit))


# -- block schemes -----------------------------------------------------------

access_ranges = st.one_of(ranges(percents(keywords=True)),
                          ranges(counts(keywords=True), "samples"))
age_ranges = st.one_of(ranges(times(keywords=True)),
                       ranges(counts(keywords=True), "aggr_intervals"))
size_ranges = ranges(sizes())

# any text: spaces, quotes, backslashes, tabs, newlines, unicode
strings = st.text(st.sampled_from(list("ab/ _-.\"\\\t\n\r#;{}é✓")) | st.characters(
    blacklist_categories=("Cs",)), max_size=12)
# sysfs cuts a path at a NUL and drops one trailing newline, so the language
# refuses both (pipeline.validate; tests/test_pipeline.py): valid programs have neither
paths = st.one_of(st.from_regex(r"/[a-z0-9_./-]{0,12}", fullmatch=True),
                  strings.filter(lambda s: "\0" not in s and not s.endswith("\n")))


def goal_values(metric):
    if metric == "some_mem_psi_us":
        return times()
    if metric == "user_input":
        return counts()
    return percents(units=("%", "bp"))


def goals(metric=None):
    return st.one_of(*(st.builds(Goal, st.just(m), goal_values(m), st.none() | goal_values(m),
                                 st.none() | st.integers(0, 64), st.none() | paths)
                       for m in ([metric] if metric else GOAL_METRICS)))


weights = st.builds(Weights, counts(), counts(), counts())
quotas = st.builds(Quota, st.none() | times(), st.none() | sizes(keywords=False),
                   st.none() | times(), st.none() | weights,
                   st.lists(goals(), max_size=3).map(tuple),
                   st.none() | st.sampled_from(GOAL_TUNERS),
                   st.none() | st.tuples(st.integers(0, 100), st.integers(1, 100)))
permils = percents(units=("%", "permil"), limit=10_000)
watermarks = st.builds(Watermarks, st.sampled_from(WMARK_METRICS), times(),
                       permils, permils, permils)


_FILTER_ARGS = {"memcg": ("memcg_path", paths), "addr": ("addr", ranges(sizes(keywords=False))),
                "target": ("target_idx", st.integers(0, 1000)),
                "hugepage_size": ("hugepage", size_ranges)}


def filters(ftype=None):
    out = []
    for t in ([ftype] if ftype else FILTER_TYPES):
        extra = {}
        if t in _FILTER_ARGS:
            extra = {_FILTER_ARGS[t][0]: _FILTER_ARGS[t][1]}
        out.append(st.builds(Filter, allow=st.booleans(), type=st.just(t),
                             matching=st.booleans(), **extra))
    return st.one_of(*out)


names = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True), strings)


_patterns = st.builds(AccessPattern, st.none() | size_ranges, st.none() | access_ranges,
                      st.none() | age_ranges)
_block_schemes = st.builds(
    Scheme, action=st.sampled_from(ACTIONS), pattern=_patterns, name=st.none(),
    apply_interval=st.none() | times(), quota=st.none() | quotas,
    watermarks=st.none() | watermarks,
    filters=st.lists(filters(), max_size=4).map(tuple),
    target_nid=st.none() | st.integers(0, 64),
    dests=st.lists(st.builds(Dest, st.integers(0, 64), st.integers(0, 10_000)),
                   max_size=3).map(tuple),
    max_snapshots=st.none() | st.integers(1, 10**6))


def block_schemes(name=None):
    """A block Scheme, named ``name``."""
    return _block_schemes.map(lambda s: replace(s, name=name))


PAGE = 4096


def _permil(v: Value) -> int:
    return per_scale(v, 10)


def _valid_scheme(s: Scheme) -> Scheme:
    """What the kernel refuses in a scheme, or takes but makes meaningless,
    is an error (pipeline.validate): keep filter ranges in order, watermarks
    (unless their metric is none) at most 1000 permil and high >= mid >= low,
    and a quota with a limit on a reset interval above 0."""
    w = s.watermarks
    if w is not None and w.metric != "none":
        cap = Value("100", "%") if not s.legacy_fields else Value("1000")
        vals = [v if _permil(v) <= 1000 else cap for v in (w.high, w.mid, w.low)]
        high, mid, low = sorted(vals, key=_permil, reverse=True)
        s = replace(s, watermarks=replace(w, high=high, mid=mid, low=low))
    q = s.quota
    if q is not None and q.reset is not None and time_ms(q.reset) == 0 and (
            q.goals or (q.time and time_ms(q.time)) or (q.size and size_bytes(q.size))):
        s = replace(s, quota=replace(q, reset=Value("1", "s")))
    filters = []
    for f in s.filters:
        for key in ("addr", "hugepage"):
            r = getattr(f, key)
            if r is not None and size_bytes(r.lo) > size_bytes(r.hi):
                f = replace(f, **{key: replace(r, lo=r.hi, hi=r.lo)})
        filters.append(f)
    return replace(s, filters=tuple(filters))


# -- legacy schemes ----------------------------------------------------------

LEGACY_COUNTS = (7, 9, 12, 17, 18)
legacy_freqs = percents(bare=True, keywords=True)
legacy_ages = times(bare=True, keywords=True)
_legacy_patterns = st.builds(AccessPattern, ranges(sizes()), ranges(legacy_freqs),
                             ranges(legacy_ages))
_bare_times = times(bare=True)
_legacy_wmarks = st.builds(Watermarks, st.sampled_from(WMARK_METRICS), _bare_times,
                           counts(), counts(), counts())


def _legacy_of(n):
    quota = st.none()
    if n >= 9:
        quota = st.builds(Quota, _bare_times if n == 18 else st.none(), sizes(keywords=False),
                          _bare_times, weights if n >= 12 else st.none())
    return st.builds(Scheme, action=st.sampled_from(ACTIONS), pattern=_legacy_patterns,
                     quota=quota, watermarks=_legacy_wmarks if n >= 17 else st.none(),
                     legacy_fields=st.just(n)).map(_valid_scheme)


_LEGACY = {n: _legacy_of(n) for n in LEGACY_COUNTS}
_any_legacy = st.one_of(*_LEGACY.values())


def legacy_schemes(n=None):
    """A legacy-line Scheme of n fields (any of 7/9/12/17/18 if None)."""
    return _LEGACY[n] if n else _any_legacy


def schemes(legacy=None):
    """A Scheme: block (legacy=False), legacy line (True) or either (None)."""
    if legacy is True:
        return legacy_schemes()
    if legacy is False:
        return block_schemes()
    return st.one_of(block_schemes(), legacy_schemes())


# -- monitor, targets, programs -----------------------------------------------

intervals_goals = st.builds(IntervalsGoal, percents(units=("%", "bp")), st.integers(0, 1000),
                            times(), times())
# the conversion divides by the sampling and aggregation intervals: at least 1 us
_intervals = times().filter(lambda v: int(time_us(v)) >= 1)
# the kernel refuses min < 3 and min > max at 'on' (pipeline.validate)
_nr_regions = st.integers(3, 10_000).flatmap(lambda lo: st.tuples(st.just(lo),
                                                                  st.integers(lo, 10_000)))
monitors = st.builds(Monitor, st.none() | st.sampled_from(OPS), st.none() | _intervals,
                     st.none() | _intervals, st.none() | times(),
                     st.none() | _nr_regions, st.none() | intervals_goals)


def addr_ranges():
    """Byte ranges written in hex or decimal, as a user may."""
    def build(t):
        lo, hi, as_hex = min(t[:2]), max(t[:2]), t[2]
        text = hex if as_hex else str
        return AddrRange(Value(text(lo)), Value(text(hi)))
    return st.tuples(ints, ints, st.booleans()).filter(lambda t: t[0] != t[1]).map(build)


def targets():
    regions = st.lists(addr_ranges(), max_size=3).map(tuple)
    return st.one_of(st.builds(Target, st.integers(1, 2**22), regions),
                     st.builds(Target, st.none(), st.lists(addr_ranges(), min_size=1,
                                                           max_size=3).map(tuple)))


_any_scheme = st.one_of(_block_schemes, _any_legacy)
_named = st.tuples(_any_scheme, st.none() | names).map(
    lambda t: replace(t[0], name=t[1]) if not t[0].legacy_fields else t[0])
_targets_lists = st.lists(targets(), max_size=3).map(tuple)


def _unique_names(schemes):
    seen, out = set(), []
    for s in schemes:
        if s.name is not None and s.name in seen:
            s = replace(s, name=None)
        seen.add(s.name)
        out.append(s)
    return tuple(out)


_DEFAULT_SAMPLE, _DEFAULT_AGGR = Value("5", "ms"), Value("100", "ms")


def _share_a_page(a, b) -> bool:
    """Regions a <= b overlap once the kernel widens them to whole pages."""
    return -(-a[1] // PAGE) * PAGE > b[0] // PAGE * PAGE


def _apart(targets, together: bool):
    """Targets without the regions that would overlap an earlier one in the
    kernel (paddr's regions are one target's: ``together``); a target left
    with none is dropped."""
    spans = [((size_bytes(r.start), size_bytes(r.end)), i, j)
             for i, t in enumerate(targets) for j, r in enumerate(t.regions)]
    groups = [spans] if together else [[x for x in spans if x[1] == i]
                                        for i in range(len(targets))]
    kept = set()
    for group in groups:
        last = None
        for span, i, j in sorted(group):
            if last is None or not _share_a_page(last, span):
                kept.add((i, j))
                last = span
    out = []
    for i, t in enumerate(targets):
        regions = tuple(r for j, r in enumerate(t.regions) if (i, j) in kept)
        if regions or not t.regions:
            out.append(replace(t, regions=regions))
    return tuple(out)


def _valid(p: Program) -> Program:
    """What every kernel refuses at 'on', or takes but makes meaningless, is
    an error (pipeline.validate): keep sample <= aggr and the sample within
    a tuning intervals_goal's bounds, give paddr/fvaddr targets the regions
    they need, apart from each other, keep migration dests to the ops sets
    that honour them and goal metrics to the ops sets that take them, and
    each scheme valid (_valid_scheme)."""
    from damos_lang import catalog
    ops = (p.monitor.ops if p.monitor else None) or catalog.DEFAULT_OPS
    schemes = []
    for s in p.schemes:
        dests_ops = catalog.ACTIONS[s.action].dests_ops
        if s.dests and dests_ops and ops not in dests_ops:
            s = replace(s, dests=())
        if s.quota is not None:
            goals = tuple(g for g in s.quota.goals if ops in catalog.GOAL_METRICS[g.metric].ops)
            s = replace(s, quota=replace(s.quota, goals=goals))
        schemes.append(_valid_scheme(s))
    p = replace(p, schemes=tuple(schemes))
    m = p.monitor
    if m is not None:
        sample, aggr = m.sample or _DEFAULT_SAMPLE, m.aggr or _DEFAULT_AGGR
        if time_us(sample) > time_us(aggr):
            m = replace(m, sample=aggr, aggr=sample)
            sample = aggr
        g = m.intervals_goal
        if g is not None and g.aggrs:
            def us(v):
                return min(ULONG_MAX, int(time_us(v)))
            lo, hi = sorted((g.min_sample, g.max_sample), key=us)
            lo, hi = (sample if us(sample) < us(lo) else lo), (sample if us(sample) > us(hi)
                                                               else hi)
            m = replace(m, intervals_goal=replace(g, min_sample=lo, max_sample=hi))
        p = replace(p, monitor=m)
        if m.ops in ("paddr", "fvaddr"):
            region = (AddrRange(Value("0x1000"), Value("0x2000")),)
            targets = tuple(t if t.regions else replace(t, regions=region) for t in p.targets)
            p = replace(p, targets=_apart(targets or (Target(None, region),),
                                          together=m.ops == "paddr"))
    return p


def programs(max_schemes=4):
    """A valid Program (unique scheme names)."""
    return st.builds(Program, st.none() | monitors, _targets_lists,
                     st.lists(_named, max_size=max_schemes).map(_unique_names)).map(_valid)


# -- legacy lines as text ------------------------------------------------------

def _spell_number(draw, v: Value, commas=True) -> str:
    """One of the ways a user may write v (leading zeros, thousands commas)."""
    if v.keyword is not None:
        return v.keyword
    number = v.number
    if "." not in number and draw(st.booleans()):
        if commas and len(number) > 3 and draw(st.booleans()):
            number = f"{int(number):,}"
        elif draw(st.booleans()):
            number = "0" + number
    return number + v.unit


@st.composite
def legacy_lines(draw, n=None):
    """(text, scheme): a legacy line and the Scheme it must parse to
    (compare with ``==``: locations are not compared)."""
    s = draw(legacy_schemes(n))
    from damos_lang.fmt import legacy_fields  # the field order, shared with fmt
    fields = legacy_fields(s)
    idx_action = 6
    spelled = []
    for i, f in enumerate(fields):
        if i == idx_action or (s.legacy_fields >= 17 and f in WMARK_METRICS):
            spelled.append(draw(st.sampled_from([f, f.upper(), f.capitalize()])))
        else:
            spelled.append(f)
    # re-spell numbers with commas / leading zeros where the value allows it
    values = _legacy_values(s)
    for i, v in enumerate(values):
        if v is not None:
            spelled[i] = _spell_number(draw, v)
    seps = draw(st.lists(st.sampled_from([" ", "  ", "\t", " \t "]), min_size=len(spelled) - 1,
                         max_size=len(spelled) - 1))
    text = spelled[0] + "".join(sep + f for sep, f in zip(seps, spelled[1:]))
    return text, s


def _legacy_values(s: Scheme) -> list:
    p, q, w = s.pattern, s.quota, s.watermarks
    vals = [p.size.lo, p.size.hi, p.access.lo, p.access.hi, p.age.lo, p.age.hi, None]
    n = s.legacy_fields
    if n == 18:
        vals.append(q.time)
    if n >= 9:
        vals += [q.size, q.reset]
    if n >= 12:
        vals += [q.weights.size, q.weights.access, q.weights.age]
    if n >= 17:
        vals += [None, w.interval, w.high, w.mid, w.low]
    return vals
