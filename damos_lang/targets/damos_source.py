"""DAMOS source in the canonical form (turns damo JSON into the language)."""
from __future__ import annotations

from ..features import require_version
from ..fmt import format_program

NAME = "damos"


def compile(program, options) -> str:
    if options.kernel is not None:
        require_version(program, options.kernel)
    return format_program(program)
