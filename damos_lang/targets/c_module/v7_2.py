"""Linux 7.2: the default paddr region is all System RAM,
``damon_set_region_system_rams_default(t, &start, &end, addr_unit,
min_region_sz)``, which replaces the biggest-System-RAM call; the context
has ``pause``; quota ``fail_charge_num/denom`` are new; and so are the
data-attribute probes: ``damon_new_probe()``, ``damon_add_probe(ctx, p)``,
``damon_new_filter(type, matching, allow)`` and ``damon_add_filter(p, f)``
(a 7.2 ``struct damon_probe`` has no ``weight``: ``v7_3``).

The probes are built as ``mm/damon/sysfs.c`` builds them from its
``probes/`` directories (``damon_sysfs_set_probes()``, 7.2 and 7.3): each
probe is added to the context as soon as it exists and each filter to its
probe, so a failure halfway leaves nothing that ``damon_destroy_ctx()`` does
not free.

A memcg filter takes the memcg's id (``u64 memcg_id``: ``mem_cgroup_id()``,
the cgroup id, in Debian's 7.2.13 and 7.3.4 headers).  sysfs finds it from
the path with ``damon_sysfs_memcg_path_to_id()``, which is private to
``mm/damon`` but uses only public memcg calls: the module carries the same
walk (``NAME_memcg_id()`` in the template), so a path names the same memcg
through either interface, resolved when the module starts."""
from __future__ import annotations

from ... import catalog
from ...model import Probe
from .base import c_string, comment_text, context_setting, wrap
from .v7_1 import Family as F71


class Family(F71):
    first = (7, 2)
    last = (7, 2)

    def default_region(self):
        return self.call("damon_set_region_system_rams_default", self.default_region_args())

    def context_settings(self, ctx):
        out = super().context_settings(ctx)
        if context_setting(ctx, "pause"):
            out.append("ctx->pause = true;")
        return out

    def probe_settings(self, p: Probe) -> list[str]:
        """Plain stores into the new ``probe`` (7.3 adds its weight)."""
        return []

    def memcg_lookup(self, ctx):
        return any(f.memcg_path is not None for p in ctx.probes for f in p.filters)

    def includes(self, ctx):
        extra = ["linux/memcontrol.h", "linux/slab.h"] if self.memcg_lookup(ctx) else []
        return sorted(set(super().includes(ctx) + extra))

    def probes_body(self, ctx, name):
        if not ctx.probes:
            return []
        out = []
        if any(p.filters for p in ctx.probes):
            out.append("struct damon_filter *filter;")
        out.append("struct damon_probe *probe;")
        if self.memcg_lookup(ctx):
            out.append("int err;")
        for i, p in enumerate(ctx.probes):
            label = f"probe {i}" + (f' "{p.name}"' if p.name else "")
            if p.loc is not None:
                label += f" (line {p.loc.line})"
            out += ["", f"/* {comment_text(label)[0]} */", "probe = damon_new_probe();",
                    "if (!probe)", "\treturn -ENOMEM;", "damon_add_probe(c, probe);"]
            out += self.probe_settings(p)
            for f in p.filters:
                out += [wrap("filter = damon_new_filter",
                             [catalog.PROBE_FILTER_TYPES[f.type].c_enum,
                              str(f.matching).lower(), str(f.allow).lower()]),
                        "if (!filter)", "\treturn -ENOMEM;"]
                if f.memcg_path is not None:
                    out += [wrap(f"err = {name}_memcg_id",
                                 [c_string(f.memcg_path), "&filter->memcg_id"]),
                            "if (err) {", "\tdamon_destroy_filter(filter);", "\treturn err;", "}"]
                out.append("damon_add_filter(probe, filter);")
        return out + ["return 0;"]
