"""Linux 5.16-6.0: scalar API.  ``damon_set_attrs()`` and
``damon_new_scheme()`` take every value as an argument, the access pattern
and the intervals are members of ``struct damos`` and ``struct damon_ctx``.
5.16 and 5.17 have no ``damon_select_ops()``: the ops are set by
``damon_{va,pa}_set_primitives()``, a target is created with its id (the
``struct pid *``), and ``damon_start()`` has no ``exclusive`` argument."""
from __future__ import annotations

from ... import catalog
from .base import Emitter, c_size, c_uint, c_ulong, c_usecs


class Family(Emitter):
    first = (5, 16)
    last = (6, 0)
    has_pattern_struct = False

    @property
    def primitives(self) -> bool:
        return self.version < (5, 18)

    def set_attrs(self, ctx):
        return []

    def attrs_call(self):
        # the template calls this with `ctx` and the values inline
        iv = self._ctx.intervals
        return (f"damon_set_attrs(ctx, {c_usecs(iv.sample_us)}, {c_usecs(iv.aggr_us)},\n"
                f"\t\t\t      {c_usecs(iv.update_us)}, {c_ulong(self._ctx.nr_regions_min)}, "
                f"{c_ulong(self._ctx.nr_regions_max)})")

    def render(self, ctx, **kw):
        self._ctx = ctx
        return super().render(ctx, **kw)

    def aggr_interval(self, c):
        return f"{c}->aggr_interval"

    def min_age_field(self, s):
        return f"{s}->min_age_region"

    def select_ops(self, ops):
        if not self.primitives:
            return super().select_ops(ops)
        fn = "damon_pa_set_primitives" if ops == "paddr" else "damon_va_set_primitives"
        return f"({fn}(ctx), 0)"

    def new_target(self, pid):
        if not self.primitives:
            return super().new_target(pid)
        return f"damon_new_target((unsigned long){pid or 0})"

    def start_call(self):
        return "damon_start(&ctx, 1)" if self.primitives else super().start_call()

    def new_scheme_args(self, s):
        p = s.pattern
        return [c_size(p.sz_min), c_size(p.sz_max), c_uint(p.nr_accesses_min),
                c_uint(p.nr_accesses_max), c_uint(p.age_min), c_uint(p.age_max),
                catalog.ACTIONS[s.action].c_enum, "&quota", "&wmarks"]
