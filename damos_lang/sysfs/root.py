"""Opening an admin tree: the kernel's, any directory (``--sysfs-root``), or
a stand-in kernel (a directory holding the stand-in's marker)."""
from __future__ import annotations

import os

from ..errors import DamosError
from . import layout as L
from .fs import SysfsFs
from .standin import MARKER, StandIn


def open_root(root: str | None) -> SysfsFs:
    """The tree at ``root`` (default: the kernel's admin root): a stand-in
    when the directory holds the stand-in marker."""
    root = root or L.ADMIN_ROOT
    if os.path.exists(os.path.join(root, MARKER)):
        return StandIn(root)
    return SysfsFs(root)


def under_test() -> bool:
    """Under pytest (or DAMOS_LIVE_NO_KERNEL_TREE): the kernel's own trees
    (DAMON's, /sys/module, THP's) are refused, so no test touches the host's."""
    return bool(os.environ.get("PYTEST_CURRENT_TEST")
                or os.environ.get("DAMOS_LIVE_NO_KERNEL_TREE"))


def tree(root: str | None = None) -> SysfsFs:
    """The admin tree at ``root`` (None: the kernel's; refused under_test())."""
    if root is None and under_test():
        raise DamosError("refusing to use the kernel's DAMON tree under a test: pass a "
                         "stand-in tree (--sysfs-root)")
    fs = open_root(root)
    if not fs.isdir(os.path.dirname(L.NR_KDAMONDS)):
        where = root or L.ADMIN_ROOT
        raise DamosError(f"no DAMON sysfs interface at {where} (needs CONFIG_DAMON_SYSFS=y, "
                         "Linux >= 5.18, and sysfs mounted)")
    return fs
