"""Compilation targets.  A target is one module in this package that defines
``NAME`` and ``compile(program, options) -> str``; adding one touches
nothing else (the registry is filled by discovery)."""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    kernel: tuple[int, int] | None = None   # --kernel X.Y: refuse newer features
    max_policy: str = "unbounded"           # what `max` becomes; see kernel.py
    pid: int | None = None                  # overrides the file's target pid
    debugfs_fields: int = 18                # debugfs target only: 18 or 7
    source: str | None = None               # the input's name, for headers


def registry() -> dict:
    """{target name: module}, discovered from this package."""
    out = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "compile"):
            out[mod.NAME] = mod
    return dict(sorted(out.items()))
