"""The bodies of ``damos apply``, ``update``, ``status`` and ``stop`` (the
typer functions in :mod:`damos_lang.cli` only forward their options)."""
from __future__ import annotations

import typer

from ..errors import DamosError
from ..sysfs.modules import MODULE_ROOT

# apply --target: the targets whose output is module parameters
MODULE_TARGETS = ("reclaim", "lru-sort")


def _die(e: DamosError, name: str = "damos", source=None) -> None:
    typer.echo(e.diagnostic.render(name, source), err=True)
    raise typer.Exit(1)


def _module_root(module_root: str | None, sysfs_root: str | None) -> str:
    import os
    if module_root is None and (os.environ.get("PYTEST_CURRENT_TEST")
                                or os.environ.get("DAMOS_LIVE_NO_KERNEL_TREE")):
        raise DamosError("refusing to use the kernel's /sys/module under a test: pass "
                         "--module-root")
    return module_root or MODULE_ROOT


def apply_cmd(unit_of, file: str, pid, sysfs_root, module_root, target: str) -> None:
    from .. import catalog
    if target.replace("_", "-") in MODULE_TARGETS:
        from .. import targets
        from .modules import write_params
        unit = unit_of(file, pid=None)
        mod = targets.get(target)
        module = mod.MODULE
        try:
            params = mod.params(unit)
            res = write_params(_module_root(module_root, sysfs_root), module, params)
        except DamosError as e:
            _die(e, unit.source_name if e.loc else "damos apply",
                 unit.source.text if e.loc else None)
        typer.echo(f"damos apply: {module} is enabled (kdamond pid {res['kdamond_pid']}) with "
                   f"{len(params)} parameters from {unit.source_name}")
        return
    if target != "sysfs":
        _die(DamosError(f"--target must be sysfs, reclaim or lru_sort, not {target!r}"))
    unit = unit_of(file, interface=catalog.SYSFS, pid=pid)
    from .apply import apply
    try:
        if sysfs_root is None:
            _module_root(None, None)   # refuses under tests
        info = apply(unit, root=sysfs_root, module_root=module_root or MODULE_ROOT)
    except DamosError as e:
        _die(e, unit.source_name if e.loc else "damos apply", unit.source.text if e.loc else None)
    n = len(unit.context.schemes)
    typer.echo(f"damos apply: kdamond {info['index']} is on (pid {info['kdamond_pid']}), "
               f"{n} scheme{'s' if n != 1 else ''} from {unit.source_name}; "
               f"see 'damos status', stop with 'damos stop {info['index']}'")


def update_cmd(unit_of, file: str, pid, sysfs_root, kdamond) -> None:
    from .. import catalog
    from .apply import update
    unit = unit_of(file, interface=catalog.SYSFS, pid=pid)
    try:
        res = update(unit, root=sysfs_root, index=kdamond)
    except DamosError as e:
        _die(e, unit.source_name if e.loc else "damos update",
             unit.source.text if e.loc else None)
    typer.echo(f"damos update: committed {unit.source_name} to kdamond {res['index']} "
               f"(pid {res['kdamond_pid']}, still running)")


def status_cmd(sysfs_root, as_json: bool, watch: bool, interval: float, regions: bool,
               count) -> None:
    from . import status as S
    try:
        if watch:
            S.watch(sysfs_root, interval, count)
            return
        kds = S.snapshot(sysfs_root, regions=regions)
    except DamosError as e:
        _die(e, "damos status")
    except KeyboardInterrupt:
        return
    typer.echo(S.to_json(kds) if as_json else S.render(kds), nl=False)


def stop_cmd(sysfs_root, kdamond) -> None:
    from ..sysfs.read import SchemeStats
    from .apply import stop
    from .status import _bytes
    try:
        done = stop(root=sysfs_root, index=kdamond)
    except DamosError as e:
        _die(e, "damos stop")
    for d in done:
        typer.echo(f"damos stop: kdamond {d['index']} is off")
        for i, st in enumerate(d["stats"]):
            st = SchemeStats(**st)
            typer.echo(f"  scheme {i}: tried {st.nr_tried} regions / {_bytes(st.sz_tried)}, "
                       f"applied {st.nr_applied} / {_bytes(st.sz_applied)}, "
                       f"qt_exceeds {st.qt_exceeds}")
