"""The sysfs write plan as JSON: every (file, value) write in order, for tools that apply it themselves."""
from __future__ import annotations

from ..catalog import SYSFS
from ..sysfs_writes import plan_for, plan_to_json

NAME = "sysfs-plan"
INTERFACE = SYSFS


def compile(unit, options) -> str:
    return plan_to_json(plan_for(unit, options))
