"""The eval's plan: which arms, in which order, and what happens between runs.

Arms: ``baseline`` (no DAMON), ``monitor`` (the file's monitoring, every
scheme's action replaced by ``stat``: DAMON's cost alone) and ``scheme``
(the file as written).  They alternate -- baseline, monitor, scheme,
baseline, ... -- ``repeat`` times, so that a drift of the machine over the
eval hits every arm alike.  Between runs, with ``drop_caches``, the page
cache is dropped and swap emptied (each swap off and on again), as root only.

Dilation: under emulation the program runs N times slower while DAMON's
intervals are wall-clock, so :func:`dilate` multiplies every DAMON time of
the file by N (sample, aggr, update -- and with them every age, which the
kernel counts in aggregation intervals --, apply intervals, quota reset
intervals, watermark check intervals, intervals-goal sample bounds)."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, replace
from typing import List, Optional

from ..errors import DamosError
from . import runner

ARMS = ("baseline", "monitor", "scheme")
# the calibration loop and the figure it takes on an unemulated 2 GHz-class
# x86 core (measured: python3.11, host of the rig, idle); --dilate auto
# compares with DAMOS_EVAL_HOST_CALIBRATION when set, else with this
CALIBRATION_N = 2_000_000
HOST_CALIBRATION_S = 0.12


def monitoring_only(unit):
    """The unit with every scheme's action ``stat`` (nothing else acts)."""
    ctx = unit.context
    schemes = tuple(replace(s, action="stat", dests=(), target_nid=None)
                    for s in ctx.schemes)
    return replace(unit, context=replace(ctx, schemes=schemes))


def _times(x: int, n: float, cap: int) -> int:
    return min(cap, int(round(x * n))) if x else 0


def dilate(unit, n: float):
    """The unit with every DAMON time multiplied by ``n``."""
    if n == 1:
        return unit
    from ..units import ULONG_MAX
    ctx = unit.context
    iv = ctx.intervals
    ivs = replace(iv, sample_us=_times(iv.sample_us, n, ULONG_MAX),
                  aggr_us=_times(iv.aggr_us, n, ULONG_MAX),
                  update_us=_times(iv.update_us, n, ULONG_MAX))
    goal = ctx.intervals_goal
    if goal is not None:
        goal = replace(goal, min_sample_us=_times(goal.min_sample_us, n, ULONG_MAX),
                       max_sample_us=_times(goal.max_sample_us, n, ULONG_MAX))
    schemes = []
    for s in ctx.schemes:
        q = s.quota
        if q is not None:
            q = replace(q, reset_interval_ms=_times(q.reset_interval_ms, n, ULONG_MAX))
        w = s.watermarks
        if w is not None:
            w = replace(w, interval_us=_times(w.interval_us, n, ULONG_MAX))
        schemes.append(replace(s, quota=q, watermarks=w,
                               apply_interval_us=_times(s.apply_interval_us, n, ULONG_MAX)))
    return replace(unit, context=replace(ctx, intervals=ivs, intervals_goal=goal,
                                         schemes=tuple(schemes)))


def calibrate(n: int = CALIBRATION_N) -> float:
    """Seconds of a fixed CPU-bound loop here (the best of three)."""
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        x = 0
        for i in range(n):
            x += i & 7
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


def parse_dilate(text: str) -> tuple[str, Optional[float]]:
    """``--dilate``: ("off", None), ("auto", None) or ("n", N)."""
    t = text.strip().lower()
    if t in ("off", "1"):
        return "off", None
    if t == "auto":
        return "auto", None
    try:
        n = float(t)
    except ValueError:
        raise DamosError(f"--dilate must be auto, off or a factor (e.g. 10), not {text!r}")
    if not 1 <= n <= 1000:
        raise DamosError(f"--dilate factor must be between 1 and 1000, not {text!r}")
    return "n", n


def resolve_dilation(text: str, host_s: Optional[float] = None) -> tuple[float, str]:
    """(factor, the sentence the output says about it)."""
    kind, n = parse_dilate(text)
    if kind == "off":
        return 1.0, "dilation off: DAMON's times are as written"
    if kind == "n":
        return n, (f"DAMON's times dilated x{n:g} (--dilate {n:g}): every interval, age, "
                   "quota reset and watermark interval of the file, so that they keep "
                   "their meaning for a program that runs that much slower here")
    env = os.environ.get("DAMOS_EVAL_HOST_CALIBRATION")
    host = host_s if host_s is not None else (float(env) if env else HOST_CALIBRATION_S)
    here = calibrate()
    f = max(1.0, round(here / host, 1))
    if f < 1.5:
        return 1.0, (f"dilation auto: the calibration loop took {here:.3f} s against "
                     f"{host:.3f} s on an unemulated host: no emulation slowdown, times as written")
    return f, (f"DAMON's times dilated x{f:g} (--dilate auto): the calibration loop took "
               f"{here:.3f} s against {host:.3f} s on an unemulated host, so this machine "
               f"(emulated?) runs programs about {f:g}x slower while DAMON's intervals are "
               "wall-clock")


@dataclass
class Step:
    arm: str
    index: int       # 0-based repeat


def order(repeat: int, arms=ARMS) -> List[Step]:
    """baseline, monitor, scheme, baseline, ... ``repeat`` rounds."""
    return [Step(a, i) for i in range(repeat) for a in arms]


def swaps() -> List[str]:
    """The active swap devices and files (/proc/swaps)."""
    try:
        with open("/proc/swaps") as f:
            return [line.split()[0] for line in f.read().splitlines()[1:] if line.strip()]
    except OSError:
        return []


def settle(drop_caches: bool) -> str | None:
    """Between runs: drop the page cache and empty swap (each active swap off
    and on again by name: ``swapon -a`` would only know fstab's, not a zram
    set up by hand).  Returns why it was skipped (None when it was done)."""
    if not drop_caches:
        return "page cache not dropped and swap not emptied between runs (no --drop-caches)"
    if os.geteuid() != 0:
        return "page cache not dropped and swap not emptied between runs (not root)"
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    for dev in swaps():
        r = subprocess.run(["swapoff", dev], capture_output=True, text=True)
        r2 = subprocess.run(["swapon", dev], capture_output=True, text=True)
        if r.returncode or r2.returncode:
            return f"swap {dev} could not be emptied: " + (r.stderr or r2.stderr).strip()
    return None


@dataclass
class Result:
    runs: List[runner.Run]
    notes: List[str]
    stopped: Optional[str] = None      # why the eval stopped early


def execute(units: dict, argv: List[str], engines: dict, *, repeat: int = 3,
            drop_caches: bool = False, view=None, sample_s: float = runner.SAMPLE_S,
            arms=ARMS, thp=None, thp_modes: Optional[dict] = None) -> Result:
    """Run the plan; ``units`` and ``engines`` map each monitored arm to its
    unit and engine.  With ``thp`` (a checked :class:`.thp.ThpMode`) each run
    first sets the THP mode ``thp_modes`` gives its arm.  Whatever happens,
    every engine is stopped and finished (nothing left applied) and the THP
    mode found is written back; a failing workload ends the eval, keeping
    the runs done (``stopped`` says why)."""
    runs: List[runner.Run] = []
    notes: List[str] = []
    steps = order(repeat, arms)
    prepared = list(dict.fromkeys(engines.values()))   # the caller prepared them
    stopped = None
    try:
        skipped = None
        for k, step in enumerate(steps):
            why = settle(drop_caches) if k else None
            if why and why != skipped:
                notes.append(why)
                skipped = why
            elif k == 1 and why is None:
                notes.append("page cache dropped and swap emptied between runs")
            if view:
                view.update(step, k, len(steps), runs)
            engine = engines.get(step.arm)
            unit = units.get(step.arm)
            go = getattr(engine, "go", None)
            gated = runner.Gated(argv)
            run = final = None
            try:
                if thp is not None:      # before the workload's exec: THP acts at its faults
                    thp.set(thp_modes[step.arm])
                if engine is not None:
                    engine.start(unit, gated.pid)
                run = runner.measure(
                    gated, step.arm, step.index,
                    engine.damon_cpu if engine is not None else (lambda: 0.0),
                    after_open=go, sample_s=sample_s)
            except runner.WorkloadFailed as e:
                stopped = str(e)
            except DamosError as e:
                stopped = f"{step.arm} run {step.index + 1}: {e.diagnostic.message}"
            except KeyboardInterrupt:
                stopped = f"interrupted in the {step.arm} arm, run {step.index + 1}"
            finally:
                gated.kill()
                if engine is not None:
                    try:
                        final = engine.stop()
                    except DamosError as e:
                        stopped = stopped or (f"{step.arm} run {step.index + 1}: "
                                              f"{e.diagnostic.message}")
                    said = engine.run_note()
                    if said:
                        notes.append(f"{step.arm} run {step.index + 1}: {said}")
            if stopped:
                break
            if final is not None:
                run.damon_cpu_s = max(run.damon_cpu_s or 0.0, final)
            runs.append(run)
            if view:
                view.update(step, k + 1, len(steps), runs)
    finally:
        try:
            for e in prepared:      # nothing stays applied, whatever happened
                try:
                    e.stop()
                finally:
                    notes += e.finish()
        finally:
            # the THP mode found comes back also after an exception (Ctrl-C between runs)
            why = thp.restore() if thp is not None else None
            if why:
                notes.append(f"THP mode NOT restored: {why}")
                stopped = stopped or f"the THP mode could not be restored: {why}"
            elif thp is not None:
                per_arm = ", ".join(f"{a}: {thp_modes[a]}" for a in arms)
                notes.append(f"THP mode per arm ({per_arm}); it was '{thp.original}' "
                             "before the eval and is again after it")
    return Result(runs, notes, stopped)
