"""Linux 6.18-6.19: the context has ``addr_unit`` (the core-to-ops address
scale factor) and ``min_sz_region`` (the minimum region size, so far the
``DAMON_MIN_REGION`` macro), and both region calls take that size:
``damon_set_regions(t, ranges, nr, min_sz_region)`` and
``damon_set_region_biggest_system_ram_default(t, &start, &end, min_sz_region)``.
The module passes the context's own value, as the sysfs interface does."""
from __future__ import annotations

from .base import c_ulong, context_setting, wrap
from .v6_17 import Family as F617


class Family(F617):
    first = (6, 18)
    last = (6, 19)
    #: the damon_ctx member with the minimum region size, and its default's macro
    min_region_member = "min_sz_region"
    min_region_macro = "DAMON_MIN_REGION"

    def set_regions(self, nr):
        return f"damon_set_regions(target, ranges, {nr}, ctx->{self.min_region_member})"

    def default_region_args(self) -> list[str]:
        return ["target", "&start", "&end", f"ctx->{self.min_region_member}"]

    def default_region(self):
        return self.call("damon_set_region_biggest_system_ram_default", self.default_region_args())

    @staticmethod
    def call(fn: str, args: list[str]) -> str:
        """``fn(args)`` for the template's ``\terr = ...;``, wrapped at 100 columns."""
        return wrap("err = " + fn, args, ";", 1)[len("err = "):-1]

    def context_settings(self, ctx):
        out = super().context_settings(ctx)
        unit = context_setting(ctx, "addr_unit")
        if unit is not None and unit != 1:
            # as DAMON_RECLAIM does: a region stays at least one page in ops addresses
            out += [f"ctx->addr_unit = {c_ulong(unit)};",
                    f"ctx->{self.min_region_member} = max({self.min_region_macro} / "
                    f"{c_ulong(unit)}, 1UL);"]
        return out
