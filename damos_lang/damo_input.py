"""damo's JSON as input: ``parse_damo_json(text) -> Program``.

Accepts damo 3.4.3's kdamonds JSON (``{"kdamonds": [{"contexts": [...]}]}``,
one kdamond with one context: its monitoring attributes, targets and
schemes) or a plain list of schemes (``damo -c``).  Values may be numbers
or damo's human strings (``"4K"``, ``"5 s"``, ``"1 m 30 s"``, ``"10 %"``,
``"max"``, ``"N samples"``, ``"N aggr_intervals"``); keys damo ignores are
ignored; defaults are damo's.

Each value becomes the IR :class:`~damos_lang.ir.Value` whose kernel
conversion (:mod:`damos_lang.convert`) gives exactly the number damo would
write: where the user's unit converts the same way it is kept (``"4K"``
stays 4K), otherwise the value is given in the field's kernel unit
(``bp``, ``permil``, ``us``, ...).  Each candidate is checked against
damo's own arithmetic (``_damo_fmt_str``), reproduced here.

Errors are DamosError with the JSON path of the bad key in
``diagnostic.path``, rendered as ``FILE:kdamonds[0].contexts[0].schemes[1].action:
error: unknown action 'pagout'; did you mean 'pageout'?``; invalid JSON
gives line:col.
"""
from __future__ import annotations

import json
from dataclasses import replace
import math
import re
from decimal import Decimal

from . import catalog
from .errors import DamosError, Loc, did_you_mean
from .ir import (ACTIONS, FILTER_TYPES, GOAL_METRICS, GOAL_TUNERS, OPS, WMARK_METRICS,
                 AccessPattern, AddrRange, Dest, Filter, Goal, IntervalsGoal, Monitor, Probe,
                 ProbeFilter, Program, Quota, Range, Scheme, Target, Value, Watermarks, Weights)
from .convert import intervals_of, percent_of, size_bytes, time_ms, time_us
from .units import AGGR_INTERVALS, SAMPLES, SIZE_UNITS, TIME_UNITS_NS, UINT_MAX, ULONG_MAX, \
    canonical_number

PROBE_FILTER_TYPES = tuple(catalog.PROBE_FILTER_TYPES)

# damo's goal metrics whose values are bp ("10 %" allowed); others are plain
BP_GOAL_METRICS = ("node_mem_used_bp", "node_mem_free_bp", "node_memcg_used_bp",
                   "node_memcg_free_bp", "active_mem_bp", "inactive_mem_bp")

# The language front end's rules hold for damo JSON too, checked here at read
# time with the JSON path, so that nothing downstream sees a program the
# DAMOS source could not express:
MAX_NUMBER = 1e21        # values.MAX_NUMBER: larger numbers are "too large"
MAX_DIGITS = 30          # longer digit strings are not converted at all (CPython
#                          refuses int() of more than 4,300 digits)
MIN_INTERVAL_US = 1      # lower._interval: sampling and aggregation intervals
MAX_PERCENT = 100        # values.read_percent: a percent above 100 is refused


class _HugeInt(float):
    """A JSON integer too long to convert: kept as its digit count until a
    reader meets it and refuses it with the JSON path."""

    def __new__(cls, text: str):
        self = super().__new__(cls, "-inf" if text.startswith("-") else "inf")
        self.digits = len(text.lstrip("-"))
        return self


def _parse_int(text: str):
    if len(text.lstrip("-").lstrip("0")) > MAX_DIGITS:
        return _HugeInt(text)
    return int(text)


def _show(x) -> str:
    """A JSON value for a message, cut to a readable length."""
    if isinstance(x, _HugeInt):
        return f"<a number of {x.digits} digits>"
    try:
        text = json.dumps(x)
    except (TypeError, ValueError):
        text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


class _Bad(Exception):
    """A bad value; the caller adds the path."""


def _err(path: str, msg: str) -> DamosError:
    """The path goes into the diagnostic (rendered ``file:PATH: error: msg``)."""
    return DamosError(msg, path=path)


# -- damo's number readers (_damo_fmt_str), on JSON values -----------------

def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _too_large(x) -> _Bad:
    return _Bad(f"number {_show(x)} is too large (the largest kernel value is {ULONG_MAX})")


def _nr(x):
    """text_to_nr: int or float, within the front end's limits (not
    negative, at most MAX_NUMBER)."""
    if isinstance(x, _HugeInt):
        raise _too_large(x)
    if _is_num(x):
        if isinstance(x, float) and math.isinf(x):
            raise _too_large(x)
        if isinstance(x, float) and not math.isfinite(x):
            raise _Bad(f"{_show(x)} is not a number")
        n = x
    elif not isinstance(x, str):
        raise _Bad(f"expected a number or a string, got {_show(x)}")
    elif x == "max":
        return ULONG_MAX
    else:
        t = x.replace(",", "").strip()
        if re.fullmatch(r"[0-9]+", t):
            if len(t.lstrip("0")) > MAX_DIGITS:
                raise _too_large(x)
            n = int(t)
        elif re.fullmatch(r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.", t):
            n = float(t)
            if not math.isfinite(n):
                raise _too_large(x)
        else:
            raise _Bad(f"{_show(x)} is not a number")
    if n < 0:
        raise _Bad(f"{_show(x)} is negative; values are 0 or more")
    if n > MAX_NUMBER:
        raise _too_large(x)
    return n


def _text(n) -> str:
    """Canonical decimal text of an int or float, as Value.number wants it."""
    if isinstance(n, int):
        return str(n)
    s = format(Decimal(repr(float(n))), "f")
    return canonical_number(s)


_QTY = re.compile(r"\s*([0-9][0-9,]*(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z%]*)\s*")


def _split(x: str):
    m = _QTY.fullmatch(x)
    if not m:
        raise _Bad(f"cannot read {_show(x)}")
    return _nr(m.group(1)), m.group(2)


def _first(candidates, check):
    for v in candidates:
        try:
            if check(v):
                return v
        except (ValueError, OverflowError, KeyError):
            pass
    return None


def read_size(x) -> Value:
    """text_to_bytes."""
    if x == "min":
        return Value.kw("min")
    if x == "max":
        return Value.kw("max")
    if _is_num(x):
        n, unit = _nr(x), "B"
    else:
        if not isinstance(x, str):
            raise _Bad(f"expected a size, got {_show(x)}")
        n, unit = _split(x)
        unit = unit or "B"
        if unit not in SIZE_UNITS:
            raise _Bad(f"unknown size unit {unit!r} in {_show(x)} (units: B K M G T P E, also "
                       "KB/KiB ...; case-sensitive)")
    want = min(ULONG_MAX, int(n * SIZE_UNITS[unit]))
    cands = [Value(_text(n), "" if unit == "B" else unit), Value(str(want))]
    return _first(cands, lambda v: size_bytes(v) == want)


def _ns(x):
    """text_to_ns of a string (several tokens add up)."""
    fields = x.split()
    if len(fields) > 1:
        total = 0
        for i in range(0, len(fields), 2):
            total += _ns("".join(fields[i:i + 2]))
        return total
    n, unit = _split(x)
    if not unit:
        return float(n)
    if unit not in TIME_UNITS_NS:
        raise _Bad(f"unknown time unit {unit!r} in {_show(x)} (units: ns us ms s m h d)")
    return n * TIME_UNITS_NS[unit]


def read_time(x, bare: str = "us", keywords=False) -> Value:
    """text_to_us (bare="us") or text_to_ms (bare="ms") as a Value that
    kernel.time_us / time_ms turn into damo's number."""
    if x in ("min", "max"):
        if keywords:
            return Value.kw(x)
        x = 0 if x == "min" else ULONG_MAX
    if isinstance(x, str) and re.fullmatch(r"\s*[0-9.,]+\s*", x):
        x = _nr(x)
    if _is_num(x):
        n = _nr(x)
        cands = [Value(_text(n), bare)]
        if bare == "ms":
            want = min(ULONG_MAX, int(n))
            return _first(cands + [Value(str(want))], lambda v: time_ms(v) == want)
        want = n
        return _first(cands + [Value(_text(n))], lambda v: time_us(v) == want)
    if not isinstance(x, str):
        raise _Bad(f"expected a time, got {_show(x)}")
    ns = _ns(x)
    us = ns / 1000
    one = _QTY.fullmatch(x)
    cands = []
    if one and one.group(2) in TIME_UNITS_NS:
        cands.append(Value(_text(_nr(one.group(1))), one.group(2)))
    cands.append(Value(_text(ns), "ns"))
    if bare == "ms":
        want = min(ULONG_MAX, int(us / 1000))
        return _first(cands + [Value(str(want))], lambda v: time_ms(v) == want)
    return _first(cands + [Value(_text(us))], lambda v: time_us(v) == us)


def _ratio(x):
    """text_to_ratio: (number, was_percent)."""
    if _is_num(x):
        return _nr(x), False
    if not isinstance(x, str):
        raise _Bad(f"expected a number or a percent, got {_show(x)}")
    t = x.strip()
    if t.endswith("%"):
        return _nr(t[:-1]), True
    return _nr(t), False


def _scaled(x, scale: int, limit: bool = False):
    """text_to_permil (1000) / text_to_bp (10000): damo's value, int or float.
    A plain number is taken as it is; ``N%`` is scaled.  With ``limit``, a
    percent above 100 is refused (the language's limit for bp goals)."""
    if x in ("min", "max"):
        return 0 if x == "min" else ULONG_MAX
    n, pct = _ratio(x)
    if pct and limit:
        _at_most_100(n, x)
    return n / 100.0 * scale if pct else n


def _at_most_100(n, x) -> None:
    if n > MAX_PERCENT:
        raise _Bad(f"{_show(x)} is above {MAX_PERCENT}%")


def _access_percent(x, ratio: float) -> Value:
    """nr_accesses in damo's percent, at most 100 (as in DAMOS source)."""
    if x not in ("min", "max"):
        _at_most_100(_ratio(x)[0], x)
    return read_percent(x, ratio)


def read_permil(x) -> Value:
    """A permil field damo writes with '%d'."""
    return Value(str(int(_scaled(x, 1000))), "permil")


def read_percent(x, ratio: float = 20.0) -> Value:
    """nr_accesses in percent (text_to_percent).  ``ratio`` is the context's
    aggr/sample: a value that keeps the % unit (block syntax needs one) is
    taken when it gives damo's number of samples at those intervals."""
    if x in ("min", "max"):
        return Value.kw(x)
    n, pct = _ratio(x)
    want = n / 100.0 * 100 if pct else n
    cand = Value(_text(n), "%")
    try:
        if percent_of(cand) == want or int(percent_of(cand) * ratio / 100) == int(
                want * ratio / 100):
            return cand
    except (ValueError, OverflowError):
        pass
    return Value(_text(n))     # a bare number: damo's percent, as in legacy lines


# -- JSON walking -----------------------------------------------------------

def _obj(x, path, what):
    if not isinstance(x, dict):
        raise _err(path or "(top)", f"expected a JSON object ({what}), got {_kind(x)}")
    return x


def _list(x, path, what):
    if not isinstance(x, list):
        raise _err(path, f"expected a JSON list ({what}), got {_kind(x)}")
    return x


def _kind(x) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(x), "a number")


def _req(d, key, path):
    if key not in d:
        where = path or "(top)"
        raise _err(where, f"missing key {key!r}")
    return d[key]


def _val(fn, x, path, *a, **kw):
    try:
        return fn(x, *a, **kw)
    except _Bad as e:
        raise _err(path, str(e)) from None
    except (ValueError, OverflowError, TypeError, ArithmeticError) as e:
        raise _err(path, f"bad value {_show(x)} ({e})") from None


def _int(x, path, what="a whole number", minimum=0) -> int:
    def f(x):
        n = _nr(x)
        if isinstance(n, float):
            if not n.is_integer():
                raise _Bad(f"{what} must be whole, got {_show(x)}")
            n = int(n)
        if n < minimum:
            raise _Bad(f"{what} must be at least {minimum}")
        return n
    return _val(f, x, path)


def _bool(x, path) -> bool:
    if isinstance(x, bool):
        return x
    if isinstance(x, str) and x.lower() in ("y", "yes", "true", "n", "no", "false"):
        return x.lower() in ("y", "yes", "true")
    raise _err(path, f"expected true or false, got {_show(x)}")


def _word(x, choices, what, path) -> str:
    if not isinstance(x, str):
        raise _err(path, f"expected a string ({what}), got {_kind(x)}")
    if x not in choices:
        raise _err(path, did_you_mean(x, choices, what))
    return x


def _access_pattern(d, path, ratio: float) -> AccessPattern:
    d = _obj(d, path, "access_pattern")
    sp = f"{path}.sz_bytes"
    sz = _obj(_req(d, "sz_bytes", path), sp, "sz_bytes")
    size = Range(_val(read_size, _req(sz, "min", sp), f"{sp}.min"),
                 _val(read_size, _req(sz, "max", sp), f"{sp}.max"))
    access = _unit_range(_req(d, "nr_accesses", path), f"{path}.nr_accesses",
                         lambda x: _access_percent(x, ratio), {SAMPLES: None, "percent": "percent"}, SAMPLES)
    age = _unit_range(_req(d, "age", path), f"{path}.age",
                      lambda x: read_time(x, keywords=True),
                      {AGGR_INTERVALS: None, "usec": "usec"}, AGGR_INTERVALS)
    return AccessPattern(size, access, age)


def _unit_range(r, path, reader, units, kernel_unit) -> Range:
    r = _obj(r, path, "min and max")
    lo, hi = _req(r, "min", path), _req(r, "max", path)
    with_unit = [isinstance(x, str) and len(x.split()) == 2 and x.split()[1] in units
                 for x in (lo, hi)]
    if not any(with_unit):
        return Range(_val(reader, lo, f"{path}.min"), _val(reader, hi, f"{path}.max"))
    if not all(with_unit) or lo.split()[1] != hi.split()[1]:
        raise _err(path, f"min and max must use the same unit ({' or '.join(units)}), "
                         f"got {_show(lo)} and {_show(hi)}")
    unit = lo.split()[1]
    if unit == kernel_unit:
        vals = [Value(str(_int(x.split()[0], f"{path}.{k}", f"{unit} count")))
                for x, k in ((lo, "min"), (hi, "max"))]
        return Range(vals[0], vals[1], kernel_unit)
    # "N percent" / "N usec": the number in damo's default unit
    return Range(_val(reader, lo.split()[0] if unit == "percent" else _nr(lo.split()[0]),
                      f"{path}.min"),
                 _val(reader, hi.split()[0] if unit == "percent" else _nr(hi.split()[0]),
                      f"{path}.max"))


def _goal(g, path) -> Goal:
    g = _obj(g, path, "quota goal")
    if "target_value_bp" in g:     # damo's legacy form: a user_input goal
        metric = "user_input"
        target, current = _req(g, "target_value_bp", path), g.get("current_value_bp", 0)
    else:
        metric = _word(_req(g, "metric", path), GOAL_METRICS, "goal metric", f"{path}.metric")
        target, current = _req(g, "target_value", path), _req(g, "current_value", path)
    if _bool(g.get("complement", False), f"{path}.complement"):
        raise _err(f"{path}.complement", "complement goals are not supported")

    def value(x, p):
        if metric == "some_mem_psi_us":
            us = _val(lambda x: time_us(read_time(x)), x, p)
            return Value(str(int(us)), "us")
        if metric in BP_GOAL_METRICS:
            return Value(str(int(_val(_scaled, x, p, 10000, limit=True))), "bp")
        n = _val(_nr, x, p)
        return Value(str(int(n)), "" if metric == "user_input" else "bp")

    tv = value(target, f"{path}.target_value")
    cur_n = int(_val(_nr, current, f"{path}.current_value"))
    cur = None
    if cur_n:
        cur = Value(str(cur_n), {"some_mem_psi_us": "us", "user_input": ""}.get(metric, "bp"))
    nid = g.get("nid")
    nid = None if nid is None else _int(nid, f"{path}.nid", "nid")
    mp = g.get("memcg_path")
    if mp is not None and not isinstance(mp, str):
        raise _err(f"{path}.memcg_path", "expected a string")
    return Goal(metric, tv, cur, nid, mp)


def _quota(q, path) -> Quota | None:
    q = _obj(q, path, "quotas")
    time = _val(read_time, _req(q, "time_ms", path), f"{path}.time_ms", "ms")
    size = _val(read_size, _req(q, "sz_bytes", path), f"{path}.sz_bytes")
    reset = _val(read_time, _req(q, "reset_interval_ms", path), f"{path}.reset_interval_ms", "ms")
    wp = f"{path}.weights"
    w = _obj(_req(q, "weights", path), wp, "weights")
    weights = Weights(*(Value(str(int(_val(_scaled, _req(w, k, wp), f"{wp}.{k}", 1000))))
                        for k in ("sz_permil", "nr_accesses_permil", "age_permil")))
    goals = tuple(_goal(g, f"{path}.goals[{i}]")
                  for i, g in enumerate(_list(q.get("goals", []), f"{path}.goals", "goals")))
    tuner = None
    if "goal_tuner" in q and q["goal_tuner"] is not None:
        tuner = _word(q["goal_tuner"], GOAL_TUNERS, "goal tuner", f"{path}.goal_tuner")
    if size.keyword:     # the language takes a number here; damo reads min/max as 0/ULONG_MAX
        size = Value(str(size_bytes(size)))
    fail_charge = None
    num_ = _int(q.get("fail_charge_num", 0) or 0, f"{path}.fail_charge_num", "fail_charge_num")
    denom = _int(q.get("fail_charge_denom", 0) or 0, f"{path}.fail_charge_denom",
                 "fail_charge_denom")
    if denom:
        fail_charge = (num_, denom)
    quota = Quota(time, size, reset, weights, goals, tuner, fail_charge)
    # everything at the kernel's defaults: no quota at all
    if (time_ms(time) == 0 and size_bytes(size) == 0 and time_ms(reset) == 0
            and all(int(x.number) == 0 for x in (weights.size, weights.access, weights.age))
            and not goals and tuner is None and fail_charge is None):
        return None
    return quota


def _watermarks(w, path) -> Watermarks | None:
    w = _obj(w, path, "watermarks")
    metric = _word(_req(w, "metric", path), WMARK_METRICS, "watermark metric", f"{path}.metric")
    interval = _val(read_time, _req(w, "interval_us", path), f"{path}.interval_us")
    marks = [_val(read_permil, _req(w, k, path), f"{path}.{k}")
             for k in ("high_permil", "mid_permil", "low_permil")]
    if metric == "none" and time_us(interval) == 0 and all(m.number == "0" for m in marks):
        return None
    return Watermarks(metric, interval, *marks)


def _address(x, path) -> Value:
    """An address is a number in the language ('min'/'max' are refused
    there); damo reads them as 0 and ULONG_MAX, so they become those numbers."""
    v = _val(read_size, x, path)
    return Value(str(size_bytes(v))) if v.keyword else v


def _filter(f, path) -> Filter:
    f = _obj(f, path, "filter")
    ftype = _word(_req(f, "filter_type", path), FILTER_TYPES, "filter type",
                  f"{path}.filter_type")
    matching = _bool(_req(f, "matching", path), f"{path}.matching")
    allow = _bool(f.get("allow", f.get("filter_pass", False)), f"{path}.allow")
    kw = {}
    arg = catalog.FILTER_TYPES[ftype].arg
    if arg is catalog.ARG_PATH:
        mp = _req(f, "memcg_path", path)
        if not isinstance(mp, str):
            raise _err(f"{path}.memcg_path", "expected a string")
        kw["memcg_path"] = mp
    elif arg is catalog.ARG_ADDR_RANGE:
        ap = f"{path}.address_range"
        a = _obj(_req(f, "address_range", path), ap, "address_range")
        kw["addr"] = Range(_address(_req(a, "start", ap), f"{ap}.start"),
                           _address(_req(a, "end", ap), f"{ap}.end"))
    elif arg is catalog.ARG_INDEX:
        kw["target_idx"] = _int(_req(f, "damon_target_idx", path), f"{path}.damon_target_idx")
    elif arg is catalog.ARG_SIZE_RANGE:
        hp = f"{path}.hugepage_size"
        h = _list(_req(f, "hugepage_size", path), hp, "[min, max]")
        if len(h) != 2:
            raise _err(hp, "expected [min, max]")
        kw["hugepage"] = Range(_val(read_size, h[0], f"{hp}[0]"),
                               _val(read_size, h[1], f"{hp}[1]"))
    return Filter(allow=allow, type=ftype, matching=matching, **kw)


def _scheme(s, path, ratio: float = 20.0) -> Scheme:
    s = _obj(s, path, "scheme")
    action = _word(s.get("action", "stat"), ACTIONS, "action", f"{path}.action")
    pattern = (_access_pattern(s["access_pattern"], f"{path}.access_pattern", ratio)
               if "access_pattern" in s else AccessPattern())
    target_nid = s.get("target_nid")
    if target_nid is not None:
        target_nid = _int(target_nid, f"{path}.target_nid", "target_nid")
    dests = []
    for i, d in enumerate(_list(s.get("dests", []), f"{path}.dests", "dests")):
        dp = f"{path}.dests[{i}]"
        d = _obj(d, dp, "dest")
        dests.append(Dest(_int(_req(d, "id", dp), f"{dp}.id", "id"),
                          _int(_req(d, "weight", dp), f"{dp}.weight", "weight")))
    apply_interval = None
    if s.get("apply_interval_us") is not None:
        apply_interval = _val(read_time, s["apply_interval_us"], f"{path}.apply_interval_us")
        if time_us(apply_interval) == 0:
            apply_interval = None
    quota = _quota(s["quotas"], f"{path}.quotas") if "quotas" in s else None
    wm = _watermarks(s["watermarks"], f"{path}.watermarks") if "watermarks" in s else None
    filters = tuple(_filter(f, f"{path}.filters[{i}]")
                    for i, f in enumerate(_list(s.get("filters", []), f"{path}.filters",
                                                "filters")))
    return Scheme(action=action, pattern=pattern, apply_interval=apply_interval, quota=quota,
                  watermarks=wm, filters=filters, target_nid=target_nid, dests=tuple(dests))


def _schemes(lst, path, ratio: float = 20.0, errors: list | None = None) -> tuple[Scheme, ...]:
    return _each(_list(lst, path or "(top)", "schemes"),
                 lambda i, s: _scheme(s, f"{path}[{i}]", ratio), errors)


def _each(items, read, errors: list | None) -> tuple:
    """``read(i, item)`` of each item; with ``errors``, an item's DamosError is
    added there and the next item read (each scheme or target reports its
    first bad field)."""
    out = []
    for i, x in enumerate(items):
        try:
            out.append(read(i, x))
        except DamosError as e:
            if errors is None:
                raise
            errors.append(e)
    return tuple(out)


def _interval(x, path, what) -> Value:
    """An interval the conversion divides by: at least 1 us (lower._interval)."""
    v = _val(read_time, x, path)
    if _val(lambda v: int(time_us(v)), v, path) < MIN_INTERVAL_US:
        raise _err(path, f"the {what} must be at least {MIN_INTERVAL_US}us, got {_show(x)}")
    return v


def _monitor(c, path, ops) -> Monitor:
    sample = aggr = update = None
    goal = None
    if "intervals" in c:
        ip = f"{path}.intervals"
        iv = _obj(c["intervals"], ip, "intervals")
        sample = _interval(_req(iv, "sample_us", ip), f"{ip}.sample_us", "sampling interval")
        aggr = _interval(_req(iv, "aggr_us", ip), f"{ip}.aggr_us", "aggregation interval")
        update = _val(read_time, _req(iv, "ops_update_us", ip), f"{ip}.ops_update_us")
        if "intervals_goal" in iv:
            gp = f"{ip}.intervals_goal"
            g = _obj(iv["intervals_goal"], gp, "intervals_goal")
            aggrs = _int(_req(g, "aggrs", gp), f"{gp}.aggrs", "aggrs")

            def us(key):
                return Value(str(int(_val(lambda x: time_us(read_time(x)), _req(g, key, gp),
                                          f"{gp}.{key}"))), "us")
            access = Value(str(int(_val(_scaled, _req(g, "access_bp", gp), f"{gp}.access_bp",
                                        10000, limit=True))), "bp")
            goal = IntervalsGoal(access, aggrs, us("min_sample_us"), us("max_sample_us"))
            if (aggrs, access.number, goal.min_sample.number, goal.max_sample.number) == (
                    0, "0", "0", "0"):
                goal = None     # damo's default: no tuning, the kernel's defaults
    nr_regions = None
    if "nr_regions" in c:
        rp = f"{path}.nr_regions"
        r = _obj(c["nr_regions"], rp, "nr_regions")
        nr_regions = (_int(_req(r, "min", rp), f"{rp}.min", "min nr_regions"),
                      _int(_req(r, "max", rp), f"{rp}.max", "max nr_regions"))
    ctx_kw = {}
    if c.get("addr_unit") is not None:
        ap = f"{path}.addr_unit"
        unit = _val(read_size, c["addr_unit"], ap)
        n = _val(size_bytes, unit, ap)
        if n != 1:     # damo's default is 1: the same as leaving it out
            if n < 1:
                raise _err(ap, "addr_unit must be at least 1 (the kernel refuses 0)")
            if ops != "paddr":
                raise _err(ap, "addr_unit applies to physical memory only (ops paddr)")
            ctx_kw["addr_unit"] = unit
    if c.get("pause") is not None and _bool(c["pause"], f"{path}.pause"):
        ctx_kw["pause"] = True
    probes = _list(c.get("probes") or [], f"{path}.probes", "probes")
    if probes:
        ctx_kw["probes"] = tuple(_probe(p, f"{path}.probes[{i}]") for i, p in enumerate(probes))
    return Monitor(ops, sample, aggr, update, nr_regions, goal, **ctx_kw)


def _probe(p, path) -> Probe:
    """damo's DamonProbe: ``filters`` (each filter_type, matching, allow, path) and
    ``weight`` (0 when null or left out, as damo reads it)."""
    p = _obj(p, path, "probe")
    filters = []
    for i, f in enumerate(_list(_req(p, "filters", path), f"{path}.filters", "filters")):
        fp = f"{path}.filters[{i}]"
        f = _obj(f, fp, "probe filter")
        ftype = _word(_req(f, "filter_type", fp), PROBE_FILTER_TYPES, "probe filter type",
                      f"{fp}.filter_type")
        matching = _bool(_req(f, "matching", fp), f"{fp}.matching")
        allow = _bool(_req(f, "allow", fp), f"{fp}.allow")
        memcg_path = None
        if catalog.PROBE_FILTER_TYPES[ftype].arg is catalog.ARG_PATH:
            memcg_path = _req(f, "path", fp)
            if not isinstance(memcg_path, str):
                raise _err(f"{fp}.path", "expected a string")
        filters.append(ProbeFilter(allow, ftype, matching, memcg_path))
    weight = p.get("weight")
    if weight is not None:
        weight = _int(weight, f"{path}.weight", "probe weight") or None
        if weight is not None and weight > UINT_MAX:
            raise _err(f"{path}.weight", f"probe weight must be at most {UINT_MAX} (the "
                       "kernel's kstrtouint: ERANGE above)")
    return Probe(None, weight, tuple(filters))


def _target(t, path) -> Target:
    t = _obj(t, path, "target")
    if t.get("obsolete") is not None and _bool(t["obsolete"], f"{path}.obsolete"):
        raise _err(f"{path}.obsolete", "an obsolete target is one to drop: leave it out of "
                   "the file ('damos update' stages the drop of a running target itself)")
    pid = _req(t, "pid", path)
    if pid is not None:
        pid = _int(pid, f"{path}.pid", "pid", minimum=1)
    regions = []
    for i, r in enumerate(_list(_req(t, "regions", path), f"{path}.regions", "regions")):
        rp = f"{path}.regions[{i}]"
        r = _obj(r, rp, "region")
        start = size_bytes(_val(read_size, _req(r, "start", rp), f"{rp}.start"))
        end = size_bytes(_val(read_size, _req(r, "end", rp), f"{rp}.end"))
        if end <= start:
            raise _err(rp, "region end must be above its start")
        regions.append(AddrRange(Value(str(start)), Value(str(end))))
    return Target(pid, tuple(regions))


def _context(c, path, errors: list | None = None) -> Program:
    c = _obj(c, path, "context")
    ops = _word(_req(c, "ops", path), OPS, "operations set", f"{path}.ops")
    targets = _each(_list(_req(c, "targets", path), f"{path}.targets", "targets"),
                    lambda i, t: _target(t, f"{path}.targets[{i}]"), errors)
    empty = [i for i, t in enumerate(targets) if t.pid is None and not t.regions]
    if empty == [0] and len(targets) == 1:
        # damo's {"pid": null, "regions": []}: the same as no target in DAMOS
        # source (the pid comes from the caller; paddr leaves the region to the kernel)
        targets = ()
    elif empty:
        e = _err(f"{path}.targets[{empty[0]}]",
                 "a target needs a pid or regions (DAMOS source has no empty target)")
        if errors is None:
            raise e
        errors.append(e)
    try:
        monitor = _monitor(c, path, ops)
    except DamosError as e:
        if errors is None:
            raise
        errors.append(e)    # the schemes' access counts are read at its intervals: not read
        return Program(None, targets, ())
    iv = intervals_of(Program(monitor))
    ratio = iv.aggr_us / iv.sample_us if iv.sample_us > 0 else 0.0
    schemes = _schemes(c.get("schemes", []), f"{path}.schemes", ratio, errors)
    return Program(monitor, targets, schemes)


def parse_damo_json(text: str, errors: list | None = None) -> Program:
    """damo's kdamonds JSON, or a list of schemes, as a Program.  With
    ``errors``, the first bad field of each scheme and target (and of the
    monitoring attributes) is added there instead of raised; an error in the
    file's structure is still raised."""
    try:
        data = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise DamosError(f"invalid JSON: {e.msg}", Loc(e.lineno, e.colno)) from None
    except RecursionError:
        raise DamosError("invalid JSON: nested too deeply") from None
    if isinstance(data, list):
        return Program(None, (), _schemes(data, "", errors=errors))
    data = _obj(data, "", "kdamonds")
    kds = _list(_req(data, "kdamonds", ""), "kdamonds", "kdamonds")
    if len(kds) != 1:
        raise _err("kdamonds", f"expected one kdamond, got {len(kds)}")
    kd = _obj(kds[0], "kdamonds[0]", "kdamond")
    ctxs = _list(_req(kd, "contexts", "kdamonds[0]"), "kdamonds[0].contexts", "contexts")
    if len(ctxs) != 1:
        raise _err("kdamonds[0].contexts", f"expected one context, got {len(ctxs)}")
    program = _context(ctxs[0], "kdamonds[0].contexts[0]", errors)
    try:
        refresh = _refresh_ms(kd)
    except DamosError as e:
        if errors is None:
            raise
        errors.append(e)
        refresh = None
    if refresh is not None:
        program = replace(program, monitor=replace(program.monitor or Monitor(),
                                                   refresh=refresh))
    return program


def _refresh_ms(kd) -> Value | None:
    """The kdamond's refresh_ms (damo's Kdamond key, a number is ms), or None for
    none (0, damo's default)."""
    if kd.get("refresh_ms") is None:
        return None
    rp = "kdamonds[0].refresh_ms"
    ms = _val(lambda x: time_ms(read_time(x, "ms")), kd["refresh_ms"], rp)
    if ms > UINT_MAX:
        raise _err(rp, f"refresh_ms must be at most {UINT_MAX} (the kernel keeps a u32)")
    return Value(str(ms), "ms") if ms else None
