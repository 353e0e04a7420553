"""How command bodies talk to the terminal and end: print to standard output
or error, and stop with an exit status (:class:`Exit`), without knowing the
command-line library that called them (``cli.py`` turns the status into the
process's exit status)."""
from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILED = 1          # the work failed (a kernel refused, a file differs)
EXIT_BAD_INPUT = 2       # bad input: nothing was done


class Exit(Exception):
    """Stop the command with ``code`` (after what it printed)."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def out(text: str = "", nl: bool = True) -> None:
    sys.stdout.write(text + ("\n" if nl else ""))
    sys.stdout.flush()


def err(text: str = "", nl: bool = True) -> None:
    sys.stderr.write(text + ("\n" if nl else ""))
    sys.stderr.flush()


def fail(error, name: str, source: str | None = None, code: int = EXIT_BAD_INPUT):
    """Print a DamosError as its diagnostic (with a caret into ``source``) and stop."""
    err(error.diagnostic.render(name, source))
    raise Exit(code)


def body(fn):
    """A command body: returns its exit status, also when it stops with :class:`Exit`."""
    import functools

    @functools.wraps(fn)
    def run(*args, **kwargs) -> int:
        try:
            code = fn(*args, **kwargs)
        except Exit as e:
            return e.code
        return EXIT_OK if code is None else code
    return run
