"""One compiled input, as every target and live command receives it."""
from __future__ import annotations

from dataclasses import dataclass

from . import model
from .convert import Note
from .ir import Program
from .source import Source


@dataclass(frozen=True)
class Unit:
    """One compiled input: the source, its IR, and its kernel-unit model."""

    source: Source
    program: Program
    context: model.Context
    notes: tuple[Note, ...] = ()

    @property
    def source_name(self) -> str:
        return self.source.name

    @property
    def source_text(self) -> str:
        return self.source.text
