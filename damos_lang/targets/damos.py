"""DAMOS source in the canonical form (turns damo JSON into the language)."""
from __future__ import annotations

from ..catalog import SYSFS
from ..fmt import format_program
from ..model_to_ir import to_program
from ..pipeline import gate

NAME = "damos"
# source to source: whatever the language holds (paddr without a region too) is
# written; only --kernel gates it, like the sysfs interface
INTERFACE = None


def compile(unit, options) -> str:
    kernel = getattr(options, "kernel", None)
    if kernel is not None:
        gate(unit, SYSFS, tuple(kernel))
    if unit.source.kind == "damo-json":
        # damo's JSON holds kernel numbers (18446744073709551615, 5000 us): the
        # language form of the model reads them as a user writes them (max, 5ms)
        return format_program(to_program(unit.context))
    return format_program(unit.program)
