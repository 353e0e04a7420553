"""Compilation targets.  A target is one module in this package, named after
the target (``damo-json`` is ``damo_json.py``), that defines ``NAME``,
``INTERFACE`` (the catalog interface the pipeline gates it for, or None) and
``compile(unit, options)``, which receives a :class:`damos_lang.unit.Unit`
and returns the output text (or ``{relative path: text}`` for targets that
write several files).  Adding one touches nothing else: the registry
finds it by its file name and imports only the target a command uses.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from ..errors import DamosError, did_you_mean


@dataclass(frozen=True)
class Options:
    kernel: tuple[int, int] | None = None   # --kernel X.Y: refuse newer features
    max_policy: str = "unbounded"           # what `max` becomes in the output; see convert.py
    pid: int | None = None                  # overrides the file's target pid
    debugfs_fields: int = 18                # debugfs target only: 18 or 7
    debugfs_file: str | None = None         # debugfs target only: which file (None: schemes,
                                            # refused when the file sets attrs or targets)
    kernel_tree: str | None = None          # c-module: detect the C API from this tree


def names() -> list[str]:
    """Every target's name, found from this package's modules (none imported)."""
    return sorted(info.name.replace("_", "-") for info in pkgutil.iter_modules(__path__)
                  if not info.name.startswith("_"))


def get(name: str):
    """The target module called ``name`` (``lru_sort`` and ``lru-sort`` alike); a
    DamosError naming the choices if none."""
    name = name.replace("_", "-")
    if name not in names():
        raise DamosError(did_you_mean(name, names(), "target"))
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def registry() -> dict:
    """{target name: module}, every target imported (for listings and tests)."""
    return {name: get(name) for name in names()}


def run_target(target, program, options=None, source=None):
    """Gate, convert and compile ``program`` (an IR Program) for ``target``
    (a target module); ``source`` is the input or its name."""
    from ..pipeline import unit_of
    options = options or Options()
    unit = unit_of(program, options, interface=getattr(target, "INTERFACE", None),
                   source=source)
    return target.compile(unit, options)
