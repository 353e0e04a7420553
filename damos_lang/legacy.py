"""Legacy one-line schemes: damo's 7, 9, 12, 17 and 18-field format."""
from __future__ import annotations

from .errors import DamosError, Loc
from .ir import ACTIONS, WMARK_METRICS, AccessPattern, Quota, Range, Scheme, Watermarks, Weights
from .parser import RangeNode, Statement
from .values import error_at, read_count, read_percent, read_size, read_time, read_word

LEGACY_FIELD_COUNTS = (7, 9, 12, 17, 18)


def lower_legacy_line(st: Statement) -> Scheme:
    """A legacy one-line scheme statement -> its Scheme."""
    vals = st.values
    n = len(vals)
    for v in vals:
        if isinstance(v, RangeNode):
            raise error_at(v, "a legacy one-line scheme has no ranges; write min and max as two "
                                 "fields")
    if n not in LEGACY_FIELD_COUNTS:
        # the caret goes under the first field past the last complete variant
        if n < LEGACY_FIELD_COUNTS[0]:
            last = vals[-1]
            raise DamosError(f"a legacy scheme line has 7, 9, 12, 17 or 18 fields, this one has "
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
        raise DamosError(f"a legacy scheme line has 7, 9, 12, 17 or 18 fields, this one has {n}"
                         + extra, loc,
                         hint="min_sz max_sz min_freq max_freq min_age max_age action [quotas] "
                              "[weights] [watermarks]")
    def span(a, b):
        return Loc(a.loc.line, a.loc.col, b.loc.end_col)

    size = Range(read_size(vals[0], "min size"), read_size(vals[1], "max size"), "",
                 span(vals[0], vals[1]))
    freq = Range(read_percent(vals[2], "min access frequency", bare_ok=True),
                 read_percent(vals[3], "max access frequency", bare_ok=True), "",
                 span(vals[2], vals[3]))
    age = Range(read_time(vals[4], "min age", bare_ok=True, allow_kw=True),
                read_time(vals[5], "max age", bare_ok=True, allow_kw=True), "",
                span(vals[4], vals[5]))
    action, action_loc = read_word(vals[6], ACTIONS, "action")
    quota = wm = None
    rest = vals[7:]
    q_time = None
    if n == 18:
        q_time = read_time(rest[0], "quota time", bare_ok=True)
        rest = rest[1:]
    if n >= 9:
        q_size = read_size(rest[0], "quota size", allow_kw=False)
        q_reset = read_time(rest[1], "quota reset interval", bare_ok=True)
        weights = None
        if n >= 12:
            weights = Weights(*(read_count(rest[i], "weight", allow_kw=False) for i in (2, 3, 4)))
        quota = Quota(q_time, q_size, q_reset, weights)
    if n >= 17:
        metric, _ = read_word(rest[5], WMARK_METRICS, "watermark metric")
        wm = Watermarks(metric, read_time(rest[6], "watermark interval", bare_ok=True),
                        *(read_count(rest[i], "watermark", allow_kw=False) for i in (7, 8, 9)))
    return Scheme(action=action, pattern=AccessPattern(size, freq, age), quota=quota,
                  watermarks=wm, legacy_fields=n, loc=st.loc, action_loc=action_loc)
