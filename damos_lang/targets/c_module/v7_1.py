"""Linux 7.1: ``damon_set_region_biggest_system_ram_default()`` takes the
context's ``addr_unit`` before the minimum region size; the quota goal
tuner (``goal_tuner``) is new in ``struct damos_quota``."""
from __future__ import annotations

from .v7_0 import Family as F70


class Family(F70):
    first = (7, 1)
    last = (7, 1)

    def default_region_args(self):
        return ["target", "&start", "&end", "ctx->addr_unit", f"ctx->{self.min_region_member}"]
