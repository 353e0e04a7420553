"""The shared C emitter: everything every in-kernel DAMON API family has in common.

A family module (``v5_16.py`` .. ``v7_3.py``) subclasses :class:`Emitter`
and overrides only what its API does differently: the calls that create the
context's attributes, a scheme and a filter, where the access pattern lives,
and how the periodic work is hooked (``after_aggregation`` callback up to
6.16, ``damon_call()`` with ``repeat`` from 6.17).  The C text itself is in
``templates/`` (Jinja2); the emitter hands the template ready-made C
expressions, so the template holds the module's shape and no API knowledge.

Version facts that :mod:`damos_lang.catalog` does not carry (when a struct
member or an argument appeared in the C API) are in :data:`SINCE`, checked
in kernel trees as ``c-api.md`` lists.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import jinja2

from ... import catalog
from ...errors import DamosError
from ...model import UINT_MAX, ULONG_MAX, Context, Filter, Probe, QuotaGoal, Scheme

Version = tuple[int, int]

#: first C-API version of each API fact: the catalog's settings, plus what only
#: the C API has (checked in kernel trees as c-api.md lists)
SINCE: dict[str, Version] = {
    "fvaddr": (5, 18),                 # damon_select_ops(), DAMON_OPS_FVADDR
    # damon_set_region_biggest_system_ram_default()
    "paddr default region": catalog.PADDR_DEFAULT_REGION.since[catalog.C_API],
    "migrate on vaddr": (6, 17),       # vaddr's migrate_{hot,cold} implementation
    "ctx addr_unit": (6, 18),          # damon_ctx->addr_unit (and ->min_sz_region)
    "ctx pause": (7, 2),               # damon_ctx->pause
    **{name: s.c_api for name, s in catalog.SETTINGS.items()},
}

# sizes that read better as linux/sizes.h names (present in every tree we emit for)
_SZ = {1 << n: f"SZ_{1 << (n % 10)}{'KMG'[n // 10 - 1]}" for n in range(10, 32)}
INT_MAX = 2**31 - 1
_ENV = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined, autoescape=False)
_ENV.globals["wrap"] = lambda *a: wrap(*a)


def vstr(v: Version) -> str:
    return catalog.vstr(v)


# -- C literals ---------------------------------------------------------------

def c_ulong(v: int) -> str:
    if v == ULONG_MAX:
        return "ULONG_MAX"
    return f"{v}UL" if v > INT_MAX else str(v)


def c_uint(v: int) -> str:
    if v == UINT_MAX:
        return "UINT_MAX"
    return f"{v}U" if v > INT_MAX else str(v)


def c_size(v: int) -> str:
    return _SZ.get(v) or c_ulong(v)


def c_addr(v: int) -> str:
    return "ULONG_MAX" if v == ULONG_MAX else f"{v:#x}UL" if v > INT_MAX else f"{v:#x}"


def c_usecs(v: int) -> str:
    """A duration in microseconds, as USEC_PER_SEC/MSEC multiples when exact."""
    for unit, name in ((1_000_000, "USEC_PER_SEC"), (1000, "USEC_PER_MSEC")):
        if v and v % unit == 0 and v // unit <= INT_MAX:
            n = v // unit
            return name if n == 1 else f"{n} * {name}"
    return c_ulong(v)


def c_string(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.append("".join(f"\\x{b:02x}" for b in ch.encode()))
    return '"' + "".join(out) + '"'


def _comment_safe(line: str) -> str:
    line = "".join(c if " " <= c <= "~" else "?" for c in line)
    return line.replace("*/", "* /").replace("/*", "/ *")


def comment_text(text: str, width: int = 76) -> list[str]:
    """Source text as comment lines: no '*/' or '/*', tabs expanded, only
    printable ASCII, lines longer than ``width`` folded (a folded line ends in
    a backslash), trailing blanks dropped."""
    lines = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = _comment_safe(raw.expandtabs(8)).rstrip()
        while len(line) > width:
            cut = line.rfind(" ", 20, width)
            if cut <= 0:
                cut = width - 1
            head, line = line[:cut].rstrip(), "    " + line[cut:].lstrip()
            lines.append(head + " \\")
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def module_name(source_name: str | None) -> str:
    """``damos_<stem>`` from the scheme file's name, as a C identifier."""
    stem = (source_name or "scheme").replace("\\", "/").rsplit("/", 1)[-1]
    stem = re.sub(r"\.(damos|json)$", "", stem)
    stem = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_") or "scheme"
    return "damos_" + stem[:40].rstrip("_")


def context_setting(ctx, name: str):
    """``ctx.<name>`` if the model carries that context setting, else None
    (``addr_unit`` and ``pause``)."""
    return getattr(ctx, name, None)


# -- what the template gets ---------------------------------------------------

def wrap(head: str, args: list[str], tail: str = ";", indent: int = 1) -> str:
    """``head(args)tail`` for a line indented by ``indent`` tabs, wrapped at 100
    columns with continuation lines aligned to the open parenthesis (kernel
    style); continuation lines carry their own indentation."""
    one = f"{head}({', '.join(args)}){tail}"
    if 8 * indent + len(one) <= 100:
        return one
    col = 8 * indent + len(head) + 1
    pad = "\t" * (col // 8) + " " * (col % 8)
    lines, cur, start = [], head + "(", 8 * indent
    for i, a in enumerate(args):
        piece = a + (", " if i < len(args) - 1 else ")" + tail)
        if not cur.endswith("(") and start + len(cur) + len(piece.rstrip()) > 100:
            lines.append(cur.rstrip())
            cur, start = "", col
        cur += piece
    lines.append(cur)
    return ("\n" + pad).join(lines)


@dataclass
class CScheme:
    """One scheme, ready for the template: C text per part."""

    index: int
    label: str              # for comments: 'scheme 0 "cold_pageout" (line 12)'
    decls: list[str]        # local declarations (struct initialisers, pointers)
    call: str               # 'scheme = damon_new_scheme(...);'
    after: list[str]        # statements after creation that cannot fail (plain stores)
    parts: list[list[str]]  # per goal/filter: statements creating it (may fail: NULL check)


class Emitter:
    """The 6.11-6.13 API: the reference the other families differ from."""

    first: Version = (6, 11)
    last: Version | None = (6, 13)
    #: the template hook for periodic work: "callback" (after_aggregation) or "damon_call"
    periodic = "callback"
    #: the ops layer puts the target's pid when the context is destroyed (6.17+)
    ops_put_pid = False

    def __init__(self, version: Version):
        self.version = version

    @classmethod
    def covers(cls, v: Version) -> bool:
        return cls.first <= v and (cls.last is None or v <= cls.last)

    # -- feature checks -----------------------------------------------------

    def need(self, since: Version | None, what: str, loc) -> None:
        if since is None:
            raise DamosError(f"no Linux kernel's C API has {what}", loc)
        if self.version < since:
            raise DamosError(f"{what} needs Linux {vstr(since)} or newer; the c-module "
                             f"target is emitting for the {vstr(self.version)} C API", loc,
                             hint=f"use --kernel {vstr(since)} (or newer) if your kernel has it")

    def check(self, ctx: Context) -> None:
        loc = ctx.loc
        self.need(catalog.INTERFACE_SPAN[catalog.C_API][0], "the in-kernel DAMON C API", loc)
        if ctx.ops == "fvaddr":
            self.need(SINCE["fvaddr"], "fvaddr operations", loc)
        if ctx.intervals_goal is not None:
            name = catalog.INTERVALS_GOAL
            self.need(SINCE[name], name, loc)
        if len(ctx.targets) > 1:
            raise DamosError("the c-module target manages one target (one process or one "
                             f"set of regions); this file has {len(ctx.targets)}",
                             ctx.targets[1].loc or loc)
        ops = catalog.OPS[ctx.ops]
        t = ctx.targets[0] if ctx.targets else None
        if ops.needs_regions and not (t and t.regions):
            if ctx.ops == "paddr":
                self.need(SINCE["paddr default region"],
                          "paddr without target regions (the biggest System RAM default)", loc)
            else:
                raise DamosError(f"{ctx.ops} operations need target regions", loc)
        self.check_context(ctx)
        for s in ctx.schemes:
            self.check_scheme(ctx, s)

    def check_context(self, ctx: Context) -> None:
        """The context members that :meth:`context_settings` stores."""
        unit = context_setting(ctx, "addr_unit")
        if unit is not None and unit != 1:
            self.need(SINCE["ctx addr_unit"], "addr_unit", ctx.loc)
        if context_setting(ctx, "pause"):
            self.need(SINCE["ctx pause"], "pause", ctx.loc)
        for p in ctx.probes:
            self.check_probe(ctx, p)

    def check_probe(self, ctx: Context, p: Probe) -> None:
        loc = p.loc or ctx.loc
        self.need(SINCE[catalog.PROBES], "probes", loc)
        if p.weight:
            self.need(SINCE[catalog.PROBE_WEIGHT], "probe weight", p.weight_loc or loc)
        for f in p.filters:
            self.need(catalog.PROBE_FILTER_TYPES[f.type].since, f"probe filter type {f.type!r}",
                      f.loc or loc)

    def check_scheme(self, ctx: Context, s: Scheme) -> None:
        loc = s.action_loc or s.loc
        a = catalog.ACTIONS[s.action]
        self.need(a.since, f"action {s.action!r}", loc)
        if s.action.startswith("migrate") and ctx.ops in catalog.VADDR_OPS:
            self.need(SINCE["migrate on vaddr"], f"action {s.action!r} on {ctx.ops}", loc)
        if s.apply_interval_us:
            self.need(SINCE[catalog.APPLY_INTERVAL], "apply_interval", s.loc)
        if s.target_nid is not None:
            self.need(SINCE[catalog.TARGET_NID], "target_nid", s.loc)
        if s.dests:
            self.need(SINCE[catalog.DESTS], "dests (weighted migration destinations)", s.loc)
        if s.max_snapshots:
            self.need(SINCE[catalog.MAX_SNAPSHOTS], "max_snapshots", s.loc)
        q = s.quota
        if q is not None:
            if q.goal_tuner is not None:
                self.need(catalog.GOAL_TUNERS[q.goal_tuner].since,
                          f"quota goal tuner {q.goal_tuner!r}", q.loc or s.loc)
            if q.fail_charge_num or q.fail_charge_denom:
                self.need(SINCE[catalog.FAIL_CHARGE], "quota fail_charge", q.loc or s.loc)
            for g in q.goals:
                self.check_goal(g, q.loc or s.loc)
        for f in s.filters:
            self.check_filter(f, s.loc)

    def check_goal(self, g: QuotaGoal, loc) -> None:
        loc = g.loc or loc
        self.need(catalog.GOAL_METRICS[g.metric].since, f"quota goal metric {g.metric!r}", loc)
        if g.nid is not None:
            self.need(SINCE[catalog.GOAL_NID], "a quota goal's nid", loc)
        if g.path is not None:
            raise DamosError("the c-module target cannot resolve a cgroup path to a memcg id "
                             "yet; use the sysfs target for memcg quota goals", loc)
        if g.target_value == 0:
            raise DamosError("a quota goal's target value must not be 0 "
                             "(the kernel divides by it)", loc)

    def check_filter(self, f: Filter, loc) -> None:
        loc = f.loc or loc
        self.need(catalog.FILTER_TYPES[f.type].since, f"filter type {f.type!r}", loc)
        if f.allow:
            self.need(SINCE[catalog.ALLOW_FILTERS], "allow filters", loc)
        if catalog.FILTER_TYPES[f.type].arg is catalog.ARG_PATH:
            raise DamosError("the c-module target cannot resolve a cgroup path to a memcg id "
                             "yet; use the sysfs target for memcg filters", loc)

    # -- API shape: what the families override ------------------------------

    def set_attrs(self, ctx: Context) -> list[str]:
        """Statements setting the monitoring attributes of ``ctx`` (C variable)."""
        iv = ctx.intervals
        lines = ["struct damon_attrs attrs = {",
                 f"\t.sample_interval = {c_usecs(iv.sample_us)},",
                 f"\t.aggr_interval = {c_usecs(iv.aggr_us)},",
                 f"\t.ops_update_interval = {c_usecs(iv.update_us)},",
                 f"\t.min_nr_regions = {c_ulong(ctx.nr_regions_min)},",
                 f"\t.max_nr_regions = {c_ulong(ctx.nr_regions_max)},"]
        g = ctx.intervals_goal
        if g is not None:
            lines += ["\t.intervals_goal = {",
                      f"\t\t.access_bp = {c_ulong(g.access_bp)},",
                      f"\t\t.aggrs = {c_ulong(g.aggrs)},",
                      f"\t\t.min_sample_us = {c_usecs(g.min_sample_us)},",
                      f"\t\t.max_sample_us = {c_usecs(g.max_sample_us)},",
                      "\t},"]
        return lines + ["};"]

    def attrs_call(self) -> str:
        return "damon_set_attrs(ctx, &attrs)"

    def context_settings(self, ctx: Context) -> list[str]:
        """Plain stores into the new ``ctx`` after its attributes: the
        ``context_settings`` block of the template, for the context members
        the model may carry (``addr_unit`` from 6.18, ``pause`` from 7.2; see
        :func:`context_setting`).  None before 6.18."""
        return []

    def aggr_interval(self, c: str) -> str:
        """C expression: the aggregation interval (us) of context ``c``."""
        return f"{c}->attrs.aggr_interval"

    def min_age_field(self, s: str) -> str:
        return f"{s}->pattern.min_age_region"

    def select_ops(self, ops: str) -> str:
        return f"damon_select_ops(ctx, {catalog.OPS[ops].c_enum})"

    def new_target(self, pid: str | None) -> str:
        """C expression creating a target; ``pid``: the ``struct pid *`` variable."""
        return "damon_new_target()"

    def start_call(self) -> str:
        # not exclusive: the module runs alongside DAMON sysfs users
        return "damon_start(&ctx, 1, false)"

    def set_regions(self, nr: str) -> str:
        return f"damon_set_regions(target, ranges, {nr})"

    def default_region(self) -> str:
        return "damon_set_region_biggest_system_ram_default(target, &start, &end)"

    def pattern_struct(self, s: Scheme) -> list[str]:
        p = s.pattern
        return ["struct damos_access_pattern pattern = {",
                f"\t.min_sz_region = {c_size(p.sz_min)},",
                f"\t.max_sz_region = {c_size(p.sz_max)},",
                f"\t.min_nr_accesses = {c_uint(p.nr_accesses_min)},",
                f"\t.max_nr_accesses = {c_uint(p.nr_accesses_max)},",
                f"\t.min_age_region = {c_uint(p.age_min)},",
                f"\t.max_age_region = {c_uint(p.age_max)},",
                "};"]

    def quota_fields(self, s: Scheme) -> list[str]:
        q = s.quota
        if q is None:
            return []
        out = [f".ms = {c_ulong(q.ms)}", f".sz = {c_size(q.sz)}",
               f".reset_interval = {c_ulong(q.reset_interval_ms)}"]
        if q.weights is not None:
            w = q.weights
            out += [f".weight_sz = {c_uint(w.sz)}",
                    f".weight_nr_accesses = {c_uint(w.nr_accesses)}",
                    f".weight_age = {c_uint(w.age)}"]
        if q.goal_tuner is not None:
            out.append(f".goal_tuner = {catalog.GOAL_TUNERS[q.goal_tuner].c_enum}")
        if q.fail_charge_num or q.fail_charge_denom:
            out += [f".fail_charge_num = {c_uint(q.fail_charge_num)}",
                    f".fail_charge_denom = {c_uint(q.fail_charge_denom)}"]
        return out

    def wmarks_fields(self, s: Scheme) -> list[str]:
        w = s.watermarks
        if w is None or w.metric == "none" and not (w.interval_us or w.high or w.mid or w.low):
            return []
        return [f".metric = {catalog.WMARK_METRICS[w.metric].c_enum}",
                f".interval = {c_usecs(w.interval_us)}",
                f".high = {c_ulong(w.high)}", f".mid = {c_ulong(w.mid)}",
                f".low = {c_ulong(w.low)}"]

    def new_scheme_args(self, s: Scheme) -> list[str]:
        return ["&pattern", catalog.ACTIONS[s.action].c_enum, c_usecs(s.apply_interval_us),
                "&quota", "&wmarks", self.nid(s.target_nid)]

    @staticmethod
    def nid(n: int | None) -> str:
        return "NUMA_NO_NODE" if n is None else str(n)

    def scheme_create(self, s: Scheme) -> list[str]:
        out = self.pattern_struct(s) if self.has_pattern_struct else []
        for kind, var, fields in (("damos_quota", "quota", self.quota_fields(s)),
                                  ("damos_watermarks", "wmarks", self.wmarks_fields(s))):
            if fields:
                out += [f"struct {kind} {var} = {{"] + [f"\t{f}," for f in fields] + ["};"]
            else:
                out.append(f"struct {kind} {var} = {{}};")
        return out

    has_pattern_struct = True

    def scheme_after(self, s: Scheme) -> list[str]:
        """Plain stores into the new ``scheme`` (members damon_new_scheme() does not take)."""
        return []

    def extra_decls(self, s: Scheme) -> list[str]:
        return []

    def extra_parts(self, s: Scheme) -> list[list[str]]:
        """More fallible steps after the goals and filters (``goto fail`` on error)."""
        return []

    def includes(self, ctx: Context) -> list[str]:
        return ["linux/damon.h", "linux/init.h", "linux/kernel.h", "linux/module.h",
                "linux/sizes.h"]

    def new_filter(self, f: Filter) -> tuple[str, list[str]]:
        """The function and arguments that create filter ``f``."""
        return "damos_new_filter", [catalog.FILTER_TYPES[f.type].c_enum,
                                    str(f.matching).lower()]

    def filter_parts(self, f: Filter) -> list[str]:
        out = [wrap("filter = " + self.new_filter(f)[0], self.new_filter(f)[1]),
               "if (!filter)", "\tgoto fail;"]
        arg = catalog.FILTER_TYPES[f.type].arg
        if arg is catalog.ARG_ADDR_RANGE:
            out += ["filter->addr_range = (struct damon_addr_range){",
                    f"\t.start = {c_addr(f.addr_start)},", f"\t.end = {c_addr(f.addr_end)},",
                    "};"]
        elif arg is catalog.ARG_INDEX:
            out.append(f"filter->target_idx = {f.target_idx};")
        elif arg is catalog.ARG_SIZE_RANGE:
            out += ["filter->sz_range = (struct damon_size_range){",
                    f"\t.min = {c_size(f.sz_min)},", f"\t.max = {c_size(f.sz_max)},", "};"]
        return out + ["damos_add_filter(scheme, filter);"]

    def probes_body(self, ctx: Context, name: str) -> list[str]:
        """The statements of the module's ``NAME_add_probes()``, which adds the
        data-attribute probes to ``ctx`` and returns 0 or an error; empty
        without probes.  :meth:`check_probe` refuses probes before 7.2, so only
        the families with the probe API (``v7_2`` on) override this."""
        return []

    def memcg_lookup(self, ctx: Context) -> bool:
        """Whether the module needs ``NAME_memcg_id()`` (the template's), which
        finds the id of the online memcg at a cgroup path."""
        return False

    def kconfig_depends(self, ctx: Context) -> list[str]:
        """Kconfig symbols the module depends on besides DAMON."""
        return [catalog.OPS[ctx.ops].kconfig] + (["MEMCG"] if self.memcg_lookup(ctx) else [])

    def goal_parts(self, g: QuotaGoal) -> list[str]:
        out = [wrap("goal = damos_new_quota_goal",
                    [catalog.GOAL_METRICS[g.metric].c_enum, c_ulong(g.target_value)]),
               "if (!goal)", "\tgoto fail;"]
        if g.current_value:
            out.append(f"goal->current_value = {c_ulong(g.current_value)};")
        if g.nid is not None:
            out.append(f"goal->nid = {g.nid};")
        return out + ["damos_add_quota_goal(&scheme->quota, goal);"]

    # -- the module ---------------------------------------------------------

    def scheme(self, i: int, s: Scheme) -> CScheme:
        label = f"scheme {i}"
        if s.name:
            label += f' "{s.name}"'
        if s.loc is not None:
            label += f" (line {s.loc.line})"
        goals = s.quota.goals if s.quota else ()
        parts = [self.goal_parts(g) for g in goals] + [self.filter_parts(f) for f in s.filters]
        parts += self.extra_parts(s)
        decls = self.scheme_create(s) + self.extra_decls(s)
        if goals:
            decls.append("struct damos_quota_goal *goal;")
        if s.filters:
            decls.append("struct damos_filter *filter;")
        decls.append("struct damos *scheme;")
        call = wrap("scheme = damon_new_scheme", self.new_scheme_args(s))
        return CScheme(i, comment_text(label)[0], decls, call, self.scheme_after(s), parts)

    def render(self, ctx: Context, *, name: str, source_name: str | None,
               source_text: str | None, pid: int | None, api_note: str) -> dict[str, str]:
        self.check(ctx)
        ops = catalog.OPS[ctx.ops]
        target = ctx.targets[0] if ctx.targets else None
        if pid is None and target is not None:
            pid = target.pid
        schemes = [self.scheme(i, s) for i, s in enumerate(ctx.schemes)]
        quota_schemes = [s.quota is not None for s in ctx.schemes]
        aggr = ctx.intervals.aggr_us
        env = dict(
            e=self, name=name, prefix=f"damon_sample_{name}", upper=name.upper(),
            source_name=(source_name or "the scheme file").replace("\\", "/").rsplit("/", 1)[-1],
            source_lines=comment_text(source_text) if source_text else [],
            api_note=textwrap.wrap(_comment_safe(f"Generated by damos-lang for {api_note}."), 76,
                                   break_long_words=True, break_on_hyphens=False),
            ops=ops, kconfig=" && ".join(self.kconfig_depends(ctx)),
            takes_pid=ops.takes_pid, pid=pid or 0,
            regions=[(c_addr(a), c_addr(b)) for a, b in (target.regions if target else ())],
            attrs=self.set_attrs(ctx), ctx_settings=self.context_settings(ctx), schemes=schemes, includes=self.includes(ctx),
            nr_goals=sum(len(s.quota.goals) for s in ctx.schemes if s.quota),
            nr_filters=sum(len(s.filters) for s in ctx.schemes),
            min_age_us=[c_ulong(min(ULONG_MAX, s.pattern.age_min * aggr)) for s in ctx.schemes],
            has_quota=any(quota_schemes), probes=self.probes_body(ctx, name),
            memcg_lookup=self.memcg_lookup(ctx),
            quota_ms=[c_ulong(s.quota.ms if s.quota else 0) for s in ctx.schemes],
            quota_sz=[c_size(s.quota.sz if s.quota else 0) for s in ctx.schemes],
        )
        files = {
            f"samples/damon/{name}.c": _ENV.get_template("module.c.j2").render(**env),
            f"samples/damon/Kconfig.{name}": _ENV.get_template("Kconfig.j2").render(**env),
            f"samples/damon/Makefile.{name}": _ENV.get_template("Makefile.j2").render(**env),
        }
        return files
