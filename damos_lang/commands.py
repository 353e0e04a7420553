"""The bodies of the compiler's commands: ``check``, ``fmt``, ``explain``,
``compile`` and ``targets``.  Each returns the exit status; :mod:`damos_lang.cli`
only declares their options."""
from __future__ import annotations

import os
import tempfile

from .console import EXIT_BAD_INPUT, EXIT_FAILED, body, err, fail, out
from .errors import DamosError
from .pipeline import kernel_or_exit as kernel_version, source_or_exit as read, text_of
from .pipeline import unit_or_exit as unit


@body
def check(files: list[str], kernel: str | None = None, userspace: bool = False,
          strict: bool = False, max_errors: int = 20) -> int:
    """Every file in turn, every error of each (in source order), and exit 2
    when there was one; ``max_errors`` (0: no limit) stops after that many."""
    from .check import check as run_check, min_version_line
    from .features import interfaces_line
    version = kernel_version(kernel)
    warned = failed = False
    shown = 0
    for path in files:
        left = max_errors - shown if max_errors > 0 else None
        errors, u, name, text, verdicts = _check_file(path, userspace, version,
                                                      None if left is None else left + 1)
        if errors:
            failed = True
            for e in errors[:left]:
                err(e.diagnostic.render(name, text))
            shown += len(errors[:left])
            if left is not None and len(errors) > left:
                err(f"damos check: {max_errors} error{'s' if max_errors != 1 else ''} shown; "
                    "stopping (use --max-errors N for more, 0 for all)")
                break
            continue
        report = run_check(u, userspace=userspace)
        for d in report.items:
            err(d.render(u.source_name, text_of(u.source)))
            warned = warned or d.severity == "warning"
        n = len(u.context.schemes)
        out(f"{u.source_name}: {n} scheme{'s' if n != 1 else ''}, "
            f"{min_version_line(u.context)}")
        at = f" at Linux {kernel}" if version else ""
        out(f"{u.source_name}: interfaces{at}: "
            f"{interfaces_line(u.context, version, verdicts)}")
    if failed:
        return EXIT_BAD_INPUT
    return EXIT_FAILED if strict and warned else 0


def _check_file(path: str, userspace: bool, version, limit: int | None):
    """(errors, unit, name, text, verdicts) for ``path``: its errors -- all of
    a DAMOS file's up to ``limit``, damo JSON's first of each scheme and
    target -- or its unit."""
    from .catalog import USERSPACE
    from .features import interfaces_at
    from .pipeline import build
    from .source import read_source
    try:
        src = read_source(path)
    except DamosError as e:
        return [e], None, path, None, None
    text = text_of(src)
    try:
        if src.kind == "damos":
            from .lower import parse_all
            program, errors = parse_all(src.text, limit)
            if errors:
                return errors, None, src.name, text, None
        else:
            from .damo_input import parse_damo_json
            errors = []
            program = parse_damo_json(src.text, errors)
            if errors:
                return errors, None, src.name, text, None
        u = build(src, program, interface=USERSPACE if userspace else None)
    except DamosError as e:
        return [e], None, src.name, text, None
    verdicts = None
    if version is not None:
        # the file must run through at least one kernel interface at that version
        verdicts = interfaces_at(u.context, version)
        kernel_ifaces = [(n, e) for n, e in verdicts if n != USERSPACE]
        if all(e is not None for _, e in kernel_ifaces):
            return [kernel_ifaces[0][1]], None, u.source_name, text, None
    return [], u, u.source_name, text, verdicts


@body
def fmt(files: list[str], check_only: bool = False, write: bool = False) -> int:
    from .fmt import format_source
    status = 0
    for path in files:
        src = read(path)
        if src.kind != "damos":
            fail(DamosError("fmt formats DAMOS source; compile damo JSON with "
                            "'--target damos' instead"), src.name)
        try:
            formatted = format_source(src.text)
        except DamosError as e:
            fail(e, src.name, src.text)
        if check_only:
            if formatted != src.text:
                import difflib
                diff = difflib.unified_diff(src.text.splitlines(keepends=True),
                                            formatted.splitlines(keepends=True),
                                            f"{src.name}", f"{src.name} (formatted)")
                err("".join(diff), nl=False)
                err(f"{src.name}: not formatted (run: damos fmt --write {path})")
                status = EXIT_FAILED
        elif write:
            if formatted != src.text:
                try:
                    write_atomically(path, formatted)
                except DamosError as e:
                    fail(e, "damos")
                err(f"formatted {path}")
        else:
            out(formatted, nl=False)
    return status


@body
def explain(file: str) -> int:
    from .explain import explain as run_explain
    out(run_explain(unit(file)), nl=False)


@body
def compile(file: str, target: str, output: str | None = None, kernel: str | None = None,
            pid: int | None = None, max_policy: str = "unbounded", **target_options) -> int:
    """``target_options`` are the targets' declared options (Options fields)."""
    from . import targets
    from .convert import MAX_POLICIES
    try:
        mod = targets.get(target)
        if max_policy not in MAX_POLICIES:
            raise DamosError(f"--max must be one of {', '.join(MAX_POLICIES)}")
    except DamosError as e:
        fail(e, "damos")
    version = kernel_version(kernel)
    opts = targets.Options(kernel=version, max_policy=max_policy, pid=pid, **target_options)
    try:
        targets.check_options(mod, opts, foreign=True)
    except DamosError as e:
        fail(e, "damos")
    u = unit(file, interface=getattr(mod, "INTERFACE", None), kernel=version, pid=pid)
    try:
        result = mod.compile(u, opts)
        if isinstance(result, dict):
            if opts.install:
                for line in mod.install(result, opts.install):
                    err(line)
            if not output and not opts.install and hasattr(mod, "on_stdout"):
                out(mod.on_stdout(result), nl=False)
                return 0
            if not output and not opts.install:
                raise DamosError(f"the {target} target writes several files: give -o DIR "
                                 "(or --install TREE)")
            if output:
                write_files(output, result)
            return 0
        if output and output != "-":
            write_atomically(output, result, executable=mod.NAME == "sysfs")
        else:
            out(result, nl=False)
    except DamosError as e:
        fail(e, u.source_name if e.loc or e.diagnostic.path else "damos", text_of(u.source))
    return 0


@body
def list_targets() -> int:
    from .targets import registry
    for name, mod in registry().items():
        doc = (mod.__doc__ or "").strip().splitlines()
        # the docstrings are reST: ``x`` reads as x on a terminal
        out(f"{name:12} {doc[0].replace('``', '') if doc else ''}")


def write_files(directory: str, files: dict) -> None:
    """Write ``{relative path: text}`` under ``directory``, each file atomically."""
    for rel, text in files.items():
        path = os.path.join(directory, rel)
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        except OSError as e:
            raise DamosError(f"cannot create {os.path.dirname(path)}: {e.strerror}") from None
        write_atomically(path, text)
        err(f"wrote {path}")


def write_atomically(path: str, text: str, executable: bool = False) -> None:
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


__all__ = ["check", "fmt", "explain", "compile", "list_targets"]
