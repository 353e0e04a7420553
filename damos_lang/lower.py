"""Syntax nodes -> IR: gives every statement and block setting its meaning.
Single values are read by :mod:`values`, legacy lines by :mod:`legacy`."""
from __future__ import annotations

from . import catalog
from .errors import DamosError, DamosErrors, Loc, did_you_mean, shorten
from .ir import (ACTIONS, FILTER_TYPES, GOAL_METRICS, GOAL_TUNERS, OPS, WMARK_METRICS,
                 AccessPattern, AddrRange, Dest, Filter, Goal, IntervalsGoal, Monitor,
                 Probe, ProbeFilter, Program, Quota, Range, Scheme, Target, Value, Watermarks,
                 Weights)
from .legacy import lower_legacy_line
from .parser import (Atom, RangeNode, Setting, Statement, gc_paused, parse_nodes,
                     parse_nodes_recovering)
from .units import (AGGR_INTERVALS, BP, PERCENT, PERMIL, SAMPLES, SIZE_UNITS, TIME_UNITS_NS,
                    UINT_MAX, ULONG_MAX, exact_number)

PROBE_FILTER_TYPES = tuple(catalog.PROBE_FILTER_TYPES)
from .values import (at_least_1us, error_at, exact_bytes, read_count, read_int, read_percent,
                     read_size, read_time, read_word, single_value)


def parse(text: str) -> Program:
    """Parse DAMOS source text into a Program (raises DamosError: the first error)."""
    with gc_paused():
        return lower(parse_nodes(text))


def parse_all(text: str, limit: int | None = None) -> tuple[Program | None, list[DamosError]]:
    """Every error of ``text``, syntax and meaning, in source order -- the first
    ``limit`` or more, when given -- and the Program when there is none.

    The parser resumes after each syntax error (:func:`parser._parse`); the
    statements without one are lowered, each on its own, and in each block
    every setting on its own, so one bad setting hides neither the next one
    nor the next statement."""
    with gc_paused():
        found = parse_nodes_recovering(text, limit)
        errors = list(found.errors)
        program = lower(found.statements, errors, found.bad)
    if not errors:
        return program, []
    return None, in_source_order(errors)


def in_source_order(errors: list[DamosError]) -> list[DamosError]:
    """``errors`` by line and column (those without a place last), each once."""
    def key(e):
        loc = e.loc
        return (loc.line, loc.col) if loc is not None else (float("inf"), 0)
    out, seen = [], set()
    for e in sorted(errors, key=key):
        ident = (key(e), e.message)
        if ident not in seen:
            seen.add(ident)
            out.append(e)
    return out


class _Errors(list):
    """The errors of a block's settings: each setting is read in ``with
    errors:``, which keeps its DamosError and goes on with the next one;
    :meth:`done` raises them (the first is what a DamosError shows)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb) -> bool:
        if isinstance(e, DamosError):
            self.extend(getattr(e, "errors", (e,)))
            return True
        return False

    def done(self) -> None:
        if self:
            raise self[0] if len(self) == 1 else DamosErrors(self)


# -- blocks ----------------------------------------------------------------

class _Settings:
    """Dispatch of a block's settings, with one-of-each and unknown-key checks."""

    def __init__(self, settings: list[Setting], known, what: str, errors: _Errors):
        self.what = what
        self.by_key: dict[str, list[Setting]] = {}
        self.unknown = False    # a setting was misspelt: what is missing may be it
        for s in settings:
            if s.key not in known:
                errors.append(DamosError(did_you_mean(s.key, known, f"{what} setting"),
                                         s.key_loc))
                self.unknown = True
                continue
            self.by_key.setdefault(s.key, []).append(s)

    def one(self, key) -> Setting | None:
        got = self.by_key.get(key, [])
        if len(got) > 1:
            raise DamosError(f"{key!r} is set twice in this {self.what}", got[1].key_loc)
        return got[0] if got else None

    def many(self, key) -> list[Setting]:
        return self.by_key.get(key, [])

    def required(self, keys, errors: _Errors, loc: Loc,
                 needs: str) -> dict[str, Setting | None]:
        """Each of ``keys`` once; the missing ones are one error at ``loc`` ("``needs``
        a, b"), unless a misspelt setting may be one of them."""
        got = {}
        for k in keys:
            with errors:
                got[k] = self.one(k)
        missing = [k for k, x in got.items() if x is None]
        if missing and not self.unknown:
            errors.append(DamosError(f"{needs} {', '.join(missing)}", loc))
        return got


_UNIT_WORDS = set(SIZE_UNITS) | set(TIME_UNITS_NS) | {PERCENT, PERMIL, BP}


def _spaced_unit(s: Setting) -> None:
    """``age 5 s..max``: a number, a blank, then its unit -- one word in the language."""
    if len(s.values) < 2:
        return
    num, nxt = s.values[0], s.values[1]
    head = nxt.lo if isinstance(nxt, RangeNode) else nxt
    if not (isinstance(num, Atom) and num.kind == "QTY" and isinstance(head, Atom)
            and num.text.replace(".", "").isdigit()):
        return
    unit = head.text.rstrip("0123456789.")
    if unit not in _UNIT_WORDS or unit in (SAMPLES, AGGR_INTERVALS):
        return     # '5 samples' is right: the count units are words of their own
    glued = num.text + (nxt_text := _text_of(nxt))
    end = nxt.loc.end_col if nxt.loc.line == num.loc.line else None
    raise DamosError(f"a number and its unit are one word: write '{glued}', not "
                     f"'{num.text} {nxt_text}'", Loc(num.loc.line, num.loc.col, end))


def _text_of(v) -> str:
    return f"{v.lo.text}..{v.hi.text}" if isinstance(v, RangeNode) else v.text


def _values(s: Setting, count: int | tuple, body=False):
    counts = count if isinstance(count, tuple) else (count,)
    if len(s.values) not in counts:
        _spaced_unit(s)
        want = " or ".join(str(c) for c in counts)
        at = s.values[max(counts)] if len(s.values) > max(counts) else s
        raise DamosError(f"{s.key!r} takes {want} value{'s' if max(counts) != 1 else ''}, "
                         f"got {len(s.values)}", at.loc if hasattr(at, "loc") else s.loc)
    if s.body is not None and not body:
        raise DamosError(f"{s.key!r} takes no block", s.key_loc)
    return s.values


def _range(node, reader) -> Range:
    if isinstance(node, RangeNode):
        return Range(reader(node.lo), reader(node.hi), "", node.loc)
    v = reader(node)  # a single value: lo == hi
    return Range(v, v, "", node.loc)


def _unit_word(s: Setting, allowed: str):
    if len(s.values) == 2:
        w = s.values[1]
        if isinstance(w, Atom) and w.kind == "WORD" and w.text == allowed:
            return allowed
        _spaced_unit(s)
        raise error_at(w, f"unexpected {shorten(getattr(w, 'text', '..'))!r} after the "
                       f"{s.key} range; only the unit word '{allowed}' may follow")
    return ""


def _pattern_range(s: Setting, kernel_unit: str, what: str, reader) -> Range:
    """`access 5%..max` / `access 1..3 samples`: user units, or the kernel
    unit word after the range and whole numbers."""
    vals = _values(s, (1, 2))
    unit = _unit_word(s, kernel_unit)
    if unit:
        r = _range(vals[0], lambda a: read_count(a, what))
    else:
        r = _range(vals[0], reader)
    return Range(r.lo, r.hi, unit, r.loc)


def _access_range(s: Setting) -> Range:
    return _pattern_range(s, SAMPLES, "access count",
                          lambda a: read_percent(a, "access frequency", bare_ok=False,
                                                 units=(PERCENT,), unit_word=SAMPLES))


def _age_range(s: Setting) -> Range:
    return _pattern_range(s, AGGR_INTERVALS, "age",
                          lambda a: read_time(a, "age", allow_kw=True, unit_word=AGGR_INTERVALS))


def _pairs(s: Setting, keys, what) -> dict:
    """`weights size 1 access 3 age 7`-style key/value pairs."""
    vals = s.values
    if len(vals) % 2:
        raise DamosError(f"{s.key!r} takes key/value pairs ({', '.join(keys)})", s.loc)
    out = {}
    for k, v in zip(vals[0::2], vals[1::2]):
        key, loc = read_word(k, keys, f"{what} key")
        if key in out:
            raise DamosError(f"{key!r} is given twice", loc)
        out[key] = v
    return out


def _permil(node, what) -> Value:
    return read_percent(node, what, bare_ok=False, allow_kw=False, units=(PERCENT, PERMIL),
                        limit=None)


def _quota(s: Setting) -> Quota:
    if s.values or s.body is None:
        raise DamosError("quota takes a block: quota { size 1G; reset 1s }", s.key_loc)
    errs = _Errors()
    st = _Settings(s.body, ("time", "size", "reset", "weights", "goal", "tuner", "fail_charge"),
                   "quota", errs)
    time = size = reset = weights = tuner = fail_charge = None
    with errs:
        if (x := st.one("time")):
            time = read_time(_values(x, 1)[0], "quota time")
    with errs:
        if (x := st.one("size")):
            size = read_size(_values(x, 1)[0], "quota size", allow_kw=False)
    with errs:
        if (x := st.one("reset")):
            reset = read_time(_values(x, 1)[0], "quota reset interval")
    with errs:
        if (x := st.one("weights")):
            p = _pairs(x, ("size", "access", "age"), "weights")
            weights = Weights(*(read_count(p[k], f"{k} weight", allow_kw=False) if k in p
                                else Value("0") for k in ("size", "access", "age")), loc=x.loc)
    with errs:
        if (x := st.one("tuner")):
            tuner, _ = read_word(_values(x, 1)[0], GOAL_TUNERS, "goal tuner")
    with errs:
        if (x := st.one("fail_charge")):
            p = _pairs(x, ("num", "denom"), "fail_charge")
            if set(p) != {"num", "denom"}:
                raise DamosError("fail_charge takes num N denom D (charge N/D of a failed "
                                 "region)", x.loc)
            fail_charge = (read_int(p["num"], "fail_charge num"),
                           read_int(p["denom"], "fail_charge denom", minimum=1))
    goals = []
    for g in st.many("goal"):
        with errs:
            goals.append(_goal(g))
    errs.done()
    return Quota(time, size, reset, weights, tuple(goals), tuner, fail_charge, s.loc)


def _goal(g: Setting) -> Goal:
    if len(g.values) < 2:
        raise DamosError("goal takes a metric and a target: goal some_mem_psi_us 1ms", g.loc)
    metric, _ = read_word(g.values[0], GOAL_METRICS, "goal metric")
    target = _goal_value(metric, g.values[1])
    p = _pairs(Setting(g.key, g.values[2:], None, g.loc, g.key_loc),
               ("current", "nid", "path"), "goal")
    current = _goal_value(metric, p["current"]) if "current" in p else None
    nid = read_int(p["nid"], "nid") if "nid" in p else None
    path = None
    if "path" in p:
        a = single_value(p["path"], "path")
        if a.kind not in ("PATH", "STRING"):
            raise error_at(a, "path must be a /path or a quoted string")
        path = a.value
    return Goal(metric, target, current, nid, path, g.loc)


def _goal_value(metric, node) -> Value:
    if metric == "some_mem_psi_us":
        return read_time(node, "PSI goal")
    if metric == "user_input":
        return read_count(node, "user_input value", allow_kw=False)
    return read_percent(node, f"{metric} goal", bare_ok=False, allow_kw=False,
                        units=(PERCENT, BP), limit=100)


def _watermarks(s: Setting) -> Watermarks:
    if s.values or s.body is None:
        raise DamosError("watermarks take a block: watermarks { metric free_mem_rate; "
                         "interval 5s; high 50%; mid 40%; low 20% }", s.key_loc)
    errs = _Errors()
    keys = ("metric", "interval", "high", "mid", "low")
    got = _Settings(s.body, keys, "watermarks", errs).required(keys, errs, s.key_loc,
                                                                   "watermarks need")
    errs.done()
    metric = interval = None
    with errs:
        metric, _ = read_word(_values(got["metric"], 1)[0], WMARK_METRICS, "watermark metric")
    with errs:
        interval = read_time(_values(got["interval"], 1)[0], "watermark interval")
    marks = {}
    for k in ("high", "mid", "low"):
        with errs:
            marks[k] = _permil(_values(got[k], 1)[0], f"{k} watermark")
    errs.done()
    return Watermarks(metric, interval, marks["high"], marks["mid"], marks["low"], s.loc)


def _filter_head(s: Setting, types, what: str, example: str):
    """``allow|reject [not] TYPE`` of a scheme's or a probe's filter:
    (allow, matching, type, type's location, the values after it)."""
    vals = list(s.values)
    if s.body is not None:
        raise DamosError("filter takes no block", s.key_loc)
    if not vals:
        raise DamosError(f"filter needs allow or reject and a type: {example}", s.loc)
    verdict, _ = read_word(vals.pop(0), ("allow", "reject"), "filter verdict")
    matching = True
    if vals and isinstance(vals[0], Atom) and vals[0].text == "not":
        matching = False
        vals.pop(0)
    if not vals:
        raise DamosError("filter needs a type", s.loc)
    ftype, tloc = read_word(vals.pop(0), types, what)
    return verdict == "allow", matching, ftype, tloc, vals


def _memcg_path(v) -> str:
    a = single_value(v, "memcg path")
    if a.kind not in ("PATH", "STRING"):
        raise error_at(a, "memcg path must be a /path or a quoted string")
    return a.value


def _filter(s: Setting) -> Filter:
    allow, matching, ftype, tloc, vals = _filter_head(s, FILTER_TYPES, "filter type",
                                                      "filter reject anon")
    kw = dict(allow=allow, type=ftype, matching=matching, loc=s.loc)
    arg = catalog.FILTER_TYPES[ftype].arg
    need = 0 if arg is catalog.ARG_NONE else 1
    if len(vals) != need:
        if need:
            raise DamosError(f"filter type {ftype!r} takes {arg.words}", tloc)
        raise error_at(vals[0], f"filter type {ftype!r} takes no argument")
    if arg is catalog.ARG_PATH:
        kw["memcg_path"] = _memcg_path(vals[0])
    elif arg is catalog.ARG_ADDR_RANGE:
        if not isinstance(vals[0], RangeNode):
            raise error_at(vals[0], "addr filter takes a range start..end")
        kw["addr"] = _range(vals[0], lambda a: read_size(a, "address", allow_kw=False))
    elif arg is catalog.ARG_INDEX:
        kw["target_idx"] = read_int(vals[0], "target index")
    elif arg is catalog.ARG_SIZE_RANGE:
        kw["hugepage"] = _range(vals[0], lambda a: read_size(a, "hugepage size"))
    return Filter(**kw)


SCHEME_KEYS = ("action", "size", "access", "age", "apply_interval", "quota", "watermarks",
               "filter", "target_nid", "dest", "max_snapshots")


def _scheme(st: Statement) -> Scheme:
    name = st.name.value if st.name else None
    errs = _Errors()
    s = _Settings(st.body, SCHEME_KEYS, "scheme", errs)
    action = action_loc = size = access = age = apply_interval = quota = wm = None
    target_nid = max_snapshots = None
    with errs:
        a = s.one("action")
        if a is not None:
            action, action_loc = read_word(_values(a, 1)[0], ACTIONS, "action")
        elif not s.unknown:     # (a misspelt setting may be the action)
            raise DamosError("scheme has no action", st.loc,
                             hint=f"add a line such as 'action pageout' ({' '.join(ACTIONS)})")
    with errs:
        size = _range(_values(x, 1)[0], read_size) if (x := s.one("size")) else None
    with errs:
        access = _access_range(x) if (x := s.one("access")) else None
    with errs:
        age = _age_range(x) if (x := s.one("age")) else None
    with errs:
        apply_interval = read_time(_values(x, 1)[0], "apply interval") \
            if (x := s.one("apply_interval")) else None
    with errs:
        quota = _quota(x) if (x := s.one("quota")) else None
    with errs:
        wm = _watermarks(x) if (x := s.one("watermarks")) else None
    filters = []
    for f in s.many("filter"):
        with errs:
            filters.append(_filter(f))
    with errs:
        target_nid = read_int(_values(x, 1)[0], "target_nid") \
            if (x := s.one("target_nid")) else None
    dests = []
    for d in s.many("dest"):
        with errs:
            vals = _values(d, 3)
            if not (isinstance(vals[1], Atom) and vals[1].text == "weight"):
                raise error_at(vals[1], "write dest NODE weight N")
            dests.append(Dest(read_int(vals[0], "node id"), read_int(vals[2], "weight"), d.loc))
    with errs:
        max_snapshots = (read_int(_values(x, 1)[0], "max_snapshots", minimum=1)
                         if (x := s.one("max_snapshots")) else None)
    errs.done()
    return Scheme(action=action, pattern=AccessPattern(size, access, age), name=name,
                  max_snapshots=max_snapshots,
                  apply_interval=apply_interval, quota=quota, watermarks=wm,
                  filters=tuple(filters), target_nid=target_nid, dests=tuple(dests),
                  legacy_fields=0, loc=st.loc, action_loc=action_loc)


def _interval(s: Setting, what: str) -> Value:
    """An interval the conversion divides by: at least 1 us."""
    v = read_time(_values(s, 1)[0], what)
    if not at_least_1us(v):
        raise DamosError(f"the {what} must be at least 1us, got {v.text()}", v.loc)
    return v


def _monitor(st: Statement) -> Monitor:
    errs = _Errors()
    s = _Settings(st.body, ("ops", "sample", "aggr", "update", "nr_regions", "intervals_goal")
                  + _CONTEXT_KEYS + ("probe",), "monitor", errs)
    ops = sample = aggr = update = nr_regions = nr_regions_loc = goal = None
    before = len(errs)
    with errs:
        ops = read_word(_values(x, 1)[0], OPS, "operations set")[0] \
            if (x := s.one("ops")) else None
    ops_known = len(errs) == before     # a bad 'ops' is its own error: addr_unit waits for it
    with errs:
        sample = _interval(x, "sampling interval") if (x := s.one("sample")) else None
    with errs:
        aggr = _interval(x, "aggregation interval") if (x := s.one("aggr")) else None
    with errs:
        update = read_time(_values(x, 1)[0], "update interval") \
            if (x := s.one("update")) else None
    with errs:
        if (x := s.one("nr_regions")):
            nr_regions_loc = x.loc
            v = _values(x, 1)[0]
            if not isinstance(v, RangeNode):
                raise error_at(v, "nr_regions takes a range: nr_regions 10..1000")
            nr_regions = (read_int(v.lo, "min nr_regions"), read_int(v.hi, "max nr_regions"))
    with errs:
        if (x := s.one("intervals_goal")):
            goal = _intervals_goal(x)
    ctx = _context_settings(s, ops, ops_known, errs)
    probes = []
    for i, x in enumerate(s.many("probe")):
        with errs:
            if i == catalog.MAX_PROBES:
                raise DamosError(f"at most {catalog.MAX_PROBES} probes: the kernel refuses "
                                 f"{len(s.many('probe'))} (DAMON_MAX_PROBES; EINVAL)",
                                 x.key_loc)
            if i > catalog.MAX_PROBES:
                continue
            if ops_known and (ops or catalog.DEFAULT_OPS) not in catalog.PROBE_OPS:
                raise DamosError("probes count hits on physical memory only: write 'ops paddr' "
                                 f"(the kernel's {ops or catalog.DEFAULT_OPS} has no "
                                 "apply_probes, so every hit would stay 0)", x.key_loc)
            probes.append(_probe(x))
    if probes:
        ctx["probes"] = tuple(probes)
    errs.done()
    return Monitor(ops, sample, aggr, update, nr_regions, goal, st.loc, nr_regions_loc, **ctx)


def _probe(x: Setting) -> Probe:
    """``probe [NAME] { weight N; filter allow|reject [not] anon|memcg [PATH] }``."""
    if x.body is None:
        raise DamosError("probe takes a block: probe anon { filter allow anon }", x.key_loc)
    if len(x.values) > 1:
        raise error_at(x.values[1], "probe takes one name before its block")
    name = None
    if x.values:
        a = single_value(x.values[0], "probe name")
        if a.kind not in ("WORD", "STRING"):
            raise error_at(a, "a probe name is a word or a quoted string")
        name = a.value
    errs = _Errors()
    st = _Settings(x.body, ("weight", "filter"), "probe", errs)
    weight = weight_loc = None
    with errs:
        if (w := st.one("weight")):
            weight = read_int(_values(w, 1)[0], "probe weight")
            weight_loc = w.loc
            if weight > UINT_MAX:
                raise error_at(w.values[0], f"probe weight must be at most {UINT_MAX} (the "
                               "kernel's kstrtouint: ERANGE above)")
    filters = []
    for f in st.many("filter"):
        with errs:
            filters.append(_probe_filter(f))
    errs.done()
    return Probe(name, weight, tuple(filters), x.loc, weight_loc)


def _probe_filter(s: Setting) -> ProbeFilter:
    allow, matching, ftype, tloc, vals = _filter_head(s, PROBE_FILTER_TYPES,
                                                      "probe filter type", "filter allow anon")
    arg = catalog.PROBE_FILTER_TYPES[ftype].arg
    path = None
    if arg is catalog.ARG_PATH:
        if len(vals) != 1:
            raise DamosError(f"probe filter type {ftype!r} takes {arg.words}", tloc)
        path = _memcg_path(vals[0])
    elif vals:
        raise error_at(vals[0], f"probe filter type {ftype!r} takes no argument")
    return ProbeFilter(allow, ftype, matching, path, s.loc)


def _intervals_goal(x: Setting) -> IntervalsGoal:
    if x.values or x.body is None:
        raise DamosError("intervals_goal takes a block: intervals_goal { access 4%; aggrs 3; "
                         "min_sample 5ms; max_sample 10s }", x.key_loc)
    errs = _Errors()
    keys = ("access", "aggrs", "min_sample", "max_sample")
    got = _Settings(x.body, keys, "intervals_goal", errs).required(keys, errs, x.key_loc,
                                                                        "intervals_goal needs")
    errs.done()
    access = aggrs = min_sample = max_sample = None
    with errs:
        access = read_percent(_values(got["access"], 1)[0], "access goal", bare_ok=False,
                              allow_kw=False, units=(PERCENT, BP))
    with errs:
        aggrs = read_int(_values(got["aggrs"], 1)[0], "aggrs")
    with errs:
        min_sample = read_time(_values(got["min_sample"], 1)[0], "min sample")
    with errs:
        max_sample = read_time(_values(got["max_sample"], 1)[0], "max sample")
    errs.done()
    return IntervalsGoal(access, aggrs, min_sample, max_sample, x.loc)


# -- the context's and kdamond's own settings (7.2 pause, 6.18 addr_unit, 6.17 refresh) --
_CONTEXT_KEYS = ("pause", "addr_unit", "refresh")


def _context_settings(s: _Settings, ops, ops_known: bool, errs: _Errors) -> dict:
    """pause, addr_unit and refresh of a monitor block, each read on its own."""
    out = {}
    with errs:
        if (x := s.one("pause")):
            out["pause"] = read_word(_values(x, 1)[0], ("yes", "no"), "pause value")[0] == "yes"
            out["pause_loc"] = x.loc
    with errs:
        if (x := s.one("addr_unit")):
            v = read_size(_values(x, 1)[0], "addr_unit", allow_kw=False)
            num, den = exact_number(v.number)
            n = num * SIZE_UNITS.get(v.unit or "B", 1)
            if n < den:
                raise error_at(v, "addr_unit must be at least 1 (the kernel refuses 0)")
            if n % den:
                raise error_at(v, "addr_unit must be a whole number of bytes")
            if n // den > ULONG_MAX:
                raise error_at(v, f"addr_unit must be at most {ULONG_MAX} bytes (ERANGE)")
            if ops_known and (ops or catalog.DEFAULT_OPS) != "paddr":
                raise DamosError("addr_unit applies to physical memory only: write 'ops paddr'",
                                 x.key_loc)
            out["addr_unit"] = v
    with errs:
        if (x := s.one("refresh")):
            out["refresh"] = _refresh(read_time(_values(x, 1)[0], "refresh interval",
                                                allow_kw=False))
    return out


def _refresh(v: Value) -> Value:
    """``refresh``: whole milliseconds from 1 ms to UINT_MAX ms (the kernel's u32
    refresh_ms, where 0 turns refreshing off and more is ERANGE)."""
    num, den = exact_number(v.number)
    ns = num * TIME_UNITS_NS[v.unit]
    if ns < 1_000_000 * den:
        raise error_at(v, "refresh must be at least 1ms (the kernel's refresh_ms is in ms; "
                       "0 turns refreshing off: leave 'refresh' out for that)")
    if ns % (1_000_000 * den):
        raise error_at(v, "refresh must be a whole number of milliseconds (the kernel's "
                       "refresh_ms)", hint=f"for example {ns // (1_000_000 * den)}ms")
    if ns // (1_000_000 * den) > UINT_MAX:
        raise error_at(v, f"refresh must be at most {UINT_MAX}ms (the kernel keeps a u32; "
                       "more is ERANGE)")
    return v


def _target(st: Statement) -> Target:
    vals = list(st.values)
    pid = None
    regions = []
    while vals:
        head = single_value(vals.pop(0), "target")
        if head.kind == "WORD" and head.text == "pid":
            if pid is not None:
                raise error_at(head, "pid is given twice")
            if not vals:
                raise error_at(head, "pid needs a number")
            pid = read_int(vals.pop(0), "pid", minimum=1)
        elif head.kind == "WORD" and head.text == "region":
            if not vals or not isinstance(vals[0], RangeNode):
                raise error_at(head, "region needs a range start..end")
            r = vals.pop(0)
            lo = read_size(r.lo, "region start", allow_kw=False)
            hi = read_size(r.hi, "region end", allow_kw=False)
            if exact_bytes(hi) <= exact_bytes(lo):
                raise error_at(r, "region end must be above its start")
            regions.append(AddrRange(lo, hi))
        else:
            raise error_at(head, did_you_mean(head.text, ("pid", "region"), "target word"))
    return Target(pid, tuple(regions), st.loc)


def lower(statements: list[Statement], errors: list | None = None, bad=()) -> Program:
    """The statements' Program; raises the first DamosError.  With ``errors``,
    every statement is lowered on its own and every error is added there
    instead (then the Program holds only the statements that have none);
    the statements whose indices are in ``bad`` (a syntax error) are left out."""
    monitor = None
    monitors = 0
    targets, schemes = [], []
    names = {}
    for i, st in enumerate(statements):
        if bad and i in bad:
            continue
        try:
            if st.kind == "legacy":
                schemes.append(lower_legacy_line(st))
            elif st.kind == "scheme":
                try:
                    sc = _scheme(st)
                except DamosError as e:
                    sc = e
                if st.name is not None:
                    name = st.name.value
                    if name in names:
                        dup = DamosError(f"scheme {name!r} is already defined on line "
                                         f"{names[name]}", st.name.loc)
                        raise dup if type(sc) is Scheme else DamosErrors(
                            [*getattr(sc, "errors", (sc,)), dup])
                    names[name] = st.loc.line
                if type(sc) is not Scheme:
                    raise sc
                schemes.append(sc)
            elif st.kind == "monitor":
                monitors += 1
                if monitors > 1:
                    raise DamosError("only one monitor block is allowed", st.loc)
                monitor = _monitor(st)
            elif st.kind == "target":
                targets.append(_target(st))
        except DamosError as e:
            if errors is None:
                raise getattr(e, "errors", (e,))[0] from None
            errors.extend(getattr(e, "errors", (e,)))
    return Program(monitor, tuple(targets), tuple(schemes))
