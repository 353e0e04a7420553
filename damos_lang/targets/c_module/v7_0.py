"""Linux 7.0: ``min_sz_region`` of the context is ``min_region_sz`` and
``DAMON_MIN_REGION`` is ``DAMON_MIN_REGION_SZ`` (a rename: the calls keep
their shape); ``max_nr_snapshots`` in ``struct damos``.

6.19.y stable releases from March 2026 carry the rename too (a dependency
of a 7.0 fix): ``--kernel-tree`` reads such a tree as 7.0."""
from __future__ import annotations

from .v6_18 import Family as F618


class Family(F618):
    first = (7, 0)
    last = (7, 0)
    min_region_member = "min_region_sz"
    min_region_macro = "DAMON_MIN_REGION_SZ"
