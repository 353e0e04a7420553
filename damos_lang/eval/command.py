"""The body of ``damos eval FILE [options] -- CMD ARGS``; returns the exit
status (cli.py only declares the options).

Exit 0: every run done; 1: the workload failed or DAMON refused during the
eval (the runs done so far are reported; DAMON is stopped); 2: bad input
(file, option, command, engine that cannot run here), before anything ran."""
from __future__ import annotations

import os
import platform
import shutil
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


class Progress:
    """One line per run on standard error (the view the plan updates)."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def update(self, step, done: int, total: int, runs) -> None:
        if self.quiet:
            return
        if runs and done and runs[-1].arm == step.arm and runs[-1].index == step.index:
            r = runs[-1]
            cpu = "n/a" if r.damon_cpu_s is None else f"{r.damon_cpu_s:.2f} s"
            err(f"damos eval: [{done}/{total}] {r.arm} run {r.index + 1}: wall {r.wall_s:.2f} s, "
                f"RSS mean {r.rss_mean_mib:.1f} MiB peak {r.rss_peak_mib:.1f} MiB, "
                f"DAMON CPU {cpu}")


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
              png: Optional[str] = None) -> int:
    from ..console import Exit
    try:
        return _eval(file, command, repeat, via, json_out, sysfs_root, module_root,
                     drop_caches, dilate, stop_damon_stat, quiet, sample_s, vary or [], png)
    except Exit as e:
        return e.code


def _eval(file, command, repeat, via, json_out, sysfs_root, module_root, drop_caches,
          dilate, stop_damon_stat, quiet, sample_s, vary_specs, png) -> int:
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
    if via == "kernel":
        eng = E.KernelEngine(sysfs_root, module_root)
        engines = {a: eng for a in arms[1:]}
    elif via == "run":
        eng = E.RunEngine()
        engines = {a: eng for a in arms[1:]}
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
    if not quiet:
        err(f"damos eval: {unit.source_name} on {' '.join(command)}: "
            f"{repeat} x {'/'.join(arms)} via {via}")
        err(f"damos eval: {dilation_note}")
    units = {"monitor": monitor_unit, **dict(schemes)}
    result = P.execute(units, list(command), engines, repeat=repeat, drop_caches=drop_caches,
                       view=Progress(quiet), sample_s=sample_s, arms=arms)
    result.notes[:0] = notes
    out(report.table(result), nl=False)
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
            f.write(report.to_json(result, meta))
        if not quiet:
            err(f"damos eval: wrote {json_out}")
    if result.stopped:
        err(f"damos eval: error: {result.stopped}; the eval stopped (DAMON stopped, "
            f"{len(result.runs)} runs kept)")
        return EXIT_FAILED
    return 0
