"""Compilation targets.  A target is one module in this package, named after
the target (``damo-json`` is ``damo_json.py``), that defines ``NAME``,
``INTERFACE`` (the catalog interface the pipeline gates it for, or None) and
``compile(unit, options)``, which receives a :class:`damos_lang.unit.Unit`
and returns the output text (or ``{relative path: text}`` for targets that
write several files, with ``install(files, tree)`` when they can be added to
a kernel tree, and ``on_stdout(files)`` when one of them can go to standard
output without -o).  A target with options of its own declares them in
``OPTIONS`` (:class:`TargetOption`); ``damos compile`` makes a flag of each,
and :func:`check_options` refuses one given to a target that does not take
it.  Adding a target touches nothing else: the registry finds it by its file
name.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, fields

from ..errors import DamosError, did_you_mean


@dataclass(frozen=True)
class Options:
    """What a compile is asked: the options every target takes, then the ones
    targets declare (each field below the line is some target's OPTIONS)."""

    kernel: tuple[int, int] | None = None   # --kernel X.Y: refuse newer features
    max_policy: str = "unbounded"           # what `max` becomes in the output; see convert.py
    pid: int | None = None                  # overrides the file's target pid
    # -- declared by targets
    debugfs_fields: int = 18
    debugfs_file: str | None = None
    kernel_tree: str | None = None
    install: str | None = None
    # systemd and kubernetes (docs/fleet.md)
    name: str | None = None
    stop_damon_stat: bool = False
    deploy_path: str | None = None
    damos_bin: str | None = None
    ensure_every: str | None = None
    engine: str = "apply"
    exec_command: str | None = None
    image: str | None = None
    namespace: str = "kube-system"
    node_selector: str | None = None
    toleration: str | None = None
    max_unavailable: str = "1"
    requests: str = "cpu=10m,memory=64Mi"
    limits: str = "memory=256Mi"


@dataclass(frozen=True)
class TargetOption:
    """A target's own option: the :class:`Options` field it sets and its flag."""

    name: str
    flag: str
    metavar: str
    help: str
    type: type = str
    choices: tuple = ()              # the values it takes (none: any)
    refusal: str = ""                # the error for another value ({value} is filled in)


def _default(name: str):
    return next(f.default for f in fields(Options) if f.name == name)


def declared_options() -> list[tuple[str, TargetOption]]:
    """(target name, option) of every target's declared option."""
    return [(name, o) for name, mod in registry().items() for o in getattr(mod, "OPTIONS", ())]


def check_options(target, options: Options, foreign: bool = False) -> None:
    """Refuse a value outside the choices of an option ``target`` declares
    (once, before it compiles); with ``foreign``, also another target's option
    that was set (a flag the user gave to the wrong target)."""
    mine = {o.name: o for o in getattr(target, "OPTIONS", ())}
    for name, o in declared_options() if foreign else ():
        value = getattr(options, o.name)
        if o.name in mine or value == _default(o.name):
            continue
        owners = sorted({n for n, x in declared_options() if x.name == o.name})
        raise DamosError(f"{o.flag} applies to the {' and '.join(owners)} target, not "
                         f"{target.NAME}")
    for o in mine.values():
        value = getattr(options, o.name)
        if o.choices and value != _default(o.name) and value not in o.choices:
            raise DamosError(o.refusal.format(value=value) if o.refusal else
                             f"{o.flag} must be one of {', '.join(map(str, o.choices))}")


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
    check_options(target, options)
    unit = unit_of(program, options, interface=getattr(target, "INTERFACE", None),
                   source=source)
    return target.compile(unit, options)
