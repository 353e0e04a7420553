"""Each scheme in plain English, with its kernel values at the file's
monitoring intervals."""
from __future__ import annotations

from . import catalog
from .check import min_version_line, scheme_label
from .features import default_region, interfaces_line
from .model import Scheme, Weights
from .units import UINT_MAX, ULONG_MAX


def human_bytes(n: int) -> str:
    if n == ULONG_MAX:
        return "unbounded"
    for shift, unit in ((60, "EiB"), (50, "PiB"), (40, "TiB"), (30, "GiB"), (20, "MiB"),
                        (10, "KiB")):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.3g} {unit}" if v != int(v) else f"{int(v)} {unit}"
    return f"{n} B"


def human_us(us: float) -> str:
    for div, unit in ((86400e6, "d"), (3600e6, "h"), (60e6, "min"), (1e6, "s"), (1e3, "ms")):
        if us >= div:
            v = us / div
            return f"{v:.3g} {unit}"
    return f"{us:g} us"


def _range_words(lo, hi, full_hi, unit_words) -> str:
    if lo == 0 and hi >= full_hi:
        return "any"
    if lo == hi:
        return f"exactly {unit_words(lo)}"
    if hi >= full_hi:
        return f"at least {unit_words(lo)}"
    if lo == 0:
        return f"at most {unit_words(hi)}"
    return f"{unit_words(lo)} to {unit_words(hi)}"


def _filter_words(f) -> str:
    args = {k: human_bytes(v) if k.startswith("sz_") else v for k, v in f.args().items()}
    return catalog.FILTER_TYPES[f.type].words.format(**args)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def explain_scheme(i: int, s: Scheme, sample_us: int, aggr_us: int) -> str:
    where = f" (line {s.loc.line})" if s.loc else ""
    spa = aggr_us / sample_us
    p = s.pattern
    size = _range_words(p.sz_min, p.sz_max, ULONG_MAX, human_bytes)
    access = _range_words(p.nr_accesses_min, p.nr_accesses_max, UINT_MAX,
                          lambda n: f"{n} of {spa:g} samples ({n * 100 / spa:.3g}%)")
    age = _range_words(p.age_min, p.age_max, UINT_MAX,
                       lambda n: f"{_plural(n, 'aggregation interval')} ({human_us(n * aggr_us)})")
    label = scheme_label(i, s)
    lines = [f"{label[0].upper()}{label[1:]}{where}: {catalog.ACTIONS[s.action].words}, "
             "for every region whose",
             f"  size is {size},",
             f"  access frequency is {access} per {human_us(aggr_us)} aggregation interval,",
             f"  and age is {age}."]
    if any(lo > hi for _, lo, hi in p.ranges()):
        lines.append("  It can never match: a minimum is above its maximum.")
    if s.apply_interval_us:
        lines.append(f"  The action is applied every {human_us(s.apply_interval_us)}.")
    q = s.quota
    if q is not None:
        parts = []
        if q.ms:
            parts.append(f"{q.ms} ms of work")
        if q.sz:
            parts.append(human_bytes(q.sz))
        limit = " and ".join(parts) if parts else "no size or time limit"
        w = q.weights or Weights()
        lines.append(f"  Quota: at most {limit} per {human_us(q.reset_interval_ms * 1000)};"
                     f" priority weights size {w.sz}, access {w.nr_accesses},"
                     f" age {w.age} (permil).")
        for g in q.goals:
            extra = "".join(f" {k} {v}" for k, v in (("nid", g.nid), ("path", g.path))
                            if v is not None)
            if g.metric == "user_input":
                extra += f", current value {g.current_value}"
            lines.append(f"  Quota goal: {g.metric} -> {g.target_value}{extra}"
                         " (the effective quota is tuned toward it).")
        if q.goal_tuner:
            lines.append(f"  Goal tuner: {q.goal_tuner}: {catalog.GOAL_TUNERS[q.goal_tuner].words}.")
        if q.fail_charge_denom:
            lines.append(f"  Regions the action fails on are charged {q.fail_charge_num}/"
                         f"{q.fail_charge_denom} of their size against the quota.")
    if s.max_snapshots:
        lines.append(f"  The scheme deactivates itself after {s.max_snapshots} snapshots.")
    wm = s.watermarks
    if wm is not None:
        lines.append(f"  Active only while {wm.metric} is between the low ({wm.low}) "
                     f"and high ({wm.high}) watermarks (permil), checked every "
                     f"{human_us(wm.interval_us)}.")
    for f in s.filters:
        lines.append(f"  Filter: {'allow' if f.allow else 'reject'} memory that is "
                     f"{'' if f.matching else 'not '}{_filter_words(f)}.")
    if s.target_nid is not None:
        lines.append(f"  Destination node: {s.target_nid}.")
    for d in s.dests:
        lines.append(f"  Destination node {d.nid} with weight {d.weight}.")
    lines.append(f"  Kernel values: sz [{p.sz_min}, {p.sz_max}], nr_accesses "
                 f"[{p.nr_accesses_min}, {p.nr_accesses_max}], age [{p.age_min}, {p.age_max}].")
    return "\n".join(lines)


def _probe_filter_words(f) -> str:
    return catalog.PROBE_FILTER_TYPES[f.type].words.format(memcg_path=f.memcg_path)


def _probe_lines(ctx) -> list[str]:
    """Each data-attribute probe: what makes a sample a hit, and what its weight does."""
    spa = ctx.intervals.samples_per_aggr
    out = []
    for i, p in enumerate(ctx.probes):
        label = f"Probe {i}" + (f" ({p.name})" if p.name else "")
        if not p.filters:
            rule = "every sample is a hit (no filters)"
        else:
            rule = "a sampled page is a hit if the first filter it matches allows it (" + \
                   "; ".join(f"{'allow' if f.allow else 'reject'} pages that are "
                             f"{'' if f.matching else 'not '}{_probe_filter_words(f)}"
                             for f in p.filters) + \
                   "); a page no filter matches is a hit if the last filter rejects"
        out.append(f"{label}: {rule}. Each region's hits count its samples that were hits, "
                   f"0..{min(spa, catalog.PROBE_HITS_MAX):g} per aggregation interval "
                   "('damos status --regions' shows them).")
        if p.weight:
            out.append(f"  Weight {p.weight}: the kernel stops checking accesses and splits and "
                       "merges regions by the probes' weighted hits instead (nr_accesses "
                       "stays 0).")
    return out


def explain(unit) -> str:
    ctx = unit.context
    iv = ctx.intervals
    head = [f"Monitoring: {ctx.ops} operations, sampling every {human_us(iv.sample_us)}, "
            f"aggregating every {human_us(iv.aggr_us)} (so nr_accesses runs "
            f"0..{iv.samples_per_aggr:g}), updating regions every {human_us(iv.update_us)}, "
            f"{ctx.nr_regions_min}..{ctx.nr_regions_max} regions."]
    if ctx.intervals_goal:
        g = ctx.intervals_goal
        head.append(f"Intervals auto-tuned toward {g.access_bp} bp of observed accesses per "
                    f"{g.aggrs} aggregations, sampling between {human_us(g.min_sample_us)} and "
                    f"{human_us(g.max_sample_us)}.")
    if ctx.pause:
        head.append("Paused: the kdamond starts (or is committed) paused and neither monitors "
                    "nor applies schemes until a 'damos update' without 'pause yes'.")
    if ctx.addr_unit != 1:
        head.append(f"Address unit: {ctx.addr_unit} bytes (addr_unit): region addresses are "
                    f"in units of {human_bytes(ctx.addr_unit)} of physical memory.")
    if ctx.refresh_ms:
        head.append(f"Stats refresh: the kernel refreshes the stats files every "
                    f"{human_us(ctx.refresh_ms * 1000)} itself (refresh_ms {ctx.refresh_ms}).")
    head += _probe_lines(ctx)
    for t in ctx.targets:
        if t.pid is not None:
            head.append(f"Target: process {t.pid}.")
        for start, end in t.regions:
            head.append(f"Target region: [{start:#x}, {end:#x}) ({human_bytes(end - start)}).")
    if not ctx.targets and catalog.OPS[ctx.ops].takes_pid:
        head.append("Target: the process id given when the scheme is applied.")
    if default_region(ctx) is not None:
        head.append("Target region: none given, so the kernel picks it: "
                    f"{catalog.default_region_words()}.")
    line = min_version_line(ctx)
    head.append(line[0].upper() + line[1:] + ".")
    head.append(f"Interfaces: {interfaces_line(ctx)}.")
    body = [explain_scheme(i, s, iv.sample_us, iv.aggr_us) for i, s in enumerate(ctx.schemes)]
    if not body:
        body = ["No schemes."]
    return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"
