"""Reading one token as the value of a field: its unit is checked against
the field's kind, and errors point at the token."""
from __future__ import annotations

from .errors import DamosError, Loc, did_you_mean, shorten
from .ir import Value
from .parser import Atom, RangeNode
from .units import (PERCENT, SIZE_UNITS, TIME_UNITS_NS, ULONG_MAX, damo_number, exact_number,
                    split_quantity, suggest_unit)

MAX_NUMBER = 1e21  # above any kernel value in any unit; keeps float math finite


def error_at(node, msg, hint=None) -> DamosError:
    """A DamosError pointing at a syntax node (an Atom, a RangeNode, a Setting)."""
    return DamosError(msg, node.loc, hint=hint)


def single_value(node, what) -> Atom:
    """``node`` as one token: a range is an error."""
    if isinstance(node, RangeNode):
        raise error_at(node, f"{what} takes a single value, not a range")
    return node


def _keyword(atom: Atom, allow_kw: bool):
    if atom.kind == "WORD" and atom.text in ("min", "max"):
        if not allow_kw:
            raise error_at(atom, f"'{atom.text}' is not allowed here")
        return Value.kw(atom.text)
    return None


def _quantity(atom: Atom, what: str, keep_hex: bool = False) -> tuple[str, str]:
    if atom.kind != "QTY":
        raise error_at(atom, f"{what} must be a number, got {shorten(atom.text)!r}")
    try:
        number, unit = split_quantity(atom.text)
    except ValueError:
        raise error_at(atom, f"malformed number {shorten(atom.text)!r}",
                       "write a decimal number and a unit, like 1.5G or 100ms") from None
    too_large = False
    if len(number) > 19:  # shorter decimals and hex numbers are below MAX_NUMBER
        try:
            too_large = float(damo_number(number)) > MAX_NUMBER
        except OverflowError:
            too_large = True
    if too_large:
        raise error_at(atom, f"number {shorten(atom.text)!r} is too large",
                       "the largest kernel value is 18446744073709551615")
    if number.startswith("0x") and not keep_hex:
        number = str(int(number, 16))  # only sizes and addresses keep the user's hex
    return number, unit


def read_size(node, what="size", allow_kw=True) -> Value:
    atom = single_value(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what, keep_hex=True)
    if unit and unit not in SIZE_UNITS:
        s = suggest_unit(unit, SIZE_UNITS)
        hint = "size units are case-sensitive powers of 1024: B K M G T P E (also KB/KiB ...)"
        msg = f"unknown size unit {shorten(unit)!r}" + (f"; did you mean {s!r}?" if s else "")
        raise error_at(atom, msg, hint)
    return Value(number, unit, None, atom.loc)


def _or_unit_word(unit_word: str | None, number: str) -> tuple[str, str]:
    """What a message and its hint add when a range may instead carry a kernel
    unit word after it (``access 0..5 samples``, ``age 5..max aggr_intervals``)."""
    if unit_word is None:
        return "", ""
    return (f", or '{unit_word}' after the range",
            f", or a range in kernel units: {number}..max {unit_word}")


def read_time(node, what, *, bare_ok=False, allow_kw=False, unit_word=None) -> Value:
    atom = single_value(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what)
    if not unit:
        if not bare_ok:
            more, more_hint = _or_unit_word(unit_word, number)
            raise error_at(atom, f"{what} needs a time unit (ns us ms s m h d){more}",
                           f"for example {number}ms or {number}s{more_hint}")
        return Value(number, "", None, atom.loc)
    if unit not in TIME_UNITS_NS:
        s = suggest_unit(unit, TIME_UNITS_NS)
        raise error_at(atom, f"unknown time unit {shorten(unit)!r}"
                       + (f"; did you mean {s!r}?" if s else "") + " (units: ns us ms s m h d)")
    return Value(number, unit, None, atom.loc)


def read_percent(node, what, *, bare_ok, allow_kw=True, units=(PERCENT,), limit=100,
                 unit_word=None) -> Value:
    atom = single_value(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what)
    if not unit and not bare_ok:
        more, more_hint = _or_unit_word(unit_word, number)
        raise error_at(atom, f"{what} needs a unit: {' or '.join(units)}{more}",
                       f"for example {number}{units[0]}{more_hint}")
    if unit and unit not in units:
        raise error_at(atom, f"unknown unit {shorten(unit)!r} for {what}; "
                       f"expected {' or '.join(units)}")
    if limit is not None and (unit in ("", PERCENT)) and float(number) > limit:
        raise error_at(atom, f"{what} {shorten(atom.text)} is above {limit}%")
    return Value(number, unit, None, atom.loc)


def read_count(node, what, allow_kw=True) -> Value:
    """A plain count in kernel units (samples, aggregation intervals)."""
    atom = single_value(node, what)
    kw = _keyword(atom, allow_kw)
    if kw:
        return Value(None, "", kw.keyword, atom.loc)
    number, unit = _quantity(atom, what)
    if unit or "." in number:
        raise error_at(atom, f"{what} must be a whole number")
    return Value(number, "", None, atom.loc)


def read_int(node, what, minimum=0) -> int:
    atom = single_value(node, what)
    if atom.kind != "QTY":
        raise error_at(atom, f"{what} must be a whole number, got {shorten(atom.text)!r}")
    number, unit = _quantity(atom, what)
    if unit or "." in number:
        raise error_at(atom, f"{what} must be a whole number, got {shorten(atom.text)!r}")
    n = int(number)
    if n < minimum:
        raise error_at(atom, f"{what} must be at least {minimum}")
    return n


def read_word(node, choices, what) -> tuple[str, Loc]:
    atom = single_value(node, what)
    word = atom.value if atom.kind in ("WORD", "STRING") else atom.text
    if word.lower() in choices:
        return word.lower(), atom.loc
    raise error_at(atom, did_you_mean(word, choices, what))


# -- exact readings, for checks the front end makes itself ---------------------------------

def exact_bytes(v: Value) -> int:
    """A size or address in bytes, exactly (a fraction of a byte dropped),
    at most ULONG_MAX like every kernel size."""
    if v.is_min:
        return 0
    if v.is_max:
        return ULONG_MAX
    num, den = exact_number(v.number)
    return min(ULONG_MAX, num * SIZE_UNITS.get(v.unit or "B", 1) // den)


def at_least_1us(v: Value) -> bool:
    """Whether a time with a unit is at least one microsecond, exactly."""
    if v.keyword is not None:
        return v.is_max
    num, den = exact_number(v.number)
    return num * TIME_UNITS_NS[v.unit or "us"] >= 1000 * den
