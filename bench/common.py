"""What every benchmark module shares: its rows' shape (``row``) and the
timer for a command run as a separate process (``run_command``,
``median_of``)."""
from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent

_ABSENT = object()   # a row field the caller did not give


def row(name: str, value, unit: str, *, goal=_ABSENT, baseline=_ABSENT, ratio=_ABSENT,
        note=_ABSENT) -> dict:
    """One benchmark row, its keys in this order.  A field the caller leaves
    out is left out of the row (one given as None or "" stays in), so that the
    rows in bench/results.json keep the shape each module has always given
    them; bench/run.py reads the optional fields with .get."""
    fields = (("name", name), ("value", value), ("unit", unit), ("goal", goal),
              ("baseline", baseline), ("ratio", ratio), ("note", note))
    return {k: v for k, v in fields if v is not _ABSENT}


class CommandFailed(RuntimeError):
    """A timed command exited with a non-zero status or ran out of time."""


@dataclass(frozen=True)
class Run:
    """One run of a command.  ``cpu_s`` is the child's user + system time
    (with its own waited-for children) from os.wait4.  ``peak_rss_kib`` is
    the child's VmHWM, polled every 10 ms while it ran (None if it ended
    before the first look; growth in its last 10 ms can be missed), not
    wait4's ru_maxrss: Linux carries the parent's high-water mark into the
    child across exec, so a child of this large process would report at
    least the parent's size."""
    cmd: tuple
    wall_s: float
    cpu_s: float
    peak_rss_kib: Optional[int]
    returncode: int
    stdout: str
    stderr: str

    @property
    def peak_rss_mib(self) -> Optional[float]:
        return None if self.peak_rss_kib is None else self.peak_rss_kib / 1024


POLL_S = 0.01


def describe(cmd: Sequence[str]) -> str:
    """The command line for an error message, a long argument (a script
    given to ``python -c``) cut to its length."""
    return shlex.join(a if len(a) <= 80 and "\n" not in a else f"<{len(a)} characters>"
                      for a in map(str, cmd))


def _vm_hwm_kib(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None    # gone, or a zombie (no memory left to report)


def run_command(cmd: Sequence[str], *, stdin: Optional[str] = None, env: Optional[dict] = None,
                cwd=ROOT, timeout: float = 600, check: bool = True) -> Run:
    """Run ``cmd`` once (from the checkout's root unless ``cwd``), its stdout
    and stderr captured as text.  With ``check`` (the default), a non-zero
    exit raises CommandFailed naming the command, its status and the end of
    its stderr; running past ``timeout`` seconds kills it and raises
    CommandFailed either way."""
    cmd = tuple(map(str, cmd))
    out: dict = {}
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, text=True,
                         stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ended = threading.Event()

    def reap():
        # wait4 rather than Popen.wait: it gives the child's rusage; the
        # end is stamped as it returns, not at the next poll
        _, status, usage = os.wait4(p.pid, 0)
        out["end"] = time.perf_counter()
        out["status"], out["usage"] = status, usage
        ended.set()

    def read(name, stream):
        out[name] = stream.read()
        stream.close()

    def write():
        try:
            p.stdin.write(stdin)
            p.stdin.close()
        except BrokenPipeError:    # the child did not read it all; its exit says why
            pass

    threads = [threading.Thread(target=reap, daemon=True),
               threading.Thread(target=read, args=("stdout", p.stdout), daemon=True),
               threading.Thread(target=read, args=("stderr", p.stderr), daemon=True)]
    if stdin is not None:
        threads.append(threading.Thread(target=write, daemon=True))
    for t in threads:
        t.start()
    peak = None
    deadline = t0 + timeout
    while not ended.is_set():
        hwm = _vm_hwm_kib(p.pid)
        if hwm is not None and not ended.is_set():
            peak = hwm if peak is None else max(peak, hwm)
        if time.perf_counter() > deadline:
            p.kill()
            for t in threads:
                t.join()
            p.returncode = os.waitstatus_to_exitcode(out["status"])
            raise CommandFailed(f"`{describe(cmd)}` ran past {timeout:g} s and was killed")
        ended.wait(POLL_S)
    for t in threads:
        t.join()
    p.returncode = os.waitstatus_to_exitcode(out["status"])
    usage = out["usage"]
    run = Run(cmd, out["end"] - t0, usage.ru_utime + usage.ru_stime, peak, p.returncode,
              out["stdout"], out["stderr"])
    if check and run.returncode != 0:
        tail = run.stderr.strip()[-500:] or "(nothing on stderr)"
        raise CommandFailed(f"`{describe(cmd)}` exited with status {run.returncode}; "
                            f"its stderr ends:\n{tail}")
    return run


@dataclass(frozen=True)
class Medians:
    """Medians of several runs of one command (each must succeed)."""
    wall_s: float
    cpu_s: float
    runs: tuple


def median_of(cmd: Sequence[str], repeat: int, **kw) -> Medians:
    """``repeat`` runs of ``cmd`` (run_command's keywords, check on): the
    median wall and CPU time, which a loaded machine does not inflate."""
    runs = tuple(run_command(cmd, **kw) for _ in range(repeat))
    return Medians(statistics.median(r.wall_s for r in runs),
                   statistics.median(r.cpu_s for r in runs), runs)


def damos_cmd() -> list[str]:
    """The ``damos`` command of this interpreter's environment."""
    exe = Path(sys.executable).parent / "damos"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "damos_lang"]


def load_note() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
