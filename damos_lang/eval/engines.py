"""The engines ``damos eval`` runs a scheme with, each started on the gated
workload's pid before its gate opens and stopped after the run, whatever
happened (the plan calls :meth:`Engine.stop` in a ``finally``).

* ``kernel``: ``damos apply``'s code path (:func:`damos_lang.live.apply.apply`)
  on the kernel's DAMON sysfs tree or a stand-in (``sysfs_root``); DAMON's
  CPU is the kdamond thread's utime+stime.  A running DAMON_STAT is stopped
  for the whole eval and started again at its end.
* ``run``: the user-space engine, ``damos run --pid PID`` as a child process
  (the unit handed over as damo JSON), imported before the gate opens and
  monitoring from the workload's exec; DAMON's CPU is that process's
  user+sys time from then.  It needs page_idle.
* ``reclaim``: DAMON_RECLAIM's parameters (:mod:`damos_lang.targets.reclaim`)
  written with :func:`damos_lang.live.modules.write_params`; it watches all
  physical memory, not the pid; DAMON's CPU is its kdamond's.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Optional

from .. import catalog
from ..errors import DamosError
from ..pipeline import with_pid
from .runner import proc_cpu_s

VIAS = ("kernel", "run", "reclaim")
PAGE_IDLE = "/sys/kernel/mm/page_idle/bitmap"


def _kdamond_cpu(pid) -> Optional[float]:
    """CPU of a kdamond thread; None when ``pid`` is not one (gone, or fake)."""
    try:
        pid = int(pid)
        with open(f"/proc/{pid}/comm") as f:
            if not f.read().startswith("kdamond"):
                return None
    except (OSError, ValueError, TypeError):
        return None
    return proc_cpu_s(pid)


def _target(unit, pid: int):
    from dataclasses import replace
    return replace(unit, context=with_pid(unit.context, pid))


class Engine:
    via = "?"

    def prepare(self) -> list[str]:
        """Before the first run; returns notes for the output."""
        return []

    def start(self, unit, pid: int) -> None:
        raise NotImplementedError

    def damon_cpu(self) -> Optional[float]:
        return None

    def stop(self) -> Optional[float]:
        """Stop what :meth:`start` started (a no-op when nothing runs); the final
        DAMON CPU figure when only the end tells it."""
        return None

    def finish(self) -> list[str]:
        """After the last run (also after a failure); notes for the output."""
        return []

    def run_note(self) -> Optional[str]:
        """What the engine said of the run just stopped (None: nothing)."""
        return None

    def left_applied(self) -> list[str]:
        """What of ours still runs (for the tests: must be empty after an eval)."""
        return []


class KernelEngine(Engine):
    via = "kernel"

    def __init__(self, sysfs_root: str | None = None, module_root: str | None = None):
        from ..sysfs.modules import module_root_for
        self.root = sysfs_root
        self.module_root = module_root_for(sysfs_root, module_root)
        self.index = None
        self.kpid = None
        self.stopped_stat = False

    def _fs(self):
        from ..sysfs.root import tree
        return tree(self.root)

    def prepare(self, stop_damon_stat: bool = False) -> list[str]:
        from ..live import apply as A
        from ..live import exclusive
        fs = self._fs()
        A.check_root(fs)
        A.choose_slot(fs)          # refuses when no kdamond is free
        if exclusive.refuse_unless_free(self.module_root, stop_damon_stat):
            exclusive.stop_damon_stat(self.module_root)
            self.stopped_stat = True
            return ["DAMON_STAT was running: stopped for the eval, started again after it"]
        return []

    def _register_pid(self, pid: int) -> None:
        """A stand-in only runs targets listed in its marker: list the workload."""
        from ..sysfs.standin import MARKER, StandIn
        fs = self._fs()
        if isinstance(fs, StandIn):
            path = os.path.join(self.root, MARKER)
            with open(path) as f:
                cfg = json.load(f)
            cfg["pids"] = sorted(set(cfg.get("pids", [])) | {pid})
            with open(path, "w") as f:
                json.dump(cfg, f)

    def start(self, unit, pid: int) -> None:
        from ..live import apply as A
        from .sigint import held
        self._register_pid(pid)
        # a Ctrl-C halfway would leave a kdamond set up that no one stops: it
        # waits until the kdamond is started and known here (then stop() ends it)
        with held():
            info = A.apply(_target(unit, pid), root=self.root, module_root=self.module_root)
            self.index, self.kpid = info["index"], info["kdamond_pid"]

    def damon_cpu(self) -> Optional[float]:
        return _kdamond_cpu(self.kpid) if self.kpid is not None else None

    def stop(self) -> Optional[float]:
        from ..live import apply as A
        from .sigint import held
        if self.index is None:
            return None
        with held():
            index, self.index, self.kpid = self.index, None, None
            A.stop(root=self.root, index=index, module_root=None)
        return None

    def finish(self) -> list[str]:
        from ..live import exclusive
        if self.stopped_stat:
            self.stopped_stat = False
            why = exclusive.start_damon_stat(self.module_root)
            if why:
                return [f"DAMON_STAT could not be started again: {why}"]
        return []

    def left_applied(self) -> list[str]:
        from ..live.owners import Owners
        from ..sysfs.read import kdamonds
        fs = self._fs()
        owners = Owners(fs)
        return [f"kdamond {k.index} ({k.state})" for k in kdamonds(fs)
                if owners.owns(fs, k) or k.state == "on"]


# the user-space engine's process: imports first (seconds under emulation),
# says "ready", and starts monitoring the pid at "go" (once the workload has
# exec'd: damos run stops when its target execs)
_WARM = """\
import sys
from damos_lang.run.command import run_file
import damos_lang.run.session, damos_lang.monitor
sys.stdout.write("ready\\n")
sys.stdout.flush()
if sys.stdin.readline().strip() != "go":
    sys.exit(0)
sys.exit(run_file(sys.argv[1], pid=int(sys.argv[2]), sim=None, command=[], duration=None,
                  dry_run=False, record=None, realtime=False, seed=0, quiet=True))
"""
READY_TIMEOUT_S = 300


class RunEngine(Engine):
    """``damos run --pid`` in a child process, its imports done before the
    workload's gate opens; it monitors from the workload's exec on.  Its CPU
    is counted from then (the imports are not DAMON's work)."""
    via = "run"

    def __init__(self, page_idle: str = PAGE_IDLE):
        self.page_idle = page_idle
        self.proc: subprocess.Popen | None = None
        self.cpu = None
        self.cpu0 = 0.0
        self.tmp = None
        self.summary = None

    def prepare(self) -> list[str]:
        if not os.path.exists(self.page_idle):
            raise DamosError(f"--via run needs page_idle ({self.page_idle}: missing; "
                             "CONFIG_IDLE_PAGE_TRACKING=y) on a real process")
        if not os.access(self.page_idle, os.W_OK):
            raise DamosError(f"--via run needs to write {self.page_idle}: run as root")
        return []

    def start(self, unit, pid: int) -> None:
        import select
        from ..targets import damo_json
        from ..targets import Options
        text = damo_json.compile(_target(unit, pid), Options())
        fd, self.tmp = tempfile.mkstemp(prefix="damos-eval-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        env = dict(os.environ)
        pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = pkg + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.cpu, self.summary = None, None
        self.proc = subprocess.Popen([sys.executable, "-c", _WARM, self.tmp, str(pid)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        ready, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            self.stop()
            raise DamosError("damos run did not start (no 'ready' in "
                             f"{READY_TIMEOUT_S} s)")
        self.cpu0 = proc_cpu_s(self.proc.pid) or 0.0

    def go(self, pid: int) -> None:
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def damon_cpu(self) -> Optional[float]:
        if self.proc is None:
            return self.cpu
        c = proc_cpu_s(self.proc.pid)
        return None if c is None else max(0.0, c - self.cpu0)

    def stop(self) -> Optional[float]:
        p, self.proc = self.proc, None
        if p is None:
            return None
        try:
            # wait4 (not Popen.poll, which would reap it first): its rusage is the CPU
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == 0:               # still running (its target may outlive the run)
                p.send_signal(signal.SIGINT)
                pid, status, ru = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            self.cpu = max(0.0, ru.ru_utime + ru.ru_stime - self.cpu0)
            lines = p.stdout.read().decode(errors="replace").splitlines()
            # damos run's summary: why it stopped, aggregations, what it applied
            self.summary = " / ".join(x.strip() for x in lines if x.strip()) or None
            err = p.stderr.read().decode(errors="replace").strip()
            if p.returncode not in (0, -signal.SIGINT, 130) and err:
                self.cpu = None
                raise DamosError(f"damos run failed ({p.returncode}): {err.splitlines()[-1]}")
        except ChildProcessError:
            pass
        finally:
            for f in (p.stdin, p.stdout, p.stderr):
                try:
                    f.close()
                except OSError:
                    pass
            if self.tmp:
                os.unlink(self.tmp)
                self.tmp = None
        return self.cpu

    def run_note(self) -> Optional[str]:
        return self.summary

    def left_applied(self) -> list[str]:
        return ["damos run"] if self.proc is not None else []


class ReclaimEngine(Engine):
    """DAMON_RECLAIM; its monitoring-only arm is the file's monitoring with
    ``stat`` through the kernel engine (the module has no stat action)."""
    via = "reclaim"

    def __init__(self, module_root: str = "/sys/module", sysfs_root: str | None = None):
        self.module_root = module_root
        self.sysfs_root = sysfs_root
        self.kpid = None
        self.on = False

    def prepare(self) -> list[str]:
        from ..targets._module_params import RECLAIM
        base = os.path.join(self.module_root, RECLAIM, "parameters")
        if not os.path.isdir(base):
            raise DamosError(f"no {base}: this kernel has no DAMON_RECLAIM")
        return []

    def start(self, unit, pid: int) -> None:
        from ..live.modules import write_params
        from ..targets import reclaim
        from ..targets._module_params import RECLAIM
        from .sigint import held
        with held():        # as the kernel engine's: on and known here, or not on
            res = write_params(self.module_root, RECLAIM, reclaim.params(unit))
            self.on, self.kpid = True, res["kdamond_pid"]

    def damon_cpu(self) -> Optional[float]:
        return _kdamond_cpu(self.kpid) if self.kpid is not None else None

    def stop(self) -> Optional[float]:
        from ..sysfs.modules import enabled_path
        from ..targets._module_params import RECLAIM
        if not self.on:
            return None
        self.on, self.kpid = False, None
        path = enabled_path(self.module_root, RECLAIM)
        with open(path, "w") as f:
            f.write("N\n")
        for _ in range(50):
            with open(path) as f:
                if f.read().strip() != "Y":
                    break
            time.sleep(0.05)
        return None

    def left_applied(self) -> list[str]:
        from ..sysfs.modules import enabled_path
        from ..targets._module_params import RECLAIM
        try:
            with open(enabled_path(self.module_root, RECLAIM)) as f:
                return ["DAMON_RECLAIM"] if f.read().strip() == "Y" else []
        except OSError:
            return []


def check_unit(unit, via: str) -> None:
    """Refuse, before anything runs, a file the engine cannot run on a workload."""
    ctx = unit.context
    if not ctx.schemes:
        raise DamosError("the file has no schemes: nothing to evaluate", ctx.loc)
    if via in ("kernel", "run"):
        if not catalog.OPS[ctx.ops].takes_pid:
            raise DamosError(f"ops {ctx.ops} watches physical memory, not the workload: "
                             "use a vaddr file (or --via reclaim)", ctx.loc)
        if len(ctx.targets) > 1:
            raise DamosError(f"the file has {len(ctx.targets)} targets; the eval's workload "
                             "is one process", ctx.targets[1].loc)
    if via == "reclaim":
        from ..targets import reclaim
        reclaim.params(unit)      # raises what DAMON_RECLAIM cannot express
