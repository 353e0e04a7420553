"""Each scheme in plain English, with its kernel values at the file's
monitoring intervals."""
from __future__ import annotations

from .check import min_version_line
from .ir import Program, Scheme
from .kernel import KScheme, intervals_of, to_kernel
from .units import UINT_MAX, ULONG_MAX

ACTION_WORDS = {
    "willneed": "prefetch (MADV_WILLNEED)",
    "cold": "deactivate (MADV_COLD)",
    "pageout": "page out (MADV_PAGEOUT; reclaim)",
    "hugepage": "back with huge pages (MADV_HUGEPAGE)",
    "nohugepage": "back with regular pages (MADV_NOHUGEPAGE)",
    "collapse": "collapse into huge pages (MADV_COLLAPSE)",
    "lru_prio": "prioritise on the LRU lists (mark accessed)",
    "lru_deprio": "deprioritise on the LRU lists (deactivate)",
    "migrate_hot": "migrate to another NUMA node, hottest first",
    "migrate_cold": "migrate to another NUMA node, coldest first",
    "stat": "only count (no action)",
}


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
    if f.type == "memcg":
        return f"in cgroup {f.memcg_path}"
    if f.type == "addr":
        return f"in addresses [{f.addr_start:#x}, {f.addr_end:#x})"
    if f.type == "target":
        return f"of target {f.target_idx}"
    if f.type == "hugepage_size":
        return f"in huge pages of {human_bytes(f.min)} to {human_bytes(f.max)}"
    return f.type  # anon, active, young, unmapped


def explain_scheme(i: int, s: Scheme, ks: KScheme, sample_us: int, aggr_us: int) -> str:
    label = f"Scheme {s.name!r}" if s.name else f"Scheme {i}"
    where = f" (line {s.loc.line})" if s.loc else ""
    max_samples = aggr_us / sample_us  # below 1 when sample > aggr (check warns)
    size = _range_words(ks.sz_min, ks.sz_max, ULONG_MAX, human_bytes)
    access = _range_words(
        ks.nr_accesses_min, ks.nr_accesses_max, UINT_MAX,
        lambda n: f"{n} of {max_samples:g} samples ({n * 100 / max_samples:.3g}%)")
    age = _range_words(ks.age_min, ks.age_max, UINT_MAX,
                       lambda n: f"{n} aggregation intervals ({human_us(n * aggr_us)})")
    lines = [f"{label}{where}: {ACTION_WORDS[s.action]}, for every region whose",
             f"  size is {size},",
             f"  access frequency is {access} per {human_us(aggr_us)} aggregation interval,",
             f"  and age is {age}."]
    if (ks.sz_min > ks.sz_max or ks.nr_accesses_min > ks.nr_accesses_max
            or ks.age_min > ks.age_max):
        lines.append("  It can never match: a minimum is above its maximum.")
    if ks.apply_interval_us:
        lines.append(f"  The action is applied every {human_us(ks.apply_interval_us)}.")
    if ks.has_quota:
        parts = []
        if ks.quota_ms:
            parts.append(f"{ks.quota_ms} ms of work")
        if ks.quota_bytes:
            parts.append(human_bytes(ks.quota_bytes))
        limit = " and ".join(parts) if parts else "no size or time limit"
        lines.append(f"  Quota: at most {limit} per {human_us(ks.quota_reset_ms * 1000)};"
                     f" priority weights size {ks.weight_sz}, access {ks.weight_nr_accesses},"
                     f" age {ks.weight_age} (permil).")
        for g in ks.goals:
            extra = "".join(f" {k} {v}" for k, v in (("nid", g.nid), ("path", g.path)) if v is not None)
            lines.append(f"  Quota goal: {g.metric} -> {g.target_value}{extra}"
                         " (the effective quota is tuned toward it).")
    if ks.fail_charge_denom:
        lines.append(f"  Regions the action fails on are charged {ks.fail_charge_num}/"
                     f"{ks.fail_charge_denom} of their size against the quota.")
    if ks.max_nr_snapshots:
        lines.append(f"  The scheme deactivates itself after {ks.max_nr_snapshots} snapshots.")
    if ks.has_watermarks:
        lines.append(f"  Active only while {ks.wmark_metric} is between the low ({ks.wmark_low}) "
                     f"and high ({ks.wmark_high}) watermarks (permil), checked every "
                     f"{human_us(ks.wmark_interval_us)}.")
    for f in ks.filters:
        lines.append(f"  Filter: {'allow' if f.allow else 'reject'} memory that is "
                     f"{'' if f.matching else 'not '}{_filter_words(f)}.")
    if ks.target_nid is not None:
        lines.append(f"  Destination node: {ks.target_nid}.")
    for nid, w in ks.dests:
        lines.append(f"  Destination node {nid} with weight {w}.")
    lines.append(f"  Kernel values: sz [{ks.sz_min}, {ks.sz_max}], nr_accesses "
                 f"[{ks.nr_accesses_min}, {ks.nr_accesses_max}], age [{ks.age_min}, {ks.age_max}].")
    return "\n".join(lines)


def explain(program: Program) -> str:
    iv = intervals_of(program)
    kctx = to_kernel(program)
    head = [f"Monitoring: {kctx.ops} operations, sampling every {human_us(iv.sample_us)}, "
            f"aggregating every {human_us(iv.aggr_us)} (so nr_accesses runs 0..{iv.aggr_us / iv.sample_us:g}), "
            f"updating regions every {human_us(iv.update_us)}, "
            f"{kctx.nr_regions_min}..{kctx.nr_regions_max} regions."]
    if kctx.intervals_goal:
        g = kctx.intervals_goal
        head.append(f"Intervals auto-tuned toward {g.access_bp} bp of observed accesses per "
                    f"{g.aggrs} aggregations, sampling between {human_us(g.min_sample_us)} and "
                    f"{human_us(g.max_sample_us)}.")
    for t in kctx.targets:
        if t.pid is not None:
            head.append(f"Target: process {t.pid}.")
        for s, e in t.regions:
            head.append(f"Target region: [{s:#x}, {e:#x}) ({human_bytes(e - s)}).")
    if not kctx.targets and kctx.ops != "paddr":
        head.append("Target: the process id given when the scheme is applied.")
    line = min_version_line(program)
    head.append(line[0].upper() + line[1:] + ".")
    body = [explain_scheme(i, s, ks, iv.sample_us, iv.aggr_us)
            for i, (s, ks) in enumerate(zip(program.schemes, kctx.schemes))]
    if not body:
        body = ["No schemes."]
    return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"
