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
