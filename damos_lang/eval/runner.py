"""One workload run of ``damos eval``, measured.

The workload is spawned and held at a gate (a pipe it reads before it execs)
so that DAMON can be pointed at its pid before it runs a single instruction
of its own; the clock starts when the gate opens.  What is measured:

* wall time (gate open to exit) and user+sys time of the workload and of the
  children it waited for (``wait4``'s rusage), and its major faults;
* the workload's RSS over time: VmRSS of it and of its descendants
  (/proc/PID/task/*/children), sampled every :data:`SAMPLE_S`; mean, and peak
  (with their VmHWM, the high-water mark since exec);
* system memory in use (MemTotal - MemAvailable) and swap in use
  (SwapTotal - SwapFree) from /proc/meminfo, at the same samples;
* DAMON's own CPU time: whatever the engine's ``damon_cpu()`` returns, read at
  every sample (a kdamond whose target exited is gone by the end, so the last
  reading counts), or at the end."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

SAMPLE_S = 0.05
# every metric of a run: name -> (unit, what)
METRICS = {
    "wall_s": ("s", "runtime (wall)"),
    "cpu_s": ("s", "runtime (user+sys)"),
    "rss_mean_mib": ("MiB", "RSS mean"),
    "rss_peak_mib": ("MiB", "RSS peak"),
    "sysmem_mean_mib": ("MiB", "system memory in use, mean"),
    "swap_mean_mib": ("MiB", "swap in use, mean"),
    "major_faults": ("", "major faults"),
    "damon_cpu_s": ("s", "DAMON CPU"),
}


class WorkloadFailed(Exception):
    """The workload exited with a nonzero status (or was killed)."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status = status


@dataclass
class Run:
    arm: str
    index: int
    wall_s: float
    cpu_s: float
    rss_mean_mib: float
    rss_peak_mib: float
    sysmem_mean_mib: float
    swap_mean_mib: float
    major_faults: int
    damon_cpu_s: Optional[float]
    status: int = 0
    samples: List[tuple] = field(default_factory=list)   # (t, rss MiB, sysmem MiB, swap MiB)

    def metrics(self) -> dict:
        return {m: getattr(self, m) for m in METRICS}


def _kib_field(path: str, name: str) -> Optional[int]:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def descendants(pid: int) -> List[int]:
    """``pid`` and every process below it (through /proc/PID/task/TID/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tids:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except (OSError, ValueError):
                pass
    return out


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of ``pid`` and its descendants, summed (kB; 0 for a
    process gone).  VmHWM is the high-water mark of each one's memory since
    its exec, so the peak of a run is not missed between two samples."""
    rss = hwm = 0
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return rss, hwm


def meminfo() -> dict:
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def system_kib() -> tuple[int, int]:
    """(memory in use, swap in use) in kB."""
    m = meminfo()
    used = m.get("MemTotal", 0) - m.get("MemAvailable", m.get("MemFree", 0))
    swap = m.get("SwapTotal", 0) - m.get("SwapFree", 0)
    return used, swap


def proc_cpu_s(pid: int) -> Optional[float]:
    """utime+stime of a process or thread from /proc/PID/stat (None when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()
    # fields 14 and 15 of proc(5), 3 being the first after the comm
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def _exe(pid: int) -> Optional[bytes]:
    """What tells a process before and after its exec: its command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


# the gate: a small shell that waits for a line on fd 3, then execs the
# workload (a fork of this Python would leave its RSS in rusage's maxrss)
GATE = 'read _ <&3; exec 3<&-; exec "$@"'


class Gated:
    """A workload waiting at its gate; :meth:`open` lets it exec."""

    def __init__(self, argv: List[str]):
        r, w = os.pipe()
        try:
            pid = os.posix_spawn("/bin/sh", ["sh", "-c", GATE, "sh", *argv], os.environ,
                                 file_actions=[(os.POSIX_SPAWN_DUP2, r, 3)])
        finally:
            os.close(r)
        self.pid, self._gate, self.argv = pid, w, argv
        self.started = None

    def open(self) -> None:
        self.started = time.monotonic()
        os.write(self._gate, b"g\n")
        os.close(self._gate)
        self._gate = None

    def kill(self) -> None:
        """End a workload that is still there (at its gate or running)."""
        import signal
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self._gate is not None:
            os.close(self._gate)
            self._gate = None
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def measure(gated: Gated, arm: str, index: int,
            damon_cpu: Callable[[], Optional[float]] = lambda: None,
            on_sample: Callable[[float, float], None] | None = None,
            sample_s: float = SAMPLE_S,
            after_open: Callable[[int], None] | None = None) -> Run:
    """Open the gate, sample until the workload exits, and return the run.
    ``after_open(pid)`` is called once the workload has exec'd (for an engine
    that must not see the fork before the exec).  A nonzero exit raises
    :class:`WorkloadFailed` (after the measurement)."""
    samples: list[tuple] = []
    cpu = [damon_cpu()]
    hwm = [0]
    done = threading.Event()
    pid = gated.pid

    def sampler():
        t0 = gated.started
        while not done.is_set():
            rss, h = rss_kib(pid)
            hwm[0] = max(hwm[0], h)
            used, swap = system_kib()
            c = damon_cpu()
            if c is not None:
                cpu[0] = c
            t = time.monotonic() - t0
            if rss:
                samples.append((t, rss / 1024, used / 1024, swap / 1024))
            if on_sample:
                on_sample(t, rss / 1024)
            done.wait(sample_s)

    before = _exe(pid)
    gated.open()
    deadline = time.monotonic() + 5      # the gate's shell is not the workload
    while _exe(pid) == before and time.monotonic() < deadline:
        time.sleep(0.002)
    if after_open is not None:
        after_open(pid)
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    try:
        _, status, ru = os.wait4(pid, 0)
    finally:
        done.set()
        th.join()
    wall = time.monotonic() - gated.started
    c = damon_cpu()
    if c is not None:
        cpu[0] = c
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        what = f"exited with status {code}" if code > 0 else f"was killed by signal {-code}"
        raise WorkloadFailed(code, f"the workload ({' '.join(gated.argv)}) {what} "
                                   f"in the {arm} arm, run {index + 1}")
    rss = [s[1] for s in samples] or [0.0]
    used = [s[2] for s in samples] or [system_kib()[0] / 1024]
    swap = [s[3] for s in samples] or [system_kib()[1] / 1024]
    return Run(arm=arm, index=index, wall_s=wall, cpu_s=ru.ru_utime + ru.ru_stime,
               rss_mean_mib=sum(rss) / len(rss),
               # not rusage's maxrss: it keeps the spawning process's mark across exec
               rss_peak_mib=max(max(rss), hwm[0] / 1024),
               sysmem_mean_mib=sum(used) / len(used), swap_mean_mib=sum(swap) / len(swap),
               major_faults=ru.ru_majflt, damon_cpu_s=cpu[0], status=code, samples=samples)
