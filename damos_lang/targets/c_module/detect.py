"""Which C API a kernel tree has, read from its ``include/linux/damon.h``.

Distribution kernels carry backports, so the version in the tree's Makefile
says less than the header does.  Each marker below is a declaration that
first appeared in the given mainline version (c-api.md); the tree's API is
the newest version whose marker is present."""
from __future__ import annotations

import os
import re

from ...errors import DamosError

Version = tuple[int, int]

# (version, regular expression over damon.h with whitespace collapsed), oldest first
MARKERS: tuple[tuple[Version, str], ...] = (
    ((5, 16), r"struct damos_quota \{"),
    ((5, 18), r"int damon_select_ops\("),
    ((6, 0), r"DAMOS_LRU_PRIO"),
    ((6, 1), r"struct damos_access_pattern \{"),
    ((6, 3), r"struct damos_filter \*damos_new_filter\("),
    ((6, 6), r"DAMOS_FILTER_TYPE_ADDR"),
    ((6, 7), r"enum damos_action action, unsigned long apply_interval_us"),
    ((6, 9), r"damos_new_quota_goal\("),
    ((6, 10), r"DAMOS_FILTER_TYPE_YOUNG"),
    ((6, 11), r"struct damos_watermarks \*wmarks, int target_nid\)"),
    ((6, 14), r"damos_new_filter\(enum damos_filter_type type, bool matching, bool allow\)"),
    ((6, 15), r"struct damon_intervals_goal \{"),
    ((6, 16), r"DAMOS_FILTER_TYPE_HUGEPAGE_SIZE"),
    ((6, 17), r"struct damos_migrate_dests \{"),
    # 6.18: the context's addr_unit and minimum region size, and the 4-argument
    # damon_set_regions() (min_sz_region until 7.0 renamed it min_region_sz)
    ((6, 18), r"int damon_set_regions\(struct damon_target \*t, struct damon_addr_range \*ranges, "
              r"unsigned int nr_ranges, unsigned long min_(sz_region|region_sz)\);"),
    ((6, 18), r"struct damon_operations ops; unsigned long addr_unit;"),
    ((7, 0), r"max_nr_snapshots"),
    # (6.19.y stable took this rename in March 2026: such a tree reads as 7.0)
    ((7, 0), r"unsigned long addr_unit; unsigned long min_region_sz;"),
    ((7, 1), r"damos_quota_goal_tuner"),
    ((7, 2), r"fail_charge_num"),
    ((7, 2), r"int damon_set_region_system_rams_default\("),
    ((7, 2), r"unsigned long min_region_sz; bool pause;"),
    ((7, 2), r"struct damon_probe \*damon_new_probe\(void\);"),
    # 7.3: damon_stop() cannot fail
    ((7, 3), r"void damon_stop\(struct damon_ctx \*\*ctxs, int nr_ctxs\);"),
    # 7.3: a probe has a weight (the one thing the v7_3 family emits differently)
    ((7, 3), r"struct damon_probe \{ unsigned int weight;"),
)
# 6.17 dropped struct damon_callback: a tree that still has it is 6.16 or older
NO_CALLBACK = ((6, 17), r"struct damon_callback \{")


def header_path(tree: str) -> str:
    return os.path.join(tree, "include", "linux", "damon.h")


def detect(tree: str) -> Version:
    """The C API version of the kernel tree at ``tree``."""
    path = header_path(tree)
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise DamosError(f"--kernel-tree: cannot read {path}: {e.strerror}",
                         hint="point --kernel-tree at the top of a Linux source tree") from None
    flat = re.sub(r"\s+", " ", re.sub(r"/\*.*?\*/", " ", text, flags=re.S))
    found = None
    for version, pattern in MARKERS:
        if re.search(pattern, flat):
            found = version
    if found is None:
        raise DamosError(f"--kernel-tree: {path} declares no DAMOS API this target knows "
                         "(DAMOS schemes need Linux 5.16 or newer)")
    if found >= NO_CALLBACK[0] and re.search(NO_CALLBACK[1], flat):
        found = (6, 16)
    return found
