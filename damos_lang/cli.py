"""The `damos` command line (typer)."""
from __future__ import annotations

import os
import sys
import tempfile
from typing import List, Optional

import typer

from . import __version__
from .errors import DamosError

app = typer.Typer(add_completion=True, no_args_is_help=True, rich_markup_mode=None,
                  pretty_exceptions_enable=False,
                  help="damos: a declarative language for DAMON-based Operation Schemes.")

EXIT_BAD_INPUT = 2


def _fail(err: DamosError, name: str, source: str | None) -> None:
    typer.echo(err.diagnostic.render(name, source), err=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def _load(path: str):
    from .source import load, read_source
    try:
        src = read_source(path)
    except DamosError as e:
        _fail(e, path, None)
    try:
        return src, load(src)
    except DamosError as e:
        _fail(e, src.name, src.text if src.kind == "damos" else None)


def _version(value: bool):
    if value:
        typer.echo(f"damos-lang {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    pass


@app.command()
def check(files: List[str] = typer.Argument(..., metavar="FILE...", help="DAMOS or damo JSON files"),
          kernel: Optional[str] = typer.Option(None, "--kernel", metavar="X.Y",
                                               help="Fail if the file needs a newer kernel."),
          userspace: bool = typer.Option(False, "--userspace",
                                         help="Also warn about actions 'damos run' cannot apply."),
          strict: bool = typer.Option(False, "--strict", help="Exit 1 when there are warnings.")):
    """Parse and check files; print warnings and the minimum kernel version each needs."""
    from .check import check as run_check, min_version_line
    from .features import parse_version, require_version
    warned = False
    for path in files:
        src, program = _load(path)
        text = src.text if src.kind == "damos" else None
        if kernel:
            try:
                require_version(program, parse_version(kernel))
            except DamosError as e:
                _fail(e, src.name, text)
        report = run_check(program, userspace=userspace)
        for d in report.items:
            typer.echo(d.render(src.name, text), err=True)
            warned = warned or d.severity == "warning"
        n = len(program.schemes)
        typer.echo(f"{src.name}: {n} scheme{'s' if n != 1 else ''}, {min_version_line(program)}")
    if strict and warned:
        raise typer.Exit(1)


@app.command()
def fmt(files: List[str] = typer.Argument(..., metavar="FILE..."),
        check_only: bool = typer.Option(False, "--check",
                                        help="Exit 1 if a file is not in canonical form."),
        write: bool = typer.Option(False, "--write", help="Rewrite the files in place.")):
    """Print files in the one canonical form (idempotent)."""
    from .fmt import format_source
    from .source import read_source
    status = 0
    for path in files:
        try:
            src = read_source(path)
        except DamosError as e:
            _fail(e, path, None)
        if src.kind != "damos":
            _fail(DamosError("fmt formats DAMOS source; compile damo JSON with "
                             "'--target damos' instead"), src.name, None)
        try:
            out = format_source(src.text)
        except DamosError as e:
            _fail(e, src.name, src.text)
        if check_only:
            if out != src.text:
                import difflib
                diff = difflib.unified_diff(src.text.splitlines(keepends=True),
                                            out.splitlines(keepends=True),
                                            f"{src.name}", f"{src.name} (formatted)")
                typer.echo("".join(diff), err=True, nl=False)
                typer.echo(f"{src.name}: not formatted (run: damos fmt --write {path})", err=True)
                status = 1
        elif write:
            if out != src.text:
                _write_atomically(path, out)
                typer.echo(f"formatted {path}", err=True)
        else:
            typer.echo(out, nl=False)
    raise typer.Exit(status)


@app.command()
def explain(file: str = typer.Argument(..., metavar="FILE")):
    """Explain each scheme in plain English, with its kernel values."""
    from .explain import explain as run_explain
    _src, program = _load(file)
    typer.echo(run_explain(program), nl=False)


@app.command()
def compile(file: str = typer.Argument(..., metavar="FILE", help="DAMOS source or damo JSON"),
            target: str = typer.Option(..., "--target", "-t", metavar="TARGET",
                                       help="Output format; see 'damos targets'."),
            output: Optional[str] = typer.Option(None, "-o", "--output", metavar="OUT",
                                                 help="Write here instead of standard output."),
            kernel: Optional[str] = typer.Option(None, "--kernel", metavar="X.Y",
                                                 help="Refuse features this kernel lacks."),
            pid: Optional[int] = typer.Option(None, "--pid", help="Target process (overrides the file)."),
            max_policy: str = typer.Option("unbounded", "--max", metavar="POLICY",
                                           help="What 'max' becomes: unbounded (field maximum) "
                                                "or damo (damo 3.4.3's numbers)."),
            debugfs_fields: int = typer.Option(18, "--debugfs-fields", metavar="N",
                                               help="debugfs: 18 fields (what kernels accept) "
                                                    "or 7 (pattern and action only).")):
    """Compile FILE for a target (sysfs script, debugfs line, damo JSON, ...)."""
    from .features import parse_version
    from .kernel import MAX_POLICIES
    from .targets import Options, registry
    targets = registry()
    src, program = _load(file)
    text = src.text if src.kind == "damos" else None
    try:
        if target not in targets:
            from .errors import did_you_mean
            raise DamosError(did_you_mean(target, targets, "target"))
        if max_policy not in MAX_POLICIES:
            raise DamosError(f"--max must be one of {', '.join(MAX_POLICIES)}")
        if debugfs_fields not in (7, 18):
            raise DamosError("--debugfs-fields must be 7 or 18")
        opts = Options(kernel=parse_version(kernel) if kernel else None, max_policy=max_policy,
                       pid=pid, debugfs_fields=debugfs_fields, source=src.name)
        out = targets[target].compile(program, opts)
    except DamosError as e:
        _fail(e, src.name if e.loc or e.diagnostic.path else "damos", text)
    if output and output != "-":
        _write_atomically(output, out, executable=target == "sysfs")
    else:
        typer.echo(out, nl=False)


@app.command("targets")
def list_targets():
    """List the compilation targets."""
    from .targets import registry
    for name, mod in registry().items():
        doc = (mod.__doc__ or "").strip().splitlines()
        typer.echo(f"{name:12} {doc[0] if doc else ''}")


def _write_atomically(path: str, text: str, executable: bool = False) -> None:
    """Write via a temporary file and rename, so a failure leaves nothing half-written."""
    d = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".damos-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, path)
    except OSError as e:
        raise DamosError(f"cannot write {path}: {e.strerror}") from None


def main() -> None:
    try:
        app()
    except DamosError as e:  # errors raised outside a command's own handling
        typer.echo(e.diagnostic.render("damos"), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        sys.exit(130)
