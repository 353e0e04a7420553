"""Diagnostics: one type for every user-facing error, rendered as
``file:line:col: error: message`` plus the source line and a caret."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Loc:
    """A position in a source file (1-based line and column)."""

    line: int
    col: int
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.line}:{self.col}"


@dataclass
class Diagnostic:
    severity: str  # "error" | "warning"
    message: str
    loc: Loc | None = None
    path: str | None = None  # JSON key path for JSON input, instead of loc
    hint: str | None = None

    def render(self, filename: str, source: str | None = None) -> str:
        where = filename
        if self.loc is not None:
            where = f"{filename}:{self.loc.line}:{self.loc.col}"
        elif self.path is not None:
            where = f"{filename}:{self.path}"
        out = [f"{where}: {self.severity}: {self.message}"]
        if self.loc is not None and source is not None:
            lines = source_lines(source)
            if 0 < self.loc.line <= len(lines):
                text = lines[self.loc.line - 1].rstrip("\r").replace("\t", " ")
                # keep the caret under its column: control characters print as one space
                text = "".join(c if c.isprintable() else " " for c in text)
                width = 1
                if self.loc.end_col and self.loc.end_col > self.loc.col:
                    width = self.loc.end_col - self.loc.col
                out.append(f"  {text}")
                out.append("  " + " " * (self.loc.col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


_lines_cache: list = [None, []]   # the last source rendered against, and its lines


def source_lines(source: str) -> list[str]:
    """``source``'s lines as the parser counts them (only \\n ends a line).
    The last source's lines are kept, so that rendering every diagnostic of
    a file splits it once, not once per diagnostic."""
    if _lines_cache[0] is not source:
        _lines_cache[:] = [source, source.split("\n")]
    return _lines_cache[1]


def shorten(text: str, limit: int = 30) -> str:
    """``text`` for a message: its first ``limit`` characters and '…' when longer."""
    return text if len(text) <= limit else text[:limit] + "\u2026"


class DamosError(Exception):
    """A user-facing error: bad input, an impossible request.  The CLI prints
    it (never a traceback) and exits with status 2."""

    def __init__(self, message: str, loc: Loc | None = None, *, path: str | None = None,
                 hint: str | None = None):
        super().__init__(message)
        self.diagnostic = Diagnostic("error", message, loc, path, hint)

    @property
    def message(self) -> str:
        return self.diagnostic.message

    @property
    def loc(self) -> Loc | None:
        return self.diagnostic.loc


class DamosErrors(DamosError):
    """Several user-facing errors at once (``errors``, in the order found): as
    a DamosError it is the first of them, so a command that reports one
    error reports that one."""

    def __init__(self, errors):
        self.errors = list(errors)
        first = self.errors[0]
        Exception.__init__(self, first.message)
        self.diagnostic = first.diagnostic


def did_you_mean(word: str, choices, what: str) -> str:
    """``unknown action 'pagout'; did you mean 'pageout'?``"""
    import difflib  # only errors need it
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    msg = f"unknown {what} {shorten(word)!r}"
    if close:
        msg += f"; did you mean {close[0]!r}?"
    else:
        msg += f"; expected one of: {', '.join(choices)}"
    return msg


@dataclass
class Report:
    """Warnings collected by the checker."""

    items: list[Diagnostic] = field(default_factory=list)

    def warn(self, message: str, loc: Loc | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic("warning", message, loc, None, hint))


_CONTROL_NAMES = {"\x00": "NULL", "\x0b": "LINE TABULATION", "\x1c": "FILE SEPARATOR",
                  "\x1d": "GROUP SEPARATOR", "\x1e": "RECORD SEPARATOR",
                  "\x1f": "UNIT SEPARATOR", "\x85": "NEXT LINE", "\x7f": "DELETE"}


def character_name(ch: str) -> str:
    """``U+00A0 (NO-BREAK SPACE)``."""
    import unicodedata
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")
