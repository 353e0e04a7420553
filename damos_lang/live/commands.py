"""The bodies of ``damos apply``, ``update``, ``status`` and ``stop``; each
returns the exit status (:mod:`damos_lang.cli` only declares their options)."""
from __future__ import annotations

import os

from .. import catalog
from ..console import EXIT_FAILED, body, fail, out
from ..errors import DamosError
from ..pipeline import text_of, unit_or_exit
from ..sysfs.modules import MODULE_ROOT

# apply --target: the targets whose output is module parameters
MODULE_TARGETS = ("reclaim", "lru-sort")


def _die(e: DamosError, name: str = "damos", unit=None) -> None:
    """A failure of the live kernel (exit 1); with a location, a caret into the file."""
    if unit is not None and e.loc:
        fail(e, unit.source_name, text_of(unit.source), EXIT_FAILED)
    fail(e, name, None, EXIT_FAILED)


def _module_root(module_root: str | None) -> str:
    if module_root is None and (os.environ.get("PYTEST_CURRENT_TEST")
                                or os.environ.get("DAMOS_LIVE_NO_KERNEL_TREE")):
        raise DamosError("refusing to use the kernel's /sys/module under a test: pass "
                         "--module-root")
    return module_root or MODULE_ROOT


@body
def apply(file: str, pid=None, sysfs_root=None, module_root=None, target: str = "sysfs") -> int:
    if target.replace("_", "-") in MODULE_TARGETS:
        from .. import targets
        from .modules import write_params
        unit = unit_or_exit(file, pid=None)
        mod = targets.get(target)
        try:
            params = mod.params(unit)
            res = write_params(_module_root(module_root), mod.MODULE, params)
        except DamosError as e:
            _die(e, "damos apply", unit)
        out(f"damos apply: {mod.MODULE} is enabled (kdamond pid {res['kdamond_pid']}) with "
            f"{len(params)} parameters from {unit.source_name}")
        return 0
    if target != "sysfs":
        _die(DamosError(f"--target must be sysfs, reclaim or lru_sort, not {target!r}"))
    unit = unit_or_exit(file, interface=catalog.SYSFS, pid=pid)
    from .apply import apply as apply_unit
    try:
        if sysfs_root is None:
            _module_root(None)   # refuses under tests
        info = apply_unit(unit, root=sysfs_root, module_root=module_root or MODULE_ROOT)
    except DamosError as e:
        _die(e, "damos apply", unit)
    n = len(unit.context.schemes)
    out(f"damos apply: kdamond {info['index']} is on (pid {info['kdamond_pid']}), "
        f"{n} scheme{'s' if n != 1 else ''} from {unit.source_name}; "
        f"see 'damos status', stop with 'damos stop {info['index']}'")


@body
def update(file: str, pid=None, sysfs_root=None, kdamond=None) -> int:
    from .apply import update as update_unit
    unit = unit_or_exit(file, interface=catalog.SYSFS, pid=pid)
    try:
        res = update_unit(unit, root=sysfs_root, index=kdamond)
    except DamosError as e:
        _die(e, "damos update", unit)
    out(f"damos update: committed {unit.source_name} to kdamond {res['index']} "
        f"(pid {res['kdamond_pid']}, still running)")


@body
def status(sysfs_root=None, as_json: bool = False, watch: bool = False, interval: float = 1.0,
           regions: bool = False, count=None) -> int:
    from . import status as S
    try:
        if watch:
            S.watch(sysfs_root, interval, count)
            return 0
        kds = S.snapshot(sysfs_root, regions=regions)
    except DamosError as e:
        _die(e, "damos status")
    except KeyboardInterrupt:
        return 0
    out(S.to_json(kds) if as_json else S.render(kds), nl=False)


@body
def stop(sysfs_root=None, kdamond=None) -> int:
    from ..sysfs.read import SchemeStats
    from .apply import stop as stop_kdamonds
    from .status import stats_line
    try:
        done = stop_kdamonds(root=sysfs_root, index=kdamond)
    except DamosError as e:
        _die(e, "damos stop")
    for d in done:
        out(f"damos stop: kdamond {d['index']} is off")
        for i, st in enumerate(d["stats"]):
            out("  " + stats_line(i, None, SchemeStats(**st), effective=False))
