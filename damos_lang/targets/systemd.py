"""A systemd unit that applies the file at boot (``damos apply --ensure``), or runs it in user space (``--engine run``).

The kernel engine (``--engine apply``, the default) is a ``Type=oneshot``
service with ``RemainAfterExit=yes``: ExecStartPre checks the file against the
running kernel (``%v`` is systemd's specifier for ``uname -r``: ExecStartPre
runs no shell, so ``$(uname -r)`` would reach damos as those nine characters),
ExecStart and ExecReload converge with ``damos apply --ensure`` (exit 3 and 4
are successes), ExecStop stops only this file's kdamond (``damos stop
--file``).  ``Restart=`` is refused for oneshot services before systemd 254,
so ``--ensure-every TIME`` keeps the file applied with a companion timer and
service instead.  The user-space engine (``--engine run``) is a
``Type=simple`` service with ``Restart=on-failure`` around ``damos run``.

With ``-o DIR`` the unit goes into DIR with its drop-in directory
(``damos-NAME.service.d/``, for node-local changes) and, with
``--ensure-every``, the timer and its service; on standard output only the
unit (docs/fleet.md).
"""
from __future__ import annotations

import re
import shlex

from .. import __version__
from ..catalog import SYSFS, USERSPACE
from ..errors import DamosError
from ..pipeline import gate
from . import TargetOption
from ._fleet import (DEPLOY_DIR, NAME_OPTION, STOP_DAMON_STAT_OPTION, derived_name,
                     is_pid_target, needs_pid, stem)

NAME = "systemd"
INTERFACE = None     # gated by the engine in compile(): sysfs for apply, user space for run

ENGINES = ("apply", "run")
OPTIONS = (
    NAME_OPTION,
    STOP_DAMON_STAT_OPTION,
    TargetOption("deploy_path", "--deploy-path", "PATH",
                 f"systemd: where the file is on the node (default: {DEPLOY_DIR}/NAME.damos)"),
    TargetOption("damos_bin", "--damos-bin", "PATH",
                 "systemd: the damos command on the node (default: /usr/local/bin/damos)"),
    TargetOption("ensure_every", "--ensure-every", "TIME",
                 "systemd: also a timer that runs 'damos apply --ensure' every TIME (30s, 5min, "
                 "1h), which re-applies it if its kdamond stopped; needs -o DIR"),
    TargetOption("engine", "--engine", "ENGINE",
                 "systemd: apply (a kdamond, the default) or run (damos run in user space)",
                 choices=ENGINES, refusal="--engine must be apply or run, not {value!r}"),
    TargetOption("exec_command", "--exec", "'CMD ARGS'",
                 "systemd, --engine run: start this workload under damos run "
                 "(damos run FILE -- CMD ARGS)"),
)

UNIT_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,198}[A-Za-z0-9_-])?\Z")
# what a path in a unit may hold: '%' and '$' are escaped; no white space,
# quotes, backslashes or ';' (RequiresMountsFor= would need quoting rules of its own)
PATH = re.compile(r"/[A-Za-z0-9._+@=,:%$/~^#&()\[\]{}!*?<>|-]*\Z")
SPAN = re.compile(r"([0-9]+)(s|sec|m|min|h)\Z")
SPAN_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
MIN_EVERY, MAX_EVERY = 10, 86400
DEFAULT_BIN = "/usr/local/bin/damos"
# systemd's own success statuses besides 0 for damos apply --ensure: updated, applied
ENSURE_SUCCESS = "3 4"


def unit_name(options, unit) -> str:
    name = derived_name(unit, options, "A-Za-z0-9_.-", lower=False, limit=200)
    if not UNIT_NAME.match(name):
        raise DamosError(f"--name {name!r}: a unit name takes letters, digits and '_.-' "
                         "(at most 200, starting with a letter or digit, not ending with '.')")
    return name


def _path(flag: str, value: str) -> str:
    if not PATH.match(value) or "//" in value or "/./" in value or "/../" in value \
            or value.endswith(("/.", "/..")) or (value.endswith("/") and value != "/"):
        raise DamosError(f"{flag} {value!r}: give a normalized absolute path without white "
                         "space, quotes, backslashes or ';'")
    return value


def arg(text: str) -> str:
    """One word of an Exec= command line, as systemd reads it back: '%' is a
    specifier and '$' a variable unless doubled; a word with characters
    systemd would split or unquote at goes in double quotes."""
    text = text.replace("%", "%%").replace("$", "$$")
    if text and not re.search(r"[\s\"'\\;]", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command(words) -> str:
    return " ".join(arg(w) for w in words)


def every_seconds(text: str) -> int:
    m = SPAN.match(text.strip())
    if not m:
        raise DamosError(f"--ensure-every {text!r}: write a time such as 30s, 5min or 1h")
    n = int(m.group(1)) * SPAN_SECONDS[m.group(2)]
    if not MIN_EVERY <= n <= MAX_EVERY:
        raise DamosError(f"--ensure-every {text!r}: give {MIN_EVERY}s to 24h")
    return n


def _exec_words(text: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise DamosError(f"--exec {text!r}: {e}") from None
    if not words:
        raise DamosError("--exec needs a command")
    if not words[0].startswith("/"):
        raise DamosError(f"--exec {text!r}: give the command's absolute path (systemd "
                         "starts it with no shell and no PATH of the user's)")
    for w in words:
        if any(ord(c) < 32 or ord(c) == 127 for c in w):
            raise DamosError(f"--exec {text!r}: control characters cannot be in a unit")
    return words


class Plan:
    """The checked options of one unit: every refusal happens here, before text."""

    def __init__(self, unit, options):
        self.engine = options.engine
        if self.engine not in ENGINES:
            raise DamosError(f"--engine must be apply or run, not {self.engine!r}")
        run = self.engine == "run"
        if not run and options.exec_command is not None:
            raise DamosError("--exec applies to --engine run (damos run starts the workload)")
        if run and options.stop_damon_stat:
            raise DamosError("--stop-damon-stat applies to --engine apply: damos run uses no "
                             "kdamond")
        if run and options.ensure_every is not None:
            raise DamosError("--ensure-every applies to --engine apply: a damos run unit "
                             "restarts on failure (Restart=on-failure)")
        gate(unit, USERSPACE if run else SYSFS, options.kernel)
        self.exec = _exec_words(options.exec_command) if options.exec_command is not None \
            else None
        if self.exec and options.pid is not None:
            raise DamosError("--pid and --exec exclude each other: damos run takes one target")
        if run and self.exec and len(unit.context.targets) > 1:
            raise DamosError(f"the file has {len(unit.context.targets)} targets; --exec starts "
                             "one process", unit.context.targets[1].loc)
        if run and not self.exec and not any(t.pid is not None for t in unit.context.targets):
            # damos run with no process simulates a workload: not what a unit is for
            if is_pid_target(unit):
                needs_pid(unit, " or --exec 'CMD ARGS'")
            raise DamosError("--engine run needs a process: the file's 'target pid N', "
                             "--pid N or --exec 'CMD ARGS'")
        if not run:
            needs_pid(unit)
        self.name = unit_name(options, unit)
        self.service = f"damos-{self.name}.service"
        self.ensure_service = f"damos-{self.name}-ensure.service"
        self.timer = f"damos-{self.name}-ensure.timer"
        suffix = stem(unit)[1]
        self.path = _path("--deploy-path", f"{DEPLOY_DIR}/{self.name}{suffix}"
                          if options.deploy_path is None else options.deploy_path)
        self.bin = _path("--damos-bin", DEFAULT_BIN if options.damos_bin is None
                         else options.damos_bin)
        self.every = every_seconds(options.ensure_every) \
            if options.ensure_every is not None else None
        self.pid = ["--pid", str(options.pid)] if options.pid is not None else []
        self.stat = ["--stop-damon-stat"] if options.stop_damon_stat else []
        self.source = unit.source_name

    def ensure(self) -> str:
        return command([self.bin, "apply", "--ensure", *self.stat, *self.pid, self.path])


def _header(p: Plan, what: str) -> str:
    return (f"# Generated by damos-lang {__version__} from {p.source}: {what}.\n"
            f"# Do not edit: put node-local changes in {p.service}.d/*.conf (docs/fleet.md).\n")


def _requires_mounts(p: Plan) -> str:
    return _text(p.path)


def _text(text: str) -> str:
    """A setting's text where systemd expands specifiers (Description=, paths)."""
    return text.replace("%", "%%")


def apply_unit(p: Plan) -> str:
    stat = ("\n# It stops DAMON_STAT while its kdamond runs and starts it again on stop."
            if p.stat else "")
    wants = f"Wants={p.timer}\n" if p.every else ""
    return (_header(p, "applies the file with damos apply --ensure") +
            "# Exit statuses of apply --ensure: 0 unchanged, 3 updated, 4 applied (successes),\n"
            f"# 1 the kernel refused, 2 bad input.{stat}\n"
            "[Unit]\n"
            f"Description=DAMOS schemes of {_text(p.path)} (damos-lang)\n"
            # sysfs is mounted by PID 1 before any unit runs, and DAMON's sysfs
            # interface is built in (CONFIG_DAMON_SYSFS is not a module): a kernel
            # without it skips the unit rather than failing it
            "ConditionPathIsDirectory=/sys/kernel/mm/damon/admin\n"
            f"RequiresMountsFor={_requires_mounts(p)}\n"
            f"{wants}"
            "\n[Service]\n"
            "Type=oneshot\n"
            "RemainAfterExit=yes\n"
            f"ExecStartPre={command([p.bin, 'check', '--kernel'])} %v {command([p.path])}\n"
            f"ExecStart={p.ensure()}\n"
            f"ExecReload={p.ensure()}\n"
            f"ExecStop={command([p.bin, 'stop', '--file', p.path])}\n"
            f"SuccessExitStatus={ENSURE_SUCCESS}\n"
            f"SyslogIdentifier=damos-{p.name}\n"
            "Environment=PYTHONUNBUFFERED=1\n"
            "\n[Install]\n"
            "WantedBy=multi-user.target\n")


def run_unit(p: Plan) -> str:
    words = [p.bin, "run", *p.pid, p.path]
    if p.exec:
        words += ["--", *p.exec]
    return (_header(p, "runs the file in user space with damos run") +
            "[Unit]\n"
            f"Description=DAMOS schemes of {_text(p.path)} in user space (damos run)\n"
            f"RequiresMountsFor={_requires_mounts(p)}\n"
            "\n[Service]\n"
            "Type=simple\n"
            f"ExecStartPre={command([p.bin, 'check', '--userspace', p.path])}\n"
            f"ExecStart={command(words)}\n"
            "Restart=on-failure\n"
            "RestartSec=10s\n"
            # damos run stops at SIGTERM and prints its summary
            "TimeoutStopSec=10s\n"
            f"SyslogIdentifier=damos-{p.name}\n"
            "Environment=PYTHONUNBUFFERED=1\n"
            "\n[Install]\n"
            "WantedBy=multi-user.target\n")


def ensure_service(p: Plan) -> str:
    return (_header(p, f"re-applies the file for {p.timer}") +
            "[Unit]\n"
            f"Description=Keep {_text(p.path)} applied (damos apply --ensure)\n"
            f"Requisite={p.service}\n"
            f"After={p.service}\n"
            "ConditionPathIsDirectory=/sys/kernel/mm/damon/admin\n"
            "\n[Service]\n"
            "Type=oneshot\n"
            f"ExecStart={p.ensure()}\n"
            f"SuccessExitStatus={ENSURE_SUCCESS}\n"
            f"SyslogIdentifier=damos-{p.name}\n")


def timer(p: Plan) -> str:
    return (_header(p, f"runs {p.ensure_service} every {p.every}s while {p.service} is "
                       "started") +
            "[Unit]\n"
            f"Description=Keep {_text(p.path)} applied every {p.every}s\n"
            # started by the unit (its Wants=) once it is active, stopped when it
            # stops or fails: 'systemctl stop' of the unit is never undone by the
            # timer, and the unit's state is what the timer keeps
            f"BindsTo={p.service}\n"
            f"After={p.service}\n"
            "\n[Timer]\n"
            f"OnActiveSec={p.every}s\n"
            f"OnUnitActiveSec={p.every}s\n"
            f"Unit={p.ensure_service}\n")


def drop_in(p: Plan) -> str:
    return (f"# Drop-ins for {p.service}: systemd reads every *.conf here after the unit,\n"
            "# in name order, so a node's own settings survive a new generated unit.\n"
            "# ('systemctl edit' writes override.conf here.)  For example, to keep\n"
            "# DAMON_STAT running on this node:\n"
            "#[Service]\n"
            "#ExecStart=\n"
            f"#ExecStart={command([p.bin, 'apply', '--ensure', *p.pid, p.path])}\n")


def compile(unit, options) -> dict:
    p = Plan(unit, options)
    files = {p.service: (run_unit if p.engine == "run" else apply_unit)(p),
             f"{p.service}.d/50-local.conf": drop_in(p)}
    if p.every:
        files[p.timer] = timer(p)
        files[p.ensure_service] = ensure_service(p)
    return files


def on_stdout(files: dict) -> str:
    """The one file standard output holds: the unit (the timer needs -o DIR)."""
    timers = [n for n in files if n.endswith(".timer")]
    if timers:
        raise DamosError(f"--ensure-every writes three units ({timers[0]} and its service "
                         "besides the unit): give -o DIR")
    return next(text for n, text in files.items() if n.endswith(".service"))
