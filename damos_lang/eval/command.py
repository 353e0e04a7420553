"""The body of ``damos eval FILE [options] -- CMD ARGS``; returns the exit
status (cli.py only declares the options).

Exit 0: every run done; 1: the workload failed or DAMON refused during the
eval (the runs done so far are reported; DAMON is stopped); 2: bad input
(file, option, command, engine that cannot run here), before anything ran."""
from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from typing import List, Optional

from .. import catalog
from ..console import EXIT_FAILED, err, fail, out
from ..errors import DamosError
from ..pipeline import text_of, unit_or_exit
from . import engines as E
from . import plan as P
from . import report


def _bad(msg: str) -> None:
    fail(DamosError(msg), "damos eval")


def _run_line(r) -> str:
    cpu = "n/a" if r.damon_cpu_s is None else f"{r.damon_cpu_s:.2f} s"
    return (f"{r.arm} run {r.index + 1}: wall {r.wall_s:.2f} s, "
            f"RSS mean {r.rss_mean_mib:.1f} MiB peak {r.rss_peak_mib:.1f} MiB, DAMON CPU {cpu}")


class Progress:
    """What the eval shows on standard error while it runs (the view the plan
    updates): nothing with --quiet; on a terminal a bar -- run N/M, the arm,
    the time since the eval and since the run started -- with each run's line
    printed above it; elsewhere (CI, a pipe, a file) one line per run."""

    def __init__(self, quiet: bool = False, tty: Optional[bool] = None, console=None):
        self.quiet = quiet
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.console = console
        self.bar = None
        self.task = None

    def _start(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, Progress as Bar, ProgressColumn, TextColumn,
                                   TimeElapsedColumn)
        from rich.text import Text

        class RunElapsed(ProgressColumn):
            def render(self, task):
                t0 = task.fields.get("t0")
                if t0 is None:          # between runs
                    return Text("")
                s = int(time.monotonic() - t0)
                return Text(f"this run {s // 60}:{s % 60:02d}")

        console = self.console or Console(stderr=True)
        self.bar = Bar(TextColumn("damos eval"), BarColumn(),
                       TextColumn("run {task.fields[run]}/{task.total}"),
                       TextColumn("{task.fields[arm]}"), TimeElapsedColumn(), RunElapsed(),
                       console=console, transient=True, refresh_per_second=4)
        self.task = self.bar.add_task("eval", total=total, run=0, arm="", t0=None)
        self.bar.start()

    def update(self, step, done: int, total: int, runs) -> None:
        if self.quiet:
            return
        finished = bool(runs and done and runs[-1].arm == step.arm
                        and runs[-1].index == step.index)
        if not self.tty:
            if finished:
                err(f"damos eval: [{done}/{total}] {_run_line(runs[-1])}")
            return
        if self.bar is None:
            self._start(total)
        if finished:
            self.bar.console.print(f"damos eval: [{done}/{total}] {_run_line(runs[-1])}",
                                   markup=False, highlight=False)
            self.bar.update(self.task, completed=done, arm=f"{step.arm} done", t0=None)
        else:
            self.bar.update(self.task, completed=done, run=done + 1,
                            arm=f"{step.arm} #{step.index + 1}", t0=time.monotonic())

    def close(self) -> None:
        """End the bar (before the table is printed, and on any exit)."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def hypervisor() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return "hypervisor" in line.split()
    except OSError:
        pass
    return False


def machine() -> dict:
    from .runner import meminfo
    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "mem_mib": meminfo().get("MemTotal", 0) // 1024, "hypervisor_flag": hypervisor(),
            "kvm": os.path.exists("/dev/kvm"),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def eval_file(file: str, command: List[str], *, repeat: int = 3, via: str = "kernel",
              json_out: Optional[str] = None, sysfs_root: Optional[str] = None,
              module_root: Optional[str] = None, drop_caches: bool = False,
              dilate: str = "off", stop_damon_stat: bool = False, quiet: bool = False,
              sample_s: float = 0.05, vary: Optional[List[str]] = None,
              png: Optional[str] = None, thp: Optional[str] = None,
              thp_root: Optional[str] = None, view: Optional[Progress] = None) -> int:
    from ..console import Exit
    try:
        return _eval(file, command, repeat, via, json_out, sysfs_root, module_root,
                     drop_caches, dilate, stop_damon_stat, quiet, sample_s, vary or [], png,
                     thp, thp_root, view)
    except Exit as e:
        return e.code


def _thp_check(spec: str, via: str, axes, sysfs_root, thp_root):
    """--thp's arms and the checked THP mode, or exit 2 saying why not."""
    from . import thp as T
    if via == "reclaim":
        _bad("--thp cannot be combined with --via reclaim: DAMON_RECLAIM only pages out, "
             "its scheme has no hugepage action (use --via kernel)")
    if axes:
        _bad("--thp cannot be combined with --vary: both set the arms (run two evals)")
    try:
        arms = T.parse_arms(spec)
        mode = T.ThpMode(T.default_root(thp_root, sysfs_root))
        mode.check([T.MODE[a] for a in arms])
    except DamosError as e:
        _bad(e.diagnostic.message)
    return arms, mode


def _eval(file, command, repeat, via, json_out, sysfs_root, module_root, drop_caches,
          dilate, stop_damon_stat, quiet, sample_s, vary_specs, png, thp_spec, thp_root,
          view) -> int:
    from . import thp as T
    from . import vary
    if via not in E.VIAS:
        _bad(f"--via must be one of {', '.join(E.VIAS)}, not {via!r}")
    if repeat < 1:
        _bad(f"--repeat must be at least 1, not {repeat}")
    if not command:
        _bad("no workload: give it after '--' (damos eval FILE -- CMD ARGS)")
    if shutil.which(command[0]) is None:
        _bad(f"the workload command {command[0]!r} is not found (or not executable)")
    for opt, path in (("--json", json_out), ("-o", png)):
        if path is not None:
            d = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(d):
                _bad(f"{opt} {path}: no directory {d}")
    if png is not None:
        from ..report.plot import MissingMatplotlib, pyplot
        try:
            pyplot()
        except MissingMatplotlib as e:
            _bad(str(e).replace("damos report", "damos eval"))
    try:
        axes = vary.parse_vary(vary_specs)
    except DamosError as e:
        _bad(e.diagnostic.message)
    if via == "reclaim" and axes:
        _bad("--vary applies to --via kernel and run (DAMON_RECLAIM runs one fixed scheme)")
    if thp_root is not None and thp_spec is None:
        _bad("--thp-root goes with --thp")
    thp_arms, thp = _thp_check(thp_spec, via, axes, sysfs_root, thp_root) \
        if thp_spec is not None else ((), None)
    try:
        factor, dilation_note = P.resolve_dilation(dilate)
    except DamosError as e:
        _bad(e.diagnostic.message)
    interface = catalog.USERSPACE if via == "run" else (None if via == "reclaim" else catalog.SYSFS)
    unit = unit_or_exit(file, interface=interface)
    try:
        E.check_unit(unit, via)
    except DamosError as e:
        fail(e, unit.source_name, text_of(unit.source))
    scheme_unit = P.dilate(unit, factor)
    monitor_unit = P.monitoring_only(scheme_unit)
    try:
        schemes = vary.variants(unit, axes) if axes else [("scheme", unit)]
    except DamosError as e:
        _bad(e.diagnostic.message)
    schemes = [(name, P.dilate(u, factor)) for name, u in schemes]
    arms = ("baseline", "monitor", *(name for name, _ in schemes))
    damon_arms = arms[1:]
    if thp is not None:     # no monitoring-only arm: the THP modes are the references
        arms, damon_arms = thp_arms, [a for a in thp_arms if a == "scheme"]
    if via == "kernel":
        eng = E.KernelEngine(sysfs_root, module_root)
        engines = {a: eng for a in damon_arms}
    elif via == "run":
        eng = E.RunEngine()
        engines = {a: eng for a in damon_arms}
    else:
        mr = module_root or ("/sys/module" if sysfs_root is None else None)
        if mr is None:
            _bad("--via reclaim with --sysfs-root needs --module-root")
        engines = {"monitor": E.KernelEngine(sysfs_root, mr),
                   "scheme": E.ReclaimEngine(mr, sysfs_root)}
    notes = [dilation_note]
    prepared = []
    try:
        for e in dict.fromkeys(engines.values()):
            if isinstance(e, E.KernelEngine):
                notes += e.prepare(stop_damon_stat)
            else:
                notes += e.prepare()
            prepared.append(e)
    except DamosError as e:
        for p in prepared:
            notes += p.finish()
        _bad(e.diagnostic.message)
    meta = {"file": unit.source_name, "command": list(command), "via": via, "repeat": repeat,
            "dilation": {"factor": factor, "why": dilation_note}, "machine": machine(),
            "drop_caches": drop_caches, "arms": list(arms),
            "vary": [{"setting": a.setting, "values": list(a.values)} for a in axes]}
    pairs = None
    if thp is not None:
        pairs = T.change_pairs(arms)
        meta["thp"] = {"root": thp.root, "modes": {a: T.MODE[a] for a in arms},
                       "mode_before": thp.original, "defrag": thp.defrag}
    if not quiet:
        err(f"damos eval: {unit.source_name} on {' '.join(command)}: "
            f"{repeat} x {'/'.join(arms)} via {via}")
        if thp is not None:
            err(f"damos eval: THP mode per arm: "
                f"{', '.join(f'{a}: {T.MODE[a]}' for a in arms)} (now: {thp.original})")
        err(f"damos eval: {dilation_note}")
    units = {"monitor": monitor_unit, **dict(schemes)}
    view = view or Progress(quiet)
    try:
        result = P.execute(units, list(command), engines, repeat=repeat,
                           drop_caches=drop_caches, view=view, sample_s=sample_s, arms=arms,
                           thp=thp, thp_modes=T.MODE if thp is not None else None)
    finally:
        view.close()
    result.notes[:0] = notes
    out(report.table(result, pairs=pairs), nl=False)
    if thp is not None:
        fr = T.fractions(report.summaries(result.runs))
        meta["thp"].update(mode_after=thp.now, fractions=fr)
        out(T.text(fr), nl=False)
    done_arms = {r.arm for r in result.runs}
    rows = None
    if axes and set(arms) <= done_arms:
        rows = vary.tradeoff(report.summaries(result.runs), list(arms[2:]))
        meta["tradeoff"] = rows
        out(vary.text(rows), nl=False)
        result.notes.append(f"each variant sets {', '.join(a.setting for a in axes)} in "
                            "every scheme of the file")
    if meta["machine"]["hypervisor_flag"]:
        result.notes.append("the CPU reports the hypervisor flag: a virtual machine "
                            f"({'with' if meta['machine']['kvm'] else 'no'} /dev/kvm inside); "
                            "figures compare with each other, not with bare-metal ones")
    for n in result.notes:
        out(f"note: {n}")
    if png and result.runs:
        title = f"{unit.source_name}: {' '.join(command)}"[:90]
        if rows is not None:
            vary.plot(rows, png, title)
        elif not axes:
            report.rss_plot(result, png, title)
        if not quiet:
            err(f"damos eval: wrote {png}")
    if json_out:
        with open(json_out, "w") as f:
            f.write(report.to_json(result, meta, pairs))
        if not quiet:
            err(f"damos eval: wrote {json_out}")
    if result.stopped:
        err(f"damos eval: error: {result.stopped}; the eval stopped (DAMON stopped, "
            f"{len(result.runs)} runs kept)")
        return EXIT_FAILED
    return 0
