"""Linux 7.2 and later: the default paddr region is all System RAM,
``damon_set_region_system_rams_default(t, &start, &end, addr_unit,
min_region_sz)``, which replaces the biggest-System-RAM call; the context
has ``pause``; the probe API and quota ``fail_charge_num/denom`` are new.

7.3 changed nothing the module calls: ``damon_stop()`` returns void (the
module never used its value), ``damon_update_region_access_rate()`` lost
its attrs argument and ``damon_nr_accesses_mvsum()`` is new (both for
operations sets), and some members became private (``damos_quota.goals``,
``damon_ctx.ops``; the module only uses their helpers).  So 7.3 is this
family; ``detect`` still tells 7.3 from 7.2."""
from __future__ import annotations

from .base import context_setting
from .v7_1 import Family as F71


class Family(F71):
    first = (7, 2)
    last = None

    def default_region(self):
        return self.call("damon_set_region_system_rams_default", self.default_region_args())

    def context_settings(self, ctx):
        out = super().context_settings(ctx)
        if context_setting(ctx, "pause"):
            out.append("ctx->pause = true;")
        return out
