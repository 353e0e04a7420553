"""Linux 6.17: ``struct damon_callback`` is gone; the periodic work is a
``damon_call()`` with ``repeat``.  The vaddr operations put the target's pid
when the context is destroyed (``cleanup_target``).  Weighted migration
destinations (6.17) and the scheme members later families add plain stores
for (``max_nr_snapshots``, 7.0) are emitted here; the region calls change
from 6.18 on (``v6_18`` .. ``v7_2``)."""
from __future__ import annotations

from .base import Emitter, c_ulong
from .v6_14 import Family as F614


class Family(F614):
    first = (6, 17)
    last = (6, 17)
    periodic = "damon_call"
    ops_put_pid = True

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
