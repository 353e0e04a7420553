"""``fmt``: the one canonical text of a Program.

Layout
------
* Statements come in a fixed order: the ``monitor`` block, then the
  ``target`` lines, then the schemes in their original order.
* A blank line separates top-level statements, except that consecutive
  legacy lines, and consecutive ``target`` lines, stay together as a group
  (a statement that carries leading comments always starts a new group).
* Legacy-line schemes (``Scheme.legacy_fields != 0``) stay legacy lines with
  the same field count.  The fields of one group of consecutive legacy lines
  are **aligned in columns**, by meaning: a field sits in its column of the
  18-field layout (a 9-field line leaves the 18-field line's quota-time
  column empty), each column is as wide as its widest field plus two spaces,
  trailing blanks are dropped, and trailing comments of the group start in
  one column, two spaces after the longest line.  Every value is written as
  its IR ``Value`` (number and unit as written, commas and leading zeros
  dropped, hex written in decimal).
* Block schemes, the monitor block and nested ``quota``/``watermarks``/
  ``intervals_goal`` blocks are written one setting per line with a 4-space
  indent, in a fixed order (the order of the example in the README).
  Ranges are ``lo..hi`` (always both bounds) followed by the unit word
  (``samples``, ``aggr_intervals``) when the range has one.  Names are quoted
  only when they are not a plain word; strings are quoted with ``\\\\``,
  ``\\"``, ``\\n`` and ``\\t`` escapes; memcg/goal paths are written bare when
  they lex as a path, quoted otherwise.  Target regions are written in hex.

Comments (:func:`format_source` only; the IR carries none)
----------------------------------------------------------
Every comment is kept; none is dropped silently:

* a full-line comment is attached to the element (statement, setting, or a
  block's closing ``}``) that follows it and is written on its own line(s)
  just before that element, at its indent;
* a trailing comment is attached to the last element that starts on its
  line (on ``a; b  # c`` the comment is b's) and is written after that
  element's line, two spaces away;
* full-line comments at the top of the file that are followed by a blank
  line form a header that stays first; comments after the last statement stay
  last.

Should a comment ever have nowhere to go, :func:`format_source` raises a
:class:`DamosError` naming it instead of losing it.

``format_source(format_source(x)) == format_source(x)`` for every valid x.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .catalog import (ARG_ADDR_RANGE, ARG_INDEX, ARG_PATH, ARG_SIZE_RANGE, FILTER_TYPES,
                      PROBE_FILTER_TYPES)
from .errors import DamosError, Loc
from .ir import (Filter, Goal, IntervalsGoal, Monitor, Probe, ProbeFilter, Program, Quota, Range,
                 Scheme, Target, Value, Watermarks)
from .lower import lower
from .parser import BOM, parse_nodes, tokens

INDENT = "    "
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATH = re.compile(r'/[^\s"{};#]*')

__all__ = ["format_program", "format_source"]


# -- values ----------------------------------------------------------------

def quote(s: str) -> str:
    """A STRING token whose value is ``s``."""
    return '"' + (s.replace("\\", "\\\\").replace('"', '\\"')
                  .replace("\n", "\\n").replace("\t", "\\t")) + '"'


def _name(s: str) -> str:
    return s if _WORD.fullmatch(s) else quote(s)


def _path(s: str) -> str:
    return s if _PATH.fullmatch(s) else quote(s)


def _v(v: Value) -> str:
    return v.text()


def _range(r: Range) -> str:
    text = f"{_v(r.lo)}..{_v(r.hi)}"
    return f"{text} {r.unit}" if r.unit else text


# -- rendering to keyed lines ----------------------------------------------

@dataclass
class _Line:
    depth: int
    text: str
    key: tuple
    fields: list[str] | None = None   # a legacy line's fields, for alignment


@dataclass
class _Item:
    key: tuple
    kind: str            # monitor target legacy block
    lines: list[_Line] = field(default_factory=list)


def _block(out: list, depth: int, key: tuple, header: str, body) -> None:
    out.append(_Line(depth, header + " {", key))
    body(out, depth + 1, key)
    out.append(_Line(depth, "}", key + ("}",)))


def _setting(out, depth, key, text):
    out.append(_Line(depth, text, key))


def _goal_text(g: Goal) -> str:
    parts = ["goal", g.metric, _v(g.target)]
    if g.current is not None:
        parts += ["current", _v(g.current)]
    if g.nid is not None:
        parts += ["nid", str(g.nid)]
    if g.path is not None:
        parts += ["path", _path(g.path)]
    return " ".join(parts)


def _quota_body(q: Quota):
    def body(out, depth, key):
        if q.time is not None:
            _setting(out, depth, key + ("time",), f"time {_v(q.time)}")
        if q.size is not None:
            _setting(out, depth, key + ("size",), f"size {_v(q.size)}")
        if q.reset is not None:
            _setting(out, depth, key + ("reset",), f"reset {_v(q.reset)}")
        if q.weights is not None:
            w = q.weights
            _setting(out, depth, key + ("weights",),
                     f"weights size {_v(w.size)} access {_v(w.access)} age {_v(w.age)}")
        for i, g in enumerate(q.goals):
            _setting(out, depth, key + ("goal", i), _goal_text(g))
        if q.tuner is not None:
            _setting(out, depth, key + ("tuner",), f"tuner {q.tuner}")
        if q.fail_charge is not None:
            _setting(out, depth, key + ("fail_charge",),
                     f"fail_charge num {q.fail_charge[0]} denom {q.fail_charge[1]}")
    return body


def _wmarks_body(w: Watermarks):
    def body(out, depth, key):
        _setting(out, depth, key + ("metric",), f"metric {w.metric}")
        _setting(out, depth, key + ("interval",), f"interval {_v(w.interval)}")
        for k in ("high", "mid", "low"):
            _setting(out, depth, key + (k,), f"{k} {_v(getattr(w, k))}")
    return body


def _filter_head(f) -> list:
    """``filter allow|reject [not] TYPE`` of a scheme's or a probe's filter."""
    return ["filter", "allow" if f.allow else "reject"] + ([] if f.matching else ["not"]) + [f.type]


def _filter_text(f: Filter) -> str:
    parts = _filter_head(f)
    arg = FILTER_TYPES[f.type].arg
    if arg is ARG_PATH:
        parts.append(_path(f.memcg_path or ""))
    elif arg is ARG_ADDR_RANGE:
        parts.append(_range(f.addr))
    elif arg is ARG_INDEX:
        parts.append(str(f.target_idx))
    elif arg is ARG_SIZE_RANGE:
        parts.append(_range(f.hugepage))
    return " ".join(parts)


def _scheme_body(s: Scheme):
    def body(out, depth, key):
        p = s.pattern
        _setting(out, depth, key + ("action",), f"action {s.action}")
        for k in ("size", "access", "age"):
            r = getattr(p, k)
            if r is not None:
                _setting(out, depth, key + (k,), f"{k} {_range(r)}")
        if s.apply_interval is not None:
            _setting(out, depth, key + ("apply_interval",), f"apply_interval {_v(s.apply_interval)}")
        if s.quota is not None:
            _block(out, depth, key + ("quota",), "quota", _quota_body(s.quota))
        if s.watermarks is not None:
            _block(out, depth, key + ("watermarks",), "watermarks", _wmarks_body(s.watermarks))
        for i, f in enumerate(s.filters):
            _setting(out, depth, key + ("filter", i), _filter_text(f))
        if s.target_nid is not None:
            _setting(out, depth, key + ("target_nid",), f"target_nid {s.target_nid}")
        for i, d in enumerate(s.dests):
            _setting(out, depth, key + ("dest", i), f"dest {d.nid} weight {d.weight}")
        if s.max_snapshots is not None:
            _setting(out, depth, key + ("max_snapshots",), f"max_snapshots {s.max_snapshots}")
    return body


def legacy_fields(s: Scheme) -> list[str]:
    """The fields of ``s``'s legacy line, in damo's order (ValueError when
    ``s`` holds what a line of ``s.legacy_fields`` fields cannot)."""
    n = s.legacy_fields
    p, q, w = s.pattern, s.quota, s.watermarks
    problems = []
    if s.name is not None or s.apply_interval is not None or s.filters or s.dests \
            or s.target_nid is not None or s.max_snapshots is not None:
        problems.append("a name, apply_interval, filters, dests, target_nid or max_snapshots")
    for r in (p.size, p.access, p.age):
        if r is None or r.unit:
            problems.append("a missing range or a range in kernel units")
            break
    if n not in (7, 9, 12, 17, 18):
        problems.append(f"{n} fields")
    if n >= 9 and (q is None or q.size is None or q.reset is None or q.goals or q.tuner
                   or q.fail_charge):
        problems.append("a quota that is not size and reset")
    if n == 18 and (q is None or q.time is None):
        problems.append("no quota time")
    if n >= 12 and (q is None or q.weights is None):
        problems.append("no weights")
    if n >= 17 and w is None:
        problems.append("no watermarks")
    if problems:
        raise ValueError(f"scheme cannot be written as a {n}-field legacy line: it has "
                         + "; ".join(problems))
    fields = [_v(p.size.lo), _v(p.size.hi), _v(p.access.lo), _v(p.access.hi),
              _v(p.age.lo), _v(p.age.hi), s.action]
    if n == 18:
        fields.append(_v(q.time))
    if n >= 9:
        fields += [_v(q.size), _v(q.reset)]
    if n >= 12:
        fields += [_v(q.weights.size), _v(q.weights.access), _v(q.weights.age)]
    if n >= 17:
        fields += [w.metric, _v(w.interval), _v(w.high), _v(w.mid), _v(w.low)]
    return fields


def _monitor_body(m: Monitor):
    def body(out, depth, key):
        if m.ops is not None:
            _setting(out, depth, key + ("ops",), f"ops {m.ops}")
        for k in ("sample", "aggr", "update"):
            v = getattr(m, k)
            if v is not None:
                _setting(out, depth, key + (k,), f"{k} {_v(v)}")
        if m.nr_regions is not None:
            lo, hi = m.nr_regions
            _setting(out, depth, key + ("nr_regions",), f"nr_regions {lo}..{hi}")
        if m.intervals_goal is not None:
            _block(out, depth, key + ("intervals_goal",), "intervals_goal",
                   _igoal_body(m.intervals_goal))
        if m.pause is not None:
            _setting(out, depth, key + ("pause",), f"pause {'yes' if m.pause else 'no'}")
        if m.addr_unit is not None:
            _setting(out, depth, key + ("addr_unit",), f"addr_unit {_v(m.addr_unit)}")
        if m.refresh is not None:
            _setting(out, depth, key + ("refresh",), f"refresh {_v(m.refresh)}")
        for i, p in enumerate(m.probes):
            head = f"probe {_name(p.name)}" if p.name is not None else "probe"
            _block(out, depth, key + ("probe", i), head, _probe_body(p))
    return body


def _probe_body(p: Probe):
    def body(out, depth, key):
        if p.weight is not None:
            _setting(out, depth, key + ("weight",), f"weight {p.weight}")
        for i, f in enumerate(p.filters):
            _setting(out, depth, key + ("filter", i), _probe_filter_text(f))
    return body


def _probe_filter_text(f: ProbeFilter) -> str:
    parts = _filter_head(f)
    if PROBE_FILTER_TYPES[f.type].arg is ARG_PATH:
        parts.append(_path(f.memcg_path or ""))
    return " ".join(parts)


def _igoal_body(g: IntervalsGoal):
    def body(out, depth, key):
        _setting(out, depth, key + ("access",), f"access {_v(g.access)}")
        _setting(out, depth, key + ("aggrs",), f"aggrs {g.aggrs}")
        _setting(out, depth, key + ("min_sample",), f"min_sample {_v(g.min_sample)}")
        _setting(out, depth, key + ("max_sample",), f"max_sample {_v(g.max_sample)}")
    return body


def _target_text(t: Target) -> str:
    if t.pid is None and not t.regions:
        raise ValueError("a target needs a pid or a region to be written")
    parts = ["target"]
    if t.pid is not None:
        parts += ["pid", str(t.pid)]
    for r in t.regions:
        parts += ["region", f"{_v(r.start)}..{_v(r.end)}"]
    return " ".join(parts)


def _items(program: Program) -> list[_Item]:
    items = []
    if program.monitor is not None:
        it = _Item(("monitor",), "monitor")
        _block(it.lines, 0, it.key, "monitor", _monitor_body(program.monitor))
        items.append(it)
    for i, t in enumerate(program.targets):
        it = _Item(("target", i), "target")
        it.lines.append(_Line(0, _target_text(t), it.key))
        items.append(it)
    for i, s in enumerate(program.schemes):
        key = ("scheme", i)
        if s.legacy_fields:
            fields = legacy_fields(s)
            items.append(_Item(key, "legacy", [_Line(0, "  ".join(fields), key, fields)]))
        else:
            it = _Item(key, "block")
            header = "scheme" if s.name is None else f"scheme {_name(s.name)}"
            _block(it.lines, 0, key, header, _scheme_body(s))
            items.append(it)
    return items


# -- comments --------------------------------------------------------------

@dataclass
class _Comments:
    header: list[str] = field(default_factory=list)
    leading: dict = field(default_factory=dict)    # key -> [(text, Loc)]
    trailing: dict = field(default_factory=dict)   # key -> (text, Loc)
    tail: list[str] = field(default_factory=list)  # after the last statement


def _comments(text: str) -> _Comments:
    """Attach every comment of ``text`` (which parses) to a key of the
    rendered output; see the module docstring."""
    if not text.endswith("\n"):
        text += "\n"
    res = _Comments()
    counts = {"scheme": 0, "target": 0}
    stack: list[dict] = []          # open blocks: {"key": ..., "n": {setting: count}}
    at_start = True                 # the next token starts a statement/setting
    pending: list = []              # full-line comments waiting for their element
    line_key: dict[int, tuple] = {}  # line -> key of the last element started on it
    first_key: dict[int, tuple] = {}  # line -> key of the first
    first_statement_line = None
    cur_key: tuple | None = None     # the element now being read
    for tok in tokens(text):
        ty = tok.kind
        if ty == "DOTS":
            continue
        if ty == "COMMENT":
            body = tok.text.rstrip()
            loc = Loc(tok.line, tok.col, tok.col + len(tok.text))
            if tok.line in line_key:
                res.trailing[line_key[tok.line]] = (body, loc)
            else:
                pending.append((body, loc))
            continue
        if ty == "NL":
            at_start = True
            continue
        key = None
        if ty == "RBRACE":
            block = stack.pop()
            key = block["key"] + ("}",)
            at_start = True   # what follows '}' (on this line) starts anew
        elif at_start:
            at_start = False
            if not stack:
                word = tok.text if ty == "WORD" and tok.text in ("target", "monitor") \
                    else "scheme"
                if word == "monitor":
                    key = ("monitor",)
                else:
                    key = (word, counts[word])
                    counts[word] += 1
                if first_statement_line is None:
                    first_statement_line = tok.line
            else:
                parent = stack[-1]
                word = tok.text
                if word in ("filter", "dest", "goal", "probe"):
                    n = parent["n"].get(word, 0)
                    parent["n"][word] = n + 1
                    key = parent["key"] + (word, n)
                else:
                    key = parent["key"] + (word,)
            cur_key = key
        if ty == "LBRACE":
            stack.append({"key": cur_key, "n": {}})
            at_start = True
            continue
        if key is not None:
            line_key[tok.line] = key    # a trailing comment goes with the last one
            first_key.setdefault(tok.line, key)
            if pending:
                res.leading.setdefault(key, []).extend(pending)
                pending = []
    res.tail = [c for c, _ in pending]
    # a header: the top comments that a blank line separates from the first statement
    if first_statement_line is not None:
        key0 = first_key[first_statement_line]
        lead = res.leading.get(key0, [])
        lines = text.split("\n")
        cut = 0
        for i, (_, loc) in enumerate(lead):
            nxt = lead[i + 1][1].line if i + 1 < len(lead) else first_statement_line
            if any(not lines[j - 1].strip(" \t\r\f") for j in range(loc.line + 1, nxt)):
                cut = i + 1
        if cut:
            res.header = [c for c, _ in lead[:cut]]
            res.leading[key0] = lead[cut:]
    return res


# -- assembly --------------------------------------------------------------

def _assemble(items: list[_Item], com: _Comments) -> str:
    out: list[str] = list(com.header)
    used = set()
    if out and items:
        out.append("")
    prev = None
    runs: list[list] = []   # runs of legacy lines aligned together: (index, fields, comment)
    for it in items:
        lead = com.leading.get(it.key, [])
        grouped = prev == it.kind and it.kind in ("legacy", "target") and not lead
        if prev is not None and not grouped:
            out.append("")
        if it.kind == "legacy" and not grouped:
            runs.append([])
        for line in it.lines:
            pad = INDENT * line.depth
            used.add(line.key)
            cpad = pad + INDENT if line.key[-1] == "}" else pad  # inside the closing block
            for c, _ in com.leading.get(line.key, []):
                out.append(cpad + c)
            comment = com.trailing[line.key][0] if line.key in com.trailing else ""
            if line.fields is not None:
                runs[-1].append((len(out), line.fields, comment))
            out.append(pad + line.text + ("  " + comment if comment else ""))
        prev = it.kind
    for run in runs:
        _align(out, run)
    for key, comments in com.leading.items():
        if comments and key not in used:
            raise DamosError(f"fmt would lose the comment {comments[0][0]!r}", comments[0][1])
    for key, (c, loc) in com.trailing.items():
        if key not in used:
            raise DamosError(f"fmt would lose the comment {c!r}", loc)
    if com.tail:
        if out:
            out.append("")
        out.extend(com.tail)
    return "\n".join(out) + "\n" if out else ""


def _slots(fields: list[str]) -> list[str | None]:
    """A legacy line's fields in the 18 columns of the longest layout, so that
    the same field lines up whatever the field count (None: no such field)."""
    n = len(fields)
    out: list[str | None] = fields[:7] + [None] * 11
    rest = fields[7:]
    if n == 18:
        out[7], rest = rest[0], rest[1:]
    out[8:8 + len(rest)] = rest
    return out


def _align(out: list[str], run: list) -> None:
    rows = [(i, _slots(fields), comment) for i, fields, comment in run]
    width = [max((len(r[k]) for _, r, _ in rows if r[k] is not None), default=-2)
             for k in range(18)]
    texts = []
    for i, row, comment in rows:
        last = max(k for k in range(18) if row[k] is not None)
        texts.append("".join((row[k] or "").ljust(width[k] + 2) if k < last else row[k]
                             for k in range(last + 1) if width[k] >= 0))
    col = max(len(t) for t in texts) + 2
    for (i, _, comment), text in zip(rows, texts):
        out[i] = text.ljust(col) + comment if comment else text


# -- entry points ----------------------------------------------------------

def format_program(program: Program) -> str:
    """The canonical text of ``program`` (without comments: the IR has none)."""
    return _assemble(_items(program), _Comments())


def format_source(text: str) -> str:
    """Parse ``text`` and return its canonical form, comments kept."""
    if text.startswith(BOM):
        text = text[1:]
    program = lower(parse_nodes(text))
    return _assemble(_items(program), _comments(text))
