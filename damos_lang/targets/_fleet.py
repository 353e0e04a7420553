"""What the systemd and kubernetes targets share: the name of what they
deploy, where the file lives on a node, and the pid a process-monitoring file
needs there (docs/fleet.md)."""
from __future__ import annotations

import os
import re

from .. import catalog
from ..errors import DamosError, Loc

from . import TargetOption

DEPLOY_DIR = "/etc/damos-lang"    # where a deployed file lives on a node

NAME_OPTION = TargetOption(
    "name", "--name", "NAME",
    "systemd, kubernetes: what is deployed is called damos-NAME (default: the file's name)")
STOP_DAMON_STAT_OPTION = TargetOption(
    "stop_damon_stat", "--stop-damon-stat", "",
    "systemd, kubernetes: apply with --stop-damon-stat (stop DAMON_STAT while the kdamond "
    "runs; stopping the unit or the pod starts it again)", type=bool)


def stem(unit) -> tuple[str, str]:
    """(stem, suffix) of the file's name: ``examples/prcl.damos`` -> (prcl, .damos)."""
    base = os.path.basename(unit.source_name or "")
    root, ext = os.path.splitext(base)
    if ext not in (".damos", ".json"):
        root, ext = base, (".json" if unit.source.kind == "damo-json" else ".damos")
    return root, ext


def derived_name(unit, options, allowed: str, lower: bool, limit: int) -> str:
    """``--name``, checked, or the file's stem made to fit: every character outside
    ``allowed`` (a regex character class body) becomes '-'."""
    if options.name is not None:
        return options.name
    text = stem(unit)[0]
    if lower:
        text = text.lower()
    text = re.sub(f"[^{allowed}]+", "-", text).strip("-.")[:limit].strip("-.")
    if not text:
        raise DamosError(f"cannot make a name of {unit.source_name!r}: give --name NAME")
    return text


def needs_pid(unit, alternatives: str = "") -> None:
    """A file that monitors processes must name one before it goes on a node
    (the sysfs script takes it when it runs; a unit or a pod has no one to ask)."""
    ctx = unit.context
    if catalog.OPS[ctx.ops].takes_pid and not any(t.pid is not None for t in ctx.targets):
        json = unit.source.kind == "damo-json"
        raise DamosError(f"{ctx.ops} monitors a process and the file names none: write "
                         f"'target pid N' or pass --pid N{alternatives}",
                         None if json else ctx.loc or Loc(1, 1), path="targets" if json else None)


def is_pid_target(unit) -> bool:
    return catalog.OPS[unit.context.ops].takes_pid
