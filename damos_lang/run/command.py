"""The body of ``damos run``; returns the exit status (cli.py only declares
its options)."""
from __future__ import annotations

import sys
from typing import List, Optional

from ..catalog import USERSPACE
from ..errors import DamosError
from .session import RunError, RunOptions, Session, parse_duration

EXIT_ERROR = 2


def run_file(file: str, *, pid=None, **kw) -> int:
    """``damos run FILE``: the file through the pipeline for user space, then
    :func:`run`.  ``pid`` is one pid or a list (each its own target; one pid
    takes the place of the file's target, as for the kernel)."""
    from ..console import Exit
    from ..pipeline import unit_or_exit
    pids = [] if pid is None else [pid] if isinstance(pid, int) else list(pid)
    try:
        unit = unit_or_exit(file, interface=USERSPACE, pid=pids[0] if len(pids) == 1 else None)
    except Exit as e:
        return e.code
    return run(unit, pid=pids, **kw)


def parse_percent(text: str) -> float:
    """--max-cpu: '2%', '2.5%' or '2' (percent of one CPU), above 0 and at most 100."""
    import math
    t = text.strip()
    try:
        v = float(t[:-1] if t.endswith("%") else t)
    except ValueError:
        v = math.nan
    if not (0 < v <= 100):              # also NaN
        raise RunError(f"--max-cpu {text!r}: give a percentage of one CPU above 0 and at most "
                       "100, e.g. --max-cpu 2%")
    return v


def error(msg: str) -> int:
    print(f"damos run: error: {msg}", file=sys.stderr)
    return EXIT_ERROR


def run(unit, *, pid, sim: Optional[str], command: List[str],
        duration: Optional[str], dry_run: bool, record: Optional[str], realtime: bool,
        seed: int, quiet: bool, cgroup: Optional[str] = None,
        include_children: bool = False, max_cpu: Optional[str] = None, cpu_time=None) -> int:
    """Run ``unit``'s schemes; returns the exit status."""
    ctx = unit.context
    pids = [] if pid is None else [pid] if isinstance(pid, int) else list(pid)
    if sim is not None and (pids or command or cgroup is not None):
        given = [n for n, v in (("--pid", pids), ("--cgroup", cgroup is not None),
                                ("-- CMD", command)) if v]
        return error(f"--sim and {' and '.join(given)} exclude each other: "
                     "simulate, or monitor processes")
    if command and pids:
        return error("--pid and -- CMD exclude each other: give the processes, or start one")
    if command and len(ctx.targets) > 1:
        return error(f"the file has {len(ctx.targets)} targets; '-- CMD' starts one process")
    if include_children and not (pids or command or cgroup is not None
                                 or any(t.pid is not None for t in ctx.targets)):
        return error("--include-children needs processes: --pid, --cgroup or -- CMD")
    try:
        duration_us = parse_duration(duration) if duration else None
        max_cpu_pct = parse_percent(max_cpu) if max_cpu is not None else None
    except RunError as e:
        return error(str(e))
    opts = RunOptions(pids=pids, cgroup=cgroup, include_children=include_children, sim=sim,
                      command=list(command), duration_us=duration_us,
                      dry_run=dry_run, record=record, realtime=realtime, seed=seed,
                      source_name=unit.source_name, max_cpu=max_cpu_pct, cpu_time=cpu_time)
    from .live import LiveView, PlainView, summary_lines
    live = not quiet and sys.stdout.isatty()
    view = LiveView() if live else (None if quiet else PlainView())
    session = Session(ctx, opts, view=view)
    if session.mode() == "sim" and sim is None and not quiet:
        print("damos run: no --pid or command given: running the built-in simulated "
              "workload 'stairs' (--sim CFG for another)", file=sys.stderr)
    try:
        summary = session.run()
    except RunError as e:
        return error(str(e))
    except DamosError as e:
        return error(e.diagnostic.message)
    print("\n".join(summary_lines(summary)))
    sys.stdout.flush()
    return 0
