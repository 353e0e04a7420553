"""One ``damos run``: pick the source, start the workload if asked, run the
monitor with the engine, record, show, and stop cleanly.

Stops, always with a summary (and a record file whose every line is whole):
* the duration is over (simulator default: the workload's own length);
* the target exits (TargetGone) or execs (its /proc/PID/exe changes, checked
  every update interval: a new program is not what the scheme was written for);
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
from dataclasses import dataclass, field
from typing import List, Optional

from .. import catalog
from ..model import Context
from ..monitor import (Monitor, MonitorAttrs, MonitorError, PageIdleSource, SimulatorSource,
                       TargetGone)
from ..monitor.regions import set_regions
from . import record as rec
from . import workloads
from .actions import ActionError, MadviseActuator, SimulatorActuator
from .engine import Engine
from .probe import PagemapProbe, ProbeError, SimulatorProbe
from .sysinfo import SystemInfo


class RunError(Exception):
    """damos run cannot start (one line, for the user)."""


@dataclass
class RunOptions:
    pid: Optional[int] = None
    sim: Optional[str] = None            # masim config path or built-in name
    command: List[str] = field(default_factory=list)
    duration_us: Optional[int] = None
    dry_run: bool = False
    record: Optional[str] = None
    realtime: bool = False
    seed: int = 0
    source_name: str = "<program>"


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

    @property
    def cpu_percent(self) -> float:
        """CPU time over the time monitored (the simulated time in a simulation:
        what it would cost a real process)."""
        return 100.0 * self.cpu_s / (self.time_us / 1e6) if self.time_us else 0.0


def attrs_of(ctx: Context) -> MonitorAttrs:
    iv = ctx.intervals
    try:
        return MonitorAttrs(sample_us=iv.sample_us, aggr_us=iv.aggr_us, update_us=iv.update_us,
                            min_nr_regions=ctx.nr_regions_min,
                            max_nr_regions=min(ctx.nr_regions_max, 1 << 31))
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


class TargetExeced(TargetGone):
    pass


class Session:
    def __init__(self, ctx: Context, opts: RunOptions, view=None) -> None:
        self.ctx = ctx
        self.opts = opts
        self.view = view
        self.stop_reason: Optional[str] = None
        self.child: Optional[subprocess.Popen] = None
        self.recorder: Optional[rec.Recorder] = None
        self.resident_min: Optional[int] = None

    # --- setup --------------------------------------------------------------------
    def mode(self) -> str:
        o = self.opts
        if o.command:
            return "command"
        if o.pid is not None:
            return "pid"
        if o.sim is not None:
            return "sim"
        if any(t.pid is not None for t in self.ctx.targets):
            return "pid"
        return "sim"

    def _pids(self) -> List[int]:
        if self.opts.pid is not None:
            return [self.opts.pid]
        return [t.pid for t in self.ctx.targets if t.pid is not None]

    def setup(self) -> None:
        o = self.opts
        self.attrs = attrs_of(self.ctx)
        mode = self.mode()
        self.workload = None
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
            self.pids = [self.source.pid]
            self.actuator = SimulatorActuator(self.source, dry_run=o.dry_run)
            self.probe = SimulatorProbe(self.source, self.attrs.aggr_us)
            self.realtime = o.realtime
            self.duration_us = o.duration_us if o.duration_us is not None else self.source.end_us
        else:
            if mode == "command":
                self.pids = [self._start_command()]
            else:
                self.pids = self._pids()
            self.source = PageIdleSource(self.pids)
            self.actuator = MadviseActuator(self.pids, dry_run=o.dry_run)
            self.probe = (PagemapProbe(self.pids)
                          if any(not catalog.FILTER_TYPES[f.type].core
                                 for s in self.ctx.schemes for f in s.filters) else None)
            self.realtime = True                  # a real process runs in real time
            self.duration_us = o.duration_us
        self.monitor = Monitor(self.attrs, self.source, target_ids=self.pids, seed=o.seed,
                               realtime=self.realtime)
        try:
            self.monitor.start()
            if mode != "sim":
                self.actuator.open()
        except (MonitorError, ActionError) as e:
            raise RunError(str(e)) from None
        self._fixed_regions()
        self.engine = Engine(self.ctx, self.actuator, sysinfo=SystemInfo(), probe=self.probe,
                             min_region_sz=self.attrs.min_region_sz)
        self.engine.attach(self.monitor)
        if mode != "sim":
            self._exes = {pid: _exe(pid) for pid in self.pids}
            self.monitor.on_update.append(self._check_exec)
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
                                           clock_origin_s=self.monitor.clock.origin_s))

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

    def _check_exec(self, monitor) -> None:
        for pid, exe in self._exes.items():
            now = _exe(pid)
            if now is not None and exe is not None and now != exe:
                raise TargetExeced(pid, f"it executed {now}")

    # --- running ----------------------------------------------------------------------
    def resident(self) -> Optional[int]:
        if self.mode() == "sim":
            return self.source.resident_bytes(self.monitor.now_us)
        vals = [vm_rss_bytes(p) for p in self.pids]
        return None if any(v is None for v in vals) else sum(vals)

    def _on_aggregation(self, monitor, snapshot) -> None:
        if self.mode() == "sim":
            resident = [self.source.resident_bytes(monitor.now_us)]
        else:
            resident = [vm_rss_bytes(p) for p in self.pids]
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
            self.recorder.write(rec.aggregation(snapshot, stats, resident, wall_us))
        if self.view:
            self.view.update(self, snapshot, stats, resident)

    def _signal(self, signum, frame) -> None:
        self.stop_reason = "interrupted" if signum == signal.SIGINT else "terminated"

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
                except TargetExeced as e:
                    reason = f"the target executed another program ({e})"
                    break
                except TargetGone as e:
                    reason = ("the workload ended" if self.mode() == "sim"
                              else f"the target exited ({e})")
                    break
                except (ActionError, ProbeError, MonitorError) as e:
                    raise RunError(str(e)) from None
                if self.actuator.__class__ is MadviseActuator and self.actuator.gone:
                    reason = "the target exited"
                    break
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
            end = self.resident()
        except TargetGone:
            pass
        snap = self.last_snapshot
        s = Summary(
            reason=reason, mode=self.mode(), time_us=self.monitor.now_us,
            aggregations=self.monitor.aggregations, wall_s=time.monotonic() - self.wall0,
            cpu_s=time.process_time() - self.cpu0, schemes=self.engine.stats(),
            resident_start=self.resident_start, resident_end=end, resident_min=self.resident_min,
            dry_run=self.opts.dry_run, workload=self.workload,
            paged_out=getattr(self.actuator, "paged_out", None),
            refused=dict(getattr(self.actuator, "refused", {})),
            record=self.opts.record,
            regions=sum(len(t.regions) for t in snap.targets) if snap else 0,
            hot_bytes=snap.bytes_with_accesses() if snap else 0,
            total_bytes=sum(r.size for t in snap.targets for r in t.regions) if snap else 0)
        if self.recorder:
            self.recorder.write({"type": "summary", "reason": reason, "time_us": s.time_us,
                                 "aggregations": s.aggregations, "cpu_s": round(s.cpu_s, 4),
                                 "wall_s": round(s.wall_s, 4), "stats": s.schemes,
                                 "resident_start": s.resident_start,
                                 "resident_end": s.resident_end, "dry_run": s.dry_run})
            s.record_lines = self.recorder.lines
        return s

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
