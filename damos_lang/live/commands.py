"""The bodies of ``damos apply``, ``update``, ``status`` and ``stop``; each
returns the exit status (:mod:`damos_lang.cli` only declares their options)."""
from __future__ import annotations

from .. import catalog
from ..console import EXIT_FAILED, body, err, fail, out
from ..errors import DamosError
from ..pipeline import text_of, unit_or_exit
from ..sysfs.modules import LABEL, module_root_for
from ..sysfs.root import under_test
from . import exclusive

# apply --target: the targets whose output is module parameters
MODULE_TARGETS = ("reclaim", "lru-sort")


def _die(e: DamosError, name: str = "damos", unit=None) -> None:
    """A failure of the live kernel (exit 1); with a location, a caret into the file."""
    if unit is not None and e.loc:
        fail(e, unit.source_name, text_of(unit.source), EXIT_FAILED)
    fail(e, name, None, EXIT_FAILED)


def _refuse_under_tests(sysfs_root, module_root) -> None:
    if (sysfs_root is None or module_root is None) and under_test():
        what = "DAMON tree" if sysfs_root is None else "/sys/module"
        raise DamosError(f"refusing to use the kernel's {what} under a test: pass "
                         "--sysfs-root and --module-root")


def _sysfs_kdamonds_on(sysfs_root) -> list[str]:
    from ..sysfs.read import kdamonds
    from ..sysfs.root import tree
    try:
        fs = tree(sysfs_root)
        return [f"kdamond {k.index} (pid {k.pid})" for k in kdamonds(fs) if k.state == "on"]
    except (DamosError, OSError, ValueError):
        return []


def _apply_module(file, sysfs_root, module_root, target, stop_damon_stat) -> int:
    from .. import targets
    from .modules import write_params
    unit = unit_or_exit(file, pid=None)
    mod = targets.get(target)
    label = LABEL[mod.MODULE]
    stopped = False
    try:
        params = mod.params(unit)
        _refuse_under_tests("", module_root)     # the module tree is what it writes
        roots = module_root_for(sysfs_root, module_root)
        holders = [m for m in exclusive.running(roots) if m.module != mod.MODULE]
        busy = _sysfs_kdamonds_on(sysfs_root)
        if busy:
            raise DamosError(f"a DAMON sysfs kdamond runs ({', '.join(busy)}), so {label} "
                             "cannot start; stop it first ('damos stop' for damos-lang's)")
        for m in holders:
            if m.module == exclusive.DAMON_STAT and stop_damon_stat:
                exclusive.stop_damon_stat(roots)
                stopped = True
            else:
                hint = (f"pass {exclusive.STOP_FLAG}, or " if m.module == exclusive.DAMON_STAT
                        else "")
                raise DamosError(f"{m.running()}, so {label} "
                                 f"cannot start; {hint}stop it first (echo N > "
                                 f"{exclusive.enabled_path(roots, m.module)})")
        try:
            res = write_params(roots, mod.MODULE, params)
        except DamosError:
            if stopped:
                exclusive.start_damon_stat(roots)
            raise
    except DamosError as e:
        _die(e, "damos apply", unit)
    out(f"damos apply: {mod.MODULE} is enabled (kdamond pid {res['kdamond_pid']}) with "
        f"{len(params)} parameters from {unit.source_name}")
    if stopped:
        out(f"damos apply: DAMON_STAT was stopped for it; start it again after "
            f"{mod.MODULE} is off (echo Y > {exclusive.enabled_path(roots, exclusive.DAMON_STAT)})")
    return 0


# apply --ensure's exit statuses (besides EXIT_FAILED and EXIT_BAD_INPUT)
EXIT_UNCHANGED = 0      # already running as written: nothing was written
EXIT_UPDATED = 3        # the difference was committed to the running kdamond
EXIT_APPLIED = 4        # a kdamond was started
ENSURE_EXIT = {"unchanged": EXIT_UNCHANGED, "updated": EXIT_UPDATED, "applied": EXIT_APPLIED}


def _ensure_json(action: str, info: dict) -> str:
    import json
    return json.dumps({"changed": action != "unchanged", "action": action,
                       "kdamond": info.get("index"), "kdamond_pid": info.get("kdamond_pid")})


@body
def apply(file: str, pid=None, sysfs_root=None, module_root=None, target: str = "sysfs",
          stop_damon_stat: bool = False, ensure: bool = False, as_json: bool = False) -> int:
    if ensure and target != "sysfs":
        fail(DamosError(f"--ensure applies to --target sysfs only, not {target!r}"), "damos apply")
    if target.replace("_", "-") in MODULE_TARGETS:
        if as_json:
            fail(DamosError("--json applies to --target sysfs only"), "damos apply")
        return _apply_module(file, sysfs_root, module_root, target, stop_damon_stat)
    if target != "sysfs":
        _die(DamosError(f"--target must be sysfs, reclaim or lru_sort, not {target!r}"))
    unit = unit_or_exit(file, interface=catalog.SYSFS, pid=pid)
    from . import apply as A
    try:
        if sysfs_root is None:
            _refuse_under_tests(None, module_root)
        run = A.ensure if ensure else A.apply
        info = run(unit, root=sysfs_root, module_root=module_root_for(sysfs_root, module_root),
                   stop_damon_stat=stop_damon_stat)
    except DamosError as e:
        _die(e, "damos apply", unit)
    action = info.pop("action", A.APPLIED)
    n = len(unit.context.schemes)
    if as_json:
        out(_ensure_json(action, info))
    elif action == A.UNCHANGED:
        out(f"damos apply: unchanged: kdamond {info['index']} (pid {info['kdamond_pid']}) "
            f"runs {unit.source_name} as written; nothing was written")
    elif action == A.UPDATED:
        out(f"damos apply: updated: committed {unit.source_name} to kdamond {info['index']} "
            f"(pid {info['kdamond_pid']}, still running)")
    else:
        if info["stopped_damon_stat"]:
            out("damos apply: DAMON_STAT was running and is stopped while this kdamond runs "
                f"(--stop-damon-stat); 'damos stop {info['index']}' starts it again")
        out(f"damos apply: kdamond {info['index']} is on (pid {info['kdamond_pid']}), "
            f"{n} scheme{'s' if n != 1 else ''} from {unit.source_name}; "
            f"see 'damos status', stop with 'damos stop {info['index']}'")
    return ENSURE_EXIT[action] if ensure else 0


@body
def update(file: str, pid=None, sysfs_root=None, kdamond=None) -> int:
    from .apply import update as update_unit
    unit = unit_or_exit(file, interface=catalog.SYSFS, pid=pid)
    try:
        res = update_unit(unit, root=sysfs_root, index=kdamond)
    except DamosError as e:
        _die(e, "damos update", unit)
    for w in res.get("warnings", ()):
        err(f"damos update: warning: {w}")
    out(f"damos update: committed {unit.source_name} to kdamond {res['index']} "
        f"(pid {res['kdamond_pid']}, still running)")


@body
def status(sysfs_root=None, as_json: bool = False, watch: bool = False, interval: float = 1.0,
           regions: bool = False, count=None, module_root=None) -> int:
    from . import status as S
    modules = module_root_for(sysfs_root, module_root)
    try:
        if watch:
            S.watch(sysfs_root, interval, count, module_root=modules)
            return 0
        kds = S.snapshot(sysfs_root, regions=regions)
        stat = S.damon_stat(modules)
    except DamosError as e:
        _die(e, "damos status")
    except KeyboardInterrupt:
        return 0
    out(S.to_json(kds, stat) if as_json else S.render(kds, stat), nl=False)


@body
def stop(sysfs_root=None, kdamond=None, module_root=None, file=None) -> int:
    from ..sysfs.read import SchemeStats
    from .apply import stop as stop_kdamonds
    from .status import stats_line
    if file is not None and kdamond is not None:
        fail(DamosError("give a kdamond ID or --file, not both"), "damos stop")
    try:
        done = stop_kdamonds(root=sysfs_root, index=kdamond, file=file,
                             module_root=module_root_for(sysfs_root, module_root))
    except DamosError as e:
        _die(e, "damos stop")
    if file is not None and not done:
        out(f"damos stop: no kdamond of {file} is there; nothing to stop")
    notes = []
    for d in done:
        out(f"damos stop: kdamond {d['index']} is off")
        # a line that reads alone: a unit's journal keeps each line as its own entry
        for i, st in enumerate(d["stats"]):
            out(f"damos stop: kdamond {d['index']}, "
                + stats_line(i, None, SchemeStats(**st), effective=False))
        if d.get("damon_stat") and d["damon_stat"] not in notes:
            notes.append(d["damon_stat"])
    for note in notes:
        out(f"damos stop: DAMON_STAT {note}")
