"""Legacy one-line schemes: damo's 7, 9, 12, 17 and 18-field format.

A field we accept means what it means to damo 3.4.3 (the conversions are
damo's).  Where damo would read a field we refuse -- Python number syntax
(1e3, 1_000, +26, Unicode digits), a frequency above 100 %, a word it passes
on to the kernel, ``max`` where the kernel value would be absurd -- the
error says how damo reads it and why we do not.  README.md ("Legacy one-line
schemes") lists every difference; tests run each against damo."""
from __future__ import annotations

from .damo_fields import (FIELD_WORDS, FIELD_KINDS, LEGACY_FIELD_COUNTS, damo_reading,
                          passed_on)
from .errors import DamosError, Loc, did_you_mean, shorten
from .ir import ACTIONS, WMARK_METRICS, AccessPattern, Quota, Range, Scheme, Watermarks, Weights
from .parser import Atom, RangeNode, Statement
from .units import ULONG_MAX, damo_read, split_quantity
from .values import error_at, read_count, read_percent, read_size, read_time, read_word

# `max` where damo's value would make the kernel do something absurd: why, and what to write
_ABSURD_MAX = {
    "quota time": ("ms", "the kernel multiplies the time quota by the measured throughput, which "
                         "overflows", "for no time limit write 0"),
    "quota reset interval": ("ms", "the quota would never be reset: once used up, the scheme "
                                   "would not act again", "write an interval, like 1s"),
    "watermark interval": ("us", "once the watermarks deactivate the scheme, DAMON would sleep "
                                 "that long before checking them again",
                           "write an interval, like 5s"),
}


def lower_legacy_line(st: Statement) -> Scheme:
    """A legacy one-line scheme statement -> its Scheme."""
    vals = st.values
    n = len(vals)
    for v in vals:
        if isinstance(v, RangeNode):
            raise error_at(v, "a legacy one-line scheme has no ranges; write min and max as two "
                                 "fields")
    if n not in LEGACY_FIELD_COUNTS:
        raise _field_count_error(vals)
    for i, v in enumerate(vals):
        _check_damo_field(v, FIELD_KINDS[n][i])

    def span(a, b):
        return Loc(a.loc.line, a.loc.col, b.loc.end_col)

    size = Range(read_size(vals[0], "min size"), read_size(vals[1], "max size"), "",
                 span(vals[0], vals[1]))
    freq = Range(_percent(vals[2], "min access frequency"),
                 _percent(vals[3], "max access frequency"), "",
                 span(vals[2], vals[3]))
    age = Range(read_time(vals[4], "min age", bare_ok=True, allow_kw=True),
                read_time(vals[5], "max age", bare_ok=True, allow_kw=True), "",
                span(vals[4], vals[5]))
    action, action_loc = _word(vals[6], ACTIONS, "action")
    quota = wm = None
    rest = vals[7:]
    q_time = None
    if n == 18:
        q_time = _time_or_min(rest[0], "quota time")
        rest = rest[1:]
    if n >= 9:
        q_size = read_size(rest[0], "quota size")          # damo: min is 0, max ULONG_MAX
        q_reset = _time_or_min(rest[1], "quota reset interval")
        weights = None
        if n >= 12:
            weights = Weights(*(read_count(rest[i], "weight", allow_kw=False) for i in (2, 3, 4)))
        quota = Quota(q_time, q_size, q_reset, weights)
    if n >= 17:
        metric, _ = _word(rest[5], WMARK_METRICS, "watermark metric")
        # the location of the watermark fields, from the metric to low
        wm = Watermarks(metric, _time_or_min(rest[6], "watermark interval"),
                        *(read_count(rest[i], "watermark", allow_kw=False) for i in (7, 8, 9)),
                        loc=span(rest[5], rest[9]))
    return Scheme(action=action, pattern=AccessPattern(size, freq, age), quota=quota,
                  watermarks=wm, legacy_fields=n, loc=st.loc, action_loc=action_loc)


def _field_count_error(vals) -> DamosError:
    n = len(vals)
    # the caret goes under the first field past the last complete variant
    if n < LEGACY_FIELD_COUNTS[0]:
        last = vals[-1]
        return DamosError(f"a legacy scheme line has 7, 9, 12, 17 or 18 fields, this one has "
                          f"{n}; the action and more are missing",
                          Loc(last.loc.line, last.loc.end_col or last.loc.col),
                          hint="min_sz max_sz min_freq max_freq min_age max_age action")
    complete = max(c for c in LEGACY_FIELD_COUNTS if c <= n)
    first, last = vals[complete], vals[-1]
    loc = Loc(first.loc.line, first.loc.col,
              last.loc.end_col if last.loc.line == first.loc.line else None)
    nxt = min((c for c in LEGACY_FIELD_COUNTS if c > n), default=None)
    extra = f"; {complete} fields make a complete scheme"
    if nxt:
        extra += f", {nxt} need {nxt - n} more"
    return DamosError(f"a legacy scheme line has 7, 9, 12, 17 or 18 fields, this one has {n}"
                      + extra, loc,
                      hint="min_sz max_sz min_freq max_freq min_age max_age action [quotas] "
                           "[weights] [watermarks]")


def _check_damo_field(atom: Atom, kind: str) -> None:
    """Refuse, saying how damo reads it, a field damo reads otherwise than we would."""
    if atom.kind == "STRING":
        raise error_at(atom, f"a legacy field is never quoted: damo reads the quotes as part of "
                             f"it ({shorten(atom.text)}); write {shorten(atom.value)}")
    if atom.kind != "QTY" or kind in FIELD_WORDS:
        return
    try:
        number, unit = split_quantity(atom.text)
    except ValueError:                      # 1e3, 1_000: not a number to us
        reading = damo_reading(kind, atom.text)
        if reading is not None:
            raise error_at(atom, f"malformed number {shorten(atom.text)!r}: {reading}") from None
        return                              # read_* says what is wrong
    # a plain number damo writes as it is (ages and frequencies it converts first)
    # (longer ones than 21 digits are values.py's "too large")
    if kind in ("bytes", "ms", "int") and not unit and not number.startswith("0x") \
            and "." not in number and 20 <= len(number) <= 21 and int(number) > ULONG_MAX:
        raise error_at(atom, f"{shorten(atom.text)} is above {ULONG_MAX}, the largest kernel "
                             f"value: damo passes it on as it is, and the kernel's sysfs "
                             f"refuses it", "write max")


def _percent(atom, what: str):
    """A frequency, 0 to 100 %: damo takes more, which no region reaches."""
    if isinstance(atom, Atom) and atom.kind == "QTY":
        try:
            number, unit = split_quantity(atom.text)
        except ValueError:
            number = unit = None
        if unit in ("", "%") and number is not None and not number.startswith("0x") \
                and float(number) > 100:
            value = damo_read("percent", atom.text)
            raise error_at(atom, f"{what} {shorten(atom.text)} is above 100 %: damo reads it "
                                 f"as {value} %, more than any region's frequency (a min above "
                                 f"100 % matches nothing)",
                           "write at most 100% (or max, for no upper bound)")
    return read_percent(atom, what, bare_ok=True)


def _time_or_min(atom, what: str):
    """A time where damo takes min (0) and max (ULONG_MAX); max is refused
    where the kernel would make an absurd use of it."""
    if isinstance(atom, Atom) and atom.kind == "WORD" and atom.text == "max":
        unit, why, write = _ABSURD_MAX[what]
        raise error_at(atom, f"{what} 'max': damo reads it as {ULONG_MAX} {unit}, and {why}",
                       write)
    return read_time(atom, what, bare_ok=True, allow_kw=True)


def _passed_on(what: str) -> str:
    return f"damo passes any word on to the kernel, which refuses an unknown {what}"


def _word(atom, choices, what: str):
    """An action or a metric; damo lower-cases any word and passes it on."""
    word = atom.text.lower() if isinstance(atom, Atom) else None
    if word is not None and word not in choices:
        raise error_at(atom, did_you_mean(atom.text, choices, what), passed_on(what))
    return read_word(atom, choices, what)
