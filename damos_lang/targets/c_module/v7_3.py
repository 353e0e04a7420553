"""Linux 7.3 and later: a probe has a ``weight`` (``struct damon_probe``,
public; a nonzero weight turns the access checks off and regions follow the
weighted probe hits).  Nothing else the module calls changed: ``damon_stop()``
returns void (the module never used its value),
``damon_update_region_access_rate()`` lost its attrs argument and
``damon_nr_accesses_mvsum()`` is new (both for operations sets), and some
members became private (``damos_quota.goals``, ``damon_ctx.ops``; the module
only uses their helpers)."""
from __future__ import annotations

from .base import c_uint
from .v7_2 import Family as F72


class Family(F72):
    first = (7, 3)
    last = None

    def probe_settings(self, p):
        out = super().probe_settings(p)
        if p.weight:
            # damon_new_probe() leaves it 0, the kernel's default
            out.append(f"probe->weight = {c_uint(p.weight)};")
        return out
