"""Linux 6.17 and 7.x: ``struct damon_callback`` is gone; the periodic work is
a ``damon_call()`` with ``repeat``.  The vaddr operations put the target's
pid when the context is destroyed (``cleanup_target``).  Later additions
handled here: weighted migration destinations (6.17), ``max_nr_snapshots``
and the ``min_region_sz`` argument of ``damon_set_regions()`` (7.0), the
quota goal tuner (7.1), ``fail_charge`` and
``damon_set_region_system_rams_default()`` (7.2)."""
from __future__ import annotations

from .base import Emitter, c_ulong
from .v6_14 import Family as F614


class Family(F614):
    first = (6, 17)
    last = None
    periodic = "damon_call"
    ops_put_pid = True

    def set_regions(self, nr):
        if self.version >= (7, 0):
            return f"damon_set_regions(target, ranges, {nr}, DAMON_MIN_REGION_SZ)"
        return super().set_regions(nr)

    def default_region(self):
        if self.version >= (7, 2):
            return ("damon_set_region_system_rams_default(target, &start, &end,\n"
                    "\t\t\t\t\t\t   ctx->addr_unit, ctx->min_region_sz)")
        if self.version >= (7, 0):
            return ("damon_set_region_biggest_system_ram_default(target, &start, &end,\n"
                    "\t\t\t\t\t\t\t  ctx->min_region_sz)")
        return super().default_region()

    def scheme_after(self, s):
        out = Emitter.scheme_after(self, s)
        if s.max_snapshots:
            out.append(f"scheme->max_nr_snapshots = {c_ulong(s.max_snapshots)};")
        return out

    def includes(self, ctx):
        extra = ["linux/slab.h"] if any(s.dests for s in ctx.schemes) else []
        return sorted(super().includes(ctx) + extra)

    def extra_decls(self, s):
        return ["struct damos_migrate_dests *dests;"] if s.dests else []

    def extra_parts(self, s):
        if not s.dests:
            return []
        n = len(s.dests)
        # what damon_destroy_scheme() frees: both arrays, also half-built ones
        out = ["dests = &scheme->migrate_dests;"]
        for arr in ("node_id_arr", "weight_arr"):
            out += [f"dests->{arr} = kmalloc_array({n}, sizeof(*dests->{arr}), GFP_KERNEL);",
                    f"if (!dests->{arr})", "\tgoto fail;"]
        for i, d in enumerate(s.dests):
            out += [f"dests->node_id_arr[{i}] = {d.nid};", f"dests->weight_arr[{i}] = {d.weight};"]
        return [out + [f"dests->nr_dests = {n};"]]
