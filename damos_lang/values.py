"""Reading one token as the value of a field: its unit is checked against
the field's kind, and errors point at the token."""
from __future__ import annotations

from .errors import DamosError, Loc, did_you_mean
from .ir import Value
from .parser import Atom, RangeNode
from .units import (PERCENT, SIZE_UNITS, TIME_UNITS_NS, damo_number, split_quantity,
                    suggest_unit)

MAX_NUMBER = 1e21  # above any kernel value in any unit; keeps float math finite


def _err(msg, node, hint=None):
    return DamosError(msg, node.loc, hint=hint)


def _atom(node, what) -> Atom:
    if isinstance(node, RangeNode):
        raise _err(f"{what} takes a single value, not a range", node)
    return node


def _keyword(atom: Atom, allow_kw: bool):
    if atom.kind == "WORD" and atom.text in ("min", "max"):
        if not allow_kw:
            raise _err(f"'{atom.text}' is not allowed here", atom)
        return Value.kw(atom.text)
    return None


def _quantity(atom: Atom, what: str, keep_hex: bool = False) -> tuple[str, str]:
    if atom.kind != "QTY":
        raise _err(f"{what} must be a number, got {atom.text!r}", atom)
    try:
        number, unit = split_quantity(atom.text)
    except ValueError:
        raise _err(f"malformed number {atom.text!r}", atom,
                   "write a decimal number and a unit, like 1.5G or 100ms") from None
    try:
        too_large = float(damo_number(number)) > MAX_NUMBER
    except OverflowError:
        too_large = True
    if too_large:
        raise _err(f"number {atom.text!r} is too large", atom,
                   "the largest kernel value is 18446744073709551615")
    if number.startswith("0x") and not keep_hex:
        number = str(int(number, 16))  # only sizes and addresses keep the user's hex
    return number, unit


def read_size(node, what="size", allow_kw=True) -> Value:
    atom = _atom(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what, keep_hex=True)
    if unit and unit not in SIZE_UNITS:
        s = suggest_unit(unit, SIZE_UNITS)
        hint = "size units are case-sensitive powers of 1024: B K M G T P E (also KB/KiB ...)"
        msg = f"unknown size unit {unit!r}" + (f"; did you mean {s!r}?" if s else "")
        raise _err(msg, atom, hint)
    return Value(number, unit, None, atom.loc)


def read_time(node, what, *, bare_ok=False, allow_kw=False) -> Value:
    atom = _atom(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what)
    if not unit:
        if not bare_ok:
            raise _err(f"{what} needs a time unit (ns us ms s m h d)", atom,
                       f"for example {number}ms or {number}s")
        return Value(number, "", None, atom.loc)
    if unit not in TIME_UNITS_NS:
        s = suggest_unit(unit, TIME_UNITS_NS)
        raise _err(f"unknown time unit {unit!r}" + (f"; did you mean {s!r}?" if s else "")
                   + " (units: ns us ms s m h d)", atom)
    return Value(number, unit, None, atom.loc)


def read_percent(node, what, *, bare_ok, allow_kw=True, units=(PERCENT,), limit=100) -> Value:
    atom = _atom(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what)
    if not unit and not bare_ok:
        raise _err(f"{what} needs a unit: {' or '.join(units)}", atom,
                   f"for example {number}{units[0]}")
    if unit and unit not in units:
        raise _err(f"unknown unit {unit!r} for {what}; expected {' or '.join(units)}", atom)
    if limit is not None and (unit in ("", PERCENT)) and float(number) > limit:
        raise _err(f"{what} {atom.text} is above {limit}%", atom)
    return Value(number, unit, None, atom.loc)


def read_count(node, what, allow_kw=True) -> Value:
    """A plain count in kernel units (samples, aggregation intervals)."""
    atom = _atom(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what)
    if unit or "." in number:
        raise _err(f"{what} must be a whole number", atom)
    return Value(number, "", None, atom.loc)


def read_int(node, what, minimum=0) -> int:
    atom = _atom(node, what)
    if atom.kind != "QTY":
        raise _err(f"{what} must be a whole number, got {atom.text!r}", atom)
    number, unit = _quantity(atom, what)
    if unit or "." in number:
        raise _err(f"{what} must be a whole number, got {atom.text!r}", atom)
    n = int(number)
    if n < minimum:
        raise _err(f"{what} must be at least {minimum}", atom)
    return n


def read_word(node, choices, what) -> tuple[str, Loc]:
    atom = _atom(node, what)
    word = atom.value if atom.kind in ("WORD", "STRING") else atom.text
    if word.lower() in choices:
        return word.lower(), atom.loc
    raise _err(did_you_mean(word, choices, what), atom)
