"""One ``damos run``: pick the source, start the workload if asked, run the
monitor with the engine, record, show, and stop cleanly.

Targets (each process its own): the ``--pid``s, the ``-- CMD`` it started, the
processes of ``--cgroup PATH``, and with ``--include-children`` their
descendants (discovery.py); cgroup members and children are re-read at every
update interval, a process that joins is added, one that leaves the cgroup
is dropped.  A target that exits drops out and the others go on; one that
execs (its /proc/PID/exe changes, checked every update interval: a new
program is not what the scheme was written for) drops out too (a cgroup
member or child comes back as a new target at the same update).

Stops, always with a summary (and a record file whose every line is whole):
* the duration is over (simulator default: the workload's own length);
* every target is gone;
* SIGINT or SIGTERM (a flag checked every sampling interval, so the record
  line being written is finished first).
Maps changing under it are the monitor's job (three regions refitted every
update interval) and the actuator's (VMAs re-read every apply pass).
A workload started with ``-- CMD`` that is still running at the end gets
SIGTERM (then SIGKILL after 2 s)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from typing import List, Optional

from .. import catalog
from ..model import Context
from ..monitor import (Monitor, MonitorAttrs, MonitorError, PageIdleSource, SimulatorSource,
                       TargetGone, make_clock)
from ..monitor.regions import set_regions
from ..monitor.tune import CpuBudget, IntervalsGoal
from . import discovery
from . import record as rec
from . import workloads
from .actions import ActionError, MadviseActuator, SimulatorActuator
from .discovery import Membership, TargetError, TargetInfo
from .engine import Engine
from .probe import PagemapProbe, ProbeError, SimulatorProbe
from .sysinfo import SystemInfo


class RunError(Exception):
    """damos run cannot start (one line, for the user)."""


@dataclass
class RunOptions:
    pid: Optional[int] = None
    pids: List[int] = field(default_factory=list)   # more --pid (pid, if given, first)
    cgroup: Optional[str] = None         # a cgroup v2 directory
    include_children: bool = False
    sim: Optional[str] = None            # masim config path or built-in name
    command: List[str] = field(default_factory=list)
    duration_us: Optional[int] = None
    dry_run: bool = False
    record: Optional[str] = None
    realtime: bool = False
    seed: int = 0
    source_name: str = "<program>"
    max_cpu: Optional[float] = None      # --max-cpu: percent of one CPU
    cpu_time: Optional[object] = None    # seam: fn() -> CPU seconds (default time.process_time)


@dataclass
class Summary:
    reason: str
    mode: str
    time_us: int
    aggregations: int
    wall_s: float
    cpu_s: float
    schemes: List[dict]
    resident_start: Optional[int]
    resident_end: Optional[int]
    resident_min: Optional[int]
    dry_run: bool
    workload: Optional[str] = None
    paged_out: Optional[int] = None
    refused: dict = field(default_factory=dict)
    record: Optional[str] = None
    record_lines: int = 0
    regions: int = 0
    hot_bytes: int = 0
    total_bytes: int = 0
    targets: List[TargetInfo] = field(default_factory=list)
    skipped: dict = field(default_factory=dict)      # pid -> why it could not be a target
    samples_taken: int = 0
    samples_due: int = 0
    samples_per_aggr: int = 0
    crossings: Optional[dict] = None    # page_idle: kernel crossings per region-sample
    sample_us: int = 0                  # the intervals at the start (the file's) ...
    aggr_us: int = 0
    final_sample_us: int = 0            # ... and at the end (tuned)
    final_aggr_us: int = 0
    tunings: List[dict] = field(default_factory=list)
    intervals_goal: Optional[dict] = None
    max_cpu: Optional[dict] = None      # what --max-cpu did

    @property
    def fell_behind(self) -> bool:
        return self.samples_taken < self.samples_due

    @property
    def cpu_percent(self) -> float:
        """CPU time over the time monitored (the simulated time in a simulation:
        what it would cost a real process)."""
        return 100.0 * self.cpu_s / (self.time_us / 1e6) if self.time_us else 0.0


def attrs_of(ctx: Context) -> MonitorAttrs:
    iv = ctx.intervals
    g = ctx.intervals_goal
    goal = (IntervalsGoal(g.access_bp, g.aggrs, g.min_sample_us, g.max_sample_us)
            if g is not None and g.aggrs else None)
    try:
        return MonitorAttrs(sample_us=iv.sample_us, aggr_us=iv.aggr_us, update_us=iv.update_us,
                            min_nr_regions=ctx.nr_regions_min,
                            max_nr_regions=min(ctx.nr_regions_max, 1 << 31),
                            intervals_goal=goal)
    except MonitorError as e:
        raise RunError(str(e)) from None


def vm_rss_bytes(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _exe(pid: int) -> Optional[str]:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


class Session:
    """``make_source(pids)`` and ``clock`` are seams for tests (a page_idle
    source over a stand-in bitmap, a clock that falls behind)."""

    def __init__(self, ctx: Context, opts: RunOptions, view=None, make_source=None,
                 clock=None) -> None:
        self.ctx = ctx
        self.opts = opts
        self.view = view
        self.make_source = make_source or (lambda pids: PageIdleSource(pids))
        self.clock = clock
        self.stop_reason: Optional[str] = None
        self.child: Optional[subprocess.Popen] = None
        self.recorder: Optional[rec.Recorder] = None
        self.resident_min: Optional[int] = None
        self.infos: List[TargetInfo] = []     # every target of the run, in order of arrival
        self._current: dict = {}              # pid -> its TargetInfo, while it is a target
        self.skipped: dict = {}
        self._exes: dict = {}
        self._retired: set = set()            # given pids that are gone: never again
        self._ignored: set = set()            # members with nothing to monitor (kernel threads)
        self._added: List[dict] = []          # target events for the next record line
        self._removed: List[dict] = []
        self._tuned: List[dict] = []          # interval changes for the next record line

    # --- setup --------------------------------------------------------------------
    def mode(self) -> str:
        o = self.opts
        if o.command:
            return "command"
        if o.cgroup is not None:
            return "cgroup"
        if o.pid is not None or o.pids:
            return "pid"
        if o.sim is not None:
            return "sim"
        if any(t.pid is not None for t in self.ctx.targets):
            return "pid"
        return "sim"

    def _pids(self) -> List[int]:
        given = ([self.opts.pid] if self.opts.pid is not None else []) + list(self.opts.pids)
        if given:
            return list(dict.fromkeys(given))
        return [t.pid for t in self.ctx.targets if t.pid is not None]

    @property
    def pids(self) -> List[int]:
        """The targets now (pids; the simulator's one target in a simulation)."""
        return [t.target_id for t in self.monitor.targets]

    def setup(self) -> None:
        o = self.opts
        self.attrs = attrs_of(self.ctx)
        mode = self.mode()
        self.workload = None
        self.membership = None
        if mode == "sim":
            self.workload = o.sim or workloads.DEFAULT
            try:
                cfg = workloads.load(self.workload)
            except OSError as e:
                raise RunError(f"cannot read {self.workload}: {e.strerror}") from None
            except MonitorError as e:
                raise RunError(str(e)) from None
            repeat = o.duration_us is not None and o.duration_us > cfg.duration_ms * 1000
            self.source = SimulatorSource(cfg, seed=o.seed, repeat=repeat)
            roots = [self.source.pid]
            self.actuator = SimulatorActuator(self.source, dry_run=o.dry_run)
            self.probe = SimulatorProbe(self.source, self.attrs.aggr_us)
            self.realtime = o.realtime
            self.duration_us = o.duration_us if o.duration_us is not None else self.source.end_us
        else:
            roots, discovered = self._real_targets()
            self.source = self.make_source(roots)
            self.actuator = MadviseActuator(roots, dry_run=o.dry_run)
            self.probe = (PagemapProbe(roots)
                          if any(not catalog.FILTER_TYPES[f.type].core
                                 for s in self.ctx.schemes for f in s.filters) else None)
            self.realtime = True                  # a real process runs in real time
            self.duration_us = o.duration_us
        clock = self.clock if self.clock is not None else make_clock(self.realtime)
        self.monitor = Monitor(self.attrs, self.source, target_ids=roots, seed=o.seed,
                               clock=clock)
        self.monitor.on_targets_changed.append(self._targets_changed)
        self.monitor.on_attrs_changed.append(self._attrs_changed)
        if o.max_cpu is not None:
            g = self.attrs.intervals_goal
            # the budget's floor never narrows below the file's sampling interval,
            # or with a goal its min_sample (where the goal tuner may go anyway)
            budget = CpuBudget(o.max_cpu, g.min_sample_us if g else self.attrs.sample_us,
                               **({"max_sample_us": g.max_sample_us} if g else {}),
                               **({"cpu_time": o.cpu_time} if o.cpu_time else {}))
            self.monitor.set_cpu_budget(budget)
        origin = "command" if mode == "command" else "--pid"
        for pid in roots:
            self._info(pid, origin if mode != "sim" else "simulator")
        try:
            self.monitor.start()
            if mode != "sim":
                self.actuator.open()
        except (MonitorError, ActionError) as e:
            raise RunError(str(e)) from None
        if mode != "sim":
            for pid, why in discovered.items():
                self._add(pid, why)
            if not self.monitor.targets:
                what = (f"--cgroup {o.cgroup}: no process to monitor in it"
                        if o.cgroup is not None else "no process to monitor")
                raise RunError(what)
        self._fixed_regions()
        self.engine = Engine(self.ctx, self.actuator, sysinfo=SystemInfo(), probe=self.probe,
                             min_region_sz=self.attrs.min_region_sz)
        self.engine.attach(self.monitor)
        if mode != "sim":
            self.monitor.on_update.append(self._update_targets)
        self.monitor.on_aggregation.append(self._on_aggregation)
        # a simulated or just started process has touched little yet: its
        # start is the first aggregation
        self.resident_start = None if mode in ("sim", "command") else self.resident()
        if o.record:
            try:
                self.recorder = rec.Recorder(o.record)
            except OSError as e:
                raise RunError(f"cannot write {o.record}: {e.strerror}") from None
            self.recorder.write(rec.header(self.ctx, self.attrs, source=o.source_name, mode=mode,
                                           target_ids=self.pids, dry_run=o.dry_run,
                                           workload=self.workload,
                                           clock_origin_s=self.monitor.clock.origin_s,
                                           target_info=[self._current[p].as_dict()
                                                        for p in self.pids],
                                           max_cpu=o.max_cpu))
            self._added.clear()

    def _real_targets(self):
        """(given pids, {discovered pid: origin}) of a real run; RunError if a
        given pid or the cgroup is not there."""
        o = self.opts
        if self.ctx.ops == "fvaddr" and (o.cgroup is not None or o.include_children
                                         or len(self._pids()) > 1):
            raise RunError("fvaddr's fixed ranges belong to one process: --cgroup, "
                           "--include-children and several --pid need vaddr")
        if self.mode() == "command":
            roots = [self._start_command()]
            origin = "command"
        else:
            roots = self._pids()
            origin = "--pid"
            for pid in roots:
                if not os.path.isdir(f"/proc/{pid}"):
                    raise RunError(f"no such process: pid {pid}")
        cgroup = None
        if o.cgroup is not None:
            try:
                cgroup = discovery.check_cgroup(o.cgroup)
            except TargetError as e:
                raise RunError(str(e)) from None
        self.membership = Membership(roots, origin, cgroup=cgroup, children=o.include_children)
        found = self.membership.scan()
        return roots, {p: why for p, why in found.items() if p not in roots}

    def _start_command(self) -> int:
        try:
            self.child = subprocess.Popen(self.opts.command)
        except OSError as e:
            raise RunError(f"cannot start {self.opts.command[0]}: {e.strerror}") from None
        time.sleep(0.05)                          # let it map its memory before the layout
        return self.child.pid

    def _fixed_regions(self) -> None:
        """fvaddr: the file's fixed ranges, put back after every refit."""
        if self.ctx.ops != "fvaddr":
            return
        ranges = {i: list(t.regions) for i, t in enumerate(self.ctx.targets) if t.regions}

        def refit(monitor) -> None:
            for i, t in enumerate(monitor.targets):
                if i in ranges:
                    set_regions(t, ranges[i], self.attrs.min_region_sz)
        refit(self.monitor)
        self.monitor.on_update.append(refit)

    # --- targets coming and going --------------------------------------------------
    def _info(self, pid: int, origin: str) -> TargetInfo:
        info = TargetInfo(pid, discovery.describe(pid) if self.mode() != "sim" else
                          f"simulated {self.workload}", origin,
                          start_us=self.monitor.now_us if hasattr(self, "monitor") else 0)
        self.infos.append(info)
        self._current[pid] = info
        if self.mode() != "sim":
            self._exes[pid] = _exe(pid)
        return info

    def _add(self, pid: int, origin: str) -> None:
        """A discovered process becomes a target, if there is something to monitor."""
        try:
            added = self.monitor.add_target(pid)
        except TargetGone:
            added = False                         # it exited before it could be added
        except MonitorError as e:
            if not str(e).startswith("no such process"):   # not one that just exited
                self.skipped[pid] = str(e)
            self._ignored.add(pid)
            return
        if not added:
            self._ignored.add(pid)
            return
        info = self._info(pid, origin)
        if self.actuator.__class__ is MadviseActuator:
            self.actuator.add_target(pid)
        self._added.append({"id": pid, "name": info.name, "origin": origin,
                            "time_us": info.start_us})

    def _targets_changed(self, monitor, added, removed) -> None:
        for pid, why in removed:
            info = self._current.pop(pid, None)
            if info is not None:
                info.end_us, info.end = monitor.now_us, why
            self._removed.append({"id": pid, "why": why, "time_us": monitor.now_us})
            if info is not None and info.origin in ("--pid", "command"):
                self._retired.add(pid)
            elif "it executed " not in why:
                # an exited member stays listed while a zombie: not again while
                # it is (one that exec'd comes back as a new target)
                self._ignored.add(pid)
            for thing in (self.actuator, self.probe):
                remove = getattr(thing, "remove_target", None)
                if remove is not None:
                    remove(pid)
            self._exes.pop(pid, None)

    def _attrs_changed(self, monitor, old, change) -> None:
        if change.sample_us == change.old_sample_us:
            return                        # re-set to the same (clamped) interval
        d = {k: v for k, v in asdict(change).items() if v is not None and k != "passed"}
        if d.get("cpu_percent") is not None:
            d["cpu_percent"] = round(d["cpu_percent"], 3)
        self._tuned.append(d)

    def _check_exec(self, monitor) -> None:
        for pid, exe in list(self._exes.items()):
            now = _exe(pid)
            if now is not None and exe is not None and now != exe:
                monitor.remove_target(pid, f"it executed {now}")

    def _update_targets(self, monitor) -> None:
        """Every update interval: targets that exec'd drop out; cgroup members
        and children are re-read, newcomers added, leavers dropped."""
        self._check_exec(monitor)
        if self.membership is None:
            return
        current = [t.target_id for t in monitor.targets]
        want = self.membership.scan(current)
        for pid in current:
            info = self._current.get(pid)
            if pid not in want and info is not None and info.origin.startswith("cgroup "):
                monitor.remove_target(pid, "it left the cgroup")
        self._ignored &= set(want)
        have = {t.target_id for t in monitor.targets}
        for pid, origin in want.items():
            if pid not in have and pid not in self._retired and pid not in self._ignored:
                self._add(pid, origin)

    # --- running ----------------------------------------------------------------------
    def resident(self) -> Optional[int]:
        if self.mode() == "sim":
            return self.source.resident_bytes(self.monitor.now_us)
        vals = [vm_rss_bytes(p) for p in self.pids]
        return None if not vals or any(v is None for v in vals) else sum(vals)

    def _on_aggregation(self, monitor, snapshot) -> None:
        if self.mode() == "sim":
            resident = [self.source.resident_bytes(monitor.now_us)]
        else:
            resident = [vm_rss_bytes(t.target_id) for t in snapshot.targets]
        if all(r is not None for r in resident):
            total = sum(resident)
            self.resident_min = total if self.resident_min is None else min(self.resident_min, total)
            if self.resident_start is None:
                self.resident_start = total
        self.last_snapshot = snapshot
        stats = self.engine.stats()
        if self.recorder:
            origin = monitor.clock.origin_s
            # the real time too: a monitor that cannot keep its sampling
            # interval falls behind its schedule (time_us)
            wall_us = None if origin is None else int((time.monotonic() - origin) * 1e6)
            line = rec.aggregation(snapshot, stats, resident, wall_us)
            if self._added:
                line["targets_added"] = self._added
            if self._removed:
                line["targets_gone"] = self._removed
            if self._tuned:
                line["tuned"] = self._tuned
            self._added, self._removed, self._tuned = [], [], []
            self.recorder.write(line)
        if self.view:
            self.view.update(self, snapshot, stats, resident)

    def _signal(self, signum, frame) -> None:
        self.stop_reason = "interrupted" if signum == signal.SIGINT else "terminated"

    def _gone_reason(self, e: TargetGone) -> str:
        if self.mode() == "sim":
            return "the workload ended"
        if len(self.infos) == 1:
            if "it executed " in str(e):
                return f"the target executed another program ({e})"
            return f"the target exited ({e})"
        return f"all {len(self.infos)} targets are gone (the last: {e})"

    def run(self) -> Summary:
        self.last_snapshot = None
        self.wall0, self.cpu0 = time.monotonic(), time.process_time()
        old = {s: signal.signal(s, self._signal) for s in (signal.SIGINT, signal.SIGTERM)}
        reason = "the duration is over"
        try:
            self.setup()
            if self.view:
                self.view.start(self)
            step = self.monitor.step
            end = self.duration_us
            while self.stop_reason is None:
                if end is not None and self.monitor.now_us >= end:
                    break
                try:
                    step()
                except TargetGone as e:
                    reason = self._gone_reason(e)
                    break
                except (ActionError, ProbeError, MonitorError) as e:
                    raise RunError(str(e)) from None
            if self.stop_reason:
                reason = self.stop_reason
            return self._finish(reason)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            self._cleanup()

    def _finish(self, reason: str) -> Summary:
        end = None
        try:
            end = self.resident() if self.monitor.targets else None
        except TargetGone:
            pass
        snap = self.last_snapshot
        m = self.monitor
        s = Summary(
            reason=reason, mode=self.mode(), time_us=m.now_us,
            aggregations=m.aggregations, wall_s=time.monotonic() - self.wall0,
            cpu_s=time.process_time() - self.cpu0, schemes=self.engine.stats(),
            resident_start=self.resident_start, resident_end=end, resident_min=self.resident_min,
            dry_run=self.opts.dry_run, workload=self.workload,
            paged_out=getattr(self.actuator, "paged_out", None),
            refused=dict(getattr(self.actuator, "refused", {})),
            record=self.opts.record,
            regions=sum(len(t.regions) for t in snap.targets) if snap else 0,
            hot_bytes=snap.bytes_with_accesses() if snap else 0,
            total_bytes=sum(r.size for t in snap.targets for r in t.regions) if snap else 0,
            targets=list(self.infos), skipped=dict(self.skipped),
            samples_taken=m.samples_taken, samples_due=m.passed,
            samples_per_aggr=self.attrs.samples_per_aggr,
            crossings=(self.source.crossings_per_sample()
                       if getattr(self.source, "samples", 0) else None),
            sample_us=self.attrs.sample_us, aggr_us=self.attrs.aggr_us,
            final_sample_us=m.attrs.sample_us, final_aggr_us=m.attrs.aggr_us,
            tunings=[asdict(t) for t in m.tunings],
            intervals_goal=(asdict(self.attrs.intervals_goal)
                            if self.attrs.intervals_goal else None),
            max_cpu=self._max_cpu_summary())
        if self.recorder:
            line = {"type": "summary", "reason": reason, "time_us": s.time_us,
                    "aggregations": s.aggregations, "cpu_s": round(s.cpu_s, 4),
                    "wall_s": round(s.wall_s, 4), "stats": s.schemes,
                    "resident_start": s.resident_start,
                    "resident_end": s.resident_end, "dry_run": s.dry_run,
                    "samples_taken": s.samples_taken, "samples_due": s.samples_due,
                    "crossings_per_sample": ({k: round(v, 4) for k, v in s.crossings.items()}
                                             if s.crossings else None),
                    "intervals": {"sample_us": s.sample_us, "aggr_us": s.aggr_us,
                                  "final_sample_us": s.final_sample_us,
                                  "final_aggr_us": s.final_aggr_us,
                                  "tunings": len(s.tunings),
                                  "intervals_goal": s.intervals_goal},
                    "max_cpu": s.max_cpu,
                    "targets": [i.as_dict() for i in s.targets]}
            if self._tuned:
                line["tuned"] = self._tuned
            if self._added or self._removed:
                line["targets_added"], line["targets_gone"] = self._added, self._removed
            self.recorder.write(line)
            s.record_lines = self.recorder.lines
        return s

    def _max_cpu_summary(self) -> Optional[dict]:
        b = self.monitor.cpu_budget
        if b is None:
            return None
        by_cpu = [t for t in self.monitor.tunings if t.by == "max_cpu"]
        return {"percent": b.percent, "file_sample_us": self.attrs.sample_us,
                "widest_sample_us": max([self.attrs.sample_us] + [t.sample_us for t in by_cpu]),
                "final_sample_us": self.monitor.attrs.sample_us,
                "final_floor_us": b.floor_us,
                "changes": len(by_cpu), "windows": b.windows,
                "last_cpu_percent": (None if b.last_percent is None
                                     else round(b.last_percent, 3))}

    def _cleanup(self) -> None:
        if self.view:
            self.view.stop()
        for thing in ("recorder", "monitor", "actuator", "probe"):
            obj = getattr(self, thing, None)
            if obj is not None:
                try:
                    obj.close()
                except Exception:
                    pass
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(2)
            except subprocess.TimeoutExpired:
                self.child.kill()
                self.child.wait()


_DURATION_UNITS_US = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}


def parse_duration(text: str) -> int:
    """'30' or '30s', '500ms', '2m', '1h' -> microseconds (a plain number is seconds)."""
    import re
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*(us|ms|s|m|h)?\s*", text)
    if not m:
        raise RunError(f"bad duration {text!r}: write e.g. 30s, 500ms, 2m or a number of seconds")
    return int(float(m.group(1)) * _DURATION_UNITS_US[m.group(2) or "s"])
