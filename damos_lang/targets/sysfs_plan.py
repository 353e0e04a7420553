"""The sysfs write plan as JSON: every (file, value) write in order, for tools that apply it themselves."""
from __future__ import annotations

from ..sysfs_plan import plan_for, plan_to_json

NAME = "sysfs-plan"


def compile(program, options) -> str:
    return plan_to_json(plan_for(program, options))
