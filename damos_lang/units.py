"""Unit vocabularies of the language (what a user may write), and readers
that check a written unit against a field's kind.  Turning values into
kernel units is :mod:`damos_lang.convert`'s job, not this module's."""
from __future__ import annotations

import re
from functools import lru_cache

# sizes: case-sensitive powers of 1024, exactly damo's set (MB means MiB)
SIZE_UNITS = {"B": 1}
for _i, _p in enumerate("KMGTPE", start=1):
    for _s in ("", "B", "iB"):
        SIZE_UNITS[_p + _s] = 1 << (10 * _i)

# time, in nanoseconds (damo computes in ns, then divides)
TIME_UNITS_NS = {"ns": 1, "us": 1000, "ms": 1000_000, "s": 1000_000_000,
                 "m": 60_000_000_000, "h": 3600_000_000_000, "d": 86400_000_000_000}

PERCENT = "%"
PERMIL = "permil"
BP = "bp"
SAMPLES = "samples"
AGGR_INTERVALS = "aggr_intervals"

ULONG_MAX = 2**64 - 1
UINT_MAX = 2**32 - 1


def suggest_unit(unit: str, choices) -> str | None:
    for c in choices:
        if c.lower() == unit.lower():
            return c
    import difflib  # only errors need it
    close = difflib.get_close_matches(unit, list(choices), n=1, cutoff=0.5)
    return close[0] if close else None


_ASCII_QUANTITY = re.compile(r"([0-9.,]*)([^0-9]*)")


@lru_cache(maxsize=4096)  # files repeat their quantities (4K, 1s, 0%, ...)
def split_quantity(token: str) -> tuple[str, str]:
    """'1,024KiB' -> ('1024', 'KiB'); '0x1000' -> ('4096', '')."""
    if token[:2] in ("0x", "0X"):
        int(token, 16)  # validates
        return "0x" + token[2:].lower(), ""
    m = _ASCII_QUANTITY.fullmatch(token) if token.isascii() else None
    if m is not None:
        number, unit = m.group(1).replace(",", ""), m.group(2)
    else:  # not ASCII, or a digit in the unit: the general reading
        i = 0
        while i < len(token) and (token[i].isdigit() or token[i] in ".,"):
            i += 1
        number = token[:i].replace(",", "")
        unit = token[i:]
        if any(c.isdigit() for c in unit):
            raise ValueError(token)
    if not number or number.count(".") > 1 or number[0] == "." or number[-1] == ".":
        raise ValueError(token)
    return canonical_number(number), unit


def canonical_number(text: str) -> str:
    """Drop redundant leading zeros so that '007' and '7' are one value
    (and never reach sysfs, where a leading 0 means octal)."""
    if "." in text:
        whole, frac = text.split(".", 1)
        whole = whole.lstrip("0") or "0"
        return f"{whole}.{frac}"
    return text.lstrip("0") or "0"


def exact_number(text: str) -> tuple[int, int]:
    """A canonical number (``split_quantity``'s) as an exact fraction
    (numerator, denominator): '1.25' -> (125, 100), '0x10' -> (16, 1)."""
    if text[:2] == "0x":
        return int(text, 16), 1
    whole, _, frac = text.partition(".")
    return int(whole + frac), 10 ** len(frac)


def damo_number(text: str):
    """damo's text_to_nr: an int when the text is integral, else a float
    (hex, which only addresses and sizes keep, is an int)."""
    if text[:2] == "0x":
        return int(text, 16)
    try:
        return int(text)
    except ValueError:
        return float(text)


def format_bytes(n: float) -> str:
    """A byte count for people: ``1.5 MiB``, ``512 B``."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if abs(n) >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{int(n)} B"


# -- damo's reading of a legacy field -------------------------------------------------
# damo 3.4.3 reads the fields of a legacy line with _damo_fmt_str's text_to_*
# (Python's int() and float() underneath, so 1e3, 1_000, +26 and Unicode
# digits are numbers to it).  This is that reading, so that an error can say
# what damo would do with a field we refuse; it never decides what we accept.

# the kinds of field, and damo's unit for each ("number": a field of a line
# whose layout is unknown, read with text_to_nr alone)
DAMO_FIELD_UNITS = {"bytes": "bytes", "percent": "%", "us": "us", "ms": "ms", "int": "",
                    "number": ""}


def damo_nr(text: str):
    """damo's text_to_nr: commas dropped, then int(), else float()."""
    plain = text.replace(",", "")
    try:
        return int(plain)
    except ValueError:
        return float(plain)          # raises ValueError: not a number to damo either


def _damo_keyword_or_nr(text: str):
    """damo's try_common_input: min, max, or a number (None if not one)."""
    if text == "min":
        return 0
    if text == "max":
        return ULONG_MAX
    try:
        return damo_nr(text)
    except ValueError:
        return None


def damo_split(kind: str, text: str) -> tuple[str, str]:
    """(number, unit) as damo splits a field of ``kind`` (bytes percent us ms
    int): the unit is the suffix it recognises, "" when it takes the field
    as a plain number.  Raises ValueError where damo fails."""
    if kind in ("int", "number") or _damo_keyword_or_nr(text) is not None:
        return text, ""
    if kind == "bytes":
        for n in (3, 2):
            if len(text) > n and text[-n:] in SIZE_UNITS:
                return text[:-n], text[-n:]
        if text[-1:] in SIZE_UNITS:
            return text[:-1], text[-1:]
        raise ValueError(text)
    if kind == "percent":
        if text.endswith("%"):
            return text[:-1], "%"
        raise ValueError(text)
    if kind in ("us", "ms"):
        if text[-2:] in TIME_UNITS_NS or text[-1:] in TIME_UNITS_NS:
            unit = text[-2:] if text[-2:] in ("ns", "us", "ms") else text[-1:]
            return text[:-len(unit)], unit
        raise ValueError(text)
    raise ValueError(kind)


def damo_read(kind: str, text: str):
    """The value damo gives a field of ``kind``, in damo's unit for it (bytes,
    percent, us, ms, or a plain int), or ValueError where damo fails."""
    if kind == "int":
        return int(text)
    if kind == "number":
        return damo_nr(text)
    plain = _damo_keyword_or_nr(text)
    if plain is not None:
        return plain
    number, unit = damo_split(kind, text)
    value = damo_nr(number)
    if kind == "bytes":
        try:
            return min(ULONG_MAX, int(value * SIZE_UNITS[unit]))
        except OverflowError:               # inf: damo fails too
            raise ValueError(text) from None
    if kind == "percent":
        return value / 100.0 * 100
    us = value * TIME_UNITS_NS[unit] / 1000
    return us if kind == "us" else us / 1000


def plain_decimal(number) -> str:
    """A number as plain decimal text: 1000.0 -> '1000', 0.5 -> '0.5'."""
    if isinstance(number, int):
        return str(number)
    from decimal import Decimal
    text = format(Decimal(repr(number)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
