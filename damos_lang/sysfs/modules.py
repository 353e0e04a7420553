"""DAMON's kernel modules seen through ``/sys/module``: which ones run DAMON
exclusively (while one runs, a sysfs kdamond's ``on`` fails with -EBUSY, and
the other way round; sysfs.md §7 trap 1), and DAMON_STAT's parameters
(``mm/damon/stat.c``, 6.17+; Debian's 7.x kernels enable it at boot)."""
from __future__ import annotations

import os

MODULE_ROOT = "/sys/module"

DAMON_STAT = "damon_stat"
DAMON_RECLAIM = "damon_reclaim"
DAMON_LRU_SORT = "damon_lru_sort"
EXCLUSIVE_MODULES = (DAMON_STAT, DAMON_RECLAIM, DAMON_LRU_SORT)
LABEL = {DAMON_STAT: "DAMON_STAT", DAMON_RECLAIM: "DAMON_RECLAIM",
         DAMON_LRU_SORT: "DAMON_LRU_SORT"}

# parameters every one of them has
ENABLED = "enabled"
KDAMOND_PID = "kdamond_pid"
# DAMON_STAT's results (read-only)
ESTIMATED_MEMORY_BANDWIDTH = "estimated_memory_bandwidth"     # bytes per second
MEMORY_IDLE_MS_PERCENTILES = "memory_idle_ms_percentiles"     # 101 comma-separated values
AGGR_INTERVAL_US = "aggr_interval_us"


def param_path(module_root: str, module: str, param: str) -> str:
    return os.path.join(module_root, module, "parameters", param)


def enabled_path(module_root: str, module: str) -> str:
    return param_path(module_root, module, ENABLED)


def module_root_for(sysfs_root: str | None, module_root: str | None) -> str | None:
    """The module tree that goes with an admin tree: the kernel's /sys/module
    with the kernel's admin tree; with another tree (a stand-in) only the one
    given, none otherwise."""
    if module_root is not None:
        return module_root
    return MODULE_ROOT if sysfs_root is None else None
