"""The DAMON modules that run DAMON exclusively (DAMON_STAT, DAMON_RECLAIM,
DAMON_LRU_SORT): who holds DAMON, and stopping and restarting DAMON_STAT
with the user's consent (``damos apply --stop-damon-stat``; ``damos stop``
starts it again)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import DamosError
from ..sysfs.modules import (DAMON_STAT, ESTIMATED_MEMORY_BANDWIDTH, EXCLUSIVE_MODULES,
                             KDAMOND_PID, LABEL, MEMORY_IDLE_MS_PERCENTILES, AGGR_INTERVAL_US,
                             enabled_path, param_path)

STOP_FLAG = "--stop-damon-stat"


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def _write(path: str, value: str) -> None:
    import os
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, (value + "\n").encode())
    finally:
        os.close(fd)


@dataclass
class ModuleState:
    module: str
    enabled: bool
    kdamond_pid: int | None

    @property
    def label(self) -> str:
        return LABEL[self.module]

    def running(self) -> str:
        """'damon_stat is running DAMON exclusively (DAMON_STAT, kdamond pid 54)'"""
        pid = f", kdamond pid {self.kdamond_pid}" if self.kdamond_pid not in (None, -1) else ""
        return f"{self.module} is running DAMON exclusively ({self.label}{pid})"


@dataclass
class DamonStatState(ModuleState):
    """DAMON_STAT and what it measured (None where this kernel shows nothing)."""

    estimated_memory_bandwidth: int | None = None
    memory_idle_ms_percentiles: list = field(default_factory=list)
    aggr_interval_us: int | None = None

    def as_dict(self) -> dict:
        return {"module": self.module, "enabled": self.enabled, "kdamond_pid": self.kdamond_pid,
                "estimated_memory_bandwidth": self.estimated_memory_bandwidth,
                "memory_idle_ms_percentiles": self.memory_idle_ms_percentiles,
                "aggr_interval_us": self.aggr_interval_us}


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def module_state(module_root: str | None, module: str) -> ModuleState | None:
    """The module's state, or None when this kernel (or tree) has no such module."""
    if module_root is None:
        return None
    enabled = _read(enabled_path(module_root, module))
    if enabled is None:
        return None
    pid = _int(_read(param_path(module_root, module, KDAMOND_PID)))
    if module != DAMON_STAT:
        return ModuleState(module, enabled == "Y", pid)
    pct = _read(param_path(module_root, module, MEMORY_IDLE_MS_PERCENTILES))
    return DamonStatState(
        module, enabled == "Y", pid,
        _int(_read(param_path(module_root, module, ESTIMATED_MEMORY_BANDWIDTH))),
        [int(x) for x in pct.split(",") if x.strip()] if pct else [],
        _int(_read(param_path(module_root, module, AGGR_INTERVAL_US))))


def running(module_root: str | None) -> list[ModuleState]:
    """The exclusive DAMON modules that run now."""
    out = []
    for m in EXCLUSIVE_MODULES:
        st = module_state(module_root, m)
        if st is not None and st.enabled:
            out.append(st)
    return out


def refuse_unless_free(module_root: str | None, stop_damon_stat: bool) -> bool:
    """Raise naming each exclusive module that holds DAMON (DAMON_STAT only
    when it may not be stopped); True when DAMON_STAT runs and may be."""
    held = running(module_root)
    others = [m for m in held if m.module != DAMON_STAT]
    stat = next((m for m in held if m.module == DAMON_STAT), None)
    if others:
        m = others[0]
        raise DamosError(f"{m.running()}, so a sysfs kdamond "
                         f"cannot start; stop it first (echo N > "
                         f"{enabled_path(module_root, m.module)})")
    if stat is not None and not stop_damon_stat:
        raise DamosError(f"{stat.running()} (Debian's 7.x kernels start it at boot), so a "
                         "sysfs kdamond cannot start; pass "
                         f"{STOP_FLAG} to stop it while damos-lang's kdamonds run ('damos "
                         "stop' starts it again), or stop it yourself (echo N > "
                         f"{enabled_path(module_root, DAMON_STAT)})")
    return stat is not None


def stop_damon_stat(module_root: str, sleep=time.sleep) -> None:
    """Write N to DAMON_STAT's enabled and wait for its kdamond to end."""
    path = enabled_path(module_root, DAMON_STAT)
    try:
        _write(path, "N")
    except OSError as e:
        raise DamosError(f"cannot stop DAMON_STAT: writing N to {path} failed: "
                         f"{e.strerror}") from None
    for _ in range(50):
        st = module_state(module_root, DAMON_STAT)
        if st is None or not st.enabled:       # the kernel stops it synchronously
            return
        sleep(0.05)
    raise DamosError(f"DAMON_STAT did not stop: {path} still reads Y after writing N")


def start_damon_stat(module_root: str) -> str | None:
    """Write Y to DAMON_STAT's enabled; None, or why it could not start."""
    path = enabled_path(module_root, DAMON_STAT)
    try:
        _write(path, "Y")
    except OSError as e:
        why = e.strerror
        if e.errno is not None:
            import errno
            if e.errno == errno.EBUSY:
                why += " (a DAMON sysfs kdamond still runs)"
        return f"writing Y to {path} failed: {why}"
    return None


__all__ = ["ModuleState", "DamonStatState", "module_state", "running", "refuse_unless_free",
           "stop_damon_stat", "start_damon_stat", "STOP_FLAG"]
