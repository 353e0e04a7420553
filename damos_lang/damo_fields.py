"""How damo reads each field of a legacy one-line scheme: the field kinds by
line length, and damo's reading of a field we refuse (for messages that say
what damo would do).  Used by the legacy lowering and by the lexer's errors."""
from __future__ import annotations

import math
import re

from .errors import character_name, did_you_mean, shorten
from .ir import ACTIONS, WMARK_METRICS
from .units import DAMO_FIELD_UNITS, damo_nr, damo_read, damo_split, plain_decimal


LEGACY_FIELD_COUNTS = (7, 9, 12, 17, 18)

# how damo reads each field (units.damo_read), by the number of fields
_V0 = ("bytes", "bytes", "percent", "percent", "us", "us", "action")
FIELD_KINDS = {
    7: _V0,
    9: _V0 + ("bytes", "ms"),
    12: _V0 + ("bytes", "ms", "int", "int", "int"),
    17: _V0 + ("bytes", "ms", "int", "int", "int", "metric", "us", "int", "int", "int"),
    18: _V0 + ("ms", "bytes", "ms", "int", "int", "int", "metric", "us", "int", "int", "int"),
}
FIELD_WORDS = {"action": ("action", ACTIONS), "metric": ("watermark metric", WMARK_METRICS)}

def _why_python(number: str) -> str:
    if any(c.isdigit() and not c.isascii() for c in number):
        return "Python reads any Unicode digit"
    if "_" in number:
        return "Python int syntax: _ between digits"
    if "," in number:
        return "damo drops every comma"
    if number[:1] in ("+", "-"):
        return f"Python number syntax: a {number[0]} sign"
    return "Python float syntax"


def damo_reading(kind: str, text: str) -> str | None:
    """How damo reads ``text`` as a field of ``kind`` where we would not
    ("damo reads '1e3' as 1000.0 bytes (Python float syntax); write 1000"),
    or None when damo fails on it too."""
    try:
        value = damo_read(kind, text)
        number, unit = damo_split(kind, text)
        plain = int(number) if kind == "int" else damo_nr(number)
    except (ValueError, OverflowError):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None                 # damo fails later, converting it
    unit_word = DAMO_FIELD_UNITS[kind]
    shown = f"{value} {unit_word}".rstrip()
    out = f"damo reads {text!r} as {shown} ({_why_python(number)})"
    if plain < 0:
        return out + "; the kernel takes no negative numbers"
    return out + f"; write {plain_decimal(plain)}{unit}"


def damo_syntax_note(line: str, pos: int) -> tuple[str, str | None, int, int] | None:
    """For a character the lexer refused at ``pos`` of a legacy line (cut at
    its ';' or comment): (message, hint, start, end) of the field damo would
    read there, or None.  damo splits the line with Python's str.split()."""
    ch = line[pos]
    if ch.isspace():
        return (f"unexpected blank character {character_name(ch)}: damo (Python's str.split) "
                f"reads it as a space between fields, and we refuse it because it only looks "
                f"like one", "write a space", pos, pos + 1)
    fields = list(re.finditer(r"\S+", line))
    at = next((i for i, m in enumerate(fields) if m.start() <= pos < m.end()), None)
    if at is None:
        return None
    field = fields[at]
    kinds = FIELD_KINDS.get(len(fields))
    kind = kinds[at] if kinds else None
    if kind in FIELD_WORDS:
        what, choices = FIELD_WORDS[kind]
        return (did_you_mean(field[0], choices, what), passed_on(what), field.start(),
                field.end())
    reading = damo_reading(kind or "number", field[0])
    if reading is None:
        return None
    return f"malformed number {shorten(field[0])!r}: {reading}", None, field.start(), field.end()


def passed_on(what: str) -> str:
    return f"damo passes any word on to the kernel, which refuses an unknown {what}"
