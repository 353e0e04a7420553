"""DAMON's kernel modules seen through ``/sys/module``: which ones run DAMON
exclusively (while one runs, a sysfs kdamond's ``on`` fails with -EBUSY, and
the other way round; sysfs.md §7 trap 1)."""
from __future__ import annotations

MODULE_ROOT = "/sys/module"
EXCLUSIVE_MODULES = ("damon_stat", "damon_reclaim", "damon_lru_sort")


def enabled_path(module_root: str, module: str) -> str:
    return f"{module_root}/{module}/parameters/enabled"
