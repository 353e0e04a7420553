"""DAMOS source in the canonical form (turns damo JSON into the language)."""
from __future__ import annotations

from ..catalog import SYSFS
from ..fmt import format_program

NAME = "damos"
INTERFACE = SYSFS   # --kernel gates it like the sysfs interface


def compile(unit, options) -> str:
    return format_program(unit.program)
