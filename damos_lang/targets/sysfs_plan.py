"""The sysfs write plan as JSON: every (file, value) write in order, for tools that apply it themselves."""
from ..catalog import SYSFS
from ..sysfs.plan import plan_for, plan_to_json

NAME, INTERFACE = "sysfs-plan", SYSFS


def compile(unit, options) -> str:
    return plan_to_json(plan_for(unit, options))
