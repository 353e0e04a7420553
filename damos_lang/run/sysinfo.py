"""What the engine reads from the system: free memory rate (watermarks) and
memory PSI (the some_mem_psi_us goal).  One small class, so tests inject
their own values instead of the host's /proc."""
from __future__ import annotations

import os


class SystemInfo:
    """Reads /proc/meminfo and /proc/pressure/memory under ``root``."""

    def __init__(self, root: str = "/") -> None:
        self.root = root

    def _read(self, *parts: str) -> str:
        with open(os.path.join(self.root, *parts)) as f:
            return f.read()

    def free_mem_rate(self) -> int | None:
        """MemFree * 1000 // MemTotal (permil), as the kernel's
        DAMOS_WMARK_FREE_MEM_RATE; None when /proc/meminfo cannot be read."""
        try:
            text = self._read("proc", "meminfo")
        except OSError:
            return None
        vals = {}
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemFree", "MemTotal"):
                vals[key] = int(rest.split()[0])
        if not vals.get("MemTotal"):
            return None
        return vals.get("MemFree", 0) * 1000 // vals["MemTotal"]

    def psi_some_total_us(self) -> int | None:
        """The 'some ... total=' of /proc/pressure/memory (µs since boot);
        None without CONFIG_PSI (or with psi=0)."""
        try:
            text = self._read("proc", "pressure", "memory")
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("some "):
                for field in line.split():
                    if field.startswith("total="):
                        return int(field[6:])
        return None


class FixedSystemInfo:
    """Values set by a test (or a simulation): ``free_rate`` permil and a PSI
    total the caller advances."""

    def __init__(self, free_rate: int | None = 500, psi_total_us: int | None = 0) -> None:
        self.free_rate = free_rate
        self.psi_total_us = psi_total_us

    def free_mem_rate(self) -> int | None:
        return self.free_rate

    def psi_some_total_us(self) -> int | None:
        return self.psi_total_us
